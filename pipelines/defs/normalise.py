"""Normalise stage: raw records become one item per real thing, behind the `hub_items` view."""


from collections.abc import Iterator

import dagster as dg

from pipelines.defs.harvest import harvest, source_registry
from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.normalise import build_items
from pipelines.normalise.aliases import aliases_path_for, load_aliases
from pipelines.normalise.linked_repositories import record_linked_repositories
from pipelines.errors import ConfigError
from pipelines.normalise.quality import HUB_ITEM_CHECKS


class ItemsConfig(dg.Config):
    force: bool = False   # normalise every stored record again, not only what changed (`opengovtech rebuild`)


def rebuild_run_config() -> dict:
    """The `ops` run config of a rebuild: hub_items normalised again from every stored record."""
    return {"hub_items": {"config": {"force": True}}}


# source_registry too: normalising reads what sources.yaml says of each source (its tags, tagged_only),
# and a rebuild runs without the harvest assets in between.
@dg.asset(group_name="normalise", deps=[source_registry, harvest],
          description="The `hub_items` view: one row per story, technique, asset, event or community, with every "
                      "source listed, classified with reasons, linked into projects; plus hub_organisations.")
def hub_items(context: dg.AssetExecutionContext, config: ItemsConfig, sources: SourcesResource,
              warehouse: WarehouseResource) -> dg.MaterializeResult:
    try:
        aliases = load_aliases(aliases_path_for(sources.file()))
    except ConfigError as exc:
        raise dg.Failure(description=f"invalid aliases:\n{exc}", allow_retries=False) from None
    with warehouse.open(context.run_id) as wh:
        build = build_items(wh, aliases=aliases, force=config.force)
        kinds = dict(wh.con.execute("SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind").fetchall())
    return dg.MaterializeResult(metadata={
        "items": build.items, "rebuilt": build.rebuilt, "entries_normalised": build.facts_computed,
        "near_duplicates_merged": build.near_duplicates, "links": build.links, "projects": build.projects,
        "organisations": build.organisations, **{f"kind_{k}": v for k, v in kinds.items()},
        **{f"seconds_{step}": round(end - start, 2) for step, (start, end) in build.steps.items()}})


@dg.asset(group_name="normalise", deps=[hub_items],
          description="GitHub repositories the stories link to that no github source reads, in the "
                      "`linked_repositories` table: the next run's GitHub harvest fetches them as assets "
                      "(the implicit github-linked-repos source).")
def linked_repositories(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open(context.run_id) as wh:
        count = record_linked_repositories(wh)
    return dg.MaterializeResult(metadata={"repositories": count})


def _severity(check) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.WARN if check.__name__ == "failed_sources_share" else dg.AssetCheckSeverity.ERROR


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(check.__name__, asset=hub_items, description=(check.__doc__ or check.__name__).strip(),
                             blocking=False)
           for check in HUB_ITEM_CHECKS],
    can_subset=True,
    # One step and one warehouse connection for all the checks: each step costs every run
    # Dagster events and opening DuckDB, even with nothing changed.
)
def hub_items_checks(context: dg.AssetCheckExecutionContext,
                     warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
    selected = {key.name for key in context.selected_asset_check_keys}
    with warehouse.open(context.op_execution_context.run_id) as wh:
        for check in HUB_ITEM_CHECKS:
            if check.__name__ not in selected:
                continue
            result = check(wh.con)
            yield dg.AssetCheckResult(asset_key=hub_items.key, check_name=check.__name__, passed=result.passed,
                                      severity=_severity(check), description=result.summary,
                                      metadata={"summary": result.summary, "examples": "\n".join(result.examples)})
