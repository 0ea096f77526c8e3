// pinpipe UI: polls the JSON API under /api/ every few seconds and renders the pipeline, the bus,
// the batch runs, the quarantine and the nine analyses. Plain DOM, no framework, no network besides
// this origin. Every piece of data goes into the page as text (textContent / setAttribute), never
// as HTML.
'use strict';

(function () {
  const REFRESH_MS = 3000;
  const FETCH_TIMEOUT_MS = 10000;
  const KEY_STORAGE = 'pinpipe-api-key';
  const ENDPOINTS = ['overview', 'runs', 'quarantine', 'results'];
  const SVG_NS = 'http://www.w3.org/2000/svg';
  // Like report.html: bars drawn at most per chart, label characters before the cut.
  const MAX_BARS = 25;
  const MAX_LABEL_CHARS = 32;
  // Tables of analyses with at most this many rows are shown open.
  const OPEN_TABLE_ROWS = 12;
  // Charts are drawn for narrow screens below this width (style.css's narrowest breakpoint).
  const NARROW_CHARTS = window.matchMedia('(max-width: 640px)');

  const state = {
    data: {},        // endpoint -> parsed JSON (null when the last fetch failed)
    text: {},        // endpoint -> the body last rendered (to skip re-rendering what did not change)
    errors: {},      // endpoint -> error text of the last fetch, or null
    prev: null,      // the sample before the last one: {t, values}
    cur: null,       // the last sample
    lakePrev: null,  // the same for the lake's figures, which the server caches: taken only when
    lakeCur: null,   // they were read again (overview.lake_read_at), timed by that
    skew: 0,         // server clock minus browser clock, ms (from overview.generated_at)
    timer: null,
    inFlight: false,
    needKey: false,
  };

  // ---------------------------------------------------------------- DOM helpers

  /** An element; attrs values null/undefined/false are left out; children are nodes or text. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    appendAll(node, children);
    return node;
  }

  /** An SVG element, same conventions as el(). */
  function svgEl(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    appendAll(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.setAttribute('class', String(v));
      else node.setAttribute(k, String(v));
    }
  }

  function appendAll(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function $(sel, root) { return (root || document).querySelector(sel); }

  function replaceBody(sectionId, ...children) {
    const body = $('#' + sectionId + ' .body');
    body.replaceChildren();
    appendAll(body, children);
  }

  function setMeta(sectionId, text) {
    const meta = $('#' + sectionId + ' .section-head .meta');
    if (meta) meta.textContent = text || '';
  }

  function unavailable(what, message) {
    return el('p', { class: 'unavailable' },
      el('strong', null, what + ' unavailable: '), message || 'unknown error');
  }

  // ---------------------------------------------------------------- formatting

  const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const oneFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

  function isNum(v) { return typeof v === 'number' && Number.isFinite(v); }

  /** A count with thousands separators, or an em dash when not a number. */
  function fmtInt(v) { return isNum(v) ? intFmt.format(v) : '—'; }

  /** Records per second: one decimal below 100, none above; an em dash when unknown. */
  function fmtRate(v) {
    if (!isNum(v)) return '—';
    if (v === 0) return '0';
    return v < 100 ? oneFmt.format(v) : intFmt.format(v);
  }

  function fmtBytes(v) {
    if (!isNum(v)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let n = v;
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
  }

  function fmtDuration(s) {
    if (!isNum(s)) return '—';
    if (s < 0.1) return Math.round(s * 1000) + ' ms';
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(Math.round(s % 60)).padStart(2, '0') + ' s';
    return Math.floor(m / 60) + ' h ' + String(m % 60).padStart(2, '0') + ' min';
  }

  function parseTime(iso) {
    if (typeof iso !== 'string' || !iso) return null;
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : t;
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  /** "2026-12-05 00:00:03" in UTC, or the text itself if it is not a time. */
  function fmtTime(iso) {
    const t = parseTime(iso);
    if (t === null) return iso ? String(iso) : '—';
    const d = new Date(t);
    return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + ' ' +
      pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds());
  }

  function fmtDate(t) {
    const d = new Date(t);
    return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate());
  }

  /** "3 min ago" relative to the server's clock. */
  function fmtAgo(iso) {
    const t = parseTime(iso);
    if (t === null) return '—';
    const s = Math.round((Date.now() + state.skew - t) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 172800) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  /** A scheduler interval: one day as "2026-12-05", anything else as "start → end". */
  function fmtInterval(startIso, endIso) {
    const s = parseTime(startIso);
    const e = parseTime(endIso);
    // A manual run's interval is the moment it was triggered.
    if (s !== null && s === e) return fmtTime(startIso).slice(0, 16) + ' (manual)';
    if (s !== null && e !== null && e - s === 86400000 && s % 86400000 === 0) return fmtDate(s);
    if (s !== null && e !== null && s % 86400000 === 0 && e % 86400000 === 0) {
      return fmtDate(s) + ' → ' + fmtDate(e);
    }
    if (s !== null && e !== null && fmtDate(s) === fmtDate(e)) {
      return fmtDate(s) + ' ' + fmtTime(startIso).slice(11, 16) + '–' + fmtTime(endIso).slice(11, 16);
    }
    return fmtTime(startIso) + ' → ' + fmtTime(endIso);
  }

  function plural(n, word, words) {
    return fmtInt(n) + ' ' + (n === 1 ? word : (words || word + 's'));
  }

  // ---------------------------------------------------------------- API

  function storedKey() {
    try { return sessionStorage.getItem(KEY_STORAGE) || ''; } catch (_) { return ''; }
  }

  function storeKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch (_) { /* storage disabled: the key lives until the page is left */ }
    memoryKey = key;
  }

  let memoryKey = '';
  function currentKey() { return storedKey() || memoryKey; }

  async function getJSON(name) {
    const headers = { 'Accept': 'application/json' };
    const key = currentKey();
    if (key) headers['x-api-key'] = key;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    let res;
    let text;
    try {
      res = await fetch('/api/' + name, { headers, cache: 'no-store', signal: ctl.signal });
      text = await res.text();
    } catch (e) {
      throw new Error(e && e.name === 'AbortError'
        ? 'no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s'
        : 'request failed (' + (e && e.message ? e.message : String(e)) + ')');
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 403) {
      const err = new Error('HTTP 403: ' + (key ? 'the API key was rejected' : 'an API key is required'));
      err.forbidden = true;
      throw err;
    }
    if (!res.ok) {
      const detail = text ? ': ' + text.trim().slice(0, 300) : '';
      throw new Error('HTTP ' + res.status + (res.statusText ? ' ' + res.statusText : '') + detail);
    }
    try {
      return { text, json: JSON.parse(text) };
    } catch (e) {
      throw new Error('not JSON (' + e.message + ')');
    }
  }

  // ---------------------------------------------------------------- rates

  function sum(values) {
    let total = null;
    for (const v of values) if (isNum(v)) total = (total || 0) + v;
    return total;
  }

  /** The totals whose differences between two refreshes are the records/s figures. */
  function sampleOf(o) {
    const values = {};
    const topics = o.topics || [];
    const streams = o.streams || [];
    const tables = o.tables || [];
    values.gateway = o.gateway ? o.gateway.records_total : null;
    values.gatewayErrors = o.gateway ? o.gateway.errors_total : null;
    values.topics = sum(topics.flatMap((t) => (t.partitions || []).map((p) => p.records)));
    values.sink = sum(topics.flatMap((t) => (t.partitions || []).map((p) => p.sink_committed)));
    values.streams = sum(streams.flatMap((s) => (s.shards || []).map((sh) => sh.records)));
    values.rawBytes = o.raw ? o.raw.bytes : null;
    for (const t of topics) {
      for (const p of t.partitions || []) values['tp\u0000' + t.name + '\u0000' + p.partition] = p.records;
    }
    for (const s of streams) {
      for (const sh of s.shards || []) values['sh\u0000' + s.name + '\u0000' + sh.shard_id] = sh.records;
    }
    for (const t of tables) values['tbl\u0000' + t.path] = t.rows;
    values.batchTables = sum(tables.filter((t) => /^tables\//.test(t.path)).map((t) => t.rows));
    values.streamTables = sum(tables.filter((t) => /^stream\//.test(t.path)).map((t) => t.rows));
    // Commits, not rows: a micro-batch that only updates rows adds none.
    values.streamVersions = sum(tables.filter((t) => /^stream\//.test(t.path)).map((t) => t.version));
    return values;
  }

  /** The sampled totals read from the lake (cached by the server), not from the bus. */
  const LAKE_KEY = /^(rawBytes|batchTables|streamTables|streamVersions|tbl\u0000)/;

  /**
   * Per second change of a sampled total between the last two samples; null until there are two.
   * The lake's figures are compared between two reads of the lake, timed by the server: compared
   * between two refreshes, a cached figure read 0 on every other one.
   */
  function rate(key) {
    const lake = LAKE_KEY.test(key);
    const prev = lake ? state.lakePrev : state.prev;
    const cur = lake ? state.lakeCur : state.cur;
    if (!prev || !cur) return null;
    const a = prev.values[key];
    const b = cur.values[key];
    const dt = (cur.t - prev.t) / 1000;
    if (!isNum(a) || !isNum(b) || dt <= 0 || b < a) return null;
    return (b - a) / dt;
  }

  // ---------------------------------------------------------------- pipeline

  /** Fills one box: figs are [label, value, {cls, title, fig}] rows; status is ok|warn|bad|idle|off. */
  function setBox(name, figs, status, note) {
    const box = $('#pipeline [data-box="' + name + '"]');
    if (!box) return;
    box.classList.remove('st-ok', 'st-warn', 'st-bad', 'st-idle', 'st-off', 'st-run');
    box.classList.add('st-' + (status || 'idle'));
    const dl = $('dl', box);
    dl.replaceChildren();
    for (const [label, value, opts] of figs) {
      const o = opts || {};
      const dd = el('dd', { class: o.cls, title: o.title }, value instanceof Node ? value : String(value));
      dl.appendChild(el('div', { class: 'kv' + (o.wide ? ' wide' : ''), 'data-fig': o.fig }, el('dt', null, label), dd));
    }
    let p = $('p.note', box);
    if (note) {
      if (!p) { p = el('p', { class: 'note' }); box.appendChild(p); }
      p.textContent = note;
    } else if (p) {
      p.remove();
    }
  }

  function setArrow(cls, flowing) {
    const a = $('#pipeline .arrow.' + cls);
    if (a) a.classList.toggle('flowing', !!flowing);
  }

  function badge(stateText) {
    const s = String(stateText || 'unknown');
    return el('span', { class: 'badge state-' + s.replace(/[^a-z]/gi, '') }, s);
  }

  function lagCls(v) { return isNum(v) && v > 0 ? 'lag' : null; }

  function renderPipeline() {
    const o = state.data.overview;
    const oErr = state.errors.overview;
    const errP = $('#pipeline-error');
    const ov = state.data.overview || {};
    const badTable = (ov.tables || []).find((t) => t.error);
    const partErr = ov.lake_error ? 'Lake unavailable: ' + ov.lake_error
      : badTable ? badTable.error
      : ov.positions_error ? 'Stream positions unavailable: ' + ov.positions_error
        : ov.results_error ? 'Results unreadable: ' + ov.results_error : null;
    if (oErr || partErr) {
      errP.hidden = false;
      errP.textContent = oErr ? 'Overview unavailable: ' + oErr : partErr;
    } else {
      errP.hidden = true;
      errP.textContent = '';
    }
    $('#pipeline-meta').textContent = o && o.generated_at ? 'as of ' + fmtTime(o.generated_at) + ' UTC' : '';
    renderBatchBox();
    if (!o) {
      for (const name of ['source', 'gateway', 'topics', 'streams', 'sink', 'raw', 'stream-job', 'tables', 'results']) {
        setBox(name, [], 'off', 'unavailable');
      }
      for (const a of document.querySelectorAll('#pipeline .arrow')) a.classList.remove('flowing');
      return;
    }

    const src = o.source || {};
    setBox('source', [
      ['rows', fmtInt(src.rows), { fig: 'rows' }],
      ['url', src.url ? String(src.url) : '—', { cls: 'mono ellip', title: src.url, wide: true }],
    ], isNum(src.rows) ? 'ok' : 'idle');

    const gw = o.gateway || {};
    const gwRate = rate('gateway');
    // Errors answered since the last refresh, not ever: a mistyped URL an hour ago (a 404) does
    // not leave the gateway looking unhealthy.
    const erring = rate('gatewayErrors') > 0;
    setBox('gateway', [
      ['records', fmtInt(gw.records_total), { fig: 'records_total' }],
      ['records/s', fmtRate(gwRate), { cls: 'rate', fig: 'records_per_s' }],
      ['requests', fmtInt(gw.requests_total), { fig: 'requests_total' }],
      ['errors', fmtInt(gw.errors_total), { cls: erring ? 'warn' : null, fig: 'errors_total' }],
      ['connections', fmtInt(gw.connections), { fig: 'connections' }],
    ], erring ? 'warn' : o.gateway ? 'ok' : 'idle');
    setArrow('a-source', gwRate > 0);

    const topics = o.topics || [];
    const partitions = topics.flatMap((t) => t.partitions || []);
    const topicsRate = rate('topics');
    setBox('topics', [
      ['topics', fmtInt(topics.length)],
      ['partitions', fmtInt(partitions.length)],
      ['records', fmtInt(state.cur.values.topics), { fig: 'records' }],
      ['records/s', fmtRate(topicsRate), { cls: 'rate', fig: 'records_per_s' }],
    ], topics.length ? 'ok' : 'idle');
    setArrow('a-gw-topics', topicsRate > 0);

    const streams = o.streams || [];
    const shards = streams.flatMap((s) => s.shards || []);
    const streamsRate = rate('streams');
    setBox('streams', [
      ['streams', fmtInt(streams.length)],
      ['shards', fmtInt(shards.length)],
      ['records', fmtInt(state.cur.values.streams), { fig: 'records' }],
      ['records/s', fmtRate(streamsRate), { cls: 'rate', fig: 'records_per_s' }],
    ], streams.length ? 'ok' : 'idle');
    setArrow('a-gw-streams', streamsRate > 0);

    const committed = state.cur.values.sink;
    const sinkLag = sum(partitions.map((p) => p.lag));
    const sinkRate = rate('sink');
    // The member holding the sink's group ('' when none: no sink runs; null when unknown).
    const member = o.sink_member;
    const sinkFigs = [
      ['committed', fmtInt(committed), { fig: 'committed' }],
      ['lag', fmtInt(sinkLag), { cls: lagCls(sinkLag), fig: 'lag' }],
      ['records/s', fmtRate(sinkRate), { cls: 'rate', fig: 'records_per_s' }],
    ];
    if (member) sinkFigs.push(['running', member, { cls: 'mono ellip', title: member, wide: true, fig: 'member' }]);
    let sinkStatus = committed === null ? 'idle' : 'ok';
    let sinkNote = committed === null ? 'no committed offsets' : null;
    if (member === '') {
      sinkStatus = sinkLag > 0 ? 'warn' : 'idle';
      sinkNote = 'no sink running';
    }
    setBox('sink', sinkFigs, sinkStatus, sinkNote);
    setArrow('a-topics', sinkRate > 0);

    const raw = o.raw || {};
    const rawRate = rate('rawBytes');
    setBox('raw', [
      ['objects', fmtInt(raw.objects), { fig: 'objects' }],
      ['size', fmtBytes(raw.bytes), { fig: 'bytes', title: isNum(raw.bytes) ? fmtInt(raw.bytes) + ' bytes' : null }],
      ['written/s', rawRate === null ? '—' : fmtBytes(rawRate), { cls: 'rate' }],
    ], raw.objects > 0 ? 'ok' : 'idle');
    setArrow('a-sink', rawRate > 0);

    // The stream job: its committed position per shard and the lag behind each stream.
    const jobFigs = [];
    const jobLag = sum(shards.map((s) => s.lag));
    const positioned = shards.filter((s) => s.position !== null && s.position !== undefined && s.position !== '').length;
    const job = o.stream_job || {};
    const committing = rate('streamVersions') > 0;
    jobFigs.push(['lag', fmtInt(jobLag), { cls: lagCls(jobLag), fig: 'lag' }]);
    jobFigs.push(['positions', positioned + ' / ' + shards.length + ' shards', { fig: 'positions' }]);
    jobFigs.push(['last commit', fmtAgo(job.last_commit), {
      cls: job.stalled ? 'warn' : null,
      title: job.last_commit ? fmtTime(job.last_commit) + ' UTC' : null,
      fig: 'last_commit',
    }]);
    for (const s of streams) {
      const sl = sum((s.shards || []).map((sh) => sh.lag));
      jobFigs.push([s.table || s.name, 'lag ' + fmtInt(sl), { cls: lagCls(sl), title: s.name }]);
    }
    // A job in another process cannot be asked: records that wait with no commit for a while
    // mean it is stopped or stuck (the server decides how long is a while).
    if (job.stalled) {
      setBox('stream-job', jobFigs, 'bad', 'records wait and nothing is committed: is pinpipe stream running?');
    } else {
      setBox('stream-job', jobFigs, positioned ? 'ok' : 'idle', positioned ? null : 'no positions yet');
    }
    setArrow('a-streams', committing);
    setArrow('a-stream-job', committing);

    const tables = o.tables || [];
    const unreadable = tables.filter((t) => t.error);
    setBox('tables', tables.map((t) => t.error
      ? [t.path, 'unreadable', { cls: 'warn', title: t.error, fig: t.path }]
      : [t.path, fmtInt(t.rows), {
        title: 'version ' + fmtInt(t.version) + (t.committed_at ? ', committed ' + fmtTime(t.committed_at) + ' UTC' : ''),
        fig: t.path,
      }]),
    unreadable.length ? 'bad' : tables.length ? 'ok' : 'idle',
    unreadable.length ? plural(unreadable.length, 'table') + ' unreadable' : tables.length ? null : 'no tables yet');
    setArrow('a-batch', rate('batchTables') > 0);

    const res = o.results || {};
    setBox('results', [
      ['files', fmtInt(res.files), { fig: 'files' }],
      ['updated', res.updated ? fmtAgo(res.updated) : '—', { title: res.updated ? fmtTime(res.updated) + ' UTC' : null, fig: 'updated' }],
    ], res.files > 0 ? 'ok' : 'idle');
    setArrow('a-tables', false);

    // What comes from the lake is unknown while it cannot be read; the bus's boxes stand.
    if (o.lake_error) {
      for (const name of ['raw', 'stream-job', 'tables', 'results']) setBox(name, [], 'bad', 'lake unavailable');
      for (const arrow of ['a-sink', 'a-streams', 'a-stream-job', 'a-batch']) setArrow(arrow, false);
    } else {
      if (o.positions_error) setBox('stream-job', [], 'bad', 'positions unavailable');
      if (o.results_error) setBox('results', [], 'bad', 'results unreadable');
    }
  }

  function renderBatchBox() {
    const r = state.data.runs;
    if (!r) {
      setBox('batch', [], 'off', state.errors.runs ? 'runs unavailable' : 'loading');
      setArrow('a-raw', false);
      return;
    }
    const runs = r.runs || [];
    if (!runs.length) {
      setBox('batch', [], 'idle', 'no runs yet');
      setArrow('a-raw', false);
      return;
    }
    const last = runs[0];
    const when = last.finished_at || last.started_at;
    const st = last.state === 'success' ? 'ok' : last.state === 'failed' ? 'bad' : last.state === 'running' ? 'run'
      : last.state === 'retrying' ? 'warn' : 'idle';
    setBox('batch', [
      ['last run', badge(last.state), { fig: 'state' }],
      [last.finished_at ? 'finished' : 'started', fmtAgo(when), { title: when ? fmtTime(when) + ' UTC' : null, fig: 'time' }],
      ['interval', fmtInterval(last.interval_start, last.interval_end)],
      ['rows', fmtInt(last.rows)],
      ['quarantined', fmtInt(last.rejected), { cls: last.rejected > 0 ? 'warn' : null }],
    ], st);
    setArrow('a-raw', last.state === 'running');
  }

  // ---------------------------------------------------------------- topics & streams

  function numTd(v, cls) {
    return el('td', { class: 'num' + (cls ? ' ' + cls : '') }, isNum(v) ? fmtInt(v) : '—');
  }

  function attrNum(v) { return isNum(v) ? String(v) : ''; }

  function scrollTable(table, cls) { return el('div', { class: 'scroll-x' + (cls ? ' ' + cls : '') }, table); }

  function renderTopics() {
    const o = state.data.overview;
    if (!o) {
      setMeta('topics', '');
      replaceBody('topics', unavailable('Topics', state.errors.overview));
      return;
    }
    const topics = o.topics || [];
    const nParts = topics.reduce((n, t) => n + (t.partitions || []).length, 0);
    setMeta('topics', plural(topics.length, 'topic') + ' · ' + plural(nParts, 'partition'));
    if (!topics.length) {
      replaceBody('topics', el('p', { class: 'empty' }, 'No topics.'));
      return;
    }
    const rows = [];
    for (const t of topics) {
      (t.partitions || []).forEach((p, i) => {
        rows.push(el('tr', {
          'data-topic': t.name, 'data-partition': String(p.partition),
          'data-records': attrNum(p.records), 'data-lag': attrNum(p.lag),
          class: i === 0 ? 'group-start' : 'group-cont',
        },
        el('td', { class: 'name' }, t.name),
        el('td', { class: 'num' }, String(p.partition)),
        numTd(p.records),
        el('td', { class: 'num rate' }, fmtRate(rate('tp\u0000' + t.name + '\u0000' + p.partition))),
        numTd(p.sink_committed),
        numTd(p.lag, lagCls(p.lag))));
      });
    }
    const all = topics.flatMap((t) => t.partitions || []);
    const table = el('table', { class: 'grid' },
      el('thead', null, el('tr', null,
        el('th', null, 'Topic'), el('th', { class: 'num' }, 'Partition'), el('th', { class: 'num' }, 'Records'),
        el('th', { class: 'num' }, 'Records/s'), el('th', { class: 'num' }, 'Committed'), el('th', { class: 'num' }, 'Lag'))),
      el('tbody', null, rows),
      el('tfoot', null, el('tr', null,
        el('td', null, 'Total'), el('td'), numTd(sum(all.map((p) => p.records))),
        el('td', { class: 'num rate' }, fmtRate(rate('topics'))),
        numTd(sum(all.map((p) => p.sink_committed))), numTd(sum(all.map((p) => p.lag))))));
    replaceBody('topics', scrollTable(table));
  }

  function renderStreams() {
    const o = state.data.overview;
    if (!o) {
      setMeta('streams', '');
      replaceBody('streams', unavailable('Streams', state.errors.overview));
      return;
    }
    const streams = o.streams || [];
    const nShards = streams.reduce((n, s) => n + (s.shards || []).length, 0);
    setMeta('streams', plural(streams.length, 'stream') + ' · ' + plural(nShards, 'shard'));
    if (!streams.length) {
      replaceBody('streams', el('p', { class: 'empty' }, 'No streams.'));
      return;
    }
    const rows = [];
    for (const s of streams) {
      (s.shards || []).forEach((sh, i) => {
        const pos = sh.position === null || sh.position === undefined ? '' : String(sh.position);
        rows.push(el('tr', {
          'data-stream': s.name, 'data-shard': String(sh.shard_id),
          'data-records': attrNum(sh.records), 'data-lag': attrNum(sh.lag),
          class: i === 0 ? 'group-start' : 'group-cont',
        },
        el('td', { class: 'name' }, s.name, s.table ? el('span', { class: 'sub' }, '→ ' + s.table) : null),
        el('td', { class: 'mono nowrap small' }, String(sh.shard_id)),
        numTd(sh.records),
        el('td', { class: 'num rate' }, fmtRate(rate('sh\u0000' + s.name + '\u0000' + sh.shard_id))),
        el('td', { class: 'mono small', title: pos || null }, el('span', { class: 'cut' }, pos || '—')),
        numTd(sh.lag, lagCls(sh.lag))));
      });
    }
    const all = streams.flatMap((s) => s.shards || []);
    const table = el('table', { class: 'grid' },
      el('thead', null, el('tr', null,
        el('th', null, 'Stream → table'), el('th', null, 'Shard'), el('th', { class: 'num' }, 'Records'),
        el('th', { class: 'num' }, 'Records/s'), el('th', null, 'Position'), el('th', { class: 'num' }, 'Lag'))),
      el('tbody', null, rows),
      el('tfoot', null, el('tr', null,
        el('td', null, 'Total'), el('td'), numTd(sum(all.map((s) => s.records))),
        el('td', { class: 'num rate' }, fmtRate(rate('streams'))), el('td'),
        numTd(sum(all.map((s) => s.lag))))));
    replaceBody('streams', scrollTable(table));
  }

  // ---------------------------------------------------------------- runs

  function renderRuns() {
    const r = state.data.runs;
    if (!r) {
      setMeta('runs', '');
      replaceBody('runs', unavailable('Batch runs', state.errors.runs));
      return;
    }
    const runs = r.runs || [];
    const total = isNum(r.total) ? r.total : runs.length;
    const failed = isNum(r.failed) ? r.failed : runs.filter((x) => x.state === 'failed').length;
    const shown = total > runs.length ? 'latest ' + fmtInt(runs.length) + ' of ' + plural(total, 'run') : plural(total, 'run');
    setMeta('runs', shown + (failed ? ' · ' + fmtInt(failed) + ' failed' : '') + ' · most recently run first');
    if (!runs.length) {
      replaceBody('runs', el('p', { class: 'empty' }, 'No runs yet: start ', el('code', null, 'pinpipe schedule'),
        ' or ', el('code', null, 'pinpipe runs trigger'), '.'));
      return;
    }
    const rows = runs.map((x) => el('tr', { 'data-run': String(x.id), 'data-state': String(x.state), class: 'run-' + String(x.state).replace(/[^a-z]/gi, '') },
      el('td', { class: 'num' }, String(x.id)),
      el('td', null, badge(x.state)),
      el('td', { class: 'nowrap', title: fmtTime(x.interval_start) + ' → ' + fmtTime(x.interval_end) + ' UTC' }, fmtInterval(x.interval_start, x.interval_end)),
      el('td', { class: 'mono small' }, x.schedule || '—'),
      el('td', { class: 'num' }, fmtInt(x.attempts)),
      el('td', { class: 'nowrap', title: x.started_at ? fmtAgo(x.started_at) : null }, fmtTime(x.started_at)),
      el('td', { class: 'num nowrap', title: x.retry_at ? 'next attempt at ' + fmtTime(x.retry_at) + ' UTC' : null },
        x.state === 'retrying' ? 'waits to retry' : x.state === 'running' && !isNum(x.duration_s) ? 'running' : fmtDuration(x.duration_s)),
      numTd(x.objects),
      numTd(x.rows),
      numTd(x.rejected, x.rejected > 0 ? 'warn' : null),
      el('td', { class: 'err' }, x.error ? String(x.error) : '')));
    const table = el('table', { class: 'grid' },
      el('thead', null, el('tr', null,
        el('th', { class: 'num' }, '#'), el('th', null, 'State'), el('th', null, 'Interval (UTC)'), el('th', null, 'Schedule'),
        el('th', { class: 'num' }, 'Attempts'), el('th', null, 'Started (UTC)'), el('th', { class: 'num' }, 'Duration'),
        el('th', { class: 'num' }, 'Objects'), el('th', { class: 'num' }, 'Rows'), el('th', { class: 'num' }, 'Quarantined'),
        el('th', null, 'Error'))),
      el('tbody', null, rows));
    replaceBody('runs', scrollTable(table, 'tall'));
  }

  // ---------------------------------------------------------------- quarantine

  function renderQuarantine() {
    const q = state.data.quarantine;
    if (!q) {
      setMeta('quarantine', '');
      replaceBody('quarantine', unavailable('Quarantine', state.errors.quarantine));
      return;
    }
    const reasons = q.reasons || [];
    setMeta('quarantine', plural(q.total, 'record') + ' · ' + plural(reasons.length, 'reason'));
    if (!reasons.length) {
      replaceBody('quarantine', el('p', { class: 'empty' }, 'No rejected records.'));
      return;
    }
    const max = Math.max(1, ...reasons.map((r) => (isNum(r.count) ? r.count : 0)));
    const items = reasons.map((r) => {
      const examples = (r.examples || []).map((x) => el('div', { class: 'ex' },
        el('div', { class: 'ex-src' },
          x.job ? el('span', { class: 'tag', 'data-job': String(x.job) }, String(x.job)) : null,
          el('span', { class: 'mono path', title: x.source }, String(x.source || '—')),
          isNum(x.position) ? el('span', { class: 'pos' }, 'position ' + fmtInt(x.position)) : null),
        x.detail ? el('div', { class: 'ex-reason' }, String(x.detail)) : null,
        el('pre', { class: 'example' }, x.raw === null || x.raw === undefined ? '' : String(x.raw))));
      const more = isNum(r.count) && r.count > examples.length
        ? el('p', { class: 'more' }, (examples.length ? 'showing ' + examples.length + ' of ' : '') + plural(r.count, 'record'))
        : null;
      return el('div', {
        class: 'reason', 'data-reason': String(r.reason), 'data-table': String(r.table), 'data-count': attrNum(r.count),
      },
      el('div', { class: 'reason-head' },
        el('span', { class: 'tag' }, String(r.table)),
        el('span', { class: 'reason-text' }, String(r.reason)),
        el('span', { class: 'count' }, fmtInt(r.count))),
      el('div', { class: 'meter' }, el('span', { style: 'width:' + ((isNum(r.count) ? r.count : 0) / max * 100).toFixed(1) + '%' })),
      examples.length ? el('div', { class: 'examples' }, examples) : null,
      more);
    });
    replaceBody('quarantine', el('div', { class: 'reasons' }, items));
  }

  // ---------------------------------------------------------------- analyses

  /** A number in the sense of Rust's f64::from_str for the usual cases, else null. */
  function parseNumber(text) {
    if (typeof text !== 'string') return null;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
    const n = Number(text);
    return Number.isFinite(n) ? n : null;
  }

  /** A chart value: integers with thousands separators, anything else as it is. */
  function fmtValue(text) {
    const n = parseNumber(text);
    return n !== null && /^[+-]?\d+$/.test(text) ? intFmt.format(n) : text;
  }

  /** A horizontal bar chart as in report.html: each row's last column is the value, the others its
   *  label; the largest MAX_BARS when longer. null if there are no rows or a value is not a number. */
  function barChart(rows) {
    // Narrow screens: the 620-unit chart scaled to a phone's ~330 px would draw its 12 px labels at
    // ~6 px; draw it 300 units wide instead, each label on its own line above its bar.
    const narrow = NARROW_CHARTS.matches;
    const ROW_HEIGHT = narrow ? 34 : 22;
    const LABEL_WIDTH = narrow ? 0 : 250;
    const WIDTH = narrow ? 300 : 620;
    const BAR_WIDTH = narrow ? 215 : 290;
    let bars = [];
    for (const row of rows) {
      if (!Array.isArray(row) || !row.length) return null;
      const value = parseNumber(String(row[row.length - 1]));
      if (value === null) return null;
      bars.push({ label: row.slice(0, -1).map(String).join(' · '), value, text: String(row[row.length - 1]) });
    }
    if (!bars.length) return null;
    let caption = null;
    if (bars.length > MAX_BARS) {
      const total = bars.length;
      bars = bars.slice().sort((a, b) => b.value - a.value).slice(0, MAX_BARS);
      caption = el('p', { class: 'meta chart-caption' }, 'Chart: the ' + MAX_BARS + ' largest of ' + fmtInt(total) + ' rows.');
    }
    const max = Math.max(0, ...bars.map((b) => b.value));
    const height = bars.length * ROW_HEIGHT + 8;
    const svg = svgEl('svg', {
      class: narrow ? 'chart narrow' : 'chart', xmlns: SVG_NS, width: WIDTH, height, viewBox: '0 0 ' + WIDTH + ' ' + height,
      role: 'img', preserveAspectRatio: 'xMinYMin meet',
    });
    bars.forEach((b, i) => {
      const y = i * ROW_HEIGHT + 4;
      const w = max > 0 ? Math.max(b.value / max * BAR_WIDTH, 1) : 1;
      const chars = Array.from(b.label);
      const shown = chars.length > MAX_LABEL_CHARS ? chars.slice(0, MAX_LABEL_CHARS).join('') + '…' : b.label;
      // Narrow: the label on a line of its own, the bar and its value under it.
      const label = narrow ? { x: 1, y: y + 11 } : { x: LABEL_WIDTH - 8, y: y + 15, 'text-anchor': 'end' };
      const bar = narrow ? { y: y + 15, height: 12 } : { y, height: ROW_HEIGHT - 6 };
      const valueY = narrow ? y + 26 : y + 15;
      svg.appendChild(svgEl('g', null,
        svgEl('title', null, b.label + ': ' + b.text),
        svgEl('text', label, shown),
        svgEl('rect', { x: LABEL_WIDTH, y: bar.y, width: w.toFixed(1), height: bar.height, rx: 2 }),
        svgEl('text', { x: (LABEL_WIDTH + w + 6).toFixed(1), y: valueY, class: 'value' }, fmtValue(b.text))));
    });
    return [caption, svg];
  }

  function dataTable(columns, rows) {
    return el('table', { class: 'grid data' },
      el('thead', null, el('tr', null, columns.map((c) => el('th', null, String(c))))),
      el('tbody', null, rows.map((row) => el('tr', null, (Array.isArray(row) ? row : []).map((cell) => {
        const text = cell === null || cell === undefined ? '' : String(cell);
        return el('td', { class: parseNumber(text) !== null ? 'num' : null }, text);
      })))));
  }

  function renderAnalyses() {
    const r = state.data.results;
    if (!r) {
      setMeta('analyses', '');
      replaceBody('analyses', unavailable('Analyses', state.errors.results));
      return;
    }
    const analyses = r.analyses || [];
    const updated = state.data.overview && state.data.overview.results ? state.data.overview.results.updated : null;
    setMeta('analyses', analyses.length
      ? plural(analyses.length, 'analysis', 'analyses') + ' from results/' + (updated ? ' · updated ' + fmtTime(updated) + ' UTC' : '')
      : '');
    if (!analyses.length) {
      replaceBody('analyses', el('p', { class: 'empty' }, 'No results yet: the analyses appear after the first batch run.'));
      return;
    }
    // Keep the tables the reader opened or closed as they were.
    const openState = {};
    for (const d of document.querySelectorAll('#analyses figure[data-analysis] details')) {
      openState[d.closest('figure').getAttribute('data-analysis')] = d.open;
    }
    const toc = el('ol', { class: 'toc' }, analyses.map((a) => el('li', { value: String(a.number) },
      el('a', { href: '#analysis-' + encodeURIComponent(String(a.number)) }, String(a.title)))));
    const figures = analyses.map((a) => {
      const rows = Array.isArray(a.rows) ? a.rows : [];
      const columns = Array.isArray(a.columns) ? a.columns : [];
      const chart = barChart(rows);
      const key = String(a.number);
      const open = key in openState ? openState[key] : (!chart || rows.length <= OPEN_TABLE_ROWS);
      return el('figure', { class: 'analysis', 'data-analysis': key, id: 'analysis-' + key },
        el('figcaption', null,
          el('h3', null, key + '. ' + String(a.title)),
          el('p', { class: 'meta' }, 'results/' + String(a.file) + ' · ' + plural(rows.length, 'row'))),
        chart,
        el('details', { open: open ? '' : null, class: 'rows' },
          el('summary', null, 'Table · ' + plural(rows.length, 'row')),
          el('div', { class: 'scroll-y' }, dataTable(columns, rows))));
    });
    replaceBody('analyses', toc, el('div', { class: 'figures' }, figures));
  }

  // ---------------------------------------------------------------- status & key form

  function renderStatus(when) {
    const p = $('#status');
    p.replaceChildren();
    const failed = ENDPOINTS.filter((n) => state.errors[n]);
    p.classList.toggle('has-errors', failed.length > 0);
    // UTC, as every other time on the page.
    const time = pad2(when.getUTCHours()) + ':' + pad2(when.getUTCMinutes()) + ':' + pad2(when.getUTCSeconds()) + ' UTC';
    appendAll(p, [
      el('span', { class: 'dot' + (failed.length ? ' bad' : '') }),
      'Last refreshed ', el('time', { datetime: when.toISOString() }, time),
      state.needKey ? ' · waiting for an API key' : ' · every ' + REFRESH_MS / 1000 + ' s',
      failed.length ? ' · unavailable: ' + failed.join(', ') : null,
    ]);
    if (currentKey()) {
      const btn = el('button', { type: 'button', class: 'link' }, 'forget API key');
      btn.addEventListener('click', () => { storeKey(''); refresh(); });
      appendAll(p, [' · ', btn]);
    }
  }

  function showKeyForm(show, rejected) {
    const form = $('#api-key-form');
    form.hidden = !show;
    if (show) {
      const msg = $('#api-key-message');
      msg.replaceChildren(
        el('strong', null, rejected ? 'API key rejected.' : 'API key required.'),
        ' This server answers 403 without a valid key; enter one of its API keys (sent as ',
        el('code', null, 'x-api-key'), ', kept for this browser tab only).');
      const input = $('#api-key-input');
      if (document.activeElement !== input) input.focus();
    }
  }

  // ---------------------------------------------------------------- refresh loop

  async function refresh() {
    if (state.inFlight) return;
    state.inFlight = true;
    clearTimeout(state.timer);
    try {
      const settled = await Promise.allSettled(ENDPOINTS.map(getJSON));
      const now = Date.now();
      const changed = {};
      let forbidden = false;
      settled.forEach((r, i) => {
        const name = ENDPOINTS[i];
        if (r.status === 'fulfilled') {
          changed[name] = state.text[name] !== r.value.text || state.errors[name] !== null;
          state.errors[name] = null;
          state.text[name] = r.value.text;
          state.data[name] = r.value.json;
        } else {
          changed[name] = true;
          state.errors[name] = r.reason && r.reason.message ? r.reason.message : String(r.reason);
          state.text[name] = null;
          state.data[name] = null;
          if (r.reason && r.reason.forbidden) forbidden = true;
        }
      });
      const o = state.data.overview;
      if (o) {
        state.prev = state.cur;
        state.cur = { t: now, values: sampleOf(o) };
        const lakeT = parseTime(o.lake_read_at);
        if (lakeT !== null && (!state.lakeCur || state.lakeCur.t !== lakeT)) {
          state.lakePrev = state.lakeCur;
          state.lakeCur = { t: lakeT, values: state.cur.values };
        }
        const g = parseTime(o.generated_at);
        if (g !== null) state.skew = g - now;
      }
      state.needKey = forbidden;
      showKeyForm(forbidden, forbidden && !!currentKey());

      // Each section on its own: one failing must not keep the others from rendering.
      const jobs = [
        ['pipeline', renderPipeline, true],
        ['topics', renderTopics, true],
        ['streams', renderStreams, true],
        ['runs', renderRuns, changed.runs],
        ['quarantine', renderQuarantine, changed.quarantine],
        ['analyses', renderAnalyses, changed.results],
      ];
      for (const [id, fn, needed] of jobs) {
        if (!needed) continue;
        try {
          fn();
        } catch (e) {
          const target = $('#' + id + ' .body') || $('#' + id);
          if (target) {
            target.replaceChildren(unavailable(id, 'cannot show the data (' + (e && e.message ? e.message : String(e)) + ')'));
          }
          if (window.console) console.error(e);
        }
      }
      renderStatus(new Date(now));
    } finally {
      state.inFlight = false;
      if (!state.needKey) state.timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  function init() {
    $('#api-key-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const key = $('#api-key-input').value.trim();
      if (!key) return;
      storeKey(key);
      $('#api-key-input').value = '';
      showKeyForm(false);
      refresh();
    });
    // Crossing the breakpoint (a phone turned, a window resized) redraws the charts.
    NARROW_CHARTS.addEventListener('change', () => { if (state.data.results) renderAnalyses(); });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && !state.needKey && !state.inFlight) refresh();
    });
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
