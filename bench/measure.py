"""Running a command while sampling its memory, and the plain-GET floor: shared by the benchmarks."""

from __future__ import annotations

import asyncio
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
    main_peak = tree_peak = 0
    label_peaks: dict[str, float] = {}
    done = threading.Event()

    def sample():
        nonlocal main_peak, tree_peak
        while not done.is_set():
            try:
                main_peak = max(main_peak, process.memory_info().rss)
                children = process.children(recursive=True)
                total = process.memory_info().rss
                per_label: dict[str, int] = {}
                for child in children:
                    try:
                        rss = child.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    label = process_label(child)
                    per_label[label] = per_label.get(label, 0) + rss
                tree_peak = max(tree_peak, total)
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
                    {label: rss / 1e6 for label, rss in label_peaks.items()})


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
