"""Search relevance on the judged queries (tests/data/search_judgements.yaml), over a hub harvested
from real corpus files: the held-out test split must meet the targets; words, typos and meaning
are each explained in the hits."""

from __future__ import annotations

import json

import pytest

from bench.relevance import QUERY_TYPES, draw_split, evaluate, load_judgements, project_search, score_ranking
from pipelines.publish.search import SearchFilters, SearchIndex, index_path_for
from pipelines.publish.search_terms import word_key
from tests.conftest import run_cli
from tests.relevance_hub import build_relevance_hub

# The targets, on the test splits of every query set: nDCG@5 >= 0.80 overall and >= 0.60 for
# synonym and misspelling queries, with no empty page. bench/relevance.py prints each set's figures.
OVERALL_NDCG = 0.80
MISSPELLING_NDCG = 0.60
SYNONYM_NDCG = 0.60


@pytest.fixture(scope="module")
def relevance_hub(tmp_path_factory, http_server):
    http_server.clear()
    http_server.no_handler_status_code = 404
    return build_relevance_hub(tmp_path_factory.mktemp("relevance"), http_server)


@pytest.fixture(scope="module")
def index(relevance_hub):
    with SearchIndex(index_path_for(relevance_hub.warehouse_path)) as opened:
        yield opened


def test_the_split_is_the_seeded_draw_half_of_each_type_of_each_set():
    queries = load_judgements()
    assert len(queries) >= 60 and {q.type for q in queries} == set(QUERY_TYPES)
    assert len({q.query for q in queries}) == len(queries), "a query text is judged twice"
    assert {q.query: q.split for q in queries} == draw_split(queries)
    for query_set in {q.set for q in queries}:
        for query_type in QUERY_TYPES:
            of_type = [q for q in queries if q.type == query_type and q.set == query_set]
            assert abs(sum(q.split == "dev" for q in of_type) - sum(q.split == "test" for q in of_type)) <= 1


def test_every_judged_item_is_in_the_hub(relevance_hub):
    keys = {url or item_id for item_id, url in relevance_hub.query("SELECT id, url FROM hub_items")}
    judged = {key for q in load_judgements() for key in q.relevant}
    assert judged - keys == set()


def test_ndcg_counts_grades_by_rank():
    relevant = {"a": 3, "b": 1}
    assert score_ranking(["a", "b"], relevant).ndcg == pytest.approx(1.0)
    assert score_ranking(["b", "a"], relevant).ndcg < 1.0
    assert score_ranking(["x", "a"], relevant).reciprocal_rank == 0.5
    assert score_ranking([], relevant).zero_results


def test_the_test_split_meets_the_relevance_targets(relevance_hub):
    test_split = [q for q in load_judgements() if q.split == "test"]
    summaries, _ = evaluate(project_search(index_path_for(relevance_hub.warehouse_path)), test_split)
    report = {name: round(s.ndcg, 3) for name, s in summaries.items()}
    assert summaries["all"].ndcg >= OVERALL_NDCG, report
    assert summaries["misspelling"].ndcg >= MISSPELLING_NDCG, report
    assert summaries["synonym"].ndcg >= SYNONYM_NDCG, report
    assert all(s.zero_result_rate == 0 for s in summaries.values()), report


def test_a_query_whose_words_are_not_all_in_one_item_still_finds_the_items_with_most_of_them(index):
    hits = index.search("how do I start an open data community for beginners").hits
    assert hits[0].title == "Help us build an open data community"
    assert "not in the index: beginners" in hits[0].explanation
    assert len(hits) > 2 and "some words" in hits[-1].matched_by


def test_a_misspelt_word_is_read_as_the_nearest_word_in_the_index(index):
    hits = index.search("kubernets").hits
    assert hits and "kubernetes" in hits[0].title.lower()
    assert "typo" in hits[0].matched_by and "kubernets → kubernetes" in hits[0].explanation


def test_word_forms_match_without_merging_unrelated_words(index):
    assert any("forecasting" in h.title.lower() for h in index.search("forecast").hits)
    assert word_key("councils") == word_key("council") and word_key("hiring") == word_key("hired")
    assert word_key("accessibility") != word_key("access") and word_key("hiring") != word_key("hire")
    assert word_key("news") != word_key("new")


def test_meaning_finds_items_that_say_it_in_other_words(index):
    hits = index.search("voice synthesis").hits
    assert hits and "text-to-speech" in hits[0].title.lower()
    assert "meaning" in hits[0].matched_by


def test_meaning_respects_the_filters(index):
    hits = index.search("voice synthesis", SearchFilters(kind="technique")).hits
    assert all(h.kind == "technique" for h in hits)


