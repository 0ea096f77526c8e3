#!/usr/bin/env python3
"""Check that pinpipe's Delta tables read the same in other engines (SPEC §5, §7).

    python3 scripts/interop_check.py LAKE_DIR [--tables-dir tables] [--expect-rows pin=N,geo=N,user=N]

Needs the ``deltalake`` and ``duckdb`` packages (CI installs them into a venv); uses ``polars`` and
``pyarrow`` as extra readers when they are importable. For each of ``<tables-dir>/pin``, ``/geo``,
``/user`` and the ``quarantine`` table under LAKE_DIR it checks:

* the Delta schema (via ``deltalake``): column names, their order and Delta types, as SPEC §5 lists
  them (``timestamp`` is Delta's UTC timestamp, not ``timestamp_ntz``);
* the Parquet data files the Delta log lists (``DeltaTable.file_uris()``), read with DuckDB's
  ``read_parquet`` (DuckDB's delta extension cannot be fetched offline): the same columns in the
  same order with the matching DuckDB types, and timestamps stored as microseconds adjusted to UTC;
* row counts: equal between every reader, and equal to ``--expect-rows`` where given;
* ``ind`` unique and never null in the three cleaned tables.

The quarantine table's columns are not fixed by the spec; it must exist (unless ``--no-quarantine``)
and read with the same row count everywhere. Exit status 0 when everything holds, 1 with one
line per problem otherwise, 2 for usage errors.

The ``deltalake`` package sometimes aborts at interpreter exit after its work is done, so this
script ends with a flush and ``os._exit``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

# SPEC §5 column order and types: (name, Delta type, DuckDB type).
EXPECTED: dict[str, list[tuple[str, Any, str]]] = {
    "pin": [
        ("ind", "long", "BIGINT"),
        ("unique_id", "string", "VARCHAR"),
        ("title", "string", "VARCHAR"),
        ("description", "string", "VARCHAR"),
        ("follower_count", "long", "BIGINT"),
        ("poster_name", "string", "VARCHAR"),
        ("tag_list", "string", "VARCHAR"),
        ("is_image_or_video", "string", "VARCHAR"),
        ("image_src", "string", "VARCHAR"),
        ("save_location", "string", "VARCHAR"),
        ("category", "string", "VARCHAR"),
        ("downloaded", "boolean", "BOOLEAN"),
    ],
    "geo": [
        ("ind", "long", "BIGINT"),
        ("country", "string", "VARCHAR"),
        ("coordinates", {"type": "array", "elementType": "double"}, "DOUBLE[]"),
        ("timestamp", "timestamp", "TIMESTAMP WITH TIME ZONE"),
    ],
    "user": [
        ("ind", "long", "BIGINT"),
        ("user_name", "string", "VARCHAR"),
        ("age", "long", "BIGINT"),
        ("date_joined", "timestamp", "TIMESTAMP WITH TIME ZONE"),
    ],
}


class Problems:
    """Collects failed checks; each is printed as one line."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, table: str, message: str) -> None:
        self.items.append(f"{table}: {message}")
        print(f"FAIL {table}: {message}", flush=True)


def local_path(uri: str) -> str:
    """A local filesystem path for a ``file://`` URI (other strings are returned unchanged)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return uri


def delta_type_matches(actual: Any, expected: Any) -> bool:
    """Compare a Delta schema type with an expected one (dicts: only the expected keys matter)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(actual.get(k) == v for k, v in expected.items())
    return actual == expected


def parse_expect_rows(text: str | None) -> dict[str, int]:
    """``pin=1058,geo=1059`` → {"pin": 1058, "geo": 1059}."""
    expected: dict[str, int] = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in (*EXPECTED, "quarantine") or not value.strip().isdigit():
            raise SystemExit(f"error: bad --expect-rows item {item!r} (want table=N)")
        expected[name.strip()] = int(value)
    return expected


def delta_row_count(table: Any) -> int:
    """Row count as the deltalake package reads it."""
    try:
        import pyarrow  # noqa: F401  (to_pyarrow_table needs it)
        return table.to_pyarrow_table().num_rows
    except ImportError:
        return int(table.count())


def check_delta_schema(name: str, fields: list[dict[str, Any]], problems: Problems) -> None:
    expected = EXPECTED[name]
    names = [f["name"] for f in fields]
    want = [n for n, _d, _q in expected]
    if names != want:
        problems.add(name, f"Delta columns {names} != expected {want}")
        return
    for field, (col, delta_type, _duck) in zip(fields, expected):
        if not delta_type_matches(field["type"], delta_type):
            problems.add(name, f"column {col}: Delta type {json.dumps(field['type'])} != {json.dumps(delta_type)}")


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def check_parquet_timestamp(con: Any, name: str, file: str, col: str, problems: Problems) -> None:
    """A timestamp column must be stored as microseconds adjusted to UTC (Delta's ``timestamp``)."""
    found = con.execute(
        "SELECT converted_type, logical_type FROM parquet_schema(?) WHERE name = ?", [file, col]).fetchall()
    if not found:
        problems.add(name, f"{col} missing from {file}")
        return
    converted, logical = (str(v or "").upper().replace(" ", "") for v in found[0])
    # logical_type reads like TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>,
    # MICROS=MicroSeconds(), NANOS=<null>)); old writers only set converted_type (always UTC).
    micros = "MICROS=MICROSECONDS" in logical if logical else converted == "TIMESTAMP_MICROS"
    utc = any(f"ISADJUSTEDTOUTC={v}" in logical for v in ("1", "TRUE")) if logical else bool(converted)
    if not micros:
        problems.add(name, f"{col} in {file} is not stored in microseconds ({logical or converted})")
    if not utc:
        problems.add(name, f"{col} in {file} is not adjusted to UTC ({logical or converted})")


