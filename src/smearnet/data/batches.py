"""Mini-batches from the uint8 cache: shuffled per epoch, scaled to float32 one batch at a time.

Only the batch being yielded is ever float32 (32 x 133 x 133 x 3 x 4 bytes = 6.8 MB), never the
data set, so a whole-set epoch over a memory-mapped cache needs little memory beyond the cache.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .augment import Augment


class Batches:
    """Iterable of ``(x, y)`` batches over ``images[indices]``; iterate once per epoch.

    images: uint8 (N, H, W, C) array or memmap; labels: (N,); indices: the rows to use (a
    split's part; None = all). Each iteration is one epoch: with ``shuffle`` the order is a
    permutation drawn from ``(seed, epoch)``, so epochs differ from each other yet every run
    with the same seed repeats them. Yields x float32 (B, H, W, C) in [0, 1] and y float32 (B,)
    (the last batch may be smaller unless ``drop_last``). ``augment`` (an :class:`Augment`)
    is applied to x with a generator also drawn from ``(seed, epoch)``.

    Within a batch, rows are read in ascending order (faster on a memory map); which rows
    share a batch is what the shuffle decides.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray | None = None,
                 batch_size: int = 32, shuffle: bool = True, seed: int = 0,
                 augment: Augment | None = None, drop_last: bool = False):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.images, self.labels = images, np.asarray(labels)
        self.indices = (np.arange(len(labels)) if indices is None
                        else np.asarray(indices, dtype=np.int64))
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= len(labels)):
            raise ValueError("indices out of range of the images")
        self.batch_size, self.shuffle, self.seed = int(batch_size), bool(shuffle), int(seed)
        self.augment, self.drop_last = augment, bool(drop_last)
        self.epoch = 0  # the epoch the next iteration yields; set it to resume

    def __len__(self) -> int:
        n, b = len(self.indices), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def num_samples(self) -> int:
        return len(self.indices)

    @property
    def y(self) -> np.ndarray:
        """All labels of ``indices`` in unshuffled order, float32 (n,)."""
        return self.labels[self.indices].astype(np.float32)

    def order(self, epoch: int) -> np.ndarray:
        """Row order of an epoch: ``indices`` permuted by ``(seed, epoch)`` when shuffling."""
        if not self.shuffle:
            return self.indices
        return self.indices[np.random.default_rng([self.seed, epoch]).permutation(
            len(self.indices))]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        epoch = self.epoch
        self.epoch += 1
        order = self.order(epoch)
        rng = np.random.default_rng([self.seed, epoch, 1]) if self.augment else None
        for k in range(len(self)):
            rows = order[k * self.batch_size:(k + 1) * self.batch_size]
            if self.shuffle:
                rows = np.sort(rows)
            x = np.asarray(self.images[rows], dtype=np.float32)
            np.divide(x, np.float32(255.0), out=x)  # exact: 255 -> 1.0
            if self.augment is not None:
                x = self.augment(x, rng)
            yield x, self.labels[rows].astype(np.float32)
