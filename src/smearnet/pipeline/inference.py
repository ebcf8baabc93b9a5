"""A trained classifier as a tool: load it with its metadata, turn cells into probabilities.

Everything needed to use a model travels in its ``.safetensors`` metadata (written by
``smearnet train``): ``image_size``, ``threshold``, ``output`` ("logit" -> sigmoid, "linear" ->
clipped to [0, 1], as the assignment's MSE model), ``preprocessing`` and ``class_names``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MODEL = "models/default.safetensors"
CLASS_NAMES = ["Uninfected", "Parasitized"]


class ModelFileError(ValueError):
    """The file is missing or is not a smearnet classifier (message names the file)."""


def default_model_path() -> Path:
    """The model shipped inside the package (``smearnet/models/default.safetensors``)."""
    return Path(str(resources.files("smearnet") / DEFAULT_MODEL))


def model_metadata(image_size: int, threshold: float, output: str, preset: str,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metadata dict saved with a classifier (JSON-able)."""
    meta = {
        "task": "malaria-cell-classifier",
        "image_size": int(image_size),
        "threshold": float(threshold),
        "output": output,
        "preprocessing": f"RGB, resized to {image_size}x{image_size} (bilinear), scaled to [0, 1]",
        "class_names": CLASS_NAMES,
        "positive_class": "Parasitized",
        "preset": preset,
    }
    meta.update(extra or {})
    return meta


def load_classifier(path: str | Path | None = None) -> Any:
    """Load a classifier saved by ``smearnet train``; ``None`` = the packaged default model.

    Raises:
        ModelFileError: the file is absent, unreadable, or lacks the classifier metadata.
    """
    import smearnet

    shipped = path is None
    path = Path(default_model_path() if shipped else path)
    if not path.exists():
        if shipped:
            raise ModelFileError(f"no model shipped at {path}; train one with `smearnet train` and pass "
                                 "--model RUN_DIR/model.safetensors")
        raise ModelFileError(f"{path}: no such model file")
    if path.is_dir():
        if (path / "model.safetensors").is_file():
            path = path / "model.safetensors"
        elif _is_training_checkpoint(path / "state.safetensors"):
            raise ModelFileError(_checkpoint_message(path / "state.safetensors"))
        else:
            raise ModelFileError(f"{path} is a folder without model.safetensors")
    try:
        model = smearnet.load_model(path)
    except Exception as exc:  # any failure to parse means "not a model"
        if _is_training_checkpoint(path):
            raise ModelFileError(_checkpoint_message(path)) from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for name in (str(path), path.name):  # name the file once, not again inside the reason
            if reason.startswith(name):
                reason = reason[len(name):].lstrip(" :")
                reason = reason[3:] if reason.startswith("is ") else reason
                break
        reason = reason[:200]
        raise ModelFileError(f"{path} is not a smearnet model ({reason})") from None
    meta = getattr(model, "metadata", None) or {}
    if "image_size" not in meta:
        raise ModelFileError(f"{path} is a network without classifier metadata (image_size, threshold); "
                             "use a model written by `smearnet train`")
    return model


def _is_training_checkpoint(path: Path) -> bool:
    """True for a run's ``checkpoint/state.safetensors`` (training state, not a model)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except Exception:  # noqa: BLE001 - not a safetensors file at all
        return False
    return "state" in meta and "format" not in meta


def _checkpoint_message(path: Path) -> str:
    """What to use instead of a training checkpoint given as a model."""
    run = path.parent.parent if path.parent.name == "checkpoint" else None
    if run is None:
        return (f"{path} is a training checkpoint, not a model: use the model.safetensors of the "
                "run it belongs to")
    model = run / "model.safetensors"
    if model.is_file():
        return f"{path} is a training checkpoint, not a model: use the run's model, {model}"
    return (f"{path} is a training checkpoint, not a model; the run's model ({model}) is written "
            f"when it finishes: continue it with `smearnet train --resume --out {run}`")


def info(model: Any) -> dict[str, Any]:
    """The classifier metadata with defaults filled in."""
    meta = dict(getattr(model, "metadata", None) or {})
    meta.setdefault("threshold", 0.5)
    meta.setdefault("output", "logit")
    meta.setdefault("class_names", CLASS_NAMES)
    return meta


def to_probability(raw: np.ndarray, output: str) -> np.ndarray:
    """Raw network outputs (N, 1) -> probability of Parasitized (N,) float64."""
    raw = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)[:, 0]
    if output == "logit":
        return 0.5 * (1.0 + np.tanh(0.5 * raw))  # sigmoid without overflow warnings
    if output == "linear":
        return np.clip(raw, 0.0, 1.0)
    if output == "probability":
        return raw
    raise ValueError(f"unknown model output kind {output!r}")


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> float32 NHWC in [0, 1]."""
    return np.asarray(images, dtype=np.float32) * np.float32(1.0 / 255.0)


