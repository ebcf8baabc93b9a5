"""Shared argparse ``type=`` helpers: every numeric and path flag of every verb is checked here,
while parsing, so a bad value is a one-line usage error before any work starts.

Each helper raises :class:`argparse.ArgumentTypeError`, which argparse reports as
``smearnet <verb>: error: argument --flag: <message>`` with exit code 2.
"""

from __future__ import annotations

import argparse
import math
import os
import urllib.parse
from collections.abc import Iterable
from pathlib import Path


def _number(text: str, kind: type, what: str) -> int | float:
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(v, float) and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def positive_int(text: str) -> int:
    """An integer >= 1."""
    v = _number(text, int, "a positive integer")
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds, thread counts where 0 means 'library default')."""
    v = _number(text, int, "a non-negative integer")
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return v


def int_at_least(low: int):
    """A type checking an integer >= ``low`` (e.g. ``int_at_least(2)`` for grid columns)."""
    def check(text: str) -> int:
        v = _number(text, int, f"an integer >= {low}")
        if v < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return v
    check.__name__ = f"int_at_least_{low}"
    return check


def positive_float(text: str) -> float:
    """A finite number > 0."""
    v = _number(text, float, "a positive number")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    v = _number(text, float, "a fraction between 0 and 1")
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return v


def _parent_problem(path: Path) -> str | None:
    """Why files cannot be created under ``path``'s parent, or None (a missing parent is fine:
    it is created)."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is not a folder"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"{parent}: permission denied"
            return None
    return None


def output_file(text: str) -> str:
    """A file to (over)write: not a folder, under a parent that is (or can be made) a folder."""
    path = Path(text).expanduser()
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a folder, expected a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied")
    why = _parent_problem(path)
    if why:
        raise argparse.ArgumentTypeError(f"{text}: {why}")
    return text


def output_dir(text: str) -> str:
    """A folder to write into: an existing folder, or a path that can be created as one."""
    path = Path(text).expanduser()
    if not text:
        raise argparse.ArgumentTypeError("expected a folder name, got ''")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a folder")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied")
    why = _parent_problem(path)
    if why:
        raise argparse.ArgumentTypeError(f"{text}: {why}")
    return text


def existing_path(text: str) -> str:
    """A file or folder that exists."""
    if not Path(text).expanduser().exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return text


def http_url(text: str) -> str:
    """An http(s) or file URL with a host (or path, for file:)."""
    u = urllib.parse.urlparse(text)
    if u.scheme in ("http", "https") and u.netloc:
        return text
    if u.scheme == "file" and u.path:
        return text
    raise argparse.ArgumentTypeError(f"expected an http(s):// URL, got {text!r}")


def sha256_hex(text: str) -> str:
    """64 hexadecimal digits."""
    t = text.strip().lower()
    if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
        raise argparse.ArgumentTypeError(f"expected a SHA-256 of 64 hex digits, got {text!r}")
    return t


def overwritten_input(outputs: Iterable[str | os.PathLike],
                      inputs: Iterable[str | os.PathLike]) -> tuple[str, str] | None:
    """``(output, input)`` when writing ``output`` would overwrite ``input`` (the same file,
    however named: another spelling, a symlink, a hard link), else None.

    Only an output that exists already can be an input, so inputs are looked at (one
    ``stat`` each) only when some output exists.
    """
    existing: dict[tuple[int, int], str] = {}
    for out in outputs:
        try:
            st = os.stat(out)
        except OSError:
            continue
        existing[(st.st_dev, st.st_ino)] = str(out)
    if not existing:
        return None
    for inp in inputs:
        try:
            st = os.stat(inp)
        except OSError:
            continue
        hit = existing.get((st.st_dev, st.st_ino))
        if hit is not None:
            return hit, str(inp)
    return None
