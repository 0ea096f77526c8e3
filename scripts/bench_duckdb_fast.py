#!/usr/bin/env python3
"""The nine pinpipe analyses (SPEC §6) from the raw NDJSON (SPEC §4) as plain, set-based DuckDB SQL.

    python3 scripts/bench_duckdb_fast.py RAW_LAKE_DIR [--prefix pinpipe] [--threads 2] [--out DIR]

The fast DuckDB baseline: what a DuckDB user would write for this job. Each topic is read once with
``read_json(..., columns={every field: VARCHAR}, format='newline_delimited')``, the SPEC §5 cleaning
is done inline in SQL with casts, the three cleaned tables are built in full (every SPEC §5 column,
as pinpipe's Delta tables have them, though only in memory) and the nine analyses run on them.
There is no quarantine: a value that does not convert becomes null (``TRY_CAST``), a line that is
not a JSON object or has no integer key is dropped. Prints ``{"engine":"duckdb-fast","seconds":S}``
(wall time from connecting to the last CSV written) on stdout and writes the nine CSVs to ``--out``,
named, ordered and formatted as pinpipe's results.

scripts/bench_duckdb.py is the strict counterpart: it follows every rule of SPEC §5 and
scripts/golden.py, quarantine included, and is slower for it. On clean input (the generated
benchmark lake, the golden ``peer`` set) both must write the same nine files as pinpipe.

Where this job is looser than SPEC §5 / golden.py (it only matters for malformed input, e.g. the
golden ``edges`` set):
- No quarantine, and last-wins is over every copy with a readable key: a later copy whose other
  fields do not convert replaces an earlier good copy (golden.py keeps the earlier one), and its
  bad fields are null. Another table's record in a topic is read as this table's row when it has
  this table's key field (golden.py quarantines it).
- Conversions are DuckDB's casts: keys and ``age`` accept what ``TRY_CAST(.. AS BIGINT)`` accepts
  (``"5.5"`` rounds to 6, golden.py rejects it), datetimes what ``TRY_CAST(.. AS TIMESTAMPTZ)``
  accepts in a UTC session (also a bare date and ``+HH`` offsets), ``downloaded`` what
  ``TRY_CAST(.. AS BOOLEAN)`` accepts, ``follower_count`` a decimal with an optional ``k``/``M``
  suffix (a sign is accepted).
  JSON numbers are read as text, so ``1.50`` in a text field becomes ``"1.5"``.
- Arrival order = (partition, start offset, line): the raw objects are passed to ``read_json`` in
  that order and a record's position is DuckDB's ``WITH ORDINALITY`` row number over the scan,
  which follows the file list and the lines within each file while ``preserve_insertion_order`` is
  on (DuckDB's default, set explicitly here). ``read_json`` has no line-number column (no
  ``file_row_number`` for JSON), hence this rather than ``filename=true`` and a per-file number.

Needs the ``duckdb`` package (``pip install duckdb``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

# Unicode White_Space (golden.py decision 1): U+00A0 and the other non-ASCII spaces included.
WHITE_SPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

SOURCE_FIELDS = {
    "pin": ["index", "unique_id", "title", "description", "poster_name", "follower_count", "tag_list",
            "is_image_or_video", "image_src", "downloaded", "save_location", "category"],
    "geo": ["ind", "timestamp", "latitude", "longitude", "country"],
    "user": ["ind", "first_name", "last_name", "age", "date_joined"],
}
KEY_FIELD = {"pin": "index", "geo": "ind", "user": "ind"}

PIN_SENTINELS = {
    "title": ["No Title Data Available"],
    "description": ["No description available Story format", "No description available"],
    "poster_name": ["User Info Error"],
    "follower_count": ["User Info Error"],
    "tag_list": ["N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"],
    "image_src": ["Image src error."],
}


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


MACROS = f"""
CREATE OR REPLACE MACRO wtrim(s) AS nullif(trim(s, {lit(WHITE_SPACE)}), '');
CREATE OR REPLACE MACRO followers(t) AS TRY_CAST(trunc(CASE
    WHEN suffix(t, 'k') THEN TRY_CAST(left(t, -1) AS DECIMAL(38, 9)) * 1000
    WHEN suffix(t, 'M') THEN TRY_CAST(left(t, -1) AS DECIMAL(38, 9)) * 1000000
    ELSE TRY_CAST(t AS DECIMAL(38, 9)) END) AS BIGINT);
