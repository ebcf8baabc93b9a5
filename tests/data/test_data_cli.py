"""`smearnet data ...`: summary, samples, cache, split; user errors as one line, exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from smearnet.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SMEARNET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_summary(small_set, capsys):
    root, counts = small_set
    (root / "Uninfected" / "C3ThinF_zero.png").write_bytes(b"")
    assert main(["data", "summary", "--data", str(root)]) == 0
    out, err = capsys.readouterr()
    assert f"Parasitized {counts['Parasitized']}" in out and "slides (patients" in out
    assert "skipped (unreadable) image files: 1" in out and "C3ThinF_zero.png" in out
    assert "warning: skipped" in err and "C3ThinF_zero.png" in err
    assert main(["data", "summary", "--data", str(root), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["slides"] == 9 and len(s["skipped"]) == 1


def test_summary_verify_decodes_everything(small_set, home, synth, rng, capsys):
    root, _ = small_set
    data = bytearray(synth.png_bytes(synth.cell(rng, 40, 40)))
    i = data.index(b"IDAT") + 8
    data[i:i + 30] = b"\xff" * 30
    (root / "Parasitized" / "C9P3ThinF_corrupt.png").write_bytes(bytes(data))
    assert main(["data", "summary", "--data", str(root)]) == 0
    assert "skipped (unreadable) image files: 0" in capsys.readouterr().out
    assert main(["data", "summary", "--data", str(root), "--verify", "--image-size", "8"]) == 0
    assert "C9P3ThinF_corrupt.png" in capsys.readouterr().out


def test_samples_grid(small_set, tmp_path, capsys):
    root, _ = small_set
    out = tmp_path / "grid.png"
    assert main(["data", "samples", "--data", str(root), "--out", str(out), "--n", "8",
                 "--cols", "4"]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 200
    assert out.stat().st_size < 300_000


def test_cache_twice(small_set, home, capsys):
    root, _ = small_set
    assert main(["data", "cache", "--data", str(root), "--image-size", "12"]) == 0
    assert capsys.readouterr().out.startswith("built cache of 42 images at 12x12")
    assert main(["data", "cache", "--data", str(root), "--image-size", "12"]) == 0
    assert capsys.readouterr().out.startswith("reused cache of 42 images")


def test_split_commands(small_set, tmp_path, capsys):
    root, _ = small_set
    out = tmp_path / "split.json"
    assert main(["data", "split", "--data", str(root), "--out", str(out),
                 "--fractions", "0.6", "0.2", "0.2", "--seed", "1"]) == 0
    m = json.loads(out.read_text())
    slides = [set(m["parts"][p]["slides"]) for p in ("train", "val", "test")]
    assert not (slides[0] & slides[1] or slides[0] & slides[2] or slides[1] & slides[2])
    assert main(["data", "split", "--data", str(root), "--out", str(tmp_path / "k.json"),
                 "--split", "kfold", "--k", "3"]) == 0
    assert sorted(p.name for p in tmp_path.glob("k-fold*.json")) == [
        "k-fold1.json", "k-fold2.json", "k-fold3.json"]
    assert main(["data", "split", "--data", str(root), "--out", str(tmp_path / "r.json"),
                 "--split", "random", "--limit", "20", "--fractions", "0.8", "0", "0.2"]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["kind"] == "random" and r["parts"]["train"]["n_images"] == 16
    capsys.readouterr()
    assert main(["data", "split", "--data", str(root), "--out", str(tmp_path / "x.json"),
                 "--split", "kfold", "--k", "40"]) == 2
    assert "needs at least 40 slides" in capsys.readouterr().err


@pytest.mark.parametrize("make,expect", [
    (lambda p: p / "missing", "no such file or folder"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no Parasitized/ or Uninfected/"),
    (lambda p: (p / "n" / "cells").mkdir(parents=True) or p / "n", "class folder"),
])
@pytest.mark.parametrize("verb", ["summary", "cache"])
def test_user_errors_one_line_exit_2(tmp_path, home, capsys, make, expect, verb):
    path = make(tmp_path)
    assert main(["data", verb, "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"smearnet data {verb}: error: ") and expect in err
    assert len(err.splitlines()) == 1 and str(path) in err


def test_no_data_named(monkeypatch, home, capsys):
    monkeypatch.delenv("SMEARNET_DATA", raising=False)
    assert main(["data", "summary"]) == 2
    assert "smearnet data download" in capsys.readouterr().err


def test_grid_shows_both_classes(small_set):
    from smearnet.data import index_source
    from smearnet.data.samples import pick_samples

    idx = index_source(small_set[0])
    chosen = pick_samples(idx.labels, 10, seed=0)
    assert np.sum(idx.labels[chosen] == 1) == 5 and len(set(chosen.tolist())) == 10


def test_split_random_covers_every_image(small_set, tmp_path, capsys):
    root, counts = small_set
    out = tmp_path / "r.json"
    assert main(["data", "split", "--data", str(root), "--out", str(out), "--split", "random"]) == 0
    m = json.loads(out.read_text())
    assert sum(m["parts"][p]["n_images"] for p in ("train", "val", "test")) == sum(counts.values())


def test_samples_with_zero_cells_is_an_error(small_set, tmp_path, capsys):
    root, _ = small_set
    assert main(["data", "samples", "--data", str(root), "--out", str(tmp_path / "g.png"), "--n", "0"]) == 2
    assert not (tmp_path / "g.png").exists()
    from smearnet.data import index_source, sample_grid
    with pytest.raises(ValueError):
        sample_grid(index_source(root), tmp_path / "g.png", n=4, cols=0)


@pytest.mark.parametrize("make", [lambda p: p / "nonexist", lambda p: (p / "flat").mkdir() or p / "flat"])
@pytest.mark.parametrize("argv", [["data", "summary"], ["data", "cache"], ["train", "--preset", "tiny"]])
def test_a_bad_smearnet_data_is_named_as_such(monkeypatch, home, tmp_path, capsys, make, argv):
    bad = make(tmp_path)
    monkeypatch.setenv("SMEARNET_DATA", str(bad))
    if argv[0] == "train":
        argv = argv + ["--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "$SMEARNET_DATA" in err, err


@pytest.mark.parametrize("cls", ["Parasitized", "uninfected"])
def test_a_class_folder_as_data_suggests_its_parent(small_set, home, tmp_path, capsys, cls):
    root, _ = small_set
    if cls == "uninfected":  # any letter case
        (root / "Uninfected").rename(root / "uninfected")
    assert main(["data", "summary", "--data", str(root / cls)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "class folder itself" in err
    assert f"pass its parent {root}," in err


@pytest.mark.parametrize("split", ["patient", "random"])
@pytest.mark.parametrize("fractions,why", [(["0.5", "0.5", "0.5"], "they add up to 1.5"),
                                           (["0.5", "0.2", "0.2"], "they add up to 0.9"),
                                           (["0", "0.5", "0.5"], "TRAIN is 0"),
                                           (["0.8", "0.2", "0"], "TEST is 0")])
def test_fractions_have_one_rule_and_one_message(small_set, tmp_path, capsys, split, fractions, why):
    root, _ = small_set
    assert main(["data", "split", "--data", str(root), "--out", str(tmp_path / "s.json"),
                 "--split", split, "--fractions", *fractions]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.endswith(f"TRAIN VAL TEST must add up to 1, with TRAIN and TEST above 0 ({why})"), err
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("argv,flag", [
    (["split", "--out", "S", "--k", "3"], "--k"),
    (["split", "--out", "S", "--split", "random", "--k", "3"], "--k"),
    (["split", "--out", "S", "--split", "kfold", "--fractions", "0.6", "0.2", "0.2"], "--fractions"),
    (["summary", "--image-size", "64"], "--image-size"),
])
def test_flags_that_would_be_ignored_are_refused(small_set, tmp_path, capsys, argv, flag):
    root, _ = small_set
    argv = ["data", *[str(tmp_path / "s.json") if a == "S" else a for a in argv], "--data", str(root)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"smearnet data {argv[1]}: error: {flag} ")
    assert not list(tmp_path.glob("s*.json"))


def test_one_slide_is_singular(tmp_path, synth, capsys):
    root = tmp_path / "cells"
    synth.make_tree(root, {"Parasitized": ["C100P61ThinF", "C39P4thinF"],
                           "Uninfected": ["C100P61ThinF", "C39P4thinF"]}, per_slide=2)
    assert main(["data", "split", "--data", str(root), "--out", str(tmp_path / "k.json"),
                 "--split", "kfold", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert "1 slide)" in out and "1 slides" not in out
