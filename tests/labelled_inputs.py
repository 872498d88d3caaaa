"""Turns the entries of tests/data/labelled.yaml into classifier inputs, through the project's own
parsers and record builders, reading ../shared corpus and seed files in place."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from pipelines.config import DevtoSource, MarkdownSource, MastodonSource
from pipelines.normalise import classify, kind_features
from pipelines.normalise.classify import KINDS, ClassifyInput
from pipelines.parse import parse_document
from pipelines.parse.entries import ParseOptions
from pipelines.parse.page_metadata import parse_page_metadata
from pipelines.sources.devto import article_record
from pipelines.sources.markdown import MarkdownFile, file_record
from pipelines.sources.mastodon import post_facts, status_record
from pipelines.sources.page import page_record
from tests.conftest import CORPUS, SHARED
from tests.github_api_server import read_betamax_decoded, read_replay
from tests.social_servers import read_vcr

LABELLED = Path(__file__).parent / "data" / "labelled.yaml"
TRAINER = Path(__file__).parents[1] / "training" / "train_kind_model.py"


LABELLED_PUBLIC = Path(__file__).parent / "data" / "labelled_public.yaml"
# Where the public-sector posts' texts are read from: JSON lines of {repo, commit, path, text}, made
# from the listed repository files. Their text is not in this repository (third-party writing).
PUBLIC_TEXTS = "OPENGOVTECH_PUBLIC_TEXTS"


def load_labelled() -> list[dict]:
    return yaml.safe_load(LABELLED.read_text(encoding="utf-8"))["items"]


def load_labelled_public() -> list[dict]:
    """Public-sector posts in public repositories (repo, commit, path), labelled like labelled.yaml."""
    return yaml.safe_load(LABELLED_PUBLIC.read_text(encoding="utf-8"))["items"]


class PublicTextsMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _public_texts() -> dict[tuple[str, str], str]:
    folder = os.environ.get(PUBLIC_TEXTS)
    if not folder:
        raise PublicTextsMissing(f"set {PUBLIC_TEXTS} to a folder of JSON lines with the labelled public posts' "
                                 "texts (tests/data/labelled_public.yaml lists repository, commit and path)")
    texts = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        # JSON lines end in "\n" only: a text may hold U+2028, which str.splitlines would break at.
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            row = json.loads(line)
            texts[row["repo"], row["path"]] = row["text"]
    return texts


def public_input(item: dict) -> ClassifyInput:
    """A labelled public post read as the markdown kind reads a repository's file."""
    text = _public_texts()[item["repo"], item["path"]]
    source = MarkdownSource(id="labelled", kind="markdown", directory=".", tagged_only=False)
    record = file_record(source, MarkdownFile(path=item["path"], text=text, blob="labelled"), [], branch="main")
    return _row(record, "markdown")


def training_digest() -> str:
    """What the kind model was trained from: the train split's labels, the features' code, the stated
    rules that keep items out of training, how labelled items are read, and the trainer."""
    train = sorted((item["file"], str(item.get("entry", "")), item["kind"])
                   for item in load_labelled() if item.get("split") != "test")
    train += sorted((item["repo"], item["commit"], item["path"], item["kind"])
                    for item in load_labelled_public() if item.get("split") != "test")
    digest = hashlib.sha256(json.dumps(train, ensure_ascii=False).encode())
    for path in (Path(kind_features.__file__), Path(classify.__file__), Path(__file__), TRAINER):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def classify_input(item: dict) -> ClassifyInput:
    """The input for one labelled entry: `file` (under ../shared) and `entry` (a title, URL or name)."""
    file, entry = item["file"], str(item.get("entry", ""))
    path = SHARED / file
    if file.startswith("corpus/feeds/"):
        return _row(_feed_record(path, entry), "feed")
    if file.startswith("corpus/pages/") and file.endswith(".html"):
        meta = parse_page_metadata(path.read_bytes(), f"https://example.org/{path.name}")
        return _row(page_record(meta, source_id="labelled", entry_key=path.name, wanted_tags=[], tagged_only=False), "page")
    if file.startswith("corpus/github/"):
        repo = _github_repo(file, entry)
        # What the github kind records for a repository (pipelines/sources/github.py): an asset.
        return ClassifyInput(title=repo["full_name"], summary=repo.get("description") or "", url=repo["html_url"],
                             tags=list(repo.get("topics") or []), kind_hint="asset", source_kind="github")
    if file.endswith((".md", ".markdown", ".txt")):
        return _row(_markdown_record(path), "markdown")
    if file == "corpus/social/devto_api_articles_by_username.json":
        articles = json.loads(path.read_text(encoding="utf-8"))
        article = next(a for a in articles if a["title"] == entry)
        source = DevtoSource(id="labelled", kind="devto", username="labelled", tagged_only=False)
        return _row(article_record(source, article, []), "devto")
    if file.startswith("corpus/social/mastodon_"):
        return _row(_toot_record(file, entry), "mastodon")
    raise AssertionError(f"labelled.yaml: no reader for {file}")


