"""Publish stage: the full-text search index over hub_items."""


import dagster as dg

from pipelines.defs.normalise import hub_items
from pipelines.defs.resources import WarehouseResource
from pipelines.search import refresh_search_index


@dg.asset(group_name="publish", deps=[hub_items],
          description="BM25 index of hub_items (SQLite FTS5) in its own file, swapped in atomically.")
def search_index(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open(context.run_id) as wh:
        refresh = refresh_search_index(wh)
    return dg.MaterializeResult(metadata={"documents": refresh.documents, "rebuilt": refresh.rebuilt,
                                          "path": str(refresh.path)})
