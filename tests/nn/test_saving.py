"""Save / load: one safetensors file, bit-identical predictions, compile settings and
metadata kept, and every kind of damaged or foreign file rejected with a clear error."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from nn_builders import build_small_cnn, make_images

import smearnet
from smearnet import layers, losses, optimizers
from smearnet.nn import ModelFileError, load_model
from smearnet.nn.saving import FORMAT_MODEL, _write


@pytest.fixture
def trained(tmp_path):
    x, y = make_images(16)
    m = build_small_cnn(seed=2)
    m.compile(optimizer=optimizers.AdamW(3e-3, weight_decay=0.01),
              loss=losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
              metrics=["accuracy", "auc", "precision"])
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "model.safetensors"
    m.save(path, metadata={"image_size": 8, "threshold": np.float32(0.25), "classes": ["U", "P"]})
    return m, path, x, y


def test_round_trip_is_bit_identical(trained) -> None:
    m, path, x, y = trained
    bn = m.layers[1]
    assert bn.moving_mean.any()  # trained: the running statistics must travel too
    loaded = smearnet.load_model(path)
    assert np.array_equal(loaded.predict(x), m.predict(x))
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), m.get_weights()))
    assert loaded.metadata == {"image_size": 8, "threshold": 0.25, "classes": ["U", "P"]}
    assert loaded.get_config() == m.get_config()
    assert isinstance(loaded.optimizer, optimizers.AdamW) and loaded.optimizer.get_config() == m.optimizer.get_config()
    assert loaded.loss.get_config() == m.loss.get_config()
    assert [mt.name for mt in loaded.compiled_metrics] == ["accuracy", "auc", "precision"]
    assert loaded.compiled_metrics[0].effective_threshold == 0.0
    assert loaded.evaluate(x, y) == m.evaluate(x, y)
    assert load_model(path, compile=False).optimizer is None


def test_uncompiled_and_unbuilt_models(tmp_path) -> None:
    m = smearnet.Sequential([layers.Dense(2, input_shape=(3,))], seed=1)
    m.save(tmp_path / "a.safetensors")
    assert load_model(tmp_path / "a.safetensors").loss is None
    with pytest.raises(ValueError, match="not built"):
        smearnet.Sequential([layers.Dense(2)]).save(tmp_path / "b.safetensors")
    with pytest.raises(ValueError, match="JSON"):
        m.save(tmp_path / "c.safetensors", metadata={"f": object()})


def test_every_flipped_header_byte_is_detected(trained, tmp_path) -> None:
    _, path, _, _ = trained
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    bad = tmp_path / "bad.safetensors"
    for i in range(header_end):
        corrupt = bytearray(data)
        corrupt[i] ^= 0xFF if i % 2 else 0x01
        bad.write_bytes(bytes(corrupt))
        with pytest.raises(ValueError, match="bad.safetensors") as err:
            load_model(bad)
        assert any(w in str(err.value) for w in ("corrupted", "not a readable", "not a smearnet", "version"))


def test_flipped_weight_byte_and_truncation(trained, tmp_path) -> None:
    _, path, _, _ = trained
    data = path.read_bytes()
    bad = tmp_path / "w.safetensors"
    corrupt = bytearray(data)
    corrupt[-5] ^= 0x10  # inside the last tensor's bytes
    bad.write_bytes(bytes(corrupt))
    with pytest.raises(ModelFileError, match="w.safetensors is corrupted: its checksum"):
        load_model(bad)
    for n in (0, 5, 100, len(data) // 2, len(data) - 1):
        bad.write_bytes(data[:n])
        with pytest.raises(ModelFileError, match="w.safetensors is not a readable safetensors file"):
            load_model(bad)


def test_foreign_files_are_rejected_and_never_unpickled(tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    p = tmp_path / "evil.safetensors"
    p.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="evil.safetensors is not a readable safetensors file"):
        load_model(p)
    assert not marker.exists()
    other = tmp_path / "other.safetensors"
    from safetensors.numpy import save_file
    save_file({"w": np.zeros(3, np.float32)}, str(other))
    with pytest.raises(ModelFileError, match="not a smearnet model"):
        load_model(other)
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "absent.safetensors")
    with pytest.raises(ModelFileError, match="a model file, not a training checkpoint"):
        m = smearnet.Sequential([layers.Dense(1, input_shape=(2,))])
        m.save(tmp_path / "m.safetensors")
        smearnet.load_checkpoint(tmp_path / "m.safetensors")


def test_unknown_layer_class_in_a_valid_file(tmp_path) -> None:
    arch = ('{"class_name":"Sequential","config":{"input_shape":[2],"layers":[{"class_name":"os.system",'
            '"config":{"name":"x"}}],"name":"s","seed":0}}')
    p = tmp_path / "u.safetensors"
    _write(p, {}, {"format": FORMAT_MODEL, "architecture": arch, "compile": "null", "user_metadata": "{}"})
    with pytest.raises(ModelFileError, match="unknown layer 'os.system'"):
        load_model(p)


def test_absurd_architecture_in_a_valid_file(tmp_path) -> None:
    arch = ('{"class_name":"Sequential","config":{"input_shape":[2],"layers":[{"class_name":"Dense",'
            '"config":{"name":"d","units":1000000000000}}],"name":"s","seed":0}}')
    p = tmp_path / "big.safetensors"
    _write(p, {}, {"format": FORMAT_MODEL, "architecture": arch, "compile": "null", "user_metadata": "{}"})
    with pytest.raises(ModelFileError, match="big.safetensors: cannot rebuild the architecture"):
        load_model(p)


def test_model_file_gets_normal_permissions(tmp_path):
    import os

    import smearnet

    model = smearnet.Sequential([smearnet.layers.Dense(2)], seed=0)
    model.build((None, 3)) if hasattr(model, "build") else None
    path = tmp_path / "m.safetensors"
    old = os.umask(0o022)
    try:
        model.save(path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
