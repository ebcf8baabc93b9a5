"""A saved classifier as a tool: probabilities from outputs, test-time augmentation."""

import numpy as np
import pytest

import smearnet
from smearnet import layers as L
from smearnet.pipeline import inference


def test_to_probability():
    raw = np.array([[-800.0], [0.0], [3.0], [800.0]])
    p = inference.to_probability(raw, "logit")
    assert p[0] == 0.0 and p[1] == 0.5 and p[3] == 1.0
    assert p[2] == pytest.approx(1 / (1 + np.exp(-3)))
    assert list(inference.to_probability(np.array([-0.2, 0.3, 1.4]), "linear")) == [0.0, 0.3, 1.0]
    with pytest.raises(ValueError):
        inference.to_probability(raw, "softmax")


def test_views_are_the_symmetries_of_the_square():
    x = np.arange(2 * 3 * 3 * 1, dtype=np.float32).reshape(2, 3, 3, 1)
    assert len(inference.views(x, None)) == 1
    four, eight = inference.views(x, "flips"), inference.views(x, "dihedral")
    assert len(four) == 4 and len(eight) == 8
    assert len({v[0].tobytes() for v in eight}) == 8  # all distinct
    for v in eight:
        assert sorted(v[0].ravel()) == sorted(x[0].ravel())  # pixels permuted, not changed
    with pytest.raises(ValueError):
        inference.views(x, "rot45")


def test_tta_averages_the_views():
    model = smearnet.Sequential([L.InputLayer(input_shape=(4, 4, 3)), L.Flatten(), L.Dense(1)], seed=0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    x = inference.scale(images)
    want = np.mean([model.predict(np.ascontiguousarray(v))[:, 0] for v in inference.views(x, "dihedral")], axis=0)
    got = inference.predict_raw(model, images, tta="dihedral")
    np.testing.assert_allclose(got, want, rtol=1e-6)
    model.metadata = {"tta": "dihedral"}
    np.testing.assert_allclose(inference.predict_raw(model, images), want, rtol=1e-6)
    plain = inference.predict_raw(model, images, tta=None)
    assert not np.allclose(plain, want)


def test_auto_batch():
    assert inference.auto_batch(64) == 256 and inference.auto_batch(133) == 59
    assert inference.auto_batch(1000) == 8


def test_sharded_scoring_gives_the_same_outputs_and_restores_blas_threads():
    from smearnet.autodiff import blas

    model = smearnet.Sequential([L.InputLayer(input_shape=(8, 8, 3)),
                                 L.Conv2D(4, 3, padding="same", use_bias=False),
                                 L.BatchNormalization(momentum=0.9), L.ReLU(), L.MaxPool2D(2),
                                 L.GlobalAveragePooling2D(), L.Dense(1)], seed=0)
    images = np.random.default_rng(1).integers(0, 256, (300, 8, 8, 3), dtype=np.uint8)
    before = blas.get_threads()
    one = inference.predict_raw(model, images, batch_size=128, workers=1)
    four = inference.predict_raw(model, images, batch_size=128, workers=4)
    np.testing.assert_allclose(four, one, rtol=1e-5, atol=1e-6)
    assert blas.get_threads() == before
    want = model.predict(inference.scale(images), batch_size=300)[:, 0]
    np.testing.assert_allclose(one, want, rtol=1e-5, atol=1e-6)
