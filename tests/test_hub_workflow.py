"""The daily workflow (.github/workflows/hub.yml) run step by step as a runner would, against
sources on 127.0.0.1: its `run:` commands for real, its actions (Pages address, cache restore and
save, Pages artifact) by stand-ins that do what the actions document. A first run, a second on a
fresh machine restoring the warehouse the first kept, and a run whose data checks fail."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from pipelines.app.starter import CHECKOUT_INSTALL
from tests.conftest import CORPUS, REPO, serve_bytes, serve_file

PAGES_URL = "https://council.github.io/hub"   # what configure-pages gives a project site
FUTURE_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Council news</title><link>https://council.example/</link>
<item><title>Bins, next millennium</title><link>https://council.example/news/bins-2999</link>
<guid>bins-2999</guid><pubDate>Mon, 01 Jan 2999 09:00:00 GMT</pubDate><description>Dated ahead.</description></item>
</channel></rss>"""


@dataclass
class Runner:
    """One workflow job on a fresh machine: the workspace is `workspace`, the repository's cache
    is `caches` (shared between runs, as GitHub keeps it), every run gets a new run id."""

    workflow: dict
    workspace: Path
    caches: dict[str, dict[str, bytes]]   # key -> files (path in the workspace -> bytes), oldest first
    run_id: int
    outputs: dict[str, dict] = field(default_factory=dict)
    artifact: Path | None = None
    summary: str = ""
    commands: list[tuple[str, int]] = field(default_factory=list)   # each run: step and its exit status

    def expression(self, expr: str, status_ok: bool):
        expr = expr.strip()
        known = {"github.run_id": str(self.run_id), "github.run_attempt": "1", "github.token": "",
                 "github.server_url": "https://github.com", "github.repository": "council/hub",
                 "!cancelled()": True, "success()": status_ok}
        if expr in known:
            return known[expr]
        if expr.startswith("secrets."):
            return ""   # the optional Bluesky secrets, not set
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if step:
            return self.outputs[step.group(1)][step.group(2)]
        raise AssertionError(f"the stand-in runner does not know ${{{{ {expr} }}}}")

    def fill(self, value, status_ok: bool):
        if isinstance(value, str):
            return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self.expression(m.group(1), status_ok)), value)
        return value

    def run_job(self, name: str) -> bool:
        """Run the job's steps in order; returns whether the job succeeded."""
        ok = True
        summary_file = self.workspace.parent / f"summary-{self.run_id}.md"
        summary_file.write_text("")
        for step in self.workflow["jobs"][name]["steps"]:
            condition = step.get("if", "${{ success() }}")
            if not self.expression(condition.strip().removeprefix("${{").removesuffix("}}"), ok):
                continue
            inputs = {k: self.fill(v, ok) for k, v in (step.get("with") or {}).items()}
            if "run" in step:
                ok = self.run_command(step, summary_file) and ok
            else:
                self.use(step["uses"].split("@")[0], step.get("id"), inputs)
        self.summary = summary_file.read_text(encoding="utf-8")
        return ok

    def run_command(self, step: dict, summary_file: Path) -> bool:
        command = step["run"].strip()
        if command == CHECKOUT_INSTALL:
            return True   # the package is installed where this test runs
        env = {**{k: str(self.fill(v, True)) for k, v in (step.get("env") or {}).items()},
               "GITHUB_STEP_SUMMARY": str(summary_file), "COLUMNS": "200"}
        assert command.startswith(".venv/bin/opengovtech "), command
        shell = f"{sys.executable} -m pipelines.app.cli " + command.removeprefix(".venv/bin/opengovtech ")
        import os

        result = subprocess.run(["bash", "-c", shell], cwd=self.workspace, env={**os.environ, **env},
                                capture_output=True, text=True, timeout=600)
        self.commands.append((command, result.returncode))
        self.last_output = result.stdout + result.stderr
        return result.returncode == 0

    def use(self, action: str, step_id: str | None, inputs: dict) -> None:
        paths = [p for p in (inputs.get("path") or "").splitlines() if p.strip()]
        if action == "actions/configure-pages":
            self.outputs[step_id] = {"base_url": PAGES_URL, "base_path": "/hub"}
        elif action == "actions/cache/restore":
            # An exact key, else the newest cache whose key starts with a restore key (actions/cache).
            key = inputs["key"] if inputs["key"] in self.caches else next(
                (k for k in reversed(self.caches) if any(k.startswith(p) for p in inputs["restore-keys"].split())),
                None)
            for relative, data in (self.caches.get(key) or {}).items():
                (self.workspace / relative).parent.mkdir(parents=True, exist_ok=True)
                (self.workspace / relative).write_bytes(data)
        elif action == "actions/cache/save":
            if inputs["key"] not in self.caches:   # a cache is immutable: a key is saved once
                self.caches[inputs["key"]] = {p: (self.workspace / p).read_bytes() for p in paths
                                              if (self.workspace / p).exists()}
        elif action == "actions/upload-pages-artifact":
            assert (self.workspace / inputs["path"] / "index.html").exists()
            self.artifact = self.workspace.parent / f"pages-{self.run_id}"
            shutil.copytree(self.workspace / inputs["path"], self.artifact)
        else:
            assert action in ("actions/checkout", "actions/setup-python"), action


