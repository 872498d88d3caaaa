"""A GitHub REST API on 127.0.0.1, built from the real recordings in ../shared/corpus/github.

Repositories served are the recorded ones (github3.py's `Organization_repositories` cassette,
PyGithub's ReplayData), and their responses carry the headers GitHub sends: ETag with 304
on If-None-Match, Link pagination, X-RateLimit-*. Where a scenario needs more than was
recorded (a 500-repository org, a search past the 1,000-result cap), repositories are
generated from a recorded one by changing only name, id and dates, and the response
follows GitHub's documented schema; each test says when it uses those.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

# Not imported from conftest: bench/github.py serves this API outside pytest.
CORPUS = Path(os.environ.get("OPENGOVTECH_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "corpus"
GITHUB = CORPUS / "github"
RECORDED_TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "status", "connection",
                             "content-type"}


def read_replay(path: Path) -> list[dict]:
    """PyGithub's ReplayData: 10 lines per exchange (see ../shared/corpus/MANIFEST.md)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    exchanges, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        block = lines[i:i + 10]
        exchanges.append({"method": block[1], "path": block[4], "status": int(block[7]),
                          "headers": dict(ast.literal_eval(block[8])), "body": block[9]})
        i += 10
    return exchanges


def read_betamax_decoded(name: str) -> list[dict]:
    return json.loads((GITHUB / "decoded" / name).read_text(encoding="utf-8"))


def recorded_org_repos() -> list[dict]:
    """github3py's repositories, as api.github.com listed them (recorded by github3.py)."""
    for exchange in read_betamax_decoded("github3py_org_repos.decoded.json"):
        if "/repos" in exchange["request"]["uri"]:
            return exchange["body"]
    raise AssertionError("no repository listing in the github3py cassette")


def recorded_repo() -> dict:
    """PyGithub/PyGithub as GET /repos returned it (PyGithub ReplayData, 2025)."""
    return json.loads(read_replay(GITHUB / "pygithub_single_repo.replay.txt")[0]["body"])


