"""Train / validation / test splits: by patient (slide) by default, image-level on request.

Cells of one patient share stain and microscope, so a random image-level split lets the model
recognise the patient instead of the parasite and overstates accuracy (DATA.md: 98.6% vs
95.9%). :func:`split_by_patient` and :func:`group_kfold` keep each slide in one part and
balance the parts' class counts; :func:`split_random` reproduces the assignment and is the only
kind whose :meth:`Split.check_disjoint` accepts a slide in two parts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smearnet._text import plural

PARTS = ("train", "val", "test")


class LeakageError(ValueError):
    """A split puts one slide (patient), or one image, in two parts."""


@dataclass
class Split:
    """Index arrays (int64, sorted) into the data set, one per part; ``val`` may be empty.

    kind: "patient", "kfold" or "random"; for k-fold, ``fold`` and ``k`` say which fold is
    ``test``.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    kind: str = "patient"
    seed: int = 0
    info: dict = field(default_factory=dict)

    def parts(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def remap(self, indices: np.ndarray) -> "Split":
        """Translate a split of a subset (e.g. from :func:`stratified_limit`) to full indices."""
        indices = np.asarray(indices)
        return Split(*(np.sort(indices[p]) for p in (self.train, self.val, self.test)),
                     kind=self.kind, seed=self.seed, info=dict(self.info))

    def check_disjoint(self, slides: np.ndarray) -> set[str]:
        """Refuse (:class:`LeakageError`) a split where an image or, unless ``kind ==
        "random"``, a slide appears in two parts. Returns the shared slides (random splits)."""
        parts = self.parts()
        seen = np.concatenate(list(parts.values()))
        if len(np.unique(seen)) != len(seen):
            raise LeakageError("split puts the same image in two parts")
        slides = np.asarray(slides)
        sets = {name: set(slides[idx].tolist()) for name, idx in parts.items()}
        shared = ((sets["train"] & sets["val"]) | (sets["train"] & sets["test"])
                  | (sets["val"] & sets["test"]))
        if shared and self.kind != "random":
            names = ", ".join(sorted(shared)[:5]) + (" ..." if len(shared) > 5 else "")
            raise LeakageError(f"{len(shared)} slide(s) appear in two parts of a {self.kind} "
                               f"split ({names}); only --split random may share patients")
        return shared

    def to_json(self, paths: np.ndarray, slides: np.ndarray,
                labels: np.ndarray | None = None) -> dict:
        """Manifest: for each part its slides and files (``Class/file.png``), plus counts."""
        paths, slides = np.asarray(paths), np.asarray(slides)
        out: dict = {"kind": self.kind, "seed": self.seed, **self.info, "parts": {}}
        for name, idx in self.parts().items():
            part: dict = {"n_images": int(len(idx)),
                          "slides": sorted(set(slides[idx].tolist())),
                          "files": [file_key(p) for p in paths[idx].tolist()]}
            if labels is not None:
                part["n_parasitized"] = int(np.sum(np.asarray(labels)[idx] == 1))
                part["n_uninfected"] = int(np.sum(np.asarray(labels)[idx] == 0))
            out["parts"][name] = part
        return out

    def save(self, path: str | os.PathLike, paths: np.ndarray, slides: np.ndarray,
             labels: np.ndarray | None = None) -> Path:
        """Check disjointness, then write the JSON manifest atomically."""
        self.check_disjoint(slides)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(paths, slides, labels), indent=1)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        finally:  # never leave the temporary file behind (e.g. ``path`` is a folder)
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def from_json(cls, manifest: dict, paths: np.ndarray) -> "Split":
        """Rebuild a split from a manifest against a data set's ``paths``; raises ValueError
        naming a file of the manifest that the data set lacks."""
        where = {file_key(p): i for i, p in enumerate(np.asarray(paths).tolist())}
        arrays = []
        for name in PARTS:
            files = manifest["parts"][name]["files"]
            missing = [f for f in files if f not in where]
            if missing:
                raise ValueError(f"split manifest lists {len(missing)} file(s) not in the data "
                                 f"set, e.g. {missing[0]}")
            arrays.append(np.sort(np.array([where[f] for f in files], dtype=np.int64)))
        info = {k: v for k, v in manifest.items() if k not in ("kind", "seed", "parts")}
        return cls(*arrays, kind=manifest["kind"], seed=manifest["seed"], info=info)

    @classmethod
    def load(cls, path: str | os.PathLike, paths: np.ndarray) -> "Split":
        return cls.from_json(json.loads(Path(path).read_text()), paths)


