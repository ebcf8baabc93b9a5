"""Early stopping and checkpoint state (without training)."""

import numpy as np

from smearnet.pipeline.checkpoint import TrainingState, checkpoint_path
from smearnet.pipeline.presets import build_model, get_preset


def test_early_stopping_keeps_the_best_weights():
    s = TrainingState(patience=2)
    w = lambda v: [np.full(3, v, np.float32)]  # noqa: E731
    assert not s.record({"loss": 0.7, "val_loss": 0.60}, 1.0, w(1))
    assert not s.record({"loss": 0.5, "val_loss": 0.40}, 1.0, w(2))
    assert not s.record({"loss": 0.4, "val_loss": 0.45}, 1.0, w(3))
    assert s.record({"loss": 0.3, "val_loss": 0.41}, 1.0, w(4))  # 2 epochs without improvement
    assert s.stopped_early and s.best_epoch == 2 and s.epochs_done == 4
    np.testing.assert_array_equal(s.best_weights[0], np.full(3, 2))
    assert s.history["val_loss"] == [0.60, 0.40, 0.45, 0.41]


def test_no_patience_never_stops():
    s = TrainingState(patience=None)
    for v in (0.5, 0.6, 0.7, 0.8):
        assert not s.record({"loss": v, "val_loss": v}, 0.5, [])
    assert s.best_weights is None and s.best_epoch == 0


def test_checkpoint_roundtrip_restores_model_and_optimizer(tmp_path):
    p = get_preset("tiny")
    a = build_model(p, seed=0, steps_per_epoch=2)
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 32, 32, 3)).astype(np.float32), rng.integers(0, 2, 8).astype(np.float32)
    a.fit(x, y, epochs=1, batch_size=4, verbose=0)
    s = TrainingState(patience=3)
    s.record({"loss": 0.5, "val_loss": 0.4}, 2.0, a.get_weights())
    s.save(tmp_path, a, extra_seconds=5.0)
    assert checkpoint_path(tmp_path).is_file()
    b = build_model(p, seed=1, steps_per_epoch=2)
    b(x[:1])  # build
    b.ensure_optimizer_built()
    t = TrainingState.load(tmp_path, b)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))
    assert b.optimizer.iterations == a.optimizer.iterations == 2
    assert t.best_epoch == 1 and t.history == s.history and t.wall_seconds == 5.0
