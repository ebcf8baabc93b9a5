"""Early stopping and checkpoint state: the run's bookkeeping around nn's EarlyStopping."""

import numpy as np
import pytest

from smearnet.nn.callbacks import Callback
from smearnet.pipeline import run_dir as rd
from smearnet.pipeline.checkpoint import TrainingState, checkpoint_path, make_callbacks
from smearnet.pipeline.presets import build_model, get_preset
from smearnet.pipeline.splitting import RunError

VAL_LOSS = [0.60, 0.40, 0.45, 0.41, 0.30]  # best at epoch 2 (1-based); patience 2 stops after 4


class Script(Callback):
    """Replaces val_loss with a scripted value (runs before EarlyStopping) and snapshots weights."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = VAL_LOSS[epoch]
        self.snapshots.append(self.model.get_weights())


class Crash(KeyboardInterrupt):
    pass


def _data():
    rng = np.random.default_rng(0)
    return rng.random((8, 32, 32, 3)).astype(np.float32), rng.integers(0, 2, 8).astype(np.float32)


def _model(seed=0):
    return build_model(get_preset("tiny"), seed=seed, steps_per_epoch=2)


def _fit(model, state, run, initial_epoch=0, crash_after=None):
    x, y = _data()

    def hook(epoch):
        if epoch == crash_after:
            raise Crash()

    script = Script()
    model.fit(x, y, epochs=len(VAL_LOSS), batch_size=4, validation_data=(x, y), verbose=0,
              initial_epoch=initial_epoch, callbacks=[script, *make_callbacks(state, run, 0.0, hook)])
    return script


def test_early_stopping_keeps_the_best_weights(tmp_path):
    model, s = _model(), TrainingState(patience=2)
    script = _fit(model, s, tmp_path)
    assert s.stopped_early and s.best_epoch == 2 and s.epochs_done == 4
    assert s.history["val_loss"] == VAL_LOSS[:4] and len(s.epoch_seconds) == 4
    for got, want in zip(s.best_weights, script.snapshots[1], strict=True):
        np.testing.assert_array_equal(got, want)


def test_no_patience_never_stops(tmp_path):
    s = TrainingState(patience=None)
    _fit(_model(), s, tmp_path)
    assert s.early_stopping is None and s.epochs_done == len(VAL_LOSS)
    assert s.best_weights is None and s.best_epoch == 0 and not s.stopped_early


def test_resume_keeps_the_best_weights_from_before_the_interruption(tmp_path):
    full = TrainingState(patience=2)
    _fit(_model(), full, tmp_path / "a")
    with pytest.raises(Crash):  # interrupted after epoch 3 (0-based 2), the best being epoch 2
        _fit(_model(), TrainingState(patience=2), tmp_path / "b", crash_after=2)
    model = _model()  # as train() does: same seed (batches and dropout draw from (seed, epoch))
    s = TrainingState.load(tmp_path / "b", model)
    assert s.epochs_done == 3 and s.best_epoch == 2 and not s.stopped_early
    _fit(model, s, tmp_path / "b", initial_epoch=s.epochs_done)
    assert (s.stopped_early, s.best_epoch, s.epochs_done, s.history) == \
        (full.stopped_early, full.best_epoch, full.epochs_done, full.history)
    for got, want in zip(s.best_weights, full.best_weights, strict=True):
        np.testing.assert_array_equal(got, want)
    # and what a later --resume of the stopped run reads back
    t = TrainingState.load(tmp_path / "b", _model())
    assert t.stopped_early and t.best_epoch == 2


def test_checkpoint_roundtrip_restores_model_and_optimizer(tmp_path):
    a = _model()
    x, y = _data()
    a.fit(x, y, epochs=1, batch_size=4, verbose=0)
    s = TrainingState(patience=3)
    s.record({"loss": 0.5, "val_loss": 0.4}, 2.0)
    s.save(tmp_path, a, extra_seconds=5.0)
    assert checkpoint_path(tmp_path).is_file()
    b = _model(seed=1)
    b(x[:1])  # build
    b.ensure_optimizer_built()
    t = TrainingState.load(tmp_path, b)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))
    assert b.optimizer.iterations == a.optimizer.iterations == 2
    assert t.history == s.history and t.wall_seconds == 5.0 and t.epochs_done == 1
    assert t.early_stopping.patience == 3 and t.early_stopping.min_delta == 1e-4


def test_a_checkpoint_from_before_the_shared_early_stopping_is_refused(tmp_path):
    old = {"epochs_done": 1, "history": {}, "epoch_seconds": [1.0], "patience": 2, "min_delta": 1e-4,
           "best_loss": 0.4, "best_epoch": 1, "best_weights": None, "wait": 0, "stopped_early": False,
           "wall_seconds": 1.0, "weights": [], "optimizer": {}}
    rd.save_state(checkpoint_path(tmp_path), old)
    with pytest.raises(RunError, match="state.safetensors: written by an older smearnet.*start a new run"):
        TrainingState.load(tmp_path, _model())
