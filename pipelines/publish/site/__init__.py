"""The static hub site: pages, feeds out and a data export built from `hub_items`."""

from __future__ import annotations

from pathlib import Path

from pipelines.config import SiteConfig


def default_site_dir(warehouse_path: Path) -> Path:
    """The built site lives beside the warehouse file: warehouse/site/."""
    return warehouse_path.parent / "site"


def build_site_from_file(warehouse_path: Path, out_dir: Path | None = None, site: SiteConfig | None = None, *,
                         search: bool = True):
    """Build the site from a warehouse file opened read-only (the CLI's way; the pipeline passes its connection)."""
    from pipelines.publish.search import index_path_for
    from pipelines.publish.site.build import build_site
    from pipelines.store.warehouse import open_for_reading

    from pipelines.store.connection import build_memory
    from pipelines.tuning import SITE_MEMORY_LIMIT

    with open_for_reading(warehouse_path) as con, build_memory(con, SITE_MEMORY_LIMIT):
        return build_site(con, out_dir or default_site_dir(warehouse_path), site, search=search,
                          search_index=index_path_for(warehouse_path))
