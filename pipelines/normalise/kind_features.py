"""What the kind model reads of an entry: named features, each one a reader could point at.

Words of the title and of the text's opening, and the signals a post's shape gives (code blocks, a
repository URL, an event's details line, the author's tags). The model (kind_model.json, trained by
training/train_kind_model.py on tests/data/labelled.yaml's train split) weighs them; the features with
the largest part in its choice become `kind_reasons`, so every feature has words a publisher reads.
"""

from __future__ import annotations

import re
from itertools import islice
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit
from typing import TYPE_CHECKING

from pipelines.parse.tags import normalise_tag
from pipelines.parse.urls import github_repo

if TYPE_CHECKING:
    from pipelines.normalise.classify import ClassifyInput

TEXT_WINDOW = 3000   # characters of text read: a post's opening says what it is
WORD = re.compile(r"[^\W\d_]{2,}")

# The author's tags that name a kind or a technology.
KIND_TAGS = {
    "story": {"story", "stories", "casestudy", "casestudies", "news", "blog"},
    "technique": {"technique", "techniques", "howto", "tutorial", "tutorials", "guide", "guides", "technical",
                  "knowhow", "walkthrough", "howwebuiltit", "codeexample", "tipsandtricks", "tips"},
    "event": {"event", "events", "meetup", "hackathon", "hackday", "webinar", "workshop", "unconference",
              "conference"},
    "asset": {"asset", "dataset", "datasets", "opendataset", "tool", "tools", "library", "release", "releases",
              "announcement", "announcements"},
    "community": {"communitygroup", "usergroup", "profile", "interview", "people", "team"},
}
TECHNICAL_TAGS = {"webdev", "programming", "javascript", "typescript", "python", "react", "nextjs", "nodejs", "rust",
                  "golang", "java", "ruby", "rails", "django", "devops", "docker", "kubernetes", "sql", "postgresql",
                  "css", "html", "api", "apis", "git", "github", "testing", "linux", "aws", "terraform", "swift",
                  "ios", "android", "datascience", "machinelearning", "coding", "softwareengineering", "frontend",
                  "backend"}

# Patterns over the text read it lower-cased, compiled without re.I (case-insensitive matching is
# most of the cost of reading a text); those over the title and the HTML keep re.I.
PRE_BLOCK = re.compile(r"<pre\b", re.I)
INLINE_CODE = re.compile(r"<code\b", re.I)
COMMAND_LINE = re.compile(r"(^|\n)\s*(\$ |pip install|npm (install|run)|git clone|docker (run|build)|curl -|"
                          r"brew install|apt(-get)? install|import \w+|def \w+\(|function \w+\(|select .+ from)")
HOW_TO_TITLE = re.compile(
    r"\b(how (we|to|i|you)|tutorial|step[- ]by[- ]step|guide to|getting started|walk-?through|deep dive|"
    r"under the hood|cheat ?sheet|tips (for|on)|lessons (we )?learn(ed|t)|using \w+ (to|with|for)|"
    r"introduction to|\b101\b|(easiest|best|simplest|quickest) way to|^(build|building|create|creating|"
    r"set(ting)? up|deploy(ing)?|install(ing)?|configur(e|ing)|migrat(e|ing)|automat(e|ing)) (a|an|your|the)\b)",
    re.I)
# A title announcing a reusable thing: "… is now an open dataset", "Introducing …", "… 2.0 released".
RELEASE_TITLE = re.compile(
    r"\b(is now (an? )?(open|available|live|public)|now (available|live|open|public)|now as an?|introducing|"
    r"launch(es|ed)|released?|we('ve| have) (released|published|opened|open-sourced)|open[- ]sourc(ed|ing)|"
    r"new (open )?(dataset|data ?set|tool|api|library|app|template|standard|component))\b", re.I)
HOW_TO_TEXT = re.compile(r"\b(how we (built|made|did|delivered|designed)|here'?s how|step \d|in this (post|tutorial|"
                         r"guide|article),? (we|i)(('| wi)ll)? (show|walk|explain|build|look))\b")
EVENT_CALL = re.compile(r"\b(register (here|now|your)|book (your|a) (place|ticket|seat)|eventbrite|join us (on|at|for)|"
                        r"interested in attending|doors open|rsvp|sign up (here|now)|save the date)\b")
# "Date: 2014-10-24 11:30", the details block event pages and listings carry.
EVENT_FIELD = re.compile(r"^\s*(date|when|time|venue)\s*:\s*(\d|mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|"
                         r"jul|aug|sep|oct|nov|dec)", re.M)
