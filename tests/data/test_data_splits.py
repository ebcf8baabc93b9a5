"""Splits: patients never shared (unless random), both classes everywhere, manifests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smearnet.data import (LeakageError, Split, group_kfold, split_by_patient, split_random,
                           stratified_limit)


def fake_cohort(seed: int = 0, n_infected: int = 30, n_healthy: int = 10):
    """Slides like the real data: infected slides with both classes (very uneven counts),
    healthy slides with uninfected cells only."""
    rng = np.random.default_rng(seed)
    slides, labels = [], []
    for s in range(n_infected):
        p, u = int(rng.integers(1, 120)), int(rng.integers(20, 80))
        slides += [f"C{s + 1}"] * (p + u)
        labels += [1] * p + [0] * u
    for s in range(n_healthy):
        u = int(rng.integers(30, 90))
        slides += [f"C{200 + s}"] * u
        labels += [0] * u
    return np.array(slides), np.array(labels, dtype=np.uint8)


def _both_classes(labels, idx):
    return set(labels[idx].tolist()) == {0, 1}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_patient_split_disjoint_balanced_deterministic(seed):
    slides, labels = fake_cohort(seed)
    s = split_by_patient(slides, labels, (0.7, 0.15, 0.15), seed=seed)
    parts = [s.train, s.val, s.test]
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))
    sets = [set(slides[p].tolist()) for p in parts]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert all(_both_classes(labels, p) for p in parts)
    for p, f in zip(parts, (0.7, 0.15, 0.15)):
        assert abs(len(p) / len(labels) - f) < 0.06
        assert abs(labels[p].mean() - labels.mean()) < 0.08
    again = split_by_patient(slides, labels, (0.7, 0.15, 0.15), seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, [again.train, again.val, again.test]))
    assert s.kind == "patient" and s.check_disjoint(slides) == set()


def test_different_seeds_give_different_patient_splits():
    slides, labels = fake_cohort()
    a, b = (split_by_patient(slides, labels, seed=k) for k in (0, 1))
    assert not np.array_equal(a.test, b.test)


def test_patient_split_without_validation_part():
    slides, labels = fake_cohort()
    s = split_by_patient(slides, labels, (0.8, 0.0, 0.2), seed=0)
    assert len(s.val) == 0 and _both_classes(labels, s.test)


def test_patient_split_refuses_impossible_requests():
    slides = np.array(["C1", "C1", "C2", "C2"])
    labels = np.array([1, 0, 0, 0], dtype=np.uint8)
    with pytest.raises(ValueError, match="both classes"):
        split_by_patient(slides, labels, (0.5, 0.0, 0.5))  # only C1 has parasitized cells
    with pytest.raises(ValueError, match="at least 3 slides"):
        split_by_patient(slides, labels)
    with pytest.raises(ValueError, match="no slide key"):
        split_by_patient(np.array(["C1", "", "C3"]), np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="fractions"):
        split_by_patient(*fake_cohort(), fractions=(0.5, 0.2, 0.2))


def test_group_kfold_covers_everything_once():
    slides, labels = fake_cohort(3)
    folds = group_kfold(slides, labels, k=5, seed=0)
    assert len(folds) == 5
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests.tolist()) == list(range(len(labels)))
    for i, f in enumerate(folds):
        assert f.kind == "kfold" and f.info == {"fold": i, "k": 5}
        assert sorted(np.concatenate([f.train, f.test]).tolist()) == list(range(len(labels)))
        assert not set(slides[f.train].tolist()) & set(slides[f.test].tolist())
        assert _both_classes(labels, f.test) and _both_classes(labels, f.train)
        assert abs(len(f.test) / len(labels) - 0.2) < 0.06
    fold_of_slide = {}
    for i, f in enumerate(folds):
        for sl in set(slides[f.test].tolist()):
            assert fold_of_slide.setdefault(sl, i) == i


def test_random_split_sizes_and_seed():
    labels = np.arange(1000) % 2
    s = split_random(labels, 700, 200, 100, seed=3)
    assert (len(s.train), len(s.val), len(s.test)) == (700, 100, 200)
    assert len(np.unique(np.concatenate([s.train, s.val, s.test]))) == 1000
    assert np.array_equal(s.test, split_random(labels, 700, 200, 100, seed=3).test)
    assert not np.array_equal(s.test, split_random(labels, 700, 200, 100, seed=4).test)
    f = split_random(labels, 0.8, 0.2)
    assert (len(f.train), len(f.test)) == (800, 200)
    with pytest.raises(ValueError, match="asked for"):
        split_random(labels, 900, 200)


def test_leaky_split_refused_unless_random(tmp_path):
    slides, labels = fake_cohort()
    rnd = split_random(labels, 0.7, 0.3, seed=0)
    shared = rnd.check_disjoint(slides)  # allowed, but the shared slides are reported
    assert len(shared) > 0
    leaky = Split(rnd.train, rnd.val, rnd.test, kind="patient")
    with pytest.raises(LeakageError, match="appear in two parts"):
        leaky.check_disjoint(slides)
    with pytest.raises(LeakageError):
        leaky.save(tmp_path / "leaky.json", np.array([f"P/{i}.png" for i in range(len(labels))]), slides)
    assert not (tmp_path / "leaky.json").exists()
    twice = Split(np.array([0, 1]), np.array([], dtype=np.int64), np.array([1, 2]), kind="random")
    with pytest.raises(LeakageError, match="same image"):
        twice.check_disjoint(slides)


def test_manifest_roundtrip(tmp_path):
    slides, labels = fake_cohort()
    paths = np.array([f"/data/{'Parasitized' if y else 'Uninfected'}/{s}_cell_{i}.png"
                      for i, (s, y) in enumerate(zip(slides, labels))])
    s = split_by_patient(slides, labels, seed=0)
    out = s.save(tmp_path / "split.json", paths, slides, labels)
    m = json.loads(out.read_text())
    assert m["kind"] == "patient" and m["fractions"] == [0.7, 0.15, 0.15]
    assert m["parts"]["test"]["slides"] == sorted(set(slides[s.test].tolist()))
    assert m["parts"]["train"]["files"][0].startswith(("Parasitized/", "Uninfected/"))
    assert m["parts"]["val"]["n_parasitized"] == int(labels[s.val].sum())
    moved = np.array([p.replace("/data/", "/elsewhere/cell_images/") for p in paths])
    back = Split.load(out, moved)  # files are matched by Class/name, not by absolute path
    assert all(np.array_equal(a, b) for a, b in zip(s.parts().values(), back.parts().values()))
    with pytest.raises(ValueError, match="not in the data set"):
        Split.load(out, moved[:-5])


def test_stratified_limit_and_remap():
    slides, labels = fake_cohort()
    sub = stratified_limit(labels, 500, seed=0)
    assert len(sub) == 500 and np.all(np.diff(sub) > 0)
    assert abs(labels[sub].mean() - labels.mean()) < 0.01
    assert np.array_equal(sub, stratified_limit(labels, 500, seed=0))
    assert len(stratified_limit(labels, 10**6)) == len(labels)
    s = split_by_patient(slides[sub], labels[sub], seed=0).remap(sub)
    assert set(np.concatenate([s.train, s.val, s.test]).tolist()) == set(sub.tolist())
    s.check_disjoint(slides)


@pytest.mark.parametrize("n", [16_703, 5000, 101, 7, 1])
def test_part_counts_cover_every_image(n):
    from smearnet.data.splits import part_counts

    counts = part_counts([0.7, 0.15, 0.15], n)
    assert sum(counts) == n and all(c >= 0 for c in counts)
    assert part_counts([0.8, 0.0, 0.2], n)[1] == 0
    assert sum(part_counts([0.5, 0.0, 0.25], 100)) == 75  # fractions below 1 leave the rest out


def test_save_to_a_folder_leaves_no_temporary_file(tmp_path):
    s = split_random(np.array([0, 1] * 10), 10, 5, 5, seed=0)
    target = tmp_path / "empty"
    target.mkdir()
    paths = np.array([f"Parasitized/C{i}_x.png" for i in range(20)])
    slides = np.array([f"C{i}" for i in range(20)])
    with pytest.raises(IsADirectoryError):
        s.save(target, paths, slides)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
