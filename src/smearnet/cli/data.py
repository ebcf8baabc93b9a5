"""`smearnet data ...`: look at, cache, split and download the malaria images.

    smearnet data summary  --data PATH [--verify]        counts, slides, sizes, skipped files
    smearnet data samples  --data PATH --out grid.png    a grid of labelled cells
    smearnet data cache    --data PATH --image-size N    decode + resize once, in parallel
    smearnet data split    --data PATH --out split.json  a patient-level (or random) manifest
    smearnet data download [--url URL] [--dest DIR]      the official archive, checked, saved as
                                                         cell_images.zip
"""

from __future__ import annotations

import argparse
import json
import time

from smearnet._text import plural
from smearnet.cli import UsageError
from smearnet.cli import one_line_warnings as _one_line_warnings  # the one format of all verbs
from smearnet.cli.args import (fraction, http_url, int_at_least, non_negative_int, output_dir,
                               output_file, positive_int, sha256_hex)


DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)  # data split --fractions
DEFAULT_K = 5                         # data split --k


def _source(args: argparse.Namespace) -> str:
    from smearnet.data import default_source

    return args.data if args.data else default_source()


def _usable(index):
    """``index``, or the one-line "no usable images" error when every image file is unreadable."""
    if len(index) == 0:
        from smearnet.data.errors import no_usable_images

        raise no_usable_images(index.source.root if index.source is not None else "the data",
                               len(index.skipped))
    return index


def _refuse_overwriting(outputs: list[str], index, flag: str) -> None:
    """A usage error when an output file is the source (a zip) or one of its image files."""
    from smearnet.cli.args import overwritten_input

    src = index.source
    inputs = ([str(src.root)] if src.kind == "zip" else src.paths) if src is not None \
        else list(index.paths)
    hit = overwritten_input(outputs, inputs)
    if hit:
        raise UsageError(f"{flag} {hit[0]}: is part of the data ({hit[1]}); choose another file name")


def _summary(args: argparse.Namespace) -> int:
    from smearnet.data import format_summary, index_source, load_dataset, summarize

    if args.image_size is not None and not args.verify:
        raise UsageError("--image-size only applies with --verify (the size the images are "
                         "decoded at)")
    with _one_line_warnings():
        if args.verify:  # decode everything (via the cache) to catch corrupt image data too
            index = load_dataset(_source(args), args.image_size or 133, progress=True).index
        else:
            index = index_source(_source(args))
    s = summarize(index)
    print(json.dumps(s, indent=1) if args.json else format_summary(s))
    return 0


def _samples(args: argparse.Namespace) -> int:
    from smearnet.data import index_source, sample_grid

    with _one_line_warnings():
        index = index_source(_source(args))
    _refuse_overwriting([args.out], index, "--out")
    out = sample_grid(index, args.out, n=args.n, cols=args.cols, seed=args.seed)  # refuses no usable image
    print(f"wrote {out}")
    return 0


def _cache(args: argparse.Namespace) -> int:
    from smearnet.data import load_dataset

    t = time.perf_counter()
    with _one_line_warnings():
        ds = load_dataset(_source(args), args.image_size, progress=True,
                          interpolation=args.interpolation, workers=args.workers)
    secs = time.perf_counter() - t
    _usable(ds.index)
    verb = "built" if ds.built else "reused"
    rate = f", {len(ds) / secs:,.0f} images/s" if ds.built else ""
    print(f"{verb} cache of {plural(len(ds), 'image')} at {ds.image_size}x{ds.image_size} in "
          f"{secs:.1f} s{rate} ({ds.images.nbytes / 2**20:,.0f} MiB): {ds.cache_dir}")
    if ds.skipped:
        from smearnet.data.errors import skipped_line
        print(skipped_line(len(ds.skipped), args.data))
    return 0


def _split(args: argparse.Namespace) -> int:
    import numpy as np

    from smearnet.data import (group_kfold, index_source, split_by_patient, split_random,
                               stratified_limit)
    from smearnet.data.splits import check_both_classes

    if args.k is not None and args.split != "kfold":
        raise UsageError(f"--k only applies to --split kfold (this is --split {args.split})")
    if args.fractions is not None and args.split == "kfold":
        raise UsageError("--fractions does not apply to --split kfold (each fold is 1/K of the "
                         "slides); use --k")
    fractions = args.fractions if args.fractions is not None else list(DEFAULT_FRACTIONS)
    total = sum(fractions)
    why = (f"they add up to {total:g}" if abs(total - 1) > 1e-6 else
           "TRAIN is 0" if fractions[0] <= 0 else "TEST is 0" if fractions[2] <= 0 else None)
    if why:  # the one rule, for --split patient and random alike
        raise UsageError(f"--fractions {' '.join(f'{f:g}' for f in fractions)}: TRAIN VAL TEST "
                         f"must add up to 1, with TRAIN and TEST above 0 ({why})")
    k = args.k if args.k is not None else DEFAULT_K
    with _one_line_warnings():
        index = _usable(index_source(_source(args)))
    outs = [args.out] if args.split != "kfold" else [_fold_name(args.out, i + 1) for i in range(k)]
    _refuse_overwriting(outs, index, "--out")
    sub = (stratified_limit(index.labels, args.limit, args.seed) if args.limit
           else np.arange(len(index)))
    labels, slides = index.labels[sub], index.slides[sub]
    try:
        check_both_classes(labels, str(index.source.root) if index.source else "the data",
                           limited_from=index.labels if len(sub) < len(index) else None,
                           limit=args.limit)
        if args.split == "patient":
            splits = [split_by_patient(slides, labels, tuple(fractions), args.seed)]
        elif args.split == "kfold":
            splits = group_kfold(slides, labels, k, args.seed)
        else:
            from smearnet.data.splits import part_counts

            a, v, t = part_counts(fractions, len(sub))  # fractions summing to 1: every image
            splits = [split_random(labels, a, t, v, args.seed)]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for s in splits:
        full = s.remap(sub)
        out = args.out if len(splits) == 1 else _fold_name(args.out, s.info["fold"] + 1)
        full.save(out, index.paths, index.slides, index.labels)
        counts = ", ".join(
            f"{name} {len(idx):,} ({int(np.sum(index.labels[idx] == 1)):,} parasitized, "
            f"{plural(len(set(index.slides[idx].tolist())), 'slide')})"
            for name, idx in full.parts().items() if len(idx))
        print(f"{out}: {full.kind} split, {counts}")
    return 0


