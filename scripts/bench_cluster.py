#!/usr/bin/env python3
"""The batch job in one process and on a Ballista cluster of pinpipe's own binary, on this machine.

    python scripts/bench_cluster.py [--posts 1000000] [--flush-size 10000] [--dir /tmp/pinpipe-cluster-bench]
                                    [--pinpipe target/release/pinpipe] [--setups one,cluster1,cluster2]
                                    [--tiny-objects 0]

1. `pinpipe bench raw --posts N --flush-size F` writes N synthetic posts (3N raw records, N/F
   objects per topic) once (reused when `<dir>/raw-N-F/raw` exists), then reads them once so every
   setup starts with them in the page cache.
2. Each setup runs `pinpipe batch` (Delta tables, quarantine, the nine analyses, CSVs, report) on a
   fresh lake whose raw folder is a copy of hard links to the same objects:
   - `one`: `pinpipe --lake L batch`, one process;
   - `cluster1`: a scheduler, one executor (`--concurrency` = the machine's cores), and the client
     `pinpipe --lake L batch --cluster df://127.0.0.1:P`;
   - `cluster2`: the same with two executors, each with half the cores as `--concurrency`, so that
     the cluster has as many task slots as the machine has cores.
   Every process is a child of this script: its wall time is from its start to its exit (the
   scheduler and executors are stopped with SIGTERM right after the client ends) and its peak RSS
   is the kernel's high-water mark (`ru_maxrss` from `wait4`). The client's own line
   `batch: read … in S s` splits its time into the batch part and the analyses.
3. From the scheduler's `/metrics`: tasks finished, and the mean time a task spent from its
   launch on an executor to the start of its work (`setup`) and working (`work`).
4. The nine CSVs of every setup are compared byte for byte with those of the first setup.
5. With `--tiny-objects M` (e.g. 600), the per-task overhead is measured apart: M posts written
   one per object (M objects per topic), batch in one process and on `cluster2` with one object per
   first-stage task (`PINPIPE_BATCH__CLUSTER_TASK_BYTES=1`); the difference in wall time over the
   tasks the cluster ran is the cost of a task that does next to nothing.

Prints the machine, the command lines, a table per input, and one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
SETUPS = ("one", "cluster1", "cluster2")


@dataclass
class Proc:
    """A process this script started and measured."""

    role: str
    command: list[str]
    popen: subprocess.Popen | None = None
    started: float = 0.0
    wall_s: float = 0.0
    peak_rss_mib: float = 0.0
    exit_code: int | None = None
    stdout: str = ""

    def start(self, log: Path, capture: bool = False, env: dict[str, str] | None = None) -> "Proc":
        self.started = time.monotonic()
        out = subprocess.PIPE if capture else open(log.with_suffix(".out"), "w")
        self.popen = subprocess.Popen(
            self.command, stdout=out, stderr=open(log, "w"), text=True, env={**os.environ, **(env or {})}
        )
        return self

    def wait(self) -> "Proc":
        assert self.popen is not None
        if self.popen.stdout is not None:
            self.stdout = self.popen.stdout.read()
        _, status, usage = os.wait4(self.popen.pid, 0)
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        self.wall_s = time.monotonic() - self.started
        self.peak_rss_mib = usage.ru_maxrss / 1024
        self.exit_code = self.popen.returncode
        return self

    def stop(self) -> "Proc":
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.wait()


@dataclass
class Result:
    setup: str
    processes: list[dict] = field(default_factory=list)
    wall_s: float = 0.0
    batch_s: float | None = None
    tasks: int | None = None
    task_setup_ms: float | None = None
    task_work_ms: float | None = None
    csvs_equal: bool | None = None


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def status(pinpipe: str, address: str) -> dict | None:
    out = subprocess.run(
        [pinpipe, "cluster", "status", "--scheduler", address, "--format", "json"],
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout) if out.returncode == 0 else None


def metrics(address: str) -> dict[str, float]:
    """Sums and counts of the scheduler's task metrics."""
    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read().decode()
    wanted = {}
    for line in text.splitlines():
        m = re.match(r"^(pinpipe_cluster_task_(?:setup|work)_seconds_(?:sum|count)) (\S+)$", line)
        if m:
            wanted[m.group(1)] = float(m.group(2))
    return wanted


def lake_with(raw: Path, lake: Path) -> None:
    if lake.exists():
        shutil.rmtree(lake)
    lake.mkdir(parents=True)
    # Hard links: every setup reads the same bytes, nothing is copied.
    subprocess.run(["cp", "-al", str(raw), str(lake / "raw")], check=True)