EVENT_NAME = re.compile(r"\b[A-Z][\w-]* (?i:day|days|conf|con|fest|festival|camp|summit|meetup|hack) ?'?(19|20)\d\d\b")
ABOUT_TITLE = re.compile(r"^(what we do|about us|who we are|our mission|meet the)\b", re.I)
SELF_DESCRIPTION = re.compile(r"\b(our mission|we are a (group|community|network|team|council|charity|company)|"
                              r"join (our|the) (group|community|slack|mailing list)|become a member|our members)\b")
# Words that mark a kind in several languages; each counts in the title, in the text, and when the
# text says it three times or more.
CUES = {
    "event_cue": re.compile(
        r"\b(tickets?|register|registration|early[- ]bird|tonight|save the date|join us|rsvp|sign up|"
        r"call for (papers|proposals|speakers)|cfp|livestream|will take place|takes place|doors open|"
        r"anmeld\w*|ticketverkauf|inscri[cç][aã]o|inscrições|inscripci[oó]n|billets?|veranstaltung|einladung|"
        r"findet am|laden (euch|sie|dich) ein|inscri(vez|ption)\w*|aura lieu|rejoignez-nous|"
        r"on (monday|tuesday|wednesday|thursday|friday|saturday|sunday)|\d{1,2}(:\d\d)? ?(am|pm)|"
        r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w* \d{1,2}(st|nd|rd|th)?\b)"),
    "release_cue": re.compile(
        r"\b(release[sd]?|releasing|now available|generally available|in beta|public beta|introducing|"
        r"announc\w+|launch\w*|new version|version \d|v\d+(\.\d+)+|download|open[- ]sourc\w+|"
        r"veröffentlich\w*|erscheint|erreicht version|bringt|lança\w*|disponível|lanza\w*|publie|"
        r"lancement|nouvelle version|est disponible|ist online|ist verfügbar|neue version)\b"),
    "profile_cue": re.compile(
        r"\b(q ?& ?a|interview\w*|sat down with|meet (the|our)|who we are|about us|profile|featured (blog|member)|"
        r"member since|our team|founded|founder|we are an?|is an? (organisation|organization|group|community|"
        r"charity|non-?profit|network|team|council)|"
        r"entretien avec|portrait d[eu']|rencontre avec|im gespräch mit|porträt|steckbrief|stellt sich vor|"
        r"entrevista (a|con))\b"),
    "how_to_cue": re.compile(
        r"\b(how (to|we|i|you)|learn how|step \d|tips?|tutorial|guide|walk ?through|you (can|should|need|will)|"
        r"here'?s how|let'?s|example|first,|make sure|instead of|"
        r"wie (man|sie)|so geht|anleitung|schritt für schritt|tipps|leitfaden|"
        r"comment (faire|créer|mettre|utiliser)|étape \d|nos conseils|conseils pour|astuces|bonnes pratiques|"
        r"mode d'emploi|"
        r"como fazer|passo a passo|dicas|cómo (hacer|crear|usar)|paso a paso|consejos)\b"),
}
CUE_WORDS = {"event_cue": "invitation words (tickets, register, a date)",
             "release_cue": "release words (released, now available, version)",
             "profile_cue": "profile words (interview, who we are, founded)",
             "how_to_cue": "how-to words (how to, step, tips)"}
CUE_REPEATS = 3
# "Rust 1.30", "mat2 0.13.4", "v3", "Version 1.0"; not a thousands separator ("185.000 Kunden").
VERSION = re.compile(r"\b(v\d+(\.\d+)*|\d+\.\d+\.\d+|\d+\.(?!\d{3}\b)\d+|version \d+)\b", re.I)
# A write-up after the event ("thanks to everyone who came", "last week's meetup"): an event's tag or
# name then says what it was about, not that it is still to come (a recap is a story).
RECAP = re.compile(r"\b(recap|write-?up|highlights from|took place|was held|were held|last (week|month|weekend)'?s?|"
                   r"thanks? (you )?(to )?(everyone|all) who|what (we|i) learned at|looking back)\b")