def _fold_name(path: str, fold: int) -> str:
    """``split-fold3.json`` for the 1-based ``fold`` (as ``train --cv``'s ``fold-3``)."""
    stem, dot, ext = path.rpartition(".")
    return f"{stem}-fold{fold}.{ext}" if dot else f"{path}-fold{fold}"


def _download(args: argparse.Namespace) -> int:
    from smearnet.data import OFFICIAL_SHA256, OFFICIAL_SIZE, OFFICIAL_URL, download

    url = args.url or OFFICIAL_URL
    sha = args.sha256 or OFFICIAL_SHA256
    size = args.size if args.size is not None else (None if args.sha256 else OFFICIAL_SIZE)
    path = download(url, dest=args.dest, sha256=sha, size=size, progress=True)
    print(f"{path} ({path.stat().st_size:,} bytes, SHA-256 checked)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="look at, cache, split or download the images",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = data.add_subparsers(dest="data_command", metavar="<command>", required=True)
    src_help = ("cell_images.zip, its extracted folder, or any folder with Parasitized/ and "
                "Uninfected/ subfolders (default: $SMEARNET_DATA, else the downloaded archive)")

    p = sub.add_parser("summary", help="counts per class, slides, image sizes, skipped files")
    p.add_argument("--data", metavar="PATH", help=src_help)
    p.add_argument("--verify", action="store_true",
                   help="decode every image (building the cache) to find corrupt ones too")
    p.add_argument("--image-size", type=positive_int, default=None, metavar="N",
                   help="with --verify: the size the images are decoded and cached at (default 133)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_summary)

    p = sub.add_parser("samples", help="save a grid of labelled example cells as PNG")
    p.add_argument("--data", metavar="PATH", help=src_help)
    p.add_argument("--out", required=True, metavar="PNG", type=output_file)
    p.add_argument("--n", type=positive_int, default=16,
                   help="number of cells, half per class (default 16)")
    p.add_argument("--cols", type=positive_int, default=8, help="cells per row (default 8)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="which cells are drawn (default 0)")
    p.set_defaults(func=_samples)

    p = sub.add_parser("cache", help="decode and resize every image once into the cache")
    p.add_argument("--data", metavar="PATH", help=src_help)
    p.add_argument("--image-size", type=positive_int, default=133, metavar="N",
                   help="square side in pixels (default 133; cellnet uses 64)")
    p.add_argument("--interpolation", default="bilinear",
                   choices=["bilinear", "nearest", "bicubic", "area", "lanczos"],
                   help="resampling filter (default bilinear, what train and evaluate use)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="decoding processes (default: all usable cores)")
    p.set_defaults(func=_cache)

    p = sub.add_parser("split", help="write a train/val/test split manifest")
    p.add_argument("--data", metavar="PATH", help=src_help)
    p.add_argument("--out", required=True, metavar="JSON", type=output_file)
    p.add_argument("--split", choices=["patient", "kfold", "random"], default="patient",
                   help="patient: grouped by slide (default); kfold: grouped k-fold; "
                        "random: the assignment's image-level split (leaks patients)")
    p.add_argument("--fractions", type=fraction, nargs=3, default=None,
                   metavar=("TRAIN", "VAL", "TEST"),
                   help="shares of the images for --split patient or random, adding up to 1 "
                        "(default 0.7 0.15 0.15)")
    p.add_argument("--k", type=int_at_least(2), default=None,
                   help=f"folds for --split kfold (default {DEFAULT_K})")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="use a class-stratified sample of N images (the assignment: 5000)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.set_defaults(func=_split)

    p = sub.add_parser("download", help="fetch the official cell_images.zip, resumable, checked")
    p.add_argument("--url", type=http_url, help="a mirror of the archive (default: the NLM address)")
    p.add_argument("--dest", metavar="DIR", type=output_dir,
                   help="folder to save cell_images.zip into (default $SMEARNET_HOME); commands "
                        "without --data find it there")
    p.add_argument("--sha256", type=sha256_hex, help="expected SHA-256 if the mirror serves a different file")
    p.add_argument("--size", type=positive_int, help="expected size in bytes (with --sha256)")
    p.set_defaults(func=_download)
