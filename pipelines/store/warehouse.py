"""The DuckDB warehouse: opening it (with migrations and a write lock) and writing harvests.

One process writes at a time (a lock file next to the database says which run holds
it); within a run, one thread writes, one transaction per batch of whole sources, so a
source's records land all together or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa
from filelock import FileLock, Timeout

from pipelines.dates import utc_now
from pipelines.store.connection import connect, registered, transaction
from pipelines.errors import HubError, WarehouseLockedError
from pipelines.tuning import return_freed_memory
from pipelines.outcomes import FetchState, SourceOutcome
from pipelines.entry import ENTRY_COLUMNS, Column, Entry

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")
RECONNECT_WAIT_S = 60.0   # how long a reconnect waits for a reader that opened the file in between


def migrations_dir() -> Path:
    packaged = Path(__file__).parent / "migrations"  # inside a built wheel
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "warehouse" / "migrations"


# --- the write lock -------------------------------------------------------------------

@contextmanager
def write_lock(db_path: Path, run_id: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold `<db>.lock` while writing; wait up to `wait_s` for another run to finish.

    An flock: the kernel drops it when the holder's process ends, so a crashed run leaves no
    stale lock. Re-entrant within the process (the runner holds it and its assets re-enter)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # Never filelock's soft fallback on a filesystem without flock: its marker outlives a crash,
    # and flock(1) in docs/deploy.md would not see it.
    lock = FileLock(str(db_path) + ".lock", is_singleton=True, thread_local=False, fallback_to_soft=False)
    try:
        lock.acquire(timeout=wait_s, poll_interval=0.2)
    except Timeout:
        waited = f" after waiting {wait_s:.0f}s" if wait_s else ""
        raise WarehouseLockedError(f"warehouse {db_path} is locked by {_lock_holder(lock.lock_file)}{waited}") \
            from None
    try:
        if lock.lock_counter == 1:  # the first hold says who holds it, for a run that is turned away
            Path(lock.lock_file).write_text(
                json.dumps({"run_id": run_id, "pid": os.getpid(), "since": utc_now().isoformat()}))
        yield
    finally:
        lock.release()


def _lock_holder(lock_file: str) -> str:
    try:
        info = json.loads(Path(lock_file).read_text() or "{}")
        return f"run {info.get('run_id', '?')} (pid {info.get('pid', '?')}, since {info.get('since', '?')})"
    except (OSError, ValueError):
        return "another run"


# --- opening and migrating --------------------------------------------------------------

def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for path in sorted(migrations_dir().glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match or int(match.group(1)) in done:
            continue
        version = int(match.group(1))
        with transaction(con):
            con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, path.name, utc_now()])
        applied.append(version)
    with transaction(con):
        ensure_columns(con, "raw_entries", ENTRY_COLUMNS)
    return applied


@contextmanager
def open_for_writing(path: Path, run_id: str, wait_s: float = 0.0) -> Iterator["Warehouse"]:
    with write_lock(path, run_id, wait_s):
        warehouse = Warehouse(connect(path), path)
        try:
            apply_migrations(warehouse.con)
            yield warehouse
        finally:
            warehouse.con.close()   # the warehouse's connection may have been replaced (reconnect)
            return_freed_memory()  # the next stage starts from the process's size, not this one's peak


@contextmanager
def open_for_reading(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    if not path.exists():
        raise HubError(f"no warehouse at {path} yet: run `opengovtech run` first")
    con = connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


# --- writing harvests --------------------------------------------------------------------

@dataclass
class SourceCounts:
    source_id: str
    status: str
    error: str | None
    http_status: int | None
    fetched: int
    new: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class BackoffPolicy:
    after_failures: int = 3
    base_hours: float = 24.0
    max_days: float = 30.0


_UTC = pa.timestamp("us", tz="UTC")
# The Arrow type a declared column's values are staged in, by its DuckDB type.
_ARROW_TYPES = {"VARCHAR": pa.string(), "BOOLEAN": pa.bool_(), "TIMESTAMPTZ": _UTC, "DOUBLE": pa.float64(),
                "VARCHAR[]": pa.list_(pa.string())}
ENTRY_KEY = ("source_id", "entry_key")   # raw_entries' primary key: what an upsert matches on


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    """The Arrow schema rows of declared columns are staged in (entries, landed or written)."""
    return pa.schema([(column.name, _ARROW_TYPES[column.sql_type]) for column in columns])


def upsert_entries_sql(columns: tuple[Column, ...] = ENTRY_COLUMNS) -> str:
    """Write staged entries (`staging_records`) whole; changed_at moves only when the content_hash does."""
    names = ", ".join(column.name for column in columns)
    updates = ", ".join(f"{c.name} = excluded.{c.name}" for c in columns if c.name not in ENTRY_KEY)
    return f"""
        INSERT INTO raw_entries ({names}, first_seen_at, last_seen_at, changed_at, last_run_id)
        SELECT {names}, $now, $now, $now, $run FROM staging_records
        ON CONFLICT ({", ".join(ENTRY_KEY)}) DO UPDATE SET
          changed_at = CASE WHEN raw_entries.content_hash IS DISTINCT FROM excluded.content_hash
                            THEN excluded.changed_at ELSE raw_entries.changed_at END,
          {updates}, last_seen_at = excluded.last_seen_at, last_run_id = excluded.last_run_id"""


ENTRY_SCHEMA = arrow_schema(ENTRY_COLUMNS)
UPSERT_ENTRIES_SQL = upsert_entries_sql()
_RUN_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("source_id", pa.string()), ("finished_at", _UTC), ("status", pa.string()),
    ("http_status", pa.int32()), ("error", pa.string()), ("warning", pa.string()), ("entries_read", pa.int32()),
    ("new", pa.int32()),
    ("updated", pa.int32()), ("unchanged", pa.int32()), ("requests", pa.int32()), ("bytes", pa.int64()),
    ("duration_s", pa.float64()),
])
_HEALTH_SCHEMA = pa.schema([
    ("source_id", pa.string()), ("last_run_at", _UTC), ("last_run_id", pa.string()), ("status", pa.string()),
    ("http_status", pa.int32()), ("error", pa.string()), ("warning", pa.string()), ("items_seen", pa.int32()),
    ("consecutive_failures", pa.int32()), ("last_success_at", _UTC), ("feed_url", pa.string()),
    ("next_attempt_at", _UTC),
])
_SOURCES_SCHEMA = pa.schema([
    ("source_id", pa.string()), ("kind", pa.string()), ("url", pa.string()), ("org", pa.string()),
    ("tagged_only", pa.bool_()), ("config_json", pa.string()), ("line", pa.int32()), ("active", pa.bool_()),
    ("updated_at", _UTC),
])
_STATE_SCHEMA = pa.schema([("source_id", pa.string()), ("state_json", pa.string()), ("updated_at", _UTC)])
_CACHE_SCHEMA = pa.schema([
    ("url", pa.string()), ("etag", pa.string()), ("last_modified", pa.string()), ("updated_at", _UTC),
])


# A source too large to write in one transaction is written in parts of about this much text: a
# small share of the harvest's DuckDB memory limit, as the harvester's batches are.
ENTRIES_PART_BYTES = 2_000_000


def _parts(records: list[Entry], part_bytes: int) -> Iterator[list[Entry]]:
    part, size = [], 0
    for record in records:
        part.append(record)
        size += record.text_bytes()
        if size >= part_bytes:
            yield part
            part, size = [], 0
    if part:
        yield part


def _source_counts(outcomes: list[SourceOutcome], counts: dict[str, tuple[int, int, int]]) -> list[SourceCounts]:
    result = []
    for o in outcomes:
        new, updated, unchanged = counts.get(o.source_id, (0, 0, 0))
        result.append(SourceCounts(o.source_id, o.status, o.error, o.http_status, o.entries_read,
                                   new, updated, unchanged))
    return result


class Warehouse:
    """Write access to the warehouse; the only code that changes it during a harvest."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self.con = con
        self.path = path

    def reconnect(self, wait_s: float = RECONNECT_WAIT_S) -> None:
        """Close the DuckDB connection and open a new one, letting go of all DuckDB held for it.

        Our write lock is held throughout; DuckDB's own file lock is not, so a reader (a search)
        that opens the file in between is waited for."""
        self.con.close()
        return_freed_memory()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.con = connect(self.path)
                return
            except WarehouseLockedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def sync_sources(self, rows: list[dict]) -> None:
        """Record the registry; sources no longer listed stay, marked inactive (their items are kept)."""
        now = utc_now()
        table_rows = [(r["source_id"], r["kind"], r.get("url"), r.get("org"), r.get("tagged_only"),
                       r["config_json"], r.get("line"), True, now) for r in rows]
        recorded = self.con.execute("SELECT source_id, kind, url, org, tagged_only, config_json, line FROM sources "
                                    "WHERE active").fetchall()
        if sorted(recorded) == sorted(row[:7] for row in table_rows):
            return   # recorded as it is: an unchanged registry costs a read, not a write transaction
        with transaction(self.con):
            self.con.execute("UPDATE sources SET active = FALSE")
            self._insert_from_rows(
                """INSERT INTO sources SELECT * FROM {rows}
                   ON CONFLICT (source_id) DO UPDATE SET kind = excluded.kind, url = excluded.url,
                     org = excluded.org, tagged_only = excluded.tagged_only, config_json = excluded.config_json,
                     line = excluded.line, active = TRUE, updated_at = excluded.updated_at""",
                table_rows, _SOURCES_SCHEMA)

    def prune_removed_sources(self) -> list[str]:
        """Delete what sources no longer in sources.yaml left behind (only on `run --prune`)."""
        removed = [r[0] for r in self.con.execute(
            "SELECT source_id FROM sources WHERE NOT active ORDER BY source_id").fetchall()]
        if not removed:
            return []
        with transaction(self.con):
            for table in ("raw_entries", "source_health", "source_state", "sources"):
                self.con.execute(f"DELETE FROM {table} WHERE source_id IN (SELECT unnest($ids))", {"ids": removed})
        return removed

    def fetch_state(self, detail_kinds: tuple[str, ...] = ()) -> FetchState:
        validators = {url: (etag, lm) for url, etag, lm in self.con.execute(
            "SELECT url, etag, last_modified FROM http_cache").fetchall()}
        feed_urls = dict(self.con.execute(
            "SELECT source_id, feed_url FROM source_health WHERE feed_url IS NOT NULL").fetchall())
        next_attempts = dict(self.con.execute(
            "SELECT source_id, next_attempt_at FROM source_health WHERE next_attempt_at > now()").fetchall())
        source_state = {source_id: json.loads(text) for source_id, text in self.con.execute(
            "SELECT source_id, state_json FROM source_state").fetchall()}
        previous_details: dict[str, dict[str, str]] = {}
        if detail_kinds:
            for source_id, entry_key, details in self.con.execute(
                    """SELECT r.source_id, r.entry_key, r.details FROM raw_entries r JOIN sources s USING (source_id)
                       WHERE s.kind IN (SELECT unnest($kinds)) AND r.details IS NOT NULL""",
                    {"kinds": list(detail_kinds)}).fetchall():
                previous_details.setdefault(source_id, {})[entry_key] = details
        return FetchState(validators=validators, feed_urls=feed_urls, next_attempts=next_attempts,
                          source_state=source_state, previous_details=previous_details,
                          linked_repos=self._linked_repositories() if "github" in detail_kinds else {})

    def _linked_repositories(self) -> dict[str, str]:
        """What the linked_repositories asset recorded after the last normalise, in name order."""
        return dict(self.con.execute("SELECT name, page FROM linked_repositories ORDER BY lower(name)").fetchall())

    def write_outcomes(self, run_id: str, outcomes: list[SourceOutcome],
                       backoff: BackoffPolicy = BackoffPolicy()) -> list[SourceCounts]:
        """Write whole sources in one transaction; return per-source new/updated/unchanged counts.

        When the batch cannot be written, each source is written on its own, so a source whose
        entries cannot be stored fails alone: its health says why, and every other source lands."""
        try:
            return self._write_together(run_id, outcomes, backoff)
        except Exception:
            if not any(o.records for o in outcomes):
                raise  # the bookkeeping itself cannot be written: the warehouse is at fault
            log.warning("a batch of %d sources could not be written; writing them one by one", len(outcomes))
        counts = []
        for outcome in outcomes:
            try:
                try:
                    counts += self._write_together(run_id, [outcome], backoff)
                except duckdb.OutOfMemoryException:
                    counts += self._write_in_parts(run_id, outcome, backoff)
            except Exception as exc:
                if not outcome.records:
                    raise
                problem = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                failed = SourceOutcome(source_id=outcome.source_id, status="failed", http_status=outcome.http_status,
                                       error=f"its {len(outcome.records):,} entries could not be stored: {problem}",
                                       entries_read=outcome.entries_read, requests=outcome.requests,
                                       bytes=outcome.bytes, duration_s=outcome.duration_s)
                counts += self._write_together(run_id, [failed], backoff)
        return counts

    def _write_together(self, run_id: str, outcomes: list[SourceOutcome], backoff: BackoffPolicy) -> list[SourceCounts]:
        now = utc_now()
        # A source stopped part way (a GitHub rate limit) still carries what it fetched: kept.
        records = [r for o in outcomes for r in o.records]
        with transaction(self.con):
            counts = self._upsert_records(run_id, records, now) if records else {}
            self._write_bookkeeping(run_id, outcomes, counts, now, backoff)
        return _source_counts(outcomes, counts)

    def _write_in_parts(self, run_id: str, outcome: SourceOutcome, backoff: BackoffPolicy) -> list[SourceCounts]:
        """One source whose entries do not fit in one transaction at the memory limit: its entries in
        parts of ENTRIES_PART_BYTES, a transaction each, then its bookkeeping. The fetch state is
        written last, so a run stopped part way fetches the source again; the parts kept are upserts."""
        now = utc_now()
        new = updated = unchanged = 0
        for part in _parts(outcome.records, ENTRIES_PART_BYTES):
            with transaction(self.con):
                added = self._upsert_records(run_id, part, now).get(outcome.source_id, (0, 0, 0))
            new, updated, unchanged = new + added[0], updated + added[1], unchanged + added[2]
        counts = {outcome.source_id: (new, updated, unchanged)}
        with transaction(self.con):
            self._write_bookkeeping(run_id, [outcome], counts, now, backoff)
        return _source_counts([outcome], counts)

    def _upsert_records(self, run_id: str, records: list[Entry], now: datetime) -> dict[str, tuple[int, int, int]]:
        with registered(self.con, "staging_records", entries_table(records)):
            counts = {
                source_id: (new, updated, unchanged)
                for source_id, new, updated, unchanged in self.con.execute(
                    """SELECT s.source_id,
                              count(*) FILTER (WHERE r.entry_key IS NULL),
                              count(*) FILTER (WHERE r.content_hash <> s.content_hash),
                              count(*) FILTER (WHERE r.content_hash = s.content_hash)
                       FROM staging_records s
                       LEFT JOIN raw_entries r ON r.source_id = s.source_id AND r.entry_key = s.entry_key
                       GROUP BY s.source_id""").fetchall()
            }
            self.con.execute(UPSERT_ENTRIES_SQL, {"now": now, "run": run_id})
        return counts

    def _write_bookkeeping(self, run_id, outcomes, counts, now, backoff: BackoffPolicy) -> None:
        runs, health, cache, states = [], [], [], []
        for o in outcomes:
            new, updated, unchanged = counts.get(o.source_id, (0, 0, 0))
            runs.append((run_id, o.source_id, now, o.status, o.http_status, o.error, o.warning, o.entries_read,
                         new, updated, unchanged, o.requests, o.bytes, o.duration_s))
            if o.status == "backoff":
                continue  # not tried this run: its health stays as the last attempt left it
            health.append((o.source_id, now, run_id, o.status, o.http_status, o.error, o.warning,
                           len(o.records) if o.status == "ok" else None,
                           0 if o.succeeded else 1, now if o.succeeded else None, o.feed_url, o.retry_at))
            # Validators come only with a body that was read and kept, so a 304 next time is safe.
            cache.extend((url, etag, lm, now) for url, etag, lm in o.validators)
            if o.state is not None:
                states.append((o.source_id, json.dumps(o.state, sort_keys=True), now))
        self._insert_from_rows("INSERT OR REPLACE INTO source_runs SELECT * FROM {rows}", runs, _RUN_SCHEMA)
        # A failed run keeps the last good item count and feed URL; failures in a row are counted.
        # failures in a row after this run: 1 for a new row, previous + 1 on conflict
        self._insert_from_rows(
            f"""INSERT INTO source_health
                SELECT * REPLACE ({_next_attempt('1', 'last_run_at', 'next_attempt_at', 'consecutive_failures')}
                                  AS next_attempt_at)
                FROM {{rows}}
               ON CONFLICT (source_id) DO UPDATE SET
                 last_run_at = excluded.last_run_at, last_run_id = excluded.last_run_id,
                 status = excluded.status, http_status = excluded.http_status, error = excluded.error,
                 warning = excluded.warning, items_seen = coalesce(excluded.items_seen, source_health.items_seen),
                 consecutive_failures = CASE WHEN excluded.consecutive_failures = 0 THEN 0
                                             ELSE source_health.consecutive_failures + 1 END,
                 last_success_at = coalesce(excluded.last_success_at, source_health.last_success_at),
                 feed_url = coalesce(excluded.feed_url, source_health.feed_url),
                 next_attempt_at = {_next_attempt('source_health.consecutive_failures + 1', 'excluded.last_run_at',
                                                  'excluded.next_attempt_at', 'excluded.consecutive_failures')}""",
            health, _HEALTH_SCHEMA,
            {"after": backoff.after_failures, "base_s": backoff.base_hours * 3600,
             "max_s": backoff.max_days * 86400},
        )
        if cache:
            self._insert_from_rows("INSERT OR REPLACE INTO http_cache SELECT * FROM {rows}", cache, _CACHE_SCHEMA)
        if states:
            self._insert_from_rows("INSERT OR REPLACE INTO source_state SELECT * FROM {rows}", states, _STATE_SCHEMA)

    def _insert_from_rows(self, sql: str, rows: list[tuple], schema: pa.Schema, params: dict | None = None) -> None:
        """Run `sql` over `rows` as an Arrow table: far faster than executemany in DuckDB."""
        with registered(self.con, "bookkeeping_rows", arrow_table(rows, schema)):
            self.con.execute(sql.format(rows="bookkeeping_rows"), params or {})

    def get_state(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM pipeline_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO pipeline_state VALUES (?, ?)", [key, value])


def _next_attempt(failures: str, run_at: str, server_retry_at: str, this_run_failed: str) -> str:
    """SQL for source_health.next_attempt_at: none after a success; after `$after` failures in a
    row, `$base_s` seconds doubling with each further failure up to `$max_s`; never earlier than
    a time the server itself asked for (Retry-After)."""
    return f"""CASE WHEN {this_run_failed} = 0 THEN NULL
                    WHEN {failures} >= $after THEN greatest({server_retry_at}, {run_at} + to_seconds(
                         cast(least($base_s * pow(2, {failures} - $after), $max_s) AS BIGINT)))
                    ELSE {server_retry_at} END"""


def arrow_table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """Rows (tuples in the schema's column order) as an Arrow table of that schema."""
    columns = list(zip(*rows)) if rows else [[] for _ in schema]
    return pa.Table.from_arrays([pa.array(col, type=schema.field(i).type) for i, col in enumerate(columns)],
                                schema=schema)


def entries_table(records: list[Entry]) -> pa.Table:
    """Records as an Arrow table of ENTRY_SCHEMA: what the store stages and a shard lands."""
    return arrow_table([record.row() for record in records], ENTRY_SCHEMA)


def ensure_columns(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[Column, ...]) -> list[str]:
    """Add to `table` each declared column it does not have yet; returns their names.

    The shipped migrations made the columns there were then; a column declared since is added
    from its declaration (at the end of the table), without a migration of its own."""
    # pragma_table_info reads the one table's entry; duckdb_columns() loads every table's, which
    # was most of what opening the warehouse cost a step. Qualified: a temp table may not stand in.
    database = con.execute("SELECT current_database()").fetchone()[0].replace('"', '""')
    have = {name for (name,) in con.execute("SELECT name FROM pragma_table_info($table)",
                                            {"table": f'"{database}".main.{table}'}).fetchall()}
    added = [column for column in columns if column.name not in have]
    for column in added:
        con.execute(f"ALTER TABLE {table} ADD COLUMN {column.name} {column.sql_type}")
    return [column.name for column in added]