def test_cli_json_says_which_matching_found_each_hit(relevance_hub):
    result = run_cli("search", "bigqurey", "--json", "--limit", "3", "--warehouse", str(relevance_hub.warehouse_path))
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits and "typo" in hits[0]["matched_by"] and "bigqurey → bigquery" in hits[0]["explanation"]


def test_query_vectors_are_what_wordllama_itself_computes():
    """The embedder reads WordLlama's files directly (no download, a fast cold start): it must agree
    with WordLlama's own embed, whether it reads the whole table or only a query's rows."""
    import logging
    from pathlib import Path

    import numpy as np
    import wordllama
    from wordllama import WordLlama

    from pipelines.publish.search_meaning import DIMENSIONS, StaticEmbedder

    logging.getLogger("wordllama").setLevel(logging.ERROR)
    reference = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, trunc_dim=DIMENSIONS)
    texts = ["voice synthesis", "open data community"]
    expected = reference.embed(texts, norm=True)
    assert np.allclose(StaticEmbedder().embed(texts), expected, atol=1e-5)
    assert np.allclose(StaticEmbedder().embed(texts[:1])[0], expected[0], atol=1e-5)


def test_a_word_the_items_do_not_use_is_widened_by_related_words_and_says_so(index):
    hits = index.search("labor organizing").hits
    widened = [h for h in hits if "related words" in h.matched_by]
    assert widened and "union" in widened[0].title.lower()
    assert "related words: labor → " in widened[0].explanation
    # Every related term is one of the index's own title, tag or summary terms.
    related = index.con.execute("SELECT DISTINCT term FROM related").fetchall()
    assert related and all(index.con.execute("SELECT 1 FROM terms WHERE term = ?", r).fetchone() for r in related)


def test_a_word_the_index_lacks_matches_the_terms_sharing_its_snowball_stem(index):
    hits = index.search("collaborators").hits
    assert hits and "stem" in hits[0].matched_by
    assert "same stem: collaborators → " in hits[0].explanation and "collaborat" in hits[0].explanation


def test_a_common_word_is_read_as_a_typo_only_of_a_term_close_to_it_in_meaning(index):
    from pipelines.publish.search_terms import match_word

    assert match_word(index.con, "advise").corrected_to == "advice"
    living = match_word(index.con, "living")
    assert living.corrected_to is None and "giving" not in living.terms


def test_a_rare_real_word_with_no_related_words_is_widened_by_the_nearest_terms(index):
    hits = index.search("jobseekers").hits
    assert hits and "related words" in hits[0].matched_by
    assert "jobseekers → " in hits[0].explanation and "(nearest in meaning)" in hits[0].explanation


def test_words_the_index_has_never_seen_count_in_the_share_of_the_query_an_item_covers():
    from pipelines.publish.search import MAX_IDF, QueryGroup, QueryPlan

    plan = QueryPlan(groups=[QueryGroup(expression='"cost"', label="cost", weight=2.0)], unknown=["skimped"])
    assert plan.known_share == pytest.approx(2.0 / (2.0 + MAX_IDF))
    assert QueryPlan(groups=plan.groups, unknown=[]).known_share == 1.0


def test_the_order_of_results_does_not_depend_on_how_many_are_asked_for(index):
    for judged in load_judgements():
        first_twenty = [hit.id for hit in index.search(judged.query, limit=20).hits]
        assert [hit.id for hit in index.search(judged.query, limit=1).hits] == first_twenty[:1], judged.query
        assert [hit.id for hit in index.search(judged.query, limit=5).hits] == first_twenty[:5], judged.query


def test_a_query_in_words_no_item_uses_finds_the_item_closest_in_meaning(index):
    """The sentence model reads the query as a whole: no item says "restoring" or "vision"."""
    hits = index.search("restoring vision").hits
    assert hits and "blind" in hits[0].title.lower()
    assert "meaning" in hits[0].matched_by and "close in meaning" in hits[0].explanation


def test_made_up_words_mean_nothing(index, monkeypatch):
    """Every string is nearest to something; only a query holding a real word is looked up by meaning,
    whatever the similarity floor (here none), alone or in a phrase."""
    from pipelines.publish import search

    monkeypatch.setattr(search, "MIN_SIMILARITY", -1.0)
    assert index.search("zzyzx blorptang").hits == []
    assert index.search('"zzyzx blorptang"').hits == []
    hits = index.search('"restoring vision"').hits
    assert hits and "blind" in hits[0].title.lower() and "meaning" in hits[0].matched_by
