"""Query words to index terms: word forms by a light English stemmer, and typo correction against
the index's own vocabulary.

The index keeps words as written (no Porter stemming, which merged "accessibility" with "access"
and "hiring" with "hire"); a query word is widened at query time to the index terms that share its
`word_key`, which strips only inflections (plurals, -ing, -ed). A word the index has never seen is
replaced by the closest vocabulary term within a small edit distance.

Standard library only at import: `opengovtech search` starts cold. rapidfuzz and snowballstemmer are
imported only when a word is not in the index.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache

# Words whose final "s" is not a plural, and short words left alone.
_KEEP_S = frozenset("news series species always perhaps its this his has was does is us yes thus plus "
                    "bus gas lens atlas canvas analysis basis crisis chaos".split())
_VOWELS = frozenset("aeiouy")
MAX_FORMS = 12  # index terms one query word may widen to


def word_key(word: str) -> str:
    """A light English stem, inflections only: "councils" and "council", "hiring" and "hired" share
    one; "accessibility" and "access", "hiring" and "hire" (to rent) do not."""
    w = word.casefold()
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("'s"):
        w = w[:-2]
    if w not in _KEEP_S:
        if w.endswith("ies") and len(w) > 4:
            w = w[:-3] + "y"
        elif w.endswith(("sses", "shes", "ches", "xes", "zes")):
            w = w[:-2]
        elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
    for suffix in ("ing", "ed"):
        stem = w[: -len(suffix)]
        if w.endswith(suffix) and len(stem) >= 3 and _VOWELS & set(stem):
            w = stem[:-1] if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz" else stem
            break
    return w


def max_typo_distance(word: str) -> int:
    """Edits allowed between a typed word and a vocabulary term: none for short words (too many
    neighbours), one from five letters, two from eight."""
    return 0 if len(word) < 5 else 1 if len(word) < 8 else 2


@dataclass
class WordMatch:
    """What one typed word matches in the index."""
    typed: str
    terms: list[str] = field(default_factory=list)  # index terms (forms of the word or of its correction)
    corrected_to: str | None = None                  # the vocabulary term a typo was taken for
    by_stem: bool = False                            # terms sharing the word's Snowball stem
    documents: int = 0                               # documents holding any of the terms

    @property
    def found(self) -> bool:
        return bool(self.terms)


def match_word(con: sqlite3.Connection, word: str) -> WordMatch:
    """The index terms for one query word: its own forms, else the forms of its nearest vocabulary term."""
    typed = word.casefold()
    forms = _forms(con, typed)
    if forms:
        return WordMatch(typed=typed, terms=[t for t, _ in forms], documents=sum(n for _, n in forms))
    corrected = _nearest_term(con, typed)
    if corrected is None or not _may_be_typo_of(con, typed, corrected):
        stemmed = _stem_forms(con, typed)
        return WordMatch(typed=typed, terms=[t for t, _ in stemmed], documents=sum(n for _, n in stemmed),
                         by_stem=bool(stemmed))
    forms = _forms(con, corrected)
    return WordMatch(typed=typed, terms=[t for t, _ in forms], corrected_to=corrected,
                     documents=sum(n for _, n in forms))


# A common word ("living") read as a vocabulary term one edit away ("giving") must also be this close
# to it in meaning ("advise" and "advice" are; "living" and "giving" are not): else it is kept as the
# word it is, which related words and meaning answer.
TYPO_OF_A_WORD_MIN_SIMILARITY = 0.4


def _may_be_typo_of(con: sqlite3.Connection, typed: str, term: str) -> bool:
    if not con.execute("SELECT 1 FROM common_words WHERE word = ?", (typed,)).fetchone():
        return True
    from pipelines.publish.search_meaning import word_similarity

    return word_similarity(typed, term) >= TYPO_OF_A_WORD_MIN_SIMILARITY


def snowball_stem(word: str) -> str:
    """The Snowball (Porter2) English stem, as Pagefind stems the site's words: "collaborators" and
    "collaboration" share one. Coarser than `word_key`, so only for words the index does not hold."""
    return _snowball().stemWord(word)


@lru_cache(maxsize=1)
def _snowball():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def _stem_forms(con: sqlite3.Connection, word: str) -> list[tuple[str, int]]:
    if len(word) <= 3 or not word.isalpha():
        return []
    return con.execute("SELECT term, docs FROM terms WHERE stem = ? ORDER BY docs DESC LIMIT ?",
                       (snowball_stem(word), MAX_FORMS)).fetchall()


def _forms(con: sqlite3.Connection, word: str) -> list[tuple[str, int]]:
    rows = con.execute("SELECT term, docs FROM terms WHERE word_key = ? ORDER BY docs DESC LIMIT ?",
                       (word_key(word), MAX_FORMS)).fetchall()
    # Names and other words the stemmer would not key alike still match as typed.
    if word not in {t for t, _ in rows}:
        exact = con.execute("SELECT term, docs FROM terms WHERE term = ?", (word,)).fetchone()
        if exact:
            rows.append(exact)
    return rows


def _nearest_term(con: sqlite3.Connection, word: str) -> str | None:
    distance = max_typo_distance(word)
    if not distance or not word.isalpha():
        return None
    from rapidfuzz.distance import OSA
    from rapidfuzz.process import extract

    candidates = con.execute("SELECT term, docs FROM terms WHERE length(term) BETWEEN ? AND ?",
                             (len(word) - distance, len(word) + distance)).fetchall()
    close = extract(word, [t for t, _ in candidates], scorer=OSA.distance, score_cutoff=distance, limit=None)
    if not close:
        return None
    # Fewest edits first (two swapped letters are one edit), then the term more documents use.
    _, _, index = min(close, key=lambda found: (found[1], -candidates[found[2]][1]))
    return candidates[index][0]
