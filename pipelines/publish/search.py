"""Full-text search over hub_items: BM25 through SQLite FTS5.

The index lives in its own SQLite file next to the warehouse (`hub.search.sqlite`), built
into a temporary file and swapped in atomically, so searching never waits for (or blocks)
a harvest that holds the warehouse open for writing. SQLite FTS5 replaced DuckDB's fts
extension on measured figures: at 100,000 items DuckDB's `match_bm25` scores every
document for every query (see `bench/search.py` and the README's benchmark section).

This module must not import dagster, duckdb or the `pipelines.parse` package at module level:
`opengovtech search` starts cold, and reading the index needs only the standard library (the
package's __init__ loads every parser; its tag rule is imported where a tag is compared).
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import sqlite3
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from pipelines.code_version import code_version
from pipelines.errors import HubError
from pipelines.publish.search_facets import FacetCounter, write_facets
from pipelines.publish.search_meaning import (DocumentVectors, common_words, document_key, document_text, embedder,
                                              KeptVectors, related_terms, vectors_bytes, vectors_path,
                                              write_vectors)
from pipelines.publish.search_terms import WordMatch, match_word, snowball_stem, word_key

if TYPE_CHECKING:
    import numpy as np

    from pipelines.store.warehouse import Warehouse

INDEX_STATE_KEY = "search_index_built_from"
# What built an index file: a change to the indexing or query code rebuilds old files.
INDEX_FORMAT = "fts5-" + code_version(sorted(Path(__file__).parent.glob("search*.py"))
                                       + [Path(__file__).with_name("sentence_model.py")])
# BM25 column weights for (title, tags, summary, content, kind): a word in the title or the tags
# says more about what an item is than the same word deep in its body. The kind column only
# selects (see KIND_PREFIX) and adds nothing to a score.
COLUMN_WEIGHTS = (10.0, 6.0, 3.0, 1.0, 0.0)
# Each item's kind is also a token of the full-text index (e.g. "0kindtechnique": a digit first, so
# no word of any text or query is one), so a kind filter narrows FTS5's matches before they are
# ranked instead of joining every ranked match to `docs`.
KIND_PREFIX = "0kind"
SNIPPET_TOKENS = 24
MARK = "**"  # around each matched word in a snippet

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE docs (
    rowid        INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    title        TEXT NOT NULL,
    url          TEXT,
    summary      TEXT,
    organisation TEXT,
    org_key      TEXT,
    published_at TEXT,
    sort_date    TEXT,
    year         INTEGER,
    language     TEXT,
    tags         TEXT,      -- JSON array, as shown
    source_ids   TEXT       -- JSON array
);
CREATE TABLE doc_tags (rowid INTEGER NOT NULL, tag_key TEXT NOT NULL, tag TEXT NOT NULL);
CREATE TABLE doc_sources (rowid INTEGER NOT NULL, source_id TEXT NOT NULL);
-- Words as written: a query word is widened to its forms through `terms` (pipelines/publish/search_terms.py).
CREATE VIRTUAL TABLE docs_fts USING fts5(
    title, tags, summary, content, kind,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- The index's vocabulary: each term, how many documents hold it, its light stem, and its Snowball stem
-- (the site's Pagefind stems words so: a query word the index lacks matches the terms stemmed alike).
CREATE TABLE terms (term TEXT PRIMARY KEY, docs INTEGER NOT NULL, word_key TEXT NOT NULL, stem TEXT NOT NULL);
-- Common English words and the title, tag and summary terms closest to them in meaning
-- (pipelines/publish/search_meaning.py): a query word is widened by them, the site's records carry them.
CREATE TABLE related (word TEXT NOT NULL, term TEXT NOT NULL, similarity REAL NOT NULL);
-- Common English words (a wider list): a query word among them is a word, not a typo, unless the
-- vocabulary term it is near is also close to it in meaning (pipelines/publish/search_terms.py); and one
-- with no related words may be widened by the terms nearest to it (a made-up string never is).
CREATE TABLE common_words (word TEXT PRIMARY KEY) WITHOUT ROWID;
-- The title, tag and summary terms related words are drawn from, in the order of their vectors in the
-- vectors file (after the documents'): a query word with no related words is widened by the nearest.
CREATE TABLE meaning_terms (rowid INTEGER PRIMARY KEY, term TEXT NOT NULL);
-- Each document's meaning key (search_meaning.document_key): the next build reuses its vector when unchanged.
CREATE TABLE meaning_docs (rowid INTEGER PRIMARY KEY, text_key TEXT NOT NULL);
INSERT INTO docs_fts(docs_fts, rank) VALUES ('rank', 'bm25({", ".join(map(str, COLUMN_WEIGHTS))})');
"""

