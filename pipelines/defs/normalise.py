"""Normalise stage: raw records become one item per real thing, behind the `hub_items` view."""


import dagster as dg

from pipelines.defs.harvest import harvest_assets
from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.normalise import build_items
from pipelines.normalise.aliases import aliases_path_for, load_aliases
from pipelines.errors import ConfigError
from pipelines.quality import HUB_ITEM_CHECKS


@dg.asset(group_name="normalise", deps=harvest_assets,
          description="The `hub_items` view: one row per story, technique, asset, event or community, with every "
                      "source listed, classified with reasons, linked into projects; plus hub_organisations.")
def hub_items(context: dg.AssetExecutionContext, sources: SourcesResource,
              warehouse: WarehouseResource) -> dg.MaterializeResult:
    try:
        aliases = load_aliases(aliases_path_for(sources.file()))
    except ConfigError as exc:
        raise dg.Failure(description=f"invalid aliases:\n{exc}", allow_retries=False) from None
    with warehouse.open(context.run_id) as wh:
        build = build_items(wh, aliases=aliases)
        kinds = dict(wh.con.execute("SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind").fetchall())
    return dg.MaterializeResult(metadata={
        "items": build.items, "rebuilt": build.rebuilt, "entries_normalised": build.facts_computed,
        "near_duplicates_merged": build.near_duplicates, "links": build.links, "projects": build.projects,
        "organisations": build.organisations, **{f"kind_{k}": v for k, v in kinds.items()},
        **{f"seconds_{step}": round(end - start, 2) for step, (start, end) in build.steps.items()}})


def _hub_items_check(check):
    severity = dg.AssetCheckSeverity.ERROR if check.__name__ != "failed_sources_share" else dg.AssetCheckSeverity.WARN

    @dg.asset_check(asset=hub_items, name=check.__name__, description=(check.__doc__ or check.__name__).strip(),
                    blocking=False)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.open(context.op_execution_context.run_id) as wh:
            result = check(wh.con)
        return dg.AssetCheckResult(passed=result.passed, severity=severity, description=result.summary,
                                   metadata={"summary": result.summary, "examples": "\n".join(result.examples)})

    return _check


hub_items_checks = [_hub_items_check(check) for check in HUB_ITEM_CHECKS]
