"""smearnet's engine against PyTorch CPU, side by side in one process.

Times, for the assignment's model (133x133x3, batch 32) and the default preset's model
(cellnet, 64x64x3, batch 64; both read off the presets' layers):
  * conv2d forward+backward alone at each conv layer's shape,
  * a whole training step (forward, loss, backward, Adam update),
  * inference (forward without a graph / under torch.no_grad, dropout off).
Both frameworks get the same architecture, the same initial weights, the same batch and the same
number of threads; after a warm-up they run in alternating blocks (the first call after each
switch untimed: the other framework's worker threads may still be spinning), median kept.
Also reported: peak memory of a training step (each framework in a fresh child process),
GFLOP/s achieved, and that as a fraction of this machine's float32 matrix-multiply
throughput measured in the same run.

The smearnet step is written directly with ``smearnet.autodiff`` ops and a small inline Adam,
so it measures the engine, not the layer library.

    python benchmarks/bench_engine.py                 # everything, table + benchmarks/results/engine.json
    python benchmarks/bench_engine.py --model assignment --rounds 10
    python benchmarks/bench_engine.py --profile       # per-op forward/backward time (smearnet)
    python benchmarks/bench_engine.py --nn            # also through smearnet.Sequential.fit
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import smearnet.autodiff as ad

# -- model specifications ---------------------------------------------------------------------
# ("conv", filters, kernel, stride, padding, use_bias, relu) | ("bn",) | ("relu",) | ("maxpool", k)
# | ("gap",) | ("flatten",) | ("dense", units, relu) | ("dropout", rate)
def spec_from_preset(name: str) -> dict[str, Any]:
    """The benchmark spec of a preset's model, read off the layers that ``smearnet train``
    builds (so the benchmark follows the preset when its architecture changes)."""
    from smearnet.nn import activations
    from smearnet.pipeline.presets import build_layers, get_preset

    preset = get_preset(name)
    layers: list[tuple] = []
    size = preset.image_size
    for lay in build_layers(preset):
        kind = type(lay).__name__
        relu = getattr(lay, "activation", None) is activations.relu
        if kind == "InputLayer":
            size = lay.input_shape_arg
        elif kind == "Conv2D":
            k, st = lay.kernel_size, lay.strides
            if k[0] != k[1] or st[0] != st[1]:
                raise ValueError(f"{name}: the benchmark handles square kernels and strides only")
            layers.append(("conv", lay.filters, k[0], st[0], lay.padding, lay.use_bias, relu))
        elif kind == "BatchNormalization":
            layers.append(("bn",))
        elif kind == "ReLU":
            layers.append(("relu",))
        elif kind in ("MaxPool2D", "MaxPooling2D"):
            if lay.pool_size != lay.strides or lay.padding != "valid":
                raise ValueError(f"{name}: the benchmark handles max-pools with stride = size only")
            layers.append(("maxpool", lay.pool_size[0]))
        elif kind in ("GlobalAveragePooling2D", "GlobalAvgPool2D"):
            layers.append(("gap",))
        elif kind == "Flatten":
            layers.append(("flatten",))
        elif kind == "Dense":
            layers.append(("dense", lay.units, relu))
        elif kind == "Dropout":
            layers.append(("dropout", lay.rate))
        else:
            raise ValueError(f"{name}: the benchmark has no {kind} layer")
    loss = {"mse": "mse", "bce_logits": "bce_logits"}[preset.loss]
    return dict(input=tuple(size), batch=preset.batch_size, loss=loss, layers=layers)


# the assignment's model (133x133x3, batch 32) and the default preset's (cellnet)
MODELS: dict[str, dict[str, Any]] = {name: spec_from_preset(name) for name in ("assignment", "cellnet")}


def walk(spec: dict[str, Any]) -> Iterator[tuple[tuple, int, tuple[int, int, int]]]:
    """Each layer of the spec with its input channels and its output shape ``(h, w, c)``."""
    h, w, c = spec["input"]
    for layer in spec["layers"]:
        kind, c_in = layer[0], c
        if kind == "conv":
            _, f, k, s, pad, _, _ = layer
            h, w, c = ad.conv_output_size(h, k, s, pad), ad.conv_output_size(w, k, s, pad), f
        elif kind == "maxpool":
            h, w = h // layer[1], w // layer[1]
        elif kind == "gap":
            h = w = 1
        elif kind == "flatten":
            h, w, c = 1, 1, h * w * c
        elif kind == "dense":
            c = layer[1]
        yield layer, c_in, (h, w, c)


def init_weights(spec: dict[str, Any], seed: int = 0) -> list[np.ndarray]:
    """He-normal weights (HWIO kernels, (in, out) dense), zero biases, BN gamma 1 / beta 0."""
    rng = np.random.default_rng(seed)
    params: list[np.ndarray] = []
    for layer, c, _ in walk(spec):
        kind = layer[0]
        if kind == "conv":
            _, f, k, _, _, bias, _ = layer
            params.append((rng.standard_normal((k, k, c, f)) * np.sqrt(2 / (k * k * c))).astype(np.float32))
            if bias:
                params.append(np.zeros(f, np.float32))
        elif kind == "bn":
            params += [np.ones(c, np.float32), np.zeros(c, np.float32)]
        elif kind == "dense":
            params.append((rng.standard_normal((c, layer[1])) * np.sqrt(2 / c)).astype(np.float32))
            params.append(np.zeros(layer[1], np.float32))
    return params


def count_flops(spec: dict[str, Any]) -> tuple[float, float]:
    """Multiply-add FLOPs (2 per MAC) of the convs and dense layers: (inference, training step).

    Training = forward + weight gradient + input gradient (skipped for the first layer).
    """
    n = spec["batch"]
    fwd = train = 0.0
    first = True
    for layer, c, (h, w, f) in walk(spec):
        if layer[0] == "conv":
            k = layer[2]
            flops = 2.0 * n * h * w * k * k * c * f
        elif layer[0] == "dense":
            flops = 2.0 * n * c * f
        else:
            continue
        fwd += flops
        train += flops * (2 if first else 3)
        first = False
    return fwd, train


# -- smearnet ---------------------------------------------------------------------------------
class SmearnetModel:
    """The spec as plain autodiff calls, with an inline Adam (Keras defaults, eps 1e-7)."""

    def __init__(self, spec: dict[str, Any], weights: list[np.ndarray], lr: float = 1e-3) -> None:
        self.spec = spec
        self.params = [ad.Tensor(w.copy(), requires_grad=True) for w in weights]
        self.running = [(np.zeros(w.shape, np.float32), np.ones(w.shape, np.float32))
                        for w, layer in zip(weights, self._param_owner()) if layer == "bn_gamma"]
        self.m = [np.zeros_like(w) for w in weights]
        self.v = [np.zeros_like(w) for w in weights]
        self.t = 0
        self.lr = lr
        self.rng = np.random.default_rng(0)
        self.ops = ad  # replaced by a timing namespace when profiling
        # bn, relu, maxpool 2 -> batch_norm_relu_max_pool2d; bn, relu -> batch_norm(activation="relu")
        self.fuse_bn_relu = True

    def _param_owner(self) -> list[str]:
        out = []
        for layer in self.spec["layers"]:
            if layer[0] == "conv":
                out += ["conv"] + (["conv_b"] if layer[5] else [])
            elif layer[0] == "bn":
                out += ["bn_gamma", "bn_beta"]
            elif layer[0] == "dense":
                out += ["dense", "dense_b"]
        return out

    def forward(self, x: np.ndarray, training: bool) -> ad.Tensor:
        ops = self.ops
        p = iter(self.params)
        bn = iter(self.running)
        h: Any = ad.Tensor(x)
        layers = self.spec["layers"]
        skip = 0  # layers already applied by a fused op
        for at, layer in enumerate(layers):
            kind = layer[0]
            if skip:
                skip -= 1
                continue
            if kind == "conv":
                _, f, k, s, pad, bias, relu = layer
                h = ops.conv2d(h, next(p), next(p) if bias else None, stride=s, padding=pad,
                               activation="relu" if relu else None)
            elif kind == "bn":
                rm, rv = next(bn)
                after = [lay[0] for lay in layers[at + 1:at + 3]]
                if self.fuse_bn_relu and after == ["relu", "maxpool"] and layers[at + 2][1] == 2:
                    h = ops.batch_norm_relu_max_pool2d(h, next(p), next(p), rm, rv, training)
                    skip = 2
                else:
                    skip = int(self.fuse_bn_relu and after[:1] == ["relu"])
                    h = ops.batch_norm(h, next(p), next(p), rm, rv, training,
                                       activation="relu" if skip else None)
            elif kind == "relu":
                h = ops.relu(h)
            elif kind == "maxpool":
                h = ops.max_pool2d(h, layer[1])
            elif kind == "gap":
                h = ops.global_avg_pool2d(h)
            elif kind == "flatten":
                h = ops.flatten(h)
            elif kind == "dense":
                h = ops.add(ops.matmul(h, next(p)), next(p))
                if layer[2]:
                    h = ops.relu(h)
            elif kind == "dropout":
                h = ops.dropout(h, layer[1], training, self.rng)
        return h

    def loss(self, out: ad.Tensor, y: np.ndarray) -> ad.Tensor:
        if self.spec["loss"] == "mse":
            return self.ops.mse_loss(out, y.reshape(out.shape))
        return self.ops.binary_cross_entropy_with_logits(out, y.reshape(out.shape))

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        for q in self.params:
            q.grad = None
        loss = self.loss(self.forward(x, training=True), y)
        loss.backward()
        self.adam()
        return loss.item()

    def adam(self, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7) -> None:
        self.t += 1
        step = self.lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        for q, m, v in zip(self.params, self.m, self.v):
            g = q.grad
            m *= b1
            m += (1 - b1) * g
            v *= b2
            g *= g
            v += (1 - b2) * g
            denom = np.sqrt(v)
            denom += eps * np.sqrt(1 - b2 ** self.t)  # eps on the bias-corrected v, as torch/Keras
            q.data -= np.float32(step) * m / denom

    def predict(self, x: np.ndarray) -> np.ndarray:
        with ad.no_grad():
            return self.forward(x, training=False).data


# -- torch ------------------------------------------------------------------------------------
def torch_model(spec: dict[str, Any], weights: list[np.ndarray]):
    """The same network in torch (NCHW inside, flattened in NHWC order), same weights."""
    import torch
    import torch.nn as nn

    class NHWCFlatten(nn.Module):
        def forward(self, x):
            return torch.flatten(x.permute(0, 2, 3, 1), 1)

    mods: list[Any] = []
    w = iter(weights)
    c = spec["input"][2]
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            _, f, k, s, pad, bias, relu = layer
            if pad == "same" and s != 1:
                raise ValueError("torch's padding='same' needs stride 1")
            conv = nn.Conv2d(c, f, k, stride=s, padding=0 if pad == "valid" else pad, bias=bias)
            conv.weight.data = torch.from_numpy(next(w).transpose(3, 2, 0, 1).copy())
            if bias:
                conv.bias.data = torch.from_numpy(next(w).copy())
            mods.append(conv)
            if relu:
                mods.append(nn.ReLU())
            c = f
        elif kind == "bn":
            bn = nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
            bn.weight.data = torch.from_numpy(next(w).copy())
            bn.bias.data = torch.from_numpy(next(w).copy())
            mods.append(bn)
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(layer[1]))
        elif kind == "gap":
            mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif kind == "flatten":
            mods.append(NHWCFlatten())
        elif kind == "dense":
            kernel = next(w)
            lin = nn.Linear(kernel.shape[0], kernel.shape[1])
            lin.weight.data = torch.from_numpy(kernel.T.copy())
            lin.bias.data = torch.from_numpy(next(w).copy())
            mods.append(lin)
            if layer[2]:
                mods.append(nn.ReLU())
            c = kernel.shape[1]
        elif kind == "dropout":
            mods.append(nn.Dropout(layer[1]))
    return nn.Sequential(*mods)


class TorchRunner:
    def __init__(self, spec: dict[str, Any], weights: list[np.ndarray], lr: float = 1e-3) -> None:
        import torch
        self.torch = torch
        self.spec = spec
        self.model = torch_model(spec, weights)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr, eps=1e-7)
        self.loss_fn = (torch.nn.functional.mse_loss if spec["loss"] == "mse"
                        else torch.nn.functional.binary_cross_entropy_with_logits)

    def to_input(self, x: np.ndarray):
        return self.torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

    def train_step(self, x, y) -> float:
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        out = self.model(x)
        loss = self.loss_fn(out, y.reshape(out.shape))
        loss.backward()
        self.opt.step()
        return loss.item()

    def predict(self, x):
        self.model.eval()
        with self.torch.no_grad():
            return self.model(x)


class NNRunner:
    """The same network through the layer library (``smearnet.Sequential``), trained with
    ``fit`` on one batch: what a user of ``smearnet.layers`` gets, unfused activations included."""

    def __init__(self, spec: dict[str, Any], weights: list[np.ndarray], lr: float = 1e-3) -> None:
        import smearnet as sn
        L = sn.layers
        layers: list[Any] = [L.InputLayer(input_shape=spec["input"])]
        full: list[np.ndarray] = []
        w = iter(weights)
        for layer in spec["layers"]:
            kind = layer[0]
            if kind == "conv":
                _, f, k, s, pad, bias, relu = layer
                layers.append(L.Conv2D(f, (k, k), strides=(s, s), padding=pad, use_bias=bias,
                                       activation="relu" if relu else None))
                full += [next(w)] + ([next(w)] if bias else [])
            elif kind == "bn":
                layers.append(L.BatchNormalization())
                c = full[-1].shape[-1]
                full += [next(w), next(w), np.zeros(c, np.float32), np.ones(c, np.float32)]
            elif kind == "relu":
                layers.append(L.ReLU())
            elif kind == "maxpool":
                layers.append(L.MaxPooling2D((layer[1], layer[1])))
            elif kind == "gap":
                layers.append(L.GlobalAveragePooling2D())
            elif kind == "flatten":
                layers.append(L.Flatten())
            elif kind == "dense":
                layers.append(L.Dense(layer[1], activation="relu" if layer[2] else None))
                full += [next(w), next(w)]
            elif kind == "dropout":
                layers.append(L.Dropout(layer[1]))
        self.model = sn.Sequential(layers, seed=0)
        self.model.build()
        self.model.set_weights(full)
        loss = "mse" if spec["loss"] == "mse" else sn.losses.BinaryCrossentropy(from_logits=True)
        self.model.compile(optimizer=sn.optimizers.Adam(learning_rate=lr, epsilon=1e-7), loss=loss)
        self.n = spec["batch"]

    def train_step(self, x: np.ndarray, y: np.ndarray) -> None:
        self.model.fit(x, y, epochs=1, batch_size=self.n, shuffle=False, verbose=0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x, batch_size=self.n)


# -- timing -----------------------------------------------------------------------------------
def alternate(fns: dict[str, Callable[[], Any]], warmup: int, rounds: int,
              block: int = 3) -> dict[str, float]:
    """Median seconds per call of each function, run in alternating blocks after a warm-up.

    Each round runs every function ``block`` times in a row and times all but the first call
    of the block: right after a switch, the other framework's worker threads are still
    spinning (torch's OpenMP threads, OpenBLAS's after a multi-threaded product) and hold a
    core, which would charge one framework for the other's idle threads. The order rotates
    every round. ``rounds * (block - 1)`` timed calls per function.
    """
    for _ in range(warmup):
        for f in fns.values():
            f()
    names = list(fns)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            fns[k]()  # untimed: the switch
            for _ in range(block - 1):
                t0 = time.perf_counter()
                fns[k]()
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def matmul_gflops(threads: int) -> dict[str, float]:
    """This machine's float32 GEMM throughput (NumPy/OpenBLAS and torch), 2048^3."""
    import torch
    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    ta = torch.from_numpy(a)
    t = alternate({"numpy": lambda: a @ a, "torch": lambda: ta @ ta}, warmup=1, rounds=5)
    return {k: 2 * n ** 3 / v / 1e9 for k, v in t.items()}


