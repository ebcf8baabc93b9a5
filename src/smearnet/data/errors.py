"""The data package's exceptions and warnings.

``SourceError`` is a user error (missing path, empty folder, no class subfolders, a download
that fails its checksum): it subclasses :class:`smearnet.cli.UsageError`, so the command line
prints it as one line, and :class:`ValueError`, so library callers can catch it without the CLI.
"""

from __future__ import annotations

import warnings

from smearnet.cli import UsageError

MAX_NAMED_WARNINGS = 20  # beyond this many skipped files, one summary warning instead of one each


class SourceError(UsageError, ValueError):
    """A data source the user named cannot be used (message: one line naming the path)."""


class ImageError(ValueError):
    """An image file that cannot be decoded; ``str(err)`` names the file and the reason."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class SkippedFileWarning(UserWarning):
    """An image file was skipped (zero bytes, truncated, undecodable); the message names it."""


def warn_skipped(skipped: list[tuple[str, str]], stacklevel: int = 3) -> None:
    """One warning per skipped file, naming it (at most ``MAX_NAMED_WARNINGS``, then a count)."""
    for path, reason in skipped[:MAX_NAMED_WARNINGS]:
        warnings.warn(f"skipped {path}: {reason}", SkippedFileWarning, stacklevel=stacklevel)
    if len(skipped) > MAX_NAMED_WARNINGS:
        warnings.warn(f"skipped {len(skipped) - MAX_NAMED_WARNINGS} more unreadable image files "
                      "(all are listed by `smearnet data summary`)", SkippedFileWarning,
                      stacklevel=stacklevel)


def no_usable_images(source: object, n_skipped: int) -> SourceError:
    """The one-line error of every command given a source whose image files are all unusable:
    ``"DIR: no usable images (3 unreadable image files skipped)"``."""
    from smearnet._text import plural

    return SourceError(f"{source}: no usable images ({plural(n_skipped, 'unreadable image file')} skipped)")


def skipped_line(n: int, source: object | None = None) -> str:
    """``"skipped 3 unreadable image files (not used; ...)"``: the one line a command prints
    when a data set had files it could not use, whether found now or when it was cached."""
    import shlex

    from smearnet._text import plural

    where = f" --data {shlex.quote(str(source))}" if source is not None else ""
    return (f"skipped {plural(n, 'unreadable image file')} (not used; "
            f"`smearnet data summary{where} --verify` lists them)")