DATASET_URL = re.compile(r"/(datasets?|data/set)/[^/]+", re.I)
# The section of a site a page sits in (the folders of its file or address, whole names): sites file
# events, projects, people and guides apart, in names that recur across sites and languages. Not `docs`:
# GitHub Pages publishes whole sites from a folder of that name.
SECTIONS = {
    "events": {"event", "events", "meetup", "meetups", "webinar", "webinars", "workshops", "calendar", "agenda",
               "veranstaltungen", "termine", "evenements", "événements", "eventos"},
    "projects": {"project", "projects", "products", "tools", "apps", "software", "datasets", "startups", "showcase",
                 "projekte", "projets", "projetos", "proyectos"},
    "people": {"people", "team", "teams", "members", "contributors", "organisations", "organizations", "board",
               "staff", "authors", "profiles", "partners", "communities", "groups", "about"},
    "guides": {"guide", "guides", "documentation", "howto", "how-to", "tutorials", "methods", "playbook", "handbook",
               "manual", "learn"},
    "news": {"blog", "posts", "news", "articles", "press", "actualites", "actualités", "aktuelles", "noticias"},
}
# Words a folder's name may add to a section's word and still be that section ("team-members",
# "guide-pages", "meet-the-team"); a name with any other word ("about-us-blog", "events-recap") is not.
FOLDER_FILLERS = {"the", "our", "us", "meet", "pages", "page", "all", "list"}
FOLDER_WORD = re.compile(r"[^\W\d_]+")
# A file of these names is its folder's page (a Hugo page bundle, a README per post): the folder is the page.
PAGE_FILES = {"index", "_index", "readme"}
# The folder after one of these is a label the page carries ("/category/tools/"), not a section.
LABEL_FOLDERS = {"tag", "tags", "category", "categories", "topic", "topics", "label", "labels"}

# Signals an author or a page states outright: each adds a fixed weight to one kind's score (in the
# model's units), and the model is fitted with them in its scores. Most are too rare in the labelled sets
# to weigh; a site's section is common, but weighed per source it would learn each source's habits.
STATED_SIGNALS = {
    **{f"tag_{kind}": (kind, 3.0) for kind in KIND_TAGS},
    "technical_tag": ("technique", 1.5),
    "schema_event": ("event", 4.0),
    "event_field": ("event", 3.0),
    "event_name": ("event", 2.0),
    "profile_fields": ("community", 4.0),
    "about_title": ("community", 3.0),
    "self_description": ("community", 2.0),
    "repo_url": ("asset", 4.0),
    "dataset_url": ("asset", 3.0),
    "how_to_text": ("technique", 1.0),
    "how_to_title": ("technique", 2.0),
    "release_title": ("asset", 2.0),
    "section_events": ("event", 2.0),
    "section_people": ("community", 2.0),
    "section_projects": ("asset", 2.0),
    "section_guides": ("technique", 2.0),
}

def stated_weights(present: set[str]) -> dict[str, float]:
    """Per kind, the fixed weight the stated signals among `present` add to its score."""
    weights: dict[str, float] = {}
    for feature in present & STATED_SIGNALS.keys():
        kind, weight = STATED_SIGNALS[feature]
        weights[kind] = weights.get(kind, 0.0) + weight
    return weights


# What each signal is called in `kind_reasons`; word features read "the word 'x'" or "'x' in the title".
SIGNALS = {
    "code_block": "a code block",
    "code_blocks": "several code blocks",
    "inline_code": "inline code",
    "command_line": "shell commands or code in the text",
    "how_to_title": "a how-to title",
    "release_title": "a title announcing a release",
    "how_to_text": "the text says how it was done",
    "event_call": "an invitation to register or attend",
    "event_field": "an event's date or venue line",
    "event_name": "the title names a dated event",
    "recap": "a write-up after the event",
    "schema_event": "schema.org Event on the page",
    "about_title": "an about page",
    "self_description": "a group describing itself",
    "profile_fields": "profile front matter (location, website or social links)",
    "repo_url": "its URL is a GitHub repository",
    "dataset_url": "its URL is a dataset page",
    "version_in_title": "a version number in the title",
    "title_question": "the title asks a question",
    "blog_post": "a blog post (Jekyll _posts)",
    "technical_tag": "a technical tag",
    "short_text": "a short text",
    **{f"section_{name}": f"the site files it under {name}" for name in SECTIONS},
    **{f"{cue}_title": f"{words} in the title" for cue, words in CUE_WORDS.items()},
    **CUE_WORDS,
    **{f"{cue}_many": f"many {words}" for cue, words in CUE_WORDS.items()},
    **{f"tag_{kind}": f"a tag that says {kind}" for kind in KIND_TAGS},
    **{f"source_{kind}": f"a {kind} source" for kind in ("github", "markdown", "page", "mastodon", "bluesky",
                                                         "devto", "discourse")},
}


