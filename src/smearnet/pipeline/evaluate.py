"""Classification metrics for the binary malaria task, computed with scikit-learn.

Labels: 1 = Parasitized (the positive class), 0 = Uninfected, so *sensitivity* is the share of
parasitized cells found and *specificity* the share of uninfected cells left alone.
Scores are probabilities of Parasitized (or any score where larger means more parasitized);
a cell is called Parasitized when ``score >= threshold``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm

from smearnet._text import plural

CLASS_NAMES = ("Uninfected", "Parasitized")  # index = label


def _safe(x: float) -> float | None:
    """A float for JSON: ``None`` where the metric is undefined (NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5,
                           slides: np.ndarray | None = None,
                           ranking: np.ndarray | None = None) -> dict[str, Any]:
    """Every figure the report and ``smearnet evaluate`` show, as a JSON-able dict.

    Args:
        labels: (N,) 0/1 true labels (1 = Parasitized).
        scores: (N,) probability (or score) of Parasitized; ``>= threshold`` means Parasitized.
        threshold: the decision threshold on ``scores``.
        slides: optional (N,) slide keys ("C<digits>"); adds ``per_slide`` accuracy.
        ranking: optional (N,) scores for the ROC-AUC when ``scores`` lost ranking information
            (the assignment's linear output clipped to [0, 1]); defaults to ``scores``.

    Returns:
        dict with ``n``, ``threshold``, ``accuracy``, ``balanced_accuracy``, ``sensitivity``
        (recall of Parasitized), ``specificity`` (recall of Uninfected), ``precision``, ``f1``,
        ``roc_auc`` (``None`` when only one class is present), ``confusion`` (``tn fp fn tp`` and
        ``matrix`` = [[tn, fp], [fn, tp]], rows = true class Uninfected, Parasitized) and, with
        ``slides``, ``per_slide`` (slide -> n, n_parasitized, accuracy) and ``accuracy_ci95``
        (bootstrap over slides, see :func:`slide_bootstrap_ci`).
    """
    y = np.asarray(labels).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in shape")
    if len(y) == 0:
        raise ValueError("no samples to evaluate")
    pred = (s >= threshold).astype(np.int64)
    cm = skm.confusion_matrix(y, pred, labels=[0, 1])
    tn, fp, fn, tp = (int(v) for v in cm.ravel())
    both = len(np.unique(y)) == 2
    out: dict[str, Any] = {
        "n": int(len(y)),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)) if both else None,
        "sensitivity": _safe(skm.recall_score(y, pred, pos_label=1, zero_division=np.nan)),
        "specificity": _safe(skm.recall_score(y, pred, pos_label=0, zero_division=np.nan)),
        "precision": _safe(skm.precision_score(y, pred, pos_label=1, zero_division=np.nan)),
        "f1": float(skm.f1_score(y, pred, pos_label=1, zero_division=0.0)),
        "roc_auc": float(skm.roc_auc_score(y, s if ranking is None else np.ravel(ranking)))
        if both else None,
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp,
                      "matrix": [[tn, fp], [fn, tp]], "labels": list(CLASS_NAMES)},
    }
    out["accuracy_ci95"] = None  # always present; null when undefined (fewer than 2 slides)
    if slides is not None and np.any(np.asarray(slides).astype(str) != ""):  # no keys at all: no per-slide figures
        out["per_slide"] = per_slide_accuracy(y, pred, np.asarray(slides))
        if len(out["per_slide"]) >= 2:
            out["accuracy_ci95"] = list(slide_bootstrap_ci(y, pred, np.asarray(slides)))
    return out


NO_SLIDE = "(no slide key)"  # files whose names do not start with C<digits>


def per_slide_accuracy(labels: np.ndarray, predicted: np.ndarray,
                       slides: np.ndarray) -> dict[str, dict[str, Any]]:
    """Accuracy per slide (patient): slide -> {"n", "n_parasitized", "accuracy"}.

    Args:
        labels, predicted: (N,) 0/1 arrays; slides: (N,) slide keys, ``""`` (a file name
            without a ``C<digits>`` key) grouped as ``NO_SLIDE``.
    """
    slides = np.where(slides.astype(str) == "", NO_SLIDE, slides.astype(str))
    keys, inverse = np.unique(slides, return_inverse=True)
    n = np.bincount(inverse, minlength=len(keys))
    correct = np.bincount(inverse, weights=(labels == predicted), minlength=len(keys))
    pos = np.bincount(inverse, weights=(labels == 1), minlength=len(keys))
    return {str(k): {"n": int(n[i]), "n_parasitized": int(pos[i]),
                     "accuracy": float(correct[i] / n[i])}
            for i, k in enumerate(keys)}


