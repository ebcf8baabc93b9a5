"""``smearnet train``: train a classifier on the malaria images; everything lands in one run folder."""

from __future__ import annotations

import argparse

from smearnet.cli import UsageError
from smearnet.cli.args import int_at_least, non_negative_int, output_dir, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    from smearnet.pipeline.presets import DEFAULT_PRESET, PRESETS

    presets = "; ".join(f"{n}: {p.description}" for n, p in PRESETS.items())
    p = sub.add_parser(
        "train", help="train a classifier; writes model, history, metrics, plots and report.html",
        description="Train a malaria cell classifier. Writes one run folder (default "
                    "runs/<preset>-<timestamp>) with model.safetensors, history.json, metrics.json, "
                    "split.json, plots and report.html; checkpoints after every epoch so --resume "
                    f"continues an interrupted run exactly. Presets: {presets}.")
    p.add_argument("--data", metavar="PATH", default=None,
                   help="cell_images.zip or a folder with Parasitized/ and Uninfected/ "
                        "(default: $SMEARNET_DATA, else the archive saved by "
                        "`smearnet data download`)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help=f"model and training recipe (default: {DEFAULT_PRESET})")
    p.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                   help="number of epochs (maximum with early stopping)")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N")
    p.add_argument("--image-size", type=positive_int, default=None, metavar="N", help="square input side in pixels")
    p.add_argument("--split", choices=["patient", "random"], default=None,
                   help="patient: train/val/test by slide (default except for the assignment); "
                        "random: image-level, as the assignment")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="use at most N images (class proportions kept)")
    p.add_argument("--seed", type=non_negative_int, default=None, metavar="N", help="seed of the split, weights, shuffling (default 0)")
    p.add_argument("--out", metavar="DIR", type=output_dir, default=None, help="run folder (default runs/<preset>-<timestamp>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (default: the newest run under runs/) "
                        "from its last finished epoch; a cross-validation folder continues "
                        "with its first unfinished fold")
    p.add_argument("--cv", type=int_at_least(2), default=None, metavar="K",
                   help="grouped K-fold cross-validation by slide: K runs under --out, "
                        "mean +- std of the test figures in cv.json")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="J",
                   help="with --cv: train J folds at once, each in its own process with "
                        "cores/J BLAS threads (default 1; on an idle 2-core machine 2 was "
                        "measured 1.7x slower, see docs/pipeline.md)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def command_of(args: argparse.Namespace) -> str:
    """The command line that reproduces ``args`` (flags the user gave, in a fixed order)."""
    import shlex

    parts = ["smearnet", "train"]
    for flag in ("data", "preset", "epochs", "batch_size", "image_size", "split", "limit", "seed", "out"):
        v = getattr(args, flag)
        if v is not None:
            parts += [f"--{flag.replace('_', '-')}", str(v)]
    if args.cv:
        parts += ["--cv", str(args.cv)]
    if args.jobs:
        parts += ["--jobs", str(args.jobs)]
    if args.resume:
        parts.append("--resume")
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    from smearnet.pipeline.run_dir import RunFileError
    from smearnet.pipeline.train import RunError, TrainRequest, train

    req = TrainRequest(data=args.data, preset=args.preset, epochs=args.epochs,
                       batch_size=args.batch_size, image_size=args.image_size, split=args.split,
                       limit=args.limit, seed=args.seed, out=args.out, resume=args.resume,
                       progress=not args.quiet, command=command_of(args))
    from smearnet.pipeline.crossval import cross_validate, is_cv_folder

    cv = bool(args.cv) or (args.resume and is_cv_folder(args.out))  # a CV folder resumes as one
    if args.jobs and not cv:
        raise UsageError("--jobs only applies to cross-validation: add --cv K")
    try:
        if cv:
            cross_validate(req, args.cv, jobs=args.jobs or 1)
        else:
            train(req)
    except (RunError, RunFileError) as exc:
        raise UsageError(str(exc)) from None
    return 0
