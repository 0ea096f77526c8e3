#!/usr/bin/env python3
"""The nine pinpipe analyses (SPEC §6) straight from the raw NDJSON (SPEC §4) with DuckDB SQL.

    python3 scripts/bench_duckdb.py RAW_LAKE_DIR [--prefix pinpipe] [--threads 2] [--out DIR]

A benchmark baseline and a second, SQL-shaped check of scripts/golden.py: the cleaning of SPEC §5
(trimming, sentinels, follower_count, datetimes with ``T``/fraction/``Z``/offset, quarantine of
records that are not their table's row) and last-wins dedupe are all done in DuckDB SQL, following
golden.py's documented decisions. Prints ``{"engine":"duckdb","seconds":S}`` (wall time from
connecting to the last CSV written) on stdout and writes the nine CSVs to ``--out``.

How the raw objects are read: ``read_text`` gives each object's text, split into lines with their
1-based line numbers (``read_json`` has no line numbers and stops on a broken line); every line is
parsed once with ``from_json`` into a struct whose fields are all typed ``JSON``, so that each
field's JSON type can be checked (a string "20" vs a number 20 vs an object) before it is cast.
Arrival order for last-wins is (partition, start offset, line), taken from the object name.

Known differences from golden.py, none of which occur in the fixtures: DuckDB's JSON parser accepts
``NaN``/``Infinity`` (golden.py quarantines them) and ``read_text`` fails on an object that is not
valid UTF-8 (golden.py quarantines the line).

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

# Unicode White_Space, as golden.py trims (decision 1 there).
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
ALL_FIELDS = sorted({f for fields in SOURCE_FIELDS.values() for f in fields})

PIN_SENTINELS = {
    "title": ["No Title Data Available"],
    "description": ["No description available Story format", "No description available"],
    "poster_name": ["User Info Error"],
    "follower_count": ["User Info Error"],
    "tag_list": ["N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"],
    "image_src": ["Image src error."],
}

DATETIME_RE = (r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
               r"(Z|[+-][0-9]{2}:[0-9]{2})?")


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def col(name: str) -> str:
    """A field of the parsed-record struct ``j``."""
    return f'j."{name}"'


# ---------------------------------------------------------------------------------------------
# SQL macros: each field conversion yields a value, and a "bad" flag for quarantine.
# ---------------------------------------------------------------------------------------------

MACROS = f"""
CREATE OR REPLACE MACRO wtrim(s) AS nullif(trim(s, {lit(WHITE_SPACE)}), '');
CREATE OR REPLACE MACRO jtype(v) AS coalesce(json_type(v), 'NULL');
CREATE OR REPLACE MACRO jstr(v) AS json_extract_string(v, '$');
-- text fields: strings, numbers and booleans read as text; objects and arrays are bad
CREATE OR REPLACE MACRO text_of(v) AS CASE WHEN jtype(v) IN ('OBJECT', 'ARRAY') THEN NULL ELSE wtrim(jstr(v)) END;
CREATE OR REPLACE MACRO text_bad(v) AS jtype(v) IN ('OBJECT', 'ARRAY');
-- int64: JSON integers, integral doubles, or strings of digits
CREATE OR REPLACE MACRO int_of(v) AS CASE jtype(v)
    WHEN 'BIGINT' THEN TRY_CAST(jstr(v) AS BIGINT)
    WHEN 'UBIGINT' THEN TRY_CAST(jstr(v) AS BIGINT)
    WHEN 'DOUBLE' THEN CASE WHEN TRY_CAST(jstr(v) AS DOUBLE) = trunc(TRY_CAST(jstr(v) AS DOUBLE))
                            THEN TRY_CAST(TRY_CAST(jstr(v) AS DOUBLE) AS BIGINT) END
    WHEN 'VARCHAR' THEN CASE WHEN regexp_full_match(wtrim(jstr(v)), '[+-]?[0-9]+')
                             THEN TRY_CAST(wtrim(jstr(v)) AS BIGINT) END
    END;
CREATE OR REPLACE MACRO int_bad(v) AS
    jtype(v) <> 'NULL' AND NOT (jtype(v) = 'VARCHAR' AND wtrim(jstr(v)) IS NULL) AND int_of(v) IS NULL;
-- float64: numbers or numeric strings
CREATE OR REPLACE MACRO float_bad(v) AS CASE jtype(v)
    WHEN 'NULL' THEN false WHEN 'BIGINT' THEN false WHEN 'UBIGINT' THEN false WHEN 'DOUBLE' THEN false
    WHEN 'VARCHAR' THEN wtrim(jstr(v)) IS NOT NULL AND NOT regexp_full_match(wtrim(jstr(v)),
        '[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?')
    ELSE true END;
