"""Normalise, dedupe, classify and link, over real corpus and seed inputs served from 127.0.0.1."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.config import MarkdownSource, load_registry
from pipelines.store.connection import memory_limit
from pipelines.errors import ConfigError
from pipelines.normalise import build_items
from pipelines.normalise.aliases import load_aliases
from pipelines.parse import parse_document
from pipelines.parse.entries import ParseOptions
from pipelines.normalise.quality import run_quality_checks
from pipelines.sources.markdown import MarkdownFile, file_record
from pipelines.parse.urls import canonical_url, item_id
from pipelines.outcomes import SourceOutcome
from pipelines.store.warehouse import open_for_writing
from tests.conftest import CORPUS, SHARED, run_cli, serve_file
from tests.github_api_server import GitHubAPIServer, generated_repos
from tests.social_servers import SOCIAL, MastodonTimeline

DATA_BLOG_POST = "https://data.blog.gov.uk/2016/05/23/what-open-government-policy-can-learn-from-internet-culture/"


def recorded_devto_article() -> dict:
    return copy.deepcopy(json.loads((SOCIAL / "devto_api_articles_by_username.json").read_text(encoding="utf-8"))[0])


def serve_devto(loopback, username: str, articles: list[dict]) -> str:
    loopback.expect_request("/api/articles", query_string=f"username={username}&per_page=100&page=1") \
        .respond_with_json(articles)
    return loopback.url_for("").rstrip("/")


def test_a_story_from_its_feed_a_toot_and_a_cross_post_is_one_item_with_three_sources(hub, loopback):
    feed = serve_file(loopback, "/feeds/data.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    timeline = MastodonTimeline(loopback, "opengovtech")
    shared = DATA_BLOG_POST + "?utm_source=mastodon&utm_medium=social&fbclid=abc#comments"
    timeline.post(f'<p>How open government learns from internet culture <a href="{shared}">{shared}</a> '
                  f'#OpenGovTech</p>', tags=["opengovtech"], card_url=shared)
    # The recorded dev.to article, re-pointed at the blog post as its canonical URL (a cross-post).
    article = recorded_devto_article()
    article.update(id=9_100_001, title="What open government policy can learn from internet culture",
                   url="https://dev.to/gds/what-open-government-policy-can-learn-3kd1", canonical_url=DATA_BLOG_POST,
                   tag_list=["opengovtech"], tags="opengovtech")
    api = serve_devto(loopback, "gds", [article])
    hub.write_sources([
        {"id": "data-blog", "kind": "feed", "url": feed, "org": "GDS", "tagged_only": False},
        {"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech",
         "follow_links": False},
        {"id": "devto", "kind": "devto", "username": "gds", "api_url": api},
    ])
    (hub.root / "aliases.yaml").write_text(
        "organisations:\n  Government Digital Service: [GDS, gds-digital]\n", encoding="utf-8")
    hub.harvest()

    rows = hub.query("SELECT id, url, source_ids, merge_reasons, organisation, kind, kind_reasons, mentions "
                     "FROM hub_items")
    assert len(rows) == 1, rows
    item, url, sources, merge_reasons, organisation, kind, kind_reasons, mentions = rows[0]
    assert url == DATA_BLOG_POST and sources == ["data-blog", "devto", "toots"]
    assert item == item_id(DATA_BLOG_POST, "", None)
    assert any(r.startswith("same canonical URL in 3 sources") for r in merge_reasons)
    assert any("https://dev.to/gds/what-open-government-policy-can-learn-3kd1 names" in r for r in merge_reasons)
    assert any(r.startswith("shared by mastodon post") for r in merge_reasons)
    assert organisation == "Government Digital Service"      # aliases.yaml
    assert kind == "story" and kind_reasons
    assert len(mentions) == 1
    organisations = hub.query("SELECT name, aliases, items FROM hub_organisations")
    assert organisations == [("Government Digital Service", ["GDS", "gds-digital"], 1)]


def test_near_identical_cross_post_without_a_canonical_link_is_merged_under_the_original(hub, loopback):
    feed_file = CORPUS / "feeds" / "feedburner_thoughtbot_robots.atom"
    feed = serve_file(loopback, "/thoughtbot.atom", feed_file)
    original = next(r for r in parse_document(feed_file.read_bytes(), feed, None, ParseOptions("x", (), False)).records
                    if r.title == "Solve Problems, not Strawmen")
    # The same post republished on dev.to a day later by the same author, with no canonical_url
    # back: dev.to then names the article itself. Edited lightly, as cross-posts are.
    article = recorded_devto_article()
    article.update(id=9_100_002, title=original.title, url="https://dev.to/thoughtbot/solve-problems-not-strawmen-1a2b",
                   canonical_url="https://dev.to/thoughtbot/solve-problems-not-strawmen-1a2b",
                   body_html=original.content_html.replace("</p>", " (cross-posted)</p>", 1),
                   published_at=(original.published_at + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
                   published_timestamp=None)
    article["user"] = {**article["user"], "name": original.author}
    api = serve_devto(loopback, "thoughtbot", [article])
    hub.write_sources([{"id": "thoughtbot", "kind": "feed", "url": feed, "tagged_only": False},
                       {"id": "devto", "kind": "devto", "username": "thoughtbot", "api_url": api, "tagged_only": False}])
    hub.harvest()
    rows = hub.query("SELECT url, source_ids, merge_reasons FROM hub_items WHERE title = ?", [original.title])
    assert len(rows) == 1, rows
    url, sources, reasons = rows[0]
    assert url == original.canonical_url and sources == ["devto", "thoughtbot"]
    near = [r for r in reasons if r.startswith("near-identical text")]
    assert near and f"by the same author ({original.author.lower()})" in near[0] and "1.0 days apart" in near[0]
    assert hub.query("SELECT count(*) FROM item_merges")[0][0] == 1


def test_tracking_parameter_and_formatting_variants_collapse_to_one_canonical_url():
    variants = [
        DATA_BLOG_POST,
        DATA_BLOG_POST + "?utm_source=twitter&utm_campaign=x",
        DATA_BLOG_POST.replace("https://data.blog.gov.uk", "HTTPS://Data.Blog.GOV.uk:443") + "#comments",
        DATA_BLOG_POST + "?fbclid=IwAR0&gclid=abc&mc_cid=1&mc_eid=2",
        DATA_BLOG_POST.rstrip("/"),   # the trailing slash does not make another page
    ]
    ids = {item_id(canonical_url(v), "s", None) for v in variants}
    assert len(ids) == 1
    assert canonical_url(variants[1]) == DATA_BLOG_POST
    assert canonical_url("https://x.org/search?q=open+data&page=2&utm_medium=email") == \
        "https://x.org/search?q=open+data&page=2"


def _seed_record(name: str):
    """A seed file as the markdown kind records it (seeds are saved pages with front matter)."""
    text = (SHARED / "seeds" / name).read_text(encoding="utf-8")
    source = MarkdownSource(id="seeds", kind="markdown", directory=".", tagged_only=False)
    record = file_record(source, MarkdownFile(path=f"{Path(name).stem}.md", text=text, blob="seed"), [],
                         branch="main")
    return replace(record, url=f"https://example.org/{Path(name).stem}/", canonical_url=f"https://example.org/{Path(name).stem}/",
                   item_id=item_id(f"https://example.org/{Path(name).stem}/", "seeds", None))


@pytest.mark.slow  # runs the harvest and the CLI as a subprocess
def test_seed_000_mojibake_is_repaired_in_hub_items_and_a_rebuild_redoes_it_without_fetching(hub):
    record = _seed_record("000_1a221a610405bbdf.txt")
    assert "Â£130m" in record.content_text            # as harvested: the page's own mojibake
    hub.write_sources([{"id": "seeds", "kind": "markdown", "directory": str(SHARED / "seeds"), "tagged_only": False}])
    with open_for_writing(hub.warehouse_path, "seed-test") as wh:
        wh.sync_sources(load_registry(hub.sources_path).rows())
        wh.write_outcomes("seed-test", [SourceOutcome(source_id="seeds", status="ok", records=[record], entries_read=1)])
        build_items(wh)
    text, summary, language = hub.query("SELECT content_text, summary, language FROM hub_items")[0]
    assert "£130m" in text and "Â£" not in text and language == "en"
    assert summary
    raw = hub.query("SELECT content_text FROM raw_entries")[0][0]
    assert "Â£130m" in raw                              # the raw record is kept as it came
    result = run_cli("rebuild", "--sources", str(hub.sources_path), "--warehouse", str(hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    assert "Rebuilt 1 items from 1 stored entries" in result.stdout
    assert "£130m" in hub.query("SELECT content_text FROM hub_items")[0][0]


def test_a_story_linking_a_repository_forms_a_project_with_it(hub, loopback, monkeypatch):
    feed = serve_file(loopback, "/ads.atom", CORPUS / "feeds" / "feedburner_blogger.atom")
    github = GitHubAPIServer(loopback).start()
    repo = generated_repos("googleads", 1)[0]
    repo.update(name="keyword-optimizer", full_name="googleads/keyword-optimizer",
                html_url="https://github.com/googleads/keyword-optimizer",
                description="Sample app for the AdWords API keyword optimizer", homepage=None)
    github.add_owner("googleads", [repo])
    # The post introduces the app (the classifier reads it as an asset); the operator says the blog
    # tells stories, so the post and its repository form a project.
    hub.write_sources([{"id": "ads-blog", "kind": "feed", "url": feed, "tagged_only": False, "item_kind": "story"},
                       {"id": "googleads", "kind": "github", "repo": "googleads/keyword-optimizer",
                        "tagged_only": False}])
    monkeypatch.setenv("GITHUB_API_URL", github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "")
    hub.harvest()
    story = "Introducing the Keyword Optimizer sample app for the AdWords API"
    projects = hub.query("SELECT title, story_ids, asset_ids, reasons FROM hub_projects WHERE title = ?", [story])
    assert len(projects) == 1
    title, story_ids, asset_ids, reasons = projects[0]
    repo_id = hub.query("SELECT id FROM hub_items WHERE url = 'https://github.com/googleads/keyword-optimizer'")[0][0]
    assert asset_ids == [repo_id] and len(story_ids) == 1
    assert any("links to the repository googleads/keyword-optimizer" in r for r in reasons)
    related = dict(hub.query("SELECT id, related_ids FROM hub_items WHERE project_id IS NOT NULL"))
    assert related[repo_id] == story_ids and related[story_ids[0]] == [repo_id]


def test_asset_checks_fail_on_a_deliberately_broken_warehouse(hub, loopback):
    feed = serve_file(loopback, "/thoughtbot.atom", CORPUS / "feeds" / "feedburner_thoughtbot_robots.atom")
    hub.write_sources([{"id": "thoughtbot", "kind": "feed", "url": feed, "tagged_only": False}])
    hub.harvest()
    with open_for_writing(hub.warehouse_path, "ok") as wh:
        assert all(r.passed for r in run_quality_checks(wh.con))
        # Break it: an item without a title, two items with one URL, a date far ahead.
        wh.con.execute("""INSERT INTO items (id, kind, title, url, published_at)
                          SELECT 'broken-' || id, kind, '', url, now() + INTERVAL 30 DAY FROM items LIMIT 1""")
    import dagster as dg   # here, not at the top: collecting the fast tier never imports Dagster

    from pipelines.defs.normalise import hub_items, hub_items_checks
    from pipelines.defs.resources import SourcesResource, WarehouseResource
    result = dg.materialize(
        [hub_items, hub_items_checks], raise_on_error=False,
        resources={"sources": SourcesResource(path=str(hub.sources_path)),
                   "warehouse": WarehouseResource(path=str(hub.warehouse_path))})
    outcome = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert outcome == {"items_have_title_and_url": False, "canonical_urls_are_unique": False,
                       "no_dates_in_the_future": False, "failed_sources_share": True}


def test_aliases_file_errors_name_the_file_and_the_problem(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("organisations:\n  A: [X]\n  B: [x]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'x' is an alias of both 'A' and 'B'") as doubled:
        load_aliases(path)
    assert str(path) in str(doubled.value)
    path.write_text("organisations: [not, a, mapping]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="organisations") as not_mapping:
        load_aliases(path)
    assert str(path) in str(not_mapping.value)


def test_repositories_linked_from_stories_are_fetched_as_assets_related_to_the_story(hub, loopback, monkeypatch):
    feed = serve_file(loopback, "/ads.atom", CORPUS / "feeds" / "feedburner_blogger.atom")
    github = GitHubAPIServer(loopback).start()
    github.add_owner("northbridge", generated_repos("northbridge", 2))
    linked = generated_repos("googleads", 1)[0]
    linked.update(name="keyword-optimizer", full_name="googleads/keyword-optimizer",
                  html_url="https://github.com/googleads/keyword-optimizer", topics=[], description="Sample app")
    github.add_owner("googleads", [linked])   # served at /repos/googleads/keyword-optimizer only when asked
    monkeypatch.setenv("GITHUB_API_URL", github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "")
    # The post introduces the app (the classifier reads it as an asset); the operator says the blog
    # tells stories, so the post and its repository form a project.
    hub.write_sources([{"id": "ads-blog", "kind": "feed", "url": feed, "tagged_only": False, "item_kind": "story"},
                       {"id": "northbridge", "kind": "github", "org": "northbridge"}])
    hub.harvest()   # the story is read; its links are known once it is normalised
    hub.harvest()   # the implicit source reads the repositories stories link to
    story = "Introducing the Keyword Optimizer sample app for the AdWords API"
    row = hub.query("SELECT source_ids, match_reasons, related_ids, kind, asset_type FROM hub_items "
                    "WHERE url = 'https://github.com/googleads/keyword-optimizer'")
    assert row, hub.query("SELECT source_id, status, warning FROM source_health")
    sources, reasons, related, kind, asset_type = row[0]
    assert sources == ["github-linked-repos"] and kind == "asset" and asset_type == "repo"
    assert any(r.startswith("linked from http") for r in reasons)   # the story's page, fetched as the repo
    story_id = hub.query("SELECT id FROM hub_items WHERE title = ?", [story])[0][0]
    assert story_id in related
    # Other repositories the feed's posts link to were asked for; the API does not have them: noted.
    assert "could not be read" in (hub.health("github-linked-repos")["warning"] or "")

    # Off in defaults: no implicit source.
    # The post introduces the app (the classifier reads it as an asset); the operator says the blog
    # tells stories, so the post and its repository form a project.
    hub.write_sources([{"id": "ads-blog", "kind": "feed", "url": feed, "tagged_only": False, "item_kind": "story"},
                       {"id": "northbridge", "kind": "github", "org": "northbridge"}], fetch_linked_repos=False)
    from pipelines.config import load_registry as load
    assert "github-linked-repos" not in {s.id for s in load(hub.sources_path).sources}


def test_a_repository_whose_readme_links_back_to_the_story_joins_its_project(hub, loopback, monkeypatch):
    feed = serve_file(loopback, "/feeds/data.atom", CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom")
    github = GitHubAPIServer(loopback).start()
    repo = generated_repos("gds", 1)[0]
    repo.update(name="open-government-plan", full_name="gds/open-government-plan",
                html_url="https://github.com/gds/open-government-plan", homepage=None)
    github.add_owner("gds", [repo])
    github.files[("gds/open-government-plan", "README.md")] = (
        f"# Open Government National Action Plan\n\nWhy we published it: {DATA_BLOG_POST}.\n")
    monkeypatch.setenv("GITHUB_API_URL", github.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", "")
    hub.write_sources([{"id": "data-blog", "kind": "feed", "url": feed, "tagged_only": False},
                       {"id": "gds", "kind": "github", "org": "gds", "tagged_only": False}])
    hub.harvest()
    story_ids, asset_ids, reasons = hub.query("SELECT story_ids, asset_ids, reasons FROM hub_projects")[0]
    assert story_ids == [item_id(DATA_BLOG_POST, "", None)]
    assert asset_ids == [item_id("https://github.com/gds/open-government-plan", "", None)]
    assert reasons == [f"gds/open-government-plan links to {DATA_BLOG_POST}"]


def _copies_of_one_post(count: int) -> list[tuple]:
    """`count` copies of one post by one author at the same minute (a feed syndicated to
    several places), as (source_id, entry_key, item key, url, text)."""
    text = (CORPUS / "feeds" / "feedburner_thoughtbot_robots.atom").read_text(encoding="utf-8")[:4000]
    return [(f"source-{n}", f"entry-{n}", f"key-{n}", f"https://copy{n}.example/post", text + " " * n)
            for n in range(count)]


def _store_copies(warehouse, rows: list[tuple]) -> None:
    for source_id, entry_key, key, url, body in rows:
        warehouse.con.execute(
            "INSERT INTO raw_entries (source_id, entry_key, item_id, url, published_at, first_seen_at, "
            "last_seen_at, changed_at) VALUES (?, ?, ?, ?, TIMESTAMPTZ '2024-05-01 09:00:00+00', now(), "
            "now(), now())", [source_id, entry_key, key, url])
        warehouse.con.execute(
            "INSERT INTO entry_facts (source_id, entry_key, raw_changed_at, config_hash, item_key, "
            "canonical_url, title, content_text, author, kind, matched) VALUES (?, ?, now(), '', ?, ?, 'Post', ?, "
            "'Ada', 'story', true)", [source_id, entry_key, key, url, body])


def test_near_duplicate_merges_do_not_depend_on_the_order_entries_were_stored(tmp_path):
    # Which copy each is merged into, and the reasons given, must not change with the order the
    # rows happen to sit in the table, or a rebuild would rewrite unchanged items.
    from pipelines.normalise.dedupe import find_near_duplicates

    rows = _copies_of_one_post(3)

    def merges_when_stored(order: list[int]) -> list[tuple[str, str, str]]:
        with open_for_writing(tmp_path / f"order-{''.join(map(str, order))}.duckdb", "test", 0) as warehouse:
            _store_copies(warehouse, [rows[n] for n in order])
            return sorted((m.item_key, m.into_key, m.reason) for m in find_near_duplicates(warehouse.con))

    first = merges_when_stored([0, 1, 2])
    assert len(first) == 2 and {into for _, into, _ in first} == {"key-0"}
    assert first[0][2].startswith("near-identical text (") and "0.0 days apart: https://copy1.example/post " \
        "merged into https://copy0.example/post" in first[0][2]
    assert merges_when_stored([2, 1, 0]) == first
    assert merges_when_stored([1, 2, 0]) == first


def test_near_duplicate_merges_are_stored_a_batch_at_a_time_as_found(tmp_path, monkeypatch):
    from pipelines.normalise import items as build
    from pipelines.normalise.dedupe import find_near_duplicates

    monkeypatch.setattr(build, "MERGES_PER_INSERT", 2)
    with open_for_writing(tmp_path / "batches.duckdb", "test", 0) as warehouse:
        _store_copies(warehouse, _copies_of_one_post(6))
        found = sorted((m.item_key, m.into_key, m.reason) for m in find_near_duplicates(warehouse.con))
        assert build.replace_item_merges(warehouse.con) == len(found) == 5
        assert sorted(warehouse.con.execute("SELECT item_key, into_key, reason FROM item_merges").fetchall()) == found


def test_organisations_gather_their_items_and_the_github_owner_most_repositories_sit_under(tmp_path):
    from pipelines.normalise.aliases import Aliases
    from pipelines.normalise.organisations import build_organisations

    with open_for_writing(tmp_path / "orgs.duckdb", "test", 0) as warehouse:
        con = warehouse.con
        con.execute("INSERT INTO sources (source_id, kind, url, org, tagged_only, active) VALUES "
                    "('leeds-blog', 'feed', 'https://leeds.example/feed', 'Leeds City Council', true, true), "
                    "('leeds-gh', 'github', 'https://api.github.com/orgs/leeds', NULL, true, true)")
        items = [("i3", "asset", "repo", "https://github.com/leedscc/bins", "Leeds City Council", ["leeds-gh"]),
                 ("i1", "asset", "repo", "https://github.com/leedscc/roads", "Leeds City Council", ["leeds-gh"]),
                 ("i2", "asset", "repo", "https://github.com/aaa-fork/roads", "Leeds City Council", ["leeds-gh"]),
                 ("i4", "story", None, "https://leeds.example/post", "Leeds City Council", ["leeds-blog", "leeds-gh"]),
                 ("i5", "story", None, "https://else.example/post", "Open Data Manchester", ["other"]),
                 ("i6", "story", None, "https://nobody.example/post", None, ["other"])]
        con.executemany("INSERT INTO items (id, kind, asset_type, url, organisation, source_ids, title) "
                        "VALUES (?, ?, ?, ?, ?, ?, 't')", items)
        assert build_organisations(con, Aliases()) == 2
        # item ids are gathered by the view, from items, when it is read
        rows = con.execute("SELECT name, slug, homepage, item_ids, source_ids, origins FROM hub_organisations").fetchall()
        assert "item_ids" not in {c for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'organisations'").fetchall()}
    assert rows == [
        ("Leeds City Council", "leeds-city-council", "https://github.com/leedscc", ["i1", "i2", "i3", "i4"],
         ["leeds-blog", "leeds-gh"], ["items", "sources.yaml"]),
        ("Open Data Manchester", "open-data-manchester", None, ["i5"], ["other"], ["items"]),
    ]


def test_a_warehouse_from_before_migration_6_keeps_its_organisations_and_reads_their_items_from_the_view(
        tmp_path, monkeypatch):
    # Migration 6 drops the stored item_ids: an older file's organisations must survive it, and
    # hub_organisations must still list each one's items.
    import shutil

    import pipelines.store.warehouse as warehouse_module

    real = warehouse_module.migrations_dir()
    older = tmp_path / "migrations"
    older.mkdir()
    for path in sorted(real.glob("00[1-5]_*.sql")):
        shutil.copy(path, older / path.name)
    monkeypatch.setattr(warehouse_module, "migrations_dir", lambda: older)
    with open_for_writing(tmp_path / "old.duckdb", "test", 0) as warehouse:
        warehouse.con.execute("INSERT INTO items (id, kind, url, organisation, source_ids, title) VALUES "
                              "('i2', 'story', 'https://a.example/2', 'Leeds City Council', ['blog'], 't'), "
                              "('i1', 'story', 'https://a.example/1', 'Leeds City Council', ['blog'], 't')")
        warehouse.con.execute("INSERT INTO organisations VALUES ('Leeds City Council', 'leeds-city-council', "
                              "NULL, NULL, [], ['i1', 'i2'], ['blog'], ['items'])")
    monkeypatch.setattr(warehouse_module, "migrations_dir", lambda: real)
    with open_for_writing(tmp_path / "old.duckdb", "test", 0) as warehouse:
        rows = warehouse.con.execute("SELECT name, slug, items, item_ids, source_ids, origins "
                                     "FROM hub_organisations").fetchall()
    assert rows == [("Leeds City Council", "leeds-city-council", 2, ["i1", "i2"], ["blog"], ["items"])]


def test_entry_facts_read_in_row_id_chunks_match_one_pass_and_a_rerun_recomputes_only_what_changed(
        tmp_path, monkeypatch):
    # Facts are computed chunk by chunk of raw_entries row ids, so that DuckDB can checkpoint
    # between chunks; many small chunks must give exactly what one big chunk gives.
    import pipelines.normalise.facts as facts
    from pipelines.normalise.aliases import Aliases

    outcomes = []
    for name in ("wordpress_manton.rss", "data_blog_gov_uk_trimmed.atom", "guardian_us.rss"):
        doc = parse_document((CORPUS / "feeds" / name).read_bytes(), f"https://example.org/{name}", None,
                             ParseOptions(name, (), False))
        outcomes.append(SourceOutcome(source_id=name, status="ok", records=doc.records,
                                      entries_read=len(doc.records)))
    with open_for_writing(tmp_path / "facts.duckdb", "test", 0) as warehouse:
        con = warehouse.con
        warehouse.write_outcomes("test", outcomes)
        entries = con.execute("SELECT count(*) FROM raw_entries WHERE matched").fetchone()[0]
        assert entries > 40

        def all_facts() -> list[tuple]:
            return con.execute("SELECT * FROM entry_facts ORDER BY source_id, entry_key").fetchall()

        monkeypatch.setattr(facts, "CHUNK", 7)
        assert facts.refresh_entry_facts(con, Aliases()).computed == entries
        in_chunks = all_facts()
        assert len(in_chunks) == entries

        con.execute("UPDATE raw_entries SET changed_at = changed_at + INTERVAL 1 SECOND "
                    "WHERE entry_key IN (SELECT entry_key FROM raw_entries ORDER BY rowid DESC LIMIT 3)")
        assert facts.refresh_entry_facts(con, Aliases()).computed == 3
        assert facts.refresh_entry_facts(con, Aliases()).computed == 0

        monkeypatch.setattr(facts, "CHUNK", 100_000)
        assert facts.refresh_entry_facts(con, Aliases(), force=True).computed == entries
        one_pass = all_facts()
    changed = {row[:2] for row in in_chunks} - {row[:2] for row in one_pass}
    assert not changed
    # Only the three touched entries differ (their raw_changed_at moved on a second).
    assert sum(a != b for a, b in zip(in_chunks, one_pass)) == 3


@contextmanager
def warehouse_with_one_feed(path: Path, name: str):
    """A warehouse holding one corpus feed's entries, harvested as source "g"."""
    doc = parse_document((CORPUS / "feeds" / name).read_bytes(), "https://example.org/g", None,
                         ParseOptions("g", (), False))
    with open_for_writing(path, "test", 0) as warehouse:
        warehouse.write_outcomes("test", [SourceOutcome(source_id="g", status="ok", records=doc.records,
                                                        entries_read=len(doc.records))])
        yield warehouse


