"""Streaming metrics over NumPy outputs: accuracy, precision, recall, AUC (and a running mean).

A metric accumulates with ``update_state(y_true, y_pred)`` over the batches of an epoch and
reports ``result()``; ``reset_state()`` starts over. They see the raw model output:

* one output unit (``(N,)`` or ``(N, 1)``): a sample is positive when the output exceeds the
  threshold; ``threshold=None`` means 0.5 (Keras' ``binary_accuracy``, right for a sigmoid or
  for the assignment's linear output trained with MSE) unless the model is compiled with a
  loss that has ``from_logits=True``, where it means 0;
* several output units: accuracy compares the argmax with the label (or with the argmax of a
  one-hot label).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .registry import METRICS


def _binary(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a one-unit output and its labels to matching 1-D arrays."""
    p = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    if p.shape[1] != 1:
        raise ValueError(f"this metric needs one output unit, got outputs of shape {np.shape(y_pred)}")
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{t.shape[0]} labels for {p.shape[0]} predictions")
    return t, p[:, 0]


class Metric:
    """Base class: constructors only store arguments; state lives in ``reset_state``."""

    default_name = "metric"

    def __init__(self, name: str | None = None, threshold: float | None = None) -> None:
        self.name = name or self.default_name
        self.threshold = None if threshold is None else float(threshold)
        self._from_logits = False
        self.reset_state()

    def bind_loss(self, loss: Any) -> None:
        """Called by ``compile``: learn whether outputs are logits (threshold 0)."""
        self._from_logits = bool(getattr(loss, "from_logits", False))

    @property
    def effective_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return 0.0 if self._from_logits else 0.5

    def reset_state(self) -> None:
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """One-shot: reset, update with this data, return the result."""
        self.reset_state()
        self.update_state(y_true, y_pred)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "threshold": self.threshold}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)


class Mean(Metric):
    """Weighted running mean of scalars (the loss shown during training)."""

    default_name = "mean"

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, value: float, weight: float = 1.0) -> None:  # type: ignore[override]
        self.total += float(value) * weight
        self.count += weight

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


@METRICS.register("accuracy", "acc")
class Accuracy(Metric):
    """Fraction of correct predictions (binary with a threshold for one output unit,
    argmax for several)."""

    default_name = "accuracy"

    def reset_state(self) -> None:
        self.correct, self.count = 0, 0

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        y_pred = np.asarray(y_pred)
        if y_pred.ndim == 2 and y_pred.shape[1] > 1:
            t = np.asarray(y_true)
            labels = t.argmax(axis=1) if t.ndim == 2 and t.shape[1] == y_pred.shape[1] else t.reshape(-1)
            hits = y_pred.argmax(axis=1) == labels
        else:
            t, p = _binary(y_true, y_pred)
            hits = (p > self.effective_threshold) == (t > 0.5)
        self.correct += int(hits.sum())
        self.count += hits.size

    def result(self) -> float:
        return self.correct / self.count if self.count else 0.0


@METRICS.register("binary_accuracy")
class BinaryAccuracy(Accuracy):
    """Accuracy for one output unit (errors on several)."""

    default_name = "binary_accuracy"

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        t, p = _binary(y_true, y_pred)
        hits = (p > self.effective_threshold) == (t > 0.5)
        self.correct += int(hits.sum())
        self.count += hits.size


class _Confusion(Metric):
    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = self.tn = 0

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        t, p = _binary(y_true, y_pred)
        pos, lab = p > self.effective_threshold, t > 0.5
        self.tp += int((pos & lab).sum())
        self.fp += int((pos & ~lab).sum())
        self.fn += int((~pos & lab).sum())
        self.tn += int((~pos & ~lab).sum())


@METRICS.register()
class Precision(_Confusion):
    """``TP / (TP + FP)`` for one output unit; 0 when nothing was predicted positive."""

    default_name = "precision"

    def result(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0


@METRICS.register("sensitivity")
class Recall(_Confusion):
    """``TP / (TP + FN)`` (sensitivity) for one output unit; 0 when there are no positives."""

    default_name = "recall"

    def result(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


@METRICS.register("roc_auc")
class AUC(Metric):
    """Area under the ROC curve, computed exactly from every score of the epoch (no
    thresholds binning, unlike Keras' 200-bucket approximation). NaN when only one class
    has been seen. Outputs may be logits or probabilities: AUC depends on ranks only."""

    default_name = "auc"
    expensive = True  # left out of the live progress bar; computed at the end of each epoch

    def reset_state(self) -> None:
        self._labels: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        t, p = _binary(y_true, y_pred)
        self._labels.append(t > 0.5)
        self._scores.append(p)

    def result(self) -> float:
        if not self._labels:
            return math.nan
        t = np.concatenate(self._labels)
        if t.all() or not t.any():
            return math.nan
        from sklearn.metrics import roc_auc_score  # imported on first use: it is slow to import

        return float(roc_auc_score(t, np.concatenate(self._scores)))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


def get(identifier: Any) -> Metric:
    """A Metric from a name (``"accuracy"``, ``"precision"``, ``"recall"``, ``"auc"``), config
    or instance."""
    metric = METRICS.get(identifier)
    if not isinstance(metric, Metric):
        raise ValueError(f"metric must be a name or a Metric, got {identifier!r}")
    return metric
