"""On the real shared images (skipped where absent). Kept fast: indexing reads headers only."""

from __future__ import annotations

import os

import numpy as np
import pytest

from smearnet.data import Batches, index_source, load_dataset, split_by_patient


@pytest.fixture(scope="module")
def real_index(shared_images):
    return index_source(shared_images)


def test_real_counts_and_slides(real_index):
    idx = real_index
    assert idx.class_counts == {"Parasitized": 8413, "Uninfected": 8290}
    assert len(set(idx.slides.tolist())) == 120
    assert idx.skipped == [] and "" not in set(idx.slides.tolist())
    assert 40 <= idx.widths.min() and idx.widths.max() <= 394
    assert 40 <= idx.heights.min() and idx.heights.max() <= 385
    assert 120 <= np.median(idx.widths) <= 140


def test_real_patient_split(real_index):
    idx = real_index
    s = split_by_patient(idx.slides, idx.labels, seed=0)
    assert s.check_disjoint(idx.slides) == set()
    for part in (s.train, s.val, s.test):
        assert 0.4 < idx.labels[part].mean() < 0.6


def test_small_real_cache(shared_images, tmp_path, monkeypatch):
    """A subset (symlinks to 40 real files per class) cached at 64 px and batched."""
    monkeypatch.setenv("SMEARNET_HOME", str(tmp_path / "home"))
    for cls in ("Parasitized", "Uninfected"):
        (tmp_path / "sub" / cls).mkdir(parents=True)
        for name in sorted(os.listdir(shared_images / cls))[:40]:
            os.symlink(shared_images / cls / name, tmp_path / "sub" / cls / name)
    ds = load_dataset(tmp_path / "sub", 64, progress=False, workers=2)
    assert ds.images.shape == (80, 64, 64, 3) and ds.labels.sum() == 40
    assert np.mean(ds.images[:, 0, 0].max(axis=-1) < 30) > 0.9  # corners: black background
    x, y = next(iter(Batches(ds.images, ds.labels, None, batch_size=16, seed=0)))
    assert x.shape == (16, 64, 64, 3) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    assert not load_dataset(tmp_path / "sub", 64, progress=False).built
