#!/usr/bin/env bash
# Gateway throughput measured from outside the process (issue 13), with wrk: 100-record REST
# Proxy produce calls of real pins (fixtures/peer-raw/chemi5t/pin.jsonl, ~85 KB bodies) and
# single-record calls, 32 connections, against `pinpipe serve` (release build) with sync = full.
# Each scenario gets a server of its own on a fresh bus, so that neither measures the other's
# leftovers (the 100-record run writes gigabytes, which the kernel is still flushing to disk
# long after it). Before each scenario the script also waits for the kernel to write out what is
# dirty (`sync`): the release build just wrote hundreds of MB, and a scenario run while that is
# written back measures the build's disk writes as well as the gateway's. Prints records/s, MB/s,
# requests/s and the latency percentiles wrk reports.
# A third scenario is the floor under the single-record one on this machine at this moment: the
# same single-pin calls sent as `text/plain`, which the gateway reads in full and answers 415 to
# without parsing them or touching the bus (HTTP, the connection bounds and the middleware only).
#
#   scripts/bench_gateway.sh [SECONDS]          (default 10 s per scenario)
#
# `pinpipe bench gateway` measures the same with its clients in the gateway's own process.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pinpipe-target}"
command -v wrk > /dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p pinpipe
pinpipe="$CARGO_TARGET_DIR/release/pinpipe"

work="$(mktemp -d)"
server=
trap 'stop_server; rm -rf "$work"' EXIT
stop_server() {
  if [ -n "$server" ]; then kill "$server" 2> /dev/null; wait "$server" 2> /dev/null || true; fi
  server=
}

python3 - "$work" << 'PY'
import json, sys
pins = [json.loads(l) for l in open("fixtures/peer-raw/chemi5t/pin.jsonl") if l.strip()]
for n in (100, 1):
    body = json.dumps({"records": [{"value": p} for p in pins[:n]]}, separators=(",", ":"))
    with open(f"{sys.argv[1]}/body{n}.lua", "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write('wrk.headers["Content-Type"] = "application/vnd.kafka.json.v2+json"\n')
        f.write("wrk.body = " + json.dumps(body) + "\n")
    print(f"{n}-record body: {len(body.encode())} bytes")
with open(f"{sys.argv[1]}/body1.lua") as f:
    plain = f.read().replace("application/vnd.kafka.json.v2+json", "text/plain")
with open(f"{sys.argv[1]}/bodyfloor.lua", "w") as f:
    f.write(plain)
PY

for n in 100 1 floor; do
  rm -rf "$work/bus" && mkdir "$work/bus"
  sync
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$pinpipe" --data-dir "$work/bus" --log warn serve --listen "127.0.0.1:$port" > /dev/null &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.1; done
  if [ "$n" = floor ]; then
    echo "== floor: 1-record calls as text/plain (answered 415 unparsed), 32 connections, ${seconds}s"
  else
    echo "== $n-record produce calls, 32 connections, ${seconds}s, fresh bus"
  fi
  out="$(wrk -t2 -c32 -d"${seconds}s" --latency -s "$work/body$n.lua" "http://127.0.0.1:$port/topics/pinpipe.pin")"
  echo "$out" | grep -E "Latency|Requests/sec|Non-2xx|50%|90%|99%"
  [ "$n" = floor ] && { stop_server; continue; }
  bytes="$(stat -c %s "$work/body$n.lua")"
  echo "$out" | awk -v n="$n" -v bytes="$bytes" '/Requests\/sec/ {
    printf "=> %.0f records/s, %.1f MB/s\n", $2 * n, $2 * bytes / 1e6 }'
  stop_server
done
