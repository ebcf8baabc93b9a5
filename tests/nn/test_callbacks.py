"""Callbacks and the training loop's guards: early stopping, checkpoints and bit-exact
resume, learning-rate scheduling, history loggers, the NaN guard, progress output."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from nn_builders import build_small_cnn, make_blobs, make_images

import smearnet
from smearnet import callbacks, layers, losses, optimizers
from smearnet.nn import NonFiniteLossError, load_checkpoint, schedules


def _dense_model(seed: int = 0) -> smearnet.Sequential:
    m = smearnet.Sequential([layers.Dense(8, activation="relu", input_shape=(2,)), layers.Dense(1)], seed=seed)
    m.compile(optimizer="adam", loss=losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    return m


class Script(callbacks.Callback):
    """Overrides a log value with a scripted sequence (in the logs and in the history, as if
    the model had produced it) and snapshots the weights per epoch."""

    def __init__(self, key: str, values: list[float]) -> None:
        super().__init__()
        self.key, self.values, self.snapshots = key, values, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        if self.key in self.model.history.history:
            self.model.history.history[self.key][-1] = self.values[epoch]
        self.snapshots.append(self.model.get_weights())


def test_early_stopping_restores_the_best_epoch() -> None:
    x, y = make_blobs(64)
    m = _dense_model()
    script = Script("val_loss", [3.0, 1.0, 2.0, 4.0, 5.0, 6.0])
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = m.fit(x, y, epochs=6, validation_data=(x, y), callbacks=[script, stop], verbose=0)
    assert len(h.history["loss"]) == 4 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), script.snapshots[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(m.get_weights(), script.snapshots[3]))


def test_early_stopping_max_mode_and_missing_monitor() -> None:
    x, y = make_blobs(32)
    m = _dense_model()
    script = Script("val_accuracy", [0.5, 0.6, 0.6, 0.6])
    stop = callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    assert stop.mode == "max"
    m.fit(x, y, epochs=4, validation_data=(x, y), callbacks=[script, stop], verbose=0)
    assert stop.stopped_epoch == 2
    with pytest.raises(ValueError, match="monitors 'val_loss'.*'accuracy'"):
        m.fit(x, y, epochs=1, callbacks=[callbacks.EarlyStopping()], verbose=0)


def test_checkpoint_resume_is_bit_exact(tmp_path) -> None:
    x, y = make_images(20)
    xv, yv = make_images(8, seed=1)

    def model() -> smearnet.Sequential:
        m = build_small_cnn(seed=4, dropout=0.3)  # dropout and batch norm: noise and state
        m.compile(optimizer=optimizers.Adam(schedules.CosineDecay(0.01, decay_steps=20)),
                  loss=losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy", "auc"])
        return m

    full = model()
    ckpt = callbacks.ModelCheckpoint(tmp_path / "ck-{epoch}.safetensors", metadata={"run": "a"})
    h_full = full.fit(x, y, epochs=4, batch_size=6, validation_data=(xv, yv), callbacks=[ckpt], verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ck-{k}.safetensors" for k in range(1, 5)]

    ck = load_checkpoint(tmp_path / "ck-2.safetensors")
    assert ck.epoch == 2 and ck.metadata == {"run": "a"}
    assert ck.history == {k: v[:2] for k, v in h_full.history.items()}
    assert ck.model.optimizer.iterations == 2 * 4
    h_resumed = ck.model.fit(x, y, epochs=4, batch_size=6, validation_data=(xv, yv), initial_epoch=ck.epoch,
                             callbacks=[callbacks.ModelCheckpoint(tmp_path / "r-{epoch}.safetensors")], verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(full.get_weights(), ck.model.get_weights()))
    assert h_resumed.history == h_full.history and h_resumed.epoch == [0, 1, 2, 3]
    final = load_checkpoint(tmp_path / "r-4.safetensors")
    assert final.history == h_full.history


def test_checkpoint_save_best_only(tmp_path) -> None:
    x, y = make_blobs(32)
    m = _dense_model()
    script = Script("val_loss", [3.0, 1.0, 2.0])
    ck = callbacks.ModelCheckpoint(tmp_path / "best-{epoch}.safetensors", save_best_only=True)
    m.fit(x, y, epochs=3, validation_data=(x, y), callbacks=[script, ck], verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-1.safetensors", "best-2.safetensors"]


def test_learning_rate_scheduler_and_history() -> None:
    x, y = make_blobs(32)
    m = _dense_model()
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else 0.1)
    h = m.fit(x, y, epochs=3, callbacks=[sched], verbose=0)
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    m.compile(optimizer=optimizers.SGD(schedules.StepDecay(0.1, 2)), loss="mse")
    with pytest.raises(ValueError, match="already a schedule"):
        m.fit(x, y, epochs=1, callbacks=[sched], verbose=0)


def test_csv_and_json_loggers(tmp_path) -> None:
    x, y = make_blobs(32)
    m = _dense_model()
    m.fit(x, y, epochs=2, validation_data=(x, y), verbose=0,
          callbacks=[callbacks.CSVLogger(tmp_path / "h.csv"), callbacks.JSONLogger(tmp_path / "h.json")])
    rows = list(csv.DictReader(open(tmp_path / "h.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["epoch"] == [1, 2]
    assert float(rows[1]["val_loss"]) == doc["history"]["val_loss"][1] == m.history.history["val_loss"][1]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_loss_stops_with_epoch_and_batch(bad: float) -> None:
    x, y = make_blobs(40)
    if math.isnan(bad):
        x[25, 0] = bad  # sample 25 is in batch 4 (0-based 3) with batch_size 8
    else:
        y[25] = bad  # an infinite target makes the MSE infinite

    class Snap(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.weights = self.model.get_weights()

    m = smearnet.Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    m.compile(optimizer="sgd", loss="mse")
    snap = Snap()
    with pytest.raises(NonFiniteLossError, match=r"epoch 1/3, batch 4/5") as err:
        m.fit(x, y, epochs=3, batch_size=8, shuffle=False, callbacks=[snap], verbose=0)
    assert (err.value.epoch, err.value.batch) == (0, 3)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), snap.weights))
    assert all(np.isfinite(w).all() for w in m.get_weights())


def test_progress_output(capsys) -> None:
    x, y = make_blobs(40)
    m = _dense_model()
    m.fit(x, y, epochs=2, batch_size=16, verbose=0)
    m.evaluate(x, y)
    m.predict(x)
    assert capsys.readouterr().out == ""
    m.fit(x, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "3/3 [==============================]" in out and "/step - loss: " in out and " - accuracy: " in out
    m.evaluate(x, y, verbose=2)
    line = capsys.readouterr().out
    assert line.startswith("2/2 - ") and "loss: " in line and "accuracy: " in line


def test_early_stopping_patience_continues_across_a_resume(tmp_path) -> None:
    from smearnet.nn import save_checkpoint

    x, y = make_blobs(32)
    save_checkpoint(tmp_path / "ck.safetensors", _dense_model(), epoch=2,
                    history={"loss": [0.9, 0.8], "val_loss": [1.0, 2.0]})
    ck = load_checkpoint(tmp_path / "ck.safetensors")
    assert ck.history["val_loss"] == [1.0, 2.0]
    script = Script("val_loss", [1.0, 2.0, 3.0, 4.0, 5.0])
    stop = callbacks.EarlyStopping(patience=2)
    h = ck.model.fit(x, y, epochs=5, validation_data=(x, y), initial_epoch=ck.epoch,
                     callbacks=[script, stop], verbose=0)
    # epochs 0 and 1 are replayed from the checkpoint: best at 0, so epoch 2 is the 2nd miss
    assert stop.best_epoch == 0 and stop.stopped_epoch == 2 and h.epoch == [0, 1, 2]


class CrashAt(callbacks.Callback):
    """Stands for Ctrl-C at the start of ``epoch`` (after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_early_stopping_keeps_best_weights_across_a_checkpoint_resume(tmp_path) -> None:
    x, y = make_blobs(64)
    values = [3.0, 1.0, 2.0, 4.0, 5.0, 6.0]  # best at epoch 1, stop after epoch 4 (patience 3)

    def stop() -> callbacks.EarlyStopping:
        return callbacks.EarlyStopping(patience=3, restore_best_weights=True)

    full, script = _dense_model(), Script("val_loss", values)
    h_full = full.fit(x, y, epochs=6, validation_data=(x, y), callbacks=[script, stop()], verbose=0)
    assert len(h_full.history["loss"]) == 5
    assert all(np.array_equal(a, b) for a, b in zip(full.get_weights(), script.snapshots[1]))

    # interrupted after 3 epochs; the checkpoint is listed before EarlyStopping on purpose
    # (fit runs checkpoints last, so the file holds the early-stopping state of its epoch)
    ckpt = callbacks.ModelCheckpoint(tmp_path / "ck-{epoch}.safetensors")
    with pytest.raises(KeyboardInterrupt):
        _dense_model().fit(x, y, epochs=6, validation_data=(x, y), verbose=0,
                           callbacks=[Script("val_loss", values), ckpt, stop(), CrashAt(3)])
    ck = load_checkpoint(tmp_path / "ck-3.safetensors")
    assert ck.epoch == 3 and ck.callback_states["EarlyStopping[val_loss]"]["best_epoch"] == 1
    resumed = stop()
    h = ck.model.fit(x, y, epochs=6, validation_data=(x, y), initial_epoch=ck.epoch, verbose=0,
                     callbacks=[Script("val_loss", values), resumed])
    assert resumed.best_epoch == 1 and resumed.stopped_epoch == 4
    assert h.history == h_full.history
    assert all(np.array_equal(a, b) for a, b in zip(ck.model.get_weights(), full.get_weights(), strict=True))


def test_early_stopping_state_roundtrip() -> None:
    x, y = make_blobs(32)
    m = _dense_model()
    a = callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    m.fit(x, y, epochs=3, validation_data=(x, y), callbacks=[Script("val_loss", [2.0, 1.0, 1.5]), a], verbose=0)
    state = a.get_state()
    assert (state["best"], state["best_epoch"], state["wait"], state["stopped_epoch"]) == (1.0, 1, 1, None)
    b = callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    b.set_state(state)
    got = b.get_state()
    assert {k: v for k, v in got.items() if k != "best_weights"} == \
        {k: v for k, v in state.items() if k != "best_weights"}
    assert all(np.array_equal(u, v) for u, v in zip(got["best_weights"], state["best_weights"], strict=True))
    # the next fit continues from the set state instead of starting over
    m.fit(x, y, epochs=4, validation_data=(x, y), initial_epoch=3,
          callbacks=[Script("val_loss", [2.0, 1.0, 1.5, 1.2]), b], verbose=0)
    assert b.best_epoch == 1 and b.wait == 2
    with pytest.raises(ValueError, match="monitors 'val_loss'.*'val_accuracy'"):
        callbacks.EarlyStopping(monitor="val_accuracy").set_state(state)
    with pytest.raises(ValueError, match="not an EarlyStopping state"):
        b.set_state({"best": 1.0})


def test_checkpoint_without_early_stopping_state_replays_the_history(tmp_path) -> None:
    from smearnet.nn import save_checkpoint

    save_checkpoint(tmp_path / "ck.safetensors", _dense_model(), epoch=1, history={"val_loss": [1.0]},
                    callbacks=[callbacks.EarlyStopping(monitor="val_accuracy")])
    ck = load_checkpoint(tmp_path / "ck.safetensors")
    assert list(ck.callback_states) == ["EarlyStopping[val_accuracy]"]  # another key: not used
    stop = callbacks.EarlyStopping(patience=1)
    x, y = make_blobs(32)
    ck.model.fit(x, y, epochs=2, validation_data=(x, y), initial_epoch=1, verbose=0,
                 callbacks=[Script("val_loss", [1.0, 2.0]), stop])
    assert stop.best_epoch == 0 and stop.stopped_epoch == 1


def test_live_progress_bar_on_a_terminal(capsys, monkeypatch) -> None:
    import sys

    from smearnet.nn import progress

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(progress, "REFRESH_SECONDS", 0.0)
    x, y = make_blobs(40)
    _dense_model().fit(x, y, epochs=1, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "\r1/5 [======>                       ] - ETA: " in out and " - loss: " in out
    assert "\r5/5 [==============================] - " in out and out.count("\r") >= 5
