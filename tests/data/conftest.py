"""Synthetic malaria-like data sets drawn by the tests themselves (no image is committed)."""

from __future__ import annotations

import struct
import types
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# File-name stems in the forms DATA.md lists; the slide key is the leading C<digits>.
STEMS = {
    "C100P61ThinF": "C100", "C39P4thinF": "C39", "C68P29N": "C68", "C182P143NThinF": "C182",
    "C201ThinF": "C201", "C1_thinF": "C1", "C12NThinF": "C12", "C47P8thin": "C47",
    "C47P8thinOriginalOlympusCX21": "C47", "C99P60ThinF": "C99",
}


def cell(rng: np.random.Generator, h: int = 40, w: int = 36, parasitized: bool = False) -> np.ndarray:
    """uint8 (h, w, 3): a pink disc on black, with a dark purple dot when parasitized."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = h / 2, w / 2
    inside = ((yy - cy) / (0.45 * h)) ** 2 + ((xx - cx) / (0.45 * w)) ** 2 <= 1
    img = np.zeros((h, w, 3), dtype=np.float64)
    img[inside] = [220, 150, 170]
    img[inside] += rng.normal(0, 8, (int(inside.sum()), 3))
    if parasitized:
        dot = ((yy - cy - 3) ** 2 + (xx - cx + 2) ** 2) <= (min(h, w) / 8) ** 2
        img[dot & inside] = [90, 40, 120]
    return np.clip(img, 0, 255).astype(np.uint8)


def write_png(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="PNG")
    return path


def png_bytes(arr: np.ndarray) -> bytes:
    import io
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def raw_png(arr: np.ndarray, bit_depth: int, color_type: int) -> bytes:
    """A PNG written by hand (for 16-bit samples, which Pillow cannot write in RGB).

    arr: uint16 (H, W) for grey (color_type 0) or (H, W, 3) for RGB (color_type 2)."""
    h, w = arr.shape[:2]

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = arr.astype(">u2" if bit_depth == 16 else "u1").reshape(h, -1).tobytes()
    stride = len(rows) // h
    raw = b"".join(b"\x00" + rows[i * stride:(i + 1) * stride] for i in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def make_tree(root: Path, slides_per_class: dict[str, list[str]] | None = None, per_slide: int = 3,
              seed: int = 0, class_names: tuple[str, str] = ("Parasitized", "Uninfected"),
              size_jitter: bool = True) -> dict[str, int]:
    """Write a data set: per class, ``per_slide`` images for each slide stem. Returns counts."""
    rng = np.random.default_rng(seed)
    if slides_per_class is None:
        slides_per_class = {
            class_names[0]: ["C100P61ThinF", "C39P4thinF", "C68P29N", "C47P8thin",
                             "C47P8thinOriginalOlympusCX21", "C99P60ThinF"],
            class_names[1]: ["C100P61ThinF", "C39P4thinF", "C68P29N", "C201ThinF", "C1_thinF",
                             "C12NThinF", "C182P143NThinF", "C99P60ThinF"],
        }
    counts = {}
    for cls, stems in slides_per_class.items():
        n = 0
        for stem in stems:
            for k in range(per_slide):
                h, w = (int(rng.integers(30, 50)), int(rng.integers(30, 50))) if size_jitter else (40, 40)
                img = cell(rng, h, w, parasitized=cls.lower() == "parasitized")
                write_png(root / cls / f"{stem}_IMG_20150918_1441{k:02d}_cell_{k}.png", img)
                n += 1
        counts[cls] = n
    return counts


def zip_tree(folder: Path, zip_path: Path, prefix: str = "", extra: dict[str, bytes] | None = None) -> Path:
    """Zip every file under ``folder`` with member names ``prefix + relative path``."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, prefix + f.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return zip_path


@pytest.fixture
def synth() -> types.SimpleNamespace:
    """The helpers above, as a fixture (test modules need not import this conftest)."""
    return types.SimpleNamespace(cell=cell, write_png=write_png, png_bytes=png_bytes,
                                 raw_png=raw_png, make_tree=make_tree, zip_tree=zip_tree,
                                 STEMS=STEMS)


@pytest.fixture
def small_set(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A folder data set of 42 images over 10 slide names (9 slide keys)."""
    root = tmp_path / "cells"
    counts = make_tree(root)
    return root, counts
