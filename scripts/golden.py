#!/usr/bin/env python3
"""Independent reference implementation of pinpipe's cleaning (SPEC §5) and analyses (SPEC §6).

Pure Python 3.11, standard library only. Written from /work/shared/SPEC.md, not from the Rust code,
so that the two can check each other: run both on the same raw lake and diff the nine CSVs.

    python3 scripts/golden.py LAKE_DIR OUT_DIR [--topic-prefix pinpipe] [--tables-out DIR]

Input is the raw layout of SPEC §4 under LAKE_DIR (``LAKE_DIR/raw/topics/...``; ``LAKE_DIR/topics``
is accepted as well):

    raw/topics/<prefix>.{pin,geo,user}/partition=<p>/<topic>+<p>+<start offset, 10 digits>.json

each object holding newline-delimited bare JSON record values. Output is the nine CSV files of SPEC §6
in OUT_DIR. A JSON summary (rows kept and records quarantined per table, by reason) goes to stderr.

What the spec states, and this file implements
----------------------------------------------
* Arrival order is (partition, start offset, line) ascending; the last copy of a key wins.
* Text fields are trimmed of Unicode white space (U+00A0 included); empty → null; then the §5
  sentinels → null. ``save_location`` loses its leading ``"Local save in "``.
* ``follower_count``: ``"437"``, ``"12k"`` (×1,000), ``"3M"`` (×1,000,000), decimal mantissa
  (``"1.5k"`` → 1500); ``"User Info Error"`` → null; any other format → quarantine.
* Datetimes: ``YYYY-MM-DD HH:MM:SS`` or with ``T``, optional fractional seconds, optional ``Z`` or
  ``±HH:MM``, converted to UTC; anything else → quarantine.
* Records that are not their table's row are quarantined (excluded from the tables): not JSON, not
  an object, missing or non-integer key, another table's record, unconvertible value, unknown
  follower_count format, unparseable datetime.
* Analyses: inner joins on ind; ties kept; nulls never count as category / poster / country / value;
  age groups 18-24, 25-35, 36-50, 50+ (> 50), other ages in no group; lower median = value at
  1-based position ceil(n/2) of the n sorted non-null values; analysis 2 keeps geo years 2018–2022
  (UTC), analyses 7–9 keep join years 2015–2020.
* CSV: RFC 4180, UTF-8, header, ``\\n`` line ends; a field is quoted (inner quotes doubled) only
  when it holds a comma, a double quote, CR or LF; rows sorted by all columns left to right (numbers
  numerically, strings by code point, which for UTF-8 is byte order); integers as plain digits.

Decisions where the spec is silent (each one is a choice the Rust side should match or argue)
------------------------------------------------------------------------------------------------
 1. "Unicode white space" is the Unicode ``White_Space`` property (what Rust's ``str::trim`` uses):
    U+0009–U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F,
    U+3000. (Python's ``str.strip`` would also strip U+001C–U+001F; we don't.)
 2. Order of text rules: trim → empty is null → sentinel is null. A sentinel only nulls the field
    it is listed for (``"User Info Error"`` as a title stays a title).
 3. Last copy wins among the copies that *clean successfully*: a quarantined record never replaces
    or deletes an earlier good copy of its key.
 4. "Another table's record": a record in topic T is quarantined when it has a non-null non-key
    field that belongs to another table's source columns (SPEC §1) and not to T's. Key fields
    (``index``, ``ind``) never mark a record as foreign, and fields of no table are ignored. This
    check comes before the key check (the pin rows in the user topic have ``"ind": null``).
 5. Keys: pin's key is ``index`` only, geo's and user's ``ind`` only. A key, like ``age``, is an
    int64 given as a JSON integer, an integral JSON number (``5.0``), or a string of ASCII digits
    with an optional sign (``"20"``, surrounding white space trimmed; ``"20.0"`` is rejected).
    Anything else, or a value outside int64, is "non-integer" → quarantine. JSON booleans are never
    numbers. An empty-string age is null.
 6. A string field given as a JSON number or boolean is converted to its JSON text (``1.5`` →
    ``"1.5"``, ``true`` → ``"true"``); an object or array there → quarantine.
 7. ``follower_count`` grammar after trimming: ``[0-9]+(\\.[0-9]+)?`` followed by nothing, ``k``
    or ``M`` (case-sensitive, as in the data). The value is computed exactly (decimal arithmetic)
    and a fractional remainder is truncated toward zero (``"1.2345k"`` → 1234). A JSON number is
    read through its text. Results above int64 → quarantine.
 8. ``downloaded``: 0/1, ``true``/``false``, or the strings ``"0"``, ``"1"``, ``"true"``,
    ``"false"`` (case-insensitive) → boolean; anything else → quarantine.
 9. Datetimes: fractional seconds are kept to the microsecond (truncated); ``Z`` is uppercase only;
    ``T`` is uppercase only; an offset must be ``±HH:MM`` with HH ≤ 23 and MM ≤ 59; the date and
    time must be valid (Feb 30 or 24:00:00 → quarantine). An empty string is null, not quarantined.
    A non-string (e.g. a number) → quarantine.
10. latitude / longitude: JSON numbers or numeric strings; ``coordinates`` is null when both are
    absent, else ``[latitude, longitude]`` (an absent one stays a null element). Not used by the
    analyses.
11. Blank (white-space-only) lines in a raw object are not records. A line that is not valid UTF-8
    or not valid JSON (``NaN``/``Infinity`` are not JSON) is quarantined.
12. Raw objects whose names do not match ``<topic>+<p>+<offset>.json`` are skipped (with a warning).
13. Analyses 6, 8 and 9 take the median over non-null follower counts; a group with no non-null
    follower count produces no row (rather than a row with an empty median). The same for every
    analysis: CSV output never contains a null.
14. Analysis 3: a pin with a null poster_name or follower_count (or a null country) takes no part,
    so a country's "most followed user" is the best among known posters. Rows are distinct
    (country, poster_name, follower_count) triples.
15. Analysis 4: the distinct (country, follower_count) rows of analysis 3 whose follower_count
    equals the maximum over all of analysis 3.
16. Analysis 7 counts user rows (one per ind) whose date_joined year is in 2015–2020; no join.
17. Group years with no rows produce no row (no zero-filled years).
18. ``save_location`` without the ``"Local save in "`` prefix is kept as it is. ``user_name`` joins
    the trimmed first and last names with one space.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

# --------------------------------------------------------------------------------------------
# Constants from the spec
# --------------------------------------------------------------------------------------------

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Source columns of each table (SPEC §1), used to recognise another table's record.
SOURCE_FIELDS: dict[str, frozenset[str]] = {
    "pin": frozenset({
        "index", "unique_id", "title", "description", "poster_name", "follower_count", "tag_list",
        "is_image_or_video", "image_src", "downloaded", "save_location", "category",
    }),
    "geo": frozenset({"ind", "timestamp", "latitude", "longitude", "country"}),
    "user": frozenset({"ind", "first_name", "last_name", "age", "date_joined"}),
}

#: The key field of each table as it arrives on the wire.
KEY_FIELD = {"pin": "index", "geo": "ind", "user": "ind"}

#: SPEC §5 sentinels: field → values that mean "no data". Data, not code.
PIN_SENTINELS: dict[str, frozenset[str]] = {
    "title": frozenset({"No Title Data Available"}),
    "description": frozenset({"No description available Story format", "No description available"}),
    "poster_name": frozenset({"User Info Error"}),
    "follower_count": frozenset({"User Info Error"}),
    "tag_list": frozenset({"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"}),
    "image_src": frozenset({"Image src error."}),
}

SAVE_LOCATION_PREFIX = "Local save in "

#: Unicode White_Space property (decision 1).
WHITE_SPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

AGE_GROUPS: list[tuple[str, int, int | None]] = [
    ("18-24", 18, 24),
    ("25-35", 25, 35),
    ("36-50", 36, 50),
    ("50+", 51, None),
]
GEO_YEARS = range(2018, 2022 + 1)
JOIN_YEARS = range(2015, 2020 + 1)

RAW_NAME = re.compile(r"^(?P<topic>.+)\+(?P<partition>[0-9]+)\+(?P<offset>[0-9]+)\.json$")
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
FOLLOWER_TEXT = re.compile(r"(?P<mantissa>[0-9]+(?:\.[0-9]+)?)(?P<suffix>[kM]?)")
FOLLOWER_MULTIPLIER = {"": 1, "k": 1_000, "M": 1_000_000}
DATETIME_TEXT = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[ T]"
    r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]+))?"
    r"(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?"
)

# --------------------------------------------------------------------------------------------
# Field conversions. Each returns the cleaned value or raises Reject.
# --------------------------------------------------------------------------------------------


class Reject(Exception):
    """A record that cannot be read as its table's row.

    ``kind`` is the quarantine reason without the offending value (used to group the summary);
    ``str()`` gives the full reason.
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def trim(text: str) -> str:
    """Trim Unicode White_Space from both ends."""
    return text.strip(WHITE_SPACE)


