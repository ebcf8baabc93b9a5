"""The uint8 image cache: decode and resize once, then memory-map in a fraction of a second.

Layout: ``$SMEARNET_HOME/cache/<size>px-<interpolation>-<key>/`` (``SMEARNET_HOME`` defaults
to ``~/.cache/smearnet``) holding ``images.npy``, uint8 (N, S, S, 3) NHWC, and ``index.json``
(members, labels, sizes, skipped files). The key hashes the source's listing (every image's
name, size and modification stamp), the image size and the interpolation, so a changed source
never meets a stale cache. A cache is built in a hidden temporary folder and renamed into
place when complete: a run killed while writing leaves nothing that looks finished.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SourceError, warn_skipped
from .index import DataIndex, index_from_listing
from .parallel import decode_into, start_workers_early, usable_cores
from .sources import Source, list_source

CACHE_VERSION = 1
SMALL_JOB = 512  # fewer images than this are decoded in-process (starting workers costs more)


def smearnet_home() -> Path:
    """``$SMEARNET_HOME``, else ``$XDG_CACHE_HOME/smearnet``, else ``~/.cache/smearnet``."""
    env = os.environ.get("SMEARNET_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "smearnet"


def cache_root() -> Path:
    return smearnet_home() / "cache"


def cache_dir_for(src: Source, image_size: int, interpolation: str = "bilinear") -> Path:
    """The folder the cache of ``src`` at this size and interpolation lives in."""
    key = hashlib.sha256(json.dumps([CACHE_VERSION, src.fingerprint(), int(image_size),
                                     interpolation]).encode()).hexdigest()[:20]
    return cache_root() / f"{int(image_size)}px-{interpolation}-{key}"


@dataclass
class CachedDataset:
    """A decoded, resized data set backed by the cache.

    images: read-only memmap uint8 (N, S, S, 3); labels: uint8 (N,), 1 = Parasitized;
    slides, paths: str (N,); skipped: [(path, reason)] for files that could not be used.
    """

    images: np.ndarray
    index: DataIndex
    image_size: int
    interpolation: str
    cache_dir: Path
    built: bool  # True when this call decoded the images, False when it reused the cache

    @property
    def labels(self) -> np.ndarray:
        return self.index.labels

    @property
    def slides(self) -> np.ndarray:
        return self.index.slides

    @property
    def paths(self) -> np.ndarray:
        return self.index.paths

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return self.index.skipped

    def __len__(self) -> int:
        return len(self.index)


def _write_header(path: Path, n: int, size: int) -> int:
    """Create an .npy file for uint8 (n, size, size, 3); returns the data offset."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": (n, size, size, 3)})
        offset = f.tell()
        f.truncate(offset + n * size * size * 3)
    return offset


def _try_load(folder: Path, src: Source) -> CachedDataset | None:
    meta_path = folder / "index.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if not meta.get("complete") or meta.get("version") != CACHE_VERSION:
            return None
        index = DataIndex.from_json(meta["index"], src)
        images = np.load(folder / "images.npy", mmap_mode="r")
    except (OSError, ValueError, KeyError):
        return None
    size = int(meta["image_size"])
    if images.shape != (len(index), size, size, 3) or images.dtype != np.uint8:
        return None
    return CachedDataset(images, index, size, meta["interpolation"], folder, built=False)


def _probably_cached(source: str | os.PathLike, image_size: int, interpolation: str) -> bool:
    """A cheap guess (no listing) that a cache of this source path at this size exists."""
    try:
        root = str(Path(source).expanduser().resolve())
        for d in cache_root().glob(f"{int(image_size)}px-{interpolation}-*"):
            if (d / "source.txt").read_text() == root:
                return True
    except OSError:
        pass
    return False


def _remove_stale(root: Path, keep: Path, source_root: str) -> None:
    """Remove dead temporary folders and superseded caches of the same source path."""
    for d in root.iterdir() if root.is_dir() else []:
        if d == keep:
            continue
        if d.name.startswith(".") and ".tmp-" in d.name:
            pid = d.name.rsplit(".tmp-", 1)[1].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)
        elif d.name.split("-")[:2] == keep.name.split("-")[:2]:
            try:
                meta = json.loads((d / "index.json").read_text())
            except (OSError, ValueError):
                continue
            if meta.get("source") == source_root:  # same path, older contents: stale
                shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_room(folder: Path, n: int, image_size: int) -> None:
    """A one-line SourceError when the cache cannot be written there."""
    need = n * image_size * image_size * 3
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise SourceError(f"{folder}: cannot create the cache folder ({exc.strerror}); set "
                          "SMEARNET_HOME to a writable folder") from None
    if free < need * 1.02 + 2**20:
        raise SourceError(f"{folder}: the cache of {n:,} images at {image_size}px needs "
                          f"{need / 2**20:,.0f} MiB, only {free / 2**20:,.0f} MiB free; set "
                          "SMEARNET_HOME to a folder with more room") from None


