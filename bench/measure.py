"""Running a command while sampling its memory, and the plain-GET floor: shared by the benchmarks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import httpx
import psutil


@dataclass
class Measured:
    seconds: float
    main_mb: float   # peak RSS of the command's own process
    tree_mb: float   # peak of the sum over it and its children (parse workers, helpers)
    returncode: int


def run_with_memory(command: list[str], env: dict, ok_codes: tuple[int, ...] = (0,)) -> Measured:
    started = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main_peak = tree_peak = 0
    done = threading.Event()

    def sample():
        nonlocal main_peak, tree_peak
        while not done.is_set():
            try:
                main_peak = max(main_peak, process.memory_info().rss)
                tree = [process] + process.children(recursive=True)
                tree_peak = max(tree_peak, sum(p.memory_info().rss for p in tree if p.is_running()))
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
    return Measured(seconds, main_peak / 1e6, tree_peak / 1e6, process.returncode)


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
