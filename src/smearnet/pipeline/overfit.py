"""The assignment's question 3 f, "did you overfit?", answered from a run's own numbers.

Overfitting shows as a model that fits its training images clearly better than images it has
not seen: training loss well below validation/test loss, training accuracy well above, and a
validation loss that bottoms out and then climbs while the training loss keeps falling.
(The seed notebook's hint has the direction backwards: a *test* loss well *above* the training
loss is the sign.) We quote the gaps, the epoch of the lowest validation loss, and give one
sentence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Accuracy gaps in points (train minus held-out) that we call mild / clear overfitting.
MILD_GAP, CLEAR_GAP = 0.02, 0.05
# A held-out loss this many times the training loss counts as a clear loss gap.
LOSS_RATIO = 1.5
# A validation loss this much above its minimum at the last epoch counts as "climbing again".
RISE = 0.10
# Training accuracy (inference mode) below this: the model has not learnt its own training
# images (chance is about 0.5), so it is undertrained whatever the train/held-out gap. Checked
# before any overfitting rule: a gap between two poor figures is not overfitting.
UNDERFIT_ACCURACY = 0.75
# Held-out sets smaller than this: a gap of a few points is within sampling noise.
SMALL_HELDOUT = 100


def overfitting_report(history: dict[str, list[float]], train: dict[str, float] | None = None,
                       heldout: dict[str, float] | None = None, heldout_name: str = "test",
                       best_epoch: int | None = None, val_name: str = "validation",
                       heldout_n: int | None = None) -> dict[str, Any]:
    """Gaps, lowest-validation-loss epoch and a one-sentence verdict.

    Args:
        history: per-epoch lists ``loss``, ``accuracy`` and, when there was validation data,
            ``val_loss``, ``val_accuracy`` (as ``History.history``).
        train: ``{"loss", "accuracy"}`` of the final model on training images in inference
            mode (no dropout, no augmentation); falls back to the history's epoch figures.
        heldout: ``{"loss", "accuracy"}`` of the final model on held-out images (the test part).
        heldout_name: how to call them in the sentence.
        best_epoch: 1-based epoch whose weights the final model has (after early stopping);
            defaults to the last epoch.
        val_name: what the history's ``val_*`` entries measured ("validation", or "test
            (monitored)" when a run without a validation part scored its test images each epoch).
        heldout_n: number of held-out images; below ``SMALL_HELDOUT`` the sentence cautions
            that the gap is not meaningful.

    Returns:
        dict with ``verdict`` ("no overfitting" | "mild overfitting" | "overfitting" |
        "underfitting"), ``sentence``, ``loss_gap``, ``accuracy_gap``, ``train_loss``,
        ``train_accuracy``, ``heldout_loss``, ``heldout_accuracy``, ``best_val_epoch``,
        ``best_val_loss``, ``final_val_loss``, ``epochs``.
    """
    loss = list(history.get("loss", []))
    epochs = len(loss)
    if epochs == 0:
        raise ValueError("history has no epochs")
    best_epoch = best_epoch or epochs
    i = best_epoch - 1
    val_loss = history.get("val_loss") or []
    if train is None:
        train = {"loss": loss[i], "accuracy": history.get("accuracy", [np.nan] * epochs)[i]}
    if heldout is None and val_loss:
        heldout = {"loss": val_loss[i], "accuracy": history.get("val_accuracy", [np.nan] * epochs)[i]}
        heldout_name = "validation"
    if heldout is None:
        raise ValueError("need held-out figures or a history with val_loss")
    tl, ta = float(train["loss"]), float(train["accuracy"])
    hl, ha = float(heldout["loss"]), float(heldout["accuracy"])
    acc_gap, loss_gap = ta - ha, hl - tl

    best_val_epoch = best_val = final_val = None
    rising = False
    if val_loss:
        vl = np.asarray(val_loss, dtype=np.float64)
        best_val_epoch = int(np.argmin(vl)) + 1
        best_val, final_val = float(vl.min()), float(vl[-1])
        train_fell = loss[-1] < loss[best_val_epoch - 1]
        rising = (best_val_epoch < epochs and train_fell
                  and final_val > best_val * (1 + RISE))

    ratio_big = tl > 0 and hl > LOSS_RATIO * tl and loss_gap > 0.02
    if ta < UNDERFIT_ACCURACY:  # first: a poorly fit training set is undertrained, not overfit
        verdict = "underfitting"
    elif acc_gap >= CLEAR_GAP:
        verdict = "overfitting"
    elif acc_gap >= MILD_GAP or ratio_big or (rising and best_epoch > best_val_epoch):
        verdict = "mild overfitting"
    else:
        verdict = "no overfitting"

    parts = [f"train accuracy {ta:.3f} vs {heldout_name} {ha:.3f} (gap {100 * acc_gap:+.1f} points)",
             f"train loss {tl:.4f} vs {heldout_name} {hl:.4f}"]
    if best_val_epoch is not None:
        what = "validation loss" if val_name == "validation" else "test loss (scored after each epoch)"
        tail = f"{what} was lowest ({best_val:.4f}) at epoch {best_val_epoch} of {epochs}"
        if rising:
            tail += f" and had climbed to {final_val:.4f} by the end"
            if best_epoch == best_val_epoch:
                tail += f" (the kept weights are those of epoch {best_epoch})"
        parts.append(tail)
    lead = {
        "no overfitting": "No meaningful overfitting",
        "mild overfitting": "Mild overfitting",
        "overfitting": "Yes, the model overfits",
        "underfitting": "Not overfitting: the model is undertrained (it does not fit even its training "
                        "images well; train for more epochs or on more images)",
    }[verdict]
    sentence = f"{lead}: " + ", ".join(parts[:-1]) + (", and " if len(parts) > 1 else "") + parts[-1] + "."
    small = heldout_n is not None and heldout_n < SMALL_HELDOUT
    if small:
        sentence += (f" Caution: with only {heldout_n} {heldout_name} cells the gap is within sampling "
                     "noise and not meaningful.")
    return {
        "verdict": verdict, "sentence": sentence, "epochs": epochs, "best_epoch": best_epoch,
        "train_loss": tl, "train_accuracy": ta, "heldout_loss": hl, "heldout_accuracy": ha,
        "heldout_name": heldout_name, "loss_gap": loss_gap, "accuracy_gap": acc_gap,
        "best_val_epoch": best_val_epoch, "best_val_loss": best_val, "final_val_loss": final_val,
        "val_loss_rising": rising, "val_name": val_name, "heldout_n": heldout_n,
        "small_heldout": small,
    }
