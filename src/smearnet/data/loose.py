"""Loose image files (for prediction): no labels, no cache, skip what cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .decode import decode_resized
from .errors import ImageError, SourceError, warn_skipped
from .sources import is_image_name


def list_images(path: str | os.PathLike) -> list[str]:
    """One image file, or every image file under a folder (sorted; non-images ignored).

    Raises :class:`SourceError` for a missing path or a folder holding no images.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return [str(p)]
    if not p.is_dir():
        raise SourceError(f"{p}: no such file or folder")
    found = sorted(str(f) for f in p.rglob("*")
                   if f.is_file() and is_image_name(f.name)
                   and not any(part.startswith(".") for part in f.relative_to(p).parts))
    if not found:
        raise SourceError(f"{p}: no image files in this folder")
    return found


def load_images(paths: list[str] | np.ndarray, image_size: int,
                interpolation: str = "bilinear", warn: bool = True,
                ) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Decode and resize image files.

    Returns ``(images, kept, skipped)``: images uint8 (K, S, S, 3) for the K readable files,
    ``kept`` int64 (K,) their positions in ``paths``, ``skipped`` [(path, reason)] for the
    rest (each also warned about unless ``warn=False``).
    """
    out = np.empty((len(paths), image_size, image_size, 3), dtype=np.uint8)
    kept: list[int] = []
    skipped: list[tuple[str, str]] = []
    for i, path in enumerate(paths):
        try:
            out[len(kept)] = decode_resized(str(path), image_size, interpolation, str(path))
            kept.append(i)
        except ImageError as exc:
            skipped.append((str(path), exc.reason))
    if warn:
        warn_skipped(skipped)
    return out[:len(kept)], np.array(kept, dtype=np.int64), skipped
