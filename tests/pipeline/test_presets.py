"""Presets: the assignment's model is the notebook's; splits follow the preset."""

from types import SimpleNamespace

import numpy as np
import pytest

import smearnet
from smearnet.pipeline.presets import PRESETS, build_layers, build_model, get_preset, heldout_loss
from smearnet.pipeline.splitting import make_split


def test_assignment_model_is_the_notebooks():
    p = get_preset("assignment")
    assert (p.image_size, p.epochs, p.batch_size, p.loss, p.optimizer, p.output) == \
        (133, 10, 32, "mse", "adam", "linear")
    assert (p.n_train, p.n_test, p.limit, p.split, p.threshold) == (4000, 1000, 5000, "random", "fixed")
    model = smearnet.Sequential(build_layers(p), seed=0)
    out = model(np.zeros((1, 133, 133, 3), np.float32))
    assert out.shape == (1, 1)
    # Keras' summary of the notebook's model: 3,584 + 147,584 + 73,792 + 147,712
    # + 4 x 65,792 + 16,448 + 65 parameters
    assert model.count_params() == 652_353


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_compiles(name):
    p = get_preset(name)
    model = build_model(p, seed=0, steps_per_epoch=10)
    size = max(p.image_size if name != "assignment" else 133, 32)
    assert model(np.zeros((2, size, size, 3), np.float32)).shape == (2, 1)


def test_default_preset_is_grouped_and_picks_threshold_on_validation():
    p = get_preset("cellnet")
    assert p.split == "patient" and p.threshold == "validation"
    assert p.output == "logit" and p.augment and p.schedule == "onecycle"
    # a one-cycle schedule gains most in its last epochs: early stopping would cut them off
    assert p.early_stopping is None


def test_assignment_split_is_4000_1000_random():
    rng = np.random.default_rng(0)
    n = 8000
    ds = SimpleNamespace(labels=rng.integers(0, 2, n).astype(np.uint8),
                         slides=np.array([f"C{i % 50}" for i in range(n)]))
    s = make_split(ds, get_preset("assignment"), seed=0)
    assert (len(s.train), len(s.val), len(s.test)) == (4000, 0, 1000)
    assert not set(s.train) & set(s.test)
    # fewer images than the recipe asks for: the same 4:1 proportions
    s = make_split(ds, get_preset("assignment").with_overrides(limit=500), seed=0)
    assert (len(s.train), len(s.test)) == (400, 100)


def test_patient_split_keeps_slides_apart():
    rng = np.random.default_rng(1)
    n = 2000
    slides = np.array([f"C{i}" for i in rng.integers(0, 40, n)])
    ds = SimpleNamespace(labels=rng.integers(0, 2, n).astype(np.uint8), slides=slides)
    s = make_split(ds, get_preset("cellnet"), seed=0)
    parts = [set(slides[idx]) for idx in (s.train, s.val, s.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(s.train) + len(s.val) + len(s.test) == n


def test_heldout_loss_matches_definitions():
    z = np.array([2.0, -1.0, 0.0, 40.0, -40.0])
    y = np.array([1, 0, 1, 0, 1])
    bce = np.mean(np.log1p(np.exp(-z)) + (1 - y) * z)
    assert heldout_loss(get_preset("cellnet"), z, y) == pytest.approx(bce)
    assert heldout_loss(get_preset("assignment"), z, y) == pytest.approx(np.mean((z - y) ** 2))


def test_cross_validation_folds_cover_every_slide_once():
    rng = np.random.default_rng(2)
    n = 3000
    slides = np.array([f"C{i}" for i in rng.integers(0, 50, n)])
    ds = SimpleNamespace(labels=rng.integers(0, 2, n).astype(np.uint8), slides=slides)
    tested = []
    for fold in range(5):
        s = make_split(ds, get_preset("cellnet"), seed=0, cv={"fold": fold, "folds": 5})
        parts = [set(slides[idx]) for idx in (s.train, s.val, s.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert len(s.train) + len(s.val) + len(s.test) == n
        assert 0.08 < len(s.val) / n < 0.2
        tested.append(s.test)
    all_tested = np.concatenate(tested)
    assert len(all_tested) == n and len(np.unique(all_tested)) == n


def test_cross_validation_needs_a_grouped_split():
    from smearnet.pipeline.splitting import RunError

    ds = SimpleNamespace(labels=np.array([0, 1] * 50, np.uint8), slides=np.array([f"C{i % 10}" for i in range(100)]))
    with pytest.raises(RunError, match="--split patient"):
        make_split(ds, get_preset("assignment"), seed=0, cv={"fold": 0, "folds": 5})


def test_description_names_the_settings_a_run_changed():
    p = get_preset("cellnet")
    assert p.describe() == p.description
    d = p.with_overrides(epochs=2, image_size=96).describe()
    assert d.startswith(p.description) and d.endswith("; this run: image size 96, epochs 2")


def test_cross_validation_message_says_where_the_random_split_comes_from():
    from smearnet.pipeline.splitting import RunError

    ds = SimpleNamespace(labels=np.array([0, 1] * 50, np.uint8), slides=np.array([f"C{i % 10}" for i in range(100)]))
    with pytest.raises(RunError, match="the assignment preset splits at random: add --split patient"):
        make_split(ds, get_preset("assignment"), seed=0, cv={"fold": 0, "folds": 5})
    with pytest.raises(RunError, match="--split random cannot be used with --cv"):
        make_split(ds, get_preset("cellnet").with_overrides(split="random"), seed=0,
                   cv={"fold": 0, "folds": 5})


def test_cross_validation_table_prints_f1_and_auc_as_single_runs_do():
    from smearnet.pipeline.crossval import format_summary

    s = {"folds": 2, "n": 1000}
    for key in ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision"):
        s[key] = {"mean": 0.9, "std": 0.01, "per_fold": [0.89, 0.91]}
    s["f1"] = {"mean": 0.6545, "std": 0.02, "per_fold": [0.6345, 0.6745]}
    s["roc_auc"] = {"mean": 0.6729, "std": None, "per_fold": [0.6729, None]}
    lines = {ln.split()[0]: ln for ln in format_summary(s).splitlines()[1:]}
    assert "90.00%" in lines["accuracy"] and "89.00% 91.00%" in lines["accuracy"]
    assert "0.6545 +- 0.0200" in lines["f1"] and "0.6345 0.6745" in lines["f1"]
    assert "0.6729" in lines["roc_auc"] and "67.29" not in lines["roc_auc"]
