"""Search over a harvest of real corpus feeds: ranking, filters and the --json contract."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

from pipelines.publish.search import (InvalidQuery, SearchFilters, index_path_for, parse_query, search, search_with_facets,
                               write_index)
from pipelines.publish.search_facets import FacetCounter
from tests.conftest import CORPUS, Hub, run_cli, serve_file

FEEDS = {
    "data-blog": "data_blog_gov_uk_trimmed.atom",
    "cloudblog": "google_cloudblog.rss",
    "guardian": "guardian_us.rss",
    "gov-scot": "news_gov_scot_trimmed.rss",
    "npr": "jsonfeed_npr_technology.json",
    "thoughtbot": "feedburner_thoughtbot_robots.atom",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory, http_server) -> Hub:
    http_server.clear()
    http_server.no_handler_status_code = 404
    hub = Hub(tmp_path_factory.mktemp("search"))
    hub.write_sources([{"id": sid, "kind": "feed", "tagged_only": False, "org": f"Org {sid}",
                        "url": serve_file(http_server, f"/{name}", CORPUS / "feeds" / name)}
                       for sid, name in FEEDS.items()])
    report = hub.harvest()
    assert all(c.status == "ok" for c in report.counts)
    return hub


def find(hub: Hub, query: str, **filters) -> list:
    return search(index_path_for(hub.warehouse_path), query, SearchFilters(**filters), limit=50)


def test_best_match_comes_first(hub):
    hits = find(hub, "open government policy")
    assert hits[0].title == "What open government policy can learn from internet culture"
    assert hits[0].source_ids == ["data-blog"]
    assert hits[0].organisation == "Org data-blog"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_stemming_finds_other_word_forms(hub):
    titles = [h.title for h in find(hub, "forecast")]
    assert any("forecasting" in t.lower() for t in titles)


def test_no_match_is_an_empty_list(hub):
    assert find(hub, "zzyzx qwertyuiop") == []


def test_source_filter_narrows(hub):
    everything = find(hub, "data")
    only_cloud = find(hub, "data", source="cloudblog")
    assert only_cloud and len(only_cloud) < len(everything)
    assert all(h.source_ids == ["cloudblog"] for h in only_cloud)


def test_tag_filter_matches_tags_case_insensitively(hub):
    hits = find(hub, "data", tag="bigquery")
    assert hits and all(any(t.lower() == "bigquery" for t in h.tags) for h in hits)


def test_date_filters(hub):
    all_hits = find(hub, "data")
    since = find(hub, "data", since=date(2019, 8, 29))
    until = find(hub, "data", until=date(2019, 8, 28))
    assert since and until
    assert all(h.published_at >= "2019-08-29" for h in since if h.published_at)
    assert all(h.published_at < "2019-08-29" for h in until if h.published_at)
    assert len(since) < len(all_hits) and len(until) < len(all_hits)


def test_kind_filter(hub):
    stories, assets = find(hub, "data", kind="story"), find(hub, "data", kind="asset")
    assert stories and all(hit.kind == "story" for hit in stories)
    assert assets and all(hit.kind == "asset" for hit in assets)
    assert not {hit.id for hit in stories} & {hit.id for hit in assets}
    # Every hit of a kind is an item of that kind: the filter never fills a page with other kinds.
    for kind in ("technique", "event", "community"):
        of_kind = {item_id for (item_id,) in hub.query("SELECT id FROM hub_items WHERE kind = ?", [kind])}
        assert {hit.id for hit in find(hub, "data", kind=kind)} <= of_kind
    assert find(hub, "data", kind="no-such-kind") == []


def test_cli_json_output(hub):
    result = run_cli("search", "open government", "--json", "--limit", "3", "--warehouse", str(hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert 1 <= len(hits) <= 3
    for key in ("id", "kind", "title", "url", "summary", "organisation", "published_at", "tags", "score"):
        assert key in hits[0]
    assert hits[0]["published_at"] == "2016-05-23T11:55:38Z"


def test_cli_text_output_and_filters(hub):
    result = run_cli("search", "bigquery", "--source", "cloudblog", "--limit", "2", "--warehouse", str(hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    assert "1. " in result.stdout and "cloud.google.com" in result.stdout


def test_search_does_not_import_dagster(hub):
    code = ("import sys, pipelines.app.cli as c; from typer.testing import CliRunner; "
            f"r = CliRunner().invoke(c.app, ['search', 'data', '--warehouse', {str(hub.warehouse_path)!r}]); "
            "assert r.exit_code == 0, r.output; print('dagster' in sys.modules)")
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.slow  # the CLI as a subprocess; in process in test_fast_cli
def test_search_without_an_index_says_what_to_do(tmp_path):
    result = run_cli("search", "data", "--warehouse", str(tmp_path / "hub.duckdb"))
    assert result.returncode == 2
    assert "run `opengovtech run` first" in result.stderr


def test_phrase_query_needs_the_words_in_order(hub):
    phrase = find(hub, '"open government"')
    assert phrase and all("open government" in (h.title + " " + h.snippet).lower().replace("**", "")
                          or "open government" in h.summary.lower() for h in phrase[:3])
    reversed_words = find(hub, '"government open"')
    assert len(reversed_words) < len(find(hub, "government open"))


def test_exact_names_are_found_despite_stemming(hub):
    hits = find(hub, "BigQuery")
    assert hits and any("bigquery" in h.title.lower() for h in hits)


def test_punctuation_is_never_a_query_syntax_error(hub):
    assert isinstance(find(hub, 'data: "open" -(AND) OR* NEAR/2 ^x'), list)
    with pytest.raises(InvalidQuery, match="nothing to search for"):
        find(hub, '"" -- ??')


def test_organisation_filter_ignores_case(hub):
    hits = find(hub, "data", org="org CLOUDBLOG")
    assert hits and {h.organisation for h in hits} == {"Org cloudblog"}


def test_language_filter_matches_the_primary_subtag(hub):
    languages = {lang for (lang,) in hub.query("SELECT DISTINCT language FROM hub_items WHERE language IS NOT NULL")}
    assert any(lang.lower().startswith("en") for lang in languages)
    english_ids = {i for (i,) in hub.query("SELECT id FROM hub_items WHERE lower(language) = 'en' "
                                           "OR lower(language) LIKE 'en-%'")}
    english = find(hub, "data", language="en")
    assert english and {h.id for h in english} <= english_ids
    assert {h.id for h in find(hub, "data")} & english_ids == {h.id for h in english}
    assert find(hub, "data", language="de") == []


def test_snippet_marks_the_matched_terms(hub):
    hit = find(hub, "bigquery")[0]
    assert "**" in hit.snippet
    marked = hit.snippet.split("**")[1::2]
    assert marked and all(m.lower().startswith("bigquery") for m in marked)


def test_facets_count_every_match_not_only_the_page(hub):
    result = search_with_facets(index_path_for(hub.warehouse_path), "data", limit=2, facets=True)
    assert len(result.hits) == 2 and result.total > 2
    assert sum(dict(result.facets["kind"]).values()) == result.total
    assert sum(n for _, n in result.facets["organisation"]) == result.total
    assert sum(n for _, n in result.facets["year"]) <= result.total
    tag_counts = dict(result.facets["tag"])
    assert list(tag_counts.values()) == sorted(tag_counts.values(), reverse=True)
    assert tag_counts["BigQuery"] == len(find(hub, "data", tag="bigquery"))


# The facet counts as they were computed before the facet tables (#33): SQL grouping over every match.
FACETS_AS_BEFORE = {
    "kind": "SELECT kind, count(*) FROM matched GROUP BY 1",
    "tag": "SELECT min(t.tag), count(*) FROM matched m JOIN doc_tags t ON t.rowid = m.rowid GROUP BY t.tag_key",
    "organisation": "SELECT organisation, count(*) FROM matched WHERE organisation IS NOT NULL GROUP BY 1",
    "year": "SELECT CAST(year AS TEXT), count(*) FROM matched WHERE year IS NOT NULL GROUP BY 1",
}


def _facets_old_and_new(index_path, match: str) -> tuple[tuple, tuple]:
    with sqlite3.connect(index_path) as con:
        con.execute("CREATE TEMP TABLE matched AS SELECT d.rowid AS rowid, d.kind, d.organisation, d.year "
                    "FROM docs_fts f JOIN docs d ON d.rowid = f.rowid WHERE docs_fts MATCH ?", (match,))
        before = (con.execute("SELECT count(*) FROM matched").fetchone()[0],
                  {name: [(str(v), n) for v, n in con.execute(f"{sql} ORDER BY 2 DESC, 1 LIMIT 15")]
                   for name, sql in FACETS_AS_BEFORE.items()})
        matched = con.execute("SELECT group_concat(rowid) FROM docs_fts WHERE docs_fts MATCH ?", (match,)).fetchone()[0]
        return before, FacetCounter(con).count(matched)


@pytest.mark.parametrize("match", ['"data"', '"the"', '"open" OR "government" OR "council"', '"open data"',
                                   'kind : "0kindstory" AND "data"', '"nosuchword"'])
def test_facet_counts_are_the_grouped_counts_they_were_on_a_harvested_hub(hub, match):
    before, now = _facets_old_and_new(index_path_for(hub.warehouse_path), match)
    assert now == before


def test_facet_counts_are_as_before_for_spellings_missing_values_and_ties(tmp_path):
    docs = []
    for n in range(60):
        docs.append({"id": f"d{n}", "kind": ("story", "technique", "event")[n % 3], "title": f"Item {n}",
                     "content_text": "common words" + (" rare" if n % 7 == 0 else ""),
                     # Two spellings of one tag, sometimes in one item; more tags and organisations than are shown.
                     "tags": [("BigQuery", "bigquery", "Bigquery")[n % 3], f"topic{n % 20}", "Élan"]
                             + (["bigquery"] if n % 5 == 0 else []),
                     "organisation": None if n % 4 == 0 else f"Org {n % 19}" if n % 6 else "Ölwerk",
                     "published_at": None if n % 9 == 0 else f"{2015 + n % 11}-05-01T00:00:00Z"})
    path = _index(tmp_path, docs)
    for match in ('"common"', '"rare"', '"words" AND "rare"', '"absent"'):
        before, now = _facets_old_and_new(path, match)
        assert now == before, match
    total, facets = _facets_old_and_new(path, '"common"')[1]
    # Three spellings, one key, shown as the least; an item holding two spellings counts twice, as before
    # (every fifth item adds "bigquery", already its spelling in 4 of those 12).
    assert total == 60 and len(facets["tag"]) == 15
    assert facets["tag"][:3] == [("BigQuery", 60 + 12 - 4), ("Élan", 60), ("topic0", 3)]


def test_cli_facets_json_is_an_object_with_hits_and_counts(hub):
    result = run_cli("search", "data", "--facets", "--json", "--limit", "1", "--warehouse", str(hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"hits", "total", "facets"}
    assert len(payload["hits"]) == 1 and "snippet" in payload["hits"][0]
    assert set(payload["facets"]) == {"kind", "tag", "organisation", "year"}
    text = run_cli("search", "data", "--facets", "--limit", "1", "--warehouse", str(hub.warehouse_path))
    assert "matching item(s)" in text.stdout and "organisation:" in text.stdout


def _index(tmp_path, docs: list[dict]):
    path = tmp_path / "hub.search.sqlite"
    write_index(path, [{"kind": "story", "tags": [], "source_ids": ["s"], **d} for d in docs])
    return path


def test_a_title_match_ranks_first_and_every_item_with_the_word_is_found(tmp_path):
    path = _index(tmp_path, [
        {"id": "body", "title": "Council minutes", "content_text": "recycling " * 30},
        {"id": "title", "title": "Recycling rates in Leeds", "content_text": "A short note."},
        {"id": "tag", "title": "Bins", "tags": ["recycling"], "content_text": "Collections."},
        {"id": "none", "title": "Parking", "content_text": "Nothing relevant."},
    ])
    hits = search(path, "recycling")
    assert hits[0].id == "title" and {h.id for h in hits} == {"title", "tag", "body"}
    assert all("words" in h.matched_by for h in hits)
    assert [h.id for h in search(path, "recycling", limit=1)] == ["title"]


def test_stopwords_are_dropped_unless_they_are_all_there_is(tmp_path):
    path = _index(tmp_path, [
        {"id": "a", "title": "Open data with the council", "content_text": "with the people"},
        {"id": "b", "title": "Open roads", "content_text": "data"},
    ])
    assert parse_query("data with the council").terms == ['"data"', '"council"']
    assert parse_query("with the").terms == ['"with"', '"the"']
    assert parse_query('"with the council" data').terms == ['"with the council"', '"data"']
    assert {h.id for h in search(path, "the open data")} == {"a", "b"}
    assert [h.id for h in search(path, '"data with the"')] == ["a"]


def test_a_kind_filter_selects_inside_the_full_text_index_and_kinds_are_not_words(tmp_path):
    path = tmp_path / "hub.search.sqlite"
    write_index(path, [
        {"id": "s", "kind": "story", "title": "Recycling rates", "tags": [], "source_ids": ["s"]},
        {"id": "t", "kind": "technique", "title": "Recycling sorting", "tags": [], "source_ids": ["s"],
         "content_text": "A story of sorting."},
        {"id": "t2", "kind": "technique", "title": "Parking", "tags": [], "source_ids": ["s"]},
    ])
    assert [h.id for h in search(path, "recycling", SearchFilters(kind="technique"))] == ["t"]
    assert {h.id for h in search(path, "recycling sorting", SearchFilters(kind="story"))} == {"s"}
    assert search(path, "parking", SearchFilters(kind="story")) == []
    # "story" is found only where an item's text says it, never through its kind.
    assert [h.id for h in search(path, "story")] == ["t"]
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM terms WHERE term GLOB '0kind*'").fetchone() == (0,)
