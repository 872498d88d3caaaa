"""Landing files: how a harvest shard in its own process hands its results to the one writer.

DuckDB has one writer. A shard therefore harvests with a `LandingSink` in place of the
warehouse: it reads what it needs from the warehouse read-only (validators, cursors, backoff)
and writes each batch of outcomes as a Parquet file of raw records plus a JSON file of the
sources' bookkeeping. `load_landing` then writes them through `Warehouse.write_outcomes`,
the same code as a single-process run, so the warehouse ends the same either way.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.outcomes import FetchState, SourceOutcome
from pipelines.entry import Entry
from pipelines.store.warehouse import ENTRY_SCHEMA, BackoffPolicy, SourceCounts, Warehouse, entries_table

# The bookkeeping fields of a SourceOutcome (its records travel in the Parquet file).
OUTCOME_FIELDS = ("source_id", "status", "http_status", "error", "entries_read", "feed_url", "validators",
                  "requests", "bytes", "duration_s", "warning", "retry_at", "state")


class LandingSink:
    """Stands in for the Warehouse in `harvest_kind` during a shard's harvest."""

    def __init__(self, reader: Warehouse, directory: Path):
        self.reader = reader
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.reader.path

    def fetch_state(self, detail_kinds: tuple[str, ...] = ()) -> FetchState:
        return self.reader.fetch_state(detail_kinds)

    def write_outcomes(self, run_id: str, outcomes: list[SourceOutcome],
                       backoff: BackoffPolicy = BackoffPolicy()) -> list[SourceCounts]:
        with self._lock:
            number = next(self._numbers)
        stem = self.directory / f"part-{number:06d}"
        records = [r for o in outcomes for r in o.records]
        pq.write_table(entries_table(records), stem.with_suffix(".parquet.tmp"))
        stem.with_suffix(".parquet.tmp").rename(stem.with_suffix(".parquet"))
        bookkeeping = [{name: _jsonable(getattr(o, name)) for name in OUTCOME_FIELDS} for o in outcomes]
        stem.with_suffix(".json.tmp").write_text(json.dumps({"run_id": run_id, "outcomes": bookkeeping}),
                                                 encoding="utf-8")
        stem.with_suffix(".json.tmp").rename(stem.with_suffix(".json"))
        # New/updated/unchanged are known only once the writer compares with the warehouse.
        return [SourceCounts(o.source_id, o.status, o.error, o.http_status, o.entries_read, 0, 0, 0)
                for o in outcomes]


def load_landing(warehouse: Warehouse, directory: Path,
                 backoff: BackoffPolicy = BackoffPolicy()) -> list[SourceCounts]:
    """Write every landed batch under `directory` into the warehouse, oldest first, each under the
    run that landed it."""
    counts: list[SourceCounts] = []
    parts = sorted(Path(directory).rglob("part-*.json"), key=lambda p: (p.stat().st_mtime_ns, str(p)))
    for meta_path in parts:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        table = pq.read_table(meta_path.with_suffix(".parquet"), schema=ENTRY_SCHEMA)
        by_source: dict[str, list[Entry]] = {}
        for row in table.to_pylist():
            record = Entry.from_row(row)
            by_source.setdefault(record.source_id, []).append(record)
        outcomes = []
        for data in meta["outcomes"]:
            outcome = SourceOutcome(**{**data, "validators": [tuple(v) for v in data["validators"]],
                                       "retry_at": datetime.fromisoformat(data["retry_at"]) if data["retry_at"] else None})
            outcome.records = by_source.get(outcome.source_id, [])
            outcomes.append(outcome)
        counts.extend(warehouse.write_outcomes(meta["run_id"], outcomes, backoff))
    return counts


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value