-- booleans: 0/1, true/false, and those as strings
CREATE OR REPLACE MACRO bool_bad(v) AS CASE jtype(v)
    WHEN 'NULL' THEN false WHEN 'BOOLEAN' THEN false
    WHEN 'VARCHAR' THEN wtrim(jstr(v)) IS NOT NULL AND lower(wtrim(jstr(v))) NOT IN ('0', '1', 'true', 'false')
    WHEN 'BIGINT' THEN jstr(v) NOT IN ('0', '1')
    WHEN 'UBIGINT' THEN jstr(v) NOT IN ('0', '1')
    WHEN 'DOUBLE' THEN TRY_CAST(jstr(v) AS DOUBLE) NOT IN (0, 1)
    ELSE true END;
-- follower_count, already trimmed and sentinel-nulled: "437", "12k", "3M", "1.5k"
CREATE OR REPLACE MACRO followers_of(t) AS CASE WHEN regexp_full_match(t, '[0-9]+(\\.[0-9]+)?[kM]?') THEN
    TRY_CAST(trunc(TRY_CAST(regexp_extract(t, '^[0-9.]+') AS DECIMAL(38, 10))
        * CASE right(t, 1) WHEN 'k' THEN 1000 WHEN 'M' THEN 1000000 ELSE 1 END) AS BIGINT) END;
-- datetimes: "YYYY-MM-DD HH:MM:SS" or with T, optional fraction, optional Z or +-HH:MM → UTC
CREATE OR REPLACE MACRO dt_local(t) AS CASE WHEN regexp_full_match(t, {lit(DATETIME_RE)})
        AND CAST(regexp_extract(t, {lit(DATETIME_RE)}, 2) AS INTEGER) <= 23
        AND CAST(regexp_extract(t, {lit(DATETIME_RE)}, 3) AS INTEGER) <= 59
        AND CAST(regexp_extract(t, {lit(DATETIME_RE)}, 4) AS INTEGER) <= 59
    THEN TRY_CAST(regexp_extract(t, {lit(DATETIME_RE)}, 1) || ' ' || regexp_extract(t, {lit(DATETIME_RE)}, 2)
        || ':' || regexp_extract(t, {lit(DATETIME_RE)}, 3) || ':' || regexp_extract(t, {lit(DATETIME_RE)}, 4)
        || left(regexp_extract(t, {lit(DATETIME_RE)}, 5), 7) AS TIMESTAMP) END;
CREATE OR REPLACE MACRO dt_offset_minutes(t) AS CASE
    WHEN regexp_extract(t, {lit(DATETIME_RE)}, 6) IN ('', 'Z') THEN 0
    ELSE (CASE WHEN left(regexp_extract(t, {lit(DATETIME_RE)}, 6), 1) = '-' THEN -1 ELSE 1 END)
        * (CAST(substr(regexp_extract(t, {lit(DATETIME_RE)}, 6), 2, 2) AS INTEGER) * 60
           + CAST(substr(regexp_extract(t, {lit(DATETIME_RE)}, 6), 5, 2) AS INTEGER)) END;
CREATE OR REPLACE MACRO dt_offset_ok(t) AS regexp_extract(t, {lit(DATETIME_RE)}, 6) IN ('', 'Z')
    OR (CAST(substr(regexp_extract(t, {lit(DATETIME_RE)}, 6), 2, 2) AS INTEGER) <= 23
        AND CAST(substr(regexp_extract(t, {lit(DATETIME_RE)}, 6), 5, 2) AS INTEGER) <= 59);
CREATE OR REPLACE MACRO dt_of(v) AS CASE WHEN jtype(v) = 'VARCHAR' AND wtrim(jstr(v)) IS NOT NULL
        AND dt_offset_ok(wtrim(jstr(v)))
    THEN dt_local(wtrim(jstr(v))) - to_minutes(dt_offset_minutes(wtrim(jstr(v)))) END;
CREATE OR REPLACE MACRO dt_bad(v) AS jtype(v) <> 'NULL'
    AND NOT (jtype(v) = 'VARCHAR' AND wtrim(jstr(v)) IS NULL) AND dt_of(v) IS NULL;
CREATE OR REPLACE MACRO age_group(a) AS CASE
    WHEN a BETWEEN 18 AND 24 THEN '18-24' WHEN a BETWEEN 25 AND 35 THEN '25-35'
    WHEN a BETWEEN 36 AND 50 THEN '36-50' WHEN a > 50 THEN '50+' END;
