"""Presets: a model architecture plus everything about how to train it, under one name.

- ``assignment``: the seed notebook's part 3 exactly (133 px, its layers, Adam, MSE,
  accuracy at 0.5 on the linear output, 10 epochs, 5,000 images split 4,000 / 1,000 at random).
- ``cellnet`` (the default): a small batch-normalized CNN for real use, trained on a
  slide-grouped split with augmentation, AdamW and a one-cycle schedule over 18 epochs, and a
  decision threshold chosen on the validation slides.
- ``tiny``: a seconds-long smoke test (tests and quick checks), not for real use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

DEFAULT_PRESET = "cellnet"


@dataclass(frozen=True)
class Preset:
    """How to build and train one model.

    Attributes:
        name, description: shown in ``smearnet train --help`` and the report.
        image_size: square input side in pixels.
        architecture: a key of :data:`ARCHITECTURES` (function of image size -> layer list).
        width: channel multiplier handed to the architecture (1.0 = as described).
        output: "logit" (sigmoid gives the probability) or "linear" (the assignment's MSE
            regression output, clipped to [0, 1]).
        loss: loss name for ``compile``.
        optimizer: optimizer name; learning_rate, weight_decay its settings.
        schedule: None, "onecycle" or "cosine" (per optimizer step).
        epochs, batch_size: as in ``fit``.
        split: "random" (``n_train``/``n_val``/``n_test`` images) or "patient"
            (``fractions`` of the slides).
        limit: use at most this many images (stratified), None = all.
        augment: keyword arguments of ``smearnet.data.Augment`` or None.
        early_stopping: patience in epochs on the validation loss (None = off).
        threshold: "fixed" (0.5) or "validation" (chosen on the validation part).
        label_smoothing: for the BCE loss.
        dropout: rate of the architecture's dropout layer(s).
        bn_momentum: batch-norm running-statistics momentum (Keras convention). Keras' 0.99
            needs a few hundred steps before the statistics used at inference settle, which
            makes the validation figures of early epochs (and short runs) meaningless; 0.9 is
            PyTorch's default and settles within ~30 steps.
        double_convs: how many of the architecture's last conv blocks have a second conv
            (conv -> BN -> ReLU twice before the pool); 0 = one conv per block.
        tta: test-time augmentation of the saved model (None, "flips", "dihedral"): the raw
            outputs of the flipped/turned views are averaged wherever the model is used
            (threshold choice, test figures, predict, evaluate). Costs 4x / 8x inference.
    """

    name: str
    description: str
    image_size: int
    architecture: str
    output: str
    loss: str
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    split: str
    width: float = 1.0
    weight_decay: float = 0.0
    schedule: str | None = None
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    limit: int | None = None
    augment: dict[str, Any] | None = None
    early_stopping: int | None = None
    threshold: str = "fixed"
    label_smoothing: float = 0.0
    dropout: float = 0.0
    bn_momentum: float = 0.9
    double_convs: int = 0
    tta: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, **kw: Any) -> "Preset":
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in kw.items() if v is not None})

    def describe(self) -> str:
        """The description, followed by the settings this copy changes from the named preset
        (``"...; this run: epochs 2, limit 500"``), so a report never states settings the run
        did not use."""
        base = PRESETS.get(self.name)
        if base is None:
            return self.description
        mine, theirs = self.to_json(), base.to_json()
        changed = [f"{k.replace('_', ' ')} {mine[k]}" for k in mine
                   if k != "description" and mine[k] != theirs[k]]
        return self.description + ("; this run: " + ", ".join(changed) if changed else "")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["fractions"] = list(self.fractions)
        return d


# -- architectures -----------------------------------------------------------------------------
def assignment_layers(image_size: int, width: float = 1.0, dropout: float = 0.1) -> list[Any]:
    """The seed notebook's model (part 3 b), verbatim."""
    from smearnet import layers as L

    def w(n: int) -> int:
        return max(1, round(n * width))

    out: list[Any] = [L.InputLayer(input_shape=(image_size, image_size, 3))]
    for _ in range(2):
        out += [L.Conv2D(w(128), (3, 3), strides=(2, 2), activation="relu"),
                L.MaxPool2D((2, 2), strides=2)]
    out += [L.Conv2D(w(64), (3, 3), strides=(2, 2), activation="relu"), L.Flatten()]
    for _ in range(5):
        out += [L.Dense(w(256), activation="relu"), L.Dropout(dropout)]
    out += [L.Dense(w(64), activation="relu"), L.Dense(1)]
    return out


