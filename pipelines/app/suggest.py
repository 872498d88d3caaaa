"""Suggest a source: the issue form, answered with `opengovtech check`, and the entry it proposes
added to sources.yaml by a pull request once a maintainer labels the issue.

`opengovtech suggest-source` reads the `issues` event GitHub Actions writes to
$GITHUB_EVENT_PATH. A new or edited suggestion gets a comment saying what the check found
(picked up or not, why, where the tag was looked for) and the exact entry to add; the
ACCEPT_LABEL applied by a maintainer opens a pull request adding that entry, checked the way
`opengovtech sources validate` checks the file, with every comment of the file kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.app.pickup_check import CheckReport, check_url, report_facts
from pipelines.config import SOURCE_ADAPTER, SourceRegistry, check_http_url, parse_registry
from pipelines.errors import ConfigError, GitHubWriteError, HubError
from pipelines.sources.github_repository import GitHubRepository
from pipelines.net.http import Fetcher, HttpSettings
from pipelines.app.run_summary import code
from pipelines.sources.github_api import api_url_from_env
from pipelines.app.sources_file import append_source, dump_entry
from pipelines.parse.tags import normalise_tag

SUGGESTION_LABEL = "suggest-a-source"   # the form puts it on every suggestion
ACCEPT_LABEL = "add-source"             # a maintainer applies it to have the entry added
FORM_PATH = Path(__file__).parent / "starter" / "suggest-a-source-form.yml"
COMMENT_MARKER = "<!-- opengovtech suggest-source -->"
NO_RESPONSE = "_No response_"            # how GitHub renders an optional field left empty
ORGANISATION_MAX = 200
PULL_REQUEST_HELP = ("The workflow's token may open pull requests only when the repository allows it: Settings → "
                     "Actions → General → Workflow permissions → \"Allow GitHub Actions to create and approve pull "
                     "requests\". Remove and apply the label again to retry.")


class SuggestionError(HubError):
    """The event or the issue is not a suggestion this command can read."""


@dataclass
class IssueEvent:
    """The parts of GitHub's `issues` webhook payload that a suggestion needs."""

    action: str                 # opened, edited, labeled, …
    repository: str             # owner/name
    default_branch: str
    number: int
    body: str
    labels: list[str]
    label: str | None = None    # the label just applied (action labeled)
    body_changed: bool = False  # action edited: the form's answers changed (not only the title)

    @classmethod
    def from_payload(cls, payload: dict) -> "IssueEvent":
        try:
            issue, repository = payload["issue"], payload["repository"]
            return cls(action=payload["action"], repository=repository["full_name"],
                       default_branch=repository.get("default_branch") or "main", number=int(issue["number"]),
                       body=issue.get("body") or "", labels=[lb["name"] for lb in issue.get("labels") or []],
                       label=(payload.get("label") or {}).get("name"),
                       body_changed="body" in (payload.get("changes") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise SuggestionError(f"not an `issues` event payload (missing {exc})") from None


def read_event(path: str | os.PathLike) -> IssueEvent:
    try:
        return IssueEvent.from_payload(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise SuggestionError(f"cannot read the event payload {path}: {exc}") from None


@dataclass
class Suggestion:
    url: str
    organisation: str
    tag: str | None = None


def form_labels(form_path: Path = FORM_PATH) -> dict[str, str]:
    """Field id -> label, from the issue form itself (the labels head the answers in the issue body)."""
    form = yaml.safe_load(form_path.read_text(encoding="utf-8"))
    return {item["id"]: item["attributes"]["label"] for item in form["body"] if item.get("id")}


def read_form_answers(body: str) -> dict[str, str]:
    """An issue form's body as GitHub renders it, `### Label\\n\\nanswer` per field, as {label: answer}."""
    answers: dict[str, str] = {}
    label = None
    lines: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if line.startswith("### "):
            if label is not None:
                answers[label] = "\n".join(lines).strip()
            label, lines = line[4:].strip(), []
        elif label is not None:
            lines.append(line)
    if label is not None:
        answers[label] = "\n".join(lines).strip()
    return {k: ("" if v == NO_RESPONSE else v) for k, v in answers.items()}


def suggestion_from_body(body: str) -> Suggestion:
    answers = {k.lower(): v for k, v in read_form_answers(body).items()}
    labels = form_labels()
    values = {field_id: answers.get(label.lower(), "") for field_id, label in labels.items()}
    if not values.get("url"):
        raise SuggestionError(f"the issue has no '{labels['url']}' answer: was it opened with the Suggest a source form?")
    return Suggestion(url=values["url"].strip(), organisation=" ".join(values.get("organisation", "").split()),
                      tag=values.get("tag", "").strip().lstrip("#") or None)


@dataclass
class Answer:
    """What to say on the issue, and the entry to add when there is one."""

    suggestion: Suggestion
    headline: str
    entry: dict | None = None
    report: CheckReport | None = None
    notes: list[str] = field(default_factory=list)   # reasons, in words


def answer_suggestion(suggestion: Suggestion, registry: SourceRegistry, warehouse_path: Path | None = None,
                      fetcher: Fetcher | None = None) -> Answer:
    """Check the suggested URL as `opengovtech check` does and decide the entry to propose, if any."""
    try:
        url = check_http_url(suggestion.url)
    except ValueError as exc:
        return Answer(suggestion, "That is not an address the hub can read.",
                      notes=[f"{exc}. Edit the issue with the full address, starting with https://"])
    hub_tags = list(registry.defaults.tags)
    own_tag = suggestion.tag if suggestion.tag and normalise_tag(suggestion.tag) not in \
        {normalise_tag(t) for t in hub_tags} else None
    report = check_url(url, registry, warehouse_path, fetcher, tags=[own_tag, *hub_tags] if own_tag else None)
    # "No source covers it" is what the comment's own lines say; the other reasons are kept as check gave them.
    reasons = [r for r in report.reasons if not r.startswith("no source in sources.yaml")]
    if report.covered_by:
        return Answer(suggestion, "The hub already reads this: no new entry is needed.", report=report, notes=reasons)
    if report.in_hub:
        return Answer(suggestion, "This is already in the hub.", report=report)
    if report.reachable is False or report.robots_allowed is False or report.proposed_entry is None:
        if any("non-public address" in r for r in reasons):
            reasons.insert(0, "it is a private address, not on the public internet: the hub reads public pages only")
        return Answer(suggestion, "The hub could not read it, so there is no entry to add.", report=report,
                      notes=reasons)
    entry, problem = _finished_entry(report.proposed_entry, suggestion, registry, own_tag)
    if entry is None:
        return Answer(suggestion, "The hub read it but could not make a valid entry for it.", report=report,
                      notes=[problem])
    if report.tag_found:
        headline = "It would be picked up once the entry below is added to sources.yaml."
    else:
        headline = ("Not picked up yet: the tag was not found. The entry below adds the source; "
                    "its posts count once they carry the tag.")
    return Answer(suggestion, headline, entry=entry, report=report, notes=reasons)


def _finished_entry(entry: dict, suggestion: Suggestion, registry: SourceRegistry,
                    own_tag: str | None) -> tuple[dict | None, str]:
    """The proposed entry with a free id, the organisation's name and the publisher's own tag."""
    entry = dict(entry)
    taken = {s.id for s in registry.sources}
    base, number = entry["id"], 2
    while entry["id"] in taken:
        entry["id"], number = f"{base}-{number}", number + 1
    if own_tag and entry["kind"] not in ("blog", "bluesky"):   # those two take the tag as their own key
        entry["tags"] = [own_tag, *registry.defaults.tags]
    organisation = suggestion.organisation[:ORGANISATION_MAX]
    if organisation:
        entry["organisation" if entry["kind"] == "github" else "org"] = organisation
    try:
        SOURCE_ADAPTER.validate_python(entry)
    except Exception as exc:   # pydantic's ValidationError: the suggester's answers made it invalid
        return None, " ".join(str(exc).split())[:300]
    return entry, ""


COMMENT_LABELS = {"what": "What it is", "reachable": "Reachable", "robots": "robots.txt",
                  "covered_by": "In sources.yaml", "tag_found": "Tag found",
                  "tag_not_found_in": "Tag not found; looked for it in", "kind": "It would be listed as"}


def comment_markdown(answer: Answer) -> str:
    """The answer as an issue comment. Every value that came from the issue or the page is a code
    span or block, so no markup, image or @mention in it takes effect."""
    lines = [COMMENT_MARKER, f"**{answer.headline}**", "", f"- Address: {code(answer.suggestion.url)}"]
    if answer.report is not None:
        for fact, value in report_facts(answer.report):
            if isinstance(value, list):
                value = ("; " if fact == "tag_found" else ", ").join(map(code, value))
            lines.append(f"- {COMMENT_LABELS[fact]}: {value or 'not yet'}")
    for note in answer.notes:
        lines.append(f"- {code(note)}")
    if answer.entry is not None:
        block = dump_entry(answer.entry)
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", block)), default=0))
        lines += ["", "The entry to add to `sources.yaml`:", "", f"{fence}yaml", block, fence, "",
                  f"A maintainer adds it by applying the `{ACCEPT_LABEL}` label to this issue: a pull request "
                  "with the entry follows."]
    return "\n".join(lines) + "\n"


@dataclass
class Outcome:
    """What `handle_event` did."""

    done: str                           # in words, for the command's output
    comment: str | None = None          # the comment posted (or, in a dry run, that would be)
    pull_request_url: str | None = None
    sources_text: str | None = None     # the new sources.yaml, when an entry was added


def handle_event(event: IssueEvent, sources_path: Path, *, dry_run: bool = False,
                 commit_sha: str | None = None, token: str | None = None) -> Outcome:
    """Answer one `issues` event: comment on a new or edited suggestion, open a pull request on the
    accept label. `commit_sha` is the commit sources.yaml was read at (the workflow's $GITHUB_SHA)."""
    if SUGGESTION_LABEL not in event.labels:
        return Outcome(f"issue #{event.number} is not labelled {SUGGESTION_LABEL}: nothing to do")
    accepting = event.action == "labeled" and event.label == ACCEPT_LABEL
    if not accepting and not (event.action in ("opened", "reopened") or (event.action == "edited" and event.body_changed)):
        return Outcome(f"nothing to do for '{event.action}' on issue #{event.number}")
    from pipelines.config import load_registry

    registry = load_registry(sources_path)
    try:
        suggestion = suggestion_from_body(event.body)
    except SuggestionError as exc:
        return _post(event, registry, f"{COMMENT_MARKER}**This issue cannot be read as a suggestion:** {exc}.\n",
                     dry_run, token, "commented: not a suggestion")
    answer = answer_suggestion(suggestion, registry)
    if not accepting:
        return _post(event, registry, comment_markdown(answer), dry_run, token, "commented with the check")
    if answer.entry is None:
        return _post(event, registry, comment_markdown(answer).replace(
            COMMENT_MARKER, COMMENT_MARKER + "**Nothing was added.** ", 1), dry_run, token, "commented: nothing to add")
    return _open_pull_request(event, registry, sources_path, answer, dry_run, token, commit_sha)


def _open_pull_request(event: IssueEvent, registry: SourceRegistry, sources_path: Path, answer: Answer,
                       dry_run: bool, token: str | None, commit_sha: str | None) -> Outcome:
    old = sources_path.read_bytes()
    text = append_source(old.decode("utf-8"), answer.entry, note=f"Suggested in issue #{event.number}")
    try:
        parse_registry(text, sources_path)   # what `opengovtech sources validate` checks
    except ConfigError as exc:
        raise ConfigError([f"sources.yaml with the new entry would not validate: {p}" for p in exc.problems]) from None
    entry_id = answer.entry["id"]
    block = dump_entry(answer.entry)
    body = (f"Adds the source suggested in #{event.number}, as `opengovtech check` proposed it:\n\n"
            f"```yaml\n{block}\n```\n\n`opengovtech sources validate` passes with it; the rest of "
            f"`{sources_path.name}` is unchanged.\n\nCloses #{event.number}\n")
    if dry_run:
        return Outcome(f"would open a pull request adding {entry_id}", comment=body, sources_text=text)
    if not commit_sha:
        raise SuggestionError("GITHUB_SHA (the commit sources.yaml was read at) is not set")
    branch = f"{SUGGESTION_LABEL}/issue-{event.number}"

    async def write() -> str:
        async with _fetcher(registry) as fetcher:
            repository = _repository(fetcher, event, registry, token)
            try:
                await repository.create_branch(branch, commit_sha)
                await repository.replace_file(_repository_path(sources_path), branch, text.encode("utf-8"), old,
                                              f"sources.yaml: add {entry_id} (suggested in #{event.number})")
                url = await repository.open_pull_request(branch, event.default_branch, f"Add source {entry_id}",
                                                         body)
            except GitHubWriteError as exc:
                # Say so where the maintainer looks; the step fails with the same message either way.
                with contextlib.suppress(GitHubWriteError):
                    await repository.comment(event.number, f"{COMMENT_MARKER}**The pull request could not be "
                                                           f"opened:** {code(str(exc))}\n\n{PULL_REQUEST_HELP}\n")
                raise
            await repository.comment(event.number, f"{COMMENT_MARKER}A pull request adds the entry: {url}\n")
            return url

    url = asyncio.run(write())
    return Outcome(f"opened {url}", comment=body, pull_request_url=url, sources_text=text)


def _post(event: IssueEvent, registry: SourceRegistry, comment: str, dry_run: bool, token: str | None,
          done: str) -> Outcome:
    if dry_run:
        return Outcome(f"would have {done}", comment=comment)

    async def write() -> str:
        async with _fetcher(registry) as fetcher:
            return await _repository(fetcher, event, registry, token).comment(event.number, comment)

    return Outcome(f"{done}: {asyncio.run(write())}", comment=comment)


def _fetcher(registry: SourceRegistry) -> Fetcher:
    return Fetcher(HttpSettings.from_defaults(registry.defaults))


def _repository(fetcher: Fetcher, event: IssueEvent, registry: SourceRegistry, token: str | None) -> GitHubRepository:
    if not token:
        raise SuggestionError("GITHUB_TOKEN is not set: the workflow passes its own token to this step")
    private = registry.defaults.allow_private_networks
    return GitHubRepository(fetcher, api_url_from_env(), event.repository, token,
                            allow_private=tuple(private) if isinstance(private, list) else private)


def _repository_path(sources_path: Path) -> str:
    """sources.yaml's path in the repository: the workflow runs at the checkout's root."""
    path = sources_path.resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        raise SuggestionError(f"{sources_path} is outside the checkout ({Path.cwd()})") from None
