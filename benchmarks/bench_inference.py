"""How fast the shipped model (or any saved classifier) scores cells.

    python benchmarks/bench_inference.py [--model M] [--data PATH] [--cells 4096] [--files 2000]

1. Model: cells already decoded and resized (uint8, the model's size, from the shared images'
   cache), scored by ``smearnet.pipeline.inference.predict_proba`` in its default batches: the
   network alone, with the scaling to float32 and the model's test-time augmentation if any.
2. End to end: ``smearnet.pipeline.predict.predict_files`` on PNG files (decode, resize,
   score), what ``smearnet predict`` does after listing the files.
Each is timed ``--repeat`` times after a warm-up and the best run is kept (other processes on
the machine only ever slow a run down). Threads: NumPy's BLAS default (all cores).
The table also goes to ``benchmarks/results/inference.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "malaria" / "cell_images"


def best_of(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="a saved classifier (default: the shipped model)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SMEARNET_DATA", DEFAULT_DATA)))
    ap.add_argument("--cells", type=int, default=4096, help="decoded cells scored in part 1")
    ap.add_argument("--files", type=int, default=2000, help="PNG files scored end to end in part 2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "inference.json")
    args = ap.parse_args()
    if not (args.data / "Parasitized").is_dir():
        print(f"{args.data}: no Parasitized/ folder; pass --data", file=sys.stderr)
        return 2

    from smearnet.data import load_dataset
    from smearnet.pipeline import inference
    from smearnet.pipeline.predict import predict_files

    model = inference.load_classifier(args.model)
    meta = inference.info(model)
    size = int(meta["image_size"])
    ds = load_dataset(args.data, size, progress=False)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(ds.labels), size=min(args.cells, len(ds.labels)), replace=False))
    cells = np.asarray(ds.images[idx])
    t_model = best_of(lambda: inference.predict_proba(model, cells), args.repeat)
    files = [Path(p) for p in np.asarray(ds.paths)[rng.choice(len(ds.paths), size=min(args.files, len(ds.paths)), replace=False)]]
    if not all(f.is_file() for f in files[:5]):
        files = []  # the cache was built from a zip: no loose files to time
    t_files = best_of(lambda: predict_files(model, files), args.repeat) if files else None

    res = {
        "model": str(args.model or inference.default_model_path()), "image_size": size,
        "tta": meta.get("tta"), "threads": os.cpu_count(),
        "cells": len(cells), "model_seconds": t_model, "model_cells_per_s": len(cells) / t_model,
        "files": len(files), "end_to_end_seconds": t_files,
        "end_to_end_cells_per_s": (len(files) / t_files) if t_files else None,
        "load_average": os.getloadavg(), "machine": platform.processor() or platform.machine(),
        "numpy": np.__version__,
    }
    print(f"model {res['model']} ({size} px, test-time augmentation: {res['tta'] or 'none'})")
    print(f"  network on decoded cells : {res['model_cells_per_s']:8.0f} cells/s ({len(cells)} cells, best of {args.repeat})")
    if t_files:
        print(f"  end to end on PNG files  : {res['end_to_end_cells_per_s']:8.0f} cells/s ({len(files)} files: decode, resize, score)")
    print(f"  load average {tuple(round(x, 2) for x in res['load_average'])} on {os.cpu_count()} CPUs")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
