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
