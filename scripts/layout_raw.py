#!/usr/bin/env python3
"""Lay real deployment rows out in pinpipe's raw layout (SPEC §4), as the S3 sink would have.

    python3 scripts/layout_raw.py SRC_DEPLOYMENT_DIR... --lake LAKE_DIR [--prefix pinpipe] [--flush-size N]

Each SRC_DEPLOYMENT_DIR holds one deployment's three topics (see fixtures/peer-raw/README.md):
``pin.jsonl`` / ``geo.jsonl`` / ``user.jsonl`` (one JSON value per line) or ``pin_consumer.json`` /
``geo_consumer.json`` / ``user_consumer.json`` (a JSON array of REST Proxy consumer envelopes
``{"topic","key","value","partition","offset"}``, of which the ``value`` is taken).

For each topic, the deployments' records are concatenated in the order given on the command line,
keeping each file's record order, into partition 0 with contiguous offsets from 0, and written as
objects of ``--flush-size`` records named by their start offset:

    LAKE_DIR/raw/topics/<prefix>.<t>/partition=0/<prefix>.<t>+0+<offset:010d>.json

Each record is one line of compact JSON (``ensure_ascii=False``), ``\\n``-terminated. Lines are
copied as values, so a record that is not an object (or a pin row in the user file) is kept as it
is: quarantining it is the cleaner's job. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TOPICS = ("pin", "geo", "user")


def read_jsonl(path: Path) -> list[Any]:
    """One JSON value per non-blank line."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_consumer(path: Path) -> list[Any]:
    """A REST Proxy consumer dump: a JSON array of envelopes; the record is ``value``."""
    envelopes = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(envelopes, list):
        raise SystemExit(f"error: {path}: expected a JSON array of consumer envelopes")
    return [envelope["value"] for envelope in envelopes]


def read_topic(deployment: Path, topic: str) -> list[Any]:
    """The records of one topic in one deployment directory, in file order."""
    jsonl, consumer = deployment / f"{topic}.jsonl", deployment / f"{topic}_consumer.json"
    if jsonl.is_file():
        return read_jsonl(jsonl)
    if consumer.is_file():
        return read_consumer(consumer)
    raise SystemExit(f"error: {deployment} has neither {jsonl.name} nor {consumer.name}")


def write_topic(lake: Path, topic_name: str, records: list[Any], flush_size: int) -> int:
    """Write records into partition 0 in objects of flush_size records; returns objects written."""
    partition_dir = lake / "raw" / "topics" / topic_name / "partition=0"
    partition_dir.mkdir(parents=True, exist_ok=True)
    objects = 0
    for start in range(0, len(records), flush_size):
        chunk = records[start:start + flush_size]
        body = "".join(
            json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in chunk)
        (partition_dir / f"{topic_name}+0+{start:010d}.json").write_text(body, encoding="utf-8", newline="")
        objects += 1
    return objects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lay deployment rows out in the SPEC §4 raw layout.")
    parser.add_argument("deployments", nargs="+", type=Path, metavar="SRC_DEPLOYMENT_DIR",
                        help="deployment folders, concatenated in this order")
    parser.add_argument("--lake", type=Path, required=True, help="lake directory to write raw/topics into")
    parser.add_argument("--prefix", default="pinpipe", help="topic prefix (default: pinpipe)")
    parser.add_argument("--flush-size", type=int, default=500, help="records per object (default: 500)")
    args = parser.parse_args(argv)
    if args.flush_size < 1:
        parser.error("--flush-size must be at least 1")

    for topic in TOPICS:
        topic_name = f"{args.prefix}.{topic}"
        existing = args.lake / "raw" / "topics" / topic_name
        if existing.exists() and any(existing.rglob("*.json")):
            raise SystemExit(f"error: {existing} already holds objects; use an empty lake")
        records: list[Any] = []
        for deployment in args.deployments:
            records.extend(read_topic(deployment, topic))
        objects = write_topic(args.lake, topic_name, records, args.flush_size)
        print(f"{topic_name}: {len(records)} records in {objects} objects", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
