"""The harvest's steps: sources split into shards, one step each, then the one writer.

One shard (the default) is one step that writes the warehouse itself, kind after kind. Past
one process (docs/scaling.md), each shard's step runs in its own process under Dagster's
multiprocess executor (`sharded_harvest_job`): it reads the warehouse read-only and lands its
results as Parquet files (pipelines/store/landing.py); `load_shards` is then the one DuckDB writer,
through the same write path. Either way the run materialises the same harvest assets.
"""

import hashlib
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.config import SourceRegistry
from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.store.connection import connect
from pipelines.sources.harvester import HARVESTERS, HarvestReport, harvest_kind, recorded_report
from pipelines.store.landing import LandingSink, load_landing
from pipelines.store.warehouse import BackoffPolicy, Warehouse


def shard_of(source_id: str, shards: int) -> int:
    """A source's shard: stable across runs and machines (not Python's salted hash)."""
    return int(hashlib.sha1(source_id.encode()).hexdigest()[:8], 16) % shards


def landing_dir(warehouse_path: Path, run_id: str) -> Path:
    return warehouse_path.parent / "landing" / run_id


def harvest_asset_name(kind: str) -> str:
    return f"raw_{kind}_entries"


class HarvestConfig(dg.Config):
    ignore_backoff: bool = False  # try sources that are backing off after repeated failures
    only_sources: list[str] = []  # harvest just these source ids (the sources_changed sensor sets it)
    shards: int = Field(1, ge=1)  # steps the sources are split over (each its own process when sharded)


@dataclass(frozen=True)
class ShardHarvest:
    """What one harvest step tells the writer; the sources' outcomes themselves are in the warehouse
    (or landed for it), so what passes between steps stays small however many sources there are."""

    shard: int
    sources: int
    seconds: dict[str, float]   # kind -> how long its harvest took in this shard


@dataclass(frozen=True)
class ShardPlan:
    """What one harvest step does: its share of the sources, and how."""

    shard: int
    shards: int
    ignore_backoff: bool
    only_sources: frozenset[str]   # empty: every enabled source

    def source_ids(self, registry: SourceRegistry) -> set[str]:
        return {s.id for s in registry.enabled() if shard_of(s.id, self.shards) == self.shard
                and (not self.only_sources or s.id in self.only_sources)}


def selected_kinds(context: dg.OpExecutionContext) -> list[str]:
    """The kinds whose harvest assets this run materialises (every kind unless a run selects some)."""
    selected = context.selected_asset_keys
    return [kind for kind in HARVESTERS if dg.AssetKey(harvest_asset_name(kind)) in selected]


@dg.op(ins={"registry_recorded": dg.In(dg.Nothing)}, out=dg.DynamicOut(ShardPlan),
       description="Fan out one harvest step per shard.")
def plan_shards(config: HarvestConfig) -> Iterator[dg.DynamicOutput]:
    for shard in range(config.shards):
        yield dg.DynamicOutput(ShardPlan(shard, config.shards, config.ignore_backoff, frozenset(config.only_sources)),
                               mapping_key=f"shard_{shard}")


@dg.op(description="Harvest one shard's sources, kind after kind: into the warehouse when it is the only shard, "
                   "else into landing files (the warehouse is only read).")
def harvest_shard(context: dg.OpExecutionContext, plan: ShardPlan, sources: SourcesResource,
                  warehouse: WarehouseResource) -> ShardHarvest:
    registry = sources.load()
    only = plan.source_ids(registry)
    path = warehouse.file()

    def sink() -> AbstractContextManager[Warehouse | LandingSink]:
        if plan.shards == 1:
            return warehouse.open(context.run_id)
        return _landing_sink(path, landing_dir(path, context.run_id) / f"shard-{plan.shard}")

    seconds = {}
    for kind in selected_kinds(context):
        # Most configurations use a few of the kinds: the others do not open the warehouse.
        if any(s.id in only for s in registry.enabled(kind)):
            # Opened per kind: closing it gives back what DuckDB held for the last.
            with sink() as target:
                report = harvest_kind(registry, target, kind=kind, run_id=context.run_id,
                                      ignore_backoff=plan.ignore_backoff, only=only)
            seconds[kind] = report.duration_s
    context.log.info(f"shard {plan.shard} of {plan.shards}: {len(only)} sources harvested")
    return ShardHarvest(plan.shard, len(only), seconds)


@contextmanager
def _landing_sink(warehouse_path: Path, directory: Path) -> Iterator[LandingSink]:
    """A LandingSink over a read-only connection to the warehouse."""
    con = connect(warehouse_path, read_only=True)
    try:
        yield LandingSink(Warehouse(con, warehouse_path), directory)
    finally:
        con.close()


@dg.op(out={harvest_asset_name(kind): dg.Out(dg.Nothing) for kind in HARVESTERS},
       description="The one writer: what the shards landed, loaded into the warehouse; each kind's report.")
def load_shards(context: dg.OpExecutionContext, shards: list[ShardHarvest], sources: SourcesResource,
                warehouse: WarehouseResource) -> Iterator[dg.Output]:
    registry = sources.load()
    directory = landing_dir(warehouse.file(), context.run_id).parent
    with warehouse.open(context.run_id) as wh:
        if directory.exists():
            defaults = registry.defaults
            backoff = BackoffPolicy(defaults.backoff_after_failures, defaults.backoff_base_hours,
                                    defaults.backoff_max_days)
            # Batches a crashed earlier run landed but never loaded go in first, then this run's.
            load_landing(wh, directory, backoff)
        reports = [recorded_report(wh.con, context.run_id, kind, {s.id for s in registry.sources if s.kind == kind})
                   for kind in selected_kinds(context)]
    if directory.exists():
        shutil.rmtree(directory, ignore_errors=True)   # loaded: the warehouse has it all now
    context.log.info(f"{len(shards)} shards, {sum(shard.sources for shard in shards)} sources: loaded")
    for report in reports:
        report.duration_s = max((shard.seconds.get(report.kind, 0.0) for shard in shards), default=0.0)
        for failed in report.failed:
            context.log.warning(f"source {failed.source_id}: {failed.status}: {failed.error}")
        yield dg.Output(None, output_name=harvest_asset_name(report.kind), metadata=harvest_metadata(report))


def harvest_metadata(report: HarvestReport) -> dict:
    def row(c) -> str:
        meta = report.outcomes_meta.get(c.source_id, {})
        return (f"| {c.source_id} | {c.status} | {c.fetched} | {c.new} | {c.updated} | {c.unchanged} | "
                f"{meta.get('requests', 0)} | {meta.get('bytes', 0)} | {meta.get('duration_s', 0)} | "
                f"{(c.error or '').replace('|', '/')} |")

    table = ("| source | status | fetched | new | updated | unchanged | requests | bytes | seconds | reason |\n"
             "|---|---|---|---|---|---|---|---|---|---|\n"
             + "\n".join(row(c) for c in sorted(report.counts, key=lambda c: c.source_id)))
    return {
        "sources": len(report.counts),
        "failed": len(report.failed),
        "not_modified": sum(c.status == "not_modified" for c in report.counts),
        "backing_off": sum(c.status == "backoff" for c in report.counts),
        "entries_fetched": report.total("fetched"),
        "new": report.total("new"),
        "updated": report.total("updated"),
        "unchanged": report.total("unchanged"),
        "requests": sum(m["requests"] for m in report.outcomes_meta.values()),
        "bytes": sum(m["bytes"] for m in report.outcomes_meta.values()),
        "duration_s": round(report.duration_s, 2),
        "per_source": dg.MetadataValue.md(table),
    }