INDEXES = """
CREATE INDEX doc_tags_by_key ON doc_tags (tag_key, rowid);
CREATE INDEX doc_sources_by_id ON doc_sources (source_id, rowid);
CREATE INDEX docs_by_kind ON docs (kind);
CREATE INDEX docs_by_date ON docs (sort_date);
CREATE INDEX terms_by_key ON terms (word_key);
CREATE INDEX terms_by_stem ON terms (stem);
CREATE INDEX related_by_word ON related (word);
"""


class SearchIndexMissing(HubError):
    pass


class InvalidQuery(HubError):
    pass


def index_path_for(warehouse_path: Path) -> Path:
    return warehouse_path.with_name(warehouse_path.stem + ".search.sqlite")


@dataclass
class IndexRefresh:
    rebuilt: bool
    documents: int
    path: Path


def refresh_search_index(warehouse: "Warehouse") -> IndexRefresh:
    """Rebuild the index only when hub_items changed since it was last built (or it is missing)."""
    from pipelines.normalise import STATE_KEY as ITEMS_STATE_KEY

    target = index_path_for(warehouse.path)
    built_from = f"{INDEX_FORMAT}|{warehouse.get_state(ITEMS_STATE_KEY) or ''}"
    if target.exists() and warehouse.get_state(INDEX_STATE_KEY) == built_from:
        return IndexRefresh(rebuilt=False, path=target,
                            documents=warehouse.con.execute("SELECT count(*) FROM hub_items").fetchone()[0])
    documents = build_search_index(warehouse)
    # The index was a DuckDB file before it moved to SQLite FTS5; don't leave a stale copy behind.
    warehouse.path.with_name(warehouse.path.stem + ".search.duckdb").unlink(missing_ok=True)
    warehouse.set_state(INDEX_STATE_KEY, built_from)
    return IndexRefresh(rebuilt=True, documents=documents, path=target)


HUB_ITEMS_FOR_INDEX = """
SELECT id, kind, title, url, summary, organisation,
       strftime(published_at, '%Y-%m-%dT%H:%M:%SZ') AS published_at,
       strftime(coalesce(published_at, first_seen_at), '%Y-%m-%dT%H:%M:%SZ') AS sort_date,
       language, tags, source_ids, content_text
FROM hub_items
"""


def build_search_index(warehouse: "Warehouse") -> int:
    """Copy hub_items into a fresh index file, index it, and swap it in; returns the document count."""
    warehouse.con.execute("SET TimeZone = 'UTC'")
    reader = warehouse.con.execute(HUB_ITEMS_FOR_INDEX).to_arrow_reader(5_000)
    rows = (row for batch in reader for row in batch.to_pylist())
    return write_index(index_path_for(warehouse.path), rows)


def write_index(target: Path, rows: Iterable[dict]) -> int:
    """Write documents to a new index file and swap it in atomically.

    Each document is a dict with hub_items' `id, kind, title` and optionally `url, summary,
    organisation, published_at, sort_date` (ISO strings), `language, tags, source_ids, content_text`.
    """
    from pipelines.parse.tags import normalise_tag

    staging = target.with_name(target.name + ".building")
    for leftover in (staging, Path(f"{staging}-journal")):
        leftover.unlink(missing_ok=True)
    # The vectors file is named after this build, so a search still reading the index being
    # replaced keeps the vectors that go with it.
    vectors = vectors_path(target, os.urandom(6).hex())
    con = sqlite3.connect(staging)
    try:
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.executescript(SCHEMA)
        count = 0
        docs, tags, sources, texts = [], [], [], []
        meaning_texts = []
        for rowid, row in enumerate(rows, 1):
            count = rowid
            row_tags = list(row.get("tags") or [])
            row_sources = list(row.get("source_ids") or [])
            sort_date = row.get("sort_date") or row.get("published_at")
            organisation = row.get("organisation")
            docs.append((rowid, row["id"], row["kind"], row["title"], row.get("url"), row.get("summary"),
                         organisation, organisation.casefold() if organisation else None,
                         row.get("published_at"), sort_date, int(sort_date[:4]) if sort_date else None,
                         (row.get("language") or "").lower() or None,
                         json.dumps(row_tags, ensure_ascii=False), json.dumps(row_sources, ensure_ascii=False)))
            tags.extend((rowid, key, t) for t in dict.fromkeys(row_tags) if (key := normalise_tag(t)))
            sources.extend((rowid, s) for s in row_sources)
            texts.append((rowid, row["title"], " ".join(row_tags), row.get("summary") or "", row.get("content_text") or "",
                          kind_token(row["kind"])))
            meaning_texts.append(document_text(row["title"], row_tags, row.get("summary"), row.get("content_text")))
            if len(docs) >= 2_000:
                _flush(con, docs, tags, sources, texts)
        _flush(con, docs, tags, sources, texts)
        write_facets(con)
        _write_terms(con)
        con.executemany("INSERT INTO meaning_docs VALUES (?, ?)",
                        ((rowid, document_key(text)) for rowid, text in enumerate(meaning_texts, 1)))
        write_vectors(vectors, meaning_texts, _write_related(con), kept=_kept_vectors(target))
        con.executescript(INDEXES)
        con.execute("INSERT INTO docs_fts(docs_fts) VALUES ('optimize')")
        con.execute("INSERT INTO meta VALUES ('format', ?), ('documents', ?), ('vectors', ?)",
                    (INDEX_FORMAT, str(count), vectors.name))
        con.commit()
    except BaseException:
        vectors.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    os.replace(staging, target)
    for old in target.parent.glob(f"{glob.escape(target.name)}.*.vectors"):
        if old != vectors:
            old.unlink(missing_ok=True)
    return count


