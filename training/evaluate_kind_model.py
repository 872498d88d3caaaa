"""Measures the shipped kind model on the labelled public-sector posts' test split.

    OPENGOVTECH_PUBLIC_TEXTS=<folder> python training/evaluate_kind_model.py

Their texts are third-party writing, kept out of this repository: the folder holds JSON lines of
{repo, commit, path, text} for the files tests/data/labelled_public.yaml lists. The corpus test
split is measured by tests/test_classify.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.normalise.classify import classify  # noqa: E402
from tests.labelled_inputs import KindScores, load_labelled_public, public_input  # noqa: E402


def main() -> None:
    test = [item for item in load_labelled_public() if item.get("split") == "test"]
    pairs = []
    for item in test:
        verdict = classify(public_input(item))
        pairs.append((item["kind"], verdict.kind))
        if verdict.kind != item["kind"]:
            print(f"{item['repo']}:{item['path']}: labelled {item['kind']} ({item['reason']}), "
                  f"classified {verdict.kind}: {verdict.reasons}")
    print("public-sector test split: " + KindScores(pairs).table())


if __name__ == "__main__":
    main()
