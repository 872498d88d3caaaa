"""Harvest benchmark: `opengovtech run` against the floor, measured in one run.

Builds N feeds from the real corpus feeds (varied copies: every URL inside a copy is made
unique, so items do not collapse), serves them from several loopback origins (one
`python -m http.server` process per origin; it answers If-Modified-Since with 304), and
measures:

  (a) floor: plain httpx fetch of all URLs at the same global concurrency, then feedparser
      parsing of every body in one process;
  (a') second floor: the same fetch, then lxml parsing of the same bodies (what parsing costs
      when the parser is not the bottleneck);
  (b) `opengovtech run` on them (a fresh warehouse);
  (c) the same command again, nothing changed;
  and the peak RSS of the run (its process tree, sampled).

Prints the figures and the ratios (b)/(a), harvest stage of (b)/(a'), (c)/(b) and the peaks
against their targets, each with a pass/fail word. Targets: (b)/(a) <= 1.5, harvest/(a') <= 3,
(c)/(b) <= 0.05, main process peak RSS <= 400 MB, the process tree's peak (summed RSS, and
summed PSS, which counts pages the forkserver shares with its workers once) <= 500 MB. The
stages' times are their Dagster steps' spans; (c) is also split into what came before its first
Dagster event (starting Python, imports, planning) and after its last (exiting).

    python bench/harvest.py --feeds 1000 --origins 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import feedparser
import httpx
import yaml
from lxml import etree

from measure import memory_breakdown, run_events_span, run_with_memory, stage_spans

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("OPENGOVTECH_SHARED", REPO.parent / "shared")) / "corpus" / "feeds"


def build_feeds(target: Path, count: int) -> list[str]:
    """Write `count` feed files; copy k of corpus file f rewrites every http(s) URL host to be unique."""
    sources = sorted(p for p in CORPUS.iterdir() if p.is_file())
    names = []
    for i in range(count):
        original = sources[i % len(sources)]
        body = original.read_bytes()
        token = f"c{i}.".encode()
        body = body.replace(b"http://", b"http://" + token).replace(b"https://", b"https://" + token)
        body = body.replace(b"http:\\/\\/", b"http:\\/\\/" + token).replace(b"https:\\/\\/", b"https:\\/\\/" + token)
        name = f"feed-{i:05d}{original.suffix if original.suffix in ('.json', '.atom', '.rdf') else '.xml'}"
        (target / name).write_bytes(body)
        names.append(name)
    return names


def start_origins(directory: Path, origins: int) -> tuple[list[subprocess.Popen], list[int]]:
    processes, ports = [], []
    for _ in range(origins):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports.append(port)
    for port in ports:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
    return processes, ports


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Floors:
    fetch_s: float
    feedparser_s: float
    lxml_s: float
    entries: int

    @property
    def with_feedparser(self) -> float:
        return self.fetch_s + self.feedparser_s

    @property
    def with_lxml(self) -> float:
        return self.fetch_s + self.lxml_s


def measure_floors(urls: list[str], concurrency: int) -> Floors:
    """One fetch of every URL, then the bodies parsed by feedparser and, separately, by lxml."""
    async def fetch_all() -> list[tuple[bytes, str]]:
        slots = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
            async def one(url):
                async with slots:
                    r = await client.get(url)
                    return r.content, r.headers.get("content-type", "")
            return await asyncio.gather(*(one(u) for u in urls))

    started = time.perf_counter()
    bodies = asyncio.run(fetch_all())
    fetched = time.perf_counter()
    entries = 0
    for body, content_type in bodies:
        if body.lstrip()[:1] == b"{":
            entries += len(json.loads(body.decode("utf-8-sig")).get("items", []))
        else:
            entries += len(feedparser.parse(body, response_headers={"content-type": content_type}).entries)
    parsed = time.perf_counter()
    lenient = etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    for body, _ in bodies:
        if body.lstrip()[:1] == b"{":
            json.loads(body.decode("utf-8-sig"))
        else:
            etree.fromstring(body, lenient)
    return Floors(fetch_s=fetched - started, feedparser_s=parsed - fetched, lxml_s=time.perf_counter() - parsed,
                  entries=entries)


def verdict(ratio: float, target: float) -> str:
    return "pass" if ratio <= target else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--origins", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-harvest-"))
    feeds_dir = work / "feeds"
    feeds_dir.mkdir()
    names = build_feeds(feeds_dir, args.feeds)
    size_mb = sum(f.stat().st_size for f in feeds_dir.iterdir()) / 1e6
    servers, ports = start_origins(feeds_dir, args.origins)
    try:
        urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/{name}" for i, name in enumerate(names)]
        sources = {
            "defaults": {"allow_private_networks": True, "global_concurrency": args.concurrency,
                         "per_origin_concurrency": max(2, args.concurrency // args.origins)},
            "sources": [{"id": f"feed-{i:05d}", "kind": "feed", "url": url, "tagged_only": False}
                        for i, url in enumerate(urls)],
        }
        sources_path = work / "sources.yaml"
        sources_path.write_text(yaml.safe_dump(sources), encoding="utf-8")
        warehouse = work / "warehouse" / "hub.duckdb"
        env = {**os.environ, "DAGSTER_HOME": str(work / "warehouse" / "dagster")}
        command = [sys.executable, "-m", "pipelines.app.cli", "run", "--sources", str(sources_path),
                   "--warehouse", str(warehouse)]

        home = work / "warehouse" / "dagster"
        floors = measure_floors(urls, args.concurrency)
        first = run_with_memory(command, env)
        spans = stage_spans(home)
        harvest_s = spans["harvest"][1] - spans["harvest"][0]
        stage_memory = {stage: first.peaks_between(start, end) for stage, (start, end) in spans.items()}
        again = run_with_memory(command, env)
        rerun_spans, rerun_events = stage_spans(home), run_events_span(home)
        run_s, rerun_s = first.seconds, again.seconds

        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        stored = con.execute("SELECT count(*) FROM raw_entries").fetchone()[0]
        items = con.execute("SELECT count(*) FROM hub_items").fetchone()[0]
        con.close()
        db_mb = warehouse.stat().st_size / 1e6

        print(f"feeds: {args.feeds} ({size_mb:.1f} MB) from {args.origins} loopback origins, "
              f"global concurrency {args.concurrency}, {os.cpu_count()} cores")
        print(f"(a) floor: httpx fetch + feedparser, one process   {floors.with_feedparser:8.2f} s   "
              f"({floors.entries} entries; fetch {floors.fetch_s:.2f} s, feedparser {floors.feedparser_s:.2f} s)")
        print(f"(a') floor: httpx fetch + lxml, one process        {floors.with_lxml:8.2f} s   "
              f"(lxml {floors.lxml_s:.2f} s)")
        print(f"(b) opengovtech run, fresh warehouse               {run_s:8.2f} s   exit {first.returncode}, "
              f"{stored} entries stored, {items} items, DuckDB {db_mb:.1f} MB")
        print(f"(c) opengovtech run, nothing changed               {rerun_s:8.2f} s   exit {again.returncode}")
        print("    stages of (b): " + ", ".join(f"{stage} {end - start:.2f} s" for stage, (start, end) in spans.items()))
        print(f"    (c): before its first Dagster event {rerun_events[0] - again.started_at:.2f} s, "
              + ", ".join(f"{stage} {end - start:.2f} s" for stage, (start, end) in rerun_spans.items())
              + f", after its last event {again.started_at + rerun_s - rerun_events[1]:.2f} s")
        for name, measured in (("(b)", first), ("(c)", again)):
            print(f"    memory of {name}: main {measured.main_mb:.0f} MB, tree RSS {measured.tree_mb:.0f} MB, "
                  f"tree PSS {measured.tree_pss_mb:.0f} MB")
        for line in memory_breakdown(first.by_process, stage_memory):
            print(f"    {line} (b)")
        whole, harvest, again_ratio = run_s / floors.with_feedparser, harvest_s / floors.with_lxml, rerun_s / run_s
        tree_rss = max(first.tree_mb, again.tree_mb)
        tree_pss = max(first.tree_pss_mb, again.tree_pss_mb)
        main_rss = max(first.main_mb, again.main_mb)
        print(f"(b)/(a) = {whole:.2f}   target <= 1.5   {verdict(whole, 1.5)}")
        print(f"harvest/(a') = {harvest:.2f}   target <= 3   {verdict(harvest, 3)}")
        print(f"(c)/(b) = {again_ratio:.3f}  target <= 0.05   {verdict(again_ratio, 0.05)}")
        print(f"peak RSS, main process = {main_rss:.0f} MB = {main_rss / 400:.2f} x target 400 MB   "
              f"{verdict(main_rss, 400)}")
        print(f"peak of the process tree's summed RSS (+ parse workers, forkserver, Pagefind) = {tree_rss:.0f} MB"
              f" = {tree_rss / 500:.2f} x target 500 MB   {verdict(tree_rss, 500)}")
        print(f"peak of the process tree's summed PSS = {tree_pss:.0f} MB = {tree_pss / 500:.2f} x target 500 MB   "
              f"{verdict(tree_pss, 500)}")
    finally:
        for server in servers:
            server.terminate()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
