"""Running a command while sampling its memory, and the plain-GET floor: shared by the benchmarks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil


@dataclass
class Measured:
    seconds: float
    main_mb: float   # peak RSS of the command's own process
    tree_mb: float   # peak of the sum over it and its children (parse workers, helpers)
    returncode: int
    by_process: dict[str, float] = field(default_factory=dict)  # peak RSS MB per kind of child process
    timeline: list[tuple[float, float, float]] = field(default_factory=list)  # (unix time, main MB, tree MB)
    # Summing RSS counts a page shared by the forkserver and its parse workers once per process;
    # PSS splits each shared page between the processes sharing it, so its sum is what the tree holds.
    tree_pss_mb: float = 0.0

    def peaks_between(self, start: float, end: float) -> tuple[float, float]:
        """Peak (main, tree) RSS MB sampled between two unix times, e.g. one Dagster step's start and end."""
        inside = [(main, tree) for at, main, tree in self.timeline if start <= at <= end]
        return (max((m for m, _ in inside), default=0.0), max((t for _, t in inside), default=0.0))


def process_label(process: psutil.Process) -> str:
    """A short name for what a child process is, so the peaks say which part of the run holds memory."""
    try:
        words = process.cmdline()
    except psutil.Error:
        return "?"
    text = " ".join(words)
    for marker, label in (("pagefind", "pagefind"), ("forkserver", "forkserver/parse worker"),
                          ("multiprocessing", "parse worker"), ("dagster", "dagster")):
        if marker in text:
            return label
    return Path(words[0]).name if words else "?"


def run_with_memory(command: list[str], env: dict, ok_codes: tuple[int, ...] = (0,)) -> Measured:
    started = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main_peak = tree_peak = tree_pss_peak = 0
    label_peaks: dict[str, float] = {}
    timeline: list[tuple[float, float, float]] = []
    done = threading.Event()

    def sample():
        nonlocal main_peak, tree_peak, tree_pss_peak
        while not done.is_set():
            try:
                main = process.memory_info().rss
                main_peak = max(main_peak, main)
                children = process.children(recursive=True)
                total = main
                pss = _pss(process)
                per_label: dict[str, int] = {}
                for child in children:
                    try:
                        rss = child.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    pss += _pss(child)
                    label = process_label(child)
                    per_label[label] = per_label.get(label, 0) + rss
                tree_peak = max(tree_peak, total)
                tree_pss_peak = max(tree_pss_peak, pss)
                timeline.append((time.time(), main / 1e6, total / 1e6))
                for label, rss in per_label.items():
                    label_peaks[label] = max(label_peaks.get(label, 0), rss)
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode not in ok_codes:
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return Measured(seconds, main_peak / 1e6, tree_peak / 1e6, process.returncode,
                    {label: rss / 1e6 for label, rss in label_peaks.items()}, timeline, tree_pss_peak / 1e6)


def _pss(process: psutil.Process) -> int:
    try:
        return process.memory_full_info().pss
    except (psutil.Error, AttributeError):  # gone, or no PSS on this platform
        return 0


async def floor(urls: list[str], concurrency: int = 2) -> float:
    """Seconds a plain httpx client takes to GET every URL, `concurrency` at a time (the hub's
    per-origin limit), doing nothing with the bodies: what no harvest can beat."""
    started = time.perf_counter()
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient() as client:
        async def get(url: str) -> None:
            async with slots:
                await client.get(url)
        await asyncio.gather(*(get(u) for u in urls))
    return time.perf_counter() - started


STAGES = {"harvest": ("source_registry", "raw_"), "normalise": ("hub_items",), "index": ("search_index",),
          "site": ("hub_site",)}


def stage_spans(home: Path) -> dict[str, tuple[float, float]]:
    """(start, end) unix times per stage of the latest run in this Dagster home, from its step stats."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
    spans = {}
    for stage, prefixes in STAGES.items():
        steps = [s for s in stats if s.step_key.startswith(prefixes) and s.start_time and s.end_time]
        spans[stage] = (min(s.start_time for s in steps), max(s.end_time for s in steps)) if steps else (0.0, 0.0)
    return spans
