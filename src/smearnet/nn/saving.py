"""Save and load models and training checkpoints as single ``.safetensors`` files.

Layout of a file:

* tensors ``"<layer>.<weight>"``: every weight, float32, including batch-norm moving
  statistics; a checkpoint adds ``"_optimizer.<slot>.<i>"`` (slot array of trainable
  parameter i, in ``model.trainable_weights`` order) and ``"_callback.<key>.<entry>.<i>"``
  (array i of a callback state's list-of-arrays entry, e.g. EarlyStopping's best weights);
* header metadata (strings): ``format`` (``"smearnet.model"`` or ``"smearnet.checkpoint"``),
  ``format_version``, ``smearnet_version``, ``architecture`` (JSON of
  ``Sequential.get_config()``), ``compile`` (JSON or ``null``), ``user_metadata`` (JSON),
  for a checkpoint ``training`` (JSON: epoch, history, optimizer iterations, callback states
  with their arrays replaced by ``{"__arrays__": n}``), and ``checksum``:
  SHA-256 over every other metadata entry and every tensor's name, dtype, shape and bytes.

Loading never unpickles or imports anything named by the file: it parses JSON and only
instantiates classes registered in :mod:`smearnet.nn.registry`. The checksum makes any
corruption (a flipped byte anywhere, truncation) an error instead of silently wrong weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .callbacks import Callback, History, callback_states
from .layers.base import skip_initializers
from .model import Sequential

FORMAT_MODEL = "smearnet.model"
FORMAT_CHECKPOINT = "smearnet.checkpoint"
FORMAT_VERSION = "1"
OPT_PREFIX = "_optimizer."
CALLBACK_PREFIX = "_callback."


class ModelFileError(ValueError):
    """A model file that cannot be loaded: missing pieces, corrupted, or another format."""


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serializable")


def _dumps(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, default=_json_default, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be JSON-serializable: {e}") from None


def content_checksum(tensors: dict[str, np.ndarray], meta: dict[str, str]) -> str:
    """SHA-256 (hex) over every tensor's name, dtype, shape and bytes and every metadata entry
    except ``checksum`` itself: what a safetensors file written by smearnet carries to prove
    it is whole."""
    h = hashlib.sha256()

    def put(b: bytes) -> None:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)

    for k in sorted(tensors):
        a = tensors[k]
        put(k.encode())
        put(a.dtype.str.encode())
        put(json.dumps(list(a.shape)).encode())
        put(np.ascontiguousarray(a).tobytes())
    for k in sorted(meta):
        if k != "checksum":
            put(k.encode())
            put(meta[k].encode())
    return h.hexdigest()


def _write(path: str | os.PathLike, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    from safetensors.numpy import save_file

    from .. import __version__

    path = Path(path)
    meta = {**meta, "format_version": FORMAT_VERSION, "smearnet_version": __version__}
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    meta["checksum"] = content_checksum(tensors, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.chmod(tmp, 0o666 & ~_umask())  # safetensors creates 0600; give the usual mode
        os.replace(tmp, path)  # atomic: a reader never sees a half-written file
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _model_entries(model: Sequential, metadata: dict[str, Any] | None, fmt: str) -> tuple[dict, dict]:
    if not model.built:
        raise ValueError("cannot save a model that is not built yet (its weights do not exist)")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    meta = {"format": fmt,
            "architecture": _dumps({"class_name": "Sequential", "config": model.get_config()}, "architecture"),
            "compile": _dumps(model.compile_config(), "compile config"),
            "user_metadata": _dumps(metadata if metadata is not None else model.metadata, "metadata")}
    return dict(model.named_weights()), meta


def save_model(model: Sequential, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` (one safetensors file); ``metadata`` defaults to
    ``model.metadata``."""
    tensors, meta = _model_entries(model, metadata, FORMAT_MODEL)
    _write(path, tensors, meta)


def _is_array_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and \
        all(isinstance(a, np.ndarray) for a in value)


