"""Trains the kind model (pipelines/normalise/kind_model.json) on the labelled sets' train splits.

    pip install -e '.[train]'   # scikit-learn, for training only: the pipeline reads the JSON weights
    OPENGOVTECH_PUBLIC_TEXTS=<folder> python training/train_kind_model.py            # choose, fit, write
    OPENGOVTECH_PUBLIC_TEXTS=<folder> python training/train_kind_model.py --report   # and print the figures

The test splits (items marked `split: test` in tests/data/labelled.yaml and labelled_public.yaml) are
never read here: tests/test_classify.py and training/evaluate_kind_model.py measure the written model
on them. Runs from a checkout beside ../shared; the public posts' texts come from the folder named by
OPENGOVTECH_PUBLIC_TEXTS (docs/classification.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.normalise.classify import KIND_MODEL, KINDS, model_digest, stated_kind  # noqa: E402
from pipelines.normalise.kind_features import STATED_SIGNALS, features, stated_weights  # noqa: E402
from tests.labelled_inputs import (classify_input, load_labelled, load_labelled_public, public_input,  # noqa: E402
                                   training_digest)

C_CHOICES = (0.003, 0.01, 0.03, 0.1, 0.3)
# Offsets added to the rarer kinds' intercepts: the labelled set is mostly stories, and recall of
# every kind is a target, so the offsets are chosen with C on the train split's cross-validation.
OFFSET_CHOICES = (0.0, 0.5, 1.0, 1.5)
MIN_FEATURE_COUNT = 3     # a feature seen once or twice in training says more about those items than their kind
SMALLEST_WEIGHT = 0.01    # weights below this in every kind are dropped from the file
FOLDS = 5
# The commonest words of the corpus's main languages: the model weighs them, but `kind_reasons` does not
# name them. Listed in the model file, so the pipeline never loads wordfreq's tables.
FUNCTION_WORD_LISTS = (("en", 300), ("de", 150), ("fr", 150), ("es", 150), ("pt", 150), ("it", 150), ("nl", 150),
                       ("sk", 150), ("ru", 150), ("ur", 150), ("zh", 150))
SHORTEST_SHOWN_WORD = 3   # "ll", "ve": pieces of contractions, not words a reader would point at


def training_rows() -> tuple[list[set[str]], list[dict[str, float]], list[str], list[str]]:
    """Learned features, stated signals' fixed weights per kind, labels and sources (a corpus file, a
    repository) of the train split's items that no stated rule decides."""
    rows, stated, labels, sources = [], [], [], []

    def add(entry, kind: str, source: str) -> None:
        if stated_kind(entry):
            return
        # Stated signals carry fixed weights (kind_features.STATED_SIGNALS); the model learns the rest.
        present = features(entry)
        rows.append({f for f in present if f not in STATED_SIGNALS})
        stated.append({**dict.fromkeys(KINDS, 0.0), **stated_weights(present)})
        labels.append(kind)
        sources.append(source)

    for item in load_labelled():
        if item.get("split") != "test":
            add(classify_input(item), item["kind"], item["file"])
    for item in load_labelled_public():
        if item.get("split") != "test":
            add(public_input(item), item["kind"], item["repo"])
    return rows, stated, labels, sources


