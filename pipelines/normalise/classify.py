"""What an entry is: story, technique, asset, event or community, and which signals decided.

Rules over signals, not a model: every signal adds weight to one kind, the heaviest kind
wins, and its signals become `kind_reasons`. Nothing is downloaded at run time, and a
reader can see why an item landed where it did (tests/data/labelled.yaml measures it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from pipelines.entry import json_object
from pipelines.parse.tags import normalise_tag
from pipelines.parse.urls import github_repo

KINDS = ("story", "technique", "asset", "event", "community")
ASSET_TYPES = ("repo", "dataset", "tool", "standard", "other")

# Explicit tags: the author saying what the post is.
TAG_KINDS = {
    "story": {"story", "stories", "casestudy", "casestudies", "opengovtechstory"},
    "technique": {"technique", "techniques", "howto", "tutorial", "tutorials", "guide", "guides", "technical",
                  "knowhow", "walkthrough", "howwebuiltit", "opengovtechtechnique", "codeexample", "tipsandtricks",
                  "tips"},
    "event": {"event", "events", "meetup", "hackathon", "hackday", "webinar", "workshop", "unconference",
              "conference", "opengovtechevent"},
    "asset": {"asset", "dataset", "datasets", "opendataset", "tool", "library", "opengovtechasset"},
    "community": {"communitygroup", "usergroup", "opengovtechcommunity"},
}
# Tags naming a technology: the post is about how something is built.
TECHNICAL_TAGS = {"webdev", "programming", "javascript", "typescript", "python", "react", "nextjs", "nodejs", "rust",
                  "golang", "java", "ruby", "rails", "django", "devops", "docker", "kubernetes", "sql", "postgresql",
                  "css", "html", "api", "apis", "git", "github", "testing", "linux", "aws", "terraform", "swift",
                  "ios", "android", "datascience", "machinelearning", "coding", "softwareengineering", "frontend", "backend"}
COLLECTION_WEIGHT = 6
POSTS_WEIGHT = 2
TEXT_WINDOW = 5000   # characters of text the content signals read
TAG_WEIGHT = 5
SOURCE_HINT_WEIGHT = 4
REPOSITORY_WEIGHT = 10

TECHNIQUE_TITLE = re.compile(
    r"\b(how (we|to|i|you)|tutorial|step[- ]by[- ]step|guide to|getting started|walk-?through|deep dive|"
    r"under the hood|cheat ?sheet|tips (for|on)|lessons (we )?learn(ed|t)|using \w+ (to|with|for)|"
    r"introduction to|with (python|javascript|rust|go|sql|react|swift|ruby|rails|django)|\b101\b|"
    r"(easiest|best|simplest|quickest) way to|^(build|building|create|creating|set(ting)? up|deploy(ing)?|"
    r"install(ing)?|configur(e|ing)|migrat(e|ing)|automat(e|ing)) (a|an|your|the)\b)", re.I)
TECHNIQUE_BODY = re.compile(r"\b(how we (built|made|did|delivered|designed)|here'?s how|step \d|in this (post|tutorial|guide|article),? (we|i)(('| wi)ll)? (show|walk|explain|build|look))\b", re.I)
COMMAND_LINE = re.compile(r"(^|\n)\s*(\$ |pip install|npm (install|run)|git clone|docker (run|build)|curl -|brew install|"
                          r"apt(-get)? install|import \w+|def \w+\(|function \w+\(|SELECT .+ FROM)", re.I)
EVENT_TITLE = re.compile(r"\b(meet-?up|hackathon|hack ?day|conference|webinar|workshop|unconference|summit|"
                         r"launch event|open day|drop-in|screening|lunch and learn|show and tell|event)s?\b", re.I)
EVENT_BODY = re.compile(r"\b(register (here|now|your)|book (your|a) (place|ticket|seat)|tickets?\b|eventbrite|"
                        r"join us (on|at|for)|interested in attending|doors open|agenda|venue|rsvp)\b", re.I)
# "Date: 2014-10-24 11:30" — the details block event pages and listings carry.
EVENT_FIELD = re.compile(r"^\s*(date|when|time|venue)\s*:\s*(\d|mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|"
                         r"jul|aug|sep|oct|nov|dec)", re.I | re.M)
EVENT_NAME = re.compile(r"\b[A-Z][\w-]* (?i:day|days|conf|con|fest|festival|camp|summit|meetup|hack) ?'?(19|20)\d\d\b")
ABOUT_TITLE = re.compile(r"^(what we do|about us|who we are|our mission)\b", re.I)
COMMUNITY_TITLE = re.compile(r"\b(group|community|network|co-?op(erative)?|collective|society|alliance|forum|"
                             r"user group|meetup group)\b", re.I)
COMMUNITY_BODY = re.compile(r"\b(our mission|we are a (group|community|network)|join (our|the) (group|community|slack|mailing list)|"
                            r"become a member|our members|community[- ]driven)\b", re.I)
DATASET_URL = re.compile(r"/(datasets?|data/set)/[^/]+", re.I)
STANDARD_WORDS = re.compile(r"\b(format|standard|specification|schema|principles|guidance|code of practice|framework)\b", re.I)
DATASET_WORDS = re.compile(r"\b(dataset|data ?set|open data on|statistics on|data feed|csv)\b", re.I)
TOOL_WORDS = re.compile(r"\b(app|tool|dashboard|visuali[sz]ation|map|picker|calculator|service|website|plugin|library|api)\b", re.I)
PRE_BLOCK = re.compile(r"<pre\b", re.I)
# Phrases that say what a post is: (kind, weight, pattern, read in title or text, reason).
PHRASE_RULES = (
    ("technique", 3, TECHNIQUE_TITLE, "title", "title says '{}'"),
    ("technique", 1, TECHNIQUE_BODY, "text", "text says '{}'"),
    ("event", 2, EVENT_BODY, "title", "title says '{}'"),
    ("event", 3, EVENT_FIELD, "text", "event details line '{}'"),
    ("event", 1, EVENT_BODY, "text", "text says '{}'"),
)
INLINE_CODE = re.compile(r"<code\b", re.I)


@dataclass
class Classification:
    kind: str
    asset_type: str | None
    score: float
    reasons: list[str] = field(default_factory=list)


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
    scores: dict[str, float] = defaultdict(float)
    reasons: dict[str, list[str]] = defaultdict(list)

    def signal(kind: str, weight: float, reason: str) -> None:
        scores[kind] += weight
        reasons[kind].append(reason)

    signal("story", 1, "default: a post about a piece of work is a story")
    _record_signals(entry, signal)
    _tag_signals(entry, signal)
    _content_signals(entry, signal)
    if entry.source_hint in KINDS:
        signal(entry.source_hint, SOURCE_HINT_WEIGHT, f"sources.yaml item_kind: {entry.source_hint}")

    kind = max(KINDS, key=lambda k: (scores[k], -KINDS.index(k)))
    chosen = reasons[kind]
    if len(chosen) > 1:  # the default is only a reason when nothing else spoke
        chosen = [r for r in chosen if not r.startswith("default:")]
    asset_type = _asset_type(entry) if kind == "asset" else None
    if asset_type:
        chosen = chosen + [f"asset type {asset_type}"]
    return Classification(kind=kind, asset_type=asset_type, score=scores[kind], reasons=chosen)


def _record_signals(entry: ClassifyInput, signal) -> None:
    collection = entry.details.get("collection")
    if entry.source_kind == "github" and entry.kind_hint == "asset":
        signal("asset", REPOSITORY_WEIGHT, "GitHub repository")
    elif entry.kind_hint in KINDS:
        where = f"Jekyll collection {collection}" if collection else f"the {entry.source_kind or 'source'} kind"
        # _posts only says "a blog post": a story unless the post itself says more (an event, a how-to).
        weight = POSTS_WEIGHT if collection == "_posts" else COLLECTION_WEIGHT
        signal(entry.kind_hint, weight, f"{where} says {entry.kind_hint}")
    schema_types = [str(t).lower() for t in entry.details.get("schema_types") or []]
    if any(t == "event" or t.endswith("event") for t in schema_types):
        signal("event", COLLECTION_WEIGHT, "schema.org Event on the page")
    if entry.details.get("location") and (entry.details.get("website") or entry.details.get("social")):
        signal("community", COLLECTION_WEIGHT - 1, "profile front matter (location, website or social links)")
    repo = github_repo(entry.url, root_only=True)
    if repo and entry.source_kind != "github":
        signal("asset", COLLECTION_WEIGHT, f"its URL is the GitHub repository {repo}")
    elif entry.url and DATASET_URL.search(entry.url):
        signal("asset", 4, "its URL is a dataset page")


def _tag_signals(entry: ClassifyInput, signal) -> None:
    seen: set = set()
    technical = [t for t in entry.tags if normalise_tag(t) in TECHNICAL_TAGS]
    if technical:
        signal("technique", 2, f"technical tag '{technical[0]}'")
    for tag in entry.tags:
        key = normalise_tag(tag)
        for kind, words in TAG_KINDS.items():
            if key in words and (kind, key) not in seen:
                seen.add((kind, key))
                signal(kind, TAG_WEIGHT, f"tag '{tag}'")


def _content_signals(entry: ClassifyInput, signal) -> None:
    title = entry.title or ""
    # The opening of a post says what it is; reading further costs time and finds asides.
    text = (entry.content_text or entry.summary or "")[:TEXT_WINDOW]
    html = (entry.content_html or "")[:TEXT_WINDOW * 3]
    blocks = len(PRE_BLOCK.findall(html))
    if blocks:
        signal("technique", 2 if blocks < 3 else 3, f"{blocks} code block{'s' if blocks > 1 else ''}")
    inline = len(INLINE_CODE.findall(html)) - blocks
    if inline >= 3:
        signal("technique", 1, f"{inline} inline code spans")
    if COMMAND_LINE.search(text) and (blocks or inline):
        signal("technique", 1, "shell commands or code in the text")
    for kind, weight, pattern, field_name, reason in PHRASE_RULES:
        if match := pattern.search(title if field_name == "title" else text):
            signal(kind, weight, reason.format(match.group(0).strip()[:60]))
    if match := EVENT_NAME.search(title):
        signal("event", 2, f"title names an event ('{match.group(0)}')")
    elif match := EVENT_TITLE.search(title):  # alone, not enough: news reports on summits
        signal("event", 1, f"title names an event ('{match.group(0)}')")

    if match := ABOUT_TITLE.search(title):
        signal("community", 3, f"an about page ('{match.group(0)}')")
    elif match := COMMUNITY_TITLE.search(title):
        if COMMUNITY_BODY.search(text):
            signal("community", 3, f"a {match.group(0).lower()} describing itself")


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
