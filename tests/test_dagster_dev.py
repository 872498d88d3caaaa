"""`dagster dev` as an operator starts it: a real subprocess on a free loopback port, checked over GraphQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from pipelines.sources.harvester import HARVESTERS
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database

QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  jobs { name }
  schedules { name cronSchedule executionTimezone }
  sensors { name }
  assetNodes { assetKey { path } groupName }
} } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dagster_dev_serves_the_code_location(tmp_path: Path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"schedule": {"cron": "15 4 * * *", "timezone": "Europe/London"},
                                       "sources": []}))
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "OPENGOVTECH_SOURCES": str(sources),
           "OPENGOVTECH_WAREHOUSE": str(tmp_path / "hub.duckdb")}
    dagster = Path(sys.executable).with_name("dagster")
    process = subprocess.Popen([str(dagster), "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        data = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=5)
                nodes = response.json()["data"]["repositoriesOrError"].get("nodes")
                if nodes:
                    data = nodes[0]
                    break
            except (httpx.TransportError, ValueError, KeyError, TypeError):
                pass
            time.sleep(1)
        assert data is not None, f"dagster dev did not answer: {process.stderr.read(2000) if process.poll() is not None else ''}"
        assert {"harvest_job", "link_check_job"} <= {j["name"] for j in data["jobs"]}
        assert {"name": "weekly_link_check", "cronSchedule": "0 7 * * 1", "executionTimezone": "Europe/London"} \
            in data["schedules"]
        assert {"name": "sources_changed"} in data["sensors"]
        assert {"name": "daily_harvest", "cronSchedule": "15 4 * * *", "executionTimezone": "Europe/London"} in data["schedules"]
        assets = {tuple(a["assetKey"]["path"]): a["groupName"] for a in data["assetNodes"]}
        harvest_assets = {(f"raw_{kind}_entries",): "harvest" for kind in HARVESTERS}  # one per source kind
        assert len(harvest_assets) == 9
        assert assets == {("source_registry",): "harvest", **harvest_assets, ("hub_items",): "normalise",
                          ("linked_repositories",): "normalise",
                          ("search_index",): "publish", ("hub_site",): "publish", ("link_check",): "maintenance"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
