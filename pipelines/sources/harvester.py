"""Harvest every enabled source of one kind concurrently and write what they gave.

Fetching is asyncio; parsing runs in a process pool (feedparser is pure Python, so one
core would serialise the run); writing is one thread with one DuckDB connection,
taking whole sources in batches as they finish.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
import multiprocessing
import time
import traceback
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import duckdb
import pebble

from pipelines.config import SourceBase, SourceRegistry
from pipelines.dates import utc_now
from pipelines.parse.entry_limits import PARSE_SECONDS, hold_records_to_limits
from pipelines.errors import FAILED_STATUSES, HarvestError, ParseTimeout
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import Fetcher, FetchStats, HttpSettings
from pipelines.tuning import DEFAULT_PARSE_WORKERS, call_then_return_freed_memory
from pipelines.parse import ParseOptions, parse_document
from pipelines.progress import reporter
from pipelines.net.redaction import redact
from pipelines.outcomes import SourceOutcome
from pipelines.store.warehouse import BackoffPolicy, SourceCounts, Warehouse

log = logging.getLogger(__name__)

# Source kind -> the module whose `harvest_<kind>` reads it. Imported when a source of the kind
# is harvested, so a run loads only its own kinds' modules (and what they need: bs4, markdown-it).
HARVESTERS = {
    "feed": "pipelines.sources.feed",
    "github": "pipelines.sources.github",
    "mastodon": "pipelines.sources.mastodon",
    "bluesky": "pipelines.sources.bluesky",
    "devto": "pipelines.sources.devto",
    "discourse": "pipelines.sources.discourse",
    "blog": "pipelines.sources.blog",
    "markdown": "pipelines.sources.markdown",
    "page": "pipelines.sources.page",
}


def harvest_function(kind: str) -> Callable[..., Any]:
    """The kind's harvest function: `harvest_<kind>(source, ctx, stats) -> SourceOutcome`."""
    return getattr(importlib.import_module(HARVESTERS[kind]), f"harvest_{kind}")
# Kinds that reuse what they stored last time (a repository's README until it is pushed to).
REUSES_DETAILS = {"github"}
# Each DuckDB transaction has a fixed cost that grows under CPU contention from the parse
# workers, so the writer collects whole sources for up to a second; it stops earlier at 100
# sources with entries or WRITE_BATCH_BYTES of text, because a batch is held several times over
# (records, Arrow, DuckDB's uncommitted rows and index changes): larger batches raised the peak,
# not the speed. Sources without entries (a 304, a failure) are a row of bookkeeping each: a
# batch takes up to WRITE_BATCH_OUTCOMES of them, so an unchanged run writes in a few transactions.
WRITE_BATCH_SOURCES = 100
WRITE_BATCH_OUTCOMES = 1_000
WRITE_BATCH_SECONDS = 1.0
WRITE_BATCH_BYTES = 2_000_000


@dataclass
class HarvestReport:
    run_id: str
    kind: str
    counts: list[SourceCounts] = field(default_factory=list)
    outcomes_meta: dict[str, dict] = field(default_factory=dict)  # source id -> requests/bytes/duration
    duration_s: float = 0.0

    @property
    def failed(self) -> list[SourceCounts]:
        return [c for c in self.counts if c.status in FAILED_STATUSES]

    def total(self, attribute: str) -> int:
        return sum(getattr(c, attribute) for c in self.counts)


def recorded_report(con: duckdb.DuckDBPyConnection, run_id: str, kind: str = "all",
                    source_ids: Collection[str] | None = None) -> HarvestReport:
    """A run's harvest as the warehouse recorded it in source_runs (a sharded run's counts are known
    only once its batches are loaded): of the sources `source_ids` (all if None), reported as `kind`."""
    report = HarvestReport(run_id=run_id, kind=kind)
    for (source_id, status, error, http_status, fetched, new, updated, unchanged, requests, size,
         seconds) in con.execute("""SELECT source_id, status, error, http_status, entries_read, new, updated, unchanged,
                                           requests, bytes, duration_s
                                    FROM source_runs WHERE run_id = ? ORDER BY finished_at, source_id""",
                                 [run_id]).fetchall():
        if source_ids is None or source_id in source_ids:
            report.counts.append(SourceCounts(source_id, status, error, http_status, fetched, new, updated, unchanged))
            report.outcomes_meta[source_id] = {"requests": requests or 0, "bytes": size or 0,
                                               "duration_s": round(seconds or 0.0, 3)}
    return report


def parse_workers(registry: SourceRegistry) -> int:
    return registry.defaults.parse_workers or DEFAULT_PARSE_WORKERS


def harvest_kind(registry: SourceRegistry, warehouse: Warehouse, *, kind: str, run_id: str,
                 fetcher: Fetcher | None = None, ignore_backoff: bool = False,
                 only: set[str] | None = None) -> HarvestReport:
    sources = [s for s in registry.enabled(kind) if only is None or s.id in only]
    report = HarvestReport(run_id=run_id, kind=kind)
    if not sources:
        return report
    started = time.monotonic()
    asyncio.run(_harvest(registry, warehouse, sources, run_id, report, fetcher, ignore_backoff))
    report.duration_s = time.monotonic() - started
    return report