def _build(src: Source, final: Path, image_size: int, interpolation: str, progress: bool,
           workers: int | None) -> CachedDataset:
    from tqdm import tqdm

    index = index_from_listing(src)
    _remove_stale(final.parent, final, str(src.root))  # first: frees the room it takes
    _check_room(final.parent, len(index), image_size)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        n, started = len(index), time.perf_counter()
        raw = tmp / "raw.npy"
        offset = _write_header(raw, n, image_size)
        if workers is None:
            workers = 1 if n < SMALL_JOB else usable_cores()
        with tqdm(total=n, desc=f"caching {n} images at {image_size}px", unit="img",
                  disable=not progress, leave=False) as bar:
            dims, failed = decode_into(src.reader(), index.members, list(index.paths),
                                       image_size, interpolation, str(raw), offset, workers,
                                       bar.update)
        index.widths[:], index.heights[:] = dims[:, 0], dims[:, 1]
        if failed:
            rows = np.array([r for r, _ in failed])
            warn_skipped([(str(index.paths[r]), why) for r, why in failed])
            keep = np.setdiff1d(np.arange(n), rows)
            index = index.drop(rows, [why for _, why in failed])
            src_arr = np.load(raw, mmap_mode="r")
            dst = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8,
                                            shape=(len(keep), image_size, image_size, 3))
            for a in range(0, len(keep), 1024):  # copy in slices: bounded memory
                dst[a:a + 1024] = src_arr[keep[a:a + 1024]]
            dst.flush()
            del src_arr, dst
            raw.unlink()
        else:
            raw.rename(tmp / "images.npy")
        meta = {"version": CACHE_VERSION, "complete": True, "source": str(src.root),
                "fingerprint": src.fingerprint(), "image_size": image_size,
                "interpolation": interpolation, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                "build_seconds": round(time.perf_counter() - started, 2),
                "index": index.to_json()}
        (tmp / "source.txt").write_text(str(src.root))  # lets a later run guess a cache hit
        with open(tmp / "index.json", "w") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.rename(tmp, final)  # atomic: the cache appears complete or not at all
        except OSError:  # another process finished the same cache first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS,
                                                      errno.EACCES):
            raise SourceError(f"{final.parent}: cannot write the cache ({exc.strerror}); set "
                              "SMEARNET_HOME to a writable folder with more room") from None
        raise
    ds = _try_load(final, src)
    if ds is None:
        raise RuntimeError(f"{final}: cache written but cannot be read back")
    ds.built = True
    return ds


def load_dataset(source: str | os.PathLike, image_size: int = 133, progress: bool = True,
                 interpolation: str = "bilinear", workers: int | None = None) -> CachedDataset:
    """Decode, resize (to ``image_size`` square) and cache a source, or load its cache.

    ``source``: cell_images.zip, an extracted folder, or any folder with Parasitized/Uninfected
    subfolders. The first call decodes every image in ``workers`` processes (default: all
    usable cores); later calls with an unchanged source memory-map the cache. Images that
    cannot be decoded are skipped with a warning naming each and listed in ``.skipped``.
    """
    from .decode import INTERPOLATIONS

    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, "
                         f"got {interpolation!r}")
    if int(image_size) < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if workers != 1 and usable_cores() > 1 and not _probably_cached(source, image_size,
                                                                     interpolation):
        start_workers_early()  # overlaps the workers' start-up with listing the source
    src = list_source(source)
    final = cache_dir_for(src, image_size, interpolation)
    ds = _try_load(final, src)
    if ds is None:
        if final.exists():  # renamed into place complete, so now damaged (or an old version)
            shutil.rmtree(final, ignore_errors=True)
        ds = _build(src, final, int(image_size), interpolation, progress, workers)
    return ds
