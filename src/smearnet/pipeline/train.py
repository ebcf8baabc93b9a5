"""``smearnet train``: data -> split -> model -> fit (checkpointed) -> test figures -> run folder.

The steps, in order: resolve the preset and the run folder (or reopen one with ``resume``),
load the image cache, split (by slide unless asked otherwise; the split is saved and reused on
resume), build and compile the model, fit epoch by epoch with a checkpoint after each, restore
the best weights when early stopping is on, choose the decision threshold on the validation
part, evaluate once on the test part, answer "did it overfit?", save the model with everything
``predict`` needs in its metadata, draw the plots and the mistakes with their saliency, and
write ``report.html``.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smearnet._text import plural

from . import inference, report, run_dir as rd
from .checkpoint import TrainingState, checkpoint_path, make_callbacks
from .evaluate import choose_threshold, classification_metrics
from .overfit import overfitting_report
from .presets import DEFAULT_PRESET, PRESETS, Preset, build_model, get_preset, heldout_loss
from .splitting import RunError, make_split, split_summary

TRAIN_EVAL_MAX = 5000     # training images re-scored in inference mode for the 3 f answer
ERRORS_PER_KIND = 8       # false positives / negatives shown with saliency in the report


# Called with the 0-based epoch after each checkpoint is written (tests simulate a crash here).
after_checkpoint_hook: Callable[[int], None] | None = None


@dataclass
class TrainRequest:
    """What the user asked for; ``None`` = the preset's (or, on resume, the run's) value."""

    data: str | None = None
    preset: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    image_size: int | None = None
    split: str | None = None
    limit: int | None = None
    seed: int | None = None
    out: str | None = None
    resume: bool = False
    progress: bool = True
    command: str = ""
    fold: int | None = None      # cross-validation: this run tests on fold `fold` of `folds`
    folds: int | None = None


def _log(msg: str) -> None:
    print(msg, flush=True)


# -- setup ----------------------------------------------------------------------------------------
def latest_run(preset: str | None, root: Path = Path("runs")) -> Path | None:
    """Newest ``runs/<preset>-*`` run folder (one with a config.json)."""
    pattern = f"{preset or '*'}-*"
    found = [p for p in root.glob(pattern) if (p / rd.CONFIG).is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _open_run(req: TrainRequest) -> tuple[Path, Preset, dict[str, Any]]:
    """The run folder, the preset with overrides applied, and the config to write."""
    if req.resume:
        run = Path(req.out) if req.out else latest_run(req.preset)
        if run is None:
            raise RunError("--resume: no run found under runs/; pass --out RUN_DIR")
        if not (run / rd.CONFIG).is_file():
            raise RunError(f"--resume: {run} is not a run folder (no config.json)")
        config = rd.read_json(run / rd.CONFIG)
        cv = config.get("cv")
        if cv and req.folds is None:  # retraining one fold alone would mix recipes in cv.json
            raise RunError(f"--resume: {run} is fold {int(cv['fold']) + 1} of the {cv['folds']}-fold "
                           f"cross-validation in {run.parent}; resume that folder instead "
                           f"(smearnet train --resume --out {shlex.quote(str(run.parent))})")
        if req.preset is not None and req.preset != config["preset"]["name"]:
            raise RunError(f"--resume: {run} was trained with --preset {config['preset']['name']}; "
                           "a resumed run keeps its settings (only --epochs may change)")
        fields = dict(config["preset"])
        fields["fractions"] = tuple(fields["fractions"])
        preset = Preset(**fields)
        if req.epochs is not None:
            preset = preset.with_overrides(epochs=req.epochs)
        for name in ("batch_size", "image_size", "split", "limit", "seed"):
            given = getattr(req, name)
            have = config["seed"] if name == "seed" else getattr(preset, name)
            if given is not None and given != have:
                raise RunError(f"--resume: {run} was trained with --{name.replace('_', '-')} {have}; "
                               "a resumed run keeps its settings (only --epochs may change)")
        _refuse_finished(run, req.epochs)
        config["preset"] = preset.to_json()
        config["description"] = preset.describe()
        config.setdefault("resumed", []).append({"command": req.command, "at": time.strftime("%Y-%m-%d %H:%M:%S")})
        if req.data:
            config["data"] = absolute_data(req.data)
        return run, preset, config
    preset = requested_preset(req)
    run = rd.new_run_dir(preset.name, req.out)
    if run.exists() and not run.is_dir():
        raise RunError(f"{run}: exists and is not a folder")
    if (run / rd.CONFIG).exists():
        raise RunError(f"{run} already holds a run; use --resume to continue it or another --out")
    if run.is_dir() and any(run.iterdir()):
        raise RunError(f"{run}: folder is not empty and holds no smearnet run; "
                       "choose a new or empty --out")
    config = {
        "preset": preset.to_json(), "description": preset.describe(),
        "seed": 0 if req.seed is None else int(req.seed),
        "data": None if req.data is None else absolute_data(req.data),
        "cv": None if req.folds is None else {"fold": int(req.fold or 0), "folds": int(req.folds)},
        "command": req.command, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "environment": rd.environment(),
    }
    return run, preset, config


def requested_preset(req: TrainRequest) -> Preset:
    """The preset a new run asks for, with the settings the user gave in place of its own."""
    try:
        preset = get_preset(req.preset or DEFAULT_PRESET)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    return preset.with_overrides(epochs=req.epochs, batch_size=req.batch_size,
                                 image_size=req.image_size, split=req.split, limit=req.limit)


def _claim(run: Path, auto: str | None) -> Path:
    """Make ``run`` this process's run folder by creating its config.json exclusively, so two
    runs started at once never share a folder: an automatic name (``auto``: the preset whose
    ``runs/<preset>-<time>`` it is) moves on to the next free one, a named ``--out`` is refused."""
    while True:
        run.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(run / rd.CONFIG, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return run
        except FileExistsError:
            if not auto:
                raise RunError(f"{run} already holds a run (another `smearnet train` started in it); "
                               "use another --out") from None
            run = rd.new_run_dir(auto, root=run.parent)


def absolute_data(data: str | Path) -> str:
    """The data path as an absolute path, so that ``--resume`` works from any folder."""
    return str(Path(data).expanduser().absolute())


def _refuse_finished(run: Path, epochs: int | None) -> None:
    """A finished run (model, metrics and report written) has nothing to resume; one stopped
    while it was being scored is not finished, and resuming it scores it again."""
    if not rd.is_finished(run):
        return
    try:
        hist = rd.read_json(run / rd.HISTORY)
        done, early = int(hist.get("epochs", 0)), bool(hist.get("stopped_early"))
    except (OSError, ValueError):
        done, early = 0, False
    if epochs is not None and epochs > done and not early:
        return  # asked for more epochs than were trained: continue from the checkpoint
    why = " (early stopping ended it)" if early else ""
    raise RunError(f"--resume: {run} is already finished after {plural(done, 'epoch')}{why}; nothing to resume "
                   "(pass a larger --epochs to train further, or `smearnet report` to redraw it)")


def check_model_size(preset: Preset, seed: int = 0) -> None:
    """Build the preset's model once (cheap) to refuse an image size its layers cannot take,
    before any image is decoded."""
    try:
        build_model(preset, seed, 1)
    except ValueError as exc:
        raise RunError(f"preset {preset.name} at {preset.image_size} px: {exc}") from None


def default_data_source() -> str:
    """``$SMEARNET_DATA`` or the archive fetched by ``smearnet data download``; otherwise the
    data package's SourceError (a one-line usage error) says how to get it."""
    from smearnet.data import default_source

    return str(default_source())