def features(entry: "ClassifyInput") -> set[str]:
    """The named features present in one entry (each counts once)."""
    title = entry.title or ""
    text = (entry.content_text or entry.summary or "")[:TEXT_WINDOW].lower()
    html = (entry.content_html or "")[:TEXT_WINDOW * 3]
    lowered_title = title.lower()
    found = {f"t:{w}" for w in WORD.findall(lowered_title)}
    found |= {f"w:{w}" for w in WORD.findall(text)}

    blocks = len(PRE_BLOCK.findall(html))
    signals = {
        "code_block": blocks >= 1,
        "code_blocks": blocks >= 3,
        "inline_code": len(INLINE_CODE.findall(html)) - blocks >= 3,
        "command_line": bool(COMMAND_LINE.search(text)),
        "how_to_title": bool(HOW_TO_TITLE.search(title)),
        "release_title": bool(RELEASE_TITLE.search(title)),
        "how_to_text": bool(HOW_TO_TEXT.search(text)),
        "event_call": bool(EVENT_CALL.search(text) or EVENT_CALL.search(lowered_title)),
        "event_field": bool(EVENT_FIELD.search(text)),
        "event_name": bool(EVENT_NAME.search(title)),
        "schema_event": any(str(t).lower().endswith("event") for t in entry.details.get("schema_types") or []),
        "about_title": bool(ABOUT_TITLE.search(title)),
        "self_description": bool(SELF_DESCRIPTION.search(text)),
        "profile_fields": bool(entry.details.get("location") and
                               (entry.details.get("website") or entry.details.get("social"))),
        "repo_url": bool(github_repo(entry.url, root_only=True)),
        "dataset_url": bool(entry.url and DATASET_URL.search(entry.url)),
        "version_in_title": bool(VERSION.search(title)),
        "title_question": title.rstrip().endswith("?"),
        "blog_post": entry.details.get("collection") == "_posts",
        "short_text": len(text) < 280,
    }
    found |= {name for name, present in signals.items() if present}
    for cue, pattern in CUES.items():
        if pattern.search(lowered_title):
            found.add(f"{cue}_title")
        said = sum(1 for _ in islice(pattern.finditer(text), CUE_REPEATS))
        if said:
            found.add(cue)
        if said >= CUE_REPEATS:
            found.add(f"{cue}_many")
    folders = site_folders(entry)
    found |= {f"section_{section}" for section, names in SECTIONS.items()
              if any(_folder_is(folder, names) for folder in folders)}
    tags = {normalise_tag(tag) for tag in entry.tags}
    found |= {f"tag_{kind}" for kind, words in KIND_TAGS.items() if tags & words}
    if "event_call" not in found and RECAP.search(f"{lowered_title} {text}"):
        found.add("recap")
        found -= {"tag_event", "event_name", "section_events"}
    if tags & TECHNICAL_TAGS:
        found.add("technical_tag")
    if entry.source_kind and entry.source_kind != "feed":
        found.add(f"source_{entry.source_kind}")
    return found


def site_folders(entry: "ClassifyInput") -> set[str]:
    """The names of the folders a page sits in (Jekyll's leading `_` dropped): its file's in a
    repository, else its address's, less the page's own part and any label folder."""
    path = entry.details.get("path") or (urlsplit(entry.url).path if entry.url else "")
    # The last part is the page itself, with or without a trailing slash ("/2016/05/how-to-learn/").
    parts = unquote(str(path)).lower().rstrip("/").split("/")
    if parts and PurePosixPath(parts[-1]).stem in PAGE_FILES:
        parts = parts[:-1]
    folders: set[str] = set()
    after_label = False
    for part in parts[:-1]:
        name = part.lstrip("_")
        if not after_label and name not in LABEL_FOLDERS:
            folders.add(name)
        after_label = name in LABEL_FOLDERS
    return folders


def _folder_is(folder: str, names: set[str]) -> bool:
    """Whether a folder's name is one of a section's names, alone or with filler words."""
    if folder in names:
        return True
    words = FOLDER_WORD.findall(folder)
    return bool(words) and any(w in names for w in words) and all(w in names or w in FOLDER_FILLERS for w in words)


def describe(feature: str) -> str:
    """A feature in the words `kind_reasons` uses."""
    if feature.startswith("t:"):
        return f"'{feature[2:]}' in the title"
    if feature.startswith("w:"):
        return f"the word '{feature[2:]}'"
    return SIGNALS.get(feature, feature)
