"""The model shipped in the package is the default preset's: same layers and weight shapes,
its own threshold, and it classifies real cells (a stale or broken file fails here)."""

from __future__ import annotations

import numpy as np

import smearnet
from smearnet.data import load_images
from smearnet.pipeline import inference
from smearnet.pipeline.presets import DEFAULT_PRESET, build_layers, get_preset


def test_shipped_model_is_the_default_presets():
    model = inference.load_classifier(None)
    meta = model.metadata
    preset = get_preset(DEFAULT_PRESET)
    assert meta["preset"] == DEFAULT_PRESET and meta["image_size"] == preset.image_size
    assert 0.0 < meta["threshold"] < 1.0 and meta["output"] == "logit"
    fresh = smearnet.Sequential(build_layers(preset), seed=0)
    fresh.build()
    assert [type(l).__name__ for l in model.layers] == [type(l).__name__ for l in fresh.layers]
    assert [w.shape for w in model.get_weights()] == [w.shape for w in fresh.get_weights()]
    assert inference.default_model_path().stat().st_size < 5 * 2 ** 20


def test_shipped_model_classifies_real_cells(cell_subset):
    """360 cells of 30 slides; some of these slides were training slides of the shipped model,
    so this is a sanity check of the weights, not a held-out figure."""
    model = inference.load_classifier(None)
    files = sorted((cell_subset / "Parasitized").iterdir()) + sorted((cell_subset / "Uninfected").iterdir())
    labels = np.array([1] * len(list((cell_subset / "Parasitized").iterdir()))
                      + [0] * len(list((cell_subset / "Uninfected").iterdir())))
    images, kept, skipped = load_images(files, model.metadata["image_size"])
    assert not skipped
    p = inference.predict_proba(model, images)
    accuracy = float(np.mean((p >= model.metadata["threshold"]) == (labels[kept] == 1)))
    assert accuracy > 0.9
