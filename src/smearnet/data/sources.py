"""Where images come from: the official ``cell_images.zip`` read in place, or a folder.

A source is any folder or zip archive holding class folders named ``Parasitized`` and
``Uninfected`` (any letter case) at most three levels down. That covers the extracted archive
(``cell_images/Parasitized``), the folder the user points at directly, and the mirrors that
double the tree (``cell_images/cell_images/...`` beside ``cell_images/...``): a file name seen
twice under the same class is kept once (the copy nearest the top).

Listing is cheap (names, sizes and modification stamps, no decoding) so that the cache can be
keyed on it and a warm start never opens an image.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from .errors import SourceError

CLASS_NAMES = {"parasitized": 1, "uninfected": 0}  # 1 = Parasitized, the positive class
LABEL_NAMES = {1: "Parasitized", 0: "Uninfected"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm",
                  ".pgm"}
MAX_CLASS_DEPTH = 3  # class folders are looked for this many levels below the source root


def is_image_name(name: str) -> bool:
    """True for an image file name (by suffix); False for Thumbs.db, .DS_Store, ._x.png, text."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and Path(base).suffix.lower() in IMAGE_SUFFIXES


def _hidden(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


@dataclass
class Source:
    """The image files of one source, deduplicated and sorted by member name.

    ``members`` are POSIX paths relative to ``root`` (the folder, or the zip file itself);
    ``stamps`` are modification times in ns (folders) or CRC-32 and DOS time (zip members).
    """

    kind: str                      # "folder" | "zip"
    root: Path
    members: list[str]
    labels: np.ndarray             # uint8 (N,), 1 = Parasitized
    sizes: np.ndarray              # int64 (N,) bytes
    stamps: list[int]              # (N,) mtime ns, or CRC-32 << 32 | DOS time for zip members
    ignored: list[str] = field(default_factory=list)     # non-image files, as display paths
    duplicates: list[str] = field(default_factory=list)  # second copies dropped (doubled tree)

    def __len__(self) -> int:
        return len(self.members)

    def path(self, member: str) -> str:
        """Display path of a member: ``/data/cell_images/Parasitized/x.png`` or ``/d/a.zip/...``."""
        return str(self.root / member)

    @property
    def paths(self) -> list[str]:
        return [self.path(m) for m in self.members]

    def fingerprint(self) -> str:
        """SHA-256 of the listing (names, sizes, stamps): changes whenever any image file does."""
        h = hashlib.sha256(self.kind.encode())
        for m, s, t in zip(self.members, self.sizes.tolist(), self.stamps):
            h.update(f"\n{m}\t{s}\t{t}".encode())
        return h.hexdigest()

    def reader(self) -> "MemberReader":
        return MemberReader(self.kind, str(self.root))


class MemberReader:
    """Reads members' bytes; picklable, opens the zip lazily once per process."""

    def __init__(self, kind: str, root: str):
        self.kind, self.root = kind, root
        self._zip: zipfile.ZipFile | None = None
        self._pid = -1

    def __getstate__(self) -> dict:
        return {"kind": self.kind, "root": self.root}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["kind"], state["root"])

    def read(self, member: str) -> bytes:
        """The member's bytes (zip members are CRC-checked by zipfile: corruption raises)."""
        if self.kind == "folder":
            with open(os.path.join(self.root, member), "rb") as f:
                return f.read()
        if self._zip is None or self._pid != os.getpid():  # never share a handle across fork
            self._zip = zipfile.ZipFile(self.root)
            self._pid = os.getpid()
        return self._zip.read(member)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None


def _class_of(parts: tuple[str, ...]) -> tuple[int, int] | None:
    """(label, depth of the class folder) from a member's folder parts, nearest class folder."""
    for depth in range(len(parts) - 1, -1, -1):
        label = CLASS_NAMES.get(parts[depth].lower())
        if label is not None:
            return label, depth
    return None


