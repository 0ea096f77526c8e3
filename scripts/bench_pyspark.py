#!/usr/bin/env python3
"""The nine pinpipe analyses (SPEC §6) straight from the raw NDJSON (SPEC §4) with PySpark local[N].

    python3 scripts/bench_pyspark.py RAW_LAKE_DIR [--prefix pinpipe] [--threads 2] [--out DIR]

The Databricks original did this job in Spark; this is the same work on one machine, as a
benchmark baseline. It follows scripts/golden.py's cleaning rules and decisions like
scripts/bench_duckdb.py does, so its nine CSVs must equal golden.py's. Prints
``{"engine":"pyspark","seconds":S,"startup_seconds":T}`` on stdout (``seconds`` is the wall time
from creating the Spark session to the last CSV written; ``startup_seconds`` is the part spent
starting the JVM and session). When ``pyspark`` is not importable, it says so and exits 0.

How: every raw object is read whole (``wholetext``) and split into lines with their numbers;
each line is parsed once into a VARIANT (``try_parse_json``, Spark 4), whose per-field types tell
a JSON string "20" from a number 20 or an object. Needs pyspark >= 4.0 and Java 17+.

Known differences from golden.py, none of which occur in the fixtures: Spark's JSON parser may
accept some non-standard JSON that golden.py rejects (and vice versa for very large numbers).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

WHITE_SPACE_CLASS = (
    "[\\x{0009}-\\x{000D}\\x{0020}\\x{0085}\\x{00A0}\\x{1680}\\x{2000}-\\x{200A}"
    "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}]"
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
DATETIME_RE = (r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
               r"(Z|[+-][0-9]{2}:[0-9]{2})?$")
RAW_NAME = re.compile(r"^.+\+[0-9]+\+[0-9]+\.json$")


class Cleaner:
    """Column expressions for SPEC §5 over a VARIANT column ``j`` (imports pyspark lazily)."""

    def __init__(self) -> None:
        from pyspark.sql import functions as F
        self.F = F

    def kind(self, field: str) -> Any:
        """The field's JSON type: NULL (absent or null), STRING, BIGINT, DECIMAL(p,s), OBJECT<..>, ..."""
        F = self.F
        t = F.schema_of_variant(F.try_variant_get("j", f"$.{field}", "variant"))
        return F.when(t.isNull() | (t == "VOID"), F.lit("NULL")).otherwise(t)

    def raw_text(self, field: str) -> Any:
        return self.F.try_variant_get("j", f"$.{field}", "string")

    def wtrim(self, col: Any) -> Any:
        """Trim Unicode White_Space; empty → null."""
        F = self.F
        trimmed = F.regexp_replace(col, f"^{WHITE_SPACE_CLASS}+|{WHITE_SPACE_CLASS}+$", "")
        return F.when(trimmed != "", trimmed)

    def is_container(self, field: str) -> Any:
        return self.kind(field).startswith("OBJECT") | self.kind(field).startswith("ARRAY")

    def text(self, field: str) -> Any:
        """A text field, trimmed, sentinel-nulled (pin sentinels only apply to their own field)."""
        F = self.F
        value = F.when(~self.is_container(field), self.wtrim(self.raw_text(field)))
        sentinels = PIN_SENTINELS.get(field)
        if sentinels:
            value = F.when(~value.isin(sentinels), value)
        return value

    def is_blank_string(self, field: str) -> Any:
        return (self.kind(field) == "STRING") & self.wtrim(self.raw_text(field)).isNull()

    def int64(self, field: str) -> Any:
        """JSON integers, integral decimals/doubles, or strings of digits → bigint (else null)."""
        F = self.F
        kind, text = self.kind(field), self.raw_text(field)
        as_double = text.try_cast("double")
        trimmed = self.wtrim(text)
        return (F.when(kind.isin("TINYINT", "SMALLINT", "INT", "BIGINT") | kind.rlike(r"^DECIMAL\(\d+,0\)$"),
                       text.try_cast("bigint"))
                .when(kind.startswith("DECIMAL") | kind.isin("DOUBLE", "FLOAT"),
                      F.when((as_double == F.floor(as_double)) & (F.abs(as_double) < 9.2e18),
                             as_double.cast("bigint")))
                .when((kind == "STRING") & trimmed.rlike(r"^[+-]?[0-9]+$"), trimmed.try_cast("bigint")))

    def int64_bad(self, field: str) -> Any:
        return (self.kind(field) != "NULL") & ~self.is_blank_string(field) & self.int64(field).isNull()

    def float_bad(self, field: str) -> Any:
        kind, trimmed = self.kind(field), self.wtrim(self.raw_text(field))
        numeric = kind.isin("TINYINT", "SMALLINT", "INT", "BIGINT", "DOUBLE", "FLOAT") | kind.startswith("DECIMAL")
        good_text = (kind == "STRING") & (
            trimmed.isNull() | trimmed.rlike(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"))
        return ~((kind == "NULL") | numeric | good_text)

    def bool_bad(self, field: str) -> Any:
        kind, text = self.kind(field), self.raw_text(field)
        trimmed = self.F.lower(self.wtrim(text))
        return ~((kind == "NULL") | (kind == "BOOLEAN")
                 | ((kind == "STRING") & (trimmed.isNull() | trimmed.isin("0", "1", "true", "false")))
                 | ((kind != "STRING") & text.try_cast("double").isin(0.0, 1.0)))

    def followers(self, text: Any) -> Any:
        """"437" / "12k" / "3M" / "1.5k" → bigint, exact, fraction truncated; null if unknown."""
        F = self.F
        whole = F.regexp_extract(text, r"^([0-9]+)", 1).try_cast("decimal(38,0)")
        digits = F.rpad(F.substring(F.regexp_extract(text, r"\.([0-9]+)", 1), 1, 6), 6, "0").cast("bigint")
        mult = F.when(text.endswith("k"), 1000).when(text.endswith("M"), 1000000).otherwise(1)
        value = whole * mult + F.floor(digits * mult / 1000000)
        return F.when(text.rlike(r"^[0-9]+(\.[0-9]+)?[kM]?$"), value.try_cast("bigint"))

    def datetime(self, field: str) -> Any:
        """A UTC timestamp from the accepted formats, or null."""
        F = self.F
        t = F.when(self.kind(field) == "STRING", self.wtrim(self.raw_text(field)))

        def group(i: int) -> Any:
            return F.regexp_extract(t, DATETIME_RE, i)

        tz = group(6)
        tz_h, tz_m = F.substring(tz, 2, 2).cast("int"), F.substring(tz, 5, 2).cast("int")
        offset = F.when(tz.isin("", "Z"), F.lit(0)).otherwise(
            F.when(tz.startswith("-"), -1).otherwise(1) * (tz_h * 60 + tz_m))
        local = F.try_to_timestamp(F.concat(group(1), F.lit(" "), group(2), F.lit(":"), group(3), F.lit(":"),
                                            group(4), F.substring(group(5), 1, 7)))
        valid = (t.rlike(DATETIME_RE) & (group(2).cast("int") <= 23) & (group(3).cast("int") <= 59)
                 & (group(4).cast("int") <= 59) & (tz.isin("", "Z") | ((tz_h <= 23) & (tz_m <= 59))))
        return F.when(valid, local - F.make_dt_interval(F.lit(0), F.lit(0), offset, F.lit(0)))

    def datetime_bad(self, field: str) -> Any:
        return (self.kind(field) != "NULL") & ~self.is_blank_string(field) & self.datetime(field).isNull()

    def foreign(self, table: str) -> Any:
        """True when the record holds a non-null non-key field of another table."""
        own = set(SOURCE_FIELDS[table]) | set(KEY_FIELD.values())
        others = sorted({f for t, fs in SOURCE_FIELDS.items() if t != table for f in fs} - own)
        condition = self.F.lit(False)
        for field in others:
            condition = condition | (self.kind(field) != "NULL")
        return condition


def clean(spark: Any, files: list[Path], table: str) -> Any:
    """The cleaned table: one row per key, last good copy winning."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    c = Cleaner()
    name_re = r"\+([0-9]+)\+([0-9]+)\.json$"
    lines = (spark.read.text([str(f) for f in files], wholetext=True)
             .select(F.input_file_name().alias("file"), F.posexplode(F.split("value", "\n")).alias("pos", "line"))
             .where(F.regexp_replace("line", "^[ \t\r]+|[ \t\r]+$", "") != "")
             .select(F.regexp_extract("file", name_re, 1).cast("bigint").alias("part"),
                     F.regexp_extract("file", name_re, 2).cast("bigint").alias("start_off"),
                     F.col("pos").alias("lineno"), F.try_parse_json("line").alias("j")))
    records = lines.where(F.schema_of_variant("j").startswith("OBJECT"))
    records = records.where(~c.foreign(table)).withColumn("ind", c.int64(KEY_FIELD[table])).where("ind IS NOT NULL")

    if table == "pin":
        text_fields = ["unique_id", "title", "description", "poster_name", "follower_count", "tag_list",
                       "is_image_or_video", "image_src", "save_location", "category"]
        bad = [c.is_container(f) for f in text_fields] + [c.bool_bad("downloaded")]
        fc_text = c.text("follower_count")
        records = records.select(
            "ind", "part", "start_off", "lineno", c.text("category").alias("category"),
            c.text("poster_name").alias("poster_name"), c.followers(fc_text).alias("follower_count"),
            _any(bad + [fc_text.isNotNull() & c.followers(fc_text).isNull()]).alias("bad"))
    elif table == "geo":
        bad = [c.is_container("country"), c.float_bad("latitude"), c.float_bad("longitude"),
               c.datetime_bad("timestamp")]
        records = records.select("ind", "part", "start_off", "lineno", c.text("country").alias("country"),
                                 c.datetime("timestamp").alias("ts"), _any(bad).alias("bad"))
    else:
        bad = [c.is_container("first_name"), c.is_container("last_name"), c.int64_bad("age"),
               c.datetime_bad("date_joined")]
        records = records.select("ind", "part", "start_off", "lineno", c.int64("age").alias("age"),
                                 c.datetime("date_joined").alias("date_joined"), _any(bad).alias("bad"))
    last = Window.partitionBy("ind").orderBy(F.desc("part"), F.desc("start_off"), F.desc("lineno"))
    return (records.where(~F.col("bad")).withColumn("rn", F.row_number().over(last))
            .where("rn = 1").drop("rn", "bad", "part", "start_off", "lineno"))


def _any(conditions: list[Any]) -> Any:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result | condition
    return result


AGE_GROUP = """CASE WHEN u.age BETWEEN 18 AND 24 THEN '18-24' WHEN u.age BETWEEN 25 AND 35 THEN '25-35'
                    WHEN u.age BETWEEN 36 AND 50 THEN '36-50' WHEN u.age > 50 THEN '50+' END"""
LOWER_MEDIAN = "element_at(array_sort(collect_list(p.follower_count)), CAST((count(p.follower_count) + 1) DIV 2 AS INT))"

ANALYSES: dict[str, str] = {
    "popular_category_by_country.csv": """
        SELECT country, category, category_count FROM (
            SELECT *, max(category_count) OVER (PARTITION BY country) AS top FROM (
                SELECT g.country, p.category, count(*) AS category_count FROM pin p JOIN geo g ON p.ind = g.ind
                WHERE g.country IS NOT NULL AND p.category IS NOT NULL GROUP BY ALL))
        WHERE category_count = top""",
    "posts_per_category_by_year.csv": """
        SELECT year(g.ts) AS post_year, p.category, count(*) AS category_count FROM pin p JOIN geo g ON p.ind = g.ind
        WHERE year(g.ts) BETWEEN 2018 AND 2022 AND p.category IS NOT NULL GROUP BY ALL""",
    "most_followed_user_by_country.csv": "SELECT * FROM most_followed",
    "country_with_most_followed_user.csv": """
        SELECT DISTINCT country, follower_count FROM most_followed
        WHERE follower_count = (SELECT max(follower_count) FROM most_followed)""",
    "popular_category_by_age_group.csv": f"""
        SELECT age_group, category, category_count FROM (
            SELECT *, max(category_count) OVER (PARTITION BY age_group) AS top FROM (
                SELECT {AGE_GROUP} AS age_group, p.category, count(*) AS category_count
                FROM pin p JOIN `user` u ON p.ind = u.ind
                WHERE p.category IS NOT NULL GROUP BY ALL))
        WHERE age_group IS NOT NULL AND category_count = top""",
    "median_followers_by_age_group.csv": f"""
        SELECT * FROM (SELECT {AGE_GROUP} AS age_group, {LOWER_MEDIAN} AS median_follower_count
                       FROM pin p JOIN `user` u ON p.ind = u.ind WHERE p.follower_count IS NOT NULL GROUP BY 1)
        WHERE age_group IS NOT NULL""",
    "users_joined_by_year.csv": """
        SELECT year(date_joined) AS post_year, count(*) AS number_users_joined FROM `user`
        WHERE year(date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL""",
    "median_followers_by_join_year.csv": f"""
        SELECT year(u.date_joined) AS post_year, {LOWER_MEDIAN} AS median_follower_count
        FROM pin p JOIN `user` u ON p.ind = u.ind
        WHERE year(u.date_joined) BETWEEN 2015 AND 2020 AND p.follower_count IS NOT NULL GROUP BY 1""",
    "median_followers_by_age_group_and_join_year.csv": f"""
        SELECT * FROM (SELECT {AGE_GROUP} AS age_group, year(u.date_joined) AS post_year,
                              {LOWER_MEDIAN} AS median_follower_count
                       FROM pin p JOIN `user` u ON p.ind = u.ind
                       WHERE year(u.date_joined) BETWEEN 2015 AND 2020 AND p.follower_count IS NOT NULL
                       GROUP BY 1, 2)
        WHERE age_group IS NOT NULL""",
}

MOST_FOLLOWED = """
    SELECT country, poster_name, follower_count FROM (
        SELECT *, max(follower_count) OVER (PARTITION BY country) AS top FROM (
            SELECT DISTINCT g.country, p.poster_name, p.follower_count FROM pin p JOIN geo g ON p.ind = g.ind
            WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL))
    WHERE follower_count = top"""


def raw_files(lake: Path, topic: str) -> list[Path]:
    topics = lake / "raw" / "topics" if (lake / "raw" / "topics").is_dir() else lake / "topics"
    return sorted(p.resolve() for p in (topics / topic).glob("partition=*/*") if RAW_NAME.match(p.name))


def csv_field(value: Any) -> str:
    """RFC 4180: quote only fields holding a comma, a double quote, CR or LF."""
    text = "" if value is None else str(value)
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    lines = [",".join(header)] + [",".join(csv_field(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")


def run(lake: Path, prefix: str, threads: int, out: Path) -> tuple[float, float]:
    from pyspark.sql import SparkSession

    files = {t: raw_files(lake, f"{prefix}.{t}") for t in ("pin", "geo", "user")}
    for table, found in files.items():
        if not found:
            raise SystemExit(f"error: no raw objects for {prefix}.{table} under {lake}")
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    spark = (SparkSession.builder.master(f"local[{int(threads)}]").appName("pinpipe-bench")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", str(max(2, int(threads))))
             .config("spark.sql.variant.allowDuplicateKeys", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started
    try:
        for table in ("pin", "geo", "user"):
            clean(spark, files[table], table).cache().createOrReplaceTempView(table)
        spark.sql(MOST_FOLLOWED).createOrReplaceTempView("most_followed")
        for name, query in ANALYSES.items():
            result = spark.sql(f"SELECT * FROM ({query}) ORDER BY ALL")
            write_csv(out / name, result.columns, [tuple(row) for row in result.collect()])
        return time.perf_counter() - started, startup
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The nine analyses from raw NDJSON with PySpark local[N].")
    parser.add_argument("lake", type=Path, metavar="RAW_LAKE_DIR", help="lake directory holding raw/topics/...")
    parser.add_argument("--prefix", default="pinpipe", help="topic prefix (default: pinpipe)")
    parser.add_argument("--threads", type=int, default=2, help="local[N] cores (default: 2)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/pyspark"),
                        help="directory for the nine CSVs (default: bench-results/pyspark)")
    args = parser.parse_args(argv)
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("pyspark is not importable: PySpark benchmark skipped", file=sys.stderr)
        print(json.dumps({"engine": "pyspark", "skipped": True}, separators=(",", ":")))
        return 0
    seconds, startup = run(args.lake, args.prefix, args.threads, args.out)
    print(json.dumps({"engine": "pyspark", "seconds": round(seconds, 3), "startup_seconds": round(startup, 3)},
                     separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
