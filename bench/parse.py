"""Parse-only benchmark, no servers: the corpus feed bodies through the XML feed parser as the
harvest calls it (fast path, feedparser for the rest) against the feedparser path alone and the
lxml floor, in MB/s, over several alternating rounds (the machine may be shared: the spread is
printed with the median).

  (f) floor: lxml parsing every body (lenient, so the broken ones count too);
  (p) the feedparser path for every body (pipelines.parse.xmlfeed.parse_with_feedparser);
  (n) parse_xml_feed: the fast path where it is sure, feedparser elsewhere;
  (x) the fast path alone on the bodies it accepts, and feedparser on the same bodies.

Each is printed as a ratio of time to the lxml floor on the same bodies. Target (issue #33's
"within 3x of an lxml parse", for the parse alone): the fast path on the bodies it accepts
<= 3x the lxml floor on them, with a pass/fail word.

    python bench/parse.py --rounds 5 --copies 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.parse.fastfeed import parse_well_formed_feed  # noqa: E402
from pipelines.parse.xmlfeed import (parse_with_feedparser, parse_xml_feed, within_entry_limits,  # noqa: E402
                                     without_impossible_characters)

SHARED = Path(os.environ.get("OPENGOVTECH_SHARED", REPO.parent / "shared")) / "corpus"
URL = "https://corpus.example/feeds/feed.xml"
CONTENT_TYPE = "application/xml"


def corpus_bodies() -> list[bytes]:
    return [p.read_bytes() for folder in ("feeds", "feeds-broken") for p in sorted((SHARED / folder).iterdir())
            if p.is_file() and p.suffix != ".json"]


def timed(parse, bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        try:
            parse(body)
        except ValueError:  # not a feed: the parsers' one way of saying so
            pass
    return time.perf_counter() - started


def held(body: bytes) -> bytes:
    return within_entry_limits(without_impossible_characters(body))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--copies", type=int, default=2, help="times the corpus is repeated in one round")
    args = parser.parse_args()

    bodies = corpus_bodies() * args.copies
    accepted = [b for b in bodies if parse_well_formed_feed(held(b), URL, CONTENT_TYPE) is not None]
    megabytes, accepted_mb = sum(map(len, bodies)) / 1e6, sum(map(len, accepted)) / 1e6
    lenient = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    runs = {
        "(f) lxml floor": (lambda b: etree.fromstring(b, lenient), bodies, megabytes),
        "(p) feedparser path": (lambda b: parse_with_feedparser(held(b), URL, CONTENT_TYPE), bodies, megabytes),
        "(n) fast path + feedparser": (lambda b: parse_xml_feed(b, URL, CONTENT_TYPE), bodies, megabytes),
        "(x) fast path, accepted only": (lambda b: parse_well_formed_feed(held(b), URL, CONTENT_TYPE), accepted,
                                         accepted_mb),
        "(x) feedparser, same bodies": (lambda b: parse_with_feedparser(held(b), URL, CONTENT_TYPE), accepted,
                                        accepted_mb),
        "(x) lxml floor, same bodies": (lambda b: etree.fromstring(b, lenient), accepted, accepted_mb),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):  # alternating, so a busy moment of the machine touches every run
        for name, (parse, chosen, size) in runs.items():
            rates[name].append(size / timed(parse, chosen))

    print(f"{len(bodies)} bodies ({megabytes:.1f} MB), {len(accepted)} on the fast path ({accepted_mb:.1f} MB), "
          f"{args.rounds} rounds, {os.cpu_count()} cores")
    floor = {"(x)": statistics.median(rates["(x) lxml floor, same bodies"]),
             "other": statistics.median(rates["(f) lxml floor"])}
    for name, values in rates.items():
        times_floor = floor["(x)" if name.startswith("(x)") else "other"] / statistics.median(values)
        print(f"{name:32s} median {statistics.median(values):7.1f} MB/s   (min {min(values):.1f}, "
              f"max {max(values):.1f})   {times_floor:6.2f}x the lxml floor's time")
    fast = floor["(x)"] / statistics.median(rates["(x) fast path, accepted only"])
    print(f"fast path / lxml floor on the bodies it accepts = {fast:.2f}   target <= 3   "
          f"{'pass' if fast <= 3 else 'FAIL'}")

if __name__ == "__main__":
    main()
