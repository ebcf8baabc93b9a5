"""The assignment notebook's cells 3 b-e, verbatim except for the import lines, on tiny
synthetic data standing in for cell a's malaria images (cv2-resized floats in 0..255)."""

from __future__ import annotations

import numpy as np

IMPORTS = """
import numpy as np
import smearnet.nn.compat as tf           # was: import tensorflow as tf
from smearnet.nn.compat import keras      # was: from tensorflow import keras
"""

CELL_B = """
model = tf.keras.Sequential()
# TODO:
model.add(tf.keras.layers.InputLayer(input_shape=(133,133,3)))

for i in range(2):
    model.add(tf.keras.layers.Conv2D(128, (3,3), strides=(2,2), activation="relu"))
    model.add(tf.keras.layers.MaxPool2D((2,2), strides=2))

model.add(tf.keras.layers.Conv2D(64, (3,3), strides=(2,2), activation="relu"))
model.add(tf.keras.layers.Flatten())

for i in range(5):
    model.add(tf.keras.layers.Dense(256, activation='relu'))
    model.add(tf.keras.layers.Dropout(0.1))

model.add(tf.keras.layers.Dense(64, activation='relu'))
model.add(tf.keras.layers.Dense(1))
"""

CELL_C = """
# TODO:
opt = tf.keras.optimizers.Adam()
loss_func = tf.keras.losses.MeanSquaredError()
metric = ["accuracy"] # Just a string of the chosen metric

model.compile(optimizer=opt,
              loss=loss_func,
              metrics=metric)
"""

CELL_D = """
# TODO:
num_epochs = 10

model.fit(train_images, train_labels, epochs=num_epochs)
"""

CELL_E = """
test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)

print('\\nTest accuracy:', test_acc)
"""


def test_assignment_cells_b_to_e_run_unchanged(capsys) -> None:
    rng = np.random.default_rng(0)
    ns: dict = {
        "train_images": rng.uniform(0, 255, (4, 133, 133, 3)).round(),  # float64, like cell a
        "train_labels": np.array([0.0, 1.0, 1.0, 0.0]),
        "test_images": rng.uniform(0, 255, (2, 133, 133, 3)).round(),
        "test_labels": np.array([1.0, 0.0]),
    }
    for cell in (IMPORTS, CELL_B, CELL_C, CELL_D, CELL_E):
        exec(compile(cell, "<notebook>", "exec"), ns)
    out = capsys.readouterr().out
    assert "Epoch 10/10" in out and "1/1 - " in out and "Test accuracy:" in out
    assert ns["model"].count_params() == 652_353
    assert np.isfinite(ns["test_loss"]) and 0.0 <= ns["test_acc"] <= 1.0
    assert len(ns["model"].history.history["loss"]) == 10