def file_key(path: str) -> str:
    """``Class/file.png``: names a file the same way in a zip, a folder, or a doubled tree."""
    parts = str(path).replace("\\", "/").rsplit("/", 2)
    return "/".join(parts[-2:])


def _groups(slides: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique slides, each image's group number, and per-group class counts (G, 2)."""
    slides, labels = np.asarray(slides), np.asarray(labels).astype(np.int64)
    if len(slides) != len(labels):
        raise ValueError(f"{len(slides)} slides but {len(labels)} labels")
    if np.any(slides == ""):
        raise ValueError(f"{int(np.sum(slides == ''))} image(s) have no slide key (file name "
                         "not starting with C<digits>); use a random split for such data")
    names, group = np.unique(slides, return_inverse=True)
    counts = np.zeros((len(names), 2), dtype=np.int64)
    np.add.at(counts, (group, labels), 1)
    return names, group, counts


def _assign(counts: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Assign groups (slides) to parts so each part's per-class counts come near
    ``fraction x class total``: greedy, biggest groups first in a seeded jittered order, then
    single-group moves while they help. Cost: squared deviation relative to each target.
    Loops run over slides (hundreds) and parts, never over images."""
    target = fractions[:, None] * counts.sum(axis=0)[None, :]  # (P, 2)
    scale = np.maximum(target, 1.0)
    active = np.flatnonzero(fractions > 0)
    current = np.zeros_like(target)

    def delta(p: np.ndarray, add: np.ndarray) -> np.ndarray:
        """Change of cost when ``add`` (2,) joins each part in ``p``."""
        before = ((current[p] - target[p]) / scale[p]) ** 2
        after = ((current[p] + add - target[p]) / scale[p]) ** 2
        return (after - before).sum(axis=1)

    order = np.argsort(-counts.sum(axis=1) * rng.lognormal(0.0, 0.5, len(counts)),
                       kind="stable")
    part_of = np.empty(len(counts), dtype=np.int64)
    for g in order:
        best = active[int(np.argmin(delta(active, counts[g])))]
        part_of[g] = best
        current[best] += counts[g]
    for _ in range(20):  # local search: move one group at a time while the cost drops
        moved = False
        for g in rng.permutation(len(counts)):
            a = part_of[g]
            current[a] -= counts[g]
            gain = delta(active, counts[g])
            best = active[int(np.argmin(gain))]
            if gain[active == best][0] < gain[active == a][0] - 1e-12:
                part_of[g], moved = best, True
            current[part_of[g]] += counts[g]
        if not moved:
            break
    return part_of


def _grouped(slides, labels, fractions, seed, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Group number per image and part number per group, both classes in every used part."""
    names, group, counts = _groups(slides, labels)
    fractions = np.asarray(fractions, dtype=np.float64)
    used = int(np.sum(fractions > 0))
    if len(names) < used:
        raise ValueError(f"{what} needs at least {plural(used, 'slide')}, the data has {len(names)}")
    rng = np.random.default_rng(seed)
    for _ in range(200):
        part_of = _assign(counts, fractions, rng)
        per_part = np.zeros((len(fractions), 2), dtype=np.int64)
        np.add.at(per_part, part_of, counts)
        if np.all(per_part[fractions > 0] > 0):
            return group, part_of
    raise ValueError(f"cannot make a {what} with both classes in every part from "
                     f"{plural(len(names), 'slide')} ({int(np.sum(counts[:, 1] > 0))} with parasitized "
                     "cells); use fewer parts or a random split")


def split_by_patient(slides: np.ndarray, labels: np.ndarray,
                     fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
                     seed: int = 0) -> Split:
    """Split by slide into train / val / test of about ``fractions`` of the images each,
    with both classes in every part of non-zero fraction and class balance close to the
    whole's. ``slides``, ``labels``: (N,) arrays. Deterministic for a seed."""
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0) \
            or fractions[0] == 0 or fractions[2] == 0:
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1 with train "
                         f"and test > 0, got {fractions}")
    group, part_of = _grouped(slides, labels, fractions, seed, "patient-level split")
    image_part = part_of[group]
    split = Split(*(np.flatnonzero(image_part == p) for p in range(3)), kind="patient",
                  seed=seed, info={"fractions": list(fractions)})
    split.check_disjoint(slides)
    return split


