"""``smearnet backprop``: the assignment's parts 1 and 2, worked and checked.

    smearnet backprop                      part 1 on a small example, checked three ways
    smearnet backprop --seed 3             the same on random small numbers
    smearnet backprop --bench [--quick] [--out DIR]
                                           part 2: time forward vs reverse accumulation,
                                           write DIR/backprop_bench.csv and .png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from smearnet.cli import UsageError
from smearnet.cli.args import non_negative_int, output_dir

DEFAULT_OUT = "backprop-bench"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backprop", help="the assignment's backpropagation math (parts 1 and 2), checked and measured",
        description="Part 1: the gradient of h = Wx + b, t = relu(h), L = 1/2||y - t||^2 in closed "
                    "form, checked against the autodiff engine and finite differences. "
                    "Part 2 (--bench): gradient of an L-layer chain by forward accumulation "
                    "(matrix-matrix Jacobian products) vs reverse accumulation (vector-Jacobian "
                    "products), timed over widths and depths, with fitted log-log slopes.")
    p.add_argument("--seed", type=non_negative_int, default=None,
                   help="part 1 on random small numbers from this seed (default: a fixed example)")
    p.add_argument("--bench", action="store_true", help="run the part 2 benchmark instead of part 1")
    p.add_argument("--quick", action="store_true",
                   help="with --bench: small widths and depths only (a few seconds)")
    p.add_argument("--out", type=lambda t: Path(output_dir(t)), default=None,
                   help=f"with --bench: folder for the CSV and PNG (default ./{DEFAULT_OUT})")
    p.add_argument("--threads", type=non_negative_int, default=1,
                   help="with --bench: BLAS threads while timing (default 1; 0 = library default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.bench and (args.quick or args.out is not None):
        raise UsageError("--quick and --out apply only with --bench")
    if args.bench:
        return run_bench(args.out or Path(DEFAULT_OUT), quick=args.quick,
                         threads=args.threads or None)
    return run_part1(args.seed)


# -- part 1 ---------------------------------------------------------------------------------

def _fmt(a: np.ndarray, indent: int = 0) -> str:
    text = np.array2string(np.asarray(a) + 0.0, precision=4, suppress_small=True,  # +0.0: no "-0."
                           floatmode="maxprec", separator="  ")
    return text.replace("\n", "\n" + " " * indent)


def run_part1(seed: int | None) -> int:
    from smearnet.backprop.part1 import example_problem, three_way_check

    W, b, x, y = example_problem(seed)
    check = three_way_check(W, b, x, y)
    h, t, g = check.h, check.t, check.closed
    k, m = W.shape
    gate = (h > 0).astype(float)
    src = "a fixed example" if seed is None else f"random numbers, seed {seed}"
    out = [
        "Assignment part 1: one layer with ReLU and squared loss",
        "    h = W x + b,   t = relu(h),   L = 1/2 ||y - t||^2",
        f"    {k} units, {m} inputs; {src}; float64",
        "",
        "Inputs",
        f"    x = {_fmt(x)}",
        f"    W = {_fmt(W, 8)}",
        f"    b = {_fmt(b)}",
        f"    y = {_fmt(y)}",
        "",
        "Forward pass",
        f"    {'h = W x + b':24s}= {_fmt(h)}",
        f"    {'t = relu(h)':24s}= {_fmt(t)}",
        f"    {'L = 1/2 ||y - t||^2':24s}= {check.loss:.6g}",
        "",
        "Backward pass in closed form (chain rule, as in the assignment)",
        f"    {'dL/dt = -(y - t)':24s}= {_fmt(-(y - t))}",
        f"    {'dt/dh = 1[h > 0]':24s}= {_fmt(gate)}   (relu'(h) = 0 at h <= 0)",
        "    dh/dW = x,  dh/db = 1",
        f"    {'delta = dL/dt * dt/dh':24s}= {_fmt(g.delta)}",
        f"    {'dL/dW = delta x^T':24s}= {_fmt(g.W, 30)}",
        f"    {'dL/db = delta':24s}= {_fmt(g.b)}",
    ]
    for i in np.flatnonzero(h <= 0):
        out.append(f"    unit {i + 1} is off (h = {h[i]:.4g} <= 0): its row of dL/dW and its dL/db are 0, "
                   f"although its target y = {y[i]:.4g}")
    out += [
        "",
        "Three-way check: relative error max|a - b| / max(max|a|, max|b|)",
        f"    {'':40s}{'dL/dW':>10s}{'dL/db':>10s}",
    ]
    names = {"closed": "closed form", "engine": "autodiff engine", "fd": "finite differences"}
    for (a, c), err in check.errors.items():
        out.append(f"    {names[a] + ' vs ' + names[c]:40s}{err['W']:10.1e}{err['b']:10.1e}")
    out.append(f"    (finite differences: central, step {check.fd_eps:g}, float64; "
               f"smallest |h| = {check.min_abs_h:.3g})")
    ok = check.worst < 1e-6
    if not check.fd_trustworthy:
        out.append("    note: some h is within a finite-difference step of relu's kink at 0, where the "
                   "difference quotient averages both one-sided slopes")
    out.append("    OK: all three agree" if ok else "    MISMATCH: the gradients disagree")
    print("\n".join(out))
    return 0 if ok else 1


# -- part 2 ---------------------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def run_bench(out_dir: Path, quick: bool, threads: int | None) -> int:
    from dataclasses import replace

    from smearnet.backprop import bench

    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out_dir}: cannot create the folder ({exc.strerror})") from None
    config = replace(bench.QUICK if quick else bench.FULL, threads=threads)
    cols = [("forward", "forward"), ("forward_input", "fwd J(x) only"), ("reverse", "reverse")]
    print("Assignment part 2: gradient of an L-layer tanh chain (float32), loss 1/2||y - t||^2")
    print("    forward = Jacobians multiplied as matrices from the first layer on (all dL/dW_i and dL/dx)")
    print("    fwd J(x) only = the product J_{N_L}(N_{L-1}) ... J_{N_1}(N_0), N_0 = x, alone (dL/dx only)")
    print("    reverse = vector-Jacobian products from the loss backwards (all dL/dW_i and dL/dx)")
    clock = "CPU seconds of this process" if threads == 1 else "wall-clock seconds"
    print(f"    {clock} per gradient, best of {config.repeats}; BLAS threads: "
          f"{threads if threads else 'library default'}")
    print()
    header = f"{'sweep':6s}{'n':>6s}{'L':>4s}" + "".join(f"{c:>15s}" for _, c in cols) + f"{'fwd/rev':>9s}"
    print(header)

    def show(row: dict) -> None:
        cells = "".join(f"{_ms(row[m + '_seconds']):>15s}" for m, _ in cols)
        print(f"{row['sweep']:6s}{row['n']:6d}{row['L']:4d}{cells}{row['forward_over_reverse']:8.1f}x",
              flush=True)

    result = bench.run_benchmark(config, progress=show)
    print()
    print("Fitted log-log slopes: measured time (exact FLOP count)")
    where = {"width": f"time vs n, L = {config.width_sweep_depth}, n >= {config.width_fit_from}",
             "depth": f"time vs L, n = {config.depth_sweep_width}"}
    for sweep, per_method in result.slopes.items():
        cells = "   ".join(f"{c} {per_method[m]['measured']:.2f} ({per_method[m]['flops']:.2f})"
                           for m, c in cols)
        print(f"    {where[sweep]:36s} {cells}")
    print("    FLOPs: forward L(L-1)n^3 + 6Ln^2 + Ln + n;  fwd J(x) only 2(L-1)n^3 + 3Ln^2 + 2n^2 + n;"
          "  reverse 5Ln^2 + Ln + n")
    csv_path, png_path = out_dir / "backprop_bench.csv", out_dir / "backprop_bench.png"
    bench.write_csv(result, csv_path)
    bench.plot(result, png_path)
    print()
    print(f"wrote {csv_path} and {png_path} ({result.seconds:.0f} s)")
    return 0