def _pack_states(states: dict[str, dict[str, Any]], tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    """Callback states for the JSON header; lists of float32 arrays go to ``tensors``."""
    packed: dict[str, Any] = {}
    for key, state in states.items():
        entries: dict[str, Any] = {}
        for name, value in state.items():
            if _is_array_list(value):
                for i, a in enumerate(value):
                    if a.dtype != np.float32:
                        raise ValueError(f"callback state {key}.{name}: arrays must be float32, got {a.dtype}")
                    tensors[f"{CALLBACK_PREFIX}{key}.{name}.{i}"] = a
                value = {"__arrays__": len(value)}
            entries[name] = value
        packed[key] = entries
    return packed


def _unpack_states(packed: dict[str, Any], tensors: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    def value(key: str, name: str, v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"__arrays__"}:
            return [tensors[f"{CALLBACK_PREFIX}{key}.{name}.{i}"] for i in range(int(v["__arrays__"]))]
        return v

    return {key: {name: value(key, name, v) for name, v in state.items()} for key, state in packed.items()}


def save_checkpoint(path: str | os.PathLike, model: Sequential, epoch: int,
                    history: History | dict[str, list[float]] | None = None,
                    metadata: dict[str, Any] | None = None,
                    callbacks: list[Callback] | None = None) -> None:
    """Write a model file plus what resuming needs: the optimizer's step count and slots,
    ``epoch`` (epochs completed), the history so far and the state (``get_state()``) of each
    of ``callbacks`` that has one, e.g. ``EarlyStopping`` with its best weights."""
    tensors, meta = _model_entries(model, metadata, FORMAT_CHECKPOINT)
    hist = history if isinstance(history, History) else History(history or {})
    training: dict[str, Any] = {"epoch": int(epoch), "history": hist.history,
                                "history_epochs": hist.epoch, "optimizer": None,
                                "callbacks": _pack_states(callback_states(callbacks or []), tensors)}
    if model.optimizer is not None:
        state = model.optimizer.get_state()
        training["optimizer"] = {"iterations": state["iterations"], "slots": sorted(state["slots"]),
                                 "n_params": len(model.optimizer.params)}
        for slot, arrays in state["slots"].items():
            for i, a in enumerate(arrays):
                tensors[f"{OPT_PREFIX}{slot}.{i}"] = a
    meta["training"] = _dumps(training, "training state")
    _write(path, tensors, meta)


def _read(path: str | os.PathLike) -> tuple[Path, dict[str, np.ndarray], dict[str, str]]:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types (and OSError, ValueError)
        raise ModelFileError(f"{path} is not a readable safetensors file (truncated, corrupted or another "
                             f"format): {e}") from None
    fmt = meta.get("format")
    if fmt not in (FORMAT_MODEL, FORMAT_CHECKPOINT):
        raise ModelFileError(f"{path} is a safetensors file but not a smearnet model "
                             f"(format {fmt!r}, expected {FORMAT_MODEL!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format version {meta.get('format_version')!r}; this "
                             f"smearnet reads version {FORMAT_VERSION}")
    if meta.get("checksum") != content_checksum(tensors, meta):
        raise ModelFileError(f"{path} is corrupted: its checksum does not match its contents")
    return path, tensors, meta


def _loads(path: Path, meta: dict[str, str], key: str) -> Any:
    try:
        return json.loads(meta[key])
    except (KeyError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: metadata entry {key!r} is missing or not JSON ({e})") from None


def _build(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, str], compile: bool) -> Sequential:
    arch = _loads(path, meta, "architecture")
    try:
        if not isinstance(arch, dict) or arch.get("class_name") != "Sequential":
            raise ValueError(f"unsupported model class {arch.get('class_name') if isinstance(arch, dict) else arch!r}")
        with skip_initializers():  # the weights come from the file: no random draws
            model = Sequential.from_config(arch["config"])
            model.build()
    except (ValueError, TypeError, KeyError, MemoryError, OverflowError) as e:
        raise ModelFileError(f"{path}: cannot rebuild the architecture: {e!r}") from None
    names = model.named_weights()
    stored = {k: v for k, v in tensors.items() if not k.startswith((OPT_PREFIX, CALLBACK_PREFIX))}
    if set(names) != set(stored):
        missing, extra = sorted(set(names) - set(stored)), sorted(set(stored) - set(names))
        raise ModelFileError(f"{path}: weights do not match the architecture (missing {missing}, unexpected {extra})")
    for layer in model.layers:
        for wname, target in layer.named_weights().items():
            value = stored[f"{layer.name}.{wname}"]
            if value.shape != target.shape or value.dtype != np.float32:
                raise ModelFileError(f"{path}: weight {layer.name}.{wname} is {value.dtype}{list(value.shape)}, "
                                     f"expected float32{list(target.shape)}")
            layer.assign(wname, value)
    model.metadata = _loads(path, meta, "user_metadata") or {}
    config = _loads(path, meta, "compile")
    if compile and config is not None:
        try:
            model.compile(optimizer=config["optimizer"], loss=config["loss"], metrics=config["metrics"])
        except (ValueError, TypeError, KeyError) as e:
            raise ModelFileError(f"{path}: cannot restore the compile settings: {e}") from None
    return model


def load_model(path: str | os.PathLike, compile: bool = True) -> Sequential:
    """Rebuild a model saved by ``model.save`` (or a checkpoint) with bit-identical weights,
    compiled as it was (``compile=False`` skips that) and with ``.metadata`` restored.

    Raises ``FileNotFoundError`` for a missing file and :class:`ModelFileError` (a
    ``ValueError``) naming the file for a truncated, corrupted or foreign file.
    """
    path, tensors, meta = _read(path)
    return _build(path, tensors, meta, compile)


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns. Resume with
    ``ck.model.fit(..., epochs=total, initial_epoch=ck.epoch)``. ``callback_states`` maps a
    callback's ``state_key`` (e.g. ``"EarlyStopping[val_loss]"``) to its saved state."""

    model: Sequential
    epoch: int
    history: dict[str, list[float]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    callback_states: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint written by ``ModelCheckpoint`` / :func:`save_checkpoint`: the model
    (compiled, optimizer state restored, ``model.history`` and ``model.callback_states`` set
    so ``fit(..., initial_epoch=ck.epoch)`` continues them), the number of epochs completed,
    the history, the user metadata and the callback states."""
    path, tensors, meta = _read(path)
    if meta["format"] != FORMAT_CHECKPOINT:
        raise ModelFileError(f"{path} is a model file, not a training checkpoint (use load_model)")
    model = _build(path, tensors, meta, compile=True)
    training = _loads(path, meta, "training")
    try:
        epoch = int(training["epoch"])
        history = History(training["history"], training["history_epochs"])
        opt = training["optimizer"]
        if opt is not None:
            if model.optimizer is None:
                raise ValueError("optimizer state without compile settings")
            n = int(opt["n_params"])
            slots = {s: [tensors[f"{OPT_PREFIX}{s}.{i}"] for i in range(n)] for s in opt["slots"]}
            model.optimizer.set_state({"iterations": int(opt["iterations"]), "slots": slots})
        states = _unpack_states(training.get("callbacks") or {}, tensors)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ModelFileError(f"{path}: invalid training state: {e}") from None
    model.history = history
    model.callback_states = {"epoch": epoch, "states": states}
    return Checkpoint(model=model, epoch=epoch, history=history.history, metadata=model.metadata,
                      callback_states=states)
