"""The index: one row per usable image (path, label, slide key, width, height).

The slide key is the leading ``C<digits>`` of the file name (``C100P61ThinF_IMG_..._cell_162.png``
-> ``C100``). It names the patient's slide; healthy patients' names carry no ``P<n>`` part
(``C1_thinF``, ``C201ThinF``) and patient P8 appears as both ``C47P8thin`` and
``C47P8thinOriginalOlympusCX21``, so grouping by ``C<digits>`` is what keeps one patient's
cells together (see ../shared/docs/DATA.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from .decode import PNG_END, decode_pil, probe
from .errors import ImageError, warn_skipped
from .sources import LABEL_NAMES, Source, list_source

_SLIDE = re.compile(r"^C(\d+)", re.IGNORECASE)


def slide_key(name: str) -> str:
    """``C<digits>`` from the start of a file name (any folder part is dropped); ``""`` if none.

    >>> slide_key("Parasitized/C47P8thinOriginalOlympusCX21_IMG_1.png")
    'C47'
    """
    m = _SLIDE.match(name.replace("\\", "/").rsplit("/", 1)[-1])
    return f"C{m.group(1)}" if m else ""


@dataclass
class DataIndex:
    """Usable images of a source; all arrays have one entry per image, in ``members`` order.

    paths: str (N,) display paths; labels: uint8 (N,), 1 = Parasitized; slides: str (N,)
    ``C<digits>`` keys; widths, heights: int32 (N,) original size in pixels. ``skipped`` lists
    ``(path, reason)`` for image files that cannot be used; ``ignored`` lists non-image files
    (Thumbs.db, .DS_Store, text); ``duplicates`` the second copies of a doubled tree.
    """

    paths: np.ndarray
    labels: np.ndarray
    slides: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    members: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    source: Source | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def class_counts(self) -> dict[str, int]:
        return {LABEL_NAMES[c]: int(np.sum(self.labels == c)) for c in (1, 0)}

    def to_json(self) -> dict:
        """JSON-able form with member names relative to the source root (for the cache)."""
        root = str(self.source.root) if self.source is not None else ""
        return {
            "members": self.members,
            "labels": self.labels.tolist(),
            "widths": self.widths.tolist(),
            "heights": self.heights.tolist(),
            "skipped": [[_relative(p, root), r] for p, r in self.skipped],
            "ignored": [_relative(p, root) for p in self.ignored],
            "duplicates": [_relative(p, root) for p in self.duplicates],
        }

    @classmethod
    def from_json(cls, d: dict, source: Source) -> "DataIndex":
        members = list(d["members"])
        return cls(
            paths=np.array([source.path(m) for m in members], dtype=str),
            labels=np.array(d["labels"], dtype=np.uint8),
            slides=np.array([slide_key(m) for m in members], dtype=str),
            widths=np.array(d["widths"], dtype=np.int32),
            heights=np.array(d["heights"], dtype=np.int32),
            members=members,
            skipped=[(source.path(p), r) for p, r in d["skipped"]],
            ignored=[source.path(p) for p in d["ignored"]],
            duplicates=[source.path(p) for p in d["duplicates"]],
            source=source,
        )

    def drop(self, rows: np.ndarray, reasons: list[str]) -> "DataIndex":
        """A copy without ``rows`` (found unusable later), which join ``skipped``."""
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        members = [m for m, k in zip(self.members, keep) if k]
        skipped = self.skipped + [(str(self.paths[r]), why) for r, why in zip(rows, reasons)]
        return DataIndex(self.paths[keep], self.labels[keep], self.slides[keep],
                         self.widths[keep], self.heights[keep], members, skipped,
                         self.ignored, self.duplicates, self.source)


def _relative(path: str, root: str) -> str:
    return path[len(root) + 1:] if root and path.startswith(root + os.sep) else path


def _probe_member(src: Source, reader, member: str, size: int) -> tuple[int, int] | str:
    """(width, height) or a reason, reading only the ends of a file where possible."""
    name = src.path(member)
    try:
        if src.kind == "folder":
            with open(os.path.join(src.root, member), "rb") as f:
                head = f.read(24)
                if size >= 32:
                    f.seek(-len(PNG_END), os.SEEK_END)
                tail = f.read(len(PNG_END))
            data = None
        else:
            data = reader.read(member)  # zipfile checks the CRC of the whole member
            head, tail = data[:24], data[-len(PNG_END):]
    except Exception as exc:  # noqa: BLE001 - OSError, zipfile.BadZipFile, zlib.error...
        return f"unreadable ({exc})"
    quick = probe(head, tail, size)
    if quick is not None:
        return quick
    try:
        return decode_pil(data if data is not None else name, name).size
    except ImageError as exc:
        return exc.reason


def index_from_listing(src: Source) -> DataIndex:
    """An index of every listed file without reading any (widths and heights 0): for the cache
    build, whose workers learn sizes and failures while decoding."""
    n = len(src)
    return DataIndex(
        paths=np.array(src.paths, dtype=str), labels=src.labels.copy(),
        slides=np.array([slide_key(m) for m in src.members], dtype=str),
        widths=np.zeros(n, dtype=np.int32), heights=np.zeros(n, dtype=np.int32),
        members=list(src.members), skipped=[], ignored=src.ignored,
        duplicates=src.duplicates, source=src)


def build_index(src: Source, warn: bool = True) -> DataIndex:
    """Index a listed source: read each image's header, skip (and warn about) broken ones."""
    reader = src.reader()
    dims = np.zeros((len(src), 2), dtype=np.int32)
    good = np.ones(len(src), dtype=bool)
    skipped: list[tuple[str, str]] = []
    try:
        for i, (member, size) in enumerate(zip(src.members, src.sizes.tolist())):
            res = _probe_member(src, reader, member, size)
            if isinstance(res, str):
                good[i] = False
                skipped.append((src.path(member), res))
            else:
                dims[i] = res
    finally:
        reader.close()
    if warn:
        warn_skipped(skipped)
    members = [m for m, g in zip(src.members, good) if g]
    return DataIndex(
        paths=np.array([src.path(m) for m in members], dtype=str),
        labels=src.labels[good],
        slides=np.array([slide_key(m) for m in members], dtype=str),
        widths=dims[good, 0].copy(), heights=dims[good, 1].copy(),
        members=members, skipped=skipped, ignored=src.ignored, duplicates=src.duplicates,
        source=src)


def index_source(source: str | os.PathLike) -> DataIndex:
    """Index a zip archive or folder with ``Parasitized``/``Uninfected`` subfolders.

    Reads headers only (and the whole member for zip archives, whose CRC zipfile checks), so
    a truncated or corrupt file that still has a valid header is caught later, when decoding.
    Raises :class:`SourceError` for a missing or unusable source.
    """
    return build_index(list_source(source))
