"""``smearnet report RUN_DIR``: rebuild a run's self-contained report.html from its files."""

from __future__ import annotations

import argparse

from smearnet.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="rebuild RUN_DIR/report.html from the run's files",
                       description="Redraw the plots from the run's numbers and write report.html "
                                   "(one file, images embedded; opens from disk).")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from smearnet.pipeline.report import build_report
    from smearnet.pipeline.run_dir import RunFileError

    try:
        out = build_report(args.run_dir)
    except (FileNotFoundError, RunFileError) as exc:
        raise UsageError(str(exc)) from None
    print(out)
    return 0
