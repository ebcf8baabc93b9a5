"""Grouped k-fold cross-validation: k runs, each testing on a different fifth of the slides.

``smearnet train --cv 5`` writes ``RUN/fold-1 ... RUN/fold-5`` (each a complete run folder with
its own report) and ``RUN/cv.json`` with mean and standard deviation (sample, ddof = 1) of each
test figure over the folds. Every slide is tested exactly once, by a model that never saw it;
threshold and early stopping use validation slides taken from the training folds.
``RUN/cv-config.json`` keeps the number of folds and the settings, so ``smearnet train --resume
--out RUN`` continues with the first unfinished fold, with the same recipe for every fold.

``--jobs J`` trains J folds at once, each in its own process with ``cores // J`` BLAS threads
(its output goes to ``RUN/fold-i.log``). Whether that is faster depends on the machine: on the
project's idle 2-core VM (cellnet, 2026-12-04) two one-thread folds at once took ~103 s per
epoch each against ~30 s for one two-thread fold (1.7x slower); on the same VM loaded by other
jobs an earlier measurement found it 1.5x faster. Each fold's own training time is longer than
a lone run's.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import run_dir as rd
from .presets import DEFAULT_PRESET, get_preset
from .splitting import check_cv_split
from .train import RunError, TrainRequest, absolute_data, default_data_source, requested_preset, train

CV_CONFIG = "cv-config.json"
SETTINGS = ("preset", "epochs", "batch_size", "image_size", "split", "limit", "seed")
FIGURES = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc")


def summarize(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, std (ddof = 1) and per-fold values of each test figure; pooled confusion."""
    out: dict[str, Any] = {"folds": len(folds)}
    for key in FIGURES:
        vals = np.array([np.nan if f["test"].get(key) is None else f["test"][key] for f in folds], dtype=np.float64)
        ok = vals[~np.isnan(vals)]
        out[key] = {"mean": float(ok.mean()) if len(ok) else None,
                    "std": float(ok.std(ddof=1)) if len(ok) > 1 else None,
                    "per_fold": [None if np.isnan(v) else float(v) for v in vals]}
    pooled = {k: int(sum(f["test"]["confusion"][k] for f in folds)) for k in ("tn", "fp", "fn", "tp")}
    out["pooled_confusion"] = pooled
    out["n"] = int(sum(f["test"]["n"] for f in folds))
    out["train_seconds"] = float(sum(f["timing"]["train_seconds"] for f in folds))
    return out


def format_summary(s: dict[str, Any]) -> str:
    """The cross-validation table: rates in percent (as ``evaluate`` prints them), F1 and
    ROC-AUC as fractions to 4 decimals (also as ``evaluate`` and single runs print them)."""
    lines = [f"grouped {s['folds']}-fold cross-validation over {s['n']:,} cells (mean +- std over folds):"]
    for key in FIGURES:
        v = s[key]
        if v["mean"] is None:
            continue
        if key in ("f1", "roc_auc"):
            def fmt(x: float, width: int = 0) -> str:
                return f"{x:{width}.4f}"
        else:
            def fmt(x: float, width: int = 0) -> str:
                return f"{100 * x:{max(width - 1, 0)}.2f}%"
        std = "" if v["std"] is None else f" +- {fmt(v['std'])}"
        lines.append(f"  {key:<18} {fmt(v['mean'], 7)}{std}   folds: "
                     + " ".join("n/a" if x is None else fmt(x) for x in v["per_fold"]))
    return "\n".join(lines)


def _fold_request(req: TrainRequest, root: Path, i: int, folds: int) -> TrainRequest:
    fold_dir = root / f"fold-{i + 1}"
    started = (fold_dir / rd.CONFIG).is_file()
    return dataclasses.replace(req, out=str(fold_dir), fold=i, folds=folds, resume=started,
                               **({"preset": None, "epochs": None, "batch_size": None,
                                   "image_size": None, "split": None, "limit": None,
                                   "seed": None} if started else {}))


def is_cv_folder(path: str | Path | None) -> bool:
    """Whether ``path`` holds a cross-validation (its ``cv-config.json``)."""
    return path is not None and (Path(path) / CV_CONFIG).is_file()


