"""Publish stage: the full-text search index and the static hub site, both built from hub_items."""


import dagster as dg

from pipelines.defs.normalise import hub_items
from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.search import refresh_search_index
from pipelines.site import default_site_dir
from pipelines.site.build import build_site


@dg.asset(group_name="publish", deps=[hub_items],
          description="BM25 index of hub_items (SQLite FTS5) in its own file, swapped in atomically.")
def search_index(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open(context.run_id) as wh:
        refresh = refresh_search_index(wh)
    return dg.MaterializeResult(metadata={"documents": refresh.documents, "rebuilt": refresh.rebuilt,
                                          "path": str(refresh.path)})


@dg.asset(group_name="publish", deps=[hub_items],
          description="The static hub site (pages, Pagefind search, feeds out, data export) under warehouse/site/.")
def hub_site(context: dg.AssetExecutionContext, sources: SourcesResource,
             warehouse: WarehouseResource) -> dg.MaterializeResult:
    site_config = sources.load().site
    with warehouse.open(context.run_id) as wh:
        built = build_site(wh.con, default_site_dir(wh.path), site_config)
    context.log.info(f"site built in {built.seconds:.1f} s: {built.pages} pages, {built.items} items")
    return dg.MaterializeResult(metadata={
        "path": str(built.path), "pages": built.pages, "items": built.items,
        "size_mb": round(built.bytes / 1e6, 2), "seconds": round(built.seconds, 2),
        "base_url": site_config.base_url, "search_index": built.search_index,
    })