def as_text(record: dict[str, Any], name: str) -> str | None:
    """A text field: trimmed, empty → null (decisions 1, 6)."""
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = json.dumps(value)
    elif not isinstance(value, str):
        raise Reject(f"{name}: expected text, got {type(value).__name__}")
    value = trim(value)
    return value or None


def as_int64(record: dict[str, Any], name: str) -> int | None:
    """An int64 field given as a number or a string of digits (decision 5)."""
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise Reject(f"{name}: expected an integer, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise Reject(f"{name}: not an integer", repr(value))
        number = int(value)
    elif isinstance(value, str):
        text = trim(value)
        if not text:
            return None
        if not INTEGER_TEXT.fullmatch(text):
            raise Reject(f"{name}: not an integer", repr(value))
        number = int(text)
    else:
        raise Reject(f"{name}: expected an integer, got {type(value).__name__}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise Reject(f"{name}: out of int64 range", repr(value))
    return number


def as_float(record: dict[str, Any], name: str) -> float | None:
    """A float64 field given as a number or a numeric string (decision 10)."""
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise Reject(f"{name}: expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = trim(value)
        if not text:
            return None
        if FLOAT_TEXT.fullmatch(text):
            return float(text)
        raise Reject(f"{name}: not a number", repr(value))
    raise Reject(f"{name}: expected a number, got {type(value).__name__}")


def as_bool(record: dict[str, Any], name: str) -> bool | None:
    """``downloaded``-style flags (decision 8)."""
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, float) and value in (0.0, 1.0):
        return value == 1.0
    if isinstance(value, str):
        text = trim(value).lower()
        if not text:
            return None
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
    raise Reject(f"{name}: not a boolean", repr(value))


def parse_follower_count(text: str | None) -> int | None:
    """``"437"`` / ``"12k"`` / ``"3M"`` / ``"1.5k"`` → int (decision 7). Input already trimmed."""
    if text is None:
        return None
    match = FOLLOWER_TEXT.fullmatch(text)
    if not match:
        raise Reject("follower_count: unknown format", repr(text))
    value = Decimal(match["mantissa"]) * FOLLOWER_MULTIPLIER[match["suffix"]]
    number = int(value)  # int(Decimal) truncates toward zero
    if number > INT64_MAX:
        raise Reject("follower_count: out of int64 range", repr(text))
    return number


def parse_datetime(record: dict[str, Any], name: str) -> dt.datetime | None:
    """A datetime field → aware UTC datetime (decision 9)."""
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Reject(f"{name}: expected a datetime string, got {type(value).__name__}")
    text = trim(value)
    if not text:
        return None
    match = DATETIME_TEXT.fullmatch(text)
    if not match:
        raise Reject(f"{name}: unparseable datetime", repr(value))
    micros = int((match["frac"] or "0")[:6].ljust(6, "0"))
    tz = match["tz"]
    if tz is None or tz == "Z":
        offset = dt.timedelta(0)
    else:
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if hours > 23 or minutes > 59:
            raise Reject(f"{name}: bad UTC offset", repr(value))
        offset = dt.timedelta(hours=hours, minutes=minutes) * (-1 if tz[0] == "-" else 1)
    try:
        local = dt.datetime(
            int(match["y"]), int(match["mo"]), int(match["d"]),
            int(match["h"]), int(match["mi"]), int(match["s"]), micros,
            tzinfo=dt.timezone(offset),
        )
        return local.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError) as err:  # Feb 30, 25:00, year 0 after shift, ...
        raise Reject(f"{name}: invalid datetime", f"{value!r} ({err})") from None


def null_sentinel(name: str, value: str | None) -> str | None:
    """Null a pin field whose (trimmed) value is one of its sentinels (decision 2)."""
    if value is not None and value in PIN_SENTINELS.get(name, ()):
        return None
    return value


# --------------------------------------------------------------------------------------------
# Row cleaning per table
# --------------------------------------------------------------------------------------------


def check_table(table: str, record: dict[str, Any]) -> int:
    """Reject another table's record (decision 4) and return the record's key (decision 5)."""
    own = SOURCE_FIELDS[table] | set(KEY_FIELD.values())
    for other, fields in SOURCE_FIELDS.items():
        if other == table:
            continue
        foreign = sorted(k for k in fields - own if record.get(k) is not None)
        if foreign:
            raise Reject(f"{other} record in the {table} topic", f"has {', '.join(foreign)}")
    key_name = KEY_FIELD[table]
    key = as_int64(record, key_name)
    if key is None:
        raise Reject(f"missing key {key_name}")
    return key


def clean_pin(record: dict[str, Any]) -> dict[str, Any]:
    ind = check_table("pin", record)
    text = {name: null_sentinel(name, as_text(record, name)) for name in (
        "unique_id", "title", "description", "follower_count", "poster_name", "tag_list",
        "is_image_or_video", "image_src", "save_location", "category",
    )}
    save_location = text["save_location"]
    if save_location is not None and save_location.startswith(SAVE_LOCATION_PREFIX):
        save_location = save_location[len(SAVE_LOCATION_PREFIX):] or None
    return {
        "ind": ind,
        "unique_id": text["unique_id"],
        "title": text["title"],
        "description": text["description"],
        "follower_count": parse_follower_count(text["follower_count"]),
        "poster_name": text["poster_name"],
        "tag_list": text["tag_list"],
        "is_image_or_video": text["is_image_or_video"],
        "image_src": text["image_src"],
        "save_location": save_location,
        "category": text["category"],
        "downloaded": as_bool(record, "downloaded"),
    }


def clean_geo(record: dict[str, Any]) -> dict[str, Any]:
    ind = check_table("geo", record)
    latitude, longitude = as_float(record, "latitude"), as_float(record, "longitude")
    coordinates = None if latitude is None and longitude is None else [latitude, longitude]
    return {
        "ind": ind,
        "country": as_text(record, "country"),
        "coordinates": coordinates,
        "timestamp": parse_datetime(record, "timestamp"),
    }


def clean_user(record: dict[str, Any]) -> dict[str, Any]:
    ind = check_table("user", record)
    names = [n for n in (as_text(record, "first_name"), as_text(record, "last_name")) if n]
    return {
        "ind": ind,
        "user_name": " ".join(names) or None,
        "age": as_int64(record, "age"),
        "date_joined": parse_datetime(record, "date_joined"),
    }


CLEANERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pin": clean_pin, "geo": clean_geo, "user": clean_user,
}

