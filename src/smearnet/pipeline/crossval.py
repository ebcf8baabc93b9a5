"""Grouped k-fold cross-validation: k runs, each testing on a different fifth of the slides.

``smearnet train --cv 5`` writes ``RUN/fold-1 ... RUN/fold-5`` (each a complete run folder with
its own report) and ``RUN/cv.json`` with mean and standard deviation (sample, ddof = 1) of each
test figure over the folds. Every slide is tested exactly once, by a model that never saw it;
threshold and early stopping use validation slides taken from the training folds.
``--resume`` continues with the first unfinished fold.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from . import run_dir as rd
from .presets import DEFAULT_PRESET
from .train import RunError, TrainRequest, train

FIGURES = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc")


def summarize(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, std (ddof = 1) and per-fold values of each test figure; pooled confusion."""
    out: dict[str, Any] = {"folds": len(folds)}
    for key in FIGURES:
        vals = np.array([np.nan if f["test"].get(key) is None else f["test"][key] for f in folds], dtype=np.float64)
        ok = vals[~np.isnan(vals)]
        out[key] = {"mean": float(ok.mean()) if len(ok) else None,
                    "std": float(ok.std(ddof=1)) if len(ok) > 1 else None,
                    "per_fold": [None if np.isnan(v) else float(v) for v in vals]}
    pooled = {k: int(sum(f["test"]["confusion"][k] for f in folds)) for k in ("tn", "fp", "fn", "tp")}
    out["pooled_confusion"] = pooled
    out["n"] = int(sum(f["test"]["n"] for f in folds))
    out["train_seconds"] = float(sum(f["timing"]["train_seconds"] for f in folds))
    return out


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"grouped {s['folds']}-fold cross-validation over {s['n']} cells (mean +- std over folds):"]
    for key in FIGURES:
        v = s[key]
        if v["mean"] is None:
            continue
        std = "" if v["std"] is None else f" +- {100 * v['std']:.2f}"
        lines.append(f"  {key:<18} {100 * v['mean']:6.2f}{std}   folds: "
                     + " ".join("n/a" if x is None else f"{100 * x:.2f}" for x in v["per_fold"]))
    return "\n".join(lines)


def cross_validate(req: TrainRequest, folds: int) -> Path:
    """Train ``folds`` runs under one folder and write ``cv.json``; returns the folder."""
    if folds < 2:
        raise RunError(f"--cv needs at least 2 folds, got {folds}")
    root = Path(req.out) if req.out else rd.new_run_dir(f"{req.preset or DEFAULT_PRESET}-cv{folds}")
    if root.exists() and any(root.iterdir()) and not req.resume:
        raise RunError(f"{root} is not empty; use --resume to continue its cross-validation or another --out")
    results = []
    for i in range(folds):
        fold_dir = root / f"fold-{i + 1}"
        if not (fold_dir / rd.METRICS).is_file() or not (fold_dir / rd.MODEL).is_file():
            started = (fold_dir / rd.CONFIG).is_file()
            print(f"== fold {i + 1} of {folds} ==", flush=True)
            train(dataclasses.replace(req, out=str(fold_dir), fold=i, folds=folds, resume=started,
                                      **({"preset": None, "epochs": None, "batch_size": None,
                                          "image_size": None, "split": None, "limit": None,
                                          "seed": None} if started else {})))
        results.append(rd.read_json(fold_dir / rd.METRICS))
    summary = summarize(results)
    summary["command"] = req.command
    rd.write_json(root / "cv.json", summary)
    print(format_summary(summary), flush=True)
    print(f"cross-validation: {root / 'cv.json'}", flush=True)
    return root
