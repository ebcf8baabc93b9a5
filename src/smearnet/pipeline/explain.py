"""Saliency maps: where in the cell the network's "parasitized" score is most sensitive.

The score is the network's raw output (the logit, or the assignment model's linear output).
Its gradient with respect to the input pixels comes from the same reverse-mode engine used for
training: one backward pass per batch.

- ``gradxinput``: |sum over channels of gradient * input| (Shrikumar et al. 2016).
- ``smoothgrad``: gradient x input averaged over ``samples`` noisy copies of the image
  (Gaussian noise of ``noise`` x the image's value range; Smilkov et al. 2017), which removes
  most of the speckle of a single gradient.

Either map is then blurred slightly (sigma = image size / 64 pixels) for display and scaled to
[0, 1] by its 99th percentile. On correctly classified parasitized cells the maps light up the
stained parasite; on confident mistakes they show what the network took for one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from smearnet.autodiff import Tensor

METHODS = ("smoothgrad", "gradxinput")


def input_gradient(model: Any, x: np.ndarray) -> np.ndarray:
    """d(sum of raw outputs)/d(input) for a float32 batch (N, H, W, 3) -> (N, H, W, 3).

    Each image's output depends only on its own pixels (inference mode: batch norm uses its
    running statistics, no dropout), so the gradient of the sum is every image's own gradient.
    """
    xt = Tensor(x, requires_grad=True)
    out = model(xt, training=False)
    out.sum().backward()
    return np.asarray(xt.grad, dtype=np.float32)


def saliency_maps(model: Any, x: np.ndarray, method: str = "smoothgrad", samples: int = 16,
                  noise: float = 0.15, seed: int = 0, batch_size: int = 64,
                  blur: float | None = None) -> np.ndarray:
    """Saliency (N, H, W) in [0, 1] for float32 images (N, H, W, 3) in [0, 1].

    Args:
        method: "smoothgrad" or "gradxinput" (see the module docstring).
        samples: noisy copies per image for SmoothGrad.
        noise: noise standard deviation as a fraction of the image's value range.
        blur: Gaussian sigma in pixels applied to each map before normalizing (display only:
            per-pixel attributions are speckled, a parasite is a blob); default ``H / 64``,
            0 = none.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    attr = np.zeros(x.shape[:3], dtype=np.float32)
    if method == "gradxinput":
        for s in range(0, n, batch_size):
            xb = x[s:s + batch_size]
            attr[s:s + len(xb)] = np.abs((input_gradient(model, xb) * xb).sum(axis=-1))
    else:
        rng = np.random.default_rng(seed)
        per = max(1, batch_size // samples)  # images per backward pass
        for s in range(0, n, per):
            xb = x[s:s + per]
            span = (xb.max(axis=(1, 2, 3)) - xb.min(axis=(1, 2, 3))).reshape(-1, 1, 1, 1, 1)
            noisy = xb[:, None] + rng.standard_normal((len(xb), samples) + xb.shape[1:]).astype(np.float32) \
                * (noise * span).astype(np.float32)
            flat = noisy.reshape((-1,) + xb.shape[1:])
            g = input_gradient(model, flat).reshape(noisy.shape)
            attr[s:s + len(xb)] = np.abs((g * noisy).sum(axis=-1)).mean(axis=1)
    sigma = x.shape[1] / 64 if blur is None else blur
    if sigma > 0:
        from scipy.ndimage import gaussian_filter  # scipy comes with scikit-learn

        attr = gaussian_filter(attr, sigma=(0, sigma, sigma), mode="constant")
    return normalize(attr)


def normalize(attr: np.ndarray, pct: float = 99.0) -> np.ndarray:
    """Scale each map to [0, 1] by its own ``pct`` percentile (a few hot pixels don't dominate)."""
    top = np.percentile(attr.reshape(len(attr), -1), pct, axis=1).reshape(-1, 1, 1)
    return np.clip(attr / np.maximum(top, 1e-12), 0.0, 1.0).astype(np.float32)


def overlay(image: np.ndarray, saliency: np.ndarray, size: int = 160, alpha: float = 0.6) -> np.ndarray:
    """The cell (uint8 H, W, 3) with the saliency map (h, w) in [0, 1] on top -> uint8 (size, size, 3).

    Colour and opacity both grow with saliency, so unimportant regions show the plain cell.
    """
    cell = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize((size, size), Image.BILINEAR),
                      dtype=np.float32) / 255.0
    sal = np.asarray(Image.fromarray(np.asarray(saliency, np.float32), mode="F").resize((size, size),
                     Image.BILINEAR), dtype=np.float32).clip(0, 1)
    heat = colormaps["inferno"](sal)[..., :3].astype(np.float32)
    a = (alpha * sal)[..., None]
    return np.round(255 * ((1 - a) * cell + a * heat)).astype(np.uint8)