def conv_layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Input shape, kernel, stride and padding of each conv of the spec."""
    h, w, c = spec["input"]
    out = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            _, f, k, s, pad, bias, _ = layer
            out.append(dict(x=(spec["batch"], h, w, c), w=(k, k, c, f), stride=s, padding=pad,
                            bias=bias, input_grad=bool(out)))
            h, w, c = ad.conv_output_size(h, k, s, pad), ad.conv_output_size(w, k, s, pad), f
        elif kind == "maxpool":
            h, w = h // layer[1], w // layer[1]
    return out


def bench_convs(spec: dict[str, Any], warmup: int, rounds: int) -> list[dict[str, Any]]:
    import torch
    rows = []
    rng = np.random.default_rng(1)
    for cl in conv_layers(spec):
        x = rng.random(cl["x"], dtype=np.float32)
        w = (rng.standard_normal(cl["w"]) * 0.1).astype(np.float32)
        b = np.zeros(cl["w"][3], np.float32) if cl["bias"] else None
        xs = ad.Tensor(x, requires_grad=cl["input_grad"])
        ws = ad.Tensor(w, requires_grad=True)
        bs = None if b is None else ad.Tensor(b, requires_grad=True)
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().requires_grad_(cl["input_grad"])
        tw = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_(True)
        tb = None if b is None else torch.from_numpy(b).requires_grad_(True)
        pad = 0 if cl["padding"] == "valid" else cl["padding"]

        def sn() -> None:
            ws.grad = None
            y = ad.conv2d(xs, ws, bs, stride=cl["stride"], padding=cl["padding"])
            y.backward(np.ones(y.shape, np.float32))

        def th() -> None:
            tw.grad = None
            y = torch.nn.functional.conv2d(tx, tw, tb, stride=cl["stride"], padding=pad)
            y.backward(torch.ones_like(y))

        t = alternate({"smearnet": sn, "torch": th}, warmup, rounds)
        rows.append(dict(layer=f"x{cl['x']} w{cl['w']} s{cl['stride']} {cl['padding']}",
                         smearnet_ms=t["smearnet"] * 1e3, torch_ms=t["torch"] * 1e3,
                         ratio=t["torch"] / t["smearnet"]))
    return rows


def bench_model(name: str, warmup: int, rounds: int, with_nn: bool = False) -> dict[str, Any]:
    import torch
    spec = MODELS[name]
    weights = init_weights(spec)
    sm, tr = SmearnetModel(spec, weights), TorchRunner(spec, weights)
    nn = NNRunner(spec, weights) if with_nn else None
    rng = np.random.default_rng(2)
    n = spec["batch"]
    x = rng.random((n, *spec["input"]), dtype=np.float32)
    y = (rng.random(n) > 0.5).astype(np.float32)
    tx, ty = tr.to_input(x), torch.from_numpy(y)

    # same weights -> same inference output (a correctness guard for the benchmark itself)
    diff = float(np.abs(sm.predict(x).ravel() - tr.predict(tx).numpy().ravel()).max())
    train_fns = {"smearnet": lambda: sm.train_step(x, y), "torch": lambda: tr.train_step(tx, ty)}
    infer_fns = {"smearnet": lambda: sm.predict(x), "torch": lambda: tr.predict(tx)}
    if nn is not None:
        diff = max(diff, float(np.abs(nn.predict(x).ravel() - tr.predict(tx).numpy().ravel()).max()))
        train_fns["nn"] = lambda: nn.train_step(x, y)
        infer_fns["nn"] = lambda: nn.predict(x)
    train = alternate(train_fns, warmup, rounds)
    infer = alternate(infer_fns, warmup, rounds)
    fwd_flops, train_flops = count_flops(spec)
    res: dict[str, Any] = dict(model=name, batch=n, input=list(spec["input"]), max_abs_output_diff=diff)
    for what, t, flops in (("train", train, train_flops), ("infer", infer, fwd_flops)):
        for fw in t:
            res[f"{what}_{fw}_img_s"] = n / t[fw]
            res[f"{what}_{fw}_gflop_s"] = flops / t[fw] / 1e9
        res[f"{what}_ratio"] = t["torch"] / t["smearnet"]
        if "nn" in t:
            res[f"{what}_nn_ratio"] = t["torch"] / t["nn"]
    return res


def peak_memory(name: str, framework: str) -> float:
    """Peak RSS growth (MB) over 3 training steps, measured in a fresh child process."""
    out = subprocess.run([sys.executable, __file__, "--_memory-child", name, framework],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _memory_child(name: str, framework: str) -> None:
    spec = MODELS[name]
    weights = init_weights(spec)
    rng = np.random.default_rng(2)
    n = spec["batch"]
    x = rng.random((n, *spec["input"]), dtype=np.float32)
    y = (rng.random(n) > 0.5).astype(np.float32)
    if framework == "torch":
        import torch
        r = TorchRunner(spec, weights)
        x, y = r.to_input(x), torch.from_numpy(y)
    else:
        r = SmearnetModel(spec, weights)
    before = _proc_status_kb("VmRSS")
    for _ in range(3):
        r.train_step(x, y)
    print((_proc_status_kb("VmHWM") - before) / 1024)


def _proc_status_kb(field: str) -> int:
    """A field of /proc/self/status in kB. (ru_maxrss would do, but Linux carries it across
    exec from the parent, which is this large benchmark process.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


# -- per-op profile ---------------------------------------------------------------------------
class _TimedOps:
    """Stand-in for ``smearnet.autodiff`` that times each op's forward and wraps its VJP."""

    def __init__(self, table: dict[str, list[float]], by_shape: bool = False) -> None:
        self.table = table
        self.by_shape = by_shape

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(ad, name)
        table = self.table

        def timed(*args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            out = fn(*args, **kw)
            op = f"{out.op} {'x'.join(map(str, out.shape))}" if self.by_shape else out.op
            table[f"{op} fwd"].append(time.perf_counter() - t0)
            if out._vjp is not None:
                vjp = out._vjp

                def timed_vjp(g: np.ndarray) -> Any:
                    t1 = time.perf_counter()
                    r = vjp(g)
                    table[f"{op} bwd"].append(time.perf_counter() - t1)
                    return r

                out._vjp = timed_vjp
            return out

        return timed


def profile(name: str, steps: int, by_shape: bool = False) -> None:
    spec = MODELS[name]
    sm = SmearnetModel(spec, init_weights(spec))
    rng = np.random.default_rng(2)
    x = rng.random((spec["batch"], *spec["input"]), dtype=np.float32)
    y = (rng.random(spec["batch"]) > 0.5).astype(np.float32)
    for _ in range(2):
        sm.train_step(x, y)
    table: dict[str, list[float]] = defaultdict(list)
    sm.ops = _TimedOps(table, by_shape)
    total = 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        for q in sm.params:
            q.grad = None
        loss = sm.loss(sm.forward(x, training=True), y)
        loss.backward()
        t1 = time.perf_counter()
        sm.adam()
        table["adam update"].append(time.perf_counter() - t1)
        total += time.perf_counter() - t0
    per_step = {k: sum(v) / steps for k, v in table.items()}
    accounted = sum(per_step.values())
    per_step["(graph bookkeeping, other)"] = total / steps - accounted
    print(f"\nper-op profile, {name}, batch {spec['batch']}: {total / steps * 1e3:.1f} ms/step")
    for k, v in sorted(per_step.items(), key=lambda kv: -kv[1]):
        print(f"  {k:44s} {v * 1e3:8.2f} ms  {100 * v / (total / steps):5.1f}%")


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=[*MODELS, "all"], default="all")
    ap.add_argument("--rounds", type=int, default=8, help="timed steps per framework (median kept)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="threads for torch and for NumPy's OpenBLAS (default: all cores)")
    ap.add_argument("--no-convs", action="store_true", help="skip the conv2d-alone timings")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    ap.add_argument("--profile", action="store_true", help="print smearnet's per-op time and exit")
    ap.add_argument("--nn", action="store_true",
                    help="also time the model built with smearnet.Sequential (fit on one batch)")
    ap.add_argument("--by-shape", action="store_true", help="profile: one line per op and output shape")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "engine.json")
    ap.add_argument("--_memory-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    from smearnet.autodiff import blas
    if blas._set is not None:  # NumPy's bundled OpenBLAS gets the same number of threads
        blas._set(args.threads)
    if args._memory_child:
        _memory_child(*args._memory_child)
        return
    names = list(MODELS) if args.model == "all" else [args.model]
    if args.profile:
        for name in names:
            profile(name, args.rounds, args.by_shape)
        return

    env = dict(python=platform.python_version(), numpy=np.__version__, torch=torch.__version__,
               threads=args.threads, torch_threads=torch.get_num_threads(), cpus=os.cpu_count(),
               OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE"),
               OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS"),
               load_average_before=os.getloadavg())
    gemm = matmul_gflops(args.threads)
    print(f"float32 GEMM 2048^3: numpy {gemm['numpy']:.1f} GFLOP/s, torch {gemm['torch']:.1f} GFLOP/s "
          f"({args.threads} threads)")
    results: dict[str, Any] = dict(env=env, gemm_gflop_s=gemm, models=[], convs={})
    peak = max(gemm.values())
    for name in names:
        if not args.no_convs:
            rows = bench_convs(MODELS[name], args.warmup, args.rounds)
            results["convs"][name] = rows
            print(f"\nconv2d forward+backward, {name}:")
            print(f"  {'layer':44s} {'smearnet ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
            for r in rows:
                print(f"  {r['layer']:44s} {r['smearnet_ms']:12.1f} {r['torch_ms']:10.1f} {r['ratio']:7.2f}")
        res = bench_model(name, args.warmup, args.rounds, args.nn)
        if not args.no_memory:
            for fw in ("smearnet", "torch"):
                res[f"train_{fw}_peak_mb"] = peak_memory(name, fw)
        results["models"].append(res)
        print(f"\n{name} (batch {res['batch']}, input {tuple(res['input'])}), "
              f"outputs agree to {res['max_abs_output_diff']:.1e}:")
        print(f"  {'':10s} {'smearnet img/s':>15s} {'torch img/s':>12s} {'ratio':>7s} "
              f"{'smearnet GFLOP/s (of peak)':>28s} {'torch GFLOP/s':>14s}")
        for what in ("train", "infer"):
            s, t = res[f"{what}_smearnet_img_s"], res[f"{what}_torch_img_s"]
            gs, gt = res[f"{what}_smearnet_gflop_s"], res[f"{what}_torch_gflop_s"]
            print(f"  {what:10s} {s:15.1f} {t:12.1f} {res[f'{what}_ratio']:7.2f} "
                  f"{gs:16.1f} ({100 * gs / peak:4.0f}%) {gt:14.1f}")
            if f"{what}_nn_img_s" in res:
                print(f"  {what + ' (nn)':10s} {res[f'{what}_nn_img_s']:15.1f} {t:12.1f} "
                      f"{res[f'{what}_nn_ratio']:7.2f}   via smearnet.Sequential")
        if not args.no_memory:
            print("  peak memory growth of a training step: "
                  f"smearnet {res['train_smearnet_peak_mb']:.0f} MB, "
                  f"torch {res['train_torch_peak_mb']:.0f} MB")
    results["env"]["load_average_after"] = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before {env['load_average_before']}, "
          f"after {results['env']['load_average_after']} on {os.cpu_count()} CPUs: other processes "
          "competing for the cores slow both frameworks and make the ratios noisy")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
