"""Measure forward vs reverse accumulation (part 2) over widths and depths, fit log-log slopes.

Two sweeps: widths n at a fixed depth, and depths L at a fixed width. Each point times every
method of :data:`smearnet.backprop.part2.METHODS` (each includes its own forward pass) on the
same random float32 tanh chain, as the best of a few repeats, with BLAS limited to
``threads`` threads (default 1). With one thread the clock is this process's CPU time, not
wall-clock time, so other jobs sharing the cores do not inflate the figures (they can still
compete for caches and memory bandwidth); with more threads it is wall-clock time, since
idle BLAS threads spin and would inflate CPU time. The slope of log(time) against log(n)
(or log(L)) is fitted by least squares, beside the slope of the exact FLOP counts over the same points.
"""

from __future__ import annotations

import contextlib
import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .part2 import METHODS, flop_counts, random_chain

METHOD_LABELS = {
    "forward": "forward accumulation (dL/dx and all dL/dW_i)",
    "forward_input": "forward accumulation, J_{N_L}(N_0) only (dL/dx)",
    "reverse": "reverse accumulation (dL/dx and all dL/dW_i)",
}


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. ``width_fit_from``: the smallest n used in the width-slope fit (below
    it, per-call overhead of a few microseconds hides the O(n^2) work)."""

    widths: tuple[int, ...] = (16, 32, 64, 128, 192, 256, 384, 512, 768, 1024)
    width_sweep_depth: int = 8
    depths: tuple[int, ...] = (2, 4, 8, 16, 32)
    depth_sweep_width: int = 512
    width_fit_from: int = 256
    repeats: int = 5
    min_time: float = 0.1
    threads: int | None = 1
    seed: int = 0


FULL = BenchConfig()
QUICK = BenchConfig(widths=(16, 32, 64, 128, 256), width_sweep_depth=4, depths=(2, 4, 8),
                    depth_sweep_width=64, width_fit_from=64, repeats=2, min_time=0.01)


@dataclass
class BenchResult:
    """``rows``: one dict per point (see :data:`CSV_FIELDS`). ``slopes[sweep][method]`` =
    ``{"measured": s, "flops": s}`` (``sweep`` is ``"width"`` or ``"depth"``)."""

    config: BenchConfig
    rows: list[dict] = field(default_factory=list)
    slopes: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    threads: str = "default"
    clock: str = "wall"
    seconds: float = 0.0


CSV_FIELDS = ["sweep", "n", "L"] + [f"{m}_seconds" for m in METHODS] + \
             [f"{m}_flops" for m in METHODS] + ["forward_over_reverse"]


@contextlib.contextmanager
def _blas_threads(threads: int | None) -> Iterator[str]:
    if threads is None:
        yield "default"
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it, measure with the default
        yield "default (threadpoolctl missing)"
        return
    with threadpool_limits(limits=threads):
        yield str(threads)


def time_call(fn: Callable[[], object], min_time: float, repeats: int,
              clock: Callable[[], float] = time.perf_counter, max_time: float = 3.0) -> float:
    """Seconds per call: the best of ``repeats`` batches, each long enough (>= ``min_time``)
    for the clock to resolve it. One untimed call first warms caches and allocators. A call so
    slow that the batches exceed ``max_time`` gets only two batches."""
    fn()
    number, t = 1, 0.0
    while True:
        start = clock()
        for _ in range(number):
            fn()
        t = clock() - start
        if t >= min_time or number >= 1 << 20:
            break
        number = max(number * 2, int(number * min_time / max(t, 1e-9) * 1.2))
    best, spent = t / number, t
    for k in range(repeats - 1):
        if k >= 1 and spent > max_time:
            break
        start = clock()
        for _ in range(number):
            fn()
        t = clock() - start
        best, spent = min(best, t / number), spent + t
    return best


def fit_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def measure_point(n: int, L: int, config: BenchConfig, sweep: str,
                  clock: Callable[[], float] = time.perf_counter) -> dict:
    """Time every method on one random chain of ``L`` layers of width ``n``."""
    chain, x, y = random_chain([n] * (L + 1), "tanh", seed=config.seed, dtype=np.float32)
    row: dict = {"sweep": sweep, "n": n, "L": L}
    counts = flop_counts(n, L)
    for name, method in METHODS.items():
        row[f"{name}_seconds"] = time_call(lambda f=method: f(chain, x, y), config.min_time,
                                              config.repeats, clock)
        row[f"{name}_flops"] = counts[name]
    row["forward_over_reverse"] = row["forward_seconds"] / row["reverse_seconds"]
    return row


def run_benchmark(config: BenchConfig = FULL,
                  progress: Callable[[dict], None] | None = None) -> BenchResult:
    """Both sweeps and their fitted slopes; ``progress(row)`` is called after each point."""
    start = time.perf_counter()
    result = BenchResult(config=config)
    clock = time.process_time if config.threads == 1 else time.perf_counter
    result.clock = "CPU" if config.threads == 1 else "wall"
    with _blas_threads(config.threads) as threads:
        result.threads = threads
        points = [("width", n, config.width_sweep_depth) for n in config.widths]
        points += [("depth", config.depth_sweep_width, L) for L in config.depths]
        for sweep, n, L in points:
            row = measure_point(n, L, config, sweep, clock)
            result.rows.append(row)
            if progress is not None:
                progress(row)
    result.slopes = compute_slopes(result.rows, config)
    result.seconds = time.perf_counter() - start
    return result


def compute_slopes(rows: list[dict], config: BenchConfig) -> dict[str, dict[str, dict[str, float]]]:
    """Fitted log-log slopes of time and of FLOPs, per sweep and method."""
    slopes: dict[str, dict[str, dict[str, float]]] = {}
    for sweep, key in (("width", "n"), ("depth", "L")):
        pts = [r for r in rows if r["sweep"] == sweep]
        if sweep == "width":
            pts = [r for r in pts if r["n"] >= config.width_fit_from]
        if len(pts) < 2:
            continue
        xs = [r[key] for r in pts]
        slopes[sweep] = {m: {"measured": fit_slope(xs, [r[f"{m}_seconds"] for r in pts]),
                             "flops": fit_slope(xs, [r[f"{m}_flops"] for r in pts])}
                         for m in METHODS}
    return slopes


def write_csv(result: BenchResult, path: Path) -> None:
    """One line per point, the columns of :data:`CSV_FIELDS`."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for row in result.rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def plot(result: BenchResult, path: Path) -> None:
    """Two log-log panels: time vs width n (fixed L) and time vs depth L (fixed n), measured
    points with the fitted power law dashed and the ideal power law (shifted up 2x) dotted."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    cfg = result.config
    fig = Figure(figsize=(11, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    colors = {"forward": "tab:red", "forward_input": "tab:orange", "reverse": "tab:blue"}
    panels = (("width", "n", f"width n (L = {cfg.width_sweep_depth} layers)"),
              ("depth", "L", f"depth L (width n = {cfg.depth_sweep_width})"))
    for k, (sweep, key, xlabel) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        pts = [r for r in result.rows if r["sweep"] == sweep]
        xs = np.array([r[key] for r in pts], dtype=float)
        for m in METHODS:
            ys = np.array([r[f"{m}_seconds"] for r in pts])
            slope = result.slopes.get(sweep, {}).get(m, {}).get("measured")
            label = METHOD_LABELS[m] + (f": slope {slope:.2f}" if slope is not None else "")
            ax.loglog(xs, ys, "o-", color=colors[m], label=label, ms=4)
            if slope is not None:
                fit = xs >= cfg.width_fit_from if sweep == "width" else np.ones_like(xs, bool)
                c = np.polyfit(np.log(xs[fit]), np.log(ys[fit]), 1)
                ax.loglog(xs[fit], np.exp(np.polyval(c, np.log(xs[fit]))), "--", color=colors[m], lw=1)
        # Guides: the ideal power laws over the fit range, through the largest point.
        ideal = {"width": (("forward", 3), ("reverse", 2)), "depth": (("forward", 2), ("reverse", 1))}
        gx = xs[xs >= cfg.width_fit_from] if sweep == "width" else xs
        for m, p in ideal[sweep] if len(gx) >= 2 else ():
            y_end = pts[-1][f"{m}_seconds"] * 2
            gy = y_end * (gx / gx[-1]) ** p
            ax.loglog(gx, gy, ":", color="black", lw=1)
            ax.annotate(f"ideal ${key}^{p}$", (gx[0], gy[0]), textcoords="offset points",
                        xytext=(0, 6), fontsize=8, ha="left", va="bottom")
        ax.set_xticks(xs)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{result.clock} seconds per gradient")
        ax.set_title(f"time vs {key} (log-log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Forward vs reverse accumulation of the chain-rule product "
                 f"(float32, BLAS threads: {result.threads})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