-- lower median: value at 1-based position ceil(n/2) of the sorted non-null values
CREATE OR REPLACE MACRO lower_median(l) AS list_sort(l)[(len(l) + 1) // 2];
"""


def sentinel(field: str, expr: str) -> str:
    """Null a pin field's sentinel values."""
    values = PIN_SENTINELS.get(field)
    if not values:
        return expr
    return f"CASE WHEN {expr} IN ({', '.join(lit(v) for v in values)}) THEN NULL ELSE {expr} END"


def foreign_condition(table: str) -> str:
    """True when a record holds a non-null non-key field of another table (golden.py decision 4)."""
    own = set(SOURCE_FIELDS[table])
    keys = set(KEY_FIELD.values())
    foreign = sorted({f for t, fs in SOURCE_FIELDS.items() if t != table for f in fs} - own - keys)
    return " OR ".join(f"jtype({col(f)}) <> 'NULL'" for f in foreign)


def topic_lines_sql(files: list[Path]) -> str:
    """Every non-blank line of the given raw objects, with partition, start offset and line number."""
    file_list = "[" + ", ".join(lit(str(f)) for f in files) + "]"
    return f"""
        SELECT CAST(regexp_extract(filename, '\\+([0-9]+)\\+([0-9]+)\\.json$', 1) AS BIGINT) AS part,
               CAST(regexp_extract(filename, '\\+([0-9]+)\\+([0-9]+)\\.json$', 2) AS BIGINT) AS start_off,
               lineno, line
        FROM (SELECT filename, unnest(string_split(content, chr(10))) AS line,
                     generate_subscripts(string_split(content, chr(10)), 1) AS lineno
              FROM read_text({file_list}))
        WHERE trim(line, ' ' || chr(9) || chr(13)) <> ''"""


def parsed_sql(files: list[Path]) -> str:
    """Lines parsed once into a struct of JSON-typed fields (j), NULL when not a JSON object."""
    struct = json.dumps({f: "JSON" for f in ALL_FIELDS})
    return f"""
        SELECT part, start_off, lineno,
               CASE WHEN json_valid(line) AND json_type(line) = 'OBJECT'
                    THEN from_json(line, {lit(struct)}) END AS j
        FROM ({topic_lines_sql(files)})"""


def clean_sql(table: str, files: list[Path]) -> str:
    """The cleaned table: one row per key, last good copy winning; quarantined records left out."""
    key = f"int_of({col(KEY_FIELD[table])})"
    if table == "pin":
        text_fields = ["unique_id", "title", "description", "poster_name", "follower_count", "tag_list",
                       "is_image_or_video", "image_src", "save_location", "category"]
        values = {
            "category": sentinel("category", f"text_of({col('category')})"),
            "poster_name": sentinel("poster_name", f"text_of({col('poster_name')})"),
            "fc_text": sentinel("follower_count", f"text_of({col('follower_count')})"),
        }
        bad = [f"text_bad({col(f)})" for f in text_fields] + [f"bool_bad({col('downloaded')})"]
        select = ", ".join(f"{expr} AS {name}" for name, expr in values.items())
        # follower_count needs the sentinel-nulled text: a second step parses it
        outer = "ind, category, poster_name, followers_of(fc_text) AS follower_count"
        outer_bad = "fc_text IS NOT NULL AND followers_of(fc_text) IS NULL"
    elif table == "geo":
        select = f"text_of({col('country')}) AS country, dt_of({col('timestamp')}) AS ts"
        bad = [f"text_bad({col('country')})", f"float_bad({col('latitude')})",
               f"float_bad({col('longitude')})", f"dt_bad({col('timestamp')})"]
        outer, outer_bad = "ind, country, ts", "false"
    else:
        select = f"int_of({col('age')}) AS age, dt_of({col('date_joined')}) AS date_joined"
        bad = [f"text_bad({col('first_name')})", f"text_bad({col('last_name')})",
               f"int_bad({col('age')})", f"dt_bad({col('date_joined')})"]
        outer, outer_bad = "ind, age, date_joined", "false"
    return f"""
        SELECT {outer} FROM (
            SELECT {key} AS ind, {select}, part, start_off, lineno,
                   ({' OR '.join(bad)}) AS is_bad
            FROM ({parsed_sql(files)})
            WHERE j IS NOT NULL AND NOT ({foreign_condition(table)}) AND {key} IS NOT NULL)
        WHERE NOT is_bad AND NOT ({outer_bad})
        QUALIFY row_number() OVER (PARTITION BY ind ORDER BY part DESC, start_off DESC, lineno DESC) = 1"""


# ---------------------------------------------------------------------------------------------
# The nine analyses
# ---------------------------------------------------------------------------------------------

ANALYSES: dict[str, str] = {
    "popular_category_by_country.csv": """
        WITH c AS (SELECT g.country, p.category, count(*) AS category_count
                   FROM pin p JOIN geo g USING (ind)
                   WHERE g.country IS NOT NULL AND p.category IS NOT NULL GROUP BY ALL)
        SELECT country, category, category_count FROM c
        QUALIFY category_count = max(category_count) OVER (PARTITION BY country)""",
    "posts_per_category_by_year.csv": """
        SELECT year(g.ts) AS post_year, p.category, count(*) AS category_count
        FROM pin p JOIN geo g USING (ind)
        WHERE year(g.ts) BETWEEN 2018 AND 2022 AND p.category IS NOT NULL GROUP BY ALL""",
    "most_followed_user_by_country.csv": "SELECT * FROM most_followed",
    "country_with_most_followed_user.csv": """
        SELECT DISTINCT country, follower_count FROM most_followed
        WHERE follower_count = (SELECT max(follower_count) FROM most_followed)""",
    "popular_category_by_age_group.csv": """
        WITH c AS (SELECT age_group(u.age) AS age_group, p.category, count(*) AS category_count
                   FROM pin p JOIN "user" u USING (ind)
                   WHERE age_group(u.age) IS NOT NULL AND p.category IS NOT NULL GROUP BY ALL)
        SELECT * FROM c QUALIFY category_count = max(category_count) OVER (PARTITION BY age_group)""",
    "median_followers_by_age_group.csv": """
        SELECT age_group(u.age) AS age_group, lower_median(list(p.follower_count)) AS median_follower_count
        FROM pin p JOIN "user" u USING (ind)
        WHERE age_group(u.age) IS NOT NULL AND p.follower_count IS NOT NULL GROUP BY ALL""",
    "users_joined_by_year.csv": """
        SELECT year(date_joined) AS post_year, count(*) AS number_users_joined FROM "user"
        WHERE year(date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL""",
    "median_followers_by_join_year.csv": """
        SELECT year(u.date_joined) AS post_year, lower_median(list(p.follower_count)) AS median_follower_count
        FROM pin p JOIN "user" u USING (ind)
        WHERE year(u.date_joined) BETWEEN 2015 AND 2020 AND p.follower_count IS NOT NULL GROUP BY ALL""",
    "median_followers_by_age_group_and_join_year.csv": """
        SELECT age_group(u.age) AS age_group, year(u.date_joined) AS post_year,
               lower_median(list(p.follower_count)) AS median_follower_count
        FROM pin p JOIN "user" u USING (ind)
        WHERE age_group(u.age) IS NOT NULL AND year(u.date_joined) BETWEEN 2015 AND 2020
          AND p.follower_count IS NOT NULL GROUP BY ALL""",
}

MOST_FOLLOWED = """
    CREATE TEMP VIEW most_followed AS
    WITH c AS (SELECT DISTINCT g.country, p.poster_name, p.follower_count
               FROM pin p JOIN geo g USING (ind)
               WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL)
    SELECT * FROM c QUALIFY follower_count = max(follower_count) OVER (PARTITION BY country)"""


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

RAW_NAME = re.compile(r"^.+\+[0-9]+\+[0-9]+\.json$")


def raw_files(lake: Path, topic: str) -> list[Path]:
    topics = lake / "raw" / "topics" if (lake / "raw" / "topics").is_dir() else lake / "topics"
    return sorted(p for p in (topics / topic).glob("partition=*/*") if RAW_NAME.match(p.name))


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
    parser = argparse.ArgumentParser(description="The nine analyses from raw NDJSON with DuckDB SQL.")
    parser.add_argument("lake", type=Path, metavar="RAW_LAKE_DIR", help="lake directory holding raw/topics/...")
    parser.add_argument("--prefix", default="pinpipe", help="topic prefix (default: pinpipe)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default: 2)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/duckdb"),
                        help="directory for the nine CSVs (default: bench-results/duckdb)")
    args = parser.parse_args(argv)
    try:
        import duckdb  # noqa: F401
    except ImportError:
        print("error: the duckdb package is not installed (pip install duckdb)", file=sys.stderr)
        return 2
    seconds = run(args.lake, args.prefix, args.threads, args.out)
    print(json.dumps({"engine": "duckdb", "seconds": round(seconds, 3)}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