def _reopen(req: TrainRequest, folds: int | None) -> tuple[TrainRequest, int]:
    """``--resume`` of a cross-validation: its saved folds and settings (only --data may be
    given again, for the same images at another path)."""
    root = Path(str(req.out))
    if not is_cv_folder(root):
        what = "does not exist" if not root.exists() else f"holds no {CV_CONFIG}"
        raise RunError(f"--resume --cv: {root} {what}, so it is not a cross-validation folder; "
                       "pass the folder `smearnet train --cv K --out DIR` wrote")
    saved = rd.read_json(root / CV_CONFIG)
    if folds is not None and folds != saved["folds"]:
        raise RunError(f"--resume: {root} is a {saved['folds']}-fold cross-validation, not {folds}; "
                       "a resumed cross-validation keeps its settings")
    for name in SETTINGS:
        given, have = getattr(req, name), saved["settings"][name]
        if given is not None and given != have:
            raise RunError(f"--resume: {root} was trained with --{name.replace('_', '-')} {have}; "
                           "a resumed cross-validation keeps its settings (every fold the same recipe)")
    data = saved["data"]
    if req.data:  # the same images at another path, never other images
        data = absolute_data(req.data)
        if data != saved["data"] and data_identity(data) != saved.get("identity"):
            raise RunError(f"--resume: {data} holds other images than {saved['data']}, which this "
                           "cross-validation was started on; every fold must see the same images")
    return dataclasses.replace(req, data=data, **saved["settings"]), int(saved["folds"])


