"""report.html from a run folder's files alone (no model needed)."""

import re

import numpy as np
import pytest
from PIL import Image

from smearnet.cli import main
from smearnet.pipeline import report, run_dir as rd
from smearnet.pipeline.evaluate import classification_metrics
from smearnet.pipeline.overfit import overfitting_report
from smearnet.pipeline.presets import get_preset


def fake_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    p = np.clip(0.5 * y + 0.25 + rng.normal(0, 0.2, len(y)), 0, 1)
    slides = np.array([f"C{i % 5}" for i in range(len(y))])
    test = classification_metrics(y, p, 0.5, slides=slides)
    test["loss"] = 0.31
    history = {"loss": [0.6, 0.4, 0.3], "accuracy": [0.7, 0.8, 0.86],
               "val_loss": [0.5, 0.35, 0.33], "val_accuracy": [0.75, 0.84, 0.85]}
    over = overfitting_report(history, train={"loss": 0.29, "accuracy": 0.87},
                              heldout={"loss": 0.31, "accuracy": test["accuracy"]})
    rd.write_json(run / rd.CONFIG, {"preset": get_preset("cellnet").to_json(), "command": "smearnet train --epochs 3",
                                    "environment": {"numpy": np.__version__}, "settings": {"seed": 0}})
    rd.write_json(run / rd.HISTORY, {"history": history, "best_epoch": 3, "val_name": "validation"})
    rd.write_json(run / rd.METRICS, {
        "test": test, "overfitting": over,
        "split": {"train": {"images": 100, "slides": 7, "parasitized": 50, "uninfected": 50},
                  "test": {"images": 40, "slides": 5, "parasitized": 20, "uninfected": 20}},
        "timing": {"train_seconds": 12.0, "epoch_seconds": [4, 4, 4], "total_seconds": 20.0,
                   "train_images_per_second": 25.0}})
    report.write_predictions(run / report.PREDICTIONS, np.array([f"x{i}.png" for i in range(len(y))]),
                             slides, y, p, 0.5)
    (run / rd.ERRORS).mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(run / rd.ERRORS / "false_positives.png")
    return run, over


def test_report_is_self_contained_with_plots_and_verdict(tmp_path):
    run, over = fake_run(tmp_path)
    out = report.build_report(run)
    html = out.read_text()
    assert out == run / "report.html"
    imgs = re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)
    assert len(imgs) == 4  # curves, confusion, ROC, false positives
    assert "src=\"http" not in html and "<script" not in html
    assert over["sentence"].split(":")[0] in html
    assert "smearnet train --epochs 3" in html
    assert "preset <b>cellnet</b>" in html and "{&#x27;name" not in html  # the name, not the dict
    for png in (rd.CURVES, rd.CONFUSION, rd.ROC):
        assert (run / png).stat().st_size > 1000


def test_report_cli_rebuilds(tmp_path, capsys):
    run, _ = fake_run(tmp_path)
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file()
    assert capsys.readouterr().out.strip().endswith("report.html")


def test_report_cli_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.json is missing" in err


def test_state_roundtrip(tmp_path):
    state = {"w": [np.arange(6, dtype=np.float32).reshape(2, 3)], "it": 3, "best": float("inf"),
             "opt": {"slots": {"m": [np.ones(2, np.float32)]}}, "none": None}
    rd.save_state(tmp_path / "s.safetensors", state)
    back = rd.load_state(tmp_path / "s.safetensors")
    np.testing.assert_array_equal(back["w"][0], state["w"][0])
    assert back["it"] == 3 and back["best"] == float("inf") and back["none"] is None
    np.testing.assert_array_equal(back["opt"]["slots"]["m"][0], np.ones(2))


@pytest.mark.parametrize("n,pos,text", [(412, 23, "412 cells, 23 parasitized (5.6%)"),
                                        (1, 0, "1 cell, 0 parasitized (0.0%)"),
                                        (0, 0, "0 cells, 0 parasitized (0.0%)")])
def test_summary_line(n, pos, text):
    from smearnet.pipeline.predict import summary_line
    assert summary_line(n, pos) == text


def test_report_on_half_written_metrics_names_the_file(tmp_path, capsys):
    run, _ = fake_run(tmp_path)
    text = (run / rd.METRICS).read_text()
    (run / rd.METRICS).write_text(text[: len(text) // 2])
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "metrics.json" in err and "not valid JSON" in err
