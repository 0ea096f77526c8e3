#!/usr/bin/env python3
"""Write the hand-made edge-case raw lake of fixtures/golden/edges (SPEC §4 layout).

    python3 scripts/make_edge_fixture.py [--lake fixtures/golden/edges] [--prefix pinpipe]

Every record here exists to exercise one rule of SPEC §5/§6; fixtures/golden/edges/README.md walks
through the expected CSVs row by row (the hand check). The final state per key, after cleaning and
last-wins dedupe:

key | pin (category, poster, follower_count) | geo (country, timestamp)         | user (age, date_joined)
----|----------------------------------------|----------------------------------|-----------------------------
 1  | art, Ann, "1.5k"                       | Zambia, 2017-12-31 23:59:59      | 17, 2015-01-01T00:30+01:00 (=2014 UTC)
 2  | art, Bob, "12M" (earlier: travel, 1k)  | Zambia, 2018-01-01 00:00:00      | 18, 2015-01-01 00:00:00
 3  | travel, Smith, "Bob" & Co, "12M"       | Korea, Republic of, 2017-12-31T23:30:00-01:00 (=2018) | 24, 2015 (fractional)
 4  | travel, Ёлка ✌, "437"                  | Korea, Republic of, 2022-12-31 23:59:59.999 | 25, 2020-12-31T23:59:59Z (earlier: 60)
 5  | beauty, User Info Error→null x2        | Korea, Republic of, 2023-01-01 00:00:00 | 33, 2021-01-01
 6  | quotes, Dee, "2k"                      | Cuba, 2023-01-01T00:30:00+01:00 (=2022) | 36, 2021-01-01T00:30+01:00 (=2020)
 7  | vehicles, Cara, "3M"                   | Cuba 2020 (partition 1) beats Zambia 2018 (partition 0) | 50, 2016-02-29
 8  | art, Dan, "12M"                        | null country, 2019                | 51, 2019
 9  | QUARANTINED (follower_count "abc")     | Zambia, 2019                      | 40, 2016
10  | art, Fay, "5k"                         | QUARANTINED (datetime 01/06/2019) | 35, 2017
11  | tattoos, Gus, "100"                    | Zambia, 2021                      | QUARANTINED (2019-02-30)
12  | all numbers as strings: art, Hal, 250  | Côte d'Ivoire, 2019               | "22", 2016
13  | tattoos, Ivy, "8k"                     | Côte d'Ivoire, 2020               | none (a pin record in the user topic)
14  | diy-and-crafts, Ωmega 🎨, "1.5k"       | Côte d'Ivoire, 2021               | 20, 2016
15  | diy-and-crafts, Ann, "7k"              | Åland Islands, 2019               | 40, 2017
16  | travel, Ωmega 🎨, "7k"                 | Åland Islands, 2020               | 61, 2018
17  | art, " Ann<NBSP>" (→ Ann), "7k"        | Åland Islands, 2021               | null age, 2017
18  | null category, null poster, "1k"       | Cuba, 2019                        | none
19  | "   " category (→ null), "9k"          | Cuba, 2019                        | none

Also in the raw data: a line that is not JSON and a geo record without a key (both quarantined),
a user record exported with merged schemas (pin fields present as null), sentinels in title,
description, tag_list and image_src.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

NBSP = "\u00a0"


def pin(index: Any, category: Any, poster: Any, followers: Any, **extra: Any) -> dict[str, Any]:
    """A pin record shaped like the source table's row."""
    record = {
        "index": index,
        "unique_id": f"00000000-0000-4000-8000-{int(index):012d}",
        "title": f"Title {index}",
        "description": f"Description {index}{NBSP}",
        "poster_name": poster,
        "follower_count": followers,
        "tag_list": "a,b,c",
        "is_image_or_video": "image",
        "image_src": f"https://i.example/{index}.jpg",
        "downloaded": 1,
        "save_location": f"Local save in /data/{category}",
        "category": category,
    }
    record.update(extra)
    return record


