"""Measures the shipped kind model on the labelled public-sector posts' test split.

    OPENGOVTECH_PUBLIC_TEXTS=<folder> python training/evaluate_kind_model.py [--errors]

Their texts are third-party writing, kept out of this repository: the folder holds JSON lines of
{repo, commit, path, text} for the files tests/data/labelled_public.yaml lists. The corpus test
split is measured by tests/test_classify.py. Figures are printed for the test items of repositories
that also have train items (new posts from known sources), for those of repositories with none
(sources the model has never seen), and for both. --errors lists every miss: reading them is
looking at the test split, so it is for the last look only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.normalise.classify import classify  # noqa: E402
from tests.labelled_inputs import KindScores, load_labelled_public, public_input  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list each test item the model gets wrong")
    args = parser.parse_args()
    items = load_labelled_public()
    trained_repos = {item["repo"] for item in items if item.get("split") != "test"}
    groups: dict[str, list[tuple[str, str]]] = {"known sources": [], "unseen sources": []}
    for item in items:
        if item.get("split") != "test":
            continue
        verdict = classify(public_input(item))
        groups["known sources" if item["repo"] in trained_repos else "unseen sources"].append((item["kind"], verdict.kind))
        if args.errors and verdict.kind != item["kind"]:
            print(f"{item['repo']}:{item['path']}: labelled {item['kind']} ({item['reason']}), "
                  f"classified {verdict.kind}: {verdict.reasons}")
    for name, pairs in groups.items():
        if pairs:
            print(f"public-sector test split, {name}: " + KindScores(pairs).table())
    print("public-sector test split, all: " + KindScores([p for pairs in groups.values() for p in pairs]).table())


if __name__ == "__main__":
    main()
