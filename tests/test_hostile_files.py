"""A `kind: markdown` directory that others write to: links out of it, special files, huge files
and hostile front matter are refused by name, and the rest of the directory is still harvested."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database

SECRETS = {"GITHUB_TOKEN": "CANARY-GITHUB-TOKEN-5d1e", "BLUESKY_APP_PASSWORD": "CANARY-BLUESKY-PASSWORD-93ab"}
OUTSIDE_CANARY = "CANARY-OUTSIDE-FILE-7c42"


def post(title: str, body: str = "A post about open government technology.") -> str:
    return f"---\ntitle: {title}\ntags: [opengovtech]\n---\n{body}\n"


def hostile_site(tmp_path: Path) -> Path:
    """A Jekyll site whose _posts hold one good post, one linked from inside the site, and
    everything that must not be read."""
    site, outside = tmp_path / "site", tmp_path / "outside"
    (site / "_posts").mkdir(parents=True)
    (site / "shared").mkdir()
    (outside / "folder").mkdir(parents=True)
    (site / "_config.yml").write_text("title: Hostile\n", encoding="utf-8")
    posts = site / "_posts"
    (posts / "2024-05-01-ok.md").write_text(post("A good post"), encoding="utf-8")
    (site / "shared" / "2024-05-02-shared.md").write_text(post("Shared through a link"), encoding="utf-8")
    (posts / "2024-05-02-shared.md").symlink_to("../shared/2024-05-02-shared.md")   # stays inside: read
    (posts / "env.md").symlink_to("/proc/self/environ")
    (posts / "passwd.md").symlink_to("/etc/passwd")
    (outside / "secret.md").write_text(post("Outside", OUTSIDE_CANARY), encoding="utf-8")
    (posts / "2024-05-03-secret.md").symlink_to(outside / "secret.md")
    (outside / "folder" / "2024-05-04-leak.md").write_text(post("Leak", OUTSIDE_CANARY), encoding="utf-8")
    (posts / "linked").symlink_to(outside / "folder", target_is_directory=True)
    os.mkfifo(posts / "2024-05-05-fifo.md")   # opening it to read would wait for a writer
    (posts / "2024-05-06-huge.md").write_text(post("Huge", "x" * 1_500_000), encoding="utf-8")
    (posts / "loop.md").symlink_to("loop.md")
    return site


def test_links_out_of_a_markdown_directory_and_special_files_are_refused_by_name_and_never_published(hub, tmp_path):
    site = hostile_site(tmp_path)
    hub.write_sources([{"id": "hostile", "kind": "markdown", "directory": str(site), "tags": ["opengovtech"],
                        "tagged_only": False}])
    # The run in its own process, so /proc/self/environ is an environment holding the secrets.
    result = run_cli("run", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path),
                     env={"DAGSTER_HOME": "", **SECRETS}, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout

    stored = repr(hub.query("SELECT * FROM raw_entries")) + repr(hub.query("SELECT * FROM hub_items"))
    # The warehouse, its search index, the built site and the logs: every file the run wrote.
    written = b"".join(p.read_bytes() for p in hub.warehouse_path.parent.rglob("*") if p.is_file())
    printed = result.stdout + result.stderr
    canaries = [*SECRETS.values(), OUTSIDE_CANARY, "root:x:0:0"]
    assert [c for c in canaries if c in stored or c.encode() in written or c in printed] == []

    titles = sorted(t for (t,) in hub.query("SELECT title FROM hub_items"))
    assert titles == ["A good post", "Shared through a link"]
    warning = hub.health("hostile")["warning"] or ""
    for refused in ("_posts/env.md", "_posts/passwd.md", "_posts/2024-05-03-secret.md", "_posts/linked",
                    "_posts/2024-05-05-fifo.md", "_posts/2024-05-06-huge.md", "_posts/loop.md"):
        assert refused in warning, (refused, warning)


def test_hostile_front_matter_skips_only_its_own_file_and_names_it_with_its_line(hub, tmp_path):
    posts = tmp_path / "site" / "_posts"
    posts.mkdir(parents=True)
    (posts / "2024-05-01-ok.md").write_text(post("A good post"), encoding="utf-8")
    # 'Billion laughs' in 390 bytes: nine anchors, each nine aliases of the one before.
    bomb = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
        f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
    (posts / "2024-05-02-bomb.md").write_text(f"---\ntitle: Bomb\n{bomb}tags: *i\n---\nBody\n", encoding="utf-8")
    (posts / "2024-05-03-deep.md").write_text("---\ntitle: Deep\ntags: " + "[" * 1000 + "]" * 1000 + "\n---\nBody\n",
                                              encoding="utf-8")
    keys = "".join(f"key{i}: value {i}\n" for i in range(5_000))
    (posts / "2024-05-04-wide.md").write_text(f"\n---\ntitle: Wide\n{keys}---\nBody\n", encoding="utf-8")
    hub.write_sources([{"id": "posts", "kind": "markdown", "directory": str(tmp_path / "site"),
                        "tags": ["opengovtech"]}])
    result = run_cli("run", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path),
                     env={"DAGSTER_HOME": ""}, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    assert [t for (t,) in hub.query("SELECT title FROM hub_items")] == ["A good post"]
    warning = hub.health("posts")["warning"]
    assert "_posts/2024-05-02-bomb.md:7: YAML aliases expand to more than 10,000 nodes (at alias *d)" in warning
    assert "_posts/2024-05-03-deep.md:3: YAML nesting deeper than 64 levels" in warning
    assert "_posts/2024-05-04-wide.md:2: YAML document larger than 64,000 bytes" in warning
    assert hub.query("SELECT count(*) FROM raw_entries")[0][0] == 1
