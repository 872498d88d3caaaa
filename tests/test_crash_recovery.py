"""Kill `opengovtech run` with SIGKILL at random points; the next run must leave exactly what a clean run does."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import duckdb
import pytest
import yaml
from werkzeug import Request, Response

from tests.conftest import CORPUS, run_cli

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database

FEEDS = sorted(p for p in (CORPUS / "feeds").iterdir() if p.suffix in (".xml", ".rss", ".atom", ".json"))[:16]


def serve_slowly(server, delay_s: float) -> list[dict]:
    """Each feed answers after `delay_s`, so a run lasts long enough to be killed part-way."""
    sources = []
    for feed in FEEDS:
        body = feed.read_bytes()
        content_type = "application/feed+json" if feed.suffix == ".json" else "application/xml"

        def handler(request: Request, body=body, content_type=content_type) -> Response:
            time.sleep(delay_s)
            return Response(body, content_type=content_type, headers={"ETag": f'"{len(body)}"'})

        path = f"/slow/{feed.name}"
        server.expect_request(path).respond_with_handler(handler)
        sources.append({"id": feed.stem.lower().replace("_", "-"), "kind": "feed", "url": server.url_for(path),
                        "tagged_only": False})
    return sources


def snapshot(warehouse) -> set[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("SELECT id, title, url, source_ids, tags, published_at FROM hub_items").fetchall()
        (duplicates,) = con.execute("SELECT count(*) - count(DISTINCT id) FROM hub_items").fetchone()
        (raw_duplicates,) = con.execute(
            "SELECT count(*) - count(DISTINCT (source_id, entry_key)) FROM raw_entries").fetchone()
    finally:
        con.close()
    assert duplicates == 0 and raw_duplicates == 0
    return {(i, t, u, tuple(s), tuple(sorted(g)), p) for i, t, u, s, g, p in rows}


def test_sigkill_at_random_points_then_rerun_equals_a_clean_run(loopback, tmp_path):
    sources = serve_slowly(loopback, delay_s=0.25)
    sources_path = tmp_path / "sources.yaml"
    sources_path.write_text(yaml.safe_dump({"defaults": {"allow_private_networks": True, "retries": 0},
                                            "sources": sources}))

    clean = tmp_path / "clean" / "hub.duckdb"
    result = run_cli("run", "--sources", str(sources_path), "--warehouse", str(clean))
    assert result.returncode == 0, result.stderr
    expected = snapshot(clean)
    assert len(expected) > 200

    crashed = tmp_path / "crashed" / "hub.duckdb"
    rng = random.Random(20261124)
    command = [sys.executable, "-m", "pipelines.app.cli", "run", "--sources", str(sources_path), "--warehouse", str(crashed)]
    kills = 0
    for _ in range(4):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(1.0, 6.0))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the CLI and its parse workers, mid-flight
            kills += 1
        process.wait()
    assert kills >= 2, "the runs finished before they could be killed; slow the feeds down"

    final = run_cli("run", "--sources", str(sources_path), "--warehouse", str(crashed))
    assert final.returncode == 0, final.stderr
    assert snapshot(crashed) == expected
    search = run_cli("search", "the", "--warehouse", str(crashed), "--json")
    assert search.returncode == 0 and search.stdout.startswith("[")
