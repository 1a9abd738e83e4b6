"""The tutorial code's hand-written Dense layer (``build`` makes the kernel and bias, ``call`` computes
``activation(x @ kernel + bias)``), usable as the wide&deep tower's layer (``--dense custom``).

It does what ``keras.layers.Dense`` does, written out: given the same weights both give the same outputs
(tests/test_train.py checks it). The tutorial initialised the kernel with ``"uniform"`` (U(-0.05, 0.05));
this one takes Keras Dense's default (Glorot uniform) so that choosing it does not change how a fit starts.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="dataprep")
class TutorialDense(keras.layers.Layer):
    """``activation(inputs @ kernel + bias)`` with the weights created in :meth:`build`; saved with the model
    (its settings are its config)."""

    def __init__(self, units: int, activation: str | None = None, kernel_initializer: str = "glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation_name, self.kernel_initializer = int(units), activation, kernel_initializer
        self.activation = keras.activations.get(activation)

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), self.units),
                                      initializer=self.kernel_initializer, trainable=True)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros", trainable=True)
        super().build(input_shape)

    def call(self, inputs):
        return self.activation(keras.ops.matmul(inputs, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": self.activation_name,
                "kernel_initializer": self.kernel_initializer}


DENSE_LAYERS = {"keras": keras.layers.Dense, "custom": TutorialDense}  # the choices of WideDeepOptions.dense