# --------------------------------------------------------------------------------------------
# Reading the raw layout
# --------------------------------------------------------------------------------------------


@dataclass
class RawLine:
    source: str  # object path relative to the topics dir
    line: int  # 1-based line number in the object
    data: bytes


def raw_objects(topic_dir: Path) -> list[tuple[int, int, Path]]:
    """The topic's objects as (partition, start offset, path), in arrival order."""
    found = []
    if not topic_dir.is_dir():
        return found
    for path in topic_dir.glob("partition=*/*"):
        match = RAW_NAME.match(path.name)
        if not path.is_file() or not match:
            print(f"warning: skipping {path} (not a raw object name)", file=sys.stderr)
            continue
        found.append((int(match["partition"]), int(match["offset"]), path))
    found.sort(key=lambda item: (item[0], item[1]))
    return found


def raw_lines(topics_dir: Path, topic: str) -> Iterator[RawLine]:
    """Every non-blank line of a topic in arrival order (partition, start offset, line)."""
    for _partition, _offset, path in raw_objects(topics_dir / topic):
        source = str(path.relative_to(topics_dir))
        for number, data in enumerate(path.read_bytes().split(b"\n"), start=1):
            if data.strip(b" \t\r"):
                yield RawLine(source, number, data)


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(raw: RawLine) -> dict[str, Any]:
    try:
        value = json.loads(raw.data.decode("utf-8"), parse_constant=reject_constant)
    except UnicodeDecodeError:
        raise Reject("not valid UTF-8") from None
    except ValueError as err:
        raise Reject("not valid JSON", str(err)) from None
    if not isinstance(value, dict):
        raise Reject(f"not a JSON object ({type(value).__name__})")
    return value


