"""Saliency by backpropagation to the pixels, on a model whose answer we know."""

import numpy as np
import pytest
from PIL import Image

import smearnet
from smearnet import layers as L
from smearnet.pipeline.explain import overlay, saliency_maps, save_explanation


@pytest.fixture
def patch_model():
    """Flatten + Dense(1) whose weights see only the 4x4 patch at rows/cols 4..7."""
    model = smearnet.Sequential([L.InputLayer(input_shape=(16, 16, 3)), L.Flatten(), L.Dense(1)], seed=0)
    w = np.zeros((16, 16, 3), np.float32)
    w[4:8, 4:8, :] = 1.0
    model.set_weights([w.reshape(-1, 1), np.zeros(1, np.float32)])
    return model


@pytest.mark.parametrize("method", ["gradxinput", "smoothgrad"])
def test_saliency_lights_up_what_the_model_looks_at(patch_model, method):
    x = np.full((2, 16, 16, 3), 0.5, np.float32)
    sal = saliency_maps(patch_model, x, method=method, samples=8, blur=0)
    assert sal.shape == (2, 16, 16) and sal.dtype == np.float32
    assert sal.min() >= 0 and sal.max() <= 1
    inside = sal[:, 4:8, 4:8].mean()
    outside = np.delete(sal.reshape(2, -1), np.ravel_multi_index(np.mgrid[4:8, 4:8].reshape(2, -1), (16, 16)), axis=1)
    assert inside > 0.9 and outside.max() < 1e-6


def test_blur_keeps_the_peak_in_place(patch_model):
    x = np.full((1, 16, 16, 3), 0.5, np.float32)
    sal = saliency_maps(patch_model, x, method="gradxinput", blur=1.0)
    r, c = np.unravel_index(np.argmax(sal[0]), (16, 16))
    assert 4 <= r < 8 and 4 <= c < 8


def test_overlay_and_png(tmp_path):
    cell = np.full((20, 24, 3), 200, np.uint8)
    sal = np.zeros((16, 16), np.float32)
    sal[8, 8] = 1
    ov = overlay(cell, sal, size=64)
    assert ov.shape == (64, 64, 3) and ov.dtype == np.uint8
    assert not np.array_equal(ov[32, 32], ov[0, 0])  # the hot spot is coloured, the corner is not
    p = save_explanation(tmp_path / "x.png", cell, sal, "title")
    with Image.open(p) as im:
        assert im.format == "PNG"
