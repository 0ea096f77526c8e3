#!/usr/bin/env python3
"""Self-checks of the Python tooling (standard library only): ``python3 scripts/test_golden.py``.

* golden.py's field rules on the spec's examples;
* the committed golden sets are what the scripts produce now: ``edges/raw`` is what
  make_edge_fixture.py writes, ``peer/raw`` is what layout_raw.py writes from fixtures/peer-raw,
  and each ``expected/`` is what golden.py computes from its ``raw/``.
"""

from __future__ import annotations

import filecmp
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
GOLDEN = ROOT / "fixtures" / "golden"
sys.path.insert(0, str(SCRIPTS))

import golden  # noqa: E402


def run(*args: object) -> None:
    subprocess.run([sys.executable, *map(str, args)], check=True, stderr=subprocess.DEVNULL)


def tree_diff(left: Path, right: Path) -> list[str]:
    """Relative paths that differ between two directory trees (missing on either side included)."""
    left_files = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    right_files = {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    differ = left_files ^ right_files
    differ |= {p for p in left_files & right_files if not filecmp.cmp(left / p, right / p, shallow=False)}
    return sorted(map(str, differ))


class FieldRules(unittest.TestCase):
    def test_follower_count(self) -> None:
        for text, value in {"437": 437, "12k": 12_000, "3M": 3_000_000, "1.5k": 1_500, None: None}.items():
            self.assertEqual(golden.parse_follower_count(text), value)
        for text in ("abc", "12K", "1.k", "-5", "12 k"):
            with self.assertRaises(golden.Reject):
                golden.parse_follower_count(text)

    def test_datetimes(self) -> None:
        cases = {
            "2019-05-06 07:08:09": "2019-05-06T07:08:09+00:00",
            "2019-05-06T07:08:09": "2019-05-06T07:08:09+00:00",
            "2019-05-06T07:08:09.5Z": "2019-05-06T07:08:09.500000+00:00",
            "2017-12-31T23:30:00-01:00": "2018-01-01T00:30:00+00:00",
        }
        for text, iso in cases.items():
            self.assertEqual(golden.parse_datetime({"t": text}, "t").isoformat(), iso)
        for text in ("2019-02-30 00:00:00", "01/06/2019 12:00:00", "2019-05-06 07:08"):
            with self.assertRaises(golden.Reject):
                golden.parse_datetime({"t": text}, "t")

    def test_text_and_groups(self) -> None:
        self.assertEqual(golden.as_text({"a": " x\u00a0"}, "a"), "x")
        self.assertIsNone(golden.as_text({"a": "\u00a0 "}, "a"))
        self.assertEqual(golden.as_int64({"a": "20"}, "a"), 20)
        self.assertEqual([golden.age_group(a) for a in (17, 18, 24, 25, 35, 36, 50, 51)],
                         [None, "18-24", "18-24", "25-35", "25-35", "36-50", "36-50", "50+"])
        self.assertEqual([golden.lower_median(v) for v in ([5], [2, 1], [3, 1, 2], [4, 3, 2, 1])], [5, 1, 2, 2])

    def test_csv_quoting(self) -> None:
        self.assertEqual([golden.csv_field(v) for v in ("a,b", 'a"b', "a\nb", "Ωmega", 12)],
                         ['"a,b"', '"a""b"', '"a\nb"', "Ωmega", "12"])


class GoldenSets(unittest.TestCase):
    def test_edges_raw_is_generated(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            run(SCRIPTS / "make_edge_fixture.py", "--lake", tmp)
            self.assertEqual(tree_diff(Path(tmp) / "raw", GOLDEN / "edges" / "raw"), [])

    def test_peer_raw_is_laid_out(self) -> None:
        peer = ROOT / "fixtures" / "peer-raw"
        with tempfile.TemporaryDirectory() as tmp:
            run(SCRIPTS / "layout_raw.py", *(peer / d for d in ("chemi5t", "54F-A", "ChefData", "RegnixS")),
                "--lake", tmp)
            self.assertEqual(tree_diff(Path(tmp) / "raw", GOLDEN / "peer" / "raw"), [])

    def test_expected_csvs(self) -> None:
        for name in ("edges", "peer"):
            with self.subTest(set=name), tempfile.TemporaryDirectory() as tmp:
                run(SCRIPTS / "golden.py", GOLDEN / name, tmp)
                self.assertEqual(tree_diff(Path(tmp), GOLDEN / name / "expected"), [])

    def test_peer_analysis_4_tie(self) -> None:
        text = (GOLDEN / "peer" / "expected" / "country_with_most_followed_user.csv").read_text(encoding="utf-8")
        self.assertEqual(text, "country,follower_count\nAmerican Samoa,8000000\nAngola,8000000\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