CREATE OR REPLACE MACRO age_group(a) AS CASE
    WHEN a BETWEEN 18 AND 24 THEN '18-24' WHEN a BETWEEN 25 AND 35 THEN '25-35'
    WHEN a BETWEEN 36 AND 50 THEN '36-50' WHEN a > 50 THEN '50+' END;
"""


def q(name: str) -> str:
    return f'"{name}"'


def last_copies_sql(table: str, files: list[Path]) -> str:
    """The raw records of a topic as text columns, keyed, last copy of each key only."""
    file_list = "[" + ", ".join(lit(str(f)) for f in files) + "]"
    columns = "{" + ", ".join(f"{lit(f)}: 'VARCHAR'" for f in SOURCE_FIELDS[table]) + "}"
    key = KEY_FIELD[table]
    others = ", ".join(q(f) for f in SOURCE_FIELDS[table] if f != key)
    return f"""
        SELECT ind, {others} FROM (
            SELECT TRY_CAST(wtrim({q(key)}) AS BIGINT) AS ind, {others}, ordinality AS arrival
            FROM read_json({file_list}, columns = {columns}, format = 'newline_delimited',
                           ignore_errors = true, hive_partitioning = false) WITH ORDINALITY)
        WHERE ind IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY ind ORDER BY arrival DESC) = 1"""


def clean_sql(table: str, files: list[Path]) -> str:
    """The SPEC §5 cleaned table, every column, in the spec's column order."""
    raw = last_copies_sql(table, files)
    if table == "pin":
        text = [f for f in SOURCE_FIELDS["pin"] if f not in ("index", "downloaded")]
        trimmed = ", ".join(f"wtrim({q(f)}) AS {q(f)}" for f in text)

        def s(field: str) -> str:
            values = PIN_SENTINELS.get(field)
            if not values:
                return q(field)
            return f"CASE WHEN {q(field)} IN ({', '.join(lit(v) for v in values)}) THEN NULL ELSE {q(field)} END"

        return f"""
            SELECT ind, unique_id, {s('title')} AS title, {s('description')} AS description,
                   followers({s('follower_count')}) AS follower_count, {s('poster_name')} AS poster_name,
                   {s('tag_list')} AS tag_list, is_image_or_video, {s('image_src')} AS image_src,
                   CASE WHEN prefix(save_location, 'Local save in ') THEN substr(save_location, 15)
                        ELSE save_location END AS save_location,
                   category, downloaded
            FROM (SELECT ind, {trimmed}, TRY_CAST(wtrim(downloaded) AS BOOLEAN) AS downloaded FROM ({raw}))"""
    if table == "geo":
        return f"""
            SELECT ind, wtrim(country) AS country,
                   CASE WHEN latitude IS NOT NULL OR longitude IS NOT NULL
                        THEN [TRY_CAST(latitude AS DOUBLE), TRY_CAST(longitude AS DOUBLE)] END AS coordinates,
                   TRY_CAST(wtrim("timestamp") AS TIMESTAMPTZ) AS "timestamp"
            FROM ({raw})"""
    return f"""
        SELECT ind, nullif(concat_ws(' ', wtrim(first_name), wtrim(last_name)), '') AS user_name,
               TRY_CAST(wtrim(age) AS BIGINT) AS age, TRY_CAST(wtrim(date_joined) AS TIMESTAMPTZ) AS date_joined
        FROM ({raw})"""


# The nine analyses of SPEC §6 on the cleaned tables; the lower median is quantile_disc(x, 0.5).
MOST_FOLLOWED = """
    CREATE TEMP VIEW most_followed AS
    SELECT DISTINCT g.country, p.poster_name, p.follower_count
    FROM pin p JOIN geo g USING (ind)
    WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
    QUALIFY follower_count = max(follower_count) OVER (PARTITION BY country)"""

