"""A sharded harvest: sources split into N shards harvested in parallel processes, one writer.

The first step past one process (docs/scaling.md). Under Dagster's multiprocess executor each
`harvest_shard` step runs in its own process: it reads the warehouse read-only and lands its
results as Parquet files; `load_shards` is then the one DuckDB writer, through the same write
path as `harvest_job`, and the normalise and index steps follow. Same sources, same hub_items.
"""


import hashlib
import shutil
from pathlib import Path

import dagster as dg

from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.harvest import HARVESTERS, harvest_kind
from pipelines.landing import LandingSink, load_landing
from pipelines.normalise import build_items
from pipelines.normalise.aliases import aliases_path_for, load_aliases
from pipelines.search import refresh_search_index
from pipelines.warehouse import BackoffPolicy, Warehouse
from pipelines.duck import connect

SHARDED_JOB_NAME = "sharded_harvest_job"


def shard_of(source_id: str, shards: int) -> int:
    """A source's shard: stable across runs and machines (not Python's salted hash)."""
    return int(hashlib.sha1(source_id.encode()).hexdigest()[:8], 16) % shards


class ShardPlanConfig(dg.Config):
    shards: int = 2


def landing_dir(warehouse_path: Path, run_id: str) -> Path:
    return warehouse_path.parent / "landing" / run_id


@dg.op(out=dg.DynamicOut(), description="Record the registry; fan out one step per shard.")
def plan_shards(context: dg.OpExecutionContext, config: ShardPlanConfig, sources: SourcesResource,
                warehouse: WarehouseResource):
    registry = sources.load()
    with warehouse.open(context.run_id) as wh:
        wh.sync_sources(registry.rows())
    for shard in range(config.shards):
        yield dg.DynamicOutput((shard, config.shards), mapping_key=f"shard_{shard}")


@dg.op(description="Harvest one shard's sources, every kind, into landing files (the warehouse is only read).")
def harvest_shard(context: dg.OpExecutionContext, shard_plan: tuple, sources: SourcesResource,
                  warehouse: WarehouseResource) -> int:
    shard, shards = shard_plan
    registry = sources.load()
    only = {s.id for s in registry.enabled() if shard_of(s.id, shards) == shard}
    path = warehouse.file()
    con = connect(path, read_only=True)
    try:
        sink = LandingSink(Warehouse(con, path), landing_dir(path, context.run_id) / f"shard-{shard}")
        fetched = 0
        for kind in HARVESTERS:
            report = harvest_kind(registry, sink, kind=kind, run_id=context.run_id, only=only)
            fetched += report.total("fetched")
    finally:
        con.close()
    context.log.info(f"shard {shard}: {len(only)} sources, {fetched} entries landed")
    return len(only)


@dg.op(description="The one writer: landed shards into the warehouse, then hub_items and the search index.")
def load_shards(context: dg.OpExecutionContext, shard_sources: list[int], sources: SourcesResource,
                warehouse: WarehouseResource) -> dg.Output:
    registry = sources.load()
    aliases = load_aliases(aliases_path_for(sources.file()))
    defaults = registry.defaults
    backoff = BackoffPolicy(defaults.backoff_after_failures, defaults.backoff_base_hours, defaults.backoff_max_days)
    directory = landing_dir(warehouse.file(), context.run_id)
    with warehouse.open(context.run_id) as wh:
        # Batches a crashed earlier run landed but never loaded go in first, then this run's.
        counts = load_landing(wh, directory.parent, backoff)
        build = build_items(wh, aliases=aliases)
        refresh_search_index(wh)
    shutil.rmtree(directory.parent, ignore_errors=True)   # loaded: the warehouse has it all now
    return dg.Output(len(counts), metadata={"shards": len(shard_sources), "sources": sum(shard_sources),
                                            "entries_fetched": sum(c.fetched for c in counts),
                                            "new": sum(c.new for c in counts), "items": build.items})


@dg.job(name=SHARDED_JOB_NAME, executor_def=dg.multiprocess_executor,
        description="Harvest with sources split into shards, each in its own process; one writer loads them.")
def sharded_harvest_job():
    load_shards(plan_shards().map(harvest_shard).collect())
