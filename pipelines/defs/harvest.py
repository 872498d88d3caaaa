"""Harvest stage: the validated source registry, then one concurrent harvest per source kind."""


import dagster as dg

from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.harvest import HARVESTERS, HarvestReport, harvest_kind


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


class HarvestConfig(dg.Config):
    ignore_backoff: bool = False  # try sources that are backing off after repeated failures
    only_sources: list[str] = []  # harvest just these source ids (the sources_changed sensor sets it)


def harvest_asset_name(kind: str) -> str:
    return f"raw_{kind}_entries"


def build_harvest_asset(kind: str) -> dg.AssetsDefinition:
    """One asset per source kind: its sources harvested concurrently, in one run, into raw_entries."""

    @dg.asset(name=harvest_asset_name(kind), group_name="harvest", deps=[source_registry],
              description=f"Entries of every `kind: {kind}` source, fetched concurrently into raw_entries.")
    def raw_entries(context: dg.AssetExecutionContext, config: HarvestConfig, sources: SourcesResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
        registry = sources.load()
        if not registry.enabled(kind):
            # Most configurations use a few of the kinds: the others do not open the warehouse
            # (20 ms each of every run's fixed cost).
            return dg.MaterializeResult(metadata=harvest_metadata(HarvestReport(run_id=context.run_id, kind=kind)))
        with warehouse.open(context.run_id) as wh:
            report = harvest_kind(registry, wh, kind=kind, run_id=context.run_id,
                                  ignore_backoff=config.ignore_backoff, only=set(config.only_sources) or None)
        for failed in report.failed:
            context.log.warning(f"source {failed.source_id}: {failed.status}: {failed.error}")
        return dg.MaterializeResult(metadata=harvest_metadata(report))

    return raw_entries


harvest_assets = [build_harvest_asset(kind) for kind in HARVESTERS]


def harvest_run_config(prune: bool = False, ignore_backoff: bool = False) -> dict:
    """The `ops` run config of the harvest stage's assets."""
    return {"source_registry": {"config": {"prune": prune}},
            **{harvest_asset_name(kind): {"config": {"ignore_backoff": ignore_backoff}} for kind in HARVESTERS}}


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