# -- the run ------------------------------------------------------------------------------------
def train(req: TrainRequest, after_checkpoint: Callable[[int], None] | None = None) -> Path:
    """Run (or resume) one training run; returns the run folder. See the module docstring."""
    from smearnet.data import Augment, Batches, load_dataset
    from smearnet.nn import NonFiniteLossError

    t_start = time.perf_counter()
    run, preset, config = _open_run(req)
    seed = int(config["seed"])
    check_model_size(preset, seed)  # before caching thousands of images at a size it can't take
    source = config["data"] or absolute_data(default_data_source())
    config["data"] = source

    t0 = time.perf_counter()
    ds = load_dataset(source, preset.image_size, progress=req.progress)
    cache_seconds = time.perf_counter() - t0
    if len(ds.labels) == 0:
        from smearnet.data.errors import no_usable_images
        raise RunError(str(no_usable_images(source, len(ds.skipped))))
    if ds.skipped:  # also when the cache was built earlier and no warning was raised now
        from smearnet.data.errors import skipped_line
        _log(skipped_line(len(ds.skipped), source))

    if req.resume and (run / rd.SPLIT).is_file():
        from smearnet.data import Split
        try:
            split = Split.load(run / rd.SPLIT, ds.paths)
        except ValueError as exc:  # --data names other images than the run was split on
            raise RunError(f"--resume: {run / rd.SPLIT} does not fit the images at {source} ({exc}); "
                           "resume with the --data the run was trained on") from None
    else:
        split = make_split(ds, preset, seed, config.get("cv"))
    if len(split.train) == 0 or len(split.test) == 0:
        raise RunError(f"{source}: too few images for a train and a test part")
    monitor_test = len(split.val) == 0
    val_idx = split.test if monitor_test else split.val
    summary = split_summary(split, ds, monitor_test)
    _log("split ({}): {}".format(split.kind, ", ".join(
        f"{p} {summary[p]['images']} images / {summary[p]['slides']} slides"
        for p in ("train", "val", "test") if p in summary)))

    steps = math.ceil(len(split.train) / preset.batch_size)
    try:
        model = build_model(preset, seed, steps)
    except ValueError as exc:  # e.g. an --image-size too small for the preset's layers
        raise RunError(f"preset {preset.name} at {preset.image_size} px: {exc}") from None
    config["model_summary"] = _summary_text(model)
    config["settings"] = _settings(preset, seed, source)
    if not req.resume:  # nothing is written before the run can start
        run = _claim(run, auto=preset.name if req.out is None else None)
    with rd.lock_run(run):  # no second train or --resume into this folder meanwhile
        rd.write_json(run / rd.CONFIG, config)
        if not (run / rd.SPLIT).is_file():
            split.save(run / rd.SPLIT, ds.paths, ds.slides, ds.labels)
        _log(f"run folder: {run}")
        resume_command = f"smearnet train --resume --out {shlex.quote(str(run))}"
        tell = req.folds is None  # a cross-validation fold: cross_validate says how to resume the whole

        state = TrainingState(patience=None if monitor_test else preset.early_stopping)
        if req.resume and checkpoint_path(run).is_file():
            try:
                state = TrainingState.load(run, model)
            except rd.RunFileError as exc:
                raise RunError(f"--resume: {exc}; delete {checkpoint_path(run).parent} and resume to "
                               "train this run again from epoch 1 (same split and seed)") from None
            _log(f"resuming after epoch {state.epochs_done} of {preset.epochs}")
            if state.stopped_early:
                _log("(early stopping had already ended this run; finishing it)")
        elif req.resume:
            _log(f"no checkpoint in {run}: no epoch had finished, so training starts at epoch 1 "
                 "(same split and seed)")
        augment = Augment(**preset.augment) if preset.augment else None
        train_batches = Batches(ds.images, ds.labels, split.train, batch_size=preset.batch_size,
                                shuffle=True, seed=seed, augment=augment)
        train_batches.epoch = state.epochs_done
        val_batches = Batches(ds.images, ds.labels, val_idx, batch_size=inference.auto_batch(preset.image_size),
                              shuffle=False)

        t_fit = time.perf_counter()
        if state.epochs_done < preset.epochs and not state.stopped_early:
            callbacks = make_callbacks(state, run, t_start, after_checkpoint or after_checkpoint_hook)
            try:
                model.fit(train_batches, epochs=preset.epochs, validation_data=val_batches,
                          callbacks=callbacks, verbose=1 if req.progress else 0,
                          initial_epoch=state.epochs_done, shuffle=False)
            except NonFiniteLossError as exc:
                raise RunError(f"training diverged ({exc}); the checkpoint keeps the last finished epoch") from None
            except KeyboardInterrupt:
                if tell and state.epochs_done:
                    print(f"\nstopped after epoch {state.epochs_done} of {preset.epochs}; continue with: "
                          f"{resume_command}", file=sys.stderr, flush=True)
                elif tell:
                    print(f"\nstopped during epoch 1, before anything was worth keeping; start it "
                          f"again with: {resume_command}", file=sys.stderr, flush=True)
                raise
        session_fit = time.perf_counter() - t_fit
        if state.epochs_done == 0:
            raise RunError("no epoch finished")

        best_epoch = state.epochs_done
        if state.best_weights is not None and state.best_epoch != state.epochs_done:
            model.set_weights(state.best_weights)
            best_epoch = state.best_epoch
            _log(f"restored the weights of epoch {best_epoch} (lowest validation loss)")
        elif state.best_epoch:
            best_epoch = state.best_epoch

        try:
            return finish(run, config, preset, model, ds, split, state, best_epoch, monitor_test, summary,
                          timing={"cache_seconds": cache_seconds, "session_fit_seconds": session_fit,
                                  "t_start": t_start})
        except KeyboardInterrupt:
            if tell:
                print(f"\nstopped after the last epoch, while scoring and writing the run; finish it with: "
                      f"{resume_command}", file=sys.stderr, flush=True)
            raise


