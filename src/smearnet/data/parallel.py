"""Decode and resize many images in worker processes, straight into a ``.npy`` file.

Each worker opens the output file itself and writes its contiguous block of rows with
``os.pwrite``: no image crosses a pipe, and nothing but the block being filled sits in a
worker's memory (writes go through the page cache, not through a mapping that would count
in every process's RSS).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from .decode import decode_pil, resize
from .errors import ImageError
from .sources import MemberReader

CHUNK = 64  # images per task: small enough for a smooth progress bar, big enough to amortise

_state: dict = {}
Task = tuple[int, list[str], list[str]]  # first row, members, display names


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _init(reader: MemberReader, size: int, interpolation: str, out_path: str,
          offset: int) -> None:
    _state.update(reader=reader, size=size, interpolation=interpolation, offset=offset,
                  fd=os.open(out_path, os.O_WRONLY))


def _pwrite_all(fd: int, buf: memoryview, pos: int) -> None:
    while buf:
        n = os.pwrite(fd, buf, pos)
        buf, pos = buf[n:], pos + n


def _run_chunk(task: Task) -> tuple[int, np.ndarray, list[tuple[int, str]]]:
    """Decode one chunk of rows and write them to the file.

    Returns (first row, int32 (k, 2) original widths and heights (0 where failed),
    [(row, reason)] failed)."""
    start, members, names = task
    s = _state
    size = s["size"]
    block = np.zeros((len(members), size, size, 3), dtype=np.uint8)
    dims = np.zeros((len(members), 2), dtype=np.int32)
    failed: list[tuple[int, str]] = []
    for k, (member, name) in enumerate(zip(members, names)):
        try:
            im = decode_pil(s["reader"].read(member), name)
            dims[k] = im.size
            block[k] = resize(im, size, s["interpolation"])
        except ImageError as exc:
            failed.append((start + k, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a bad zip member (BadZipFile, zlib.error)
            failed.append((start + k, f"unreadable ({exc})"))
    _pwrite_all(s["fd"], memoryview(block).cast("B"), s["offset"] + start * block[0].nbytes)
    return start, dims, failed


def _close() -> None:
    if "fd" in _state:
        os.close(_state.pop("fd"))
        _state["reader"].close()


def _main_is_importable() -> bool:
    """Spawned and forkserver workers re-import the main script; ``python -`` (stdin) or an
    interactive session's ``__main__`` has no file they could import."""
    import sys

    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    path = getattr(main, "__file__", None)
    return spec is not None or path is None or os.path.isfile(path)


def _context() -> mp.context.BaseContext:
    # forkserver: workers never inherit the parent's threads or open zip handles; the server
    # imports this module once, so each worker starts in milliseconds
    methods = mp.get_all_start_methods()
    if not _main_is_importable() and "fork" in methods:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return mp.get_context("spawn")


def start_workers_early() -> None:
    """Start the fork server (which imports NumPy and Pillow once) in the background, so its
    start-up overlaps the caller's listing of the source instead of following it."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def decode_into(reader: MemberReader, members: list[str], names: list[str], size: int,
                interpolation: str, out_path: str, offset: int, workers: int,
                on_progress: Callable[[int], None] | None = None,
                ) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Fill rows ``0..len(members)-1`` of the uint8 (N, size, size, 3) array stored at
    ``out_path`` from byte ``offset``, in ``workers`` processes.

    Returns (int32 (N, 2) original widths and heights, [(row, reason)] for rows that failed,
    whose pixels stay zero). If worker processes cannot run (e.g. the main script cannot be
    re-imported by them), the remaining rows are decoded in this process, with a warning.
    """
    n = len(members)
    tasks = {a: (a, members[a:a + CHUNK], names[a:a + CHUNK]) for a in range(0, n, CHUNK)}
    dims = np.zeros((n, 2), dtype=np.int32)
    failed: list[tuple[int, str]] = []
    args = (reader, size, interpolation, out_path, offset)

    def record(result: tuple[int, np.ndarray, list[tuple[int, str]]]) -> None:
        start, d, bad = result
        dims[start:start + len(d)] = d
        failed.extend(bad)
        tasks.pop(start)
        if on_progress is not None:
            on_progress(len(d))

    if workers > 1:
        try:
            with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init,
                                     initargs=args) as pool:
                for fut in as_completed([pool.submit(_run_chunk, t) for t in tasks.values()]):
                    record(fut.result())
        except (BrokenProcessPool, BrokenPipeError, EOFError) as exc:  # could not start/died
            warnings.warn(f"image decoding workers failed ({type(exc).__name__}: {exc}); "
                          "decoding the rest in this process", UserWarning, stacklevel=3)
    if tasks:
        _init(*args)
        try:
            for t in list(tasks.values()):
                record(_run_chunk(t))
        finally:
            _close()
    return dims, sorted(failed)