@dataclass
class Table:
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    quarantine: Counter[str] = field(default_factory=Counter)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0


def load_table(topics_dir: Path, topic: str, table: str) -> Table:
    """Clean a topic into one row per key, last good copy winning (decision 3)."""
    result = Table()
    for raw in raw_lines(topics_dir, topic):
        result.records += 1
        try:
            row = CLEANERS[table](decode(raw))
        except Reject as reason:
            result.quarantine[reason.kind] += 1
            result.rejected.append({"source": raw.source, "line": raw.line, "reason": str(reason),
                                    "raw": raw.data.decode("utf-8", errors="replace")})
            continue
        result.rows[row["ind"]] = row
    return result


# --------------------------------------------------------------------------------------------
# Analyses (SPEC §6)
# --------------------------------------------------------------------------------------------

Row = tuple[Any, ...]


def age_group(age: int | None) -> str | None:
    if age is None:
        return None
    for label, low, high in AGE_GROUPS:
        if age >= low and (high is None or age <= high):
            return label
    return None


def lower_median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) / 2) - 1]


def join(left: dict[int, dict[str, Any]], right: dict[int, dict[str, Any]]) -> Iterator[tuple[dict, dict]]:
    """Inner join on ind."""
    for ind, row in left.items():
        other = right.get(ind)
        if other is not None:
            yield row, other


