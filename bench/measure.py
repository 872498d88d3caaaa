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
    started_at: float = 0.0   # unix time the command was started
    by_process: dict[str, float] = field(default_factory=dict)  # peak RSS MB per kind of child process
    timeline: list[tuple[float, float, float]] = field(default_factory=list)  # (unix time, main MB, tree MB)
    # Summing RSS counts a page shared by the forkserver and its parse workers once per process;
    # PSS splits each shared page between the processes sharing it, so its sum is what the tree holds.
    tree_pss_mb: float = 0.0

    def peaks_between(self, start: float, end: float) -> tuple[float, float, float]:
        """(main RSS at the start, peak main, peak tree) MB sampled between two unix times, e.g. one
        Dagster step's start and end: what a stage found in the process, and what it took."""
        inside = [(main, tree) for at, main, tree in self.timeline if start <= at <= end]
        return (inside[0][0] if inside else 0.0, max((m for m, _ in inside), default=0.0),
                max((t for _, t in inside), default=0.0))


LABEL_MARKERS = (("pagefind", "pagefind"), ("forkserver", "forkserver/parse worker"),
                 ("multiprocessing", "parse worker"), ("dagster", "dagster"))
KNOWN_LABELS = {label for _, label in LABEL_MARKERS}


def process_label(process: psutil.Process) -> str:
    """A short name for what a child process is, so the peaks say which part of the run holds memory."""
    try:
        words = process.cmdline()
    except psutil.Error:
        return "?"
    text = " ".join(words)
    for marker, label in LABEL_MARKERS:
        if marker in text:
            return label
    return Path(words[0]).name if words else "?"


# Reading a process's PSS walks its page tables (psutil reads /proc/<pid>/smaps): ~9 ms for a
# 550 MB process, so sampling it with the RSS every 50 ms took 30-40 % of one of the two cores
# from the run being measured. It is read every PSS_EVERY-th sample (once a second) instead.
PSS_EVERY = 20


class TreeSampler:
    """Samples a process and its children every 50 ms while in use: peak RSS of the process, of the
    sum over the tree (without the process itself when `count_self` is false), per kind of child,
    and a (unix time, main MB, tree MB) timeline; and the tree's PSS once a second."""

    def __init__(self, process: psutil.Process, *, count_self: bool = True):
        self.process = process
        self.count_self = count_self
        self.main_peak = self.tree_peak = self.pss_peak = 0
        self.label_peaks: dict[str, int] = {}
        # A process's label read when first seen: an exiting one has no command line left to read.
        self._labels: dict[int, str] = {}
        self.timeline: list[tuple[float, float, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        tick = 0
        while not self._done.is_set():
            with_pss = tick % PSS_EVERY == 0
            tick += 1
            try:
                main = self.process.memory_info().rss
                self.main_peak = max(self.main_peak, main)
                total = main if self.count_self else 0
                pss = _pss(self.process) if self.count_self and with_pss else 0
                per_label: dict[str, int] = {}
                for child in self.process.children(recursive=True):
                    try:
                        rss = child.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    if with_pss:
                        pss += _pss(child)
                    label = self._labels.get(child.pid) or process_label(child)
                    # A child caught between fork and exec still shows its parent's command line
                    # (and the parent's pages as its RSS): only a label that names what the child
                    # is gets kept, so the next sample reads the command line it has exec'd.
                    if label in KNOWN_LABELS:
                        self._labels[child.pid] = label
                    per_label[label] = per_label.get(label, 0) + rss
                self.tree_peak = max(self.tree_peak, total)
                self.pss_peak = max(self.pss_peak, pss)
                self.timeline.append((time.time(), main / 1e6, total / 1e6))
                for label, rss in per_label.items():
                    self.label_peaks[label] = max(self.label_peaks.get(label, 0), rss)
            except psutil.Error:
                pass
            time.sleep(0.05)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def run_with_memory(command: list[str], env: dict, ok_codes: tuple[int, ...] = (0,)) -> Measured:
    started_at = time.time()
    started = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with TreeSampler(process) as sampler:
        _, stderr = process.communicate()
        seconds = time.perf_counter() - started
    if process.returncode not in ok_codes:
        print(stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return Measured(seconds, sampler.main_peak / 1e6, sampler.tree_peak / 1e6, process.returncode, started_at,
                    {label: rss / 1e6 for label, rss in sampler.label_peaks.items()}, sampler.timeline,
                    sampler.pss_peak / 1e6)


def memory_breakdown(by_process: dict[str, float], stage_memory: dict[str, tuple[float, float, float]]) -> list[str]:
    """Two report lines: peak RSS per kind of child process, and per stage the main process's RSS
    when it started, its peak, and the tree's peak."""
    children = ", ".join(f"{k} {v:.0f}" for k, v in sorted(by_process.items(), key=lambda kv: -kv[1]))
    return [f"peak RSS MB of child processes by kind: {children}",
            "RSS MB during each stage (main at start -> main peak / tree peak): "
            + ", ".join(f"{stage} {start:.0f} -> {main:.0f} / {tree:.0f}"
                        for stage, (start, main, tree) in stage_memory.items())]


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


# Step keys by stage: the harvest graph's ops are "harvest.plan_shards", "harvest.harvest_shard[…]", …
STAGES = {"harvest": ("source_registry", "raw_", "harvest."), "normalise": ("hub_items",), "index": ("search_index",),
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


def run_events_span(home: Path) -> tuple[float, float]:
    """(first, last) unix times of the latest run's events in this Dagster home: what a run spent
    before its first event is starting Python, importing and planning; after its last, exiting."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.get_records_for_run(run.run_id, limit=1_000_000).records
    times = [record.event_log_entry.timestamp for record in records]
    return (min(times), max(times)) if times else (0.0, 0.0)


def normalise_steps(home: Path) -> dict[str, float]:
    """Seconds of each step of the latest hub_items build in this Dagster home (its metadata)."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("hub_items"))
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
    return {key.removeprefix("seconds_"): value.value for key, value in metadata.items()
            if key.startswith("seconds_")}
