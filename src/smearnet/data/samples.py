"""A grid of example cells with their labels and slide keys (the assignment's part 3 a)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from smearnet._text import plural

from .decode import decode_resized
from .errors import ImageError, SourceError
from .index import DataIndex
from .sources import LABEL_NAMES

COLOURS = {1: "#b2182b", 0: "#2166ac"}


def pick_samples(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` indices, half per class (parasitized first), drawn with the seed."""
    rng = np.random.default_rng(seed)
    out = []
    for c, m in ((1, n - n // 2), (0, n // 2)):
        pool = np.flatnonzero(np.asarray(labels) == c)
        out.append(rng.choice(pool, size=min(m, len(pool)), replace=False))
    return np.concatenate(out).astype(np.int64)


def sample_grid(index: DataIndex, out: str | os.PathLike, n: int = 16, cols: int = 8,
                seed: int = 0, image_size: int = 96, dpi: int = 80) -> Path:
    """Draw ``n`` cells (half parasitized, half uninfected) in a grid and save it as a PNG.

    Each tile is titled with its label (1 = Parasitized, 0 = Uninfected) and slide key.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if n < 1 or cols < 1:
        raise ValueError(f"need n >= 1 cells and cols >= 1 columns, got n={n}, cols={cols}")
    where = index.source.root if index.source is not None else "the data"
    if len(index) == 0:
        from .errors import no_usable_images
        raise no_usable_images(where, len(index.skipped))
    chosen = pick_samples(index.labels, n, seed)
    reader = index.source.reader() if index.source is not None else None
    tiles = []
    for i in chosen:
        data = reader.read(index.members[i]) if reader is not None else str(index.paths[i])
        try:
            tiles.append((i, decode_resized(data, image_size, "bilinear", str(index.paths[i]))))
        except ImageError:
            continue  # a file broken since indexing: leave it out of the picture
    if reader is not None:
        reader.close()
    if not tiles:
        raise SourceError(f"{where}: none of the {plural(len(chosen), 'cell')} drawn could be decoded")
    rows = max(1, -(-len(tiles) // cols))
    fig = Figure(figsize=(1.35 * cols, 1.75 * rows + 0.3), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    for k, (i, img) in enumerate(tiles):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(img, interpolation="antialiased")
        label = int(index.labels[i])
        ax.set_title(f"{label} {LABEL_NAMES[label]}\n{index.slides[i] or '?'}", fontsize=8,
                     color=COLOURS[label])
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("1 = Parasitized, 0 = Uninfected; below: slide (patient) key", fontsize=9)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=dpi)
    return out
