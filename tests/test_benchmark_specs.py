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


def test_alternate_times_blocks_and_never_the_first_call_after_a_switch(bench, monkeypatch):
    """Each framework runs in blocks; the call right after a switch (when the other one's
    worker threads may still spin on a core) is never timed. Per-call alternation made the
    published ratios against PyTorch wrong once (docs/engine.md, "A correction")."""
    log: list[str] = []
    clock = iter(range(10_000))
    monkeypatch.setattr(bench.time, "perf_counter", lambda: float(next(clock)))
    timed: list[str] = []

    def call(name):
        def f():
            log.append(name)
        return f

    real_median = bench.statistics.median
    monkeypatch.setattr(bench.statistics, "median", lambda v: (timed.append(len(v)), real_median(v))[1])
    out = bench.alternate({"a": call("a"), "b": call("b")}, warmup=1, rounds=4, block=3)
    assert set(out) == {"a", "b"}
    assert log[:2] == ["a", "b"]  # warm-up
    runs = log[2:]
    assert runs == ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3 + ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3
    assert timed == [4 * 2, 4 * 2]  # rounds * (block - 1) timed calls each
