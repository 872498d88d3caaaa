"""Writing to the hub's own repository through GitHub's REST API: a comment on an issue, a branch,
a file committed on it, a pull request. What the suggest-a-source workflow does, done here rather
than in workflow YAML so that it is tested like the rest (against a loopback stand-in of the API).

Every request goes through the hub's HTTP layer (address guard, deadline, body cap). The token
(`$GITHUB_TOKEN`, the workflow's own) is sent to the API's origin only and kept out of reprs
and messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import quote

from pipelines.errors import GitHubWriteError
from pipelines.net.http import Fetcher, FetchResult
from pipelines.net.address_guard import PrivateAccess
from pipelines.sources.github_api import API_VERSION, JSON_ACCEPT


def git_blob_sha(data: bytes) -> str:
    """The id git gives a file's content, which the contents API asks for when a file is replaced."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class GitHubRepository:
    fetcher: Fetcher
    api_url: str                     # https://api.github.com, or $GITHUB_API_URL
    full_name: str                   # owner/name
    token: str = field(repr=False)
    allow_private: PrivateAccess = False

    async def _send(self, method: str, path: str, payload: dict) -> dict:
        url = f"{self.api_url}/repos/{self.full_name}{path}"
        result = await self.fetcher.send_json(method, url, payload, allow_private=self.allow_private, headers={
            "Authorization": f"Bearer {self.token}", "Accept": JSON_ACCEPT, "X-GitHub-Api-Version": API_VERSION})
        if not 200 <= result.status < 300:
            raise GitHubWriteError(f"GitHub answered HTTP {result.status} to {method} {path}: {_message(result)}")
        try:
            return json.loads(result.body or b"{}")
        except ValueError:
            raise GitHubWriteError(f"GitHub's answer to {method} {path} is not JSON") from None

    async def comment(self, issue: int, body: str) -> str:
        """Comment on an issue; returns the comment's address."""
        answer = await self._send("POST", f"/issues/{issue}/comments", {"body": body})
        return answer.get("html_url", "")

    async def create_branch(self, branch: str, commit_sha: str) -> None:
        await self._send("POST", "/git/refs", {"ref": f"refs/heads/{branch}", "sha": commit_sha})

    async def replace_file(self, path: str, branch: str, content: bytes, old_content: bytes, message: str) -> None:
        """Commit `content` as `path` on `branch`, over the file that held `old_content`."""
        await self._send("PUT", f"/contents/{quote(path)}", {
            "message": message, "branch": branch, "sha": git_blob_sha(old_content),
            "content": base64.b64encode(content).decode("ascii")})

    async def open_pull_request(self, head: str, base: str, title: str, body: str) -> str:
        """Open a pull request of `head` into `base`; returns its address."""
        answer = await self._send("POST", "/pulls", {"title": title, "head": head, "base": base, "body": body})
        return answer.get("html_url", "")


def _message(result: FetchResult) -> str:
    """GitHub explains a refusal in the body's `message` (and `errors`); short, in one line."""
    try:
        data = json.loads(result.body)
    except ValueError:
        return " ".join(result.body[:200].decode("utf-8", "replace").split()) or "no explanation"
    if not isinstance(data, dict):
        return "no explanation"
    details = [e.get("message", "") for e in data.get("errors") or [] if isinstance(e, dict)]
    return "; ".join(str(part) for part in [data.get("message", ""), *details] if part)[:300] or "no explanation"