async def _harvest(registry, warehouse, sources, run_id, report, fetcher, ignore_backoff) -> None:
    loop = asyncio.get_running_loop()
    state = warehouse.fetch_state(detail_kinds=(report.kind,) if report.kind in REUSES_DETAILS else ())
    defaults = registry.defaults
    backoff = BackoffPolicy(defaults.backoff_after_failures, defaults.backoff_base_hours, defaults.backoff_max_days)
    # Sources failing run after run wait their turn; they are reported, never dropped.
    waiting = {} if ignore_backoff else {s.id: state.next_attempts[s.id] for s in sources if s.id in state.next_attempts}
    sources = [s for s in sources if s.id not in waiting]
    # The linked-repositories source has nothing to do until stories link repositories it may read.
    sources = [s for s in sources if not getattr(s, "linked", False) or state.linked_repos]
    progress = reporter()
    progress.start(f"harvest {report.kind}", len(sources))
    queue: asyncio.Queue[SourceOutcome | None] = asyncio.Queue()
    # Bounds how many fetched-but-unwritten sources with entries are held, so memory stays flat in
    # the number of sources; one without entries gives its slot back as soon as it is queued.
    in_flight = asyncio.Semaphore(registry.defaults.global_concurrency * 2 + WRITE_BATCH_SOURCES)

    parse_pool = LazyProcessPool(parse_workers(registry))
    with parse_pool, ThreadPoolExecutor(1, thread_name_prefix="warehouse-writer") as writer:

        async def parse(body: bytes, url: str, content_type: str | None, options: ParseOptions):
            return await parse_pool.run(parse_document, body, url, content_type, options)

        # Sources being harvested or waiting to be written; a task is started only once a slot
        # is free, so a run holds a bounded number of tasks however many sources it has.
        source_tasks: dict[asyncio.Task, SourceBase] = {}
        started = 0   # sources[:started] have had a task

        async def start_sources() -> None:
            nonlocal started
            for source in sources:
                await in_flight.acquire()
                task = asyncio.create_task(one(source))
                source_tasks[task] = source
                task.add_done_callback(source_tasks.pop)
                started += 1

        starter: asyncio.Task | None = None

        async def write_loop() -> None:
            try:
                await drain_queue()
            except BaseException:
                # A write that fails must stop the run now, not leave sources waiting for
                # slots that will never be given back until the run deadline.
                if starter is not None:
                    starter.cancel()
                for task in list(source_tasks):
                    task.cancel()
                raise

        async def drain_queue() -> None:
            done = False
            while not done:
                batch = [await queue.get()]
                size = with_entries = 0
                deadline = loop.time() + WRITE_BATCH_SECONDS
                while True:
                    last = batch[-1]
                    if last is None:
                        break
                    size += last.text_bytes()
                    with_entries += bool(last.records)
                    if (with_entries >= WRITE_BATCH_SOURCES or len(batch) >= WRITE_BATCH_OUTCOMES
                            or size >= WRITE_BATCH_BYTES):
                        break
                    try:
                        batch.append(await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time())))
                    except TimeoutError:
                        break
                if None in batch:
                    done = True
                    batch = [o for o in batch if o is not None]
                if batch:
                    counts = await loop.run_in_executor(writer, warehouse.write_outcomes, run_id, batch, backoff)
                    report.counts.extend(counts)
                    for outcome in batch:
                        if outcome.records:
                            in_flight.release()
                        progress.advance(outcome.source_id)

        own_fetcher = fetcher is None
        active_fetcher = fetcher or Fetcher(HttpSettings.from_defaults(registry.defaults))
        ctx = HarvestContext(registry=registry, fetcher=active_fetcher, state=state, parse=parse,
                             run_in_workers=parse_pool.run)
        writer_task = asyncio.create_task(write_loop())
        try:
            async def one(source: SourceBase) -> None:
                # runs holding a slot (taken by start_sources)
                try:
                    outcome = await harvest_one(source, ctx)
                except asyncio.CancelledError:  # the run deadline: nothing will be written for it
                    in_flight.release()
                    raise
                report.outcomes_meta[source.id] = {"requests": outcome.requests, "bytes": outcome.bytes,
                                                   "duration_s": round(outcome.duration_s, 3)}
                if not outcome.records:
                    in_flight.release()   # a row of bookkeeping: nothing worth holding the slot for
                await queue.put(outcome)  # else the writer gives the slot back once it is written

            deadline = registry.defaults.run_deadline_s
            ends_at = loop.time() + deadline
            starter = asyncio.create_task(start_sources())
            await asyncio.wait({starter}, timeout=deadline)
            while source_tasks and loop.time() < ends_at:
                await asyncio.wait(list(source_tasks), timeout=ends_at - loop.time())
            unfinished = {task: source_tasks[task] for task in list(source_tasks)}
            starter.cancel()
            for task in unfinished:
                task.cancel()
            await asyncio.wait({starter, *unfinished})
            # Sources the run did not harvest: out of time (running, or never started), or waiting
            # out a backoff.
            not_harvested = [SourceOutcome(source_id=source.id, status="deferred",
                                           error=f"not finished within the run deadline of {deadline:g}s; "
                                                 "will be tried next run")
                             for source in [*unfinished.values(), *sources[started:]]]
            not_harvested += [SourceOutcome(source_id=source_id, status="backoff",
                                            error=f"failing repeatedly: next attempt after {when:%Y-%m-%d %H:%M} UTC "
                                                  "(run with --ignore-backoff to try now)")
                              for source_id, when in waiting.items()]
        finally:
            await queue.put(None)
            await writer_task
            if own_fetcher:
                await active_fetcher.__aexit__(None, None, None)
        if not_harvested:
            report.counts.extend(await loop.run_in_executor(writer, warehouse.write_outcomes, run_id, not_harvested,
                                                            backoff))
    progress.finish()