def _build(kind: str, root: Path, rows: list[tuple[str, int, int, int]], ignored: list[str],
           found_class_dir: bool) -> Source:
    """rows: (member, label, size, stamp) for image-named files under class folders."""
    if not found_class_dir:
        if kind == "folder" and root.name.lower() in CLASS_NAMES:
            raise SourceError(f"{root} is a class folder itself: pass its parent {root.parent}, "
                              "the folder holding Parasitized/ and Uninfected/")
        raise SourceError(f"{root}: no Parasitized/ or Uninfected/ class folder found "
                          f"(looked {MAX_CLASS_DEPTH} levels down)")
    # Keep one copy per (label, file name): the one nearest the top, then alphabetical.
    rows.sort(key=lambda r: (r[0].count("/"), r[0]))
    kept: dict[tuple[int, str], tuple[str, int, int, int]] = {}
    duplicates: list[str] = []
    for row in rows:
        key = (row[1], row[0].rsplit("/", 1)[-1])
        first = kept.get(key)
        if first is None:
            kept[key] = row
            continue
        duplicates.append(str(root / row[0]))
        if first[2] != row[2]:
            warnings.warn(f"{root / row[0]} has the same name as {root / first[0]} but a different "
                          f"size; kept {first[0]}", stacklevel=3)
    if not kept:
        raise SourceError(f"{root}: no image files in its class folders")
    final = sorted(kept.values())
    return Source(kind=kind, root=root, members=[r[0] for r in final],
                  labels=np.array([r[1] for r in final], dtype=np.uint8),
                  sizes=np.array([r[2] for r in final], dtype=np.int64),
                  stamps=[r[3] for r in final],
                  ignored=sorted(ignored), duplicates=duplicates)


def _list_folder(root: Path) -> Source:
    rows: list[tuple[str, int, int, int]] = []
    ignored: list[str] = []
    found = False

    def scan(folder: str, rel: tuple[str, ...], label: int | None) -> None:
        nonlocal found
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise SourceError(f"{folder}: cannot list ({exc.strerror})") from None
        for e in entries:
            if e.is_dir():
                if _hidden(e.name):
                    continue
                sub_label = CLASS_NAMES.get(e.name.lower(), label)
                if sub_label is not None and label is None:
                    found = True
                if sub_label is not None or len(rel) < MAX_CLASS_DEPTH:
                    scan(e.path, rel + (e.name,), sub_label)
            elif label is not None and e.is_file():
                member = "/".join(rel + (e.name,))
                if not is_image_name(e.name):
                    ignored.append(str(root / member))
                    continue
                st = e.stat()
                rows.append((member, label, st.st_size, st.st_mtime_ns))

    scan(str(root), (), None)
    return _build("folder", root, rows, ignored, found)


def _list_zip(path: Path) -> Source:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{path}: zip archive is corrupt or truncated ({exc})") from None
    except OSError as exc:
        raise SourceError(f"{path}: not a readable zip archive ({exc})") from None
    rows: list[tuple[str, int, int, int]] = []
    ignored: list[str] = []
    found = False
    with zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            if not parts or any(_hidden(p) for p in parts[:-1]):
                continue
            folders = parts if info.is_dir() else parts[:-1]
            cls = _class_of(folders[:MAX_CLASS_DEPTH + 1])
            if cls is None:
                continue
            found = True
            if info.is_dir():
                continue
            member = "/".join(parts)
            if not is_image_name(member):
                ignored.append(str(path / member))
                continue
            y, mo, d, hh, mm, ss = info.date_time
            dos = ((y - 1980) << 25) | (mo << 21) | (d << 16) | (hh << 11) | (mm << 5) | (ss // 2)
            rows.append((member, cls[0], info.file_size, (info.CRC << 32) | dos))
    return _build("zip", path, rows, ignored, found)


def list_source(source: str | os.PathLike) -> Source:
    """List the image files of a zip archive or folder with class subfolders.

    Raises :class:`SourceError` (one line) for a missing path, a folder or zip without
    ``Parasitized``/``Uninfected`` folders, or class folders holding no image files.
    """
    root = Path(source).expanduser()
    if not root.exists():
        raise SourceError(f"{root}: no such file or folder")
    root = root.resolve()
    if root.is_dir():
        return _list_folder(root)
    if zipfile.is_zipfile(root):
        return _list_zip(root)
    if _starts_like_zip(root):
        raise SourceError(f"{root}: zip archive is corrupt or truncated (a partial download?); "
                          "download it again")
    raise SourceError(f"{root}: not a folder or a zip archive")


def _starts_like_zip(path: Path) -> bool:
    """True when the file begins with a zip signature (``PK\\x03\\x04`` etc.)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
