"""The classifier on real corpus and seed items labelled by hand (tests/data/labelled.yaml).

The labelled set was split once into train and test; the kind model is trained on train only
(training/train_kind_model.py) and measured here on test. Choices are made on train's
cross-validation; the test split has been measured more than once (docs/classification.md says
which figure is strictly held out).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from pipelines.normalise.classify import KIND_MODEL, KINDS, ClassifyInput, classify, model_digest
from pipelines.normalise.kind_features import SIGNALS, features
from tests.labelled_inputs import KindScores, classify_input, load_labelled, load_labelled_public, training_digest

# The targets are 85 % accuracy and 70 % recall for every kind; the held-out figures
# (docs/classification.md) miss them. These floors guard against a change that costs more than noise:
# a little under the shipped model's figures on this split (one item of each kind). Until session 39
# they were the figures themselves; its models, chosen on sources they had not seen, learn fewer of
# these feeds' habits, and asset recall here fell while accuracy rose (docs/classification.md says why).
FLOOR_ACCURACY = 0.79
FLOOR_RECALL = {"story": 0.90, "technique": 0.50, "asset": 0.22, "event": 0.71, "community": 0.0}
# The test split as it was drawn, once: changing its membership is re-drawing it.
TEST_SPLIT_DIGEST = "6479239fa474be4a"
PUBLIC_TEST_SPLIT_DIGEST = "fd49b402b2131ca6"


def _test_split() -> list[dict]:
    return [item for item in load_labelled() if item.get("split") == "test"]


def _split_digest(items: list[dict]) -> str:
    keys = sorted((item["file"], str(item.get("entry", "")), item["kind"]) for item in items)
    return hashlib.sha256(json.dumps(keys, ensure_ascii=False).encode()).hexdigest()[:16]


def test_labelled_set_is_big_varied_and_split_once():
    items = load_labelled()
    assert len(items) >= 400
    assert set(Counter(item["kind"] for item in items)) == set(KINDS)
    assert all(item.get("reason") and item.get("split") in ("train", "test") for item in items)
    test = _test_split()
    assert set(Counter(item["kind"] for item in test)) == set(KINDS)
    assert _split_digest(test) == TEST_SPLIT_DIGEST, "the test split was drawn again or relabelled"


def test_public_sector_set_is_split_once_and_holds_unseen_sources():
    items = load_labelled_public()
    assert all(item.get("reason") and item.get("split") in ("train", "test") for item in items)
    test = [item for item in items if item["split"] == "test"]
    keys = sorted((item["repo"], item["path"], item["kind"]) for item in test)
    assert hashlib.sha256(json.dumps(keys, ensure_ascii=False).encode()).hexdigest()[:16] == PUBLIC_TEST_SPLIT_DIGEST, \
        "the public test split was drawn again or relabelled"
    # Some test repositories give the model no train item at all: its figure on sources never seen.
    unseen = {item["repo"] for item in test} - {item["repo"] for item in items if item["split"] == "train"}
    assert set(Counter(item["kind"] for item in test if item["repo"] in unseen)) == set(KINDS)


def test_the_shipped_model_is_trained_on_the_current_train_split():
    written = json.loads(KIND_MODEL.read_text(encoding="utf-8"))
    assert written["trained_on"] == training_digest(), \
        "labels, features or trainer changed: run training/train_kind_model.py"
    assert written["weights_digest"] == model_digest(written), \
        "kind_model.json is not what the trainer wrote: run training/train_kind_model.py"


@pytest.mark.slow   # reads 242 corpus entries through the project's parsers
def test_classifier_on_the_held_out_test_split():
    pairs, misses = [], []
    for item in _test_split():
        verdict = classify(classify_input(item))
        assert verdict.reasons and not any(r.startswith(("t:", "w:", "source_")) or "_" in r.split("'")[0]
                                           for r in verdict.reasons), verdict.reasons
        pairs.append((item["kind"], verdict.kind))
        if verdict.kind != item["kind"]:
            misses.append(f"{item['file']} {item.get('entry', '')!r}: labelled {item['kind']} ({item['reason']}), "
                          f"classified {verdict.kind}: {verdict.reasons}")
    scores = KindScores(pairs)
    print("\nheld-out test split: " + scores.table() + "\nmisses:\n  " + "\n  ".join(misses))
    assert scores.accuracy >= FLOOR_ACCURACY, "\n".join(misses)
    assert all(scores.recall(k) >= FLOOR_RECALL[k] for k in KINDS), {k: scores.recall(k) for k in KINDS}


def test_what_the_source_or_author_states_decides():
    repo = classify(ClassifyInput(title="council/bins", url="https://github.com/council/bins", source_kind="github",
                                  kind_hint="asset"))
    assert (repo.kind, repo.reasons[0]) == ("asset", "GitHub repository")
    hinted = classify(ClassifyInput(title="Our approach to user research", source_hint="technique"))
    assert (hinted.kind, hinted.reasons) == ("technique", ["sources.yaml item_kind: technique"])
    contributor = classify(ClassifyInput(title="Calderdale Council", kind_hint="community", source_kind="markdown",
                                         details={"collection": "_contributors"}))
    assert contributor.kind == "community" and "_contributors" in contributor.reasons[0]
    tagged = classify(ClassifyInput(title="Bin day, rebuilt", tags=["OpenGovTechTechnique"]))
    assert (tagged.kind, tagged.reasons) == ("technique", ["tag 'OpenGovTechTechnique'"])


def test_the_model_says_what_decided_in_words():
    verdict = classify(ClassifyInput(
        title="How to publish your council's spending data as CSV",
        content_html="<p>Step 1: export.</p><pre>csvlint spending.csv</pre><pre>git push</pre>",
        content_text="Step 1: export the ledger. Step 2: check it with csvlint. Step 3: publish."))
    assert verdict.kind == "technique"
    assert "a how-to title" in verdict.reasons and len(verdict.reasons) == 3, verdict.reasons
    assert all(reason in SIGNALS.values() for reason in verdict.reasons), verdict.reasons
    # A code block weighs for a technique, though three stronger signals are named before it here.
    weights = json.loads(KIND_MODEL.read_text(encoding="utf-8"))["weights"]["code_block"]
    assert max(zip(weights, KINDS))[1] == "technique"


def test_asset_types_on_the_labelled_assets():
    for item in load_labelled():
        if item.get("asset_type"):
            verdict = classify(classify_input(item))
            if verdict.kind == "asset":
                assert verdict.asset_type == item["asset_type"], (item, verdict)


def test_an_event_tag_on_a_write_up_afterwards_does_not_make_it_an_event():
    text = ("Thanks to everyone who came to last week's hackathon at the central library. Forty people built "
            "prototypes on the council's open bus data; the winning team mapped late-running routes.")
    recap = ClassifyInput(title="Leeds Hack Day 2019", tags=["hackathon"], content_text=text)
    invitation = ClassifyInput(title="Leeds Hack Day 2019", tags=["hackathon"],
                               content_text="Join us at the central library on Saturday 12 October. Register now: "
                                            "forty places, open bus data, prizes for the best prototypes.")
    assert {"tag_event", "event_name"} <= features(invitation) and classify(invitation).kind == "event"
    assert "recap" in features(recap) and not {"tag_event", "event_name"} & features(recap)
    assert classify(recap).kind != "event"


def test_a_version_in_a_title_is_not_a_number_with_a_thousands_separator():
    assert "version_in_title" in features(ClassifyInput(title="Programmiersprache: Rust 1.30 will mehr Klarheit"))
    assert "version_in_title" in features(ClassifyInput(title="mat2 0.13.4"))
    assert "version_in_title" not in features(ClassifyInput(title="Daten von 185.000 weiteren Kunden betroffen"))


def test_the_section_is_read_from_the_folders_not_the_page_itself():
    # data.blog.gov.uk's essay "What open government policy can learn from internet culture" was filed
    # under guides by the word "learn" in its own address, which ends in a slash.
    essay = ClassifyInput(title="What open government policy can learn from internet culture",
                          url="https://data.blog.gov.uk/2016/05/23/what-open-government-policy-can-learn-from-internet-culture/")
    assert not {f for f in features(essay) if f.startswith("section_")}
    meetup = ClassifyInput(title="Civic hack night", url="https://example.org/events/2024/11/19/civic-hack-night/")
    assert "section_events" in features(meetup)
    startup = ClassifyInput(title="Mes Aides", details={"path": "content/_startups/mes-aides.md"})
    assert "section_projects" in features(startup)

    def sections(**where) -> set[str]:
        return {f for f in features(ClassifyInput(title="Our year in review", **where)) if f.startswith("section_")}
    # A site published from GitHub Pages' `docs/` folder is not a guide; a page bundle's folder is the page.
    assert sections(details={"path": "docs/_posts/2020-12-30-our-year.md"}) == {"section_news"}
    assert sections(details={"path": "content/blog/meet-the-team/index.md"}) == {"section_news"}
    assert sections(details={"path": "site/blog/2016-events-we-ran/README.md"}) == {"section_news"}
    # Whole folder names only, labels are not sections, and an encoded name is read decoded.
    assert sections(url="https://medium.com/@civic-team/our-year-abc123") == set()
    assert sections(url="https://example.org/about-us-blog/our-year/") == set()
    assert sections(url="https://example.org/blog/category/tools/our-year/") == {"section_news"}
    assert sections(url="https://example.org/%C3%A9v%C3%A9nements/2024/rencontre/") == {"section_events"}
    assert sections(url="https://example.org/events-recap/our-year/") == set()
    assert sections(details={"path": "src/content/team-members/jane-doe.md"}) == {"section_people"}


def test_a_write_up_filed_under_events_is_not_an_event_by_its_section():
    recap = ClassifyInput(title="Civic hack night", url="https://example.org/events/2024/11/civic-hack-night/",
                          content_text="Thanks to everyone who came last week: here is what the teams built.")
    assert "recap" in features(recap) and "section_events" not in features(recap)
