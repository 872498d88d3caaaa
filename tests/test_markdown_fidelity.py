"""Markdown sources as their sites publish them: Liquid rendered away, front matter read as Jekyll does."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import CORPUS

pytestmark = pytest.mark.slow  # each test runs the harvest (parse workers)

OPENGOVTECH = CORPUS / "pages" / "opengovtech"
SCOTT_LOGIC_DRAFT = CORPUS / "pages" / "repo_posts" / "scottlogic_draft_we-need-bold-and-better-govtech-not-big-it.markdown"
FUTUREGOV = "2019-10-07-futuregov-designing-21st-century-government.md"


def test_liquid_tags_and_outputs_of_the_manifesto_are_not_shown_as_text(hub, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(OPENGOVTECH / "manifesto.md", site / "manifesto.md")
    hub.write_sources([{"id": "pages", "kind": "markdown", "directory": str(site), "tagged_only": False}])
    hub.harvest()
    text, html = hub.query("SELECT content_text, content_html FROM hub_items")[0]
    for liquid in ("{%", "%}", "{{", "}}"):
        assert liquid not in text and liquid not in html
    assert "Please contribute to make this manifesto better!" in " ".join(text.split())


def test_a_post_with_permalink_false_takes_its_sites_permalink_pattern(hub, tmp_path):
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    shutil.copy(OPENGOVTECH / "_config.yml", site / "_config.yml")
    post = (OPENGOVTECH / f"post_{FUTUREGOV}").read_text(encoding="utf-8")
    (site / "_posts" / FUTUREGOV).write_text(post.replace("---\n", "---\npermalink: false\n", 1), encoding="utf-8")
    hub.write_sources([{"id": "site", "kind": "markdown", "directory": str(site),
                        "site_url": "https://opengovtech.org/", "tagged_only": False}])
    hub.harvest()
    assert hub.query("SELECT url FROM hub_items")[0][0] == \
        "https://opengovtech.org/2019-10-08-futuregov-designing-21st-century-government/"


def test_an_authors_list_is_the_author_and_entities_in_front_matter_are_decoded(hub, tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    text = SCOTT_LOGIC_DRAFT.read_text(encoding="utf-8")
    text = text.replace("author: sforeshew-cain", "authors:\n- sforeshew-cain\n- cprice")
    text = text.replace("In the past few years, we’ve", "In the past few years&#58; we’ve")
    (posts / SCOTT_LOGIC_DRAFT.name).write_text(text, encoding="utf-8")
    hub.write_sources([{"id": "posts", "kind": "markdown", "directory": str(posts), "tagged_only": False}])
    hub.harvest()
    author, summary = hub.query("SELECT author, summary FROM hub_items")[0]
    assert author == "sforeshew-cain, cprice"
    assert summary.startswith("In the past few years: we’ve")
