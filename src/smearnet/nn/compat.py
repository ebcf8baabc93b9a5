"""Stand-ins for ``tensorflow`` and ``keras`` so Keras notebook code runs unchanged.

Only the import lines change::

    import smearnet.nn.compat as tf            # was: import tensorflow as tf
    from smearnet.nn.compat import keras       # was: from tensorflow import keras

after which ``tf.keras.Sequential()``, ``tf.keras.layers.Conv2D(...)``,
``tf.keras.optimizers.Adam()``, ``tf.keras.losses.MeanSquaredError()`` and
``keras.callbacks.EarlyStopping(...)`` are smearnet's. Nothing else of TensorFlow exists here.
"""

from .. import nn as keras

__all__ = ["keras"]