def geo(ind: Any, country: Any, timestamp: Any, **extra: Any) -> dict[str, Any]:
    record = {"ind": ind, "timestamp": timestamp, "latitude": -12.5, "longitude": 45.25, "country": country}
    record.update(extra)
    return record


def user(ind: Any, first: Any, last: Any, age: Any, joined: Any, **extra: Any) -> dict[str, Any]:
    record = {"ind": ind, "first_name": first, "last_name": last, "age": age, "date_joined": joined}
    record.update(extra)
    return record


KOREA = "Korea, Republic of"
COTE = "Côte d'Ivoire"
ALAND = "Åland Islands"

# Each topic: list of objects (partition, start offset, lines). A line is a dict (written as compact
# JSON) or a str (written verbatim, for broken lines). Offsets are contiguous within a partition.
PIN_OBJECTS: list[tuple[int, int, list[Any]]] = [
    (0, 0, [
        pin(2, "travel", "Bob", "1k"),  # replaced by the later copy of key 2 (last wins)
        pin(1, "art", "Ann", "1.5k"),
        pin(3, "travel", 'Smith, "Bob" & Co', "12M"),
        pin(4, "travel", "Ёлка ✌", "437"),
    ]),
    (0, 4, [
        pin(5, "beauty", "User Info Error", "User Info Error", title="No Title Data Available",
            description="No description available", tag_list="N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
            image_src="Image src error.", downloaded=0, save_location=" Local save in /data/beauty "),
        pin(6, "quotes", "Dee", "2k", description="No description available Story format" + NBSP,
            is_image_or_video="multi-video(story page format)"),
        pin(7, "vehicles", "Cara", "3M"),
        pin(8, "art", "Dan", "12M"),
        pin(9, "diy-and-crafts", "Eve", "abc"),  # unknown follower_count format → quarantine
    ]),
    (0, 9, [
        pin(2, "art", "Bob", "12M"),  # the winning copy of key 2
        pin(10, "art", "Fay", "5k"),
        pin(11, "tattoos", "Gus", "100"),
        pin("12", "art", "Hal", "250", downloaded="1"),  # numbers as strings
        pin(13, "tattoos", "Ivy", "8k"),
        pin(14, "diy-and-crafts", "Ωmega 🎨", "1.5k"),
        pin(15, "diy-and-crafts", "Ann", "7k"),
        pin(16, "travel", "Ωmega 🎨", "7k"),
        pin(17, "art", " Ann" + NBSP, "7k"),  # trims to "Ann"
        pin(18, None, None, "1k", description=None, save_location=None),  # JSON nulls
        pin(19, "   ", "Joe", "9k"),  # white-space-only category → null
    ]),
]

GEO_OBJECTS: list[tuple[int, int, list[Any]]] = [
    (0, 0, [
        geo(1, "Zambia", "2017-12-31 23:59:59"),
        geo(2, "Zambia", "2018-01-01 00:00:00"),
        geo(3, KOREA, "2017-12-31T23:30:00-01:00"),  # = 2018-01-01T00:30:00Z
        geo(4, KOREA, "2022-12-31 23:59:59.999"),
        geo(5, KOREA, "2023-01-01 00:00:00"),
        geo(6, "Cuba", "2023-01-01T00:30:00+01:00"),  # = 2022-12-31T23:30:00Z
        geo(7, "Zambia", "2018-07-07 07:07:07"),  # loses to key 7 in partition 1
        geo(8, None, "2019-03-03 03:03:03"),  # null country
    ]),
    (0, 8, [
        geo(9, "Zambia", "2019-01-01 00:00:00"),
        geo(10, "Zambia", "01/06/2019 12:00:00"),  # unparseable datetime → quarantine
        '{"ind": 98, "country": "Cuba", ',  # not JSON → quarantine
        {"country": "Cuba", "timestamp": "2019-01-01 00:00:00", "latitude": 1.0, "longitude": 2.0},  # no key
        geo(11, "Zambia", "2021-04-04 04:04:04"),
        geo("12", COTE, "2019-05-05 05:05:05", latitude="5.5", longitude="-4.25"),
        geo(13, COTE, "2020-06-06T06:06:06"),
        geo(14, COTE, "2021-07-07T07:07:07.123Z"),
        geo(15, ALAND, "2019-08-08 08:08:08"),
        geo(16, ALAND, "2020-09-09 09:09:09"),
        geo(17, ALAND, "2021-10-10 10:10:10"),
        geo(18, "Cuba", "2019-11-11 11:11:11"),
        geo(19, "Cuba", "2019-12-12 12:12:12"),
    ]),
    (1, 0, [
        geo(7, "Cuba", "2020-05-05T05:05:05.5Z"),  # partition 1 arrives after partition 0: wins
    ]),
]