def cellnet_layers(image_size: int, width: float = 1.0, dropout: float = 0.2,
                   filters: tuple[int, ...] = (16, 32, 64, 128), bn_momentum: float = 0.99,
                   double_convs: int = 0) -> list[Any]:
    """Conv blocks (3x3 conv 'same', no bias -> BatchNorm -> ReLU -> 2x2 max-pool), global
    average pooling, dropout, one logit. Works for any image size >= 2 ** len(filters).

    ``double_convs``: the last that many blocks run conv -> BN -> ReLU twice before the pool
    (depth where the feature maps are small, so it costs little time).
    ``bn_momentum``: Keras' 0.99 needs a few hundred steps before the running statistics
    (used at inference) settle; short runs want less."""
    from smearnet import layers as L

    if not 0 <= double_convs <= len(filters):
        raise ValueError(f"double_convs must be between 0 and {len(filters)}, got {double_convs}")
    out: list[Any] = [L.InputLayer(input_shape=(image_size, image_size, 3))]
    for i, f in enumerate(filters):
        convs = 2 if i >= len(filters) - double_convs else 1
        for _ in range(convs):
            out += [L.Conv2D(max(1, round(f * width)), (3, 3), padding="same", use_bias=False),
                    L.BatchNormalization(momentum=bn_momentum), L.ReLU()]
        out.append(L.MaxPool2D((2, 2)))
    out += [L.GlobalAveragePooling2D()]
    if dropout:
        out.append(L.Dropout(dropout))
    out.append(L.Dense(1))
    return out


def tiny_layers(image_size: int, width: float = 1.0, dropout: float = 0.0,
                bn_momentum: float = 0.8, double_convs: int = 0) -> list[Any]:
    """Three small conv blocks; for tests and smoke runs."""
    return cellnet_layers(image_size, width, dropout, filters=(8, 16, 32), bn_momentum=bn_momentum,
                          double_convs=double_convs)


ARCHITECTURES: dict[str, Callable[..., list[Any]]] = {
    "assignment": assignment_layers,
    "cellnet": cellnet_layers,
    "tiny": tiny_layers,
}

# -- the presets -------------------------------------------------------------------------------
PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset(
        name="assignment",
        description="the seed assignment's part 3: 133 px, 3 strided convs + 6 dense layers, "
                    "Adam, MSE, 10 epochs, 4,000/1,000 random split of 5,000 images",
        image_size=133, architecture="assignment", output="linear", loss="mse",
        optimizer="adam", learning_rate=1e-3, epochs=10, batch_size=32,
        split="random", n_train=4000, n_val=0, n_test=1000, limit=5000,
        threshold="fixed", dropout=0.1, bn_momentum=0.0),
    Preset(
        name="cellnet",
        description="small batch-normalized CNN (4 blocks, 16-32-64-128 filters, two convs in the "
                    "last two, global average pooling), 64 px, slide-grouped split, flips/rot90/"
                    "stain jitter, AdamW + one-cycle over 18 epochs, threshold chosen on the "
                    "validation slides",
        image_size=64, architecture="cellnet", output="logit", loss="bce_logits",
        optimizer="adamw", learning_rate=3e-3, weight_decay=1e-4, schedule="onecycle",
        epochs=18, batch_size=64, split="patient", fractions=(0.7, 0.15, 0.15),
        augment={"flips": True, "rot90": True, "brightness": 0.1, "contrast": 0.1, "hue": 0.02},
        # no early stopping: the one-cycle schedule's last, low-learning-rate epochs are where the
        # validation loss falls most (validation slides: 0.122 at epoch 8, 0.107 at 15-17), and a
        # patience of 4 stopped the run at epoch 12 on a plateau of the high-rate phase
        early_stopping=None, threshold="validation", dropout=0.2, bn_momentum=0.9, double_convs=2),
    Preset(
        name="tiny",
        description="three small conv blocks at 32 px, 2 epochs: a smoke test, not a model",
        image_size=32, architecture="tiny", output="logit", loss="bce_logits",
        optimizer="adam", learning_rate=1e-2, epochs=2, batch_size=16, split="patient",
        fractions=(0.6, 0.2, 0.2), early_stopping=None, threshold="validation", bn_momentum=0.8),
]}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ValueError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None