def top_per_group(counts: dict[tuple[Any, Any], int]) -> list[Row]:
    """(group, item) → count  ⇒  rows (group, item, count) with the top count per group, ties kept."""
    best: dict[Any, int] = {}
    for (group, _item), count in counts.items():
        best[group] = max(best.get(group, 0), count)
    return [(g, i, c) for (g, i), c in counts.items() if c == best[g]]


def medians(groups: dict[Any, list[int]]) -> list[Row]:
    rows = []
    for key, values in groups.items():
        if values:  # decision 13
            key_tuple = key if isinstance(key, tuple) else (key,)
            rows.append((*key_tuple, lower_median(values)))
    return rows


def a1_popular_category_by_country(pin, geo) -> list[Row]:
    counts: Counter[tuple[str, str]] = Counter()
    for p, g in join(pin, geo):
        if g["country"] is not None and p["category"] is not None:
            counts[(g["country"], p["category"])] += 1
    return top_per_group(counts)


def a2_posts_per_category_by_year(pin, geo) -> list[Row]:
    counts: Counter[tuple[int, str]] = Counter()
    for p, g in join(pin, geo):
        ts = g["timestamp"]
        if ts is not None and ts.year in GEO_YEARS and p["category"] is not None:
            counts[(ts.year, p["category"])] += 1
    return [(year, category, count) for (year, category), count in counts.items()]


def a3_most_followed_user_by_country(pin, geo) -> list[Row]:
    candidates: set[tuple[str, str, int]] = set()
    for p, g in join(pin, geo):
        if None not in (g["country"], p["poster_name"], p["follower_count"]):
            candidates.add((g["country"], p["poster_name"], p["follower_count"]))
    best: dict[str, int] = {}
    for country, _poster, followers in candidates:
        best[country] = max(best.get(country, followers), followers)
    return [row for row in candidates if row[2] == best[row[0]]]


def a4_country_with_most_followed_user(a3_rows: list[Row]) -> list[Row]:
    if not a3_rows:
        return []
    top = max(row[2] for row in a3_rows)
    return sorted({(country, followers) for country, _poster, followers in a3_rows if followers == top})


def a5_popular_category_by_age_group(pin, user) -> list[Row]:
    counts: Counter[tuple[str, str]] = Counter()
    for p, u in join(pin, user):
        group = age_group(u["age"])
        if group is not None and p["category"] is not None:
            counts[(group, p["category"])] += 1
    return top_per_group(counts)


def a6_median_followers_by_age_group(pin, user) -> list[Row]:
    groups: defaultdict[str, list[int]] = defaultdict(list)
    for p, u in join(pin, user):
        group = age_group(u["age"])
        if group is not None and p["follower_count"] is not None:
            groups[group].append(p["follower_count"])
    return medians(groups)


def join_year(u: dict[str, Any]) -> int | None:
    joined = u["date_joined"]
    if joined is not None and joined.year in JOIN_YEARS:
        return joined.year
    return None


def a7_users_joined_by_year(user) -> list[Row]:
    counts = Counter(year for u in user.values() if (year := join_year(u)) is not None)
    return list(counts.items())


def a8_median_followers_by_join_year(pin, user) -> list[Row]:
    groups: defaultdict[int, list[int]] = defaultdict(list)
    for p, u in join(pin, user):
        year = join_year(u)
        if year is not None and p["follower_count"] is not None:
            groups[year].append(p["follower_count"])
    return medians(groups)


def a9_median_followers_by_age_group_and_join_year(pin, user) -> list[Row]:
    groups: defaultdict[tuple[str, int], list[int]] = defaultdict(list)
    for p, u in join(pin, user):
        group, year = age_group(u["age"]), join_year(u)
        if group is not None and year is not None and p["follower_count"] is not None:
            groups[(group, year)].append(p["follower_count"])
    return medians(groups)


