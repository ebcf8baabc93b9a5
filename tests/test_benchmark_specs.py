"""The engine benchmark builds the presets' models: its layer specs are read off the presets,
so they have the same trainable parameters (a benchmark of a stale architecture fails here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import smearnet
from smearnet.pipeline.presets import build_layers, get_preset

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["assignment", "cellnet"])
def test_benchmark_spec_has_the_presets_parameters(bench, name):
    preset = get_preset(name)
    spec = bench.MODELS[name]
    assert spec["input"] == (preset.image_size,) * 2 + (3,) and spec["batch"] == preset.batch_size
    model = smearnet.Sequential(build_layers(preset), seed=0)
    model.build()
    shapes = [w.shape for w in model.trainable_weights]
    assert [w.shape for w in bench.init_weights(spec)] == shapes
    assert sum(int(np.prod(s)) for s in shapes) == sum(w.size for w in bench.init_weights(spec))