def build_layers(preset: Preset, image_size: int | None = None) -> list[Any]:
    """Fresh layers for ``preset`` at ``image_size`` (default: the preset's)."""
    size = image_size or preset.image_size
    if preset.architecture == "assignment":  # no batch norm in the notebook's model
        return assignment_layers(size, preset.width, preset.dropout)
    return ARCHITECTURES[preset.architecture](size, preset.width, preset.dropout,
                                              bn_momentum=preset.bn_momentum,
                                              double_convs=preset.double_convs)


def make_loss(preset: Preset) -> Any:
    """The training loss object for ``compile``."""
    from smearnet.nn import losses

    if preset.loss == "mse":
        return losses.MeanSquaredError()
    if preset.loss == "bce_logits":
        return losses.BinaryCrossentropy(from_logits=True, label_smoothing=preset.label_smoothing)
    raise ValueError(f"unknown loss {preset.loss!r} in preset {preset.name!r}")


def make_optimizer(preset: Preset, steps_per_epoch: int) -> Any:
    """The optimizer, with the preset's learning-rate schedule over ``epochs * steps_per_epoch``."""
    from smearnet.nn import optimizers, schedules

    total = max(1, preset.epochs * steps_per_epoch)
    lr: Any = preset.learning_rate
    if preset.schedule == "onecycle":
        lr = schedules.OneCycle(preset.learning_rate, total_steps=total, pct_start=0.25)
    elif preset.schedule == "cosine":
        lr = schedules.CosineDecay(preset.learning_rate, decay_steps=total, alpha=0.01)
    elif preset.schedule is not None:
        raise ValueError(f"unknown schedule {preset.schedule!r} in preset {preset.name!r}")
    if preset.optimizer == "adam":
        return optimizers.Adam(learning_rate=lr)
    if preset.optimizer == "adamw":
        return optimizers.AdamW(learning_rate=lr, weight_decay=preset.weight_decay)
    if preset.optimizer == "sgd":
        return optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {preset.optimizer!r} in preset {preset.name!r}")


def build_model(preset: Preset, seed: int, steps_per_epoch: int) -> Any:
    """A compiled ``smearnet.Sequential`` for ``preset`` (weights drawn from ``seed``)."""
    import smearnet

    model = smearnet.Sequential(build_layers(preset), seed=seed)
    model.compile(optimizer=make_optimizer(preset, steps_per_epoch), loss=make_loss(preset),
                  metrics=["accuracy"])
    return model


def heldout_loss(preset: Preset, raw: Any, labels: Any) -> float:
    """The preset's loss (without label smoothing) from raw outputs (N,), in float64 NumPy."""
    import numpy as np

    z = np.asarray(raw, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if preset.loss == "mse":
        return float(np.mean((z - y) ** 2))
    # BCE from logits: softplus(z) - y z, written without overflow
    return float(np.mean(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))))