def _panel(fig: Figure, rows: int, cols: int, k: int, img: np.ndarray, title: str, fontsize: int = 8) -> None:
    ax = fig.add_subplot(rows, cols, k)
    ax.imshow(img)
    ax.set_title(title, fontsize=fontsize)
    ax.axis("off")


def save_explanation(path: str | Path, image: np.ndarray, saliency: np.ndarray, title: str) -> Path:
    """A PNG with the cell and the cell with its saliency overlay side by side."""
    fig = Figure(figsize=(4.4, 2.7))
    _panel(fig, 1, 2, 1, np.asarray(Image.fromarray(image).resize((160, 160), Image.BILINEAR)), "cell", 9)
    _panel(fig, 1, 2, 2, overlay(image, saliency), "saliency", 9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))  # keep the two-line title clear of the panel titles
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return Path(path)


def save_grid(path: str | Path, images: list[np.ndarray], saliencies: list[np.ndarray],
              titles: list[str], per_row: int = 4) -> Path:
    """Several (cell, overlay) pairs in a grid; ``per_row`` pairs per row."""
    n = len(images)
    rows = max(1, -(-n // per_row))
    cols = 2 * per_row
    fig = Figure(figsize=(1.6 * cols, 1.9 * rows))
    for i, (img, sal, t) in enumerate(zip(images, saliencies, titles)):
        r, c = divmod(i, per_row)
        _panel(fig, rows, cols, r * cols + 2 * c + 1, np.asarray(img), t, 7)
        _panel(fig, rows, cols, r * cols + 2 * c + 2, overlay(img, sal), "saliency", 7)
    fig.tight_layout()
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return Path(path)


def output_paths(files: list[Path] | list[str], out_dir: str | Path) -> list[Path]:
    """The PNG each file's saliency map is saved as: ``OUT/<stem>_saliency.png``, with
    ``_2``, ``_3``... after the stem of a name seen before (same file name in two folders).
    Decided for every file up front, readable or not, so it can be checked before any work."""
    out, used, paths = Path(out_dir), set(), []
    for f in files:
        stem = Path(f).stem
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}_{n}"
        used.add(name)
        paths.append(out / f"{name}_saliency.png")
    return paths


def explain_files(model: Any, files: list[Path], out_dir: str | Path, method: str = "smoothgrad",
                  samples: int = 16) -> tuple[list[tuple[str, Path, float, str]], list[tuple[str, str]]]:
    """Saliency PNGs for image files: returns ([(source, png, probability, label)], skipped).

    Each PNG shows the cell (resized to the model's input) and the overlay, titled with the
    probability of Parasitized and the label at the model's threshold.
    """
    from smearnet.data import load_images

    from . import inference

    meta = inference.info(model)
    size, thr = int(meta["image_size"]), float(meta["threshold"])
    names = list(meta.get("class_names", inference.CLASS_NAMES))
    out = Path(out_dir)
    paths = [str(f) for f in files]
    pngs = output_paths(paths, out)
    images, kept, skipped = load_images(paths, size, warn=False)
    kept = [int(i) for i in np.asarray(kept)]
    written: list[tuple[str, Path, float, str]] = []
    if not kept:
        return written, [(str(p), str(r)) for p, r in skipped]
    out.mkdir(parents=True, exist_ok=True)  # only once there is something to write
    probs = inference.predict_proba(model, images)
    sal = saliency_maps(model, inference.scale(images), method=method, samples=samples)
    for k, i in enumerate(kept):
        label = names[int(probs[k] >= thr)]
        png = save_explanation(pngs[i], images[k], sal[k],
                               f"{Path(paths[i]).name}\nP(parasitized) = {probs[k]:.3f} -> {label}")
        written.append((paths[i], png, float(probs[k]), label))
    return written, [(str(p), str(r)) for p, r in skipped]
