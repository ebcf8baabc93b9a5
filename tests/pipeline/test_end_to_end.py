"""A short real run on 360 shared images (30 slides, 32 px, the ``tiny`` preset, 2 epochs):
train, interrupted-and-resumed train, evaluate --json, predict, explain, report."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

import smearnet
from smearnet.cli import main
from smearnet.pipeline import run_dir as rd
from smearnet.pipeline import train as train_mod
from smearnet.pipeline.checkpoint import checkpoint_path

ARGS = ["--preset", "tiny", "--epochs", "2", "--seed", "0", "--quiet"]


class Crash(KeyboardInterrupt):
    """Stands for Ctrl-C right after the first checkpoint is written."""


@pytest.fixture(scope="module")
def runs(cell_subset, tmp_path_factory):
    """Run A: 2 epochs uninterrupted. Run B: interrupted after epoch 1, then --resume."""
    root = tmp_path_factory.mktemp("runs")
    a, b = root / "a", root / "b"
    assert main(["train", "--data", str(cell_subset), "--out", str(a), *ARGS]) == 0

    def crash(epoch: int) -> None:
        if epoch == 0:
            raise Crash()

    train_mod.after_checkpoint_hook = crash
    try:
        code_interrupted = main(["train", "--data", str(cell_subset), "--out", str(b), *ARGS])
    finally:
        train_mod.after_checkpoint_hook = None
    state = rd.load_state(checkpoint_path(b))
    interrupted = {"code": code_interrupted, "epochs_done": state["epochs_done"],
                   "model_written": (b / rd.MODEL).exists()}
    code_resumed = main(["train", "--resume", "--out", str(b), "--quiet"])
    return {"a": a, "b": b, "data": cell_subset, "interrupted": interrupted, "resumed": code_resumed}


def test_train_writes_the_run_folder(runs):
    a = runs["a"]
    for name in ("model.safetensors", "history.json", "metrics.json", "split.json", "config.json",
                 "curves.png", "confusion.png", "roc.png", "report.html", "test_predictions.csv"):
        assert (a / name).is_file(), name
    h = rd.read_json(a / "history.json")
    assert len(h["history"]["loss"]) == 2 and len(h["history"]["val_loss"]) == 2
    split = rd.read_json(a / "split.json")
    parts = [set(split["parts"][p]["slides"]) for p in ("train", "val", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    model = smearnet.load_model(a / "model.safetensors")
    meta = model.metadata
    assert meta["image_size"] == 32 and 0 < meta["threshold"] < 1
    assert meta["class_names"] == ["Uninfected", "Parasitized"] and meta["output"] == "logit"
    m = rd.read_json(a / "metrics.json")
    assert m["overfitting"]["verdict"] in ("no overfitting", "mild overfitting", "overfitting", "underfitting")
    assert m["timing"]["train_seconds"] > 0 and len(m["timing"]["epoch_seconds"]) == 2


def test_resume_gives_the_uninterrupted_result(runs):
    a, b = runs["a"], runs["b"]
    assert runs["interrupted"] == {"code": 130, "epochs_done": 1, "model_written": False}
    assert runs["resumed"] == 0
    ha, hb = rd.read_json(a / "history.json"), rd.read_json(b / "history.json")
    assert ha["history"] == hb["history"]  # every loss and metric, exactly
    wa = smearnet.load_model(a / "model.safetensors").get_weights()
    wb = smearnet.load_model(b / "model.safetensors").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))
    ma, mb = rd.read_json(a / "metrics.json"), rd.read_json(b / "metrics.json")
    assert ma["test"] == mb["test"] and ma["threshold"] == mb["threshold"]


def test_evaluate_json(runs, capsys):
    capsys.readouterr()
    assert main(["evaluate", "--model", str(runs["a"] / "model.safetensors"),
                 "--data", str(runs["data"]), "--json"]) == 0
    out = capsys.readouterr().out
    m = json.loads(out)  # the whole of stdout is one JSON object
    assert out.strip().startswith("{") and out.count("\n") == 1
    for key in ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1",
                "roc_auc", "n", "confusion"):
        assert key in m
    assert m["n"] == 360
    c = m["confusion"]
    assert c["tn"] + c["fp"] + c["fn"] + c["tp"] == 360
    assert m["accuracy"] > 0.55 and m["roc_auc"] > 0.6  # above chance after 28 small steps
    assert len(m["per_slide"]) == 30


def test_predict_folder_with_broken_image_and_csv(runs, tmp_path, capsys):
    folder = tmp_path / "smear"
    (folder / "more").mkdir(parents=True)
    cells = sorted((runs["data"] / "Parasitized").iterdir())[:3] + sorted((runs["data"] / "Uninfected").iterdir())[:3]
    for i, c in enumerate(cells):
        (folder / ("more" if i % 2 else "") / c.name).symlink_to(c.resolve())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (folder / "notes.txt").write_text("not an image")
    csv_path = tmp_path / "out.csv"
    capsys.readouterr()
    assert main(["predict", "--model", str(runs["a"] / "model.safetensors"), str(folder),
                 "--csv", str(csv_path)]) == 0
    cap = capsys.readouterr()
    lines = cap.out.strip().splitlines()
    assert len(lines) == 7
    assert re.fullmatch(r"6 cells, \d parasitized \(\d+\.\d%\), 1 file skipped", lines[-1])
    for line in lines[:-1]:
        path, prob, label = line.split("\t")
        assert 0 <= float(prob) <= 1 and label in ("Parasitized", "Uninfected")
    assert "broken.png" in cap.err and "notes.txt" not in cap.out + cap.err
    rows = csv_path.read_text().strip().splitlines()
    assert rows[0] == "path,probability_parasitized,label" and len(rows) == 7


def test_explain_writes_overlays(runs, tmp_path, capsys):
    cells = [sorted((runs["data"] / c).iterdir())[0] for c in ("Parasitized", "Uninfected")]
    out = tmp_path / "sal"
    assert main(["explain", "--model", str(runs["a"] / "model.safetensors"), *map(str, cells),
                 "--out", str(out), "--samples", "4"]) == 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 2
    for p in pngs:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 100


def test_report_embeds_images_and_verdict(runs, capsys):
    a = runs["a"]
    html = (a / "report.html").read_text()
    imgs = re.findall(r'<img src="data:image/png;base64,', html)
    assert len(imgs) >= 4  # curves, confusion, ROC, at least one kind of mistake
    verdict = rd.read_json(a / "metrics.json")["overfitting"]["sentence"]
    assert verdict.split(":")[0] in html and "gap" in html
    assert "smearnet train" in html and "images/s" in html
    (a / "report.html").unlink()
    assert main(["report", str(a)]) == 0
    assert (a / "report.html").is_file()


def test_cross_validation_two_folds(cell_subset, tmp_path, capsys):
    out = tmp_path / "cv"
    assert main(["train", "--data", str(cell_subset), "--preset", "tiny", "--epochs", "1",
                 "--cv", "2", "--out", str(out), "--quiet"]) == 0
    cv = rd.read_json(out / "cv.json")
    assert cv["folds"] == 2 and cv["n"] == 360
    assert len(cv["accuracy"]["per_fold"]) == 2 and cv["accuracy"]["std"] is not None
    tested = [set(rd.read_json(out / f"fold-{i}" / "split.json")["parts"]["test"]["slides"]) for i in (1, 2)]
    assert not tested[0] & tested[1] and len(tested[0] | tested[1]) == 30
    assert "mean +- std" in capsys.readouterr().out

    # the same folds trained two at a time in worker processes give the same figures
    par = tmp_path / "cv-par"
    assert main(["train", "--data", str(cell_subset), "--preset", "tiny", "--epochs", "1",
                 "--cv", "2", "--jobs", "2", "--out", str(par), "--quiet"]) == 0
    cv2 = rd.read_json(par / "cv.json")
    for key in ("accuracy", "roc_auc", "sensitivity"):
        np.testing.assert_allclose(cv2[key]["per_fold"], cv[key]["per_fold"], atol=1e-6)
    assert cv2["pooled_confusion"] == cv["pooled_confusion"]
    assert all((par / f"fold-{i}.log").is_file() for i in (1, 2))
    assert "2 at a time" in capsys.readouterr().out

    # interrupted in fold 1, then `--resume --out DIR` alone: the same recipe (1 epoch, tiny)
    # for every fold and the same figures as the uninterrupted cross-validation
    stopped = tmp_path / "cv-stopped"

    def crash(epoch: int) -> None:
        raise Crash()

    train_mod.after_checkpoint_hook = crash
    try:
        assert main(["train", "--data", str(cell_subset), "--preset", "tiny", "--epochs", "1",
                     "--cv", "2", "--out", str(stopped), "--quiet"]) == 130
    finally:
        train_mod.after_checkpoint_hook = None
    err = capsys.readouterr().err
    assert f"continue with: smearnet train --resume --out {stopped}\n" in err  # the CV folder, not a fold
    assert "fold-1" not in err
    assert main(["train", "--resume", "--out", str(stopped), "--quiet"]) == 0
    cv3 = rd.read_json(stopped / "cv.json")
    for key in ("accuracy", "roc_auc", "sensitivity"):
        np.testing.assert_allclose(cv3[key]["per_fold"], cv[key]["per_fold"], atol=1e-6)
    for i in (1, 2):
        preset = rd.read_json(stopped / f"fold-{i}" / "config.json")["preset"]
        assert (preset["name"], preset["epochs"]) == ("tiny", 1)
    # a resumed cross-validation keeps its settings; a single run's folder is not one
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(stopped), "--cv", "3"]) == 2
    assert "2-fold" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(stopped), "--epochs", "5"]) == 2
    assert "--epochs 1" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(stopped / "fold-1"), "--cv", "2"]) == 2
    assert "not a cross-validation folder" in capsys.readouterr().err
    # ...nor is one fold retrained alone, nor are other images taken; defaults named are no change
    assert main(["train", "--resume", "--out", str(stopped / "fold-1"), "--epochs", "3"]) == 2
    assert "resume that folder instead" in capsys.readouterr().err
    fewer = tmp_path / "fewer"
    for f in sorted(cell_subset.rglob("*.png"))[::2]:
        (fewer / f.parent.name).mkdir(parents=True, exist_ok=True)
        (fewer / f.parent.name / f.name).symlink_to(f.resolve())
    assert main(["train", "--resume", "--out", str(stopped), "--data", str(fewer)]) == 2
    assert "other images" in capsys.readouterr().err
    same = tmp_path / "same-images"
    same.symlink_to(cell_subset)
    assert main(["train", "--resume", "--out", str(stopped), "--data", str(same), "--seed", "0",
                 "--batch-size", "16", "--preset", "tiny", "--quiet"]) == 0
    assert "--resume" not in rd.read_json(stopped / "cv.json")["command"]  # as it was started
    # a start that fails before any fold trains leaves nothing behind: the corrected command works
    for bad in (["--preset", "assignment"], ["--data", str(tmp_path / "missing")],
                ["--preset", "tiny", "--limit", "4"]):  # the last fails inside fold 1
        again = tmp_path / "again"
        argv = ["train", "--data", str(cell_subset), "--epochs", "1", "--cv", "2", "--out", str(again), "-q"]
        assert main([*argv, *bad]) == 2
        assert not again.exists(), sorted(again.rglob("*"))
    assert main([*argv, "--preset", "tiny"]) == 0


def test_jobs_needs_cv(cell_subset, tmp_path, capsys):
    assert main(["train", "--data", str(cell_subset), "--jobs", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--cv" in capsys.readouterr().err and not (tmp_path / "x").exists()


def _sleep_then_mark(path: str) -> None:
    import time
    time.sleep(3)
    open(path, "w").close()


def _mark(path: str) -> None:
    open(path, "w").close()


def test_stopping_parallel_folds_ends_workers_and_starts_no_queued_fold(tmp_path):
    """What Ctrl-C does to `--cv K --jobs J`: the running folds end at once, queued ones never start."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    from smearnet.pipeline.crossval import _stop

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    pool.submit(_sleep_then_mark, str(tmp_path / "running"))
    pool.submit(_mark, str(tmp_path / "queued"))
    time.sleep(0.5)
    t0 = time.perf_counter()
    _stop(pool)
    assert time.perf_counter() - t0 < 10
    time.sleep(4)  # past the running task's end: had its worker lived, it would have marked
    assert not (tmp_path / "running").exists() and not (tmp_path / "queued").exists()