def auto_batch(image_size: int) -> int:
    """A batch size that keeps the first layer's activations around 100 MB at most
    (256 at 64 px, 59 at 133 px): larger batches only thrash the cache."""
    return int(max(8, min(256, 2 ** 20 // max(1, image_size * image_size))))


TTA_VIEWS = {None: 1, "none": 1, "flips": 4, "dihedral": 8}


def views(x: np.ndarray, tta: str | None) -> list[np.ndarray]:
    """The test-time-augmentation views of a batch (N, H, W, C): identity only, the 4 flips,
    or the 8 symmetries of the square (flips x quarter turns). A cell has no up or left."""
    if TTA_VIEWS.get(tta) is None:
        raise ValueError(f"tta must be one of {sorted(k for k in TTA_VIEWS if k)}, got {tta!r}")
    if TTA_VIEWS[tta] == 1:
        return [x]
    flips = [x, x[:, :, ::-1], x[:, ::-1], x[:, ::-1, ::-1]]
    if tta == "flips":
        return flips
    return flips + [np.swapaxes(v, 1, 2) for v in flips]


def predict_raw(model: Any, images: np.ndarray, batch_size: int | None = None,
                tta: str | None = "model", progress: bool = False,
                workers: int | None = None) -> np.ndarray:
    """Raw network output (N,) float64 for uint8 images (N, S, S, 3) at the model's size.

    Scales one batch at a time, so a memory-mapped cache is never loaded whole as float32.
    ``tta``: "model" = as the model's metadata says (default none), else None / "flips" /
    "dihedral": the raw outputs of the views are averaged. ``progress``: a bar on stderr.
    ``workers``: threads that each run the network on a share of every batch, with one BLAS
    thread each (default: the usable cores). The im2col copies, batch norm and pooling passes
    are single-threaded NumPy, so one forward pass on all cores leaves most of them idle;
    shards in threads (NumPy releases the GIL) keep every core busy. Same outputs either way.
    """
    if tta == "model":
        tta = (getattr(model, "metadata", None) or {}).get("tta")
    n = len(images)
    batch_size = batch_size or auto_batch(images.shape[1] if images.ndim == 4 else 64)
    if workers is None:
        from smearnet.data.parallel import usable_cores
        workers = usable_cores()
    workers = max(1, min(int(workers), batch_size // MIN_SHARD))
    raw = np.empty(n, dtype=np.float64)
    bar = None
    if progress and n > batch_size:
        from tqdm import tqdm
        bar = tqdm(total=n, unit="img", desc="scoring", leave=False)
    with _Shards(model, workers if n >= 2 * MIN_SHARD else 1) as forward:
        for start in range(0, n, batch_size):
            batch = scale(images[start:start + batch_size])
            raw[start:start + len(batch)] = np.mean([forward(v) for v in views(batch, tta)], axis=0)
            if bar is not None:
                bar.update(len(batch))
    if bar is not None:
        bar.close()
    return raw


MIN_SHARD = 32  # images: below this a shard's fixed costs outweigh the parallel gain


class _Shards:
    """``forward(x)``: the model's first output for a batch (B, ...) -> (B,), computed as
    ``workers`` shards in threads, with NumPy's BLAS on one thread meanwhile (restored after)."""

    def __init__(self, model: Any, workers: int) -> None:
        self.model, self.workers = model, workers
        self.pool: Any = None
        self.blas_threads: int | None = None

    def __enter__(self) -> Callable[[np.ndarray], np.ndarray]:
        if self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            from smearnet.autodiff import blas
            self.blas_threads = blas.get_threads()
            blas.set_threads(1)
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="smearnet-predict")
        return self.forward

    def __exit__(self, *exc: Any) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            from smearnet.autodiff import blas
            if self.blas_threads is not None:
                blas.set_threads(self.blas_threads)

    def _one(self, x: np.ndarray) -> np.ndarray:
        out = self.model.predict(np.ascontiguousarray(x), batch_size=len(x))
        return np.asarray(out).reshape(len(x), -1)[:, 0]

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.pool is None or len(x) < 2 * MIN_SHARD:
            return self._one(x)
        shards = np.array_split(x, min(self.workers, len(x) // MIN_SHARD))
        return np.concatenate(list(self.pool.map(self._one, shards)))


def predict_proba(model: Any, images: np.ndarray, batch_size: int | None = None,
                  tta: str | None = "model") -> np.ndarray:
    """Probability of Parasitized for uint8 images (N, S, S, 3) at the model's size -> (N,)."""
    return to_probability(predict_raw(model, images, batch_size, tta), info(model)["output"])
