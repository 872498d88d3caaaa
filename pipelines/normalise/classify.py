"""What an entry is: story, technique, asset, event or community, and what decided.

What the source or its author states decides first (sources.yaml `item_kind`, a GitHub repository,
a Jekyll collection other than _posts, an #OpenGovTech<Kind> tag). Otherwise a linear model over named
features (kind_features.py) weighs the title's and text's words and the post's shape; its weights are
data (kind_model.json), trained on the train splits of tests/data/labelled.yaml and
labelled_public.yaml by training/train_kind_model.py (docs/classification.md). The features that
weighed most become `kind_reasons`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipelines.entry import json_object
from pipelines.normalise.kind_features import DATASET_URL, STATED_SIGNALS, describe, features, stated_weights
from pipelines.parse.tags import normalise_tag
from pipelines.parse.urls import github_repo

KINDS = ("story", "technique", "asset", "event", "community")
ASSET_TYPES = ("repo", "dataset", "tool", "standard", "other")
KIND_MODEL = Path(__file__).with_name("kind_model.json")
REASONS_SHOWN = 3

# The call's own tags: the author saying which of the five the post is.
STATED_TAGS = {f"opengovtech{kind}": kind for kind in KINDS}
# A Jekyll collection says what its files are, except _posts: a blog post can be any kind.
STATED_COLLECTIONS = {"_assets", "_contributors", "_events", "_techniques", "_stories"}
STANDARD_WORDS = re.compile(r"\b(format|standard|specification|schema|principles|guidance|code of practice|framework)\b", re.I)
DATASET_WORDS = re.compile(r"\b(dataset|data ?set|open data on|statistics on|data feed|csv)\b", re.I)
TOOL_WORDS = re.compile(r"\b(app|tool|dashboard|visuali[sz]ation|map|picker|calculator|service|website|plugin|library|api)\b", re.I)


@dataclass
class Classification:
    kind: str
    asset_type: str | None
    score: float                      # the model's probability for the kind; 1 when it is stated
    reasons: list[str] = field(default_factory=list)
    stated: bool = False              # the source, platform or author states the kind


@dataclass
class ClassifyInput:
    """What the classifier reads of one entry (a raw_entries row, or a Entry)."""

    title: str = ""
    summary: str = ""
    content_text: str = ""
    content_html: str = ""
    url: str | None = None
    tags: list[str] = field(default_factory=list)
    kind_hint: str | None = None      # what the source kind knows (a GitHub repository, a Jekyll collection)
    asset_type: str | None = None
    details: dict = field(default_factory=dict)
    source_kind: str | None = None    # feed, github, markdown, …
    source_hint: str | None = None    # sources.yaml `item_kind:`

    @classmethod
    def from_row(cls, row: dict, *, source_kind: str | None = None, source_hint: str | None = None) -> "ClassifyInput":
        details = row.get("details") or {}
        if isinstance(details, str):
            details = json_object(details)
        return cls(title=row.get("title") or "", summary=row.get("summary") or "",
                   content_text=row.get("content_text") or "", content_html=row.get("content_html") or "",
                   url=row.get("canonical_url") or row.get("url"), tags=list(row.get("tags") or []),
                   kind_hint=row.get("kind_hint"), asset_type=row.get("asset_type"),
                   details=details if isinstance(details, dict) else {},
                   source_kind=source_kind, source_hint=source_hint)


def classify(entry: ClassifyInput) -> Classification:
    stated = stated_kind(entry)
    if stated:
        kind, reason = stated
        score = 1.0
        reasons = [reason]
    else:
        kind, score, reasons = _model_kind(entry)
    asset_type = _asset_type(entry) if kind == "asset" else None
    if asset_type:
        reasons = reasons + [f"asset type {asset_type}"]
    return Classification(kind=kind, asset_type=asset_type, score=round(score, 4), reasons=reasons,
                          stated=bool(stated))


def stated_kind(entry: ClassifyInput) -> tuple[str, str] | None:
    """The kind the operator, the platform or the author states, with its reason."""
    if entry.source_hint in KINDS:
        return entry.source_hint, f"sources.yaml item_kind: {entry.source_hint}"
    if entry.source_kind == "github" and entry.kind_hint == "asset":
        return "asset", "GitHub repository"
    collection = entry.details.get("collection")
    if entry.kind_hint in KINDS and collection in STATED_COLLECTIONS:
        return entry.kind_hint, f"Jekyll collection {collection} says {entry.kind_hint}"
    for tag in entry.tags:
        if kind := STATED_TAGS.get(normalise_tag(tag)):
            return kind, f"tag '{tag}'"
    return None


@dataclass(frozen=True)
class KindModel:
    """A linear model's weights: per feature, one weight for each kind, and each kind's intercept."""

    kinds: tuple[str, ...]
    intercept: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]
    unshown: frozenset[str]   # they weigh, but name no reason a reader would give ("the", "ll", the source's kind)

    def scores(self, weighed: list[str]) -> list[float]:
        if not weighed:
            return list(self.intercept)
        columns = zip(*(self.weights[f] for f in weighed))
        return [sum(column) + intercept for column, intercept in zip(columns, self.intercept)]


# The parts of kind_model.json that decide a kind; the trainer writes their digest beside them, so a
# hand edit of the file shows (tests/test_classify.py) as not what the trainer wrote.
MODEL_FIELDS = ("kinds", "intercept", "weights", "unshown")


def model_digest(data: dict) -> str:
    decided = json.dumps({name: data[name] for name in MODEL_FIELDS}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(decided.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def kind_model() -> KindModel:
    data = json.loads(KIND_MODEL.read_text(encoding="utf-8"))
    return KindModel(kinds=tuple(data["kinds"]), intercept=tuple(data["intercept"]),
                     weights={name: tuple(w) for name, w in data["weights"].items()},
                     unshown=frozenset(data["unshown"]))


def _model_kind(entry: ClassifyInput) -> tuple[str, float, list[str]]:
    model = kind_model()
    present = features(entry)
    weighed = [f for f in present if f in model.weights]
    totals = model.scores(weighed)
    for kind, weight in stated_weights(present).items():
        totals[model.kinds.index(kind)] += weight
    stated = sorted(f for f in present if f in STATED_SIGNALS)
    order = sorted(range(len(model.kinds)), key=lambda k: -totals[k])
    best, runner_up = order[0], order[1]
    kind = model.kinds[best]
    top = max(totals)
    probability = math.exp(totals[best] - top) / sum(math.exp(t - top) for t in totals)
    # What set the chosen kind apart from the next most likely one: stated signals first.
    shown = [describe(f) for f in stated if STATED_SIGNALS[f][0] == kind]
    margins = sorted(((model.weights[f][best] - model.weights[f][runner_up], f) for f in weighed
                      if f not in model.unshown and model.weights[f][best] > 0), reverse=True)
    shown += [describe(f) for margin, f in margins[:REASONS_SHOWN] if margin > 0]
    return kind, probability, shown[:REASONS_SHOWN] or ["its wording as a whole"]


def _asset_type(entry: ClassifyInput) -> str:
    if entry.asset_type and entry.asset_type != "other":
        return entry.asset_type
    url = entry.url or ""
    if github_repo(url) or entry.source_kind == "github":
        return "repo"
    if DATASET_URL.search(url):
        return "dataset"
    words = f"{entry.title} {entry.summary}"
    if STANDARD_WORDS.search(words):
        return "standard"
    if DATASET_WORDS.search(words):
        return "dataset"
    if TOOL_WORDS.search(words):
        return "tool"
    return entry.asset_type or "other"
