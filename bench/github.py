"""GitHub benchmark: requests and time for a 500-repository org, first run and unchanged re-run.

Serves a loopback GitHub API (tests/github_api_server.py: repositories generated from a
recorded one, every README a real markdown file from the corpus, GitHub's headers) and runs:

  (a) floor: a plain httpx client GETting every URL the first run needs, two at a time
      (the per-origin concurrency the hub uses), doing nothing with the bodies;
  (b) `opengovtech run` on a fresh warehouse;
  (c) the same command again, nothing changed on the server.

Prints requests (all / non-conditional / counted against the rate limit) and time for each,
and the ratios (b)/(a) and (c)/(b). Target: (c) makes no non-conditional request.

    python bench/github.py --repos 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

import duckdb
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_httpserver import HTTPServer  # noqa: E402

from tests.github_api_server import CORPUS, GitHubAPIServer, generated_repos  # noqa: E402

from measure import floor, run_with_memory  # noqa: E402

README = (CORPUS / "pages" / "opengovtech" / "manifesto.md").read_text(encoding="utf-8")


def serve(repos: int) -> tuple[HTTPServer, GitHubAPIServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.no_handler_status_code = 404
    server.start()
    api = GitHubAPIServer(server).start()
    api.add_owner("bigcouncil", generated_repos("bigcouncil", repos))
    for repo in api.all_repos():
        api.files[(repo["full_name"], "README.md")] = README
    return server, api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=500)
    args = parser.parse_args()
    server, api = serve(args.repos)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            sources = root / "sources.yaml"
            sources.write_text(yaml.safe_dump({
                "defaults": {"allow_private_networks": True, "retries": 1},
                "sources": [{"id": "bigcouncil", "kind": "github", "org": "bigcouncil"}]}), encoding="utf-8")
            env = {**os.environ, "GITHUB_API_URL": api.api_url, "DAGSTER_HOME": str(root / "dagster")}
            command = [sys.executable, "-m", "pipelines.app.cli", "run", "--sources", str(sources),
                       "--warehouse", str(root / "hub.duckdb")]

            # The URLs of a first run, as the pipeline will ask for them, for the floor.
            pages = -(-args.repos // 100)
            urls = [f"{api.api_url}/orgs/bigcouncil/repos?type=public&per_page=100&page={n}" for n in range(1, pages + 1)]
            for repo in api.all_repos():
                urls += [f"{api.api_url}/repos/{repo['full_name']}/readme",
                         f"{api.api_url}/repos/{repo['full_name']}/contents/publiccode.yml"]
            floor_s = asyncio.run(floor(urls))
            api.requests.clear()
            api.remaining = api.rate_limit

            results = []
            for label in ("first run", "unchanged re-run"):
                before, budget = len(api.requests), api.remaining
                measured = run_with_memory(command, env)
                if measured.returncode != 0:
                    raise SystemExit(f"{label}: opengovtech run exited {measured.returncode}")
                made = api.requests[before:]
                conditional = sum(bool(r["headers"].get("If-None-Match")) for r in made)
                with duckdb.connect(str(root / "hub.duckdb"), read_only=True) as con:
                    harvest_s = con.execute("SELECT duration_s FROM source_runs ORDER BY finished_at DESC LIMIT 1"
                                            ).fetchone()[0]
                results.append((label, measured.seconds, harvest_s, len(made), len(made) - conditional,
                                budget - api.remaining, measured.tree_mb))
    finally:
        server.stop()

    print(f"GitHub org of {args.repos} repositories ({pages} listing pages; README and publiccode.yml per repository)")
    print(f"(a) floor: {len(urls)} plain GETs, 2 at a time: {floor_s:.2f} s")
    print(f"{'':20}{'command s':>10}{'harvest s':>10}{'requests':>10}{'non-cond.':>11}{'rate-limit cost':>17}"
          f"{'peak RSS MB':>13}")
    for label, seconds, harvest_s, made, unconditional, cost, rss in results:
        print(f"{label:20}{seconds:10.2f}{harvest_s:10.2f}{made:10d}{unconditional:11d}{cost:17d}{rss:13.0f}")
    (_, _, first_h, first_made, *_), (_, _, second_h, second_made, second_unconditional, *_) = results
    print("(the command's time includes starting Python and Dagster; `harvest s` is the source's own time)")
    print(f"harvest (b)/(a) = {first_h / floor_s:.2f}   harvest (c)/(b) = {second_h / first_h:.3f}   "
          f"requests (c)/(b) = {second_made / first_made:.3f}")
    print("target: the re-run makes no non-conditional request: "
          + ("met" if second_unconditional == 0 else f"MISSED ({second_unconditional})"))


if __name__ == "__main__":
    main()
