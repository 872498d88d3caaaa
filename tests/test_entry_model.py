"""The one entry model: its columns declared once, its content_hash computed by one recipe."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pyarrow as pa

from pipelines.outcomes import SourceOutcome
from pipelines.entry import ENTRY_COLUMNS, IDENTITY_FIELDS, Column, Entry
from pipelines.store.warehouse import (ENTRY_SCHEMA, arrow_schema, ensure_columns, entries_table,
                                 open_for_writing, upsert_entries_sql)

BERLIN = timezone(timedelta(hours=2))


def record(**changes) -> Entry:
    fields = dict(source_id="council", entry_key="guid-1", item_id="https://council.example/bins",
                  url="https://council.example/bins", canonical_url="https://council.example/bins",
                  title="Bin collections, as open data", summary="Where and when", content_html="<p>Where</p>",
                  content_text="Where", author="Ada", published_at=datetime(2026, 3, 1, 9, 30, tzinfo=BERLIN),
                  updated_at=None, date_missing=False, tags=["opendata"], match_reasons=["tag opendata"],
                  matched=True, raw_json='{"id": 1}')
    return Entry(**{**fields, **changes})


def stored_columns(con) -> dict[str, str]:
    return {name: sql_type for name, sql_type in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'raw_entries'").fetchall()}


def test_the_arrow_schema_the_row_and_the_table_follow_the_one_declaration(tmp_path):
    names = [column.name for column in ENTRY_COLUMNS]
    assert ENTRY_SCHEMA.names == names
    assert len(record().row()) == len(names)
    assert [f.name for f in dataclasses.fields(Entry)] + ["content_hash"] == names
    with open_for_writing(tmp_path / "hub.duckdb", "run") as wh:
        stored = stored_columns(wh.con)
        # DuckDB's own name for each declared type (TIMESTAMPTZ is TIMESTAMP WITH TIME ZONE).
        declared = {c.name: wh.con.execute(f"SELECT typeof(NULL::{c.sql_type})").fetchone()[0] for c in ENTRY_COLUMNS}
    assert declared.items() <= stored.items()
    table = entries_table([record()])
    assert table.schema == ENTRY_SCHEMA and table.num_rows == 1


def test_a_column_declared_once_is_staged_inserted_and_stored(tmp_path):
    columns = ENTRY_COLUMNS + (Column("reading_minutes", "VARCHAR"),)
    assert arrow_schema(columns).field("reading_minutes").type == pa.string()
    assert "reading_minutes = excluded.reading_minutes" in upsert_entries_sql(columns)
    with open_for_writing(tmp_path / "hub.duckdb", "run") as wh:
        assert ensure_columns(wh.con, "raw_entries", columns) == ["reading_minutes"]
        assert ensure_columns(wh.con, "raw_entries", columns) == []
        assert stored_columns(wh.con)["reading_minutes"] == "VARCHAR"
        staged = pa.Table.from_pylist([{**dict(zip(ENTRY_SCHEMA.names, record().row())), "reading_minutes": "4"}],
                                      schema=arrow_schema(columns))
        wh.con.register("staging_records", staged)
        wh.con.execute(upsert_entries_sql(columns), {"now": datetime.now(timezone.utc), "run": "run"})
        assert wh.con.execute("SELECT reading_minutes FROM raw_entries").fetchall() == [("4",)]


def test_the_content_hash_follows_every_stored_field_but_identity():
    base = record().content_hash
    assert record(title="Bin collections").content_hash != base
    assert record(tags=["opendata", "waste"]).content_hash != base
    assert record(details='{"stars": 3}').content_hash != base
    for name in IDENTITY_FIELDS:
        assert record(**{name: "another"}).content_hash == base
    # The same instant at another offset is the same content.
    moved = record(published_at=datetime(2026, 3, 1, 7, 30, tzinfo=timezone.utc))
    assert moved.content_hash == base
    # An adjustment made after the record was built (a limit, a re-match) is in the hash handed over.
    adjusted = record()
    adjusted.matched = False
    assert adjusted.content_hash != base


def test_a_record_read_back_from_arrow_is_the_record_it_was():
    before = record(mention='{"platform": "mastodon"}')
    after = Entry.from_row(entries_table([before]).to_pylist()[0])
    assert after == before and after.content_hash == before.content_hash


def test_entries_stored_under_an_earlier_hash_recipe_are_updated_once_keeping_identity(tmp_path):
    path = tmp_path / "hub.duckdb"
    entry = record()
    with open_for_writing(path, "first") as wh:
        wh.write_outcomes("first", [SourceOutcome("council", "ok", records=[entry], entries_read=1)])
        # As a release with per-kind recipes stored it.
        wh.con.execute("UPDATE raw_entries SET content_hash = 'e1d2c3b4a5'")
        before = wh.con.execute("SELECT entry_key, item_id, first_seen_at FROM raw_entries").fetchall()
    counts = []
    for run in ("upgraded", "again"):
        with open_for_writing(path, run) as wh:
            [count] = wh.write_outcomes(run, [SourceOutcome("council", "ok", records=[record()], entries_read=1)])
            counts.append((count.new, count.updated, count.unchanged))
            after = wh.con.execute("SELECT entry_key, item_id, first_seen_at FROM raw_entries").fetchall()
            assert after == before
    assert counts == [(0, 1, 0), (0, 0, 1)]


def test_entry_facts_are_written_in_the_order_and_types_of_their_one_declaration(tmp_path):
    from pipelines.normalise.facts import FACT_COLUMNS, FACTS_SCHEMA

    with open_for_writing(tmp_path / "hub.duckdb", "run") as wh:
        stored = wh.con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'entry_facts' "
                                "ORDER BY column_index").fetchall()
        declared = [(c.name, wh.con.execute(f"SELECT typeof(NULL::{c.sql_type})").fetchone()[0]) for c in FACT_COLUMNS]
    assert stored == declared   # facts are inserted by position
    assert FACTS_SCHEMA.names == [name for name, _ in stored]


def test_opening_the_warehouse_adds_a_declared_column_its_raw_entries_lack(tmp_path):
    path = tmp_path / "hub.duckdb"
    with open_for_writing(path, "run") as wh:
        wh.con.execute("ALTER TABLE raw_entries DROP COLUMN mention")   # as if `mention` were declared since
    with open_for_writing(path, "again") as wh:
        assert stored_columns(wh.con)["mention"] == "VARCHAR"
        wh.write_outcomes("again", [SourceOutcome("council", "ok", records=[record(mention='{"url": "u"}')])])
        assert wh.con.execute("SELECT mention FROM raw_entries").fetchall() == [('{"url": "u"}',)]
