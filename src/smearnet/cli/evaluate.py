"""``smearnet evaluate``: a trained model's figures on a labelled folder or archive."""

from __future__ import annotations

import argparse
import json

from smearnet.cli.args import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="accuracy, sensitivity, specificity, ROC-AUC... of a model on labelled images",
        description="Evaluate a model on every image of a labelled source (folder with "
                    "Parasitized/ and Uninfected/ subfolders, or cell_images.zip). Prints accuracy, "
                    "balanced accuracy, sensitivity (parasitized found), specificity, precision, F1, "
                    "ROC-AUC, the confusion matrix and per-slide accuracy.")
    p.add_argument("--model", default=None, help="model file (default: the model shipped with smearnet)")
    p.add_argument("--data", required=True, metavar="PATH", help="labelled images: folder or zip")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout (progress goes to stderr)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="images per forward pass (default: by image size)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from smearnet.cli.predict import load_model_or_exit
    from smearnet.pipeline.evaluate import format_metrics
    from smearnet.pipeline.evaluate import evaluate_source

    model = load_model_or_exit(args.model)
    m = evaluate_source(model, args.data, batch_size=args.batch_size, progress=True)
    if args.json:
        print(json.dumps(m, allow_nan=False))
    else:
        print(format_metrics(m))
    return 0
