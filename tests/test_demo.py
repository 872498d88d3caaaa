"""`opengovtech demo --no-serve`: the real pipeline on the bundled samples, offline."""

from __future__ import annotations

import json

import duckdb
import pytest

from pipelines.app.demo import DEMO_SOURCES, SAMPLE_DIR
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = run_cli("demo", "--no-serve", "--out", str(out), cwd=REPO)
    assert result.returncode == 0, result.stderr + result.stdout
    return out, result


def query(out, sql):
    con = duckdb.connect(str(out / "warehouse" / "hub.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_samples_ship_inside_the_package():
    for _, path, _, _ in DEMO_SOURCES[:-1]:
        assert (SAMPLE_DIR / path.lstrip("/")).is_file()
    assert not (SAMPLE_DIR / "gone").exists()  # the broken source's URL really is missing


def test_demo_writes_its_own_sources_and_warehouse(demo):
    out, result = demo
    assert (out / "sources.yaml").is_file()
    assert (out / "warehouse" / "hub.duckdb").is_file()
    assert (out / "warehouse" / "hub.search.sqlite").is_file()
    assert (out / "warehouse" / "site" / "index.html").is_file()
    assert list((out / "warehouse" / "site" / "pagefind").glob("*.pf_meta"))  # the site's search index
    assert (out / "warehouse" / "dagster" / "dagster.yaml").is_file()
    assert f'opengovtech search "open data" --warehouse {out}/warehouse/hub.duckdb' in result.stdout


def test_item_counts_per_source(demo):
    out, _ = demo
    read = dict(query(out, "SELECT source_id, entries_read FROM source_runs"))
    assert read == {"northbridge-digital-blog": 5, "dale-civic-lab": 3, "riverside-data-coop": 3,
                    "fenshire-insight": 3, "example-borough-news": 0, "northbridge-github": 6,
                    "northbridge-mastodon": 9, "devto-opengovtech": 7, "northern-civic-tech-network": 11,
                    "bluesky-opengovtech": 3, "north-civic-forum": 2, "riverside-digital-blog": 2,
                    "dale-open-data-surgery": 1}
    published = dict(query(out, "SELECT s, count(*) FROM (SELECT unnest(source_ids) AS s FROM hub_items) GROUP BY s"))
    assert published == {"northbridge-digital-blog": 3, "dale-civic-lab": 3, "riverside-data-coop": 2,
                         "fenshire-insight": 3, "northbridge-github": 3,
                         "northbridge-mastodon": 8,          # 10 posts: one untagged, one boost of another
                         "devto-opengovtech": 6,             # 7 articles: one without the tag
                         "northern-civic-tech-network": 11,  # 4 posts, 4 assets, 3 contributors; not index.md
                         "bluesky-opengovtech": 2,           # 3 search hits: one without the tag
                         "north-civic-forum": 2, "riverside-digital-blog": 2, "dale-open-data-surgery": 1}
    assert query(out, "SELECT count(*) FROM hub_items") == [(41,)]
    # Session 39's model: "Our consent tool is now open source" is an asset (was read as a community);
    # "Why we share our code", "Members now own their energy data" and "Mapping community assets with
    # open data" tell what the work changed, and are stories (were assets).
    assert dict(query(out, "SELECT kind, count(*) FROM hub_items GROUP BY kind")) == {
        "story": 16, "technique": 8, "asset": 10, "event": 4, "community": 3}
    # Posts whose point is releasing a dataset or a dashboard are assets (the rules before the kind
    # model said story).
    assert query(out, "SELECT kind FROM hub_items WHERE title LIKE 'The library''s free wifi map is now an open dataset%' "
                      "OR title = 'Residents survey results, now as an interactive dashboard'") == [("asset",), ("asset",)]


def test_demo_shows_every_source_kind(demo):
    from pipelines.sources.harvester import HARVESTERS
    out, _ = demo
    kinds = {k for (k,) in query(out, "SELECT DISTINCT kind FROM sources")}
    assert kinds == set(HARVESTERS)
    # A skeet sharing the civic lab's post is a mention of that story, not an item of its own.
    sources, mentions = query(out, "SELECT source_ids, mentions FROM hub_items "
                                   "WHERE title = 'Mapping community assets with open data'")[0]
    assert sources == ["bluesky-opengovtech", "dale-civic-lab"] and '"platform": "bluesky"' in mentions[0]
    # The Hugo blog was recognised and its tag feed read; the page's schema.org Event makes an event.
    assert query(out, "SELECT feed_url FROM source_health WHERE source_id = 'riverside-digital-blog'")[0][0] \
        .endswith("/blog/tags/opengovtech/index.xml")
    (kind, reasons), = query(out, "SELECT kind, kind_reasons FROM hub_items WHERE source_ids = ['dale-open-data-surgery']")
    assert kind == "event" and reasons[0] == "schema.org Event on the page", reasons


def test_demo_classifies_an_event_and_links_a_technique_to_its_repository(demo):
    out, _ = demo
    kind, reasons = query(out, "SELECT kind, kind_reasons FROM hub_items WHERE title = 'Summer meetup in Northbridge'")[0]
    assert kind == "event" and "a tag that says event" in reasons, reasons
    repo = query(out, "SELECT id FROM hub_items WHERE url = 'https://github.com/northbridge-digital/bin-collection-api'")
    # Northbridge's how-to links its repository; Riverside's story of reusing it links it too: one project.
    title, stories, techniques, assets = query(out, f"""SELECT title, story_ids, technique_ids, asset_ids FROM hub_projects
                                                    WHERE list_contains(asset_ids, '{repo[0][0]}')""")[0]
    titles = dict(query(out, "SELECT id, title FROM hub_items"))
    assert assets == [repo[0][0]]
    assert [titles[i] for i in techniques] == ["How we opened up our bin collection data"]
    assert [titles[i] for i in stories] == ["Reusing Northbridge's bin collection API instead of building our own"]
    assert title == titles[stories[0]]
    # The technique's page names its project and lists the repository first among related items.
    page = (out / "warehouse" / "site" / "items" / techniques[0] / "index.html").read_text(encoding="utf-8")
    related = page.split('id="related"', 1)[1]
    assert "Part of the project" in related
    assert related.index(f'href="/items/{repo[0][0]}/"') < related.index('class="card"', related.index("</h3>"))
    assert "Why it is listed as technique: a how-to title" in page


def test_demo_github_org_gives_tagged_repositories_as_assets(demo):
    """The sample org served as the GitHub API would: a fork, an archived and an untagged repo are left out."""
    out, _ = demo
    rows = query(out, "SELECT full_name, license, organisation FROM hub_repositories ORDER BY full_name")
    assert rows == [("northbridge-digital/bin-collection-api", "MIT", "Northbridge City Council"),
                    ("northbridge-digital/planning-applications-data", "OGL-UK-3.0", "Northbridge City Council"),
                    ("northbridge-digital/ward-hexmap", "MIT", "Northbridge City Council")]
    assert query(out, "SELECT warning FROM source_health WHERE source_id = 'northbridge-github'") == [
        ("skipped 1 archived, 1 forks, 1 untagged",)]
    name = query(out, "SELECT json_extract_string(publiccode, '$.name') FROM hub_repositories "
                      "WHERE full_name LIKE '%bin-collection-api'")
    assert name == [("Bin collection API",)]


def test_tagged_only_source_keeps_only_tagged_posts(demo):
    out, _ = demo
    rows = query(out, """SELECT title, match_reasons FROM hub_items
                         WHERE list_contains(source_ids, 'northbridge-digital-blog') ORDER BY title""")
    titles = [t for t, _ in rows]
    assert "Our new parking permit service is live" not in titles
    assert "Council tax bills: what changes this year" not in titles
    assert all(any("OpenGovTech" in r or "Open-Gov-Tech" in r for r in reasons) for _, reasons in rows)


def test_a_reshare_merges_into_the_original_story(demo):
    out, _ = demo
    rows = query(out, """SELECT title, url, source_ids FROM hub_items
                         WHERE url = 'http://northbridge.example/blog/2024/03/opening-bin-collection-data'""")
    assert rows == [("How we opened up our bin collection data",
                     "http://northbridge.example/blog/2024/03/opening-bin-collection-data",
                     ["fenshire-insight", "northbridge-digital-blog", "northbridge-mastodon"])]


def test_a_toot_sharing_a_post_is_a_mention_and_a_cross_post_merges(demo):
    out, _ = demo
    (mentions,), = query(out, "SELECT mentions FROM hub_items WHERE title = 'How we opened up our bin collection data'")
    mention = json.loads(mentions[0])
    assert mention["platform"] == "mastodon" and mention["author"] == "@northbridge_digital@social.northbridge.example"
    (sources,), = query(out, "SELECT source_ids FROM hub_items "
                             "WHERE title = 'Technical notes: publishing the bin calendar as an API'")
    assert sources == ["devto-opengovtech", "northbridge-digital-blog"]  # dev.to canonical_url -> the blog post


def test_broken_source_is_reported_with_its_reason(demo):
    out, result = demo
    (status, error), = query(out, "SELECT status, error FROM source_health WHERE source_id = 'example-borough-news'")
    assert status == "failed" and "HTTP 404" in error
    assert "example-borough-news" in result.stdout and "HTTP 404" in result.stdout


def test_script_in_sample_content_is_not_stored(demo):
    out, _ = demo
    assert query(out, "SELECT count(*) FROM raw_entries WHERE content_html ILIKE '%<script%'") == [(0,)]


def test_demo_hub_is_searchable(demo):
    out, _ = demo
    result = run_cli("search", "bin collection", "--kind", "technique", "--json",
                     "--warehouse", str(out / "warehouse" / "hub.duckdb"))
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits[0]["title"] == "How we opened up our bin collection data"
    assert hits[0]["organisation"] == "Northbridge City Council"


def test_demo_serves_the_hub_site_it_built(tmp_path):
    """Without --no-serve the demo serves its site on 127.0.0.1 until interrupted."""
    import re
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    process = subprocess.Popen([sys.executable, "-m", "pipelines.app.cli", "demo", "--out", str(tmp_path), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 240
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise AssertionError(f"demo exited early: {process.stderr.read()}")
            match = re.search(r"Serving the demo hub at (http://127\.0\.0\.1:\d+/)", line)
            url = match.group(1) if match else None
        assert url, "the demo never said where it serves the site"
        with urllib.request.urlopen(url, timeout=10) as response:
            home = response.read().decode()
        assert "Northbridge City Council" in home and "Latest stories" in home
        with urllib.request.urlopen(url + "sources/", timeout=10) as response:
            assert "example-borough-news" in response.read().decode()
        with urllib.request.urlopen(url + "pagefind/pagefind-ui.js", timeout=10) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
