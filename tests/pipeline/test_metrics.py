"""Metrics against a hand-computed confusion matrix; threshold choice; per-slide accuracy."""

import json

import numpy as np
import pytest

from smearnet.pipeline.evaluate import (choose_threshold, classification_metrics, format_metrics,
                                        per_slide_accuracy)

# 10 cells: 4 parasitized (1), 6 uninfected (0)
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1, 0.05, 0.45])
SLIDES = np.array(["C1", "C1", "C2", "C2", "C1", "C2", "C3", "C3", "C3", "C1"])
# at 0.5: predicted 1 1 1 0 | 1 0 0 0 0 0 -> TP 3, FN 1, FP 1, TN 5


def test_against_hand_computed_confusion():
    m = classification_metrics(LABELS, SCORES, 0.5)
    c = m["confusion"]
    assert (c["tn"], c["fp"], c["fn"], c["tp"]) == (5, 1, 1, 3)
    assert c["matrix"] == [[5, 1], [1, 3]]
    assert m["n"] == 10
    assert m["accuracy"] == pytest.approx(8 / 10)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 0.75 * 0.75 / 1.5)
    # AUC by counting pairs: positives 0.9 0.8 0.6 0.3 vs negatives 0.7 0.4 0.2 0.1 0.05 0.45
    neg = SCORES[LABELS == 0]
    wins = sum((p > neg).sum() + 0.5 * (p == neg).sum() for p in SCORES[LABELS == 1])
    assert m["roc_auc"] == pytest.approx(wins / 24)
    json.dumps(m)  # JSON-able


def test_threshold_moves_the_confusion():
    m = classification_metrics(LABELS, SCORES, 0.25)
    c = m["confusion"]
    assert (c["tn"], c["fp"], c["fn"], c["tp"]) == (3, 3, 0, 4)  # negatives 0.7 0.4 0.45 pass 0.25


def test_per_slide_accuracy():
    pred = (SCORES >= 0.5).astype(int)
    ps = per_slide_accuracy(LABELS, pred, SLIDES)
    assert set(ps) == {"C1", "C2", "C3"}
    # C1: cells 0,1,4,9 -> correct 1,1,0,1
    assert ps["C1"] == {"n": 4, "n_parasitized": 2, "accuracy": 0.75}
    # C2: cells 2,3,5 -> correct 1,0,1
    assert ps["C2"]["accuracy"] == pytest.approx(2 / 3)
    assert ps["C3"]["accuracy"] == 1.0
    m = classification_metrics(LABELS, SCORES, 0.5, slides=SLIDES)
    assert m["per_slide"] == ps
    assert "per slide" in format_metrics(m)


def test_one_class_only_gives_none_not_nan():
    m = classification_metrics(np.zeros(4), np.array([0.1, 0.2, 0.7, 0.3]), 0.5)
    assert m["roc_auc"] is None and m["sensitivity"] is None
    assert m["specificity"] == pytest.approx(0.75)
    json.dumps(m, allow_nan=False)


def test_ranking_scores_used_for_auc():
    clipped = np.array([1.0, 1.0, 0.0, 0.0])
    raw = np.array([1.3, 1.1, -0.2, 1.2])
    m = classification_metrics(np.array([1, 1, 0, 0]), clipped, 0.5, ranking=raw)
    assert m["accuracy"] == 1.0
    assert m["roc_auc"] == pytest.approx(0.75)


def test_choose_threshold_separates_when_possible():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    t = choose_threshold(y, s)
    assert 0.3 < t <= 0.6
    assert classification_metrics(y, s, t)["accuracy"] == 1.0


def test_choose_threshold_shifted_scores():
    # every score is low, but the classes are still separable at ~0.2
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.01, 0.05, 0.1, 0.2, 0.25, 0.3])
    t = choose_threshold(y, s)
    assert classification_metrics(y, s, t)["balanced_accuracy"] == 1.0


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="shape"):
        classification_metrics(np.zeros(3), np.zeros(4))


def test_slide_bootstrap_ci():
    from smearnet.pipeline.evaluate import slide_bootstrap_ci

    rng = np.random.default_rng(0)
    slides = np.repeat([f"C{i}" for i in range(20)], 50)
    y = rng.integers(0, 2, len(slides))
    # every slide 90% right: the interval collapses onto 0.9
    pred = y.copy()
    pred[np.arange(len(y)) % 10 == 0] ^= 1
    lo, hi = slide_bootstrap_ci(y, pred, slides)
    assert lo == pytest.approx(0.9) and hi == pytest.approx(0.9)
    # half the slides perfect, half at 60%: a wide interval around 0.8
    pred = y.copy()
    bad = (np.arange(len(y)) // 50 % 2 == 1) & (np.arange(len(y)) % 5 < 2)
    pred[bad] ^= 1
    lo, hi = slide_bootstrap_ci(y, pred, slides)
    assert lo < 0.8 < hi and hi - lo > 0.05
    m = classification_metrics(y, pred.astype(float), 0.5, slides=slides)
    assert m["accuracy_ci95"] == [lo, hi] and "95% CI" in format_metrics(m)


@pytest.mark.parametrize("slides", [None, np.array(["C1"] * 6)])
def test_accuracy_ci95_key_always_present(slides):
    m = classification_metrics(np.array([0, 1, 0, 1, 1, 0]), np.array([.1, .9, .4, .6, .3, .2]), 0.5,
                               slides=slides)
    assert "accuracy_ci95" in m and m["accuracy_ci95"] is None
    assert json.loads(json.dumps(m))["accuracy_ci95"] is None
    format_metrics(m)  # a null interval prints without one


def test_files_without_a_slide_key_are_named_not_blank():
    mixed = np.where(np.arange(10) < 4, "", SLIDES)
    m = classification_metrics(LABELS, SCORES, 0.5, slides=mixed)
    assert "" not in m["per_slide"] and m["per_slide"]["(no slide key)"]["n"] == 4
    none = classification_metrics(LABELS, SCORES, 0.5, slides=np.full(10, ""))
    assert "per_slide" not in none and none["accuracy_ci95"] is None
    assert "per slide" not in format_metrics(none)
