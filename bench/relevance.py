"""Search relevance on judged queries: nDCG@5, P@5, MRR and zero-result rate per query type.

The queries and graded judgements are tests/data/search_judgements.yaml, written against the
relevance hub (tests/relevance_hub.py: real corpus feeds, seeds, posts and opengovtech.org's
catalogue, harvested through the real pipeline on 127.0.0.1). Figures are printed for the dev
split (the one tuned on) and the test split (never tuned on), beside each split's latency. The
queries come in sets written at different times (`set`), each split on its own with its own seed;
each set's test split is printed alone and all sets' together.

    python bench/relevance.py              # build the hub in a temp dir, print the tables
    python bench/relevance.py --only dev   # the split tuned on, alone
    python bench/relevance.py --split      # draw the dev/test split, printed as query -> split
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

JUDGEMENTS = ROOT / "tests" / "data" / "search_judgements.yaml"
QUERY_TYPES = ("topic", "phrase", "question", "synonym", "misspelling")
CUTOFF = 5
SPLIT_SEEDS = {1: 34, 2: 40}  # query set -> the seed its split was drawn with


@dataclass(frozen=True)
class JudgedQuery:
    query: str
    type: str
    relevant: dict[str, int]  # item URL (or id, for items without one) -> grade 1..3
    split: str | None
    set: int = 1


def load_judgements(path: Path = JUDGEMENTS) -> list[JudgedQuery]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data["items"]
    return [JudgedQuery(query=q["query"], type=q["type"], split=q.get("split"), set=q.get("set", 1),
                        relevant={items[name]: grade for name, grade in q["relevant"].items()})
            for q in data["queries"]]


def draw_split(queries: list[JudgedQuery]) -> dict[str, str]:
    """Half of each query type of each set to dev, half to test (seeded per set): the split the
    judgements file records."""
    split = {}
    for query_set, seed in SPLIT_SEEDS.items():
        rng = random.Random(seed)
        for query_type in QUERY_TYPES:
            of_type = sorted(q.query for q in queries if q.type == query_type and q.set == query_set)
            rng.shuffle(of_type)
            for n, text in enumerate(of_type):
                split[text] = "dev" if n < (len(of_type) + 1) // 2 else "test"
    return split


def parts(queries: list[JudgedQuery], only: str | None = None) -> list[tuple[str, list[JudgedQuery]]]:
    """(title, queries) for each table bench/relevance.py prints: dev, each set's test split, all test."""
    tables = [("dev", [q for q in queries if q.split == "dev"])]
    if only != "dev":
        sets = sorted({q.set for q in queries})
        tables += [(f"test, set {s}", [q for q in queries if q.split == "test" and q.set == s]) for s in sets]
        tables.append(("test, all sets", [q for q in queries if q.split == "test"]))
    return [(title, part) for title, part in tables if part]


def dcg(grades: list[int]) -> float:
    return sum((2 ** g - 1) / math.log2(rank + 2) for rank, g in enumerate(grades))


@dataclass(frozen=True)
class QueryScore:
    ndcg: float
    precision: float
    reciprocal_rank: float
    zero_results: bool


def score_ranking(ranked_keys: list[str], relevant: dict[str, int], k: int = CUTOFF) -> QueryScore:
    grades = [relevant.get(key, 0) for key in ranked_keys]
    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    first = next((rank for rank, g in enumerate(grades, 1) if g > 0), None)
    return QueryScore(ndcg=dcg(grades[:k]) / ideal if ideal else 0.0,
                      precision=sum(1 for g in grades[:k] if g > 0) / k,
                      reciprocal_rank=1 / first if first else 0.0,
                      zero_results=not ranked_keys)


@dataclass(frozen=True)
class Summary:
    queries: int
    ndcg: float
    precision: float
    mrr: float
    zero_result_rate: float


def summarise(scores: list[QueryScore]) -> Summary:
    return Summary(queries=len(scores), ndcg=statistics.fmean(s.ndcg for s in scores),
                   precision=statistics.fmean(s.precision for s in scores),
                   mrr=statistics.fmean(s.reciprocal_rank for s in scores),
                   zero_result_rate=statistics.fmean(s.zero_results for s in scores))


def evaluate(search: Callable[[str], list[str]], queries: list[JudgedQuery]) -> tuple[dict[str, Summary], list[float]]:
    """Per query type and "all": the summary of `search` (query -> ranked item keys); and latencies in ms."""
    by_type: dict[str, list[QueryScore]] = defaultdict(list)
    latencies = []
    for judged in queries:
        started = time.perf_counter()
        ranked = search(judged.query)
        latencies.append((time.perf_counter() - started) * 1000)
        score = score_ranking(ranked, judged.relevant)
        by_type[judged.type].append(score)
        by_type["all"].append(score)
    return {name: summarise(scores) for name, scores in by_type.items()}, latencies


def project_search(index_path: Path, limit: int = 20) -> Callable[[str], list[str]]:
    from pipelines.publish.search import SearchIndex

    index = SearchIndex(index_path)
    return lambda query: [hit.url or hit.id for hit in index.search(query, limit=limit).hits]


def print_table(title: str, summaries: dict[str, Summary], latencies: list[float]) -> None:
    print(f"{title}: {summaries['all'].queries} queries; latency p50 {statistics.median(latencies):.2f} ms, "
          f"max {max(latencies):.2f} ms")
    print(f"  {'type':12s} {'n':>3s} {'nDCG@5':>7s} {'P@5':>6s} {'MRR':>6s} {'zero':>6s}")
    for name in (*QUERY_TYPES, "all"):
        if name in summaries:
            s = summaries[name]
            print(f"  {name:12s} {s.queries:3d} {s.ndcg:7.3f} {s.precision:6.3f} {s.mrr:6.3f} {s.zero_result_rate:6.3f}")


def build_hub(root: Path):
    from pytest_httpserver import HTTPServer

    from tests.relevance_hub import build_relevance_hub

    server = HTTPServer(host="127.0.0.1", port=0)
    server.no_handler_status_code = 404
    server.start()
    try:
        return build_relevance_hub(root, server)
    finally:
        server.clear()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", action="store_true", help="print the seeded dev/test split and exit")
    parser.add_argument("--warehouse", type=Path, help="an already built relevance hub's warehouse")
    parser.add_argument("--only", choices=["dev"], help="print the dev split alone (while tuning)")
    args = parser.parse_args()
    queries = load_judgements()
    if args.split:
        for text, split in draw_split(queries).items():
            print(f"{split}\t{text}")
        return
    from pipelines.publish.search import index_path_for

    with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp:
        warehouse = args.warehouse or build_hub(Path(tmp)).warehouse_path
        search = project_search(index_path_for(warehouse))
        for title, part in parts(queries, args.only):
            print_table(title, *evaluate(search, part))


if __name__ == "__main__":
    main()
