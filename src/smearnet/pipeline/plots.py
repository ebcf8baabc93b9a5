"""Plots for a run: learning curves, confusion matrix, ROC curve (matplotlib, Agg, no pyplot).

Each function draws on its own ``matplotlib.figure.Figure`` (no global pyplot state, no display
needed) and writes a PNG to ``path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#d62728"


def _save(fig: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return Path(path)


def learning_curves(history: dict[str, list[float]], path: str | Path,
                    val_name: str = "validation", best_epoch: int | None = None) -> Path:
    """Loss and accuracy per epoch, train vs validation, side by side.

    Args:
        history: ``loss``, ``accuracy`` and optionally ``val_loss``, ``val_accuracy`` lists.
        val_name: legend label of the held-out curve.
        best_epoch: 1-based epoch whose weights the final model has (dotted line).
    """
    fig = Figure(figsize=(9, 3.4))
    for k, (key, title) in enumerate([("loss", "loss"), ("accuracy", "accuracy")]):
        ax = fig.add_subplot(1, 2, k + 1)
        tr = history.get(key) or []
        epochs = np.arange(1, len(tr) + 1)
        if tr:
            ax.plot(epochs, tr, "o-", color=TRAIN_COLOR, label="train", ms=3)
        va = history.get("val_" + key) or []
        if va:
            ax.plot(np.arange(1, len(va) + 1), va, "s-", color=VAL_COLOR, label=val_name, ms=3)
        if best_epoch:
            ax.axvline(best_epoch, color="gray", ls=":", lw=1, label=f"kept weights (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(epochs) and len(epochs) <= 20:
            ax.set_xticks(epochs)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def confusion_plot(confusion: dict[str, Any], path: str | Path, title: str = "test") -> Path:
    """The 2x2 confusion matrix with counts and row percentages (rows = true class)."""
    m = np.asarray(confusion["matrix"], dtype=np.int64)
    names = confusion.get("labels", ["Uninfected", "Parasitized"])
    rows = m.sum(axis=1, keepdims=True).clip(min=1)
    fig = Figure(figsize=(4, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(m / rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            frac = m[i, j] / rows[i, 0]
            ax.text(j, i, f"{m[i, j]}\n{100 * frac:.1f}%", ha="center", va="center",
                    color="white" if frac > 0.5 else "black", fontsize=11)
    ax.set_xticks([0, 1], [f"pred {n}" for n in names])
    ax.set_yticks([0, 1], [f"true {n}" for n in names])
    ax.set_title(f"confusion matrix ({title})")
    fig.tight_layout()
    return _save(fig, path)


def roc_plot(fpr: np.ndarray, tpr: np.ndarray, auc: float | None, path: str | Path,
             operating_point: tuple[float, float] | None = None, title: str = "test") -> Path:
    """ROC curve; ``operating_point`` = (1 - specificity, sensitivity) at the model's threshold."""
    fig = Figure(figsize=(4, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    label = "ROC" if auc is None else f"ROC (AUC {auc:.4f})"
    ax.plot(fpr, tpr, color=VAL_COLOR, lw=2, label=label)
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="chance")
    if operating_point is not None:
        ax.plot(*operating_point, "ko", ms=6, label="threshold")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_title(f"ROC ({title})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
