"""The split a run trains on: the preset's kind (by slide, or the assignment's random split),
after ``--limit``, or one fold of a grouped cross-validation; and its summary for the report."""

from __future__ import annotations

from typing import Any

import numpy as np

from smearnet._text import plural

from .presets import Preset


SKIPPED_LISTED = 50  # unreadable files named in metrics.json and the report (all are counted)


class RunError(ValueError):
    """A problem with the requested run (message: one line)."""


def source_name(ds: Any) -> str:
    """The folder or archive a data set was read from (for messages), or "the data"."""
    src = getattr(getattr(ds, "index", None), "source", None)
    return str(src.root) if src is not None else "the data"


def check_cv_split(preset: Preset) -> None:
    """RunError unless ``preset`` splits by slide, which cross-validation needs."""
    if preset.split == "patient":
        return
    from .presets import PRESETS

    base = PRESETS.get(preset.name)
    if base is not None and base.split == preset.split:  # the preset's own choice
        raise RunError(f"cross-validation groups by slide, but the {preset.name} preset "
                       f"splits at {preset.split}: add --split patient")
    raise RunError(f"cross-validation groups by slide: --split {preset.split} cannot be "
                   "used with --cv; use --split patient (or leave --split out)")


def make_split(ds: Any, preset: Preset, seed: int, cv: dict[str, int] | None = None) -> Any:
    """The split the preset asks for (after ``limit``), as indices into ``ds``.

    Raises :class:`RunError` when the images (after ``limit``) hold only one class.

    ``cv = {"fold": i, "folds": k}``: grouped k-fold cross-validation; fold i of the slides is
    the test part, and about ``fractions[1]`` of the remaining slides (one fold of an inner
    grouped split) the validation part.
    """
    from smearnet.data import Split, group_kfold, split_by_patient, split_random, stratified_limit
    from smearnet.data.splits import check_both_classes, part_counts

    labels, slides = np.asarray(ds.labels), np.asarray(ds.slides)
    subset = stratified_limit(labels, preset.limit, seed) if preset.limit else np.arange(len(labels))
    n = len(subset)
    try:  # every kind of split (random, by patient, a cross-validation fold), after --limit
        check_both_classes(labels[subset], source_name(ds),
                           limited_from=labels if n < len(labels) else None, limit=preset.limit)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    if cv is not None:
        check_cv_split(preset)
        ls, ss = labels[subset], slides[subset]
        try:
            outer = group_kfold(ss, ls, k=int(cv["folds"]), seed=seed)[int(cv["fold"])]
        except ValueError as exc:
            raise RunError(f"cannot make {cv['folds']} grouped folds: {exc}") from None
        rest = outer.train
        k_in = max(2, round(1 / preset.fractions[1])) if preset.fractions[1] > 0 else None
        if k_in:
            try:  # the validation slides: one of k_in grouped folds of the training folds' slides
                inner = group_kfold(ss[rest], ls[rest], k=k_in, seed=seed)[0]
            except ValueError as exc:
                raise RunError(f"fold {int(cv['fold']) + 1} of {cv['folds']}: its training slides "
                               f"cannot give a validation part of about 1/{k_in} of them ({exc}); "
                               "use more images or fewer folds") from None
            train_i, val_i = rest[inner.train], rest[inner.test]
        else:
            train_i, val_i = rest, np.array([], dtype=np.int64)
        split = Split(np.sort(train_i), np.sort(val_i), np.sort(outer.test), kind="patient", seed=seed,
                      info={"fold": int(cv["fold"]), "folds": int(cv["folds"])})
        split.check_disjoint(ss)
        return split.remap(subset)
    if preset.split == "random":
        if preset.n_train is not None and preset.n_test is not None:
            counts = np.array([preset.n_train, preset.n_val or 0, preset.n_test], dtype=np.float64)
        else:
            counts = np.array(preset.fractions, dtype=np.float64) * n
        if counts.sum() > n:  # fewer images than the preset's counts: keep the proportions
            counts = counts / counts.sum() * n
        a, v, t = part_counts(counts / n if n else counts * 0, n)  # fractions summing to 1 cover every image
        split = split_random(labels[subset], a, t, v, seed=seed)
    elif preset.split == "patient":
        try:
            split = split_by_patient(slides[subset], labels[subset], preset.fractions, seed=seed)
        except ValueError as exc:
            raise RunError(f"cannot split by patient: {exc}") from None
    else:
        raise RunError(f"unknown split {preset.split!r} (patient or random)")
    return split.remap(subset)


def split_summary(split: Any, ds: Any, monitor_test: bool) -> dict[str, Any]:
    labels, slides = np.asarray(ds.labels), np.asarray(ds.slides)
    out: dict[str, Any] = {"kind": split.kind}
    for part, idx in split.parts().items():
        if len(idx) == 0:
            continue
        out[part] = {"images": int(len(idx)), "slides": int(len(np.unique(slides[idx]))),
                     "parasitized": int((labels[idx] == 1).sum()),
                     "uninfected": int((labels[idx] == 0).sum())}
    if split.kind == "random":
        shared = len(set(slides[split.train]) & set(slides[split.test]))
        out["kind_text"] = (f"Random image-level split (the assignment's): {plural(shared, 'slide')} "
                            f"{'has' if shared == 1 else 'have'} cells in both train and test, so "
                            "test accuracy is optimistic for new patients.")
    else:
        out["kind_text"] = ("Split by slide (patient): no patient has cells in two parts; "
                            "threshold and early stopping use the validation slides only, "
                            "the test slides are scored once at the end.")
    skipped = list(getattr(ds, "skipped", []) or [])
    out["skipped"] = len(skipped)
    out["skipped_files"] = [[str(p), str(r)] for p, r in skipped[:SKIPPED_LISTED]]
    if monitor_test:
        out["kind_text"] += (" There is no validation part: the test images are scored after each "
                             "epoch for the learning curves only; nothing is chosen on them.")
    return out
