"""One self-contained ``report.html`` per run: every picture embedded as base64, no server.

:func:`build_report` reads only the run folder (``config.json``, ``history.json``,
``metrics.json``, ``test_predictions.csv``, ``errors/*.png``), redraws the plots from those
numbers, and writes the page; ``smearnet report RUN_DIR`` calls it.
"""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path
from typing import Any

import numpy as np

from smearnet._text import plural

from . import plots, run_dir as rd
from .evaluate import roc_points
from .overfit import overfitting_report

PREDICTIONS = "test_predictions.csv"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
.verdict{background:#fff8e1;border-left:4px solid #f0a500;padding:.6em 1em}
.big{font-size:1.15em} code,pre{background:#f6f6f6;padding:.1em .3em;font-size:.9em}
pre{padding:.6em;overflow-x:auto;white-space:pre-wrap} img{max-width:100%}
.muted{color:#777;font-size:.9em} .row{display:flex;gap:1em;flex-wrap:wrap}
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def _num(v: Any, fmt: str = ".4f") -> str:
    return "n/a" if v is None else format(v, fmt)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    """``test_predictions.csv`` as arrays: path, slide, label, probability, predicted."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {
        "path": np.array([r["path"] for r in rows], dtype=str),
        "slide": np.array([r["slide"] for r in rows], dtype=str),
        "label": np.array([int(r["label"]) for r in rows], dtype=np.int64),
        "probability": np.array([float(r["probability"]) for r in rows], dtype=np.float64),
        "predicted": np.array([int(r["predicted"]) for r in rows], dtype=np.int64),
    }


def write_predictions(path: Path, paths: np.ndarray, slides: np.ndarray, labels: np.ndarray,
                      probs: np.ndarray, threshold: float) -> Path:
    """The test part's per-image results (kept so the report and ROC can be redrawn)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "slide", "label", "probability", "predicted"])
        for p, s, y, q in zip(paths, slides, labels, probs):
            w.writerow([p, s, int(y), f"{float(q):.6f}", int(q >= threshold)])
    return path


def redraw_plots(run: Path, history: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Recreate ``curves.png``, ``confusion.png`` and ``roc.png`` from the run's numbers."""
    val_name = history.get("val_name", "validation")
    plots.learning_curves(history["history"], run / rd.CURVES, val_name=val_name,
                          best_epoch=history.get("best_epoch"))
    test = metrics.get("test")
    if not test:
        return
    plots.confusion_plot(test["confusion"], run / rd.CONFUSION)
    pred_file = run / PREDICTIONS
    if pred_file.exists():
        p = read_predictions(pred_file)
        if len(np.unique(p["label"])) == 2:
            fpr, tpr = roc_points(p["label"], p["probability"])
            op = None
            if test.get("specificity") is not None and test.get("sensitivity") is not None:
                op = (1 - test["specificity"], test["sensitivity"])
            plots.roc_plot(fpr, tpr, test.get("roc_auc"), run / rd.ROC, operating_point=op)


def build_report(run: str | Path, redraw: bool = True) -> Path:
    """Write ``RUN/report.html`` from the files in the run folder; returns its path.

    Raises:
        FileNotFoundError: naming the run folder when it is missing or a file, else the first
            required file that is missing.
    """
    run = Path(run)
    if not run.exists():
        raise FileNotFoundError(f"{run}: no such folder (pass a run folder, e.g. runs/<preset>-<timestamp>)")
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: not a folder (pass the run folder, not a file in it)")
    for name in (rd.CONFIG, rd.HISTORY, rd.METRICS):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run / name} is missing (is {run} a finished smearnet run?)")
    config, history, metrics = (rd.read_json(run / n) for n in (rd.CONFIG, rd.HISTORY, rd.METRICS))
    if metrics.get("train_eval") and metrics.get("test") and "history" in history:
        # re-derive the verdict from the stored numbers (keeps old runs in step with the rules)
        t, te = metrics["test"], metrics["train_eval"]
        over = overfitting_report(history["history"], train=te,
                                  heldout={"loss": t["loss"], "accuracy": t["accuracy"]},
                                  heldout_name="test", best_epoch=history.get("best_epoch"),
                                  val_name=history.get("val_name", "validation"),
                                  heldout_n=t.get("n"))
        over["train_note"] = f" ({te['n']} images, inference mode)"
        if over != metrics.get("overfitting"):
            metrics["overfitting"] = over
            rd.write_json(run / rd.METRICS, metrics)
    if redraw:
        redraw_plots(run, history, metrics)
    page = render(run, config, history, metrics)
    out = run / rd.REPORT
    out.write_text(page, encoding="utf-8")
    return out


def _headline(test: dict[str, Any]) -> str:
    rows = [["accuracy", _pct(test["accuracy"])],
            ["balanced accuracy", _pct(test.get("balanced_accuracy"))],
            ["sensitivity (parasitized found)", _pct(test.get("sensitivity"))],
            ["specificity (uninfected kept)", _pct(test.get("specificity"))],
            ["precision", _pct(test.get("precision"))],
            ["F1", _num(test.get("f1"))],
            ["ROC-AUC", _num(test.get("roc_auc"))],
            ["test loss", _num(test.get("loss"))],
            ["cells", test["n"]], ["decision threshold", _num(test.get("threshold"), ".3f")]]
    if test.get("accuracy_ci95"):
        lo, hi = test["accuracy_ci95"]
        rows.insert(1, ["accuracy 95% CI (bootstrap over slides)", f"{100 * lo:.2f}% - {100 * hi:.2f}%"])
    return _table(["test figure", "value"], rows)


def _split_table(split: dict[str, Any]) -> str:
    rows = []
    for part in ("train", "val", "test"):
        s = split.get(part)
        if not s:
            continue
        rows.append([part, s.get("slides", "n/a"), s["images"], s["parasitized"], s["uninfected"]])
    return _table(["part", "slides (patients)", "images", "parasitized", "uninfected"], rows)


def _skipped(split: dict[str, Any]) -> str:
    """A paragraph naming the image files that could not be read (none: empty)."""
    n = int(split.get("skipped") or 0)
    if not n:
        return ""
    files = split.get("skipped_files") or []
    items = "".join(f"<li><code>{html.escape(str(p))}</code>: {html.escape(str(r))}</li>" for p, r in files)
    more = f"<p>and {n - len(files)} more.</p>" if n > len(files) else ""
    return (f"<p><b>{plural(n, 'image file')} could not be read and "
            f"{'were' if n != 1 else 'was'} left out</b> of every part:</p><ul>{items}</ul>{more}")


def _timing(t: dict[str, Any]) -> str:
    rows = []
    if t.get("cache_seconds") is not None:
        rows.append(["load / cache images", f"{t['cache_seconds']:.1f} s"])
    if t.get("train_seconds") is not None:
        rows.append(["training (all epochs)", f"{t['train_seconds']:.1f} s"])
    if t.get("epoch_seconds"):
        rows.append(["per epoch (mean)", f"{np.mean(t['epoch_seconds']):.1f} s"])
    if t.get("train_images_per_second"):
        rows.append(["training speed", f"{t['train_images_per_second']:.0f} images/s"])
    if t.get("inference_images_per_second"):
        rows.append(["inference speed (test)", f"{t['inference_images_per_second']:.0f} images/s"])
    if t.get("total_seconds") is not None:
        rows.append(["total wall time", f"{t['total_seconds']:.1f} s ({t['total_seconds'] / 60:.1f} min)"])
    return _table(["step", "time"], rows)


def _overfit(o: dict[str, Any]) -> str:
    name = o.get("heldout_name", "test")
    rows = [["loss", _num(o["train_loss"]), _num(o["heldout_loss"]), _num(o["loss_gap"], "+.4f")],
            ["accuracy", _num(o["train_accuracy"]), _num(o["heldout_accuracy"]),
             f"{100 * o['accuracy_gap']:+.1f} points"]]
    extra = ""
    if o.get("best_val_epoch"):
        what = "validation" if o.get("val_name", "validation") == "validation" else "monitored test"
        extra = (f"<p>Lowest {what} loss {o['best_val_loss']:.4f} at epoch {o['best_val_epoch']} "
                 f"of {o['epochs']}; last epoch {o['final_val_loss']:.4f}.</p>")
    note = o.get("train_note", "")
    return (f'<div class="verdict"><p class="big"><b>{html.escape(o["verdict"].capitalize())}.</b> '
            f'{html.escape(o["sentence"])}</p></div>'
            + _table(["", f"train{note}", name, f"{name} - train"], rows) + extra)


def render(run: Path, config: dict[str, Any], history: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The HTML page as a string (images read from ``run``)."""
    test = metrics.get("test", {})
    preset = config.get("preset")
    preset_name = preset.get("name") if isinstance(preset, dict) else preset  # config keeps the whole preset
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>smearnet run {html.escape(run.name)}"
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>smearnet run <code>{html.escape(run.name)}</code></h1>",
             f"<p class='muted'>preset <b>{html.escape(str(preset_name))}</b>, "
             f"{html.escape(str(config.get('started', '')))}; "
             f"{html.escape(str(config.get('description', '')))}</p>"]
    if test:
        parts += ["<h2>Test results</h2>", f"<p>{html.escape(metrics.get('test_note', ''))}</p>",
                  _headline(test)]
    if metrics.get("overfitting"):
        parts += ["<h2>Did it overfit? (assignment 3 f)</h2>", _overfit(metrics["overfitting"])]
    if (run / rd.CURVES).exists():
        parts += ["<h2>Learning curves</h2>", _img(run / rd.CURVES, "learning curves")]
    pics = [p for p in (rd.CONFUSION, rd.ROC) if (run / p).exists()]
    if pics:
        parts += ["<h2>Confusion matrix and ROC curve (test)</h2><div class='row'>"]
        parts += [_img(run / p, p) for p in pics] + ["</div>"]
    if metrics.get("split"):
        parts += ["<h2>Split</h2>", f"<p>{html.escape(metrics['split'].get('kind_text', ''))}</p>",
                  _split_table(metrics["split"]), _skipped(metrics["split"])]
    per_slide = test.get("per_slide")
    if per_slide:
        worst = sorted(per_slide.items(), key=lambda kv: (kv[1]["accuracy"], -kv[1]["n"]))[:10]
        parts += ["<h2>Per-slide accuracy (test, 10 lowest)</h2>",
                  _table(["slide", "cells", "parasitized", "accuracy"],
                         [[k, v["n"], v["n_parasitized"], _pct(v["accuracy"])] for k, v in worst])]
    err_dir = run / rd.ERRORS
    err_pics = sorted(err_dir.glob("*.png")) if err_dir.is_dir() else []
    if err_pics:
        parts += ["<h2>Mistakes, with saliency</h2><p>Test cells the model got wrong; beside each, "
                  "where the gradient of the parasitized score with respect to the pixels is largest "
                  "(SmoothGrad, gradient x input).</p>"]
        for p in err_pics:
            parts += [f"<h3>{html.escape(p.stem.replace('_', ' '))}</h3>", _img(p, p.stem)]
    if metrics.get("timing"):
        parts += ["<h2>Timing</h2>", _timing(metrics["timing"])]
    settings = config.get("settings", {})
    if settings:
        parts += ["<h2>Settings</h2>", _table(["setting", "value"],
                                              [[k, v] for k, v in settings.items()])]
    if config.get("model_summary"):
        parts += ["<h2>Model</h2>", f"<pre>{html.escape(config['model_summary'])}</pre>"]
    parts += ["<h2>Reproduce</h2>", f"<pre>{html.escape(config.get('command', ''))}</pre>",
              f"<p class='muted'>data: {html.escape(str(config.get('data', '')))}</p>",
              _table(["package", "version"], [[k, v] for k, v in config.get("environment", {}).items()]),
              "</body></html>"]
    return "\n".join(parts)