@pytest.mark.slow  # bench-scale: a warehouse of many entries
def test_entry_facts_take_another_pass_when_row_ids_move_during_one(tmp_path, monkeypatch):
    # A checkpoint can compact deleted rows out of raw_entries while facts are written, moving
    # later rows to lower row ids (it takes >122,880 rows, so here the rows are moved by hand
    # after the first chunk): the chunks still to come then name row ids that hold other rows,
    # and the entries they would have read are left for another pass.
    import pipelines.normalise.facts as facts
    from pipelines.normalise.aliases import Aliases

    with warehouse_with_one_feed(tmp_path / "moved.duckdb", "guardian_us.rss") as warehouse:
        con = warehouse.con
        entries = con.execute("SELECT count(*) FROM raw_entries WHERE matched").fetchone()[0]
        assert entries > 20
        refresh_chunk = facts._refresh_chunk
        passes = []

        def move_rows_after_the_first_chunk(con, aliases, suffix, first, last):
            computed = refresh_chunk(con, aliases, suffix, first, last)
            if not passes:
                con.execute("CREATE TEMP TABLE moving AS SELECT * FROM raw_entries")
                con.execute("DELETE FROM raw_entries")
                con.execute("INSERT INTO raw_entries SELECT * FROM moving ORDER BY entry_key DESC")
                con.execute("DROP TABLE moving")
            passes.append((first, last))
            return computed

        monkeypatch.setattr(facts, "CHUNK", 5)
        monkeypatch.setattr(facts, "_refresh_chunk", move_rows_after_the_first_chunk)
        facts.refresh_entry_facts(con, Aliases())
        missing = con.execute("""SELECT count(*) FROM raw_entries r WHERE r.matched AND NOT EXISTS (
            SELECT 1 FROM entry_facts f WHERE f.source_id = r.source_id AND f.entry_key = r.entry_key)""").fetchone()[0]
        assert missing == 0
        assert len(passes) > -(-entries // 5)   # a second pass ran
        monkeypatch.setattr(facts, "_refresh_chunk", refresh_chunk)
        assert facts.refresh_entry_facts(con, Aliases()).computed == 0


def test_near_duplicates_read_a_range_of_authors_at_a_time_give_the_same_merges(tmp_path):
    # Candidates are sorted one range of authors at a time (a sort of every long text at once
    # outgrew DuckDB's memory limit); one author per query must merge exactly as one query does.
    from pipelines.normalise.dedupe import author_ranges, find_near_duplicates

    text = (CORPUS / "feeds" / "feedburner_thoughtbot_robots.atom").read_text(encoding="utf-8")[:4000]
    with open_for_writing(tmp_path / "ranges.duckdb", "test", 0) as warehouse:
        for n in range(6):
            author = ("Ada", "Grace")[n % 2]
            warehouse.con.execute(
                "INSERT INTO raw_entries (source_id, entry_key, item_id, url, published_at, first_seen_at, "
                "last_seen_at, changed_at) VALUES (?, ?, ?, ?, TIMESTAMPTZ '2024-05-01 09:00:00+00' + "
                "to_hours(?), now(), now(), now())", [f"source-{n}", f"entry-{n}", f"key-{n}",
                                                      f"https://copy{n}.example/post", n])
            warehouse.con.execute(
                "INSERT INTO entry_facts (source_id, entry_key, raw_changed_at, config_hash, item_key, "
                "canonical_url, title, content_text, author, kind, matched) VALUES (?, ?, now(), '', ?, ?, 'Post', ?, ?, "
                "'story', true)", [f"source-{n}", f"entry-{n}", f"key-{n}", f"https://copy{n}.example/post",
                             author + " " + text + " " * n, author])

        def merges(rows_per_query: int) -> list[tuple[str, str, str]]:
            return sorted((m.item_key, m.into_key, m.reason)
                          for m in find_near_duplicates(warehouse.con, rows_per_query))

        assert author_ranges(warehouse.con, 1) == [("ada", "ada"), ("grace", "grace")]
        assert author_ranges(warehouse.con) == [("ada", "grace")]
        together = merges(1_000_000)
        assert {(key, into) for key, into, _ in together} == {("key-2", "key-0"), ("key-4", "key-0"),
                                                               ("key-3", "key-1"), ("key-5", "key-1")}
        assert merges(1) == together


def _pairwise_near_duplicates(rows: list[tuple]) -> list[tuple[str, str, str]]:
    """The near-duplicate merge as first written: every entry compared with every other entry in
    its window. The reference the windowed one must agree with."""
    from rapidfuzz import fuzz
    from rapidfuzz.utils import default_process

    from pipelines.normalise.dedupe import THRESHOLD, WINDOW, MergeForest

    forest, window = MergeForest(), []
    for key, url, author, published, text in rows:
        window = [w for w in window if w[2] == author and published - w[3] <= WINDOW]
        processed = default_process(text)
        for other_key, other_url, _, other_published, other_text in window:
            if forest.root(other_key) == forest.root(key):
                continue
            score = fuzz.ratio(processed, other_text, score_cutoff=THRESHOLD)
            if score:
                forest.merge((key, url, published), (other_key, other_url, other_published), author, score)
        window.append((key, url, author, published, processed))
    return sorted((m.item_key, m.into_key, m.reason) for m in forest.merges())


def _syndicated_posts(seed: int, copies: int, own_links: bool = False) -> list[tuple]:
    """Candidate rows in (author, date) order: posts cut from a real feed, each published in
    `copies` places (some on a syndication host, some slightly edited), over three weeks. With
    `own_links`, every copy's text carries its own URLs, so no two copies are the same text."""
    import random
    from datetime import datetime, timezone

    rng = random.Random(seed)
    words = (CORPUS / "feeds" / "feedburner_thoughtbot_robots.atom").read_text(encoding="utf-8").split()
    rows = []
    for author in ("ada", "grace"):
        for post in range(12):
            start = rng.randrange(0, len(words) - 600)
            text = " ".join(words[start:start + 500])
            day = datetime(2024, 5, 1, tzinfo=timezone.utc) + timedelta(hours=rng.randrange(0, 21 * 24))
            for copy_number in range(copies):
                edited = text + (f" edit {rng.randrange(3)}" if rng.random() < 0.3 else "")
                host = "dev.to" if rng.random() < 0.2 else f"copy{copy_number}.example"
                if own_links:
                    link = f" https://c{copy_number}.{host}/{author}/{post} "
                    middle = len(edited) // 2
                    edited = link + edited[:middle] + link + edited[middle:] + link
                published = day + timedelta(hours=rng.randrange(0, 9 * 24))
                rows.append((f"{author}-{post}-{copy_number}", f"https://{host}/{author}/{post}", author,
                             published, edited))
    return sorted(rows, key=lambda r: (r[2], r[3], r[0]))


def _merges_counting_comparisons(monkeypatch, rows: list[tuple]) -> tuple[list[tuple[str, str, str]], int]:
    """The streamed merges of `rows`, and how many texts were compared (a ratio or a distance)."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Indel

    from pipelines.normalise import dedupe

    comparisons = []
    ratio, distance = fuzz.ratio, Indel.distance
    monkeypatch.setattr(dedupe.fuzz, "ratio", lambda a, b, **kw: comparisons.append(1) or ratio(a, b, **kw))
    monkeypatch.setattr(dedupe.Indel, "distance", lambda a, b, **kw: comparisons.append(1) or distance(a, b, **kw))
    merged = sorted((m.item_key, m.into_key, m.reason) for m in dedupe.merge_near_duplicates(iter(rows), set()))
    monkeypatch.setattr(dedupe.fuzz, "ratio", ratio)
    monkeypatch.setattr(dedupe.Indel, "distance", distance)
    return merged, len(comparisons)


def _each_post_is_one_item(rows: list[tuple], merged: list[tuple[str, str, str]]) -> bool:
    into = {key: target for key, target, _ in merged}
    items_of_post = {}
    for key, *_ in rows:
        items_of_post.setdefault(key.rsplit("-", 1)[0], set()).add(into.get(key, key))
    return all(len(items) == 1 for items in items_of_post.values())


@pytest.mark.slow  # bench-scale: generated syndicated copies, checked against every pair compared
@pytest.mark.parametrize("seed", [1, 2])
def test_near_duplicates_compared_once_per_distinct_text_merge_as_every_pair_compared(monkeypatch, seed):
    rows = _syndicated_posts(seed, copies=25)
    merged, comparisons = _merges_counting_comparisons(monkeypatch, rows)
    assert merged == _pairwise_near_duplicates(rows)
    assert _each_post_is_one_item(rows, merged)
    # Each entry meets each distinct text of its window once at most: 12 posts x 4 wordings of
    # each in a window, however many copies there are (every pair would be ~ 25 x 25 per post).
    assert comparisons <= len(rows) * 12 * 4


@pytest.mark.slow  # bench-scale: generated syndicated copies, checked against every pair compared
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_copies_that_each_carry_their_own_links_are_compared_through_pivots(monkeypatch, seed):
    # Every copy is a distinct text here (the scale bench's copies rewrite every URL; a post
    # syndicated with per-site links looks the same), so comparing once per distinct text is
    # still every pair. Through the pivots, an entry is compared with about one text per post
    # of its window; the merges stay exactly those of every pair compared, across three weeks
    # of pivots leaving the window while their groups stay.
    rows = _syndicated_posts(seed, copies=30, own_links=True)
    assert len({text for *_, text in rows}) == len(rows)
    merged, comparisons = _merges_counting_comparisons(monkeypatch, rows)
    assert merged == _pairwise_near_duplicates(rows)
    assert _each_post_is_one_item(rows, merged)
    # 12 posts a window, each a pivot with up to 4 wordings (edits) and a few re-pointed ones,
    # against up to 12 x 30 distinct texts a window without them.
    assert comparisons <= len(rows) * 12 * 3


def test_near_duplicate_merges_are_let_go_author_by_author_unless_a_key_is_shared(tmp_path, monkeypatch):
    # The forest keeps an author's merges only until the next author starts, except where an
    # item key also appears under another author (one URL, two bylines): through it the next
    # author's merges join the same item, exactly as when every merge was kept to the end.
    from datetime import datetime, timezone

    from pipelines.normalise import dedupe

    text = (CORPUS / "feeds" / "feedburner_thoughtbot_robots.atom").read_text(encoding="utf-8")
    day = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
    rows = []   # (source, key, url, author, published, text)
    for number, author in enumerate(("ada", "bea", "cy", "dot")):
        body = text[number * 3000:number * 3000 + 2500]
        for n in range(4):
            rows.append((f"{author}-{n}", f"{author}-key-{n}", f"https://{author}{n}.example/p", author,
                         day + timedelta(hours=n), body + " " * n))
    # bea's first copy and cy's first copy are one URL: the same item key under two authors.
    rows = [(source, "shared-key" if source in ("bea-0", "cy-0") else key, url, author, published, body)
            for source, key, url, author, published, body in rows]
    held = []
    take_finished = dedupe.MergeForest.take_finished

    def recording(forest, shared):
        held.append(len(forest.info))
        return take_finished(forest, shared)

    monkeypatch.setattr(dedupe.MergeForest, "take_finished", recording)
    with open_for_writing(tmp_path / "authors.duckdb", "test", 0) as warehouse:
        for source, key, url, author, published, body in rows:
            warehouse.con.execute(
                "INSERT INTO raw_entries (source_id, entry_key, item_id, url, published_at, first_seen_at, "
                "last_seen_at, changed_at) VALUES (?, 'e', ?, ?, ?, now(), now(), now())",
                [source, key, url, published])
            warehouse.con.execute(
                "INSERT INTO entry_facts (source_id, entry_key, raw_changed_at, config_hash, item_key, "
                "canonical_url, title, content_text, author, kind, matched) VALUES (?, 'e', now(), '', ?, ?, 'Post', ?, ?, "
                "'story', true)", [source, key, url, body, author])
        assert dedupe.keys_under_several_authors(warehouse.con) == {"shared-key"}
        found = sorted((m.item_key, m.into_key, m.reason) for m in dedupe.find_near_duplicates(warehouse.con))
        assert not list((tmp_path / "authors.duckdb.tmp").glob("near-duplicates-*"))   # the spool is gone
    ordered = sorted(((key, url, author, published, body) for _, key, url, author, published, body in rows),
                     key=lambda r: (r[2], r[3], r[0]))
    assert found == _pairwise_near_duplicates(ordered)
    into = {key: target for key, target, _ in found}
    assert len({into.get(key, key) for _, key, _, author, _, _ in rows if author in ("bea", "cy")}) == 1
    assert len({into.get(key, key) for _, key, _, author, _, _ in rows if author == "ada"}) == 1
    # Held as each next author started: nothing, ada's 4 keys, bea's 4 (then kept: one is
    # shared), bea's and cy's 7 (ada's let go), and at the end those 7 and dot's 4.
    assert held == [0, 4, 4, 7, 11]


@pytest.mark.slow  # bench-scale: a warehouse of hundreds of items, built twice
def test_items_built_in_many_shares_equal_items_built_in_one(tmp_path, monkeypatch):
    # The item build ranks and joins a share of ~50,000 entries at a time; the tests' warehouses
    # are one share, so here the shares are made tiny: the items must not change.
    import pipelines.normalise.items as build

    outcomes = []
    for path in sorted((CORPUS / "feeds").iterdir())[:30]:
        source_id = path.stem.replace("_", "-").lower()
        doc = parse_document(path.read_bytes(), f"https://example.org/{path.name}", None,
                             ParseOptions(source_id, (), False))
        outcomes.append(SourceOutcome(source_id=source_id, status="ok", records=doc.records,
                                      entries_read=len(doc.records)))
    with open_for_writing(tmp_path / "shares.duckdb", "test", 0) as warehouse:
        warehouse.write_outcomes("test", outcomes)
        build.build_items(warehouse, force=True)
        one_share = warehouse.con.execute("SELECT * FROM items ORDER BY id").fetchall()
        monkeypatch.setattr(build, "ROWS_PER_SHARE", 37)
        build.build_items(warehouse, force=True)
        many_shares = warehouse.con.execute("SELECT * FROM items ORDER BY id").fetchall()
    assert len(one_share) > 500
    assert many_shares == one_share


@pytest.mark.slow  # bench-scale: memory limits on a large warehouse
def test_a_chunk_of_entry_facts_past_the_facts_memory_limit_is_read_under_the_build_limit(
        tmp_path, monkeypatch):
    # What reading a chunk takes grows with its entries' texts (a 54,000-source run ran out of the
    # facts' 64MB there): such a chunk is read again under the build's limit, and its facts are
    # those computed with room to spare.
    import pipelines.normalise.facts as facts
    from pipelines.normalise.aliases import Aliases

    with warehouse_with_one_feed(tmp_path / "long.duckdb", "guardian_us.rss") as warehouse:
        con = warehouse.con
        # Each entry's texts padded to ~1 MB: the feed's together are far past 24MB.
        con.execute("SET memory_limit = '1GB'")
        con.execute("UPDATE raw_entries SET content_html = content_html || repeat('<p>padding</p>', 35000), "
                    "content_text = content_text || repeat(' padding', 65000)")
        con.execute("CHECKPOINT")   # so that its cached blocks can be let go when the limit drops
        entries = con.execute("SELECT count(*) FROM raw_entries WHERE matched").fetchone()[0]
        assert entries > 20
        monkeypatch.setattr(facts, "STREAM_MEMORY_LIMIT", "24MB")
        # The feed's one chunk does not fit 24MB...
        con.execute(facts.SOURCE_FACTS_SQL, {"suffix": ""})
        con.execute("CREATE TEMP TABLE stale_entries AS SELECT rowid AS raw_row FROM raw_entries")
        with pytest.raises(duckdb.OutOfMemoryException, match="could not allocate|failed to pin|failed to allocate"), \
                memory_limit(con, "24MB"):
            con.execute(facts.ROWS_SQL, {"suffix": "", "first": 0, "last": 10 ** 6}).fetch_arrow_table()
        con.execute("DROP TABLE stale_entries")
        con.execute("DROP TABLE source_facts")
        # ...and the facts are made all the same.
        assert facts.refresh_entry_facts(con, Aliases()).computed == entries
        retried = con.execute("SELECT * FROM entry_facts ORDER BY source_id, entry_key").fetchall()

        monkeypatch.setattr(facts, "STREAM_MEMORY_LIMIT", "1GB")
        assert facts.refresh_entry_facts(con, Aliases(), force=True).computed == entries
        roomy = con.execute("SELECT * FROM entry_facts ORDER BY source_id, entry_key").fetchall()
    assert len(retried) == entries and retried == roomy


@pytest.mark.slow  # bench-scale: memory over many sources
def test_the_items_fingerprint_needs_the_same_memory_however_many_sources(tmp_path):
    # It joined every source's configuration into one sorted string (10 MB at 54,000 sources),
    # and `opengovtech rebuild` ran out of its 64MB there after syncing the registry.
    from pipelines.normalise.items import FINGERPRINT_SQL

    def fingerprint(con) -> str:
        return con.execute(FINGERPRINT_SQL, {"suffix": "rules"}).fetchone()[0]

    with open_for_writing(tmp_path / "many.duckdb", "test", 0) as warehouse:
        con = warehouse.con
        con.execute("""INSERT INTO sources (source_id, kind, url, tagged_only, active, config_json)
                       SELECT printf('feed-%06d', i), 'feed', printf('https://s%d.example/feed', i), false, true,
                              repeat(md5(i::VARCHAR), 12)
                       FROM range(60000) t(i)""")   # 23 MB of configuration
        con.execute("CHECKPOINT")
        with memory_limit(con, "8MB"):
            before = fingerprint(con)
            assert fingerprint(con) == before
            con.execute("UPDATE sources SET config_json = config_json || ' ' WHERE source_id = 'feed-031415'")
            changed = fingerprint(con)
            con.execute("UPDATE sources SET active = false WHERE source_id = 'feed-000001'")
            deactivated = fingerprint(con)
    assert len({before, changed, deactivated}) == 3


@pytest.mark.slow  # bench-scale, and a reader subprocess
def test_a_build_that_recomputed_many_facts_goes_on_in_a_new_connection_with_the_same_items(tmp_path, monkeypatch):
    import pipelines.normalise.items as build

    with warehouse_with_one_feed(tmp_path / "reconnect.duckdb", "guardian_us.rss") as warehouse:
        build.build_items(warehouse, force=True)
        same_connection = warehouse.con.execute("SELECT * FROM items ORDER BY id").fetchall()
        first = warehouse.con
        monkeypatch.setattr(build, "RECONNECT_AFTER_FACTS", 1)
        build.build_items(warehouse, force=True)
        assert warehouse.con is not first
        assert warehouse.con.execute("SELECT * FROM items ORDER BY id").fetchall() == same_connection
    assert len(same_connection) > 20
    # open_for_writing closed the connection it ended with: another process can open the file.
    reader = subprocess.run([sys.executable, "-c", "import duckdb, sys; "
                             "print(duckdb.connect(sys.argv[1], read_only=True).execute("
                             "'SELECT count(*) FROM items').fetchone()[0])", str(tmp_path / "reconnect.duckdb")],
                            capture_output=True, text=True, timeout=60)
    assert reader.stdout.strip() == str(len(same_connection)), reader.stderr


@pytest.mark.slow  # a reader process holding the file open for a while
def test_a_reconnect_waits_for_a_reader_that_opened_the_file_in_between(tmp_path):
    with warehouse_with_one_feed(tmp_path / "wait.duckdb", "guardian_us.rss") as warehouse:
        warehouse.con.close()
        # The reader marks the moment it lets go just before closing: a reconnect that waited
        # for it can only find the mark there.
        closing = tmp_path / "reader-closing"
        reader = subprocess.Popen([sys.executable, "-c", "import duckdb, pathlib, sys, time; "
                                   "con = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); "
                                   "time.sleep(1.5); pathlib.Path(sys.argv[2]).touch(); con.close()",
                                   str(tmp_path / "wait.duckdb"), str(closing)],
                                  stdout=subprocess.PIPE, text=True)
        assert reader.stdout.readline().strip() == "open"
        warehouse.reconnect(wait_s=30)
        assert closing.exists()   # it waited for the reader to close
        assert warehouse.con.execute("SELECT count(*) FROM raw_entries").fetchone()[0] > 20
        reader.wait(timeout=30)


def items_keys(con) -> list[tuple]:
    return con.execute("SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
                       "WHERE table_name = 'items' AND constraint_type = 'PRIMARY KEY'").fetchall()


def test_the_items_table_keeps_its_primary_key_through_builds(tmp_path):
    with warehouse_with_one_feed(tmp_path / "key.duckdb", "guardian_us.rss") as warehouse:
        assert items_keys(warehouse.con) == [("PRIMARY KEY", ["id"])]
        for force in (False, True):
            build = build_items(warehouse, force=force)
            assert build.rebuilt and build.items > 20
            assert items_keys(warehouse.con) == [("PRIMARY KEY", ["id"])]
        with pytest.raises(duckdb.ConstraintException):
            warehouse.con.execute("INSERT INTO items SELECT * FROM items LIMIT 1")


def test_a_build_puts_back_the_primary_key_an_earlier_build_lost(tmp_path):
    with warehouse_with_one_feed(tmp_path / "lost.duckdb", "guardian_us.rss") as warehouse:
        built = build_items(warehouse).items
        # As builds before this one left it: replaced by a CREATE TABLE AS, with no key.
        warehouse.con.execute("CREATE TABLE items_copy AS SELECT * FROM items")
        warehouse.con.execute("DROP TABLE items")
        warehouse.con.execute("ALTER TABLE items_copy RENAME TO items")
        assert items_keys(warehouse.con) == []
        assert build_items(warehouse, force=True).items == built
        assert items_keys(warehouse.con) == [("PRIMARY KEY", ["id"])]


def test_the_rules_version_follows_the_rules_files(tmp_path):
    from pipelines.code_version import code_version as rules_version
    from pipelines.normalise.facts import FACTS_RULE_FILES, FACTS_VERSION

    copies = []
    for path in FACTS_RULE_FILES:
        copies.append(tmp_path / path.name)
        copies[-1].write_bytes(path.read_bytes())
    assert rules_version(copies) == rules_version(FACTS_RULE_FILES)
    assert FACTS_VERSION != rules_version(copies)   # the libraries' versions are part of it too
    classify_copy = tmp_path / "classify.py"
    before = rules_version(copies)
    classify_copy.write_text(classify_copy.read_text(encoding="utf-8") + "\nSOURCE_HINT_WEIGHT = 0\n", encoding="utf-8")
    assert rules_version(copies) != before


def test_a_run_recomputes_every_entrys_facts_when_the_rules_version_changes(tmp_path, monkeypatch):
    import pipelines.normalise.facts as facts

    with warehouse_with_one_feed(tmp_path / "rules.duckdb", "guardian_us.rss") as warehouse:
        entries = warehouse.con.execute("SELECT count(*) FROM raw_entries").fetchone()[0]
        assert build_items(warehouse).facts_computed == entries
        assert not build_items(warehouse).rebuilt   # nothing changed: nothing done
        monkeypatch.setattr(facts, "FACTS_VERSION", "another")
        build = build_items(warehouse)
        assert build.rebuilt and build.facts_computed == entries