# The merged-schema export writes every pin field as null into user records (chemi5t).
MERGED_PIN_NULLS = {name: None for name in pin(0, "x", "x", "0")}

USER_OBJECTS: list[tuple[int, int, list[Any]]] = [
    (0, 0, [
        user(4, "Олег", "Петров", 60, "2016-01-01 00:00:00"),  # replaced by the later copy of key 4
        user(1, "Ann", "Lee", 17, "2015-01-01T00:30:00+01:00"),  # = 2014-12-31T23:30:00Z
        user(2, "Bob", "Ray", 18, "2015-01-01 00:00:00"),
        user(3, "Chloé", "D'Arcy", 24, "2015-06-01 12:00:00.123456"),
        user(4, "Олег", "Петров", 25, "2020-12-31T23:59:59Z"),  # the winning copy of key 4
        user(5, "Eve", None, 33, "2021-01-01 00:00:00"),
        user(6, None, "Dee", 36, "2021-01-01T00:30:00+01:00"),  # = 2020-12-31T23:30:00Z
        user(7, "Cara", "Ng", 50, "2016-02-29 10:00:00"),
        user(8, "Dan", "O'Neil", 51, "2019-07-01 00:00:00"),
    ]),
    (0, 9, [
        user(9, "Eve", "Ito", 40, "2016-05-05 00:00:00"),
        user(10, "Fay", "Lu", 35, "2017-03-03 00:00:00"),
        user(11, "Gus", "Ho", 45, "2019-02-30 00:00:00"),  # no such date → quarantine
        user("12", "Hal", "Wu", "22", "2016-08-08 08:08:08"),  # numbers as strings
        pin(13, "tattoos", "Ivy", "8k"),  # a pin record in the user topic → quarantine
        user(14, "Ωmega", "Σ", 20, "2016-09-09T09:09:09"),
        user(15, "Ann", "Kim", 40, "2017-10-10 10:10:10"),
        user(16, "Joe", "Bo", 61, "2018-11-11 11:11:11"),
        {**MERGED_PIN_NULLS, **user(17, None, None, None, "2017-12-12 12:12:12")},
    ]),
]


def write_objects(lake: Path, topic: str, objects: list[tuple[int, int, list[Any]]]) -> None:
    next_offset: dict[int, int] = {}
    for partition, start, lines in objects:
        assert next_offset.get(partition, 0) == start, f"{topic}: offsets must be contiguous"
        next_offset[partition] = start + len(lines)
        folder = lake / "raw" / "topics" / topic / f"partition={partition}"
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(
            (line if isinstance(line, str) else json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            + "\n" for line in lines)
        (folder / f"{topic}+{partition}+{start:010d}.json").write_text(body, encoding="utf-8", newline="")


def main() -> int:
    parser = argparse.ArgumentParser(description="Write the edge-case raw lake (SPEC §4 layout).")
    parser.add_argument("--lake", type=Path, default=Path(__file__).resolve().parent.parent
                        / "fixtures" / "golden" / "edges", help="lake directory (raw/ is replaced)")
    parser.add_argument("--prefix", default="pinpipe", help="topic prefix (default: pinpipe)")
    args = parser.parse_args()
    shutil.rmtree(args.lake / "raw", ignore_errors=True)
    write_objects(args.lake, f"{args.prefix}.pin", PIN_OBJECTS)
    write_objects(args.lake, f"{args.prefix}.geo", GEO_OBJECTS)
    write_objects(args.lake, f"{args.prefix}.user", USER_OBJECTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