def data_identity(source: str) -> dict[str, Any]:
    """Which images a source holds, whatever its path: their count and a SHA-256 of their
    ``Class/file`` names (a zip and its extracted folder, or a symlink, are the same)."""
    import hashlib

    from smearnet.data.sources import list_source
    from smearnet.data.splits import file_key

    keys = sorted(file_key(p) for p in list_source(source).paths)
    return {"images": len(keys), "sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest()}


def _resolved_settings(req: TrainRequest) -> dict[str, Any]:
    """Every setting of SETTINGS as the folds will use it (the preset's value where not given),
    so a resume that names a default value is not mistaken for a change. Refuses a preset
    whose split cannot be cross-validated, before anything is written."""
    preset = requested_preset(req)
    check_cv_split(preset)
    return {"preset": preset.name, "epochs": preset.epochs, "batch_size": preset.batch_size,
            "image_size": preset.image_size, "split": preset.split, "limit": preset.limit,
            "seed": 0 if req.seed is None else int(req.seed)}


def cross_validate(req: TrainRequest, folds: int | None, jobs: int = 1) -> Path:
    """Train ``folds`` runs under one folder and write ``cv.json``; returns the folder.

    ``folds`` None: only with ``req.resume``, the saved number. ``jobs`` > 1: that many folds
    train at once in worker processes (see the module docstring).
    """
    if folds is not None and folds < 2:
        raise RunError(f"--cv needs at least 2 folds, got {folds}")
    if jobs < 1:
        raise RunError(f"--jobs must be at least 1, got {jobs}")
    if req.resume:
        if req.out is None:
            raise RunError("--resume of a cross-validation needs --out: the folder it wrote")
        req, folds = _reopen(req, folds)
        root = Path(req.out)
    else:
        if folds is None:
            raise RunError("--cv needs the number of folds")
        root = Path(req.out) if req.out else rd.new_run_dir(f"{req.preset or DEFAULT_PRESET}-cv{folds}")
        if root.exists() and any(root.iterdir()):
            hint = ("use --resume to continue its cross-validation, or choose another --out"
                    if is_cv_folder(root) else "it is not a cross-validation folder: choose another --out")
            raise RunError(f"{root} is not empty; {hint}")
        settings = _resolved_settings(req)
        data = absolute_data(req.data or default_data_source())
        try:
            identity = data_identity(data)  # also: a missing or unusable source fails here, before any file
        except Exception as exc:  # noqa: BLE001 - SourceError and OSError, in one line
            raise RunError(str(exc)) from None
        req = dataclasses.replace(req, data=data, **settings)
        root.mkdir(parents=True, exist_ok=True)
        rd.write_json(root / CV_CONFIG, {"folds": folds, "data": data, "identity": identity,
                                         "command": req.command, "settings": settings})
    try:
        with rd.lock_run(root):  # no second resume of this cross-validation meanwhile
            return _run_folds(req, root, folds, jobs)
    except Exception:
        if not req.resume and not any((root / f"fold-{i + 1}" / rd.CONFIG).is_file() for i in range(folds)):
            _forget(root)  # nothing was trained: the corrected command may use the folder again
        raise


def _forget(root: Path) -> None:
    """Remove what a cross-validation that never started a fold wrote (its config, lock and
    empty fold folders), and the folder itself when that leaves it empty."""
    for name in (CV_CONFIG, rd.LOCK):
        (root / name).unlink(missing_ok=True)
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        if p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()


def _run_folds(req: TrainRequest, root: Path, folds: int, jobs: int) -> Path:
    todo = [i for i in range(folds) if not rd.is_finished(root / f"fold-{i + 1}")]
    try:
        if jobs > 1 and len(todo) > 1:
            _run_parallel(req, root, folds, todo, jobs)
        else:
            for i in todo:
                print(f"== fold {i + 1} of {folds} ==", flush=True)
                train(_fold_request(req, root, i, folds))
    except KeyboardInterrupt:
        print(f"\ncross-validation stopped ({sum(rd.is_finished(root / f'fold-{i + 1}') for i in range(folds))} "
              f"of {folds} folds finished); continue with: smearnet train --resume --out "
              f"{shlex.quote(str(root.absolute()))}", file=sys.stderr, flush=True)
        raise
    results = [rd.read_json(root / f"fold-{i + 1}" / rd.METRICS) for i in range(folds)]
    summary = summarize(results)
    summary["command"] = rd.read_json(root / CV_CONFIG).get("command", req.command)  # how it was started
    summary["jobs"] = jobs
    rd.write_json(root / "cv.json", summary)
    print(format_summary(summary), flush=True)
    print(f"cross-validation: {root / 'cv.json'}", flush=True)
    return root


def _run_parallel(req: TrainRequest, root: Path, folds: int, todo: list[int], jobs: int) -> None:
    """The folds in ``todo``, ``jobs`` at a time, each in a fresh (spawned) process."""
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    jobs = min(jobs, len(todo))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    _warm_cache(req)  # build the image cache once, before several processes want it
    root.mkdir(parents=True, exist_ok=True)
    print(f"{len(todo)} folds, {jobs} at a time, {threads} BLAS thread(s) each; "
          f"each fold's output: {root}/fold-N.log", flush=True)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                               initargs=(threads,))
    try:
        futures = {pool.submit(_train_logged, _fold_request(req, root, i, folds)): i for i in todo}
        for i in todo:
            print(f"== fold {i + 1} of {folds} queued ==", flush=True)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in done:
                i = futures[fut]
                exc = fut.exception()
                if exc is not None:
                    for other in pending:
                        other.cancel()
                    raise RunError(f"fold {i + 1} failed: {exc} (see {root}/fold-{i + 1}.log; "
                                   "--resume continues the unfinished folds)") from None
                m = rd.read_json(root / f"fold-{i + 1}" / rd.METRICS)["test"]
                print(f"== fold {i + 1} of {folds} done: accuracy {100 * m['accuracy']:.2f}%, "
                      f"AUC {m['roc_auc']:.4f} ==", flush=True)
    except BaseException:  # Ctrl-C or a failed fold: no queued fold starts, running ones stop
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: Any) -> None:
    """Cancel the queued folds and end the running workers at once (their checkpoints are
    written atomically, so a fold stopped mid-epoch resumes from its last finished epoch)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)


def _warm_cache(req: TrainRequest) -> None:
    from smearnet.data import load_dataset

    size = req.image_size or get_preset(req.preset or DEFAULT_PRESET).image_size
    load_dataset(req.data or default_data_source(), size, progress=req.progress)


def _worker_init(threads: int) -> None:
    """A worker ignores Ctrl-C (the parent gets it too and stops the workers itself, so no
    worker prints a traceback or starts a queued fold afterwards)."""
    import signal

    from smearnet.autodiff import blas

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    blas.set_threads(threads)


def _train_logged(req: TrainRequest) -> str:
    """One fold in a worker process; its terminal output goes to ``RUN/fold-i.log``."""
    out = Path(str(req.out))
    with open(out.parent / f"{out.name}.log", "a", encoding="utf-8") as log:
        sys.stdout = sys.stderr = log
        try:
            return str(train(req))
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
