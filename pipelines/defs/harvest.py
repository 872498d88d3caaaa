"""Harvest stage: the validated source registry, then every source kind's entries into raw_entries."""


import dagster as dg

from pipelines.config import SourceRegistry
from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.defs.sharded import harvest_asset_name, harvest_shard, load_shards, plan_shards
from pipelines.sources.harvester import HARVESTERS


class RegistryConfig(dg.Config):
    prune: bool = False  # delete the raw entries of sources no longer in sources.yaml


@dg.asset(group_name="harvest", description="sources.yaml, validated and recorded in the warehouse's `sources` table.")
def source_registry(context: dg.AssetExecutionContext, config: RegistryConfig, sources: SourcesResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    registry = sources.load()
    with warehouse.open(context.run_id) as wh:
        wh.sync_sources(registry.rows())
        pruned = wh.prune_removed_sources() if config.prune else []
    if pruned:
        context.log.info(f"pruned removed sources: {', '.join(pruned)}")
    kinds = registry.count_by_kind(registry.enabled())
    return dg.MaterializeResult(metadata={
        "path": str(registry.path),
        "sources": len(registry.sources),
        "enabled": len(registry.enabled()),
        "pruned": len(pruned),
        **{f"kind:{k}": v for k, v in kinds.items()},
    })


HARVEST_GRAPH_NAME = "harvest"


# One asset per source kind, all made by one graph: the sources are split into shards (one by
# default), each harvested by a step of its own, and one writer loads what the shards landed.
# A sharded run (sharded_harvest_job) is this same graph with more shards and a process per step.
# A run may select some kinds only (`opengovtech run` selects the kinds sources.yaml has): the
# others' steps record nothing.
@dg.graph_multi_asset(
    name=HARVEST_GRAPH_NAME,
    group_name="harvest",
    can_subset=True,
    ins={"registry_recorded": dg.AssetIn(key=source_registry.key, dagster_type=dg.Nothing)},
    outs={harvest_asset_name(kind): dg.AssetOut(
        description=f"Entries of every `kind: {kind}` source, fetched concurrently into raw_entries.")
        for kind in HARVESTERS},
)
def harvest(registry_recorded):
    return load_shards(plan_shards(registry_recorded).map(harvest_shard).collect())


def harvest_assets_with_sources(registry: SourceRegistry) -> list[dg.AssetKey]:
    """The harvest assets of the kinds the registry has enabled sources of: a run that selects
    only these records no empty materialisation (and its Dagster events) for the other kinds."""
    return [dg.AssetKey(harvest_asset_name(kind)) for kind in HARVESTERS if registry.enabled(kind)]


def harvest_run_config(prune: bool = False, ignore_backoff: bool = False, only_sources: list[str] | None = None,
                       shards: int = 1) -> dict:
    """The `ops` run config of the harvest stage's assets."""
    return {"source_registry": {"config": {"prune": prune}},
            HARVEST_GRAPH_NAME: {"ops": {"plan_shards": {"config": {
                "ignore_backoff": ignore_backoff, "only_sources": only_sources or [], "shards": shards}}}}}
