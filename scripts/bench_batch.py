#!/usr/bin/env python3
"""The batch benchmark: pinpipe batch beside DuckDB (strict and fast) and PySpark on the same raw files.

    python scripts/bench_batch.py [--posts 1000000] [--dir /tmp/pinpipe-bench] [--pinpipe PATH]
                                  [--engines pinpipe,duckdb,duckdb-fast,pyspark]

1. `pinpipe bench raw --posts N` writes N synthetic posts (3N raw records) in the raw layout, once
   (reused when `<dir>/raw-N/raw` already exists). The raw objects are then read once, so that
   every engine starts with them in the page cache.
2. Each engine runs in turn, as a child process of this script, on the same raw objects:
   - `pinpipe`: `pinpipe --lake L batch` on a fresh lake whose `raw` is a link to the raw folder:
     Delta tables, quarantine, the nine analyses, CSVs and the HTML report;
   - `duckdb`: scripts/bench_duckdb.py, SPEC §5 to the letter in DuckDB SQL (quarantine included);
   - `duckdb-fast`: scripts/bench_duckdb_fast.py, plain set-based DuckDB SQL over `read_json` with
     every field read as text, cleaning by casts, no quarantine;
   - `pyspark`: scripts/bench_pyspark.py, PySpark `local[2]` (skipped when pyspark is not importable).
3. For each engine: wall time of its process (from start to exit; the Python engines also report
   their own time, from connecting to the last CSV, which leaves out interpreter and JVM start-up),
   and peak memory two ways:
   - `peak RSS`: the kernel's high-water mark (`ru_maxrss`) of the engine's largest process, from
     `wait4` on that process. This script makes itself a child subreaper, so processes the engine
     leaves behind (PySpark's JVM outlives its Python driver) are reparented to it and reaped too;
   - `tree RSS`: the largest sum of the resident sizes of all the engine's processes at once,
     sampled every 0.2 s from /proc (what a multi-process engine such as PySpark really holds; short
     spikes between samples are missed).
   Every wall time is also given as a ratio to the strict and to the fast DuckDB times of the same run.
4. Each engine's nine CSVs are compared byte for byte with pinpipe's (with the first engine that ran
   when pinpipe did not); differing rows are printed.

Prints the machine, the exact command lines, a table, and one JSON line with every figure. Needs
`duckdb` (and `pyspark` + Java 17 for the Spark row) in the running interpreter's environment.
"""

from __future__ import annotations

import argparse
import ctypes
import difflib
import filecmp
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENGINES = ("pinpipe", "duckdb", "duckdb-fast", "pyspark")
ENGINE_SCRIPTS = {"duckdb": "bench_duckdb.py", "duckdb-fast": "bench_duckdb_fast.py", "pyspark": "bench_pyspark.py"}
ENGINE_LABELS = {
    "pinpipe": "pinpipe batch",
    "duckdb": "DuckDB strict",
    "duckdb-fast": "DuckDB fast",
    "pyspark": "PySpark local[2]",
}
NINE = (
    "popular_category_by_country.csv",
    "posts_per_category_by_year.csv",
    "most_followed_user_by_country.csv",
    "country_with_most_followed_user.csv",
    "popular_category_by_age_group.csv",
    "median_followers_by_age_group.csv",
    "users_joined_by_year.csv",
    "median_followers_by_join_year.csv",
    "median_followers_by_age_group_and_join_year.csv",
)
THREADS = 2
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


# ---------------------------------------------------------------------------------------------
# Measuring a process tree
# ---------------------------------------------------------------------------------------------

