"""The classifier on real corpus and seed items labelled by hand (tests/data/labelled.yaml)."""

from __future__ import annotations

from collections import Counter

from pipelines.normalise.classify import KINDS, classify
from tests.labelled_inputs import classify_input, load_labelled

MIN_ACCURACY = 0.85


def test_labelled_set_is_big_and_varied_enough():
    items = load_labelled()
    assert len(items) >= 60
    kinds = Counter(item["kind"] for item in items)
    assert set(kinds) == set(KINDS), kinds
    assert all(item.get("reason") for item in items)


def test_classifier_accuracy_on_the_labelled_set():
    items = load_labelled()
    misses, right = [], 0
    for item in items:
        verdict = classify(classify_input(item))
        assert verdict.reasons, f"{item['file']}: no kind_reasons"
        if verdict.kind == item["kind"]:
            right += 1
        else:
            misses.append(f"{item['file']} {item.get('entry', '')}: labelled {item['kind']}, "
                          f"classified {verdict.kind} because {verdict.reasons}")
    accuracy = right / len(items)
    print(f"\nclassifier accuracy {accuracy:.1%} on {len(items)} labelled items; misses:\n  " + "\n  ".join(misses))
    assert accuracy >= MIN_ACCURACY, "\n".join(misses)


def test_asset_types_on_the_labelled_assets():
    for item in load_labelled():
        if item.get("asset_type"):
            verdict = classify(classify_input(item))
            if verdict.kind == "asset":
                assert verdict.asset_type == item["asset_type"], (item, verdict)
