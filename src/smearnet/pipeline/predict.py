"""Screening loose cell images with a trained model: files and folders in, probabilities out.

Folders are searched recursively; files whose names are not images (Thumbs.db, notes) are
ignored, images that cannot be decoded are reported and skipped, never fatal.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import inference

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm"}


@dataclass
class Predictions:
    """Per-image results: ``paths`` (N,), ``probabilities`` (N,) of Parasitized, ``labels``
    (N,) 0/1 at ``threshold``; ``skipped`` lists (path, reason) of files not classified."""

    paths: list[str]
    probabilities: np.ndarray
    labels: np.ndarray
    threshold: float
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_parasitized(self) -> int:
        return int(self.labels.sum())

    def summary(self) -> str:
        """The line a lab reports: ``412 cells, 23 parasitized (5.6%)``."""
        return summary_line(len(self.paths), self.n_parasitized, len(self.skipped))


def summary_line(n: int, n_pos: int, n_skipped: int = 0) -> str:
    """``"412 cells, 23 parasitized (5.6%)"`` (+ ``", 2 files skipped"``)."""
    pct = 100.0 * n_pos / n if n else 0.0
    line = f"{n} cell{'s' if n != 1 else ''}, {n_pos} parasitized ({pct:.1f}%)"
    if n_skipped:
        line += f", {n_skipped} file{'s' if n_skipped != 1 else ''} skipped"
    return line


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def escape_path(path: str | Path) -> str:
    """A path for one tab-separated output line: backslash, tab, newline and carriage return
    written as ``\\\\``, ``\\t``, ``\\n``, ``\\r`` (a file name may hold any of them)."""
    return str(path).translate(_ESCAPES)


def is_image_name(name: str) -> bool:
    base = os.path.basename(name)
    return not base.startswith(".") and Path(base).suffix.lower() in IMAGE_SUFFIXES


def collect_images(paths: list[str | Path]) -> list[Path]:
    """Image files named directly or found (recursively, sorted) under the named folders.

    A file named directly is kept whatever its suffix (it is then decoded or reported). A file
    reached twice (a folder and a file in it, overlapping folders, a symlink to a listed file)
    is listed once, where it was first reached, so no cell is counted twice.

    Raises:
        FileNotFoundError: a named path does not exist (message names it).
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(f: Path) -> None:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)

    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(f for f in p.rglob("*") if f.is_file() and is_image_name(f.name)
                            and not any(part.startswith(".") for part in f.relative_to(p).parts[:-1])):
                add(f)
        elif p.exists():
            add(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def predict_files(model: Any, files: list[Path], batch_size: int = 512,
                  progress: bool = False) -> Predictions:
    """Decode, resize to the model's size, and classify ``files`` in chunks of ``batch_size``."""
    from smearnet.data import load_images

    meta = inference.info(model)
    size, thr = int(meta["image_size"]), float(meta["threshold"])
    kept_paths: list[str] = []
    probs: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    bar = None
    if progress and len(files) > batch_size:
        from tqdm import tqdm
        bar = tqdm(total=len(files), unit="img", desc="predict", leave=False)
    for start in range(0, len(files), batch_size):
        chunk = [str(f) for f in files[start:start + batch_size]]
        images, kept, skip = load_images(chunk, size, warn=False)
        skipped.extend((str(p), str(r)) for p, r in skip)
        if len(kept):
            probs.append(inference.predict_proba(model, images))
            kept_paths.extend(chunk[i] for i in np.asarray(kept))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    p = np.concatenate(probs) if probs else np.zeros(0)
    return Predictions(kept_paths, p, (p >= thr).astype(np.int64), thr,
                       list(meta.get("class_names", inference.CLASS_NAMES)), skipped)


def write_csv(path: str | Path, pred: Predictions) -> Path:
    """``path,probability_parasitized,label`` per classified image (label = class name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")  # csv quotes names holding commas or newlines
        w.writerow(["path", "probability_parasitized", "label"])
        for p, q, y in zip(pred.paths, pred.probabilities, pred.labels):
            w.writerow([p, f"{q:.6f}", pred.class_names[int(y)]])
    return path