def group_kfold(slides: np.ndarray, labels: np.ndarray, k: int = 5, seed: int = 0) -> list[Split]:
    """k grouped folds: fold i is ``test`` of the i-th Split, the rest its ``train`` (``val``
    empty). Every slide is in exactly one fold; every fold holds both classes."""
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    group, part_of = _grouped(slides, labels, np.full(k, 1.0 / k), seed, f"{k}-fold split")
    fold = part_of[group]
    out = []
    for i in range(k):
        split = Split(np.flatnonzero(fold != i), np.array([], dtype=np.int64),
                      np.flatnonzero(fold == i), kind="kfold", seed=seed,
                      info={"fold": i, "k": k})
        split.check_disjoint(slides)
        out.append(split)
    return out


def part_counts(fractions, total: int) -> list[int]:
    """Whole image counts for parts given as fractions of ``total``: floors, then the leftover
    images go to the parts with the largest remainders (largest remainder method). Fractions
    summing to 1 give counts that cover every image: none is lost to rounding."""
    f = np.asarray(fractions, dtype=np.float64)
    if np.any(f < 0) or f.sum() > 1.0 + 1e-6:
        raise ValueError(f"fractions must be >= 0 and add up to at most 1, got {f.tolist()}")
    exact = f * total
    want = min(total, int(round(exact.sum())))
    out = np.floor(exact + 1e-9).astype(np.int64)
    short = want - int(out.sum())
    if short > 0:
        out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return [int(c) for c in out]


def check_both_classes(labels: np.ndarray, where: str, limited_from: np.ndarray | None = None,
                       limit: int | None = None) -> None:
    """Raise ValueError (one line) unless ``labels`` hold both classes: a model trained on one
    class learns nothing and scores 100% on a test part of that class.

    ``limited_from``: all labels before ``--limit`` took ``labels`` from them; when those hold
    both classes, the message blames the limit."""
    from .sources import LABEL_NAMES

    present = np.unique(np.asarray(labels))
    if len(present) != 1:
        return
    name = LABEL_NAMES.get(int(present[0]), str(present[0]))
    if limited_from is not None and len(np.unique(np.asarray(limited_from))) > 1:
        raise ValueError(f"--limit {limit} keeps only one class ({name}) of the images in "
                         f"{where}: training needs both; raise --limit")
    raise ValueError(f"only one class ({name}) found in {where}: training needs both "
                     "(Parasitized/ and Uninfected/ images)")


def _count(n: float | int, total: int, what: str) -> int:
    if isinstance(n, float) and 0 < n < 1:
        return int(round(n * total))
    if int(n) != n or n < 0:
        raise ValueError(f"{what} must be a count or a fraction in (0, 1), got {n}")
    return int(n)


def split_random(labels: np.ndarray, n_train: int | float, n_test: int | float,
                 n_val: int | float = 0, seed: int = 0) -> Split:
    """The assignment's image-level random split (patients shared between parts!): shuffle
    with the seed and take ``n_train``, ``n_val``, ``n_test`` images (counts, or fractions)."""
    total = len(labels)
    a, v, t = (_count(n, total, w) for n, w in ((n_train, "n_train"), (n_val, "n_val"),
                                                 (n_test, "n_test")))
    if a + v + t > total:
        raise ValueError(f"asked for {a}+{v}+{t} images, the data has {total}")
    order = np.random.default_rng(seed).permutation(total)
    return Split(np.sort(order[:a]), np.sort(order[a:a + v]), np.sort(order[a + v:a + v + t]),
                 kind="random", seed=seed)


def stratified_limit(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` images drawn at random per class, keeping class proportions
    (largest remainder). Returns all indices when ``n >= len(labels)``."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    if n < 1:
        raise ValueError(f"limit must be positive, got {n}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / len(labels)
    take = np.floor(exact).astype(np.int64)
    take[np.argsort(-(exact - take), kind="stable")[: n - take.sum()]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=m, replace=False)
              for c, m in zip(classes, take)]
    return np.sort(np.concatenate(chosen))