def run_setup(setup: str, args, raw: Path, work: Path, env: dict[str, str] | None = None) -> Result:
    lake = work / f"lake-{setup}"
    lake_with(raw, lake)
    logs = work / f"logs-{setup}"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    result = Result(setup)
    base = [args.pinpipe, "--data-dir", str(work / f"data-{setup}")]
    servers: list[Proc] = []
    client_cmd = base + ["--lake", str(lake), "batch"]
    address = None
    if setup != "one":
        executors = 1 if setup == "cluster1" else 2
        concurrency = max(1, (os.cpu_count() or 2) // executors)
        port, *ports = free_ports(1 + 2 * executors)
        address = f"127.0.0.1:{port}"
        servers.append(
            Proc("scheduler", base + ["cluster", "scheduler", "--listen", address]).start(logs / "scheduler.log")
        )
        for i in range(executors):
            flight, grpc = ports[2 * i], ports[2 * i + 1]
            servers.append(
                Proc(
                    f"executor{i + 1}",
                    base
                    + ["cluster", "executor", "--scheduler", address, "--listen", f"127.0.0.1:{flight}"]
                    + ["--grpc-port", str(grpc), "--concurrency", str(concurrency)],
                ).start(logs / f"executor{i + 1}.log")
            )
        deadline = time.monotonic() + 60
        while True:
            s = status(args.pinpipe, address)
            if s and sum(e["state"] == "registered" for e in s["executors"]) == executors:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{setup}: executors did not register; see {logs}")
            time.sleep(0.2)
        client_cmd = client_cmd + ["--cluster", f"df://{address}"]
    print(f"  {setup}: {' '.join(client_cmd)}", flush=True)
    client = Proc("client" if setup != "one" else "pinpipe", client_cmd).start(logs / "client.log", capture=True, env=env)
    client.wait()
    if address:
        m = metrics(address)
        count = m.get("pinpipe_cluster_task_work_seconds_count", 0)
        result.tasks = int(count)
        if count:
            result.task_setup_ms = 1000 * m["pinpipe_cluster_task_setup_seconds_sum"] / count
            result.task_work_ms = 1000 * m["pinpipe_cluster_task_work_seconds_sum"] / count
    for proc in servers:
        proc.stop()
    if client.exit_code != 0:
        raise SystemExit(f"{setup}: pinpipe exited with {client.exit_code}; see {logs}/client.log")
    m = re.search(r"batch: read \d+ raw objects, \d+ records in ([\d.]+)s", client.stdout)
    result.batch_s = float(m.group(1)) if m else None
    result.wall_s = client.wall_s
    result.processes = [
        {"role": p.role, "wall_s": round(p.wall_s, 2), "peak_rss_mib": round(p.peak_rss_mib, 1)}
        for p in [client, *servers]
    ]
    return result


def generate(args, posts: int, flush_size: int, work: Path) -> Path:
    root = work / f"raw-{posts}-{flush_size}"
    raw = root / "raw"
    if not raw.exists():
        print(f"writing {posts} posts, {flush_size} per object, into {raw}", flush=True)
        subprocess.run(
            [args.pinpipe, "--lake", str(root), "bench", "raw", "--posts", str(posts), "--flush-size", str(flush_size)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    for path in raw.rglob("*.json"):
        path.read_bytes()
    return raw


def compare(results: list[Result], work: Path) -> None:
    first = work / f"lake-{results[0].setup}" / "results"
    for r in results:
        mine = work / f"lake-{r.setup}" / "results"
        r.csvs_equal = all(filecmp.cmp(first / f, mine / f, shallow=False) for f in NINE)


def table(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    print(f"{'setup':<9} {'wall s':>7} {'batch s':>8} {'tasks':>6} {'setup ms':>9} {'work ms':>8} {'CSVs':>5}  processes (wall s, peak RSS MiB)")
    for r in results:
        procs = ", ".join(f"{p['role']} {p['wall_s']} s {p['peak_rss_mib']:.0f} MiB" for p in r.processes)
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        print(
            f"{r.setup:<9} {r.wall_s:>7.1f} {fmt(r.batch_s, '>8.1f')} {fmt(r.tasks, '>6')} "
            f"{fmt(r.task_setup_ms, '>9.1f')} {fmt(r.task_work_ms, '>8.1f')} {str(r.csvs_equal):>5}  {procs}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--flush-size", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/pinpipe-cluster-bench"))
    parser.add_argument("--pinpipe", default=os.environ.get("PINPIPE_BIN", "target/release/pinpipe"))
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--tiny-objects", type=int, default=0)
    args = parser.parse_args()
    args.pinpipe = str(Path(args.pinpipe).resolve())
    setups = [s for s in args.setups.split(",") if s]
    for s in setups:
        if s not in SETUPS:
            raise SystemExit(f"unknown setup {s}: pick from {', '.join(SETUPS)}")
    work = args.dir
    work.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([args.pinpipe, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}; {version} at {args.pinpipe}")
    report = {"posts": args.posts, "flush_size": args.flush_size, "cores": os.cpu_count()}

    raw = generate(args, args.posts, args.flush_size, work)
    results = [run_setup(s, args, raw, work) for s in setups]
    compare(results, work)
    table(f"{args.posts} posts, {args.flush_size} per object", results)
    report["runs"] = [asdict(r) for r in results]

    if args.tiny_objects:
        raw = generate(args, args.tiny_objects, 1, work)
        # One object per first-stage task: as many tasks as objects.
        one_per_task = {"PINPIPE_BATCH__CLUSTER_TASK_BYTES": "1"}
        tiny = [run_setup(s, args, raw, work / "tiny", one_per_task) for s in ("one", "cluster2")]
        compare(tiny, work / "tiny")
        table(f"{args.tiny_objects} posts, one per object", tiny)
        one, cluster = tiny
        if cluster.tasks:
            per_task = (cluster.wall_s - one.wall_s) / cluster.tasks
            print(f"per-task overhead: ({cluster.wall_s:.1f} s - {one.wall_s:.1f} s) / {cluster.tasks} tasks = {1000 * per_task:.0f} ms")
            report["tiny"] = {"runs": [asdict(r) for r in tiny], "per_task_ms": 1000 * per_task}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
