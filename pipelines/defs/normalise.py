"""Normalise stage: raw records become one item per real thing, behind the `hub_items` view."""


import dagster as dg

from pipelines.defs.harvest import harvest_assets
from pipelines.defs.resources import WarehouseResource
from pipelines.normalise import build_items


@dg.asset(group_name="normalise", deps=harvest_assets,
          description="The `hub_items` view: one row per story, technique or asset, with every source listed.")
def hub_items(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open(context.run_id) as wh:
        build = build_items(wh)
    return dg.MaterializeResult(metadata={"items": build.items, "rebuilt": build.rebuilt})
