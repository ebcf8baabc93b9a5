"""``smearnet explain``: saliency maps showing where the network sees the parasite."""

from __future__ import annotations

import argparse
import sys

from smearnet.cli import UsageError
from smearnet.cli.args import output_dir, overwritten_input, positive_int


DEFAULT_SAMPLES = 16


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="saliency maps (gradient of the score w.r.t. the pixels) over each cell",
        description="For each image, backpropagate the network's parasitized score to the input "
                    "pixels and save a PNG with the cell and the saliency overlaid.")
    p.add_argument("images", nargs="+", metavar="PATH", help="image files and/or folders (searched recursively)")
    p.add_argument("--model", default=None, help="model file (default: the model shipped with smearnet)")
    p.add_argument("--out", required=True, metavar="DIR", type=output_dir, help="folder for the PNGs")
    p.add_argument("--method", choices=["smoothgrad", "gradxinput"], default="smoothgrad",
                   help="SmoothGrad of gradient x input (default) or a single gradient x input")
    p.add_argument("--samples", type=positive_int, default=None, metavar="N",
                   help=f"noisy copies per image for SmoothGrad (default {DEFAULT_SAMPLES})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from smearnet.cli.predict import collect_images_or_exit, load_model_or_exit
    from smearnet.pipeline.explain import explain_files, output_paths
    from smearnet.pipeline.predict import escape_path

    if args.samples is not None and args.method != "smoothgrad":
        raise UsageError(f"--samples only applies to --method smoothgrad (this is --method {args.method})")
    files = collect_images_or_exit(args.images)
    from smearnet.pipeline.inference import default_model_path

    hit = overwritten_input(output_paths(files, args.out), [*files, args.model or default_model_path()])
    if hit:  # before any work: a map must not replace an image it is about to read
        raise UsageError(f"--out {args.out}: a saliency map would overwrite the input "
                         f"{hit[1]}; choose another --out folder")
    model = load_model_or_exit(args.model)
    written, skipped = explain_files(model, files, args.out, method=args.method,
                                     samples=args.samples or DEFAULT_SAMPLES)
    for path, reason in skipped:
        print(f"skipped {escape_path(path)}: {reason}", file=sys.stderr)
    if not written:
        raise UsageError(f"no readable images in {', '.join(args.images)} "
                         f"({len(skipped)} file{'s' if len(skipped) != 1 else ''} skipped)")
    for src, out, prob, label in written:
        print(f"{escape_path(src)} -> {escape_path(out)}  (P(parasitized) {prob:.3f}, {label})")
    return 0
