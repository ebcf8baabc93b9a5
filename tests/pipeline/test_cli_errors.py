"""User errors: one line on stderr naming the problem, exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import smearnet
from smearnet.cli import main
from smearnet.pipeline import inference
from smearnet.pipeline.presets import build_layers, get_preset


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    """A tiny classifier saved with metadata (untrained: these tests only need a valid file)."""
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    model = smearnet.Sequential(build_layers(get_preset("tiny")), seed=0)
    model.save(path, metadata=inference.model_metadata(32, 0.5, "logit", "tiny"))
    return path


@pytest.fixture
def labelled(tmp_path):
    """Synthetic labelled folder: 4 random 40x40 cells per class."""
    rng = np.random.default_rng(0)
    root = tmp_path / "labelled"
    for cls in ("Parasitized", "Uninfected"):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / cls / f"C{i}_x_{cls}.png")
    return root


def one_line_error(capsys, argv, *needles):
    code = main(argv)
    cap = capsys.readouterr()
    assert code == 2, (code, cap.err)
    assert cap.err.count("\n") == 1 and cap.err.startswith("smearnet "), cap.err
    assert "Traceback" not in cap.err + cap.out
    for n in needles:
        assert n in cap.err, cap.err
    return cap.err


def test_train_missing_data_path(tmp_path, capsys):
    one_line_error(capsys, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")], "nope")


def test_train_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    one_line_error(capsys, ["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r")], "empty")


def test_train_folder_without_class_subfolders(tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(flat / "cell.png")
    one_line_error(capsys, ["train", "--data", str(flat), "--out", str(tmp_path / "r")], "flat", "Parasitized")


def test_evaluate_missing_and_empty_data(untrained_model, tmp_path, capsys):
    one_line_error(capsys, ["evaluate", "--model", str(untrained_model), "--data", str(tmp_path / "nope")], "nope")
    (tmp_path / "empty").mkdir()
    one_line_error(capsys, ["evaluate", "--model", str(untrained_model), "--data", str(tmp_path / "empty")])


@pytest.mark.parametrize("verb", ["predict", "evaluate", "explain"])
def test_file_that_is_not_a_model(verb, labelled, tmp_path, capsys):
    fake = tmp_path / "model.safetensors"
    fake.write_text("these are not weights")
    tail = {"predict": [str(labelled)], "evaluate": ["--data", str(labelled)],
            "explain": [str(labelled), "--out", str(tmp_path / "o")]}[verb]
    one_line_error(capsys, [verb, "--model", str(fake), *tail], "model.safetensors", "not a smearnet model")


def test_safetensors_that_is_not_a_smearnet_model(labelled, tmp_path, capsys):
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(other))
    one_line_error(capsys, ["predict", "--model", str(other), str(labelled)], "other.safetensors")


def test_network_without_classifier_metadata(labelled, tmp_path, capsys):
    bare = tmp_path / "bare.safetensors"
    smearnet.Sequential(build_layers(get_preset("tiny")), seed=0).save(bare)
    one_line_error(capsys, ["predict", "--model", str(bare), str(labelled)], "bare.safetensors", "metadata")


def test_missing_model_and_missing_default(labelled, tmp_path, capsys, monkeypatch):
    one_line_error(capsys, ["predict", "--model", str(tmp_path / "no.safetensors"), str(labelled)], "no.safetensors")
    monkeypatch.setattr(inference, "default_model_path", lambda: tmp_path / "absent" / "default.safetensors")
    one_line_error(capsys, ["predict", str(labelled)], "no model shipped", "--model")


def test_predict_missing_image_path(untrained_model, tmp_path, capsys):
    one_line_error(capsys, ["predict", "--model", str(untrained_model), str(tmp_path / "nope.png")], "nope.png")


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    one_line_error(capsys, ["train", "--resume", "--out", str(tmp_path / "r")], "--resume")


def test_untrained_model_runs_on_synthetic_cells(untrained_model, labelled, tmp_path, capsys):
    """The model file alone is enough for predict / evaluate / explain (metadata-driven)."""
    assert main(["predict", "--model", str(untrained_model), str(labelled), "-q"]) == 0
    assert capsys.readouterr().out.strip().startswith("8 cells, ")
    assert main(["evaluate", "--model", str(untrained_model), "--data", str(labelled), "--json"]) == 0
    assert '"n": 8' in capsys.readouterr().out
    assert main(["explain", "--model", str(untrained_model), str(labelled / "Uninfected"),
                 "--out", str(tmp_path / "sal"), "--method", "gradxinput"]) == 0
    assert len(list((tmp_path / "sal").glob("*.png"))) == 4


def test_no_traceback_from_the_real_process(tmp_path):
    r = subprocess.run([sys.executable, "-m", "smearnet", "train", "--data", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr and "nope" in r.stderr


def test_train_without_data_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SMEARNET_DATA", raising=False)
    monkeypatch.setenv("SMEARNET_HOME", str(tmp_path / "home"))
    one_line_error(capsys, ["train", "--out", str(tmp_path / "r")], "smearnet data download", "--data")


def test_image_size_too_small_for_the_preset(labelled, tmp_path, capsys):
    one_line_error(capsys, ["train", "--data", str(labelled), "--preset", "assignment", "--split", "random",
                            "--image-size", "32", "--out", str(tmp_path / "r"), "-q"], "assignment", "32 px")
    assert not (tmp_path / "r").exists()


def test_explain_samples_must_be_positive(untrained_model, labelled, tmp_path, capsys):
    for n in ("0", "-3"):
        one_line_error(capsys, ["explain", "--model", str(untrained_model), str(labelled), "--samples", n,
                                "--out", str(tmp_path / "o")], "--samples")


def test_outputs_that_are_the_wrong_kind_of_path_are_refused_before_work(untrained_model, labelled,
                                                                         tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    one_line_error(capsys, ["explain", "--model", str(untrained_model), str(labelled), "--out", str(f)], "a_file")
    one_line_error(capsys, ["train", "--data", str(labelled), "--out", str(f)], "a_file")
    err = one_line_error(capsys, ["predict", "--model", str(untrained_model), str(labelled),
                                  "--csv", str(tmp_path)], "--csv")
    assert "folder" in err


def test_train_refuses_a_non_empty_folder_that_is_not_a_run(labelled, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    one_line_error(capsys, ["train", "--data", str(labelled), "--out", str(out), "-q"], "not empty")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_image_size_checked_before_caching(labelled, tmp_path, capsys, monkeypatch):
    import smearnet.data

    def no_cache(*a, **k):
        raise AssertionError("the images were cached before the image size was checked")
    monkeypatch.setattr(smearnet.data, "load_dataset", no_cache)
    one_line_error(capsys, ["train", "--data", str(labelled), "--image-size", "7", "--limit", "4",
                            "--out", str(tmp_path / "r"), "-q"], "7 px")


def _fake_finished_run(run, preset="tiny", epochs=2):
    from smearnet.pipeline import run_dir as rd

    p = get_preset(preset).with_overrides(epochs=epochs)
    rd.write_json(run / rd.CONFIG, {"preset": p.to_json(), "seed": 0, "data": None})
    rd.write_json(run / rd.HISTORY, {"history": {"loss": [0.5] * epochs}, "epochs": epochs,
                                     "stopped_early": False})
    rd.write_json(run / rd.METRICS, {"test": {}})
    (run / rd.MODEL).write_bytes(b"model")
    (run / rd.REPORT).write_text("<html></html>")
    return run


def test_resume_refuses_another_preset_and_a_finished_run(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    _fake_finished_run(run)
    one_line_error(capsys, ["train", "--resume", "--out", str(run), "--preset", "cellnet"],
                   "--preset tiny", "only --epochs")
    one_line_error(capsys, ["train", "--resume", "--out", str(run)], "already finished after 2 epochs")
    one_line_error(capsys, ["train", "--resume", "--out", str(run), "--epochs", "2"], "already finished")


def test_predict_on_only_broken_files_is_a_usage_error(untrained_model, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (broken / "b.png").write_bytes(b"")
    code = main(["predict", "--model", str(untrained_model), str(broken)])
    cap = capsys.readouterr()
    assert code == 2 and "Traceback" not in cap.err
    lines = cap.err.strip().splitlines()
    assert [ln.startswith("skipped ") for ln in lines[:-1]] == [True, True]
    assert lines[-1].startswith("smearnet predict: error: no readable images in ")
    assert "0 cells" not in cap.out


def test_model_file_error_names_the_file_once(labelled, tmp_path, capsys):
    fake = tmp_path / "bad.safetensors"
    fake.write_bytes(b"\xff" * 8 + b"junk")
    err = one_line_error(capsys, ["predict", "--model", str(fake), str(labelled)], "not a smearnet model")
    assert err.count("bad.safetensors") == 1


def test_resume_with_other_images_than_the_split_is_a_usage_error(labelled, tmp_path, capsys):
    """--resume --data pointing at images the run was not split on: one line, not a traceback."""
    from smearnet.pipeline import run_dir as rd

    run = tmp_path / "r"
    run.mkdir()
    p = get_preset("tiny").with_overrides(epochs=2)
    rd.write_json(run / rd.CONFIG, {"preset": p.to_json(), "seed": 0, "data": str(labelled)})
    part = {"n_images": 1, "slides": ["C999"], "files": ["Parasitized/C999_elsewhere.png"]}
    rd.write_json(run / rd.SPLIT, {"kind": "patient", "seed": 0,
                                   "parts": {"train": part, "val": part, "test": part}})
    err = one_line_error(capsys, ["train", "--resume", "--out", str(run), "--data", str(labelled), "-q"],
                         "--resume", "split.json", str(labelled), "C999_elsewhere.png")
    assert "--data the run was trained on" in err


def test_run_config_keeps_the_data_path_absolute(labelled, tmp_path, capsys, monkeypatch):
    """A relative --data is stored absolute, so --resume works from any folder."""
    from smearnet.pipeline import run_dir as rd

    monkeypatch.chdir(labelled.parent)
    run = tmp_path / "r"
    assert main(["train", "--data", labelled.name, "--preset", "tiny", "--epochs", "1",
                 "--out", str(run), "-q"]) == 0
    capsys.readouterr()
    config = rd.read_json(run / rd.CONFIG)
    assert config["data"] == str(labelled)
    assert config["description"].endswith("this run: epochs 1")  # not the preset's 2 epochs
    assert "this run: epochs 1" in (run / rd.REPORT).read_text()


def test_unreadable_files_are_reported_by_train_and_evaluate_even_from_the_cache(
        labelled, untrained_model, tmp_path, capsys):
    """The warnings name a broken file only while the cache is built; every later train and
    evaluate still says how many files it left out, and the run records which."""
    import json
    import warnings

    from smearnet.pipeline import run_dir as rd

    (labelled / "Uninfected" / "C9_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["evaluate", "--model", str(untrained_model), "--data", str(labelled)]) == 0
    capsys.readouterr()
    for i in range(2):  # the second run reads the cache the first one built
        run = tmp_path / f"r{i}"
        assert main(["train", "--data", str(labelled), "--preset", "tiny", "--epochs", "1",
                     "--out", str(run), "-q"]) == 0
        assert "skipped 1 unreadable image file " in capsys.readouterr().out
        split = rd.read_json(run / rd.METRICS)["split"]
        assert split["skipped"] == 1 and split["skipped_files"][0][0].endswith("C9_broken.png")
        assert "C9_broken.png" in (run / rd.REPORT).read_text()
    assert main(["evaluate", "--model", str(untrained_model), "--data", str(labelled)]) == 0
    assert "skipped 1 unreadable image file " in capsys.readouterr().out
    assert main(["evaluate", "--model", str(untrained_model), "--data", str(labelled), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["skipped"] == 1 and m["skipped_files"][0][0].endswith("C9_broken.png")


class _Crash(KeyboardInterrupt):
    """Ctrl-C right after a checkpoint is written."""


def _interrupted_run(labelled, run):
    from smearnet.pipeline import train as train_mod

    def crash(epoch):
        raise _Crash()
    train_mod.after_checkpoint_hook = crash
    try:
        assert main(["train", "--data", str(labelled), "--preset", "tiny", "--out", str(run), "-q"]) == 130
    finally:
        train_mod.after_checkpoint_hook = None


def test_a_damaged_checkpoint_is_named_not_a_traceback(labelled, tmp_path, capsys):
    from smearnet.pipeline.checkpoint import checkpoint_path

    run = tmp_path / "r"
    _interrupted_run(labelled, run)
    assert "continue with: smearnet train --resume --out" in capsys.readouterr().err
    ckpt = checkpoint_path(run)
    good = ckpt.read_bytes()
    flipped = bytearray(good)
    flipped[-5] ^= 0xFF  # a weight byte: still a readable file, wrong contents
    for bad in (good[: len(good) // 2], b"garbage", bytes(flipped)):
        ckpt.write_bytes(bad)
        one_line_error(capsys, ["train", "--resume", "--out", str(run), "-q"],
                       str(ckpt), "damaged", "delete")
    ckpt.write_bytes(good)
    assert main(["train", "--resume", "--out", str(run), "-q"]) == 0
    assert "resuming after epoch 1 of 2" in capsys.readouterr().out


def test_resume_without_a_checkpoint_says_it_starts_again(labelled, tmp_path, capsys):
    import shutil

    from smearnet.pipeline.checkpoint import checkpoint_path

    run = tmp_path / "r"
    _interrupted_run(labelled, run)
    shutil.rmtree(checkpoint_path(run).parent)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "-q"]) == 0
    assert "no checkpoint in" in capsys.readouterr().out


def test_ctrl_c_while_scoring_after_the_last_epoch_and_the_resume_finishes_it(labelled, tmp_path, capsys,
                                                                              monkeypatch):
    """Stopped after the model and metrics are written but before the report: not finished;
    the printed command writes the rest."""
    from smearnet.pipeline import report as report_mod
    from smearnet.pipeline import run_dir as rd

    real = report_mod.build_report

    def interrupted(*a, **k):
        raise KeyboardInterrupt()
    monkeypatch.setattr(report_mod, "build_report", interrupted)
    run = tmp_path / "r"
    assert main(["train", "--data", str(labelled), "--preset", "tiny", "--out", str(run), "-q"]) == 130
    assert f"finish it with: smearnet train --resume --out {run}" in capsys.readouterr().err
    assert (run / rd.METRICS).is_file() and not (run / rd.REPORT).exists()
    monkeypatch.setattr(report_mod, "build_report", real)
    assert main(["train", "--resume", "--out", str(run), "-q"]) == 0
    assert (run / rd.REPORT).is_file() and (run / rd.CURVES).is_file()


def test_a_run_in_use_is_not_trained_twice_at_once(labelled, tmp_path, capsys):
    from smearnet.pipeline import run_dir as rd

    run = tmp_path / "r"
    _interrupted_run(labelled, run)
    capsys.readouterr()
    with rd.lock_run(run):  # as a training still running would hold it
        one_line_error(capsys, ["train", "--resume", "--out", str(run), "-q"], str(run), "in use")
    assert main(["train", "--resume", "--out", str(run), "-q"]) == 0


def test_two_runs_never_share_a_folder(tmp_path):
    """The folder is claimed by creating its config.json exclusively: an automatic name moves
    on, a named --out already claimed by another run is refused."""
    from smearnet.pipeline import run_dir as rd
    from smearnet.pipeline.splitting import RunError
    from smearnet.pipeline.train import _claim

    first = _claim(rd.new_run_dir("tiny", root=tmp_path), auto="tiny")
    second = _claim(first, auto="tiny")  # as if started in the same second
    assert second != first and (second / rd.CONFIG).is_file()
    with pytest.raises(RunError, match="already holds a run"):
        _claim(first, auto=None)
def last_line_error(capsys, argv, *needles):
    """Like ``one_line_error`` for commands that first warn about each skipped file: the error
    is the last line of stderr, exit code 2, no traceback."""
    code = main(argv)
    cap = capsys.readouterr()
    assert code == 2, (code, cap.err)
    assert "Traceback" not in cap.err + cap.out
    last = cap.err.strip().splitlines()[-1].split("\r")[-1]  # after any progress bar
    assert last.startswith("smearnet "), cap.err
    for n in needles:
        assert n in last, last
    return last


@pytest.mark.parametrize("argv", [
    ["evaluate", "--model", "MODEL", "--data", "DATA"],
    ["data", "cache", "--data", "DATA", "--image-size", "16"],
    ["data", "samples", "--data", "DATA", "--out", "OUT/grid.png"],
    ["data", "split", "--data", "DATA", "--out", "OUT/split.json"],
    ["predict", "--model", "MODEL", "DATA"],
    ["explain", "--model", "MODEL", "DATA", "--out", "OUT/sal"],
])
def test_a_source_whose_images_are_all_unreadable_is_a_usage_error(argv, untrained_model, tmp_path,
                                                                    capsys):
    data = tmp_path / "broken"
    for cls in ("Parasitized", "Uninfected"):
        (data / cls).mkdir(parents=True)
        (data / cls / f"C1_{cls}.png").write_bytes(b"not a png")
    argv = [a.replace("MODEL", str(untrained_model)).replace("DATA", str(data))
            .replace("OUT", str(tmp_path / "out")) for a in argv]
    last = last_line_error(capsys, argv, str(data))
    assert "2 files skipped" in last or "2 unreadable image files skipped" in last
    assert not (tmp_path / "out").exists()


@pytest.fixture
def one_class(tmp_path):
    """Parasitized/ only: 12 cells over 6 slides."""
    rng = np.random.default_rng(1)
    root = tmp_path / "oneclass"
    (root / "Parasitized").mkdir(parents=True)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            root / "Parasitized" / f"C{i % 6}_x_{i}.png")
    return root


@pytest.mark.parametrize("extra", [["--split", "random"], ["--split", "patient"], ["--cv", "2"],
                                   ["--split", "random", "--limit", "6"]])
def test_training_on_one_class_is_refused(one_class, extra, tmp_path, capsys):
    one_line_error(capsys, ["train", "--data", str(one_class), "--preset", "tiny", "--epochs", "1",
                            "--out", str(tmp_path / "r"), "-q", *extra],
                   "only one class (Parasitized) found in", str(one_class), "training needs both")
    assert not (tmp_path / "r" / "model.safetensors").exists()


@pytest.mark.parametrize("kind", ["random", "patient", "kfold"])
def test_data_split_of_one_class_is_refused(one_class, kind, tmp_path, capsys):
    one_line_error(capsys, ["data", "split", "--data", str(one_class), "--split", kind,
                            "--out", str(tmp_path / "s.json")], "only one class (Parasitized)")
    assert not list(tmp_path.glob("s*.json"))


def test_limit_that_drops_a_class_is_refused(tmp_path):
    from types import SimpleNamespace

    from smearnet.pipeline.splitting import RunError, make_split

    labels = np.array([1] * 99 + [0], np.uint8)  # 10 of these, stratified: 10 parasitized
    ds = SimpleNamespace(labels=labels, slides=np.array([f"C{i}" for i in range(100)]))
    with pytest.raises(RunError, match="--limit 10 keeps only one class"):
        make_split(ds, get_preset("tiny").with_overrides(limit=10, split="random"), seed=0)


def test_evaluate_on_one_class_works_and_says_what_is_undefined(one_class, untrained_model, capsys):
    import json

    assert main(["evaluate", "--model", str(untrained_model), "--data", str(one_class)]) == 0
    out = capsys.readouterr().out
    assert "note: only Parasitized cells" in out and "specificity" in out.split("note:")[1]
    assert main(["evaluate", "--model", str(untrained_model), "--data", str(one_class), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["n"] == 12 and m["roc_auc"] is None and m["specificity"] is None


def test_outputs_never_overwrite_an_input(untrained_model, labelled, tmp_path, capsys, monkeypatch):
    """--csv / --out naming an input (however spelled, or through a symlink) are refused before
    any work, and the input is left as it was."""
    img = labelled / "Parasitized" / "C0_x_Parasitized.png"
    before = img.read_bytes()
    (tmp_path / "link.png").symlink_to(img)
    monkeypatch.chdir(labelled)
    for inputs, csv in [([str(img)], str(img)), ([str(labelled)], "Parasitized/../Parasitized/C0_x_Parasitized.png"),
                        ([str(labelled)], str(tmp_path / "link.png"))]:
        one_line_error(capsys, ["predict", "--model", str(untrained_model), *inputs, "--csv", csv],
                       "--csv", "input", str(img))
    # explain: a.png's map would be a_saliency.png, itself an input in the same folder
    sal = labelled / "Uninfected" / "C0_x_Uninfected_saliency.png"
    sal.write_bytes(before)
    one_line_error(capsys, ["explain", "--model", str(untrained_model), str(labelled / "Uninfected"),
                            "--out", str(labelled / "Uninfected")], "--out", "overwrite", str(sal))
    assert sal.read_bytes() == before
    # data samples / split: an image of the source, or the source archive itself
    one_line_error(capsys, ["data", "samples", "--data", str(labelled), "--out", str(img)], "--out", str(img))
    import zipfile
    archive = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in labelled.rglob("*.png"):
            zf.write(f, f.relative_to(labelled).as_posix())
    zip_bytes = archive.read_bytes()
    one_line_error(capsys, ["data", "split", "--data", str(archive), "--split", "random",
                            "--out", str(archive)], "--out", "part of the data")
    assert archive.read_bytes() == zip_bytes and img.read_bytes() == before
    # the model file, and any existing file that is not a table, are never replaced by a CSV
    model_bytes = untrained_model.read_bytes()
    one_line_error(capsys, ["predict", "--model", str(untrained_model), str(img), "--csv", str(untrained_model)],
                   "--csv", "model file")
    other = labelled / "Uninfected" / "C1_x_Uninfected.png"
    other_bytes = other.read_bytes()
    one_line_error(capsys, ["predict", "--model", str(untrained_model), str(img), "--csv", str(other)],
                   "--csv", "not a .csv file")
    assert untrained_model.read_bytes() == model_bytes and other.read_bytes() == other_bytes
    old = tmp_path / "old.csv"
    old.write_text("path\n")
    assert main(["predict", "--model", str(untrained_model), str(img), "--csv", str(old), "-q"]) == 0
    assert old.read_text().startswith("path,probability_parasitized")  # an old table is replaced


@pytest.mark.parametrize("argv,prog", [
    (["train", "--bogus"], "smearnet train"),
    (["predict", "x.png", "--bogus", "1"], "smearnet predict"),
    (["data", "split", "--out", "s.json", "--bogus"], "smearnet data split"),
    (["data", "summary", "--data", "/nonexistent/cells"], "smearnet data summary"),
    (["data", "split", "--data", "/nonexistent/cells", "--out", "s.json"], "smearnet data split"),
])
def test_errors_name_the_subcommand(argv, prog, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = one_line_error(capsys, argv)
    assert err.startswith(f"{prog}: error: "), err
    if "--bogus" in argv:
        assert f"(see {prog} --help)" in err


def test_report_of_a_missing_folder_says_so(tmp_path, capsys):
    err = one_line_error(capsys, ["report", str(tmp_path / "nonexist")], "nonexist: no such folder")
    assert "config.json" not in err
    (tmp_path / "f").write_text("x")
    one_line_error(capsys, ["report", str(tmp_path / "f")], "not a folder")


def test_explain_samples_without_smoothgrad_is_refused(untrained_model, labelled, tmp_path, capsys):
    one_line_error(capsys, ["explain", "--model", str(untrained_model), str(labelled), "--method",
                            "gradxinput", "--samples", "4", "--out", str(tmp_path / "o")],
                   "--samples only applies to --method smoothgrad")
    assert not (tmp_path / "o").exists()


def test_a_training_checkpoint_given_as_model_points_to_the_runs_model(untrained_model, labelled,
                                                                      tmp_path, capsys):
    import shutil

    from smearnet.pipeline import run_dir as rd

    run = tmp_path / "run"
    state = rd.save_state(run / rd.CHECKPOINT / "state.safetensors",
                          {"version": 2, "epochs_done": 1, "weights": [np.zeros(3, np.float32)]})
    for model_arg in (state, state.parent):  # the file, or its checkpoint/ folder
        err = one_line_error(capsys, ["predict", "--model", str(model_arg), str(labelled)],
                             "is a training checkpoint, not a model", "--resume")
        assert "format None" not in err
    shutil.copy(untrained_model, run / "model.safetensors")
    one_line_error(capsys, ["evaluate", "--model", str(state), "--data", str(labelled)],
                   "training checkpoint", f"use the run's model, {run / 'model.safetensors'}")


def test_predict_csv_has_unix_line_ends_and_stdout_escapes_tabs_and_newlines(untrained_model, tmp_path,
                                                                             capsys):
    import csv

    rng = np.random.default_rng(0)
    d = tmp_path / "odd"
    d.mkdir()
    names = ["tab\there.png", "new\nline.png", "plain.png"]
    for n in names:
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(d / n, format="PNG")
    out = tmp_path / "r.csv"
    assert main(["predict", "--model", str(untrained_model), str(d), "--csv", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(ln.count("\t") == 2 for ln in lines[:3])
    assert {ln.split("\t")[0] for ln in lines[:3]} == {str(d / "tab\\there.png"), str(d / "new\\nline.png"),
                                                       str(d / "plain.png")}
    raw = out.read_bytes()
    assert b"\r\n" not in raw
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert sorted(r[0] for r in rows[1:]) == sorted(str(d / n) for n in names)  # exact names back


def test_train_on_only_unreadable_images_names_the_count(tmp_path, capsys):
    import warnings

    root = tmp_path / "allbad"
    for cls in ("Parasitized", "Uninfected"):
        (root / cls).mkdir(parents=True)
        (root / cls / f"C1_{cls}.png").write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["train", "--data", str(root), "--preset", "tiny", "--out", str(tmp_path / "r"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]  # after one warning per skipped file
    assert last == f"smearnet train: error: {root}: no usable images (2 unreadable image files skipped)"
