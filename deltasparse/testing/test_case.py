"""The one place that touches Keras' private testing module.

`keras.src.testing.TestCase` brings `run_layer_test` (serialization, symbolic
and eager calls, one training step, mixed precision). If a future Keras moves
it, only this file changes.
"""

import keras
from keras.src import testing as _keras_testing


class TestCase(_keras_testing.TestCase):
    """`keras.src.testing.TestCase` plus a few deltasparse helpers."""

    @staticmethod
    def backend():
        return keras.backend.backend()

    def skip_unless_backend(self, *names, reason=""):
        if keras.backend.backend() not in names:
            self.skipTest(
                f"needs backend {names}, running {keras.backend.backend()}: "
                f"{reason}"
            )