def finish(run: Path, config: dict[str, Any], preset: Preset, model: Any, ds: Any, split: Any,
           state: TrainingState, best_epoch: int, monitor_test: bool, summary: dict[str, Any],
           timing: dict[str, float]) -> Path:
    """Threshold, test evaluation, overfitting verdict, model file, plots, mistakes, report."""
    labels, slides, paths = np.asarray(ds.labels), np.asarray(ds.slides), np.asarray(ds.paths)
    out_kind = "linear" if preset.output == "linear" else "logit"

    def score(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = inference.predict_raw(model, ds.images[idx], tta=preset.tta)  # idx sorted: fast on a memmap
        return raw, inference.to_probability(raw, out_kind)

    threshold = 0.5
    val_metrics = None
    if not monitor_test:
        raw_v, p_v = score(split.val)
        if preset.threshold == "validation":
            threshold = choose_threshold(labels[split.val], p_v)
        val_metrics = classification_metrics(labels[split.val], p_v, threshold, ranking=raw_v)
        val_metrics["loss"] = heldout_loss(preset, raw_v, labels[split.val])

    test_idx = np.sort(split.test)
    t0 = time.perf_counter()
    raw_t, p_t = score(test_idx)
    infer_seconds = time.perf_counter() - t0
    test = classification_metrics(labels[test_idx], p_t, threshold, slides=slides[test_idx], ranking=raw_t)
    test["loss"] = heldout_loss(preset, raw_t, labels[test_idx])

    rng = np.random.default_rng([int(config["seed"]), 7])
    tr = np.sort(rng.choice(split.train, size=min(TRAIN_EVAL_MAX, len(split.train)), replace=False))
    raw_tr, p_tr = score(tr)
    train_eval = {"loss": heldout_loss(preset, raw_tr, labels[tr]),
                  "accuracy": float(np.mean((p_tr >= threshold) == (labels[tr] == 1))), "n": int(len(tr))}

    history = state.history
    val_name = "test (monitored)" if monitor_test else "validation"
    over = overfitting_report(history, train=train_eval,
                              heldout={"loss": test["loss"], "accuracy": test["accuracy"]},
                              heldout_name="test", best_epoch=best_epoch, val_name=val_name,
                              heldout_n=int(len(test_idx)))
    over["train_note"] = f" ({train_eval['n']} images, inference mode)"

    meta = inference.model_metadata(
        preset.image_size, threshold, out_kind, preset.name,
        extra={"tta": preset.tta, "seed": int(config["seed"]), "split": split.kind, "best_epoch": best_epoch,
               "trained_epochs": state.epochs_done, "test_accuracy": test["accuracy"],
               "test_roc_auc": test["roc_auc"], "command": config.get("command", ""),
               "data": str(config.get("data"))})
    model.save(run / rd.MODEL, metadata=meta)

    report.write_predictions(run / report.PREDICTIONS, paths[test_idx], slides[test_idx],
                             labels[test_idx], p_t, threshold)
    train_seconds = float(sum(state.epoch_seconds))
    n_seen = len(split.train) * state.epochs_done
    timing_out = {
        "cache_seconds": timing["cache_seconds"], "train_seconds": train_seconds,
        "epoch_seconds": state.epoch_seconds,
        "train_images_per_second": n_seen / train_seconds if train_seconds else None,
        "inference_images_per_second": len(test_idx) / infer_seconds if infer_seconds else None,
    }
    rd.write_json(run / rd.HISTORY, {"history": history, "epoch_seconds": state.epoch_seconds,
                                     "best_epoch": best_epoch, "epochs": state.epochs_done,
                                     "stopped_early": state.stopped_early, "val_name": val_name})
    metrics = {"test": test, "validation": val_metrics, "train_eval": train_eval,
               "overfitting": over, "threshold": threshold, "best_epoch": best_epoch,
               "split": summary, "timing": timing_out,
               "test_note": _test_note(split.kind, summary)}
    rd.write_json(run / rd.METRICS, metrics)

    _save_mistakes(run, model, ds, test_idx, labels[test_idx], p_t, threshold)
    # earlier sessions (up to their last checkpoint) + this one
    timing_out["total_seconds"] = state.wall_seconds + (time.perf_counter() - timing["t_start"])
    rd.write_json(run / rd.METRICS, metrics)
    report.build_report(run)

    _log(_final_lines(run, test, over, timing_out))
    return run


def _save_mistakes(run: Path, model: Any, ds: Any, test_idx: np.ndarray, y: np.ndarray,
                   p: np.ndarray, threshold: float) -> None:
    """``errors/false_positives.png`` and ``errors/false_negatives.png``: the most confident
    mistakes on the test part, each beside its SmoothGrad saliency."""
    from .explain import save_grid, saliency_maps

    pred = (p >= threshold).astype(np.int64)
    out = run / rd.ERRORS
    slides = np.asarray(ds.slides)
    for name, mask, order in (("false_positives", (pred == 1) & (y == 0), -p),
                              ("false_negatives", (pred == 0) & (y == 1), p)):
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            continue
        rows = rows[np.argsort(order[rows], kind="stable")][:ERRORS_PER_KIND]
        idx = test_idx[rows]
        images = np.asarray(ds.images[np.sort(idx)])
        back = np.argsort(np.argsort(idx))  # ds.images needs sorted rows; undo the sort
        images = images[back]
        sal = saliency_maps(model, inference.scale(images), samples=8)
        out.mkdir(parents=True, exist_ok=True)
        titles = [f"{slides[i]} P={p[r]:.2f}" for i, r in zip(idx, rows)]
        save_grid(out / f"{name}.png", list(images), list(sal), titles)


def _test_note(kind: str, summary: dict[str, Any]) -> str:
    t = summary.get("test", {})
    who = f"{t.get('slides')} slides never seen in training" if kind != "random" else \
        "images drawn at random (their patients also appear in training)"
    return f"Test part: {t.get('images')} cells from {who}."


def _summary_text(model: Any) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            text = model.summary()
        return text if isinstance(text, str) and text else buf.getvalue()
    except Exception:  # noqa: BLE001 - a summary is a nicety, never a reason to fail a run
        return ""


def _settings(preset: Preset, seed: int, source: str) -> dict[str, Any]:
    return {"preset": preset.name, "image size": f"{preset.image_size} px",
            "epochs (max)": preset.epochs, "batch size": preset.batch_size,
            "optimizer": f"{preset.optimizer} lr {preset.learning_rate:g}"
                         + (f", weight decay {preset.weight_decay:g}" if preset.weight_decay else "")
                         + (f", {preset.schedule} schedule" if preset.schedule else ""),
            "loss": preset.loss + (f" (label smoothing {preset.label_smoothing:g})" if preset.label_smoothing else ""),
            "split": preset.split, "limit": preset.limit or "all images",
            "augmentation": ", ".join(f"{k}={v}" for k, v in (preset.augment or {}).items()) or "none",
            "early stopping": f"patience {preset.early_stopping} on val loss" if preset.early_stopping else "off",
            "threshold": "chosen on validation" if preset.threshold == "validation" else "0.5",
            "test-time augmentation": preset.tta or "none",
            "seed": seed, "data": source}


def _final_lines(run: Path, test: dict[str, Any], over: dict[str, Any], timing: dict[str, Any]) -> str:
    from .evaluate import format_metrics

    return "\n".join([
        "test: " + format_metrics({k: v for k, v in test.items() if k != "per_slide"}).replace("\n", "\n      "),
        f"overfitting: {over['sentence']}",
        f"time: {timing['total_seconds']:.0f} s total, {timing['train_seconds']:.0f} s training",
        f"model: {run / rd.MODEL}",
        f"report: {run / rd.REPORT}",
    ])


def list_presets() -> str:
    return "\n".join(f"  {name:<11} {p.description}" for name, p in PRESETS.items())
