"""The overfitting verdict (assignment 3 f) on synthetic histories."""

import pytest

from smearnet.pipeline.overfit import overfitting_report


def test_notebook_numbers_no_overfitting():
    # the seed notebook: final train loss 0.0546 / acc 0.9408, test 0.0597 / 0.924
    h = {"loss": [1.15, 0.24, 0.23, 0.22, 0.20, 0.15, 0.12, 0.094, 0.069, 0.0546],
         "accuracy": [0.54, 0.61, 0.63, 0.66, 0.69, 0.79, 0.85, 0.89, 0.92, 0.9408]}
    r = overfitting_report(h, heldout={"loss": 0.0597, "accuracy": 0.924})
    assert r["verdict"] == "no overfitting"
    assert r["accuracy_gap"] == pytest.approx(0.9408 - 0.924)
    assert r["loss_gap"] == pytest.approx(0.0597 - 0.0546)
    assert "0.941" in r["sentence"] and "0.924" in r["sentence"]
    assert r["sentence"].count(".") >= 1 and "\n" not in r["sentence"]


def test_clear_overfitting_with_rising_val_loss():
    h = {"loss": [0.6, 0.4, 0.25, 0.12, 0.05, 0.02],
         "accuracy": [0.7, 0.82, 0.9, 0.96, 0.99, 1.0],
         "val_loss": [0.55, 0.42, 0.38, 0.45, 0.6, 0.8],
         "val_accuracy": [0.72, 0.82, 0.85, 0.85, 0.84, 0.83]}
    r = overfitting_report(h, train={"loss": 0.02, "accuracy": 1.0}, heldout={"loss": 0.8, "accuracy": 0.83})
    assert r["verdict"] == "overfitting"
    assert r["best_val_epoch"] == 3 and r["val_loss_rising"]
    assert "epoch 3 of 6" in r["sentence"] and "0.3800" in r["sentence"]


def test_mild_overfitting_when_only_val_loss_climbs():
    h = {"loss": [0.5, 0.3, 0.2, 0.15, 0.1],
         "accuracy": [0.8, 0.9, 0.93, 0.95, 0.96],
         "val_loss": [0.4, 0.25, 0.2, 0.24, 0.26],
         "val_accuracy": [0.85, 0.92, 0.95, 0.95, 0.95]}
    r = overfitting_report(h)  # falls back to history figures at the last epoch, vs validation
    assert r["heldout_name"] == "validation"
    assert r["verdict"] == "mild overfitting"


def test_best_epoch_selects_figures_from_history():
    h = {"loss": [0.5, 0.3, 0.1], "accuracy": [0.8, 0.9, 0.99],
         "val_loss": [0.45, 0.28, 0.5], "val_accuracy": [0.81, 0.9, 0.85]}
    r = overfitting_report(h, best_epoch=2)
    assert r["train_loss"] == 0.3 and r["heldout_loss"] == 0.28
    assert r["verdict"] == "no overfitting"
    assert r["best_val_epoch"] == 2


def test_underfitting():
    h = {"loss": [0.69, 0.68], "accuracy": [0.52, 0.55]}
    r = overfitting_report(h, heldout={"loss": 0.69, "accuracy": 0.54})
    assert r["verdict"] == "underfitting"


def test_needs_heldout_numbers():
    with pytest.raises(ValueError):
        overfitting_report({"loss": [0.3], "accuracy": [0.9]})
    with pytest.raises(ValueError):
        overfitting_report({"loss": []}, heldout={"loss": 1, "accuracy": 0.5})


def test_undertrained_run_with_a_gap_is_not_called_overfitting():
    # the user's run: --limit 1500 --epochs 2, train 0.690 vs test 0.509
    h = {"loss": [0.69, 0.62], "accuracy": [0.55, 0.66],
         "val_loss": [0.70, 0.69], "val_accuracy": [0.5, 0.52]}
    r = overfitting_report(h, train={"loss": 0.61, "accuracy": 0.690},
                           heldout={"loss": 0.70, "accuracy": 0.509}, heldout_n=225)
    assert r["verdict"] == "underfitting"
    assert "undertrained" in r["sentence"] and "overfits" not in r["sentence"]
    assert "Caution" not in r["sentence"]


def test_small_test_set_gets_a_caution():
    h = {"loss": [0.3, 0.1], "accuracy": [0.9, 0.99]}
    r = overfitting_report(h, heldout={"loss": 0.4, "accuracy": 0.9}, heldout_n=40)
    assert r["verdict"] == "overfitting" and r["small_heldout"]
    assert "only 40 test cells" in r["sentence"] and "not meaningful" in r["sentence"]