@pytest.fixture
def repository(tmp_path):
    """A hub repository's checkout: this repository's workflow, a sources.yaml of loopback sources."""
    workflow = yaml.safe_load((REPO / ".github/workflows/hub.yml").read_text(encoding="utf-8"))
    caches: dict[str, dict[str, bytes]] = {}
    runs = iter(range(1000, 2000))

    def fresh_machine(sources: list[dict]) -> Runner:
        workspace = tmp_path / f"run-{len(caches)}-{next(runs)}"
        workspace.mkdir()
        (workspace / "sources.yaml").write_text(yaml.safe_dump(
            {"defaults": {"allow_private_networks": True, "retries": 0, "timeout_s": 5}, "sources": sources},
            sort_keys=False), encoding="utf-8")
        return Runner(workflow, workspace, caches, run_id=next(runs))

    return fresh_machine


def test_two_daily_runs_keep_the_warehouse_and_publish_the_site_under_the_pages_path(repository, loopback):
    feed = serve_file(loopback, "/feeds/data.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    sources = [{"id": "data-blog", "kind": "feed", "url": feed, "tagged_only": False, "org": "GDS"}]

    first = repository(sources)
    assert first.run_job("harvest"), first.last_output
    assert first.commands == [(".venv/bin/opengovtech run --summary \"$GITHUB_STEP_SUMMARY\" --fail-on-checks", 0)]
    [key] = first.caches
    assert key == f"hub-warehouse-{first.run_id}-1"
    assert set(first.caches[key]) == {"warehouse/hub.duckdb", "warehouse/hub.search.sqlite"}
    assert "| `data-blog` | ok |" in first.summary and "### Data checks: 4 of 4 passed" in first.summary
    home = (first.artifact / "index.html").read_text(encoding="utf-8")
    assert '<link rel="canonical" href="https://council.github.io/hub/">' in home
    assert 'href="/hub/static/style.css"' in home and 'href="/hub/search/"' in home
    assert not re.search(r'(href|src)="/(?!hub/)', home), "a root-relative link outside /hub/"
    assert "<id>https://council.github.io/hub/feed.atom</id>" in (first.artifact / "feed.atom").read_text()
    get_listed = (first.artifact / "get-listed" / "index.html").read_text(encoding="utf-8")
    assert 'href="https://github.com/council/hub/issues/new?template=suggest-a-source.yml"' in get_listed
    items = count_items(first)

    loopback.clear_log()
    second = repository(sources)   # a new machine: nothing but what the cache restores
    assert second.run_job("harvest"), second.last_output
    [request] = [r for r, _ in loopback.log if r.path == "/feeds/data.atom"]
    assert request.headers.get("If-None-Match"), "the second run's request was not conditional"
    assert [response.status_code for r, response in loopback.log if r.path == "/feeds/data.atom"] == [304]
    assert "| `data-blog`" not in second.summary   # nothing new: counted, not listed
    assert count_items(second) == items
    assert list(second.caches) == [key, f"hub-warehouse-{second.run_id}-1"]
    assert (second.artifact / "index.html").read_text(encoding="utf-8").count('href="/hub/') > 5


def test_failed_data_checks_fail_the_run_keep_the_warehouse_and_publish_nothing(repository, loopback):
    feed = serve_bytes(loopback, "/feeds/future.rss", FUTURE_FEED, "application/rss+xml")
    runner = repository([{"id": "future", "kind": "feed", "url": feed, "tagged_only": False}])
    assert not runner.run_job("harvest")
    assert runner.commands[-1][1] == 5, runner.last_output
    assert "data checks failed: no_dates_in_the_future" in runner.last_output
    assert "| `no_dates_in_the_future` | **failed** | `1 items are dated more than a day ahead` |" in runner.summary
    assert runner.artifact is None   # the upload (and so the deployment) is skipped
    assert list(runner.caches) == [f"hub-warehouse-{runner.run_id}-1"]   # the harvest is kept for the next run


def count_items(runner: Runner) -> int:
    from pipelines.store.warehouse import open_for_reading

    with open_for_reading(runner.workspace / "warehouse" / "hub.duckdb") as con:
        total, distinct = con.execute("SELECT count(*), count(DISTINCT url) FROM hub_items").fetchone()
    assert total == distinct and total > 0
    return total
