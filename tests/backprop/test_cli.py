"""`smearnet backprop` and `smearnet backprop --bench --quick`."""

from __future__ import annotations

import csv

from smearnet.backprop.bench import QUICK, fit_slope
from smearnet.cli import main


def test_part1_prints_the_check(capsys):
    assert main(["backprop"]) == 0
    out = capsys.readouterr().out
    for text in ("h = W x + b", "dL/dW = delta x^T", "closed form vs autodiff engine",
                 "finite differences", "unit 3 is off", "OK: all three agree"):
        assert text in out


def test_part1_with_seed(capsys):
    assert main(["backprop", "--seed", "5"]) == 0
    assert "seed 5" in capsys.readouterr().out


def test_bench_quick_writes_csv_and_png(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["backprop", "--bench", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Fitted log-log slopes" in text
    with open(out / "backprop_bench.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(QUICK.widths) + len(QUICK.depths)
    assert {r["sweep"] for r in rows} == {"width", "depth"}
    assert (out / "backprop_bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Robust even on a busy machine: at the largest quick width the O(n^3) method is far behind.
    widest = [r for r in rows if r["sweep"] == "width"][-1]
    assert float(widest["forward_seconds"]) > 3 * float(widest["reverse_seconds"])
    assert int(widest["forward_flops"]) > 50 * int(widest["reverse_flops"])
    fit = [r for r in rows if r["sweep"] == "width" and int(r["n"]) >= QUICK.width_fit_from]
    ns = [int(r["n"]) for r in fit]
    assert fit_slope(ns, [float(r["forward_seconds"]) for r in fit]) > \
        fit_slope(ns, [float(r["reverse_seconds"]) for r in fit])


def test_bench_options_need_bench(capsys):
    assert main(["backprop", "--quick"]) == 2
    assert "--bench" in capsys.readouterr().err


def test_bench_out_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["backprop", "--bench", "--quick", "--out", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err
