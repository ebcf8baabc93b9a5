"""Batches: x stays with y, float32 in [0, 1], per-epoch shuffles reproducible from the seed."""

from __future__ import annotations

import numpy as np
import pytest

from smearnet.data import Augment, Batches


def tagged(n: int = 50, size: int = 6):
    """Image i is filled with the value i (so a batch row tells which image it is); label = i % 2."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None],
                             (n, size, size, 3)).copy()
    return images, (np.arange(n) % 2).astype(np.uint8)


def _ids(x: np.ndarray) -> np.ndarray:
    return np.rint(x[:, 0, 0, 0] * 255).astype(int)


def test_rows_keep_their_labels_under_shuffle():
    images, labels = tagged()
    idx = np.arange(3, 47)
    b = Batches(images, labels, idx, batch_size=8, shuffle=True, seed=1)
    seen = []
    for x, y in b:
        ids = _ids(x)
        assert np.array_equal(y, (ids % 2).astype(np.float32))
        assert np.all(x == x[:, :1, :1, :1])  # whole rows, not mixed pixels
        seen += ids.tolist()
    assert sorted(seen) == idx.tolist()  # every row once per epoch


def test_dtype_range_and_lengths():
    images, labels = tagged()
    images[0] = 255
    b = Batches(images, labels, None, batch_size=16, shuffle=False)
    assert len(b) == 4 and b.num_samples == 50
    batches = list(b)
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]
    x, y = batches[0]
    assert x.dtype == np.float32 and y.dtype == np.float32 and x.shape == (16, 6, 6, 3)
    assert x.min() >= 0 and x.max() == 1.0
    assert np.array_equal(_ids(np.concatenate([x for x, _ in batches]))[1:], np.arange(1, 50))
    assert len(Batches(images, labels, None, batch_size=16, drop_last=True)) == 3
    assert np.array_equal(b.y, labels.astype(np.float32))


def test_epochs_reshuffle_deterministically():
    images, labels = tagged()

    def epochs(seed, n=3):
        b = Batches(images, labels, None, batch_size=10, seed=seed)
        return [[_ids(x).tolist() for x, _ in b] for _ in range(n)]

    first = epochs(0)
    assert first[0] != first[1] != first[2]  # a new shuffle each epoch
    assert first == epochs(0)  # ...the same ones for the same seed
    assert first != epochs(1)
    resumed = Batches(images, labels, None, batch_size=10, seed=0)
    resumed.epoch = 2  # resuming at epoch 2 sees what the full run saw then
    assert [_ids(x).tolist() for x, _ in resumed] == first[2]


def test_augmented_epochs_are_reproducible_and_labels_untouched():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    labels = (np.arange(20) % 2).astype(np.uint8)
    make = lambda: Batches(images, labels, None, batch_size=5, seed=2, augment=Augment())  # noqa: E731
    a, b = list(make()), list(make())
    for (xa, ya), (xb, yb) in zip(a, b):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
        assert xa.dtype == np.float32 and 0 <= xa.min() and xa.max() <= 1
    plain = list(Batches(images, labels, None, batch_size=5, seed=2))
    assert [y.tolist() for _, y in a] == [y.tolist() for _, y in plain]
    assert not all(np.array_equal(xa, xp) for (xa, _), (xp, _) in zip(a, plain))


def test_reads_a_memmap_without_loading_it(tmp_path):
    images, labels = tagged(40)
    np.save(tmp_path / "x.npy", images)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    got = np.concatenate([_ids(x) for x, _ in Batches(mm, labels, np.arange(40), batch_size=7)])
    assert sorted(got.tolist()) == list(range(40))


def test_bad_arguments():
    images, labels = tagged(10)
    with pytest.raises(ValueError, match="labels"):
        Batches(images, labels[:5])
    with pytest.raises(ValueError, match="out of range"):
        Batches(images, labels, np.array([3, 10]))
    with pytest.raises(ValueError, match="batch_size"):
        Batches(images, labels, batch_size=0)
