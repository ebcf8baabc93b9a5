"""Sequential: the assignment's model, fit / evaluate / predict, data handling, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from nn_builders import build_small_cnn, make_blobs, make_images

import smearnet
from smearnet import layers, losses, optimizers
from smearnet.nn.training import ArrayBatches


def test_assignment_model_summary(assignment_model) -> None:
    lines: list[str] = []
    model = assignment_model()
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert model.count_params() == 652_353
    assert "Total params: 652,353" in text and "Trainable params: 652,353" in text
    assert "(None, 66, 66, 128)" in text and "(None, 3, 3, 64)" in text and "(None, 576)" in text
    assert model.output_shape == (None, 1)


def test_assignment_model_trains(assignment_model) -> None:
    x, y = make_images(n=16, size=133, seed=0)
    model = assignment_model()
    model.compile(optimizer=optimizers.Adam(), loss=losses.MeanSquaredError(), metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    loss = history.history["loss"]
    assert len(loss) == 2 and np.isfinite(loss).all() and loss[1] < loss[0]
    assert set(history.history) == {"loss", "accuracy", "learning_rate"}


def test_two_blobs_reach_95_percent() -> None:
    x, y = make_blobs(n=400, seed=0, gap=4.0)
    xt, yt = make_blobs(n=400, seed=1, gap=4.0)
    model = smearnet.Sequential([layers.Dense(16, activation="relu", input_shape=(2,)), layers.Dense(1)], seed=0)
    model.compile(optimizer=optimizers.Adam(0.01), loss=losses.BinaryCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    loss, acc = model.evaluate(xt, yt)
    assert acc > 0.95


def test_predict_is_deterministic_and_graph_free(small_cnn) -> None:
    model = small_cnn()
    x, _ = make_images(10)
    a, b = model.predict(x, batch_size=3), model.predict(x, batch_size=4)
    assert a.shape == (10, 1) and a.dtype == np.float32
    assert np.array_equal(a, model.predict(x, batch_size=3))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert model(x, training=False).requires_grad  # a graph, for saliency maps
    with smearnet.autodiff.no_grad():
        assert not model(x).requires_grad


def test_evaluate_returns_loss_then_metrics() -> None:
    x, y = make_blobs(50)
    model = smearnet.Sequential([layers.Dense(1, input_shape=(2,))], seed=1)
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy", "auc"])
    loss, acc, auc = model.evaluate(x, y, batch_size=7)
    p = model.predict(x)[:, 0]
    assert loss == pytest.approx(np.mean((p - y) ** 2), rel=1e-5)
    assert acc == pytest.approx(np.mean((p > 0.5) == (y > 0.5)))
    assert model.evaluate(x, y, return_dict=True)["auc"] == pytest.approx(auc)


def test_same_seed_same_model_and_no_global_random_state() -> None:
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    x, y = make_images(12)

    def run(seed: int) -> list[np.ndarray]:
        m = build_small_cnn(seed=seed)
        m.compile(optimizer="adam", loss=losses.BinaryCrossentropy(from_logits=True))
        m.fit(x, y, epochs=2, batch_size=4, verbose=0)
        return m.get_weights()

    a, b, c = run(5), run(5), run(6)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))
    assert np.array_equal(np.random.get_state()[1], state)


def test_iterable_of_batches_equals_arrays() -> None:
    x, y = make_blobs(40)
    batches = [(x[k:k + 8], y[k:k + 8]) for k in range(0, 40, 8)]
    results = []
    for data in ((x, y), (batches, None)):
        m = smearnet.Sequential([layers.Dense(4, activation="tanh", input_shape=(2,)), layers.Dense(1)], seed=0)
        m.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
        h = m.fit(data[0], data[1], epochs=3, batch_size=8, shuffle=False, verbose=0,
                  validation_data=(x, y) if data[1] is not None else batches)
        results.append((m.get_weights(), h.history))
    assert all(np.array_equal(u, v) for u, v in zip(results[0][0], results[1][0]))
    assert results[0][1] == results[1][1]


def test_one_shot_generator_is_rejected_for_a_second_epoch() -> None:
    x, y = make_blobs(16)
    m = smearnet.Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    m.compile(optimizer="sgd", loss="mse")
    gen = ((x[k:k + 4], y[k:k + 4]) for k in range(0, 16, 4))
    with pytest.raises(ValueError, match="one-shot"):
        m.fit(gen, epochs=2, verbose=0)


def test_shuffling_keeps_each_x_with_its_y() -> None:
    x = np.arange(50, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(50, dtype=np.float32)
    src = ArrayBatches(x, y, batch_size=7, shuffle=True, seed=0)
    seen = []
    for epoch in range(2):
        order = []
        for xb, yb in src.epoch(epoch):
            assert np.array_equal(xb[:, 0], yb) and np.array_equal(xb[:, 2], yb)
            order.extend(yb.tolist())
        assert sorted(order) == list(range(50))
        seen.append(order)
    assert seen[0] != seen[1] and seen[0] != list(range(50))


def test_validation_split_holds_out_the_last_fraction() -> None:
    x, y = make_blobs(100)
    m = smearnet.Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    m.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    h = m.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(m.evaluate(x[80:], y[80:])[0], rel=1e-6)
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(x, y, validation_split=1.0, verbose=0)


def test_uint8_inputs_are_not_rescaled(small_cnn) -> None:
    model = small_cnn()
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert np.array_equal(model.predict(x), model.predict(x.astype(np.float32)))


def test_usage_errors() -> None:
    x, y = make_blobs(10)
    m = smearnet.Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(x, y, verbose=0)
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        m.fit(x, y[:9], verbose=0)
    with pytest.raises(ValueError, match="expects inputs of shape"):
        m.predict(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="compile needs a loss"):
        m.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="first layer"):
        smearnet.Sequential([layers.Dense(1), layers.Dense(1, input_shape=(2,))])


def test_frozen_layer_is_not_trained() -> None:
    x, y = make_blobs(20)
    m = smearnet.Sequential([layers.Dense(3, input_shape=(2,), trainable=False), layers.Dense(1)], seed=0)
    before = m.layers[0].kernel.data.copy()
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, y, epochs=1, verbose=0)
    assert np.array_equal(before, m.layers[0].kernel.data)
    lines: list[str] = []
    m.summary(print_fn=lines.append)
    assert "Non-trainable params: 9" in lines