def become_subreaper() -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are reparented to this process."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children_map() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_rss_kib(root: int) -> int:
    """Resident KiB summed over every descendant of ``root`` (not ``root`` itself)."""
    tree = children_map()
    total, todo = 0, list(tree.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_KIB
        except (OSError, IndexError, ValueError):
            pass
    return total


@dataclass
class Run:
    seconds: float
    returncode: int
    peak_rss_kib: int  # the largest ru_maxrss of the engine's processes
    tree_rss_kib: int  # the largest sampled sum of the engine's processes' RSS
    stdout: str
    stderr: str
    leftovers: list[str] = field(default_factory=list)


def run_measured(command: list[str], log_dir: Path, name: str) -> Run:
    """Runs ``command`` as a child; waits for it and every process it leaves behind."""
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    me = os.getpid()
    peak_tree = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not stop.is_set():
            began = time.perf_counter()
            peak_tree = max(peak_tree, tree_rss_kib(me))
            # every 0.2 s, or less often when a /proc scan is slow: at most 2% of one core
            stop.wait(max(0.2, 50 * (time.perf_counter() - began)))

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss
        # Reap what the engine left behind (reparented to us as subreaper), counting its memory too.
        leftovers: list[str] = []
        deadline = time.monotonic() + 60
        while True:
            try:
                pid, _, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                peak = max(peak, usage.ru_maxrss)
                continue
            if time.monotonic() > deadline:
                for pid in children_map().get(me, []):
                    leftovers.append(str(pid))
                    try:
                        os.kill(pid, 15)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 3600
            time.sleep(0.05)
        stop.set()
        sampler.join()
    return Run(seconds, proc.returncode, peak, peak_tree,
               out_path.read_text(errors="replace"), err_path.read_text(errors="replace"), leftovers)


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------

def machine() -> dict[str, object]:
    info: dict[str, object] = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model"):
                info["cpu"] = value.strip()
                break
    except OSError:
        pass
    try:
        mem = {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()}
        info["memory_mib"] = mem["MemTotal"] // 1024
        info["memory_available_mib"] = mem.get("MemAvailable", 0) // 1024
    except (OSError, KeyError, ValueError, IndexError):
        pass
    for package in ("duckdb", "pyspark"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    return info


def first_line(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


# ---------------------------------------------------------------------------------------------
# Comparing results
# ---------------------------------------------------------------------------------------------

def compare(mine: Path, reference: Path) -> tuple[bool, list[str], list[str]]:
    """(all nine equal, names that differ or are missing, diff lines to show)."""
    bad, shown = [], []
    for name in NINE:
        a, b = reference / name, mine / name
        if not a.is_file() or not b.is_file():
            bad.append(f"{name} (missing)")
            continue
        if filecmp.cmp(a, b, shallow=False):
            continue
        bad.append(name)
        diff = list(difflib.unified_diff(a.read_text(errors="replace").splitlines(),
                                         b.read_text(errors="replace").splitlines(),
                                         str(a), str(b), lineterm="", n=0))
        shown.extend(diff[:24] + ([f"... {len(diff) - 24} more diff lines"] if len(diff) > 24 else []))
    return not bad, bad, shown


# ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts to generate (3 raw records each)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/pinpipe-bench"), help="work directory")
    parser.add_argument(
        "--pinpipe",
        default=os.environ.get("PINPIPE_BIN", "target/release/pinpipe"),
        help="the pinpipe binary (default: $PINPIPE_BIN or target/release/pinpipe)",
    )
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated subset of {','.join(ENGINES)} (default: all; "
                             "pyspark is skipped when not importable)")
    args = parser.parse_args()

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        parser.error(f"unknown engine(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ENGINES)}")
    engines = [e for e in ENGINES if e in engines]  # a fixed order: pinpipe first
    skipped: dict[str, str] = {}
    if "pyspark" in engines and importlib.util.find_spec("pyspark") is None:
        skipped["pyspark"] = "pyspark is not importable"
    if any(e in engines for e in ("duckdb", "duckdb-fast")) and importlib.util.find_spec("duckdb") is None:
        for e in ("duckdb", "duckdb-fast"):
            if e in engines:
                skipped[e] = "duckdb is not importable"
    pinpipe = str(Path(args.pinpipe).resolve()) if Path(args.pinpipe).exists() else args.pinpipe

    args.dir.mkdir(parents=True, exist_ok=True)
    raw_lake = (args.dir / f"raw-{args.posts}").resolve()
    if not (raw_lake / "raw").exists():
        subprocess.run([pinpipe, "--lake", str(raw_lake), "bench", "raw", "--posts", str(args.posts)], check=True)
    raw_bytes = 0
    for path in sorted((raw_lake / "raw").rglob("*.json")):
        with open(path, "rb") as f:  # warm the page cache: every engine reads from memory
            while chunk := f.read(1 << 22):
                raw_bytes += len(chunk)

    subreaper = become_subreaper()
    info = machine()
    info["pinpipe"] = first_line([pinpipe, "--version"])
    info["pinpipe_binary"] = pinpipe
    if "pyspark" in engines and "pyspark" not in skipped:
        info["java"] = first_line(["java", "-version"])

    log_dir = args.dir / "logs"
    log_dir.mkdir(exist_ok=True)
    lake = (args.dir / "lake").resolve()
    commands: dict[str, list[str]] = {}
    outputs: dict[str, Path] = {}
    for engine in engines:
        if engine == "pinpipe":
            commands[engine] = [pinpipe, "--lake", str(lake), "batch"]
            outputs[engine] = lake / "results"
        else:
            outputs[engine] = (args.dir / f"{engine}-results").resolve()
            commands[engine] = [sys.executable, str(HERE / ENGINE_SCRIPTS[engine]), str(raw_lake),
                                "--threads", str(THREADS), "--out", str(outputs[engine])]

    results: dict[str, dict[str, object]] = {}
    for engine in engines:
        figures: dict[str, object] = {"command": shlex.join(commands[engine])}
        results[engine] = figures
        if engine in skipped:
            figures["skipped"] = skipped[engine]
            continue
        if engine == "pinpipe":
            shutil.rmtree(lake, ignore_errors=True)
            lake.mkdir(parents=True)
            os.symlink(raw_lake / "raw", lake / "raw")
        else:
            shutil.rmtree(outputs[engine], ignore_errors=True)
        print(f"running {engine} ...", file=sys.stderr, flush=True)
        run = run_measured(commands[engine], log_dir, engine)
        figures["seconds"] = round(run.seconds, 2)
        figures["peak_rss_mib"] = round(run.peak_rss_kib / 1024, 1)
        figures["tree_rss_mib"] = round(run.tree_rss_kib / 1024, 1)
        if run.leftovers:
            figures["killed_leftover_pids"] = run.leftovers
        if run.returncode != 0:
            figures["failed"] = f"exit {run.returncode}; see {log_dir / (engine + '.stderr')}"
            print(f"{engine} failed (exit {run.returncode}):\n{run.stderr[-4000:]}", file=sys.stderr)
            continue
        if engine != "pinpipe":
            report = json.loads(run.stdout.strip().splitlines()[-1])
            if report.get("skipped"):
                figures["skipped"] = "the engine skipped itself"
                continue
            figures["engine_seconds"] = round(report["seconds"], 2)
            if "startup_seconds" in report:
                figures["startup_seconds"] = round(report["startup_seconds"], 2)

    ran = [e for e in engines if "seconds" in results[e] and "failed" not in results[e] and "skipped" not in results[e]]
    reference = ran[0] if ran else None
    diffs: list[str] = []
    for engine in ran:
        base = {"duckdb": "x_duckdb", "duckdb-fast": "x_duckdb_fast"}
        for peer, key in base.items():
            if peer in ran:
                results[engine][key] = round(results[engine]["seconds"] / results[peer]["seconds"], 2)
        if engine != reference:
            same, bad, shown = compare(outputs[engine], outputs[reference])
            results[engine]["results_equal"] = same
            if not same:
                results[engine]["results_differ"] = bad
                diffs.append(f"{engine} vs {reference}: {', '.join(bad)}")
                diffs.extend("  " + line for line in shown)
        else:
            missing = [n for n in NINE if not (outputs[engine] / n).is_file()]
            if missing:
                results[engine]["results_missing"] = missing
                diffs.append(f"{engine}: missing {', '.join(missing)}")

    # ------------------------------------------------------------------------------ report
    print(f"machine: {info['nproc']} cores ({info['cpu']}), {info.get('memory_mib', '?'):,} MiB memory, "
          f"{info['os']}; load average before the run {info['load_average_before']}")
    print(f"versions: {info['pinpipe']} ({pinpipe}), Python {info['python']}, duckdb {info['duckdb']}, "
          f"pyspark {info['pyspark']}" + (f", {info['java']}" if info.get("java") else ""))
    print(f"data: {args.posts:,} posts ({3 * args.posts:,} raw records, {raw_bytes / 2**20:,.1f} MiB) in {raw_lake / 'raw'}")
    print(f"command: {shlex.join([sys.executable] + sys.argv)}")
    for engine in engines:
        print(f"  {engine:<12} {results[engine]['command']}")
    if not subreaper:
        print("note: could not become a child subreaper; processes an engine leaves behind are not counted")
    print()
    header = ["engine", "wall s", "own s", "peak RSS MiB", "tree RSS MiB", "x DuckDB strict", "x DuckDB fast",
              f"CSVs = {reference}'s" if reference else "CSVs"]
    rows = [header]
    for engine in engines:
        f = results[engine]
        if "seconds" not in f or "skipped" in f:
            rows.append([ENGINE_LABELS[engine], f.get("skipped") or f.get("failed") or "not run"] + [""] * 6)
            continue
        own = f.get("engine_seconds", "")
        if "startup_seconds" in f:
            own = f"{own} ({f['startup_seconds']} start-up)"
        rows.append([
            ENGINE_LABELS[engine],
            f"{f['seconds']:.2f}" + (" FAILED" if "failed" in f else ""),
            str(own),
            f"{f['peak_rss_mib']:,.0f}",
            f"{f['tree_rss_mib']:,.0f}",
            f"{f['x_duckdb']:.2f}" if "x_duckdb" in f else "—",
            f"{f['x_duckdb_fast']:.2f}" if "x_duckdb_fast" in f else "—",
            "—" if engine == reference else ("yes" if f.get("results_equal") else
                                             "no" if "results_equal" in f else ""),
        ])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        print("  ".join(str(c).ljust(widths[j]) if j == 0 else str(c).rjust(widths[j]) for j, c in enumerate(row)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("\nwall s: the engine's process, start to exit; own s: the engine's own timer (connect to last CSV);\n"
          "peak RSS: largest ru_maxrss of its processes; tree RSS: largest sampled sum over its processes")
    if diffs:
        print("\nresults that differ:")
        print("\n".join(diffs))
    print(json.dumps({"posts": args.posts, "raw_records": 3 * args.posts, "raw_mib": round(raw_bytes / 2**20, 1),
                      "machine": info, "reference": reference, "engines": results}))
    return 0 if all("failed" not in results[e] for e in engines) and not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