def _kept_vectors(index_path: Path) -> KeptVectors | None:
    """The document vectors of the index being replaced, by meaning key; None if it has none to give
    (missing, or built before vectors were kept by key)."""
    if not index_path.exists():
        return None
    con = open_index(index_path)
    try:
        keys = [key for (key,) in con.execute("SELECT text_key FROM meaning_docs ORDER BY rowid")]
        found = _vectors_file(con, index_path, len(keys))
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    if not keys or found is None:
        return None
    path, terms = found
    return KeptVectors.read(path, keys, terms)


def _vectors_file(con: sqlite3.Connection, index_path: Path, documents: int) -> tuple[Path, int] | None:
    """The index's vectors file and its number of related-word terms, if the file is there and laid out
    for `documents` documents and those terms; None if it was removed (the index replaced since it was
    opened) or written by a version with other vectors (until the next run rebuilds it)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'vectors'").fetchone()
    path = index_path.with_name(row[0]) if row else None
    if path is None or not path.exists() or not documents:
        return None
    terms = con.execute("SELECT count(*) FROM meaning_terms").fetchone()[0]
    if path.stat().st_size != vectors_bytes(documents, terms):
        return None
    return path, terms


def kind_token(kind: str) -> str:
    """The kind as one FTS5 token (unicode61 keeps letters and digits together and folds case)."""
    return KIND_PREFIX + "".join(ch for ch in kind.casefold() if ch.isalnum())


def _write_terms(con: sqlite3.Connection) -> None:
    con.execute("CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, docs_fts, 'row')")
    con.executemany("INSERT INTO terms VALUES (?, ?, ?, ?)",
                    ((term, docs, word_key(term), snowball_stem(term)) for term, docs in
                     con.execute("SELECT term, doc FROM temp.vocabulary WHERE term NOT GLOB ?", (KIND_PREFIX + "*",))))
    con.execute("DROP TABLE temp.vocabulary")


# The columns whose terms may stand for a related word: what an item is about, not every word of its body.
RELATED_COLUMNS = ("title", "tags", "summary")
RELATED_WORDS_PER_ITEM = 60  # a record's related words, those of its first terms first


def _write_related(con: sqlite3.Connection) -> "np.ndarray":
    """The related and common word tables, and the related-word terms in order; returns their vectors."""
    con.execute("CREATE VIRTUAL TABLE temp.by_column USING fts5vocab(main, docs_fts, 'col')")
    terms = [term for (term,) in con.execute(
        f"SELECT DISTINCT term FROM temp.by_column WHERE col IN ({','.join('?' * len(RELATED_COLUMNS))}) "
        "ORDER BY term", RELATED_COLUMNS)
        if term.isalpha() and len(term) >= 3 and term not in STOPWORDS]
    con.execute("DROP TABLE temp.by_column")
    term_vectors = embedder().embed(terms)
    con.executemany("INSERT INTO related VALUES (?, ?, ?)", related_terms(terms, term_vectors))
    con.executemany("INSERT INTO common_words VALUES (?)", ((w,) for w in common_words()))
    con.executemany("INSERT INTO meaning_terms VALUES (?, ?)", enumerate(terms, 1))
    return term_vectors


def related_words_by_term(index_path: Path) -> dict[str, list[str]]:
    """Index term -> the common words it is related to (the `related` table read the other way): what the
    site adds to the record of an item holding the term."""
    con = open_index(index_path)
    try:
        by_term: dict[str, list[str]] = {}
        for word, term in con.execute("SELECT word, term FROM related ORDER BY term, similarity DESC, word"):
            by_term.setdefault(term, []).append(word)
        return by_term
    finally:
        con.close()


def related_words_for(texts: Iterable[str], by_term: dict[str, list[str]]) -> list[str]:
    """The related words of an item's title, tags and summary (`texts`), read from `related_words_by_term`:
    what a query may say in their place. Words the texts already hold are left out."""
    own = [index_term(w) for text in texts for w in _WORD.findall(text or "")]
    held = set(own)
    words = dict.fromkeys(word for term in dict.fromkeys(own) for word in by_term.get(term, ()) if word not in held)
    return list(words)[:RELATED_WORDS_PER_ITEM]


def index_term(word: str) -> str:
    """A word as the index's tokenizer (unicode61, remove_diacritics 2) stores it."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word.casefold()) if not unicodedata.combining(ch))