def slide_bootstrap_ci(labels: np.ndarray, predicted: np.ndarray, slides: np.ndarray,
                       n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Confidence interval of the accuracy by resampling *slides* (patients) with replacement.

    Cells of one slide are not independent (same stain, same microscope, same patient), so
    resampling images would understate the uncertainty; each replicate draws as many slides as
    there are, with replacement, and pools their cells.

    Args:
        labels, predicted: (N,) 0/1; slides: (N,) slide keys.
    Returns:
        (low, high) percentiles of the replicate accuracies.
    """
    keys, inv = np.unique(np.asarray(slides).astype(str), return_inverse=True)
    n = np.bincount(inv, minlength=len(keys)).astype(np.float64)
    correct = np.bincount(inv, weights=(np.asarray(labels) == np.asarray(predicted)), minlength=len(keys))
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, len(keys), size=(n_boot, len(keys)))
    acc = correct[draw].sum(axis=1) / n[draw].sum(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(acc, [tail, 100 - tail])
    return float(lo), float(hi)


def roc_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of the ROC curve, (K,) each (for plots)."""
    fpr, tpr, _ = skm.roc_curve(np.asarray(labels).astype(np.int64), np.asarray(scores, np.float64))
    return fpr, tpr


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold on ``scores`` that maximizes balanced accuracy (Youden's J) on these data.

    Used on the validation slides only; ties go to the threshold closest to 0.5 so that a
    flat stretch of the curve does not push the threshold to an extreme.
    """
    y = np.asarray(labels).astype(np.int64)
    s = np.asarray(scores, np.float64)
    if len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, thr = skm.roc_curve(y, s)
    finite = np.isfinite(thr)
    fpr, tpr, thr = fpr[finite], tpr[finite], thr[finite]
    j = tpr - fpr
    best = np.flatnonzero(j >= j.max() - 1e-12)
    pick = best[np.argmin(np.abs(thr[best] - 0.5))]
    return float(np.clip(thr[pick], 1e-6, 1 - 1e-6))


def format_metrics(m: dict[str, Any]) -> str:
    """A few human-readable lines for the terminal."""
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.2f}%"
    c = m["confusion"]
    auc = "n/a" if m["roc_auc"] is None else f"{m['roc_auc']:.4f}"
    ci = ""
    if m.get("accuracy_ci95"):
        ci = f" (95% CI {pct(m['accuracy_ci95'][0])}-{pct(m['accuracy_ci95'][1])}, bootstrap over slides)"
    lines = [
        f"cells {m['n']}, threshold {m['threshold']:.3f}",
        f"accuracy {pct(m['accuracy'])}{ci}",
        f"balanced accuracy {pct(m['balanced_accuracy'])}  ROC-AUC {auc}",
        f"sensitivity {pct(m['sensitivity'])} (parasitized found)  specificity {pct(m['specificity'])}"
        f"  precision {pct(m['precision'])}  F1 {m['f1']:.4f}",
        f"confusion: TN {c['tn']}  FP {c['fp']}  FN {c['fn']}  TP {c['tp']}",
    ]
    if m["n"] and (c["tn"] + c["fp"] == 0 or c["fn"] + c["tp"] == 0):
        only = "Parasitized" if c["tn"] + c["fp"] == 0 else "Uninfected"
        undefined = [k.replace("_", " ") for k in ("sensitivity", "specificity", "precision",
                                                   "balanced_accuracy", "roc_auc")
                     if m.get(k) is None]
        lines.append(f"note: only {only} cells in these data: "
                     f"{', '.join(undefined).replace('roc auc', 'ROC-AUC')} undefined (n/a)")
    if m.get("skipped"):
        from smearnet.data.errors import skipped_line
        lines.append(skipped_line(int(m["skipped"]), m.get("source")))
    if "per_slide" in m:
        accs = np.array([v["accuracy"] for v in m["per_slide"].values()])
        worst = sorted(m["per_slide"].items(), key=lambda kv: kv[1]["accuracy"])[:3]
        lines.append(f"per slide: {plural(len(accs), 'slide')}, median accuracy {pct(float(np.median(accs)))}, "
                     "lowest " + ", ".join(f"{k} {pct(v['accuracy'])} (n={v['n']})" for k, v in worst))
    return "\n".join(lines)


def evaluate_source(model: Any, source: Any, batch_size: int | None = None, progress: bool = True) -> dict[str, Any]:
    """A classifier's metrics on every image of a labelled source (folder or zip).

    The images are decoded and resized to the model's size through the data cache, so a second
    evaluation of the same source starts at once. Raises :class:`~smearnet.data.SourceError`
    (a one-line usage error) when no image of the source can be read.
    """
    from smearnet.data import load_dataset

    from . import inference

    meta = inference.info(model)
    ds = load_dataset(source, int(meta["image_size"]), progress=progress)
    if len(ds) == 0:
        from smearnet.data.errors import no_usable_images
        raise no_usable_images(source, len(ds.skipped))
    raw = inference.predict_raw(model, ds.images, batch_size=batch_size, progress=progress)
    prob = inference.to_probability(raw, meta["output"])
    m = classification_metrics(ds.labels, prob, float(meta["threshold"]), slides=ds.slides, ranking=raw)
    m["source"] = str(source)
    m["model_preset"] = meta.get("preset")
    skipped = list(getattr(ds, "skipped", []) or [])
    m["skipped"] = len(skipped)
    m["skipped_files"] = [[str(p), str(r)] for p, r in skipped]
    return m
