"""The `smearnet` command line: a thin layer over the library.

Each verb group lives in its own module here and exposes ``register(subparsers)``, which adds
its parser(s) and sets ``func`` to a callable taking the parsed args and returning an exit code.
Errors that are the user's (a missing path, a file that is not a model) are raised as
:class:`UsageError` and printed as one line, with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

VERB_MODULES = ["backprop", "data", "train", "evaluate", "predict", "explain", "report"]


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    from smearnet import __version__

    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"smearnet {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"smearnet {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