def generated_repos(owner: str, count: int, *, topics_every: int = 1, tag: str = "opengovtech",
                    first_created: date = date(2015, 1, 1), per_day: int = 1) -> list[dict]:
    """`count` repositories shaped exactly like a recorded one; only names, ids, dates and topics differ."""
    template = recorded_repo()
    repos = []
    for n in range(count):
        repo = copy.deepcopy(template)
        name = f"service-{n:04d}"
        created = datetime.combine(first_created + timedelta(days=n // per_day), datetime.min.time(), timezone.utc)
        repo.update({
            "id": 900_000_000 + n, "name": name, "full_name": f"{owner}/{name}",
            "html_url": f"https://github.com/{owner}/{name}", "url": f"https://api.github.com/repos/{owner}/{name}",
            "description": f"Council service number {n}", "fork": False, "archived": False,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "pushed_at": (created + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "topics": [tag, "local-government"] if n % topics_every == 0 else ["local-government"],
        })
        repo["owner"] = {**repo["owner"], "login": owner}
        repos.append(repo)
    return repos


@dataclass
class Scripted:
    status: int
    headers: dict
    body: str


@dataclass
class GitHubAPIServer:
    server: HTTPServer
    rate_limit: int = 5000
    remaining: int = 5000
    reset_at: int = field(default_factory=lambda: int(time.time()) + 3600)
    owners: dict[str, list[dict]] = field(default_factory=dict)       # org/user login -> repositories
    files: dict[tuple[str, str], str] = field(default_factory=dict)    # (full name, path) -> text
    scripted: dict[str, list[Scripted]] = field(default_factory=dict)  # path -> responses to give first
    requests: list[dict] = field(default_factory=list)
    search_cap: int = 1000
    refused: int = 0   # requests sent after the budget was spent
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def start(self) -> "GitHubAPIServer":
        self.server.expect_request(re.compile(r"^/api/v3/.*")).respond_with_handler(self.handle)
        return self

    @property
    def api_url(self) -> str:
        return self.server.url_for("/api/v3").rstrip("/")

    def add_owner(self, login: str, repos: list[dict]) -> None:
        self.owners[login.lower()] = repos

    def script(self, path: str, *responses: Scripted) -> None:
        self.scripted.setdefault(path, []).extend(responses)

    def all_repos(self) -> list[dict]:
        return [repo for repos in self.owners.values() for repo in repos]

    def non_conditional(self) -> list[dict]:
        return [r for r in self.requests if not r["headers"].get("If-None-Match")]

    # --- the handler -------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path.removeprefix("/api/v3")
        with self._lock:
            self.requests.append({"path": path, "query": request.query_string.decode(),
                                  "headers": dict(request.headers)})
            if path in self.scripted and self.scripted[path]:
                canned = self.scripted[path].pop(0)
                # The recorded body is stored decoded: its transfer headers no longer apply.
                headers = {k: v for k, v in canned.headers.items() if k.lower() not in RECORDED_TRANSFER_HEADERS}
                return Response(canned.body, status=canned.status, headers=headers,
                                content_type="application/json; charset=utf-8")
            if self.remaining <= 0:
                self.refused += 1
                return self._json({"message": "API rate limit exceeded for 127.0.0.1.",
                                   "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"},
                                  403, request)
        status, body, extra = self._route(path, request)
        if isinstance(body, str):
            return self._text(body, status, request, extra)
        return self._json(body, status, request, extra)

    def _route(self, path: str, request: Request):
        args = {k: v[-1] for k, v in parse_qs(request.query_string.decode()).items()}
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] in ("orgs", "users") and parts[2] == "repos":
            repos = self.owners.get(parts[1].lower())
            if repos is None:
                return 404, {"message": "Not Found"}, {}
            return self._page(path, args, repos)
        if len(parts) >= 3 and parts[0] == "repos":
            full = f"{parts[1]}/{parts[2]}".lower()
            repo = next((r for r in self.all_repos() if r["full_name"].lower() == full), None)
            if repo is None:
                return 404, {"message": "Not Found"}, {}
            if len(parts) == 3:
                return 200, repo, {}
            file_path = "README.md" if parts[3] == "readme" else "/".join(parts[4:])
            text = self.files.get((repo["full_name"], file_path))
            return (200, text, {}) if text is not None else (404, {"message": "Not Found"}, {})
        if len(parts) == 2 and parts[0] == "repositories":  # where a renamed repository's 301 points
            repo = next((r for r in self.all_repos() if str(r["id"]) == parts[1]), None)
            return (200, repo, {}) if repo else (404, {"message": "Not Found"}, {})
        if parts == ["search", "repositories"]:
            return self._search(path, args)
        return 404, {"message": "Not Found"}, {}

    def _page(self, path: str, args: dict, items: list, wrap=None):
        per_page = min(int(args.get("per_page", 30)), 100)
        page = int(args.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("next", page + 1), ("last", last)):
            if page < last:
                links.append(f'<{self.api_url}{path}?{urlencode({**args, "page": number})}>; rel="{rel}"')
        body = wrap(chunk) if wrap else chunk
        return 200, body, {"Link": ", ".join(links)} if links else {}

    def _search(self, path: str, args: dict):
        query = args.get("q", "")
        created = re.search(r"created:(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", query)
        topic = re.search(r"topic:([\w-]+)", query)
        matches = [r for r in self.all_repos()
                   if (not topic or topic.group(1) in (r.get("topics") or []))
                   and (not created or created.group(1) <= r["created_at"][:10] <= created.group(2))
                   and ("archived:false" not in query or not r.get("archived"))]
        total = len(matches)
        capped = matches[: self.search_cap]
        return self._page(path, args, capped,
                          wrap=lambda chunk: {"total_count": total, "incomplete_results": False, "items": chunk})

    # --- responses with GitHub's headers ------------------------------------------------

    def _headers(self, request: Request, extra: dict, *, resource: str = "core") -> dict:
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(max(self.remaining, 0)),
                "X-RateLimit-Reset": str(self.reset_at), "X-RateLimit-Resource": resource,
                "X-GitHub-Media-Type": "github.v3; format=json", **extra}

    def _finish(self, payload: bytes, status: int, request: Request, extra: dict, content_type: str) -> Response:
        resource = "search" if request.path.startswith("/api/v3/search/") else "core"
        tag = 'W/"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
        with self._lock:
            if status == 200 and request.headers.get("If-None-Match") == tag:
                # GitHub: a 304 to an authorised conditional request is not counted.
                return Response(status=304, headers=self._headers(request, {"ETag": tag, **extra}, resource=resource))
            if status != 403:
                self.remaining -= 1
            headers = self._headers(request, {**extra, "ETag": tag} if status == 200 else extra, resource=resource)
        return Response(payload, status=status, headers=headers, content_type=content_type)

    def _json(self, body, status: int, request: Request, extra: dict | None = None) -> Response:
        return self._finish(json.dumps(body).encode(), status, request, extra or {}, "application/json; charset=utf-8")

    def _text(self, text: str, status: int, request: Request, extra: dict | None = None) -> Response:
        return self._finish(text.encode(), status, request, extra or {}, "text/plain; charset=utf-8")
