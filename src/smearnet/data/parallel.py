"""Decode and resize many images in worker processes, straight into a ``.npy`` file.

Each worker opens the output file itself and writes its contiguous block of rows with
``os.pwrite``: no image crosses a pipe, and nothing but the block being filled sits in a
worker's memory (writes go through the page cache, not through a mapping that would count
in every process's RSS).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator

import numpy as np

from .decode import decode_resized
from .errors import ImageError
from .sources import MemberReader

CHUNK = 64  # images per task: small enough for a smooth progress bar, big enough to amortise

_state: dict = {}


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _init(reader: MemberReader, members: list[str], names: list[str], size: int,
          interpolation: str, out_path: str, offset: int) -> None:
    _state.update(reader=reader, members=members, names=names, size=size,
                  interpolation=interpolation, offset=offset,
                  fd=os.open(out_path, os.O_WRONLY))


def _pwrite_all(fd: int, buf: memoryview, pos: int) -> None:
    while buf:
        n = os.pwrite(fd, buf, pos)
        buf, pos = buf[n:], pos + n


def _run_chunk(bounds: tuple[int, int]) -> tuple[int, list[tuple[int, str]]]:
    """Decode rows [start, stop) and write them; returns (count, [(row, reason) failed])."""
    start, stop = bounds
    s = _state
    size = s["size"]
    block = np.zeros((stop - start, size, size, 3), dtype=np.uint8)
    failed: list[tuple[int, str]] = []
    for row in range(start, stop):
        try:
            data = s["reader"].read(s["members"][row])
            block[row - start] = decode_resized(data, size, s["interpolation"], s["names"][row])
        except ImageError as exc:
            failed.append((row, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a bad zip member (BadZipFile, zlib.error)
            failed.append((row, f"unreadable ({exc})"))
    _pwrite_all(s["fd"], memoryview(block).cast("B"), s["offset"] + start * block[0].nbytes)
    return stop - start, failed


def _close() -> None:
    if "fd" in _state:
        os.close(_state.pop("fd"))
        _state["reader"].close()


def _context() -> mp.context.BaseContext:
    # forkserver: workers never inherit the parent's threads or open zip handles
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def decode_into(reader: MemberReader, members: list[str], names: list[str], size: int,
                interpolation: str, out_path: str, offset: int, workers: int,
                on_progress: Callable[[int], None] | None = None) -> list[tuple[int, str]]:
    """Fill rows ``0..len(members)-1`` of the uint8 (N, size, size, 3) array stored at
    ``out_path`` from byte ``offset``. Returns the rows that failed, with reasons."""
    n = len(members)
    tasks = [(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)]
    failed: list[tuple[int, str]] = []
    args = (reader, members, names, size, interpolation, out_path, offset)

    def consume(results: Iterator[tuple[int, list[tuple[int, str]]]]) -> None:
        for count, bad in results:
            failed.extend(bad)
            if on_progress is not None:
                on_progress(count)

    if workers <= 1:
        _init(*args)
        try:
            consume(map(_run_chunk, tasks))
        finally:
            _close()
    else:
        with _context().Pool(workers, initializer=_init, initargs=args) as pool:
            consume(pool.imap_unordered(_run_chunk, tasks))
    return sorted(failed)
