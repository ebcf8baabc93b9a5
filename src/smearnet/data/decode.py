"""Decoding one image file to 8-bit RGB, and resizing it, with Pillow.

Every mode becomes ``uint8 (H, W, 3)``: grayscale and palette images are expanded, alpha is
composited onto black (the background of these cell crops), 16-bit samples keep their high
byte. Pillow's decompression-bomb guard stays on, and its warning is treated as an error (a
cell crop is a few hundred pixels across). Any failure raises :class:`ImageError` naming the
file; a zero-byte or truncated file fails rather than yielding a half-grey picture.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageError

INTERPOLATIONS = {
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"  # the last 8 bytes of every complete PNG
_EXIF_FORMATS = {"JPEG", "MPO", "TIFF", "WEBP"}  # where an orientation tag may rotate the image
_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError,
           Image.DecompressionBombError, Image.DecompressionBombWarning)


def _open(data: bytes | str | os.PathLike, name: str) -> Image.Image:
    """Open and fully load an image; errors become ImageError(name, reason)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        try:
            with open(data, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ImageError(name, exc.strerror or str(exc)) from None
    if len(data) == 0:
        raise ImageError(name, "empty file (0 bytes)")
    if data[:8] == PNG_SIGNATURE and PNG_END not in data[-64:]:
        # Pillow would accept a PNG cut inside its last chunks; a file that lost its end is
        # not trusted (DATA.md: skip truncated images)
        raise ImageError(name, "truncated (PNG ends before its IEND chunk)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            im.load()
    except Image.UnidentifiedImageError:
        raise ImageError(name, "not an image Pillow can identify") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(name, f"refused by the decompression-bomb guard ({exc})") from None
    except _ERRORS as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason or isinstance(exc, EOFError):
            reason = f"truncated ({reason})"
        raise ImageError(name, reason) from None
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB (alpha onto black, 16-bit -> high byte)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        rgb = (rgba[..., :3] * rgba[..., 3:] + 127) // 255  # composite onto black
        return Image.fromarray(rgb.astype(np.uint8), "RGB")
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im)
        a = (np.clip(a.astype(np.int64), 0, 65535) >> 8).astype(np.uint8)  # 16-bit range
        return Image.fromarray(np.repeat(a[..., None], 3, axis=-1), "RGB")
    if mode == "F":
        a = np.clip(np.nan_to_num(np.asarray(im)), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(a[..., None], 3, axis=-1), "RGB")
    return im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def decode_pil(data: bytes | str | os.PathLike, name: str | None = None) -> Image.Image:
    """Decode to an RGB Pillow image (EXIF orientation applied); raises ImageError."""
    name = name or (str(data) if not isinstance(data, (bytes, bytearray, memoryview))
                    else "<bytes>")
    im = _open(data, name)
    try:
        if im.format in _EXIF_FORMATS and im.getexif().get(0x0112, 1) != 1:  # photos
            im = ImageOps.exif_transpose(im)
        return _to_rgb(im)
    except _ERRORS as exc:
        raise ImageError(name, str(exc) or type(exc).__name__) from None


def decode_image(path_or_bytes: bytes | str | os.PathLike, name: str | None = None) -> np.ndarray:
    """Decode an image file (path or bytes) to ``uint8 (H, W, 3)`` RGB.

    ``name`` is used in error messages (defaults to the path). Raises :class:`ImageError`.
    """
    return np.asarray(decode_pil(path_or_bytes, name))


def resize(im: Image.Image, size: int, interpolation: str = "bilinear") -> np.ndarray:
    """Resize an RGB Pillow image to ``uint8 (size, size, 3)``."""
    if im.size != (size, size):
        im = im.resize((size, size), INTERPOLATIONS[interpolation])
    return np.asarray(im)


def decode_resized(data: bytes | str | os.PathLike, size: int, interpolation: str = "bilinear",
                   name: str | None = None) -> np.ndarray:
    """Decode and resize: ``uint8 (size, size, 3)``. Raises ImageError."""
    im = decode_pil(data, name)
    try:
        return resize(im, size, interpolation)
    except _ERRORS as exc:
        raise ImageError(name or str(data), str(exc) or type(exc).__name__) from None


def probe(head: bytes, tail: bytes, size: int) -> tuple[int, int] | str | None:
    """Width and height of a PNG from its first 24 and last 8 bytes, without decoding.

    Returns ``(w, h)``; a reason string for a file that is certainly unusable (zero bytes,
    broken PNG header); or None when only decoding can tell (not a PNG, or a PNG that does not
    end with its IEND chunk: truncated, or followed by harmless trailing bytes).
    """
    if size == 0:
        return "empty file (0 bytes)"
    if not head.startswith(PNG_SIGNATURE):
        return None
    if len(head) < 24 or head[12:16] != b"IHDR":
        return "truncated (no PNG header)"
    if tail != PNG_END:
        return None
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)
