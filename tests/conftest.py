"""Shared test harness: a real HTTP server on 127.0.0.1 serving ../shared/corpus files in place,
and a hub (sources.yaml + DuckDB warehouse) in a temp dir that runs the real pipeline stages."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.sources.harvester import HarvestReport, recorded_report
from pipelines.app.runner import run_pipeline
from pipelines.store.warehouse import open_for_reading

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OPENGOVTECH_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"

CONTENT_TYPES = {
    ".atom": "application/atom+xml",
    ".json": "application/feed+json",
    ".rdf": "application/rdf+xml",
    ".html": "text/html; charset=utf-8",
}


def content_type_for(path: Path) -> str:
    # application/xml (not text/xml) so the document's own encoding declaration is honoured.
    return CONTENT_TYPES.get(path.suffix, "application/xml")


def corpus_files(folder: str) -> list[Path]:
    files = sorted((CORPUS / folder).glob("*"))
    assert files, f"corpus folder {CORPUS / folder} is missing or empty"
    return files


@pytest.fixture(scope="session")
def http_server():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.no_handler_status_code = 404  # so robots.txt and unknown paths are plain 404s
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def loopback(http_server: HTTPServer) -> HTTPServer:
    http_server.clear()
    http_server.no_handler_status_code = 404
    return http_server


def serve_bytes(server: HTTPServer, path: str, body: bytes, content_type: str, *, etag: bool = True) -> str:
    """Serve `body` at `path` with an ETag, answering a matching If-None-Match with 304."""
    tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'

    def handler(request: Request) -> Response:
        if etag and request.headers.get("If-None-Match") == tag:
            return Response(status=304, headers={"ETag": tag})
        headers = {"ETag": tag} if etag else {}
        return Response(body, status=200, content_type=content_type, headers=headers)

    server.expect_request(path).respond_with_handler(handler)
    return server.url_for(path)


def serve_file(server: HTTPServer, path: str, file: Path, **kwargs) -> str:
    return serve_bytes(server, path, file.read_bytes(), content_type_for(file), **kwargs)


def corpus_feed_sources(server: HTTPServer, prefix: str, feeds: dict[str, tuple[str, str]]) -> list[dict]:
    """On-topic feed sources serving corpus feeds: {source id: (file in corpus/feeds, organisation)}."""
    return [{"id": source_id, "kind": "feed", "tagged_only": False, "org": org,
             "url": serve_file(server, f"/{prefix}/{name}", CORPUS / "feeds" / name)}
            for source_id, (name, org) in feeds.items()]


@functools.cache
def dagster_instance() -> dg.DagsterInstance:
    """One in-memory Dagster instance for the session's harvests: nothing of theirs is kept."""
    return dg.DagsterInstance.ephemeral()


@dataclass
class Hub:
    """A sources.yaml and a warehouse in a temp dir, driven through the real pipeline stages."""

    root: Path

    @property
    def sources_path(self) -> Path:
        return self.root / "sources.yaml"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse" / "hub.duckdb"

    def write_sources(self, sources: list[dict], **defaults) -> Path:
        defaults = {"allow_private_networks": True, "retries": 1, "timeout_s": 5, **defaults}
        self.sources_path.write_text(yaml.safe_dump({"defaults": defaults, "sources": sources}, sort_keys=False),
                                     encoding="utf-8")
        return self.sources_path

    def harvest(self, ignore_backoff: bool = False) -> HarvestReport:
        """The harvest job through the Dagster definitions, in process, as `opengovtech run` does,
        less the site (built where a test asks for it). Returns one report covering every kind,
        read back from the run's source_runs rows."""
        run = run_pipeline(self.sources_path, self.warehouse_path, ignore_backoff=ignore_backoff, with_site=False,
                           instance=dagster_instance())
        if not run.success:
            # The failing step's root cause first (what a test matches), then Dagster's details.
            raise RuntimeError(f"{run.failure}\n{run.failure_details}")
        with open_for_reading(self.warehouse_path) as con:
            return recorded_report(con, run.run_id)

    def harvest_source(self, source_id: str, url: str, defaults: dict | None = None, **options) -> dict:
        """Harvest one feed source on its own and return its source_health row."""
        self.write_sources([{"id": source_id, "kind": "feed", "url": url, **options}], **(defaults or {}))
        self.harvest()
        return self.health(source_id)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with open_for_reading(self.warehouse_path) as con:
            return con.execute(sql, params or []).fetchall()

    def health(self, source_id: str) -> dict:
        with open_for_reading(self.warehouse_path) as con:
            cursor = con.execute("SELECT * FROM source_health WHERE source_id = ?", [source_id])
            names = [d[0] for d in cursor.description]
            row = cursor.fetchone()
        assert row is not None, f"no source_health row for {source_id}"
        return dict(zip(names, row))


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return Hub(tmp_path)


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed `opengovtech` entry point as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipelines.app.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def corpus_site(tmp_path_factory, http_server):
    """Real corpus feeds and hostile input harvested, then built into the hub site (see site_fixture)."""
    from tests.site_fixture import build_corpus_site

    return build_corpus_site(tmp_path_factory.mktemp("corpus-site"), http_server)


def pytest_configure(config) -> None:
    # Before the test modules are imported, so their @settings see it (tests/property_budget.py).
    from tests import property_budget

    property_budget.fast_tier = " ".join(config.getoption("markexpr").split()) == "not slow"


def pytest_collection_modifyitems(config, items) -> None:
    # A test on the loopback server runs the real pipeline end to end: it belongs to the slow
    # tier wherever it is, and the fast tier covers the same behaviour in memory (test_fast_*).
    for item in items:
        if "http_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