def run_analyses(pin, geo, user) -> dict[str, tuple[list[str], list[Row]]]:
    """File name → (header, rows) for the nine analyses."""
    a3 = a3_most_followed_user_by_country(pin, geo)
    return {
        "popular_category_by_country.csv":
            (["country", "category", "category_count"], a1_popular_category_by_country(pin, geo)),
        "posts_per_category_by_year.csv":
            (["post_year", "category", "category_count"], a2_posts_per_category_by_year(pin, geo)),
        "most_followed_user_by_country.csv":
            (["country", "poster_name", "follower_count"], a3),
        "country_with_most_followed_user.csv":
            (["country", "follower_count"], a4_country_with_most_followed_user(a3)),
        "popular_category_by_age_group.csv":
            (["age_group", "category", "category_count"], a5_popular_category_by_age_group(pin, user)),
        "median_followers_by_age_group.csv":
            (["age_group", "median_follower_count"], a6_median_followers_by_age_group(pin, user)),
        "users_joined_by_year.csv":
            (["post_year", "number_users_joined"], a7_users_joined_by_year(user)),
        "median_followers_by_join_year.csv":
            (["post_year", "median_follower_count"], a8_median_followers_by_join_year(pin, user)),
        "median_followers_by_age_group_and_join_year.csv":
            (["age_group", "post_year", "median_follower_count"],
             a9_median_followers_by_age_group_and_join_year(pin, user)),
    }


# --------------------------------------------------------------------------------------------
# CSV output
# --------------------------------------------------------------------------------------------


def csv_field(value: Any) -> str:
    """RFC 4180 field: quoted only when it holds a comma, a double quote, CR or LF."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"unexpected CSV value {value!r}")
    text = str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(path: Path, header: list[str], rows: Iterable[Row]) -> None:
    """Header + rows sorted by all columns left to right, `\\n` line ends, UTF-8."""
    lines = [",".join(header)]
    lines += [",".join(csv_field(v) for v in row) for row in sorted(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")


# --------------------------------------------------------------------------------------------
# Optional dump of the cleaned tables (for diffing against the Delta tables)
# --------------------------------------------------------------------------------------------


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise TypeError(f"cannot serialise {value!r}")


def dump_tables(out: Path, tables: dict[str, Table]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        with (out / f"{name}.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
            for ind in sorted(table.rows):
                fh.write(json.dumps(table.rows[ind], ensure_ascii=False, default=json_default) + "\n")
    with (out / "quarantine.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for name, table in tables.items():
            for entry in table.rejected:
                fh.write(json.dumps({"table": name, **entry}, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def find_topics_dir(lake: Path) -> Path:
    for candidate in (lake / "raw" / "topics", lake / "topics"):
        if candidate.is_dir():
            return candidate
    raise SystemExit(f"error: no raw/topics directory under {lake}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Reference cleaning (SPEC §5) and nine analyses (SPEC §6) from a raw lake.")
    parser.add_argument("lake", type=Path, help="lake directory holding raw/topics/...")
    parser.add_argument("out", type=Path, help="directory to write the nine CSV files to")
    parser.add_argument("--topic-prefix", default="pinpipe", help="topic prefix (default: pinpipe)")
    parser.add_argument("--tables-out", type=Path,
                        help="also write the cleaned tables as <table>.jsonl (sorted by ind) and "
                             "the rejected records as quarantine.jsonl here")
    args = parser.parse_args(argv)

    topics_dir = find_topics_dir(args.lake)
    tables = {t: load_table(topics_dir, f"{args.topic_prefix}.{t}", t) for t in ("pin", "geo", "user")}

    args.out.mkdir(parents=True, exist_ok=True)
    results = run_analyses(tables["pin"].rows, tables["geo"].rows, tables["user"].rows)
    for name, (header, rows) in results.items():
        write_csv(args.out / name, header, rows)
    if args.tables_out:
        dump_tables(args.tables_out, tables)

    summary = {
        name: {"records": t.records, "rows": len(t.rows), "quarantined": sum(t.quarantine.values()),
               "reasons": dict(sorted(t.quarantine.items()))}
        for name, t in tables.items()
    }
    summary["results"] = {name: len(rows) for name, (_h, rows) in results.items()}
    print(json.dumps(summary, indent=1, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