class LazyProcessPool:
    """The parse workers, started on first use: a run where every source answers 304 never
    pays for starting them. A task that overruns its time, or whose source is cancelled at the
    run deadline, has its worker stopped (pebble), so no parse outlives its limit."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: pebble.ProcessPool | None = None

    def get(self) -> pebble.ProcessPool:
        if self._pool is None:
            # spawn, not fork: the harvest runs inside Dagster with threads alive. Not forkserver
            # either: its server process would stay for the rest of the run, holding the parsers.
            # Workers import what they run: the parsers, not the warehouse or Dagster.
            self._pool = pebble.ProcessPool(self.workers, context=multiprocessing.get_context("spawn"))
        return self._pool

    async def run(self, fn: Callable[..., Any], *args: Any, seconds: float = PARSE_SECONDS) -> Any:
        """`fn(*args)` in a worker; ParseTimeout once it has run `seconds`."""
        future = self.get().schedule(call_then_return_freed_memory, (fn, *args), timeout=seconds)
        try:
            return await asyncio.wrap_future(future)
        except TimeoutError:
            raise ParseTimeout(f"{_what_ran(fn, args)} took longer than {seconds:g}s (the limit for one document) "
                               "and was stopped") from None
        except pebble.ProcessExpired as exc:
            raise ParseTimeout(f"{_what_ran(fn, args)} stopped its worker process ({exc})") from None

    def __enter__(self) -> "LazyProcessPool":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.stop()  # nothing is left to wait for: every task was awaited or cancelled
            self._pool.join()


def _what_ran(fn: Callable[..., Any], args: tuple) -> str:
    """'parsing https://…' for a document, else the function's name."""
    if fn is parse_document and len(args) > 1:
        return f"parsing {args[1]}"
    return f"{getattr(fn, '__name__', 'a worker task')}"


async def harvest_one(source: SourceBase, ctx: HarvestContext) -> SourceOutcome:
    """Never raises: every failure becomes an outcome with a status and a plain reason."""
    started = time.monotonic()
    stats = FetchStats()  # owned here so a source that fails still reports what it cost
    # What a source's last run left (a cursor, the files already read) holds only for the
    # configuration it was made under: an edited source starts afresh.
    config_key = hashlib.sha1(source.model_dump_json().encode()).hexdigest()[:16]
    stored = ctx.state.source_state.get(source.id)
    if stored is not None and stored.get("_config") not in (None, config_key):
        ctx.state.source_state.pop(source.id)
    try:
        outcome = await harvest_function(source.kind)(source, ctx, stats)
    except HarvestError as exc:
        outcome = SourceOutcome(source_id=source.id, status=exc.status, http_status=exc.http_status,
                                error=exc.reason)
        if exc.retry_after_s:
            outcome.retry_at = utc_now() + timedelta(seconds=exc.retry_after_s)
    except Exception as exc:  # a bug or an unforeseen input must not stop the other sources
        log.error("unexpected error harvesting source %s: %s", source.id,
                  redact("".join(traceback.format_exception(exc))))
        outcome = SourceOutcome(source_id=source.id, status="failed",
                                error=f"unexpected error: {type(exc).__name__}: {exc}")
    if outcome.records:
        outcome.records, limits = hold_records_to_limits(outcome.records, outcome.entries_read)
        if limits:
            outcome.warning = "; ".join(filter(None, (outcome.warning, str(limits))))
    outcome.error, outcome.warning = redact(outcome.error), redact(outcome.warning)
    outcome.duration_s = time.monotonic() - started
    outcome.requests, outcome.bytes = stats.requests, stats.bytes
    if outcome.state is not None:
        outcome.state["_config"] = config_key
    return outcome