ANALYSES: dict[str, str] = {
    "popular_category_by_country.csv": """
        SELECT g.country, p.category, count(*) AS category_count
        FROM pin p JOIN geo g USING (ind)
        WHERE g.country IS NOT NULL AND p.category IS NOT NULL GROUP BY g.country, p.category
        QUALIFY category_count = max(category_count) OVER (PARTITION BY country)""",
    "posts_per_category_by_year.csv": """
        SELECT year(g."timestamp") AS post_year, p.category, count(*) AS category_count
        FROM pin p JOIN geo g USING (ind)
        WHERE year(g."timestamp") BETWEEN 2018 AND 2022 AND p.category IS NOT NULL GROUP BY ALL""",
    "most_followed_user_by_country.csv": "SELECT country, poster_name, follower_count FROM most_followed",
    "country_with_most_followed_user.csv": """
        SELECT DISTINCT country, follower_count FROM most_followed
        WHERE follower_count = (SELECT max(follower_count) FROM most_followed)""",
    "popular_category_by_age_group.csv": """
        SELECT age_group(u.age) AS age_group, p.category, count(*) AS category_count
        FROM pin p JOIN "user" u USING (ind)
        WHERE age_group(u.age) IS NOT NULL AND p.category IS NOT NULL GROUP BY 1, 2
        QUALIFY category_count = max(category_count) OVER (PARTITION BY age_group)""",
    "median_followers_by_age_group.csv": """
        SELECT age_group(u.age) AS age_group, quantile_disc(p.follower_count, 0.5) AS median_follower_count
        FROM pin p JOIN "user" u USING (ind)
        WHERE age_group(u.age) IS NOT NULL AND p.follower_count IS NOT NULL GROUP BY ALL""",
    "users_joined_by_year.csv": """
        SELECT year(date_joined) AS post_year, count(*) AS number_users_joined FROM "user"
        WHERE year(date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL""",
    "median_followers_by_join_year.csv": """
        SELECT year(u.date_joined) AS post_year, quantile_disc(p.follower_count, 0.5) AS median_follower_count
        FROM pin p JOIN "user" u USING (ind)
        WHERE year(u.date_joined) BETWEEN 2015 AND 2020 AND p.follower_count IS NOT NULL GROUP BY ALL""",
    "median_followers_by_age_group_and_join_year.csv": """
        SELECT age_group(u.age) AS age_group, year(u.date_joined) AS post_year,
               quantile_disc(p.follower_count, 0.5) AS median_follower_count
        FROM pin p JOIN "user" u USING (ind)
        WHERE age_group(u.age) IS NOT NULL AND year(u.date_joined) BETWEEN 2015 AND 2020
          AND p.follower_count IS NOT NULL GROUP BY ALL""",
}

RAW_NAME = re.compile(r"^.+\+([0-9]+)\+([0-9]+)\.json$")


def raw_files(lake: Path, topic: str) -> list[Path]:
    """The topic's raw objects in arrival order: (partition, start offset)."""
    topics = lake / "raw" / "topics" if (lake / "raw" / "topics").is_dir() else lake / "topics"
    found = []
    for path in (topics / topic).glob("partition=*/*"):
        name = RAW_NAME.match(path.name)
        if name:
            found.append((int(name.group(1)), int(name.group(2)), path))
    return [path for _, _, path in sorted(found)]


def csv_field(value: Any) -> str:
    """RFC 4180: quote only fields holding a comma, a double quote, CR or LF."""
    text = "" if value is None else str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    lines = [",".join(header)] + [",".join(csv_field(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")


def run(lake: Path, prefix: str, threads: int, out: Path) -> float:
    import duckdb

    files = {t: raw_files(lake, f"{prefix}.{t}") for t in ("pin", "geo", "user")}
    for table, found in files.items():
        if not found:
            raise SystemExit(f"error: no raw objects for {prefix}.{table} under {lake}")
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(MACROS)
    for table in ("pin", "geo", "user"):
        con.execute(f'CREATE TEMP TABLE "{table}" AS {clean_sql(table, files[table])}')
    con.execute(MOST_FOLLOWED)
    for name, query in ANALYSES.items():
        result = con.execute(f"SELECT * FROM ({query}) ORDER BY ALL")
        header = [d[0] for d in result.description]
        write_csv(out / name, header, result.fetchall())
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="The nine analyses from raw NDJSON as plain set-based DuckDB SQL (no quarantine).")
    parser.add_argument("lake", type=Path, metavar="RAW_LAKE_DIR", help="lake directory holding raw/topics/...")
    parser.add_argument("--prefix", default="pinpipe", help="topic prefix (default: pinpipe)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default: 2)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/duckdb-fast"),
                        help="directory for the nine CSVs (default: bench-results/duckdb-fast)")
    args = parser.parse_args(argv)
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("error: the duckdb package is not installed (pip install duckdb)", file=sys.stderr)
        return 2
    seconds = run(args.lake, args.prefix, args.threads, args.out)
    print(json.dumps({"engine": "duckdb-fast", "seconds": round(seconds, 3)}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