class StatedOffsetLogisticRegression:
    """Multinomial logistic regression (L2, classes balanced) whose logits include each
    item's stated signals' fixed weights, as the pipeline adds them: the words learn only what those
    signals leave unexplained. (scikit-learn's LogisticRegression has no per-item offset; fitted without
    one, the words of a source whose pages a stated signal decides learned that source's kind.)"""

    def __init__(self, c: float):
        self.c = c

    def fit(self, x, labels: list[str], stated_logits) -> "StatedOffsetLogisticRegression":
        import numpy
        from scipy.optimize import minimize
        from scipy.special import logsumexp

        rows, columns = x.shape
        truth = numpy.zeros((rows, len(KINDS)))
        truth[numpy.arange(rows), [KINDS.index(label) for label in labels]] = 1
        counts = truth.sum(axis=0)
        balanced = rows / (numpy.count_nonzero(counts) * numpy.maximum(counts, 1))
        item_scale = self.c * (truth @ balanced)

        def loss_and_gradient(theta):
            coef, intercept = theta[:-len(KINDS)].reshape(columns, len(KINDS)), theta[-len(KINDS):]
            logits = x @ coef + intercept + stated_logits
            normaliser = logsumexp(logits, axis=1)
            loss = item_scale @ (normaliser - (logits * truth).sum(axis=1)) + 0.5 * numpy.sum(coef * coef)
            residual = item_scale[:, None] * (numpy.exp(logits - normaliser[:, None]) - truth)
            return loss, numpy.concatenate([numpy.asarray(x.T @ residual + coef).ravel(), residual.sum(axis=0)])

        found = minimize(loss_and_gradient, numpy.zeros(columns * len(KINDS) + len(KINDS)), jac=True,
                         method="L-BFGS-B", options={"maxiter": 5000})
        if not found.success:
            raise RuntimeError(f"the kind model's fit did not converge (C={self.c}): {found.message}")
        self.coef, self.intercept = found.x[:-len(KINDS)].reshape(columns, len(KINDS)), found.x[-len(KINDS):]
        return self

    def log_probabilities(self, x, stated_logits):
        from scipy.special import logsumexp

        logits = x @ self.coef + self.intercept + stated_logits
        return logits - logsumexp(logits, axis=1)[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="print cross-validated figures on the train split")
    args = parser.parse_args()

    import numpy
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.metrics import classification_report
    from sklearn.model_selection import GroupKFold

    rows, stated, labels, sources = training_rows()
    counts = Counter(f for row in rows for f in row)
    rows = [{f: 1 for f in row if counts[f] >= MIN_FEATURE_COUNT} for row in rows]
    vectorizer = DictVectorizer(sort=True)
    x = vectorizer.fit_transform(rows)
    # Folds grouped by source: a feed or repository is never in both, so choices are judged on writing from feeds the
    # model has not seen, as the hub meets new sources.
    folds = list(GroupKFold(n_splits=FOLDS).split(x, labels, groups=sources))

    # Accuracy plus the kinds' mean recall: both are targets. The worst kind's recall alone let one
    # kind found poorly across sources (events) buy its recall with every other kind's precision.
    def score(predicted: list[str]) -> float:
        recalls = [sum(p == k == t for p, t in zip(predicted, labels)) / max(1, labels.count(k)) for k in KINDS]
        return sum(p == t for p, t in zip(predicted, labels)) / len(labels) + sum(recalls) / len(recalls)

    stated_logits = numpy.array([[weights[kind] for kind in KINDS] for weights in stated])
    candidates = []
    for c in C_CHOICES:
        log_probabilities = numpy.zeros((len(labels), len(KINDS)))
        for fit_rows, judged_rows in folds:
            fold = StatedOffsetLogisticRegression(c).fit(x[fit_rows], [labels[i] for i in fit_rows],
                                                         stated_logits[fit_rows])
            log_probabilities[judged_rows] = fold.log_probabilities(x[judged_rows], stated_logits[judged_rows])
        for values in itertools.product(OFFSET_CHOICES, repeat=len(KINDS) - 1):
            offsets = {"story": 0.0, **dict(zip(KINDS[1:], values))}
            shifted = log_probabilities + numpy.array([offsets[kind] for kind in KINDS])
            predicted = [KINDS[i] for i in shifted.argmax(axis=1)]
            candidates.append((score(predicted), -sum(values), c, offsets, predicted))
    best_score, _, best_c, offsets, predicted = max(candidates, key=lambda found: found[:2])
    if args.report:
        print(f"chosen C={best_c}, offsets {offsets}, {len(labels)} train items, {x.shape[1]} features")
        print(classification_report(labels, predicted, labels=list(KINDS), digits=3, zero_division=0))
        public_repositories = {item["repo"] for item in load_labelled_public()}
        public = [(p, t) for p, t, source in zip(predicted, labels, sources) if source in public_repositories]
        print(f"public-sector train items: {sum(p == t for p, t in public) / len(public):.1%} of {len(public)}")

    fitted = StatedOffsetLogisticRegression(best_c).fit(x, labels, stated_logits)
    weights = {}
    for name, column in sorted(vectorizer.vocabulary_.items()):
        values = [round(float(v), 4) for v in fitted.coef[column]]
        if max(abs(v) for v in values) >= SMALLEST_WEIGHT:
            weights[name] = values
    from wordfreq import top_n_list

    # "didn't" is one word to wordfreq but two to the features ("didn", "t").
    common = {part for language, count in FUNCTION_WORD_LISTS for word in top_n_list(language, count)
              for part in re.split(r"['’]", word)}
    written = {
        "kinds": list(KINDS),
        "intercept": [round(float(fitted.intercept[k]) + offsets[kind], 4) for k, kind in enumerate(KINDS)],
        "weights": weights,
        "trained_on": training_digest(),
        "train_items": len(labels),
        "regularisation_c": best_c,
        "kind_offsets": offsets,
        "unshown": sorted(name for name in weights if name[:2] in ("t:", "w:") and
                          (name[2:] in common or len(name[2:]) < SHORTEST_SHOWN_WORD)
                          or name == "short_text" or name.startswith("source_")),
    }
    written["weights_digest"] = model_digest(written)
    KIND_MODEL.write_text(json.dumps(written, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n",
                          encoding="utf-8")
    print(f"wrote {KIND_MODEL.relative_to(ROOT)}: {len(weights)} features, C={best_c}, {len(labels)} items")


if __name__ == "__main__":
    main()
