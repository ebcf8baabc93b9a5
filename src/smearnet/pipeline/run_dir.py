"""The run folder: where one training run keeps everything, and how its files are written.

Layout (``runs/<preset>-<timestamp>/`` by default)::

    config.json         preset, resolved settings, data source, command, versions
    split.json          which image (and slide) went to train / val / test
    history.json        per-epoch loss and metrics, epoch times, kept epoch (best_epoch)
    checkpoint/         state after the last finished epoch (for --resume; kept when done, so
                        a larger --epochs can continue a finished run)
    model.safetensors   the final model (best weights) with threshold etc. in its metadata
    metrics.json        test metrics, overfitting verdict, timing
    curves.png confusion.png roc.png   plots
    errors/             false positives / negatives with saliency maps (for the report)
    report.html         everything above in one self-contained page

Files are written atomically (temporary file, then rename), so an interruption never leaves a
half-written checkpoint behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

CONFIG = "config.json"
SPLIT = "split.json"
HISTORY = "history.json"
METRICS = "metrics.json"
MODEL = "model.safetensors"
REPORT = "report.html"
CHECKPOINT = "checkpoint"
ERRORS = "errors"
CURVES, CONFUSION, ROC = "curves.png", "confusion.png", "roc.png"
LOCK = ".lock"


def is_finished(run: str | Path) -> bool:
    """A run is finished when its model, metrics and report are written (the report last), so
    one interrupted while it was being scored is not mistaken for a finished one."""
    run = Path(run)
    return all((run / name).is_file() for name in (MODEL, METRICS, REPORT))


@contextlib.contextmanager
def lock_run(run: str | Path) -> Iterator[None]:
    """Hold ``run/.lock`` exclusively (``flock``) inside the ``with`` block: a second
    ``smearnet train`` (or ``--resume``) on the same folder is refused (:class:`RunBusyError`)
    instead of training into it at the same time. The lock goes with the process (no stale
    lock files to clean). Where ``fcntl`` is missing (Windows) no lock is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(Path(run) / LOCK, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunBusyError(f"{run} is in use by another smearnet process (a training or "
                               "--resume still running); wait for it to end or stop it first") from None
        yield


def new_run_dir(preset: str, out: str | Path | None = None, root: str | Path = "runs") -> Path:
    """``out`` if given, else ``root/<preset>-<YYYYmmdd-HHMMSS>`` (suffixed if it exists)."""
    if out is not None:
        return Path(out)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{preset}-{stamp}"
    k = 1
    while path.exists():
        k += 1
        path = Path(root) / f"{preset}-{stamp}-{k}"
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:  # never leave the temporary file behind
        tmp.unlink(missing_ok=True)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, float) and x != x:  # NaN is not JSON
        return None
    return x


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` (numpy values allowed; NaN -> null) as indented JSON, atomically."""
    path = Path(path)
    _atomic_write(path, (json.dumps(_jsonable(obj), indent=2) + "\n").encode())
    return path


class RunFileError(ValueError):
    """A run file that exists but cannot be used (half-written JSON...); one line naming it."""


class RunBusyError(RunFileError):
    """The run folder's lock is held by another process (one line naming the folder)."""


def read_json(path: str | Path) -> Any:
    """The JSON in ``path``; :class:`RunFileError` naming the file when it is not valid JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                           f"{exc.colno}; half-written or edited?)") from None
    except UnicodeDecodeError:
        raise RunFileError(f"{path}: not valid JSON (not UTF-8 text)") from None


# -- nested state (dicts / lists of arrays and scalars) <-> one safetensors file ---------------
def _pack(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        key = f"t{len(arrays)}"
        arrays[key] = np.ascontiguousarray(obj)
        return {"__array__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_pack(k, prefix, arrays), _pack(v, prefix, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_pack(v, prefix, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_pack(v, prefix, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def _unpack(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__tuple__" in obj:
            return tuple(_unpack(v, arrays) for v in obj["__tuple__"])
        return {_unpack(k, arrays): _unpack(v, arrays) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


def save_state(path: str | Path, state: Any) -> Path:
    """Store a nested structure of dicts/lists/tuples, numpy arrays and scalars (safetensors)."""
    from safetensors.numpy import save

    from smearnet.nn.saving import content_checksum

    arrays: dict[str, np.ndarray] = {}
    skeleton = _pack(state, "", arrays)
    meta = {"state": json.dumps(skeleton)}
    meta["checksum"] = content_checksum(arrays, meta)
    data = save(arrays, metadata=meta)
    path = Path(path)
    _atomic_write(path, data)
    return path


def load_state(path: str | Path) -> Any:
    """Inverse of :func:`save_state`; :class:`RunFileError` naming the file when it is
    truncated, corrupted (its checksum does not match) or not a state file."""
    from safetensors import safe_open

    from smearnet.nn.saving import content_checksum

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
            arrays = {k: f.get_tensor(k) for k in f.keys()}
        skeleton = json.loads(meta["state"])
    except Exception as e:  # noqa: BLE001 - safetensors' own errors, OSError, KeyError, JSON
        raise RunFileError(f"{path} is damaged (truncated, corrupted or not a smearnet training "
                           f"state): {type(e).__name__}: {e}") from None
    if "checksum" in meta and meta["checksum"] != content_checksum(arrays, meta):
        raise RunFileError(f"{path} is damaged: its checksum does not match its contents")
    return _unpack(skeleton, arrays)


# -- provenance --------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with every run."""
    import matplotlib
    import sklearn

    import smearnet

    try:
        import safetensors
        st = safetensors.__version__
    except Exception:  # pragma: no cover
        st = "?"
    return {
        "smearnet": smearnet.__version__, "python": platform.python_version(),
        "numpy": np.__version__, "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__, "safetensors": st,
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
