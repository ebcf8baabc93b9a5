"""The `smearnet` command line: a thin layer over the library.

Each verb group lives in its own module here and exposes ``register(subparsers)``, which adds
its parser(s) and sets ``func`` to a callable taking the parsed args and returning an exit code.
Errors that are the user's (a missing path, a file that is not a model) are raised as
:class:`UsageError` and printed as one line, with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator

VERB_MODULES = ["backprop", "data", "train", "evaluate", "predict", "explain", "report"]


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


# OSErrors about a path the user named (an output that is a folder, a file where a folder is
# needed...): printed as ``<file>: <problem>``, exit code 2. Other exceptions still raise.
USER_PATH_ERRORS = (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError,
                    FileNotFoundError)


def path_error_line(exc: OSError) -> str:
    """``<file>: <problem>`` for an OSError about a path (strerror lower-cased)."""
    problem = (exc.strerror or str(exc)).strip()
    problem = problem[:1].lower() + problem[1:]
    return f"{exc.filename}: {problem}" if exc.filename is not None else problem


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show each warning as ``warning: <message>`` on stderr (no file/line noise): the one
    warning format of every verb."""
    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
        print(f"warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show
        yield


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``smearnet <verb>: error: <message>``, exit code 2, where
    ``smearnet <verb>`` is the (sub)command the error is about (``smearnet data split``)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        # argparse reports unknown arguments from the top-level parser ("smearnet: error: ...
        # see smearnet --help"); report them from the subcommand that was given them instead
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            leaf_parser(self, ns).error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def leaf_parser(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost (sub)parser that ``ns`` was parsed by (``smearnet data split``)."""
    while True:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        chosen = getattr(ns, sub.dest, None) if sub is not None else None
        if chosen not in (sub.choices if sub is not None else {}):
            return parser
        parser = sub.choices[chosen]


def build_parser() -> argparse.ArgumentParser:
    from smearnet import __version__

    parser = _Parser(
        prog="smearnet",
        description="Train, evaluate and use a malaria thin-smear cell classifier built on its own "
                    "autodiff engine.")
    parser.add_argument("--version", action="version", version=f"smearnet {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for name in VERB_MODULES:
        try:
            module = importlib.import_module(f"smearnet.cli.{name}")
        except ModuleNotFoundError as exc:  # a verb not built yet must not break the others
            if exc.name != f"smearnet.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad argument (one line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    prog = leaf_parser(parser, args).prog  # "smearnet train", "smearnet data split"
    try:
        with one_line_warnings():
            return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except USER_PATH_ERRORS as exc:
        if exc.filename is None:  # not about a path we were given: a genuine bug
            raise
        print(f"{prog}: error: {path_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
