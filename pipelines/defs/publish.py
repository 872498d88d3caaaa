"""Publish stage: the full-text search index and the static hub site, both built from hub_items."""


import dagster as dg

from pipelines.defs.normalise import hub_items
from pipelines.store.connection import build_memory
from pipelines.tuning import SITE_MEMORY_LIMIT
from pipelines.defs.resources import SourcesResource, WarehouseResource
from pipelines.publish.search import index_path_for, refresh_search_index
from pipelines.publish.search_meaning import release_model
from pipelines.publish.site import default_site_dir
from pipelines.normalise import STATE_KEY as ITEMS_STATE_KEY
from pipelines.publish.site.build import SITE_STATE_KEY, build_site, site_fingerprint


@dg.asset(group_name="publish", deps=[hub_items],
          description="BM25 index of hub_items (SQLite FTS5) in its own file, swapped in atomically.")
def search_index(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open(context.run_id) as wh:
        refresh = refresh_search_index(wh)
        release_model()   # before the site stage, which reads the index's related words, not the model
    return dg.MaterializeResult(metadata={"documents": refresh.documents, "rebuilt": refresh.rebuilt,
                                          "path": str(refresh.path)})


# After the search index: the site's Pagefind records carry the index's related words.
@dg.asset(group_name="publish", deps=[hub_items, search_index],
          description="The static hub site (pages, Pagefind search, feeds out, data export) under warehouse/site/.")
def hub_site(context: dg.AssetExecutionContext, sources: SourcesResource,
             warehouse: WarehouseResource) -> dg.MaterializeResult:
    site_config = sources.site()
    with warehouse.open(context.run_id) as wh:
        out_dir = default_site_dir(wh.path)
        fingerprint = site_fingerprint(wh.con, site_config, wh.get_state(ITEMS_STATE_KEY), search=True)
        if (out_dir / "index.html").exists() and wh.get_state(SITE_STATE_KEY) == fingerprint:
            # Nothing it shows has changed since it was built: an unchanged run costs no rebuild.
            context.log.info("site unchanged since its last build: kept")
            return dg.MaterializeResult(metadata={"path": str(out_dir), "rebuilt": False})
        with build_memory(wh.con, SITE_MEMORY_LIMIT):   # it reads every item: more than the harvest's limit
            built = build_site(wh.con, out_dir, site_config, search_index=index_path_for(wh.path))
        wh.set_state(SITE_STATE_KEY, fingerprint)
    context.log.info(f"site built in {built.seconds:.1f} s: {built.pages} pages, {built.items} items; "
                     f"{built.summary()}")
    return dg.MaterializeResult(metadata={
        "path": str(built.path), "pages": built.pages, "items": built.items,
        "files_written": len(built.written), "files_removed": len(built.removed), "files_unchanged": built.kept,
        "search_bundles_reindexed": len(built.reindexed),
        "size_mb": round(built.bytes / 1e6, 2), "seconds": round(built.seconds, 2),
        "base_url": site_config.base_url, "search_index": built.search_index, "rebuilt": True,
    })
