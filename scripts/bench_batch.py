#!/usr/bin/env python3
"""The batch benchmark of issue 3: pinpipe batch against DuckDB (and PySpark when installed) on the
same raw files.

    python scripts/bench_batch.py [--posts 1000000] [--dir /tmp/pinpipe-bench] [--pinpipe PATH]

1. `pinpipe bench raw --posts N` writes N synthetic posts (3N raw records) in the raw layout, once
   (reused when the directory already holds them).
2. `pinpipe batch` runs end to end on a fresh copy of the lake's raw folder: Delta tables, the nine
   analyses, CSVs and the report. Wall time and peak memory (max RSS of the child) are measured.
3. scripts/bench_duckdb.py and scripts/bench_pyspark.py answer the same nine analyses from the same
   raw files; their wall times are reported beside pinpipe's, and their CSVs are compared with
   pinpipe's results.

Prints a table and a JSON line with every figure. Needs `duckdb` (and `pyspark` for the Spark
column) in the running interpreter's environment.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_timed(command: list[str]) -> tuple[float, float, str]:
    """Runs a command; returns (wall seconds, peak RSS of the child in MiB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far, in KiB on Linux.
    return seconds, max(peak, before) / 1024, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts to generate (3 raw records each)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/pinpipe-bench"), help="work directory")
    parser.add_argument(
        "--pinpipe",
        default=os.environ.get("PINPIPE_BIN", "target/release/pinpipe"),
        help="the pinpipe binary (default: $PINPIPE_BIN or target/release/pinpipe)",
    )
    args = parser.parse_args()

    raw_lake = args.dir / f"raw-{args.posts}"
    if not (raw_lake / "raw").exists():
        subprocess.run(
            [args.pinpipe, "--lake", str(raw_lake), "bench", "raw", "--posts", str(args.posts)], check=True
        )
    lake = args.dir / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    os.symlink((raw_lake / "raw").resolve(), lake / "raw")

    figures: dict[str, object] = {"posts": args.posts, "raw_records": 3 * args.posts}
    seconds, peak_mib, _ = run_timed([args.pinpipe, "--lake", str(lake), "batch"])
    figures["pinpipe_seconds"] = round(seconds, 2)
    figures["pinpipe_peak_rss_mib"] = round(peak_mib, 1)

    for engine in ("duckdb", "pyspark"):
        out = args.dir / f"{engine}-results"
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(HERE / f"bench_{engine}.py"), str(raw_lake), "--out", str(out)],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            print(f"{engine} failed:\n{done.stderr}", file=sys.stderr)
            continue
        report = json.loads(done.stdout.strip().splitlines()[-1])
        if report.get("skipped"):
            figures[f"{engine}_seconds"] = None
            continue
        figures[f"{engine}_seconds"] = round(report["seconds"], 2)
        figures[f"{engine}_process_seconds"] = round(wall, 2)
        same = all(
            filecmp.cmp(out / f.name, lake / "results" / f.name, shallow=False)
            for f in sorted(out.glob("*.csv"))
        )
        figures[f"{engine}_results_equal"] = same

    print(f"posts {args.posts:,} ({3 * args.posts:,} raw records)")
    print(f"pinpipe batch  {figures['pinpipe_seconds']:>8} s   peak RSS {figures['pinpipe_peak_rss_mib']} MiB")
    for engine in ("duckdb", "pyspark"):
        value = figures.get(f"{engine}_seconds")
        if value is None:
            print(f"{engine:<14} not run")
        else:
            ratio = value / figures["pinpipe_seconds"]
            print(f"{engine:<14} {value:>8} s   ({ratio:.2f}x pinpipe's time; same CSVs: {figures.get(engine + '_results_equal')})")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