def _flush(con: sqlite3.Connection, docs: list, tags: list, sources: list, texts: list) -> None:
    con.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", docs)
    con.executemany("INSERT INTO doc_tags VALUES (?,?,?)", tags)
    con.executemany("INSERT INTO doc_sources VALUES (?,?)", sources)
    con.executemany("INSERT INTO docs_fts(rowid, title, tags, summary, content, kind) VALUES (?,?,?,?,?,?)", texts)
    for batch in (docs, tags, sources, texts):
        batch.clear()


# --- querying -------------------------------------------------------------------------------

_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)

# PostgreSQL's English full-text stop list (Snowball's). A word such as "with" is in most items, says
# nothing about any of them, and costs a BM25 score for each: it is dropped from a query unless the
# query has nothing else (or it sits inside a quoted phrase).
STOPWORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is
are was were be been being have has had having do does did doing a an the and but if or because as until
while of at by for with about against between into through during before after above below to from up
down in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don should now
""".split())


@dataclass
class ParsedQuery:
    phrases: list[str]  # "quoted phrases", their words joined by spaces
    words: list[str]    # the other words, stop words dropped unless that leaves nothing

    @property
    def terms(self) -> list[str]:
        """FTS5 strings, every word as typed: "word" or "a phrase"."""
        return [f'"{p}"' for p in self.phrases] + [f'"{w}"' for w in self.words]

    @property
    def match(self) -> str:
        """Every term required, as typed."""
        return " ".join(self.terms)


def parse_query(text: str) -> ParsedQuery:
    """What a person typed, as FTS5 terms: every word required, "quoted phrases" kept in order.

    Punctuation is never passed through, so no input can be an FTS5 syntax error.
    """
    phrases, words = [], []
    for index, piece in enumerate(_PHRASE.split(text)):
        found = _WORD.findall(piece)
        if not found:
            continue
        if index % 2:  # inside quotes
            phrases.append(" ".join(found))
        else:
            words.extend(found)
    content_words = [w for w in words if w.lower() not in STOPWORDS]
    if content_words or phrases:
        words = content_words
    parsed = ParsedQuery(phrases=phrases, words=list(dict.fromkeys(words)))
    if not parsed.terms:
        raise InvalidQuery(f"nothing to search for in {text!r}: give at least one word")
    return parsed


def fts_query(text: str) -> str:
    return parse_query(text).match


@dataclass
class SearchHit:
    id: str
    kind: str
    title: str
    url: str | None
    summary: str
    organisation: str | None
    published_at: str | None
    tags: list[str]
    source_ids: list[str]
    score: float
    snippet: str
    # Which matching put the item on the page: "words" (every word), "some words", "typo"
    # (a word read as its nearest vocabulary term), "stem" (a word the index lacks read as the terms
    # sharing its Snowball stem, as the site's Pagefind does), "related words" (a word widened by the terms
    # closest to it in meaning), "meaning" (the item close in embedding space).
    matched_by: list[str] = field(default_factory=list)
    explanation: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchFilters:
    kind: str | None = None
    tag: str | None = None
    org: str | None = None
    source: str | None = None
    since: date | None = None
    until: date | None = None
    language: str | None = None


@dataclass
class SearchResult:
    hits: list[SearchHit]
    total: int
    facets: dict[str, list[tuple[str, int]]] | None = None


@dataclass
class FilterSQL:
    """The filters as SQL over `docs d`, bound to `params`. The kind is given twice: as a clause for
    queries over `docs` (meaning's candidates) and inside the FTS5 match for full-text queries."""
    where: list[str]  # every filter but the kind
    params: dict
    kind: str | None

    @property
    def docs_clause(self) -> str:
        """" AND …" for a query over docs d: every filter, the kind included."""
        kind = ["d.kind = :kind"] if self.kind else []
        return "".join(f" AND {w}" for w in kind + self.where)

    @property
    def text_clause(self) -> str:
        """" AND …" beside a docs_fts MATCH built by `match`: every filter but the kind."""
        return "".join(f" AND {w}" for w in self.where)

    def match(self, expression: str) -> str:
        """An FTS5 expression narrowed to the kind asked for, if one was."""
        if not self.kind:
            return expression
        return f'kind : "{kind_token(self.kind)}" AND ({expression})'


def _filter_sql(filters: SearchFilters) -> FilterSQL:
    where, params = [], {}
    if filters.kind:
        params["kind"] = filters.kind
    if filters.tag:
        from pipelines.parse.tags import normalise_tag

        where.append("d.rowid IN (SELECT rowid FROM doc_tags WHERE tag_key = :tag)")
        params["tag"] = normalise_tag(filters.tag)
    if filters.org:
        where.append("d.org_key = :org")
        params["org"] = filters.org.casefold()
    if filters.source:
        where.append("d.rowid IN (SELECT rowid FROM doc_sources WHERE source_id = :source)")
        params["source"] = filters.source
    if filters.since:
        where.append("d.sort_date >= :since")
        params["since"] = filters.since.isoformat()
    if filters.until:
        where.append("d.sort_date < :until_next")
        params["until_next"] = date.fromordinal(filters.until.toordinal() + 1).isoformat()
    if filters.language:
        where.append("(d.language = :language OR d.language LIKE :language_prefix)")
        params["language"] = filters.language.lower()
        params["language_prefix"] = filters.language.lower() + "-%"
    return FilterSQL(where=where, params=params, kind=filters.kind)


def open_index(index_path: Path) -> sqlite3.Connection:
    if not index_path.exists():
        raise SearchIndexMissing(f"no search index at {index_path}: run `opengovtech run` first")
    # Read-only URI: a search never creates or locks the file the pipeline swaps in.
    return sqlite3.connect(f"file:{index_path}?mode=ro", uri=True, check_same_thread=False)


class SearchIndex:
    """An open index file, for callers that run many searches (bench/search.py); `search()` opens one per call."""

    def __init__(self, index_path: Path):
        self.path = index_path
        self.con = open_index(index_path)
        self._vectors = None  # the document vectors, read on the first search
        self._facets: FacetCounter | None = None  # the facet tables, read on the first search with facets
        self._document_count: int | None = None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "SearchIndex":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def search(self, query: str, filters: SearchFilters | None = None, limit: int = 20,
               *, facets: bool = False) -> SearchResult:
        """Items with every word first, then items with some of them (by how much of the query they
        cover), fused by reciprocal rank with the items closest in meaning."""
        parsed = parse_query(query)
        filter_sql = _filter_sql(filters or SearchFilters())
        # Each ranking is read this deep whatever the page size, so the order (the first result too)
        # does not depend on how many results are asked for.
        depth = max(limit, RANKING_DEPTH)
        try:
            plan = self._plan(parsed)
            lexical = self._lexical(plan, filter_sql, depth)
            short = _words_fall_short(plan, lexical)
            widened = self._widened(plan) if short else None
            related = self._lexical(widened, filter_sql, depth) if widened else NO_MATCHES
            meaning = short and self._has_a_real_word(parsed, plan, lexical)
            close = self._meaning(query, filter_sql, depth) if meaning else {}
            fused = _fuse(lexical, related, close, limit)
            hits = self._page(plan, widened, fused, lexical, related, close)
            if not facets:
                return SearchResult(hits=hits, total=len(hits))
            match = plan.all_words if plan.all_words and lexical.every_word else plan.any_word
            return self._with_facets(hits, filter_sql, match)
        except sqlite3.OperationalError as exc:
            raise HubError(f"search index {self.path} cannot be read ({exc}): "
                           "run `opengovtech run` to rebuild it") from None

    def _plan(self, parsed: ParsedQuery) -> "QueryPlan":
        groups = [QueryGroup(expression=f'"{p}"', label=f'"{p}"', weight=MAX_IDF) for p in parsed.phrases]
        unknown = []
        documents = max(1, self._documents())
        for word in parsed.words:
            found = match_word(self.con, word)
            if not found.found:
                unknown.append(word)
                continue
            groups.append(QueryGroup(expression="(" + " OR ".join(f'"{t}"' for t in found.terms) + ")",
                                     label=found.corrected_to or word, word=found,
                                     weight=min(MAX_IDF, math.log(1 + documents / max(1, found.documents)))))
        return QueryPlan(groups=groups, unknown=unknown)

    def _widened(self, plan: "QueryPlan") -> "QueryPlan | None":
        """The plan with each word also matching its related words' terms in an item's title, tags or
        summary (the `related` table), an unknown word by them alone; None when no word has any."""
        groups, widened_words = [], []
        for group in plan.groups:
            word = group.word
            terms = [t for t in self._related_terms(word.typed) if t not in word.terms] if word else []
            if not terms:
                groups.append(group)
                continue
            widened_words.append(f"{word.typed} → {', '.join(terms)}")
            groups.append(QueryGroup(expression=f"({group.expression} OR {_in_related_columns(terms)})",
                                     label=group.label, weight=group.weight, word=word))
        unknown = []
        for typed in (w.casefold() for w in plan.unknown):
            if terms := self._related_terms(typed):
                widened_words.append(f"{typed} → {', '.join(terms)}")
            elif self._is_common_word(typed) and (terms := self._nearest_terms(typed)):
                widened_words.append(f"{typed} → {', '.join(terms)} (nearest in meaning)")
            if terms:
                groups.append(QueryGroup(expression=_in_related_columns(terms), label=typed, weight=MAX_IDF))
            else:
                unknown.append(typed)
        if not widened_words:
            return None
        return QueryPlan(groups=groups, unknown=unknown, widened=widened_words)

    def _has_a_real_word(self, parsed: ParsedQuery, plan: "QueryPlan", lexical: "LexicalRanking") -> bool:
        """Whether the query holds a word: one in the index as typed (or as a form of it), or a common
        English word. A string of made-up words is still nearest to something, and means nothing. A
        quoted phrase asks for its words as written: they count only when no item holds them."""
        if any(g.word and not g.word.corrected_to for g in plan.groups):
            return True
        typed = [g.word.typed for g in plan.groups if g.word] + plan.unknown
        if not lexical.rowids:
            typed += [w for phrase in parsed.phrases for w in phrase.split()]
        return any(self._is_common_word(w.casefold()) or self._is_index_term(w) for w in typed)

    def _is_index_term(self, word: str) -> bool:
        return self.con.execute("SELECT 1 FROM terms WHERE term = ?", (index_term(word),)).fetchone() is not None

    def _is_common_word(self, word: str) -> bool:
        return self.con.execute("SELECT 1 FROM common_words WHERE word = ?", (word,)).fetchone() is not None

    def _nearest_terms(self, word: str) -> list[str]:
        """A word the related table has nothing for (a rare word, or one whose related terms are all less
        close than RELATED_MIN_SIMILARITY): the index's related-word terms nearest to it, at a lower bar."""
        vectors = self._document_vectors()
        if not vectors:
            return []
        rows = [row for row, _ in vectors.nearest_terms(word, NEAREST_TERMS, NEAREST_TERM_MIN_SIMILARITY)]
        if not rows:
            return []
        found = dict(self.con.execute(f"SELECT rowid, term FROM meaning_terms WHERE rowid IN ({','.join(map(str, rows))})"))
        key = word_key(word)
        return [found[row] for row in rows if word_key(found[row]) != key]

    def _related_terms(self, word: str) -> list[str]:
        return [term for (term,) in self.con.execute(
            "SELECT term FROM related WHERE word = ? ORDER BY similarity DESC", (word,))]

    def _documents(self) -> int:
        if self._document_count is None:
            self._document_count = self.con.execute("SELECT count(*) FROM docs").fetchone()[0]
        return self._document_count

    def _lexical(self, plan: "QueryPlan", filter_sql: FilterSQL, limit: int) -> "LexicalRanking":
        if not plan.groups:
            return NO_MATCHES
        # Every word: matches in the title or tags first (they nearly always win under these weights,
        # and a common word is answered from its few title matches), then the rest.
        top = self._ranked(plan.in_title_or_tags, filter_sql, limit, exclude=[])
        if len(top) < limit:
            top += self._ranked(plan.all_words, filter_sql, limit - len(top),
                                exclude=[rowid for rowid, _ in top])
        rowids = [rowid for rowid, _ in top]
        coverage = {rowid: 1.0 for rowid in rowids}
        if len(rowids) < limit and len(plan.groups) > 1:
            # Some words: the best BM25 matches for any word, ranked by the share of the query
            # (weighted by how rare each word is) they hold.
            # Candidates holding a word in the title or tags first (fewer to score for a common word).
            candidates = self._ranked(f"{{title tags}} : ({plan.any_word})", filter_sql,
                                      PARTIAL_CANDIDATES, exclude=rowids)
            if len(candidates) < PARTIAL_CANDIDATES:
                candidates += self._ranked(plan.any_word, filter_sql, PARTIAL_CANDIDATES - len(candidates),
                                           exclude=rowids + [rowid for rowid, _ in candidates])
            share = self._coverage(plan, [rowid for rowid, _ in candidates])
            ranked = sorted(candidates, key=lambda c: (-share[c[0]], c[1]))
            coverage.update((rowid, share[rowid]) for rowid, _ in ranked[: limit - len(rowids)])
            rowids += [rowid for rowid, _ in ranked[: limit - len(rowids)]]
        return LexicalRanking(rowids=rowids, coverage=coverage, every_word=bool(top), known_share=plan.known_share)

    def _coverage(self, plan: "QueryPlan", rowids: list[int]) -> dict[int, float]:
        share = dict.fromkeys(rowids, 0.0)
        if not rowids:
            return share
        total = sum(g.weight for g in plan.groups)
        marks = ",".join(map(str, rowids))
        for group in plan.groups:
            for (rowid,) in self.con.execute(f"SELECT rowid FROM docs_fts WHERE docs_fts MATCH ? AND rowid IN ({marks})",
                                             (group.expression,)):
                share[rowid] += group.weight / total
        return share

    def _document_vectors(self) -> "DocumentVectors | None":
        if self._vectors is None:
            self._vectors = self._open_vectors()
        return self._vectors or None

    def _meaning(self, query: str, filter_sql: FilterSQL, limit: int) -> dict[int, float]:
        vectors = self._document_vectors()
        if not vectors:
            return {}
        filter_clause = filter_sql.docs_clause
        close = vectors.nearest(query, MEANING_CANDIDATES if filter_clause else limit, MIN_SIMILARITY)
        if filter_clause and close:
            allowed = {rowid for (rowid,) in self.con.execute(
                f"SELECT d.rowid FROM docs d WHERE d.rowid IN ({','.join(str(r) for r, _ in close)}){filter_clause}",
                filter_sql.params)}
            close = [(rowid, sim) for rowid, sim in close if rowid in allowed]
        return dict(close[:limit])

    def _open_vectors(self) -> "DocumentVectors | bool":
        found = _vectors_file(self.con, self.path, self._documents())
        if found is None:
            return False  # words only
        path, terms = found
        return DocumentVectors(path, self._documents(), terms)

    def _ranked(self, match: str, filter_sql: FilterSQL, limit: int, exclude: list[int]) -> list[tuple[int, float]]:
        # FTS5's own ORDER BY rank path, on rowids alone; the page's columns are fetched afterwards.
        # The kind is part of the match; other filters join to docs.
        filter_clause = filter_sql.text_clause
        join = " JOIN docs d ON d.rowid = f.rowid" if filter_clause else ""
        skip = f" AND f.rowid NOT IN ({','.join(map(str, exclude))})" if exclude else ""
        return self.con.execute(f"SELECT f.rowid, f.rank FROM docs_fts f{join} WHERE docs_fts MATCH :q"
                                f"{filter_clause}{skip} ORDER BY f.rank LIMIT {int(limit)}",
                                {**filter_sql.params, "q": filter_sql.match(match)}).fetchall()

    def _with_facets(self, hits: list[SearchHit], filter_sql: FilterSQL, match: str) -> SearchResult:
        """Counts by kind, tag, organisation and year over every match, not only the page shown."""
        if self._facets is None:
            self._facets = FacetCounter(self.con)
        filter_clause = filter_sql.text_clause
        join = " JOIN docs d ON d.rowid = f.rowid" if filter_clause else ""
        matched = self.con.execute(f"SELECT group_concat(f.rowid) FROM docs_fts f{join} WHERE docs_fts MATCH :q"
                                   f"{filter_clause}",
                                   {**filter_sql.params, "q": filter_sql.match(match) if match else '""'}).fetchone()[0]
        total, facets = self._facets.count(matched)
        return SearchResult(hits=hits, total=total, facets=facets)

    def _page(self, plan: "QueryPlan", widened: "QueryPlan | None", fused: list[tuple[int, float]],
              lexical: "LexicalRanking", related: "LexicalRanking", close: dict[int, float]) -> list[SearchHit]:
        if not fused:
            return []
        score_of = dict(fused)
        marks = ",".join(str(rowid) for rowid in score_of)
        snippets = dict(self.con.execute(
            f"SELECT rowid, snippet(docs_fts, -1, '{MARK}', '{MARK}', '…', {SNIPPET_TOKENS}) FROM docs_fts "
            f"WHERE docs_fts MATCH ? AND rowid IN ({marks})", ((widened or plan).any_word or '""',)).fetchall()) \
            if plan.groups or widened else {}
        rows = self.con.execute(f"""
            SELECT rowid, id, kind, title, url, summary, organisation, published_at, tags, source_ids
            FROM docs WHERE rowid IN ({marks})""").fetchall()
        hits = []
        for r in sorted(rows, key=lambda r: -score_of[r[0]]):
            words_share = lexical.coverage.get(r[0])
            by_related = widened if related.coverage.get(r[0], 0.0) > (words_share or 0.0) else None
            matched_by, explanation = _explain(plan, words_share, by_related, close.get(r[0]))
            hits.append(SearchHit(id=r[1], kind=r[2], title=r[3], url=r[4], summary=r[5] or "", organisation=r[6],
                                  published_at=r[7], tags=json.loads(r[8]), source_ids=json.loads(r[9]),
                                  score=round(score_of[r[0]], 4), snippet=snippets.get(r[0]) or "",
                                  matched_by=matched_by, explanation=explanation))
        return hits


# How the word and meaning rankings are fused (reciprocal rank fusion, k as in Cormack et al. 2009),
# and when meaning counts at all: below MIN_SIMILARITY a "closest" item is noise.
RRF_K = 60
RANKING_DEPTH = 20  # items read from each ranking before fusion (the default page size)
WORDS_WEIGHT = 1.0
RELATED_WEIGHT = 0.8
MEANING_WEIGHT = 0.9
MIN_SIMILARITY = 0.25
MEANING_WHEN_FEWER = 5  # meaning is looked up only when fewer items than this hold every word
MEANING_CANDIDATES = 200  # nearest items looked at before filters, when filters are given
PARTIAL_CANDIDATES = 100  # best any-word matches ranked by coverage
MAX_IDF = 8.0
# A query word with no related words is widened by up to this many of the index's related-word terms
# nearest to it in meaning, if at least this close.
NEAREST_TERMS = 4
NEAREST_TERM_MIN_SIMILARITY = 0.4


@dataclass
class QueryGroup:
    """One part of a query as an FTS5 expression: a phrase, or a word's forms OR'ed."""
    expression: str
    label: str
    weight: float
    word: WordMatch | None = None


@dataclass
class QueryPlan:
    groups: list[QueryGroup]
    unknown: list[str]  # words neither in the index nor near any of its terms
    widened: list[str] = field(default_factory=list)  # "word → related terms", for a plan widened by them

    @property
    def all_words(self) -> str:
        return " AND ".join(g.expression for g in self.groups)

    @property
    def any_word(self) -> str:
        return " OR ".join(g.expression for g in self.groups)

    @property
    def in_title_or_tags(self) -> str:
        """Every group, and at least one of them in the title or the tags."""
        if len(self.groups) == 1:  # one term list read once, not twice
            return f"{{title tags}} : ({self.groups[0].expression})"
        return f"({self.all_words}) AND ({{title tags}} : ({self.any_word}))"

    @property
    def known_share(self) -> float:
        """The share of the query (words weighted by rarity) the index holds: a word it has never seen
        weighs as the rarest word, so an item holding only the few known words of a longer query is
        not taken for one holding the whole query."""
        known = sum(g.weight for g in self.groups)
        return known / (known + MAX_IDF * len(self.unknown)) if known else 0.0

    @property
    def corrections(self) -> list[str]:
        return [f"{g.word.typed} → {g.word.corrected_to}" for g in self.groups if g.word and g.word.corrected_to]

    @property
    def stemmed(self) -> list[str]:
        return [f"{g.word.typed} → {', '.join(g.word.terms)}" for g in self.groups if g.word and g.word.by_stem]


@dataclass
class LexicalRanking:
    rowids: list[int]
    coverage: dict[int, float]  # rowid -> weighted share of the query's words it holds
    every_word: bool            # whether any item held every word
    known_share: float = 1.0    # the share of the query the index holds (QueryPlan.known_share)


NO_MATCHES = LexicalRanking(rowids=[], coverage={}, every_word=False)


def _in_related_columns(terms: list[str]) -> str:
    """An FTS5 expression: any of `terms` in the columns related words stand for."""
    return f"{{{' '.join(RELATED_COLUMNS)}}} : (" + " OR ".join(f'"{t}"' for t in terms) + ")"


def _words_fall_short(plan: QueryPlan, lexical: LexicalRanking) -> bool:
    """Whether meaning is looked up: the words found few items holding all of them, or a word had to be
    corrected or is not in the index at all. A query whose words find a page of items is answered by them."""
    every_word = sum(1 for share in lexical.coverage.values() if share >= 1.0)
    return every_word < MEANING_WHEN_FEWER or bool(plan.unknown) or bool(plan.corrections) or bool(plan.stemmed)


def _fuse(lexical: LexicalRanking, related: LexicalRanking, close: dict[int, float],
          limit: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each list adds weight / (k + rank), the word lists' weighted by the
    share of the query an item covers; scores are scaled by 1000 only to be readable."""
    score: dict[int, float] = {}
    for weight, ranking in ((WORDS_WEIGHT, lexical), (RELATED_WEIGHT, related)):
        for rank, rowid in enumerate(ranking.rowids, 1):
            score[rowid] = score.get(rowid, 0.0) + weight * ranking.coverage[rowid] * ranking.known_share / (RRF_K + rank)
    for rank, rowid in enumerate(close, 1):
        score[rowid] = score.get(rowid, 0.0) + MEANING_WEIGHT / (RRF_K + rank)
    ranked = sorted(score.items(), key=lambda item: -item[1])
    return [(rowid, value * 1000) for rowid, value in ranked[:limit]]


def _explain(plan: QueryPlan, coverage: float | None, widened: QueryPlan | None,
             similarity: float | None) -> tuple[list[str], str]:
    matched_by, said = [], []
    if coverage is not None:
        matched_by.append("words" if coverage >= 1.0 else "some words")
        said.append(("every word" + (" the index has" if plan.unknown else "")) if coverage >= 1.0
                    else f"words covering {coverage:.0%} of the query")
        if plan.corrections:
            matched_by.append("typo")
            said.append("read " + ", ".join(plan.corrections))
        if plan.stemmed:
            matched_by.append("stem")
            said.append("same stem: " + "; ".join(plan.stemmed))
    if widened is not None:
        matched_by.append("related words")
        said.append("related words: " + "; ".join(widened.widened))
    if similarity is not None:
        matched_by.append("meaning")
        said.append(f"close in meaning (similarity {similarity:.2f})")
    if plan.unknown:
        said.append("not in the index: " + ", ".join(plan.unknown))
    return matched_by, "; ".join(said)


def search(index_path: Path, query: str, filters: SearchFilters | None = None, limit: int = 20) -> list[SearchHit]:
    return search_with_facets(index_path, query, filters, limit, facets=False).hits


def search_with_facets(index_path: Path, query: str, filters: SearchFilters | None = None, limit: int = 20,
                       *, facets: bool = False) -> SearchResult:
    fts_query(query)  # a query with no words is the caller's mistake, even before an index exists
    with SearchIndex(index_path) as index:
        return index.search(query, filters, limit, facets=facets)
