"""Search benchmark: the project's index against plain SQLite FTS5, same documents and queries, one run.

Builds N documents (default 100,000) from real corpus text: every entry of every feed in
../shared/corpus/feeds is parsed with the project's own parser, and documents are made by
recombining those real titles, tags and sentences (seeded, so runs are comparable).
Queries are real words and two-word phrases drawn from the same text, from rare to common.

Measures, over the same documents and queries:
  (a) baseline: a plain SQLite FTS5 table (title, body; porter), `MATCH ? ORDER BY rank LIMIT 20`;
  (b) the project's search (`pipelines.publish.search`: weighted BM25, snippets, join to docs);
  (c) the project's search with a kind filter and with --facets;
  (d) DuckDB's fts extension (`match_bm25`), the index the foundation used, on a sample of queries;
  (e) `opengovtech search` cold start: process start to output, against `python -c pass`, without
      and with --facets.

Targets: p95 of (b) <= 20 ms and <= 0.5 x p95 of (a) (issue #34); p95 of (c) with facets <= 50 ms
(issue #33); cold start <= 1 s.

    python bench/search.py --docs 100000 --queries 300
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.parse import ParseOptions, parse_document  # noqa: E402
from pipelines.publish.search import SearchFilters, SearchIndex, index_path_for, write_index  # noqa: E402

CORPUS = Path(os.environ.get("OPENGOVTECH_SHARED", ROOT.parent / "shared")) / "corpus"
KINDS = ("story", "technique", "asset", "event", "community")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def real_text() -> tuple[list[str], list[str], list[str]]:
    titles, sentences, tags = [], [], []
    options = ParseOptions(source_id="bench", tags=("opengovtech",), tagged_only=False)
    for path in sorted((CORPUS / "feeds").iterdir()):
        if not path.is_file():
            continue
        parsed = parse_document(path.read_bytes(), f"https://bench.invalid/{path.name}", None, options)
        for record in parsed.records:
            if record.title:
                titles.append(record.title)
            tags.extend(record.tags)
            text = record.content_text or record.summary or ""
            sentences.extend(s.strip() for s in SENTENCE.split(text) if 30 <= len(s.strip()) <= 400)
    return titles, sentences, sorted(set(tags)) or ["opengovtech"]


def make_documents(count: int, seed: int = 7) -> list[dict]:
    titles, sentences, tags = real_text()
    rng = random.Random(seed)
    docs = []
    for n in range(count):
        year = rng.randint(2015, 2026)
        when = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
        body = " ".join(rng.choices(sentences, k=rng.randint(3, 12)))
        docs.append({
            "id": f"doc{n:07d}", "kind": rng.choice(KINDS), "title": rng.choice(titles),
            "url": f"https://bench.invalid/items/{n}", "summary": body[:200],
            "organisation": f"Organisation {rng.randint(1, 400)}", "published_at": when, "sort_date": when,
            "language": "en", "tags": rng.sample(tags, k=min(len(tags), rng.randint(0, 4))),
            "source_ids": [f"source-{rng.randint(1, 1000)}"], "content_text": body,
        })
    return docs


def make_queries(docs: list[dict], count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    queries = []
    while len(queries) < count:
        words = re.findall(r"[A-Za-z]{4,}", rng.choice(docs)["content_text"])
        if len(words) < 3:
            continue
        shape = len(queries) % 3
        start = rng.randrange(len(words) - 1)
        if shape == 0:
            queries.append(words[start])
        elif shape == 1:
            queries.append(f"{words[start]} {rng.choice(words)}")
        else:
            queries.append(f'"{words[start]} {words[start + 1]}"')
    return queries


def timed(fn, queries: list[str]) -> list[float]:
    fn(queries[0])  # warm the page cache the same way for every engine
    out = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def build_baseline(path: Path, docs: list[dict]) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='porter unicode61')")
    con.executemany("INSERT INTO t(rowid, title, body) VALUES (?, ?, ?)",
                    ((i, d["title"], d["content_text"]) for i, d in enumerate(docs, 1)))
    con.commit()
    con.close()


def baseline_search(path: Path):
    from pipelines.publish.search import fts_query
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def run(q: str):
        return con.execute("SELECT rowid, title FROM t WHERE t MATCH ? ORDER BY rank LIMIT 20", (fts_query(q),)).fetchall()
    return run


def build_duckdb_fts(path: Path, docs: list[dict]):
    import duckdb
    import pyarrow as pa

    from pipelines.store.connection import connect, load_fts
    con = connect(path, memory_limit="2GB")
    load_fts(con)
    table = pa.Table.from_pylist([{"id": d["id"], "title": d["title"], "body": d["content_text"]} for d in docs])
    con.register("incoming", table)
    con.execute("CREATE TABLE docs AS SELECT * FROM incoming")
    con.execute("PRAGMA create_fts_index('docs', 'id', 'title', 'body', stemmer='porter', stopwords='english')")

    def run(q: str):
        return con.execute("SELECT id, title FROM (SELECT *, fts_main_docs.match_bm25(id, ?) AS score FROM docs) "
                           "WHERE score IS NOT NULL ORDER BY score DESC LIMIT 20", [q.replace('"', "")]).fetchall()
    del duckdb
    return run


def cold_start(warehouse: Path, query: str, repeats: int = 5) -> tuple[float, float, float]:
    # The command of this checkout: an installed `opengovtech` script runs whichever checkout was installed.
    command = [sys.executable, "-m", "pipelines.app.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def best(cmd: list[str]) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            times.append(time.perf_counter() - started)
        return min(times)
    search = command + ["search", query, "--warehouse", str(warehouse)]
    return best(search), best(search + ["--facets"]), best([sys.executable, "-c", "pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--duckdb-queries", type=int, default=30, help="DuckDB fts is slow: sample this many")
    args = parser.parse_args()

    docs = make_documents(args.docs)
    queries = make_queries(docs, args.queries)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        tmp = Path(tmp)
        warehouse = tmp / "hub.duckdb"
        started = time.perf_counter()
        write_index(index_path_for(warehouse), docs)
        build_project = time.perf_counter() - started
        started = time.perf_counter()
        build_baseline(tmp / "baseline.sqlite", docs)
        build_base = time.perf_counter() - started
        index = index_path_for(warehouse)

        base = timed(baseline_search(tmp / "baseline.sqlite"), queries)
        with SearchIndex(index) as opened:
            project = timed(lambda q: opened.search(q, limit=20), queries)
            filtered = timed(lambda q: opened.search(q, SearchFilters(kind="technique"), limit=20), queries)
            faceted = timed(lambda q: opened.search(q, limit=20, facets=True), queries)
        duck_run = build_duckdb_fts(tmp / "duck.duckdb", docs)
        duck = timed(duck_run, queries[: args.duckdb_queries])
        cold, cold_facets, python_floor = cold_start(warehouse, queries[0])

    print(f"documents: {len(docs):,} from real corpus text; queries: {len(queries)} (words, pairs, phrases)")
    print(f"index build: project {build_project:.1f} s, plain FTS5 {build_base:.1f} s")
    rows = [("(a) SQLite FTS5 baseline", base), ("(b) project search", project),
            ("(c) project + kind filter", filtered), ("(c) project + facets", faceted),
            (f"(d) DuckDB fts ({len(duck)} queries)", duck)]
    for name, samples in rows:
        print(f"{name:34s} p50 {statistics.median(samples):7.2f} ms   p95 {p95(samples):7.2f} ms   "
              f"ratio p95 to (a) {p95(samples) / p95(base):6.2f}")
    print(f"(e) cold start `opengovtech search`: {cold:.3f} s (python -c pass: {python_floor:.3f} s, "
          f"ratio {cold / python_floor:.1f}); with --facets {cold_facets:.3f} s")
    targets = [("(b) p95 <= 20 ms", p95(project) <= 20),
               ("(b)/(a) <= 0.5", p95(project) / p95(base) <= 0.5),
               ("(c) facets p95 <= 50 ms", p95(faceted) <= 50),
               ("cold start <= 1 s", cold <= 1)]
    print("targets: " + "; ".join(f"{name} -> {'met' if ok else 'MISSED'}" for name, ok in targets))


if __name__ == "__main__":
    main()