def _row(record, source_kind: str) -> ClassifyInput:
    return ClassifyInput.from_row(asdict(record), source_kind=source_kind)


@lru_cache(maxsize=None)
def _feed_records(path: Path) -> tuple:
    doc = parse_document(path.read_bytes(), f"https://example.org/{path.name}", None,
                         ParseOptions(source_id="labelled", tags=(), tagged_only=False))
    return tuple(doc.records)


def _feed_record(path: Path, title: str):
    for record in _feed_records(path):
        if record.title == title or record.url == title:
            return record
    raise AssertionError(f"labelled.yaml: no entry {title!r} in {path.name}")


def _markdown_record(path: Path):
    text = path.read_text(encoding="utf-8")
    name = path.name
    # opengovtech.org files were saved flat as <collection>_<name>.md; put them back in their folder.
    for prefix, folder in (("assets_", "_assets"), ("contributors_", "_contributors"), ("post_", "_posts")):
        if name.startswith(prefix):
            name = f"{folder}/{name[len(prefix):]}"
            break
    if path.suffix == ".txt":
        name = f"seeds/{path.stem}.md"
        if not text.startswith("---"):
            # A seed without front matter is a page's text with its title on the first line.
            title, _, body = text.partition("\n")
            text = f"# {title.strip()}\n{body}"
    source = MarkdownSource(id="labelled", kind="markdown", directory=".", tagged_only=False)
    return file_record(source, MarkdownFile(path=name, text=text, blob="labelled"), [], branch="main")


def _toot_record(file: str, url: str):
    source = MastodonSource(id="labelled", kind="mastodon", instance="https://mastodon.example", hashtag="x",
                            tagged_only=False)
    for exchange in read_vcr(Path(file).name):
        try:
            body = json.loads(exchange.body)
        except ValueError:
            continue
        for status in body if isinstance(body, list) else [body]:
            if isinstance(status, dict) and status.get("url") == url:
                post, raw = post_facts(source, status, [], [])
                return status_record(post, raw)
    raise AssertionError(f"labelled.yaml: no status {url} in {file}")


def _github_repo(file: str, full_name: str) -> dict:
    path = CORPUS / file.removeprefix("corpus/")
    if path.name.endswith(".replay.txt"):
        bodies = [e["body"] for e in read_replay(path)]
    elif path.name.endswith(".betamax.json"):
        bodies = [json.dumps(e["body"]) for e in read_betamax_decoded(path.name.replace(".betamax.json", ".decoded.json"))]
    else:  # octokit fixtures: a list of recorded exchanges
        data = json.loads(path.read_text(encoding="utf-8"))
        bodies = [json.dumps(e.get("response")) for e in (data if isinstance(data, list) else [data])]
    for body in bodies:
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            continue
        for repo in data if isinstance(data, list) else data.get("items", [data]) if isinstance(data, dict) else []:
            if isinstance(repo, dict) and repo.get("full_name") == full_name:
                return repo
    raise AssertionError(f"labelled.yaml: no repository {full_name} in {file}")


@dataclass
class KindScores:
    """A classifier's verdicts on labelled items: accuracy, each kind's recall and precision, and a table."""

    pairs: list[tuple[str, str]]   # (labelled, classified)

    def count(self, labelled: str, classified: str) -> int:
        return sum(1 for pair in self.pairs if pair == (labelled, classified))

    @property
    def accuracy(self) -> float:
        return sum(a == b for a, b in self.pairs) / len(self.pairs)

    def recall(self, kind: str) -> float:
        return self.count(kind, kind) / max(1, sum(1 for a, _ in self.pairs if a == kind))

    def precision(self, kind: str) -> float:
        return self.count(kind, kind) / max(1, sum(1 for _, b in self.pairs if b == kind))

    def table(self) -> str:
        lines = ["labelled \\ classified " + " ".join(f"{k:>9}" for k in KINDS) + "   recall precision"]
        for k in KINDS:
            lines.append(f"{k:>22} " + " ".join(f"{self.count(k, p):>9}" for p in KINDS) +
                         f"   {self.recall(k):6.1%} {self.precision(k):9.1%}")
        return f"{len(self.pairs)} items, accuracy {self.accuracy:.1%}\n" + "\n".join(lines)
