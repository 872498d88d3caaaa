"""Resources shared by the stage assets: where the registry and the warehouse are."""


from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg

from pipelines.config import SiteConfig, SourceRegistry, load_registry, resolve_sources_path, site_published_at
from pipelines.errors import ConfigError
from pipelines.store.location import resolve_warehouse_path
from pipelines.store.warehouse import Warehouse, open_for_writing


class SourcesResource(dg.ConfigurableResource):
    """sources.yaml; empty means $OPENGOVTECH_SOURCES or ./sources.yaml."""

    path: str = ""
    site_base_url: str = ""   # where the site is published, over sources.yaml's site.base_url

    def file(self) -> Path:
        return resolve_sources_path(self.path or None)

    def load(self) -> SourceRegistry:
        try:
            return load_registry(self.file())
        except ConfigError as exc:
            raise dg.Failure(description=f"invalid configuration:\n{exc}", allow_retries=False) from None

    def site(self) -> SiteConfig:
        """The site settings, at the address the run was given (or $OPENGOVTECH_SITE_BASE_URL) if any."""
        try:
            return site_published_at(self.load().site, self.site_base_url or None)
        except ConfigError as exc:
            raise dg.Failure(description=f"invalid configuration:\n{exc}", allow_retries=False) from None


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse; empty path means $OPENGOVTECH_WAREHOUSE or ./warehouse/hub.duckdb."""

    path: str = ""
    lock_wait_s: float = 0.0

    def file(self) -> Path:
        return resolve_warehouse_path(self.path or None)

    @contextmanager
    def open(self, run_id: str) -> Iterator[Warehouse]:
        with open_for_writing(self.file(), run_id, self.lock_wait_s) as warehouse:
            yield warehouse


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"sources": SourcesResource(), "warehouse": WarehouseResource()})