def check_duckdb(name: str, files: list[str], expect_columns: bool, problems: Problems) -> int | None:
    """Read the data files with DuckDB; check types, timestamp units and ind; return the row count."""
    import duckdb

    con = duckdb.connect()
    if not files:  # an empty table: nothing to scan
        return 0
    scan = "read_parquet([" + ", ".join(sql_string(f) for f in files) + "])"
    described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    columns = [(row[0], row[1]) for row in described]
    if expect_columns:
        want = [(n, q) for n, _d, q in EXPECTED[name]]
        if columns != want:
            problems.add(name, f"DuckDB columns {columns} != expected {want}")
        # Parquet logical types: timestamps must be MICROS and adjusted to UTC.
        for col, _delta, duck in EXPECTED[name]:
            if not duck.startswith("TIMESTAMP"):
                continue
            for file in files:
                check_parquet_timestamp(con, name, file, col, problems)
        rows, distinct, non_null = con.execute(
            f"SELECT count(*), count(DISTINCT ind), count(ind) FROM {scan}").fetchone()
        if non_null != rows:
            problems.add(name, f"{rows - non_null} rows with a null ind")
        if distinct != non_null:
            problems.add(name, f"ind is not unique: {non_null} rows, {distinct} distinct keys")
        return rows
    return con.execute(f"SELECT count(*) FROM {scan}").fetchone()[0]


def polars_row_count(path: Path) -> int | None:
    try:
        import polars as pl
    except ImportError:
        return None
    return pl.read_delta(str(path)).height


def check_table(lake: Path, rel: str, name: str, expected_rows: int | None, problems: Problems) -> None:
    from deltalake import DeltaTable

    path = lake / rel
    if not DeltaTable.is_deltatable(str(path)):
        problems.add(name, f"{path} is not a Delta table")
        return
    table = DeltaTable(str(path))
    fields = json.loads(table.schema().to_json())["fields"]
    is_clean_table = name in EXPECTED
    if is_clean_table:
        check_delta_schema(name, fields, problems)

    counts: dict[str, int | None] = {"deltalake": delta_row_count(table)}
    files = [local_path(uri) for uri in table.file_uris()]
    if "deletionVectors" in (table.protocol().writer_features or []):
        problems.add(name, "uses deletion vectors: a plain Parquet reader would see deleted rows")
    counts["duckdb"] = check_duckdb(name, files, is_clean_table, problems)
    counts["polars"] = polars_row_count(path)
    readers = {reader: n for reader, n in counts.items() if n is not None}
    if len(set(readers.values())) > 1:
        problems.add(name, f"row counts differ between readers: {readers}")
    if expected_rows is not None and counts["deltalake"] != expected_rows:
        problems.add(name, f"{counts['deltalake']} rows, expected {expected_rows}")
    columns = ", ".join(f"{f['name']} {json.dumps(f['type'])}" for f in fields)
    print(f"{name}: version {table.version()}, {len(files)} files, rows {readers}; {columns}", flush=True)


def run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        description="Check pinpipe's Delta tables with deltalake, DuckDB (and polars if present).")
    parser.add_argument("lake", type=Path, help="lake directory (holds tables/ and quarantine/)")
    parser.add_argument("--tables-dir", default="tables",
                        help="folder of the cleaned tables under the lake: tables (batch) or stream")
    parser.add_argument("--expect-rows", metavar="pin=N,geo=N,user=N",
                        help="expected row counts (quarantine=N is accepted too)")
    parser.add_argument("--no-quarantine", action="store_true", help="do not check the quarantine table")
    args = parser.parse_args(argv)
    expect = parse_expect_rows(args.expect_rows)
    try:
        import deltalake  # noqa: F401
        import duckdb  # noqa: F401
    except ImportError as err:
        print(f"error: {err}; install deltalake and duckdb (pip install deltalake duckdb)", file=sys.stderr)
        return 2

    problems = Problems()
    for name in EXPECTED:
        check_table(args.lake, f"{args.tables_dir}/{name}", name, expect.get(name), problems)
    if not args.no_quarantine:
        check_table(args.lake, "quarantine", "quarantine", expect.get("quarantine"), problems)

    if problems.items:
        print(f"interop check FAILED: {len(problems.items)} problem(s)", flush=True)
        return 1
    print("interop check passed", flush=True)
    return 0


def main() -> None:
    try:
        code = run(sys.argv[1:])
    except SystemExit as exit_:  # argparse / usage errors
        code = exit_.code if isinstance(exit_.code, int) else 2
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    except Exception as err:  # a reader crashed: report it as a failure, not a traceback-only exit
        import traceback
        traceback.print_exc()
        print(f"interop check FAILED: {type(err).__name__}: {err}", flush=True)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
