"""``smearnet predict``: classify loose cell images (files and folders) with a trained model."""

from __future__ import annotations

import argparse
import sys

from smearnet.cli import UsageError
from smearnet.cli.args import output_file, overwritten_input


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="screen cell images: probability of Parasitized per image and a summary",
        description="Classify cell images. Folders are searched recursively; non-image files are "
                    "ignored and broken images reported, not fatal. Prints one tab-separated line per "
                    "image (path, probability of Parasitized, label at the model's threshold; a tab, "
                    "newline or backslash in a path is written as \\t, \\n, \\\\), then the "
                    "summary, e.g. '412 cells, 23 parasitized (5.6%)'.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    p.add_argument("--model", default=None,
                   help="model file (default: the model shipped with smearnet)")
    p.add_argument("--csv", metavar="OUT", type=output_file, default=None, help="also write the results to this CSV file")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary line")
    p.set_defaults(func=run)


def load_model_or_exit(path: str | None):
    """The classifier, or a UsageError naming the file."""
    from smearnet.pipeline.inference import ModelFileError, load_classifier

    try:
        return load_classifier(path)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from None


def collect_images_or_exit(paths: list[str]) -> list:
    """The image files under ``paths`` (files and folders, recursive); a UsageError when a
    path is missing or nothing is found."""
    from smearnet.pipeline.predict import collect_images

    try:
        files = collect_images(paths)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    if not files:
        raise UsageError(f"no image files found in {', '.join(paths)}")
    return files


CSV_SUFFIXES = (".csv", ".tsv", ".txt")


def check_csv_output(csv: str, files: list, model: str | None) -> None:
    """UsageError when writing ``csv`` would replace an input image, the model, or any existing
    file that is not a table (an image, a model...): only a new file or an old table is
    overwritten."""
    from pathlib import Path

    from smearnet.pipeline.inference import default_model_path

    hit = overwritten_input([csv], [model or default_model_path()])
    if hit:
        raise UsageError(f"--csv {csv}: is the model file ({hit[1]}); choose another file name")
    hit = overwritten_input([csv], files)
    if hit:
        raise UsageError(f"--csv {csv}: is one of the input images ({hit[1]}); choose another file name")
    if Path(csv).exists() and Path(csv).suffix.lower() not in CSV_SUFFIXES:
        raise UsageError(f"--csv {csv}: exists and is not a .csv file; it is not overwritten "
                         "(choose another file name or remove it)")


def run(args: argparse.Namespace) -> int:
    from smearnet.pipeline.predict import escape_path, predict_files, write_csv

    files = collect_images_or_exit(args.paths)
    if args.csv:  # before any work: the CSV must not replace a file it is about to read
        check_csv_output(args.csv, files, args.model)
    model = load_model_or_exit(args.model)
    pred = predict_files(model, files, progress=not args.quiet)
    for path, reason in pred.skipped:
        print(f"skipped {escape_path(path)}: {reason}", file=sys.stderr)
    if not pred.paths:
        raise UsageError(f"no readable images in {', '.join(args.paths)} "
                         f"({len(pred.skipped)} file{'s' if len(pred.skipped) != 1 else ''} skipped)")
    if not args.quiet:
        for path, q, y in zip(pred.paths, pred.probabilities, pred.labels):
            print(f"{escape_path(path)}\t{q:.4f}\t{pred.class_names[int(y)]}")
    if args.csv:
        write_csv(args.csv, pred)
    print(pred.summary())
    return 0
