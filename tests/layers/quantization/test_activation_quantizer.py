"""Tests of `ActivationQuantizer`: EMA range updates against a NumPy
recursion (Distiller's debiased `update_ema`), updates only in training or
calibration, the uncalibrated pass-through, serialization."""

import os

import keras
import numpy as np

from deltasparse.layers.quantization import ActivationQuantizer
from deltasparse.testing import TestCase
from tests.ops.test_fake_quantization import np_fake_quantize


def range_of(layer):
    return [float(keras.ops.convert_to_numpy(v.value))
            for v in (layer.minimum, layer.maximum, layer.steps)]


class ActivationQuantizerTest(TestCase):
    def test_layer_basics(self):
        self.run_layer_test(
            ActivationQuantizer, init_kwargs={"num_bits": 4, "decay": 0.9},
            input_shape=(2, 3, 4, 4, 2), expected_output_shape=(2, 3, 4, 4, 2),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=3, expected_num_losses=0,
            expected_num_seed_generators=0, supports_masking=True)

    def test_ema_updates_match_numpy(self):
        decay = 0.9
        layer = ActivationQuantizer(num_bits=4, decay=decay)
        rng = np.random.default_rng(0)
        biased_low = biased_high = 0.0
        for step in range(1, 5):
            x = (rng.normal(size=(2, 6)) * step).astype("float32")
            biased_low = decay * biased_low + (1 - decay) * x.min()
            biased_high = decay * biased_high + (1 - decay) * x.max()
            low = biased_low / (1 - decay ** step)
            high = biased_high / (1 - decay ** step)
            y = layer(x, training=True)
            self.assertAllClose(range_of(layer), [low, high, step], atol=1e-5)
            # The updated range quantizes this same batch.
            self.assertAllClose(y, np_fake_quantize(x, low, high, 4),
                                atol=1e-5)
        # First update = the first batch's range exactly (bias correction).
        first = ActivationQuantizer()
        first(np.array([[-0.5, 2.0]], "float32"), training=True)
        self.assertEqual(range_of(first), [-0.5, 2.0, 1.0])

    def test_inference_does_not_update(self):
        layer = ActivationQuantizer(num_bits=8)
        x = np.linspace(-1.0, 1.5, 12, dtype="float32").reshape(3, 4)
        # Uncalibrated: the input passes through unchanged.
        self.assertAllEqual(layer(x), x)
        self.assertEqual(range_of(layer), [0.0, 0.0, 0.0])
        layer(x, training=True)
        before = range_of(layer)
        y = layer(x * 5.0, training=False)
        self.assertEqual(range_of(layer), before)
        self.assertAllClose(y, np_fake_quantize(x * 5.0, -1.0, 1.5, 8),
                            atol=1e-6)

    def test_minmax_calibration(self):
        layer = ActivationQuantizer(num_bits=8)
        layer.calibration = "minmax"
        for low, high in ((-1.0, 2.0), (-3.0, 0.5), (0.0, 1.0)):
            layer(np.array([[low, high]], "float32"))
        self.assertEqual(range_of(layer), [-3.0, 2.0, 3.0])
        layer.reset_range()
        layer.calibration = "average"
        for low, high in ((-1.0, 2.0), (-3.0, 0.5), (0.5, 1.0)):
            layer(np.array([[low, high]], "float32"))
        self.assertAllClose(range_of(layer), [-3.5 / 3, 3.5 / 3, 3.0])
        layer.calibration = None
        layer.reset_range()
        self.assertEqual(range_of(layer), [0.0, 0.0, 0.0])

    def test_straight_through_gradient_in_fit(self):
        inputs = keras.Input((4,))
        dense = keras.layers.Dense(4)
        outputs = ActivationQuantizer(num_bits=4)(dense(inputs))
        model = keras.Model(inputs, outputs)
        model.compile("sgd", "mse")
        x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
        before = keras.ops.convert_to_numpy(dense.kernel)
        model.fit(x, x, epochs=1, batch_size=4, verbose=0)
        self.assertGreater(np.abs(keras.ops.convert_to_numpy(dense.kernel)
                                  - before).max(), 0.0)
        self.assertEqual(range_of(model.layers[-1])[2], 2.0)

    def test_keras_round_trip_keeps_the_range(self):
        inputs = keras.Input((3,))
        model = keras.Model(inputs, ActivationQuantizer(num_bits=4,
                                                        symmetric=True)(inputs))
        x = np.array([[-1.0, 0.2, 1.5]], "float32")
        model(x, training=True)
        path = os.path.join(self.get_temp_dir(), "activation.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertEqual(range_of(loaded.layers[-1]), [-1.0, 1.5, 1.0])
        self.assertTrue(loaded.layers[-1].symmetric)
        self.assertAllClose(loaded(x), model(x))

    def test_invalid_arguments(self):
        with self.assertRaisesRegex(ValueError, "`decay` must be"):
            ActivationQuantizer(decay=1.0)
        with self.assertRaisesRegex(ValueError, "`num_bits` must be"):
            ActivationQuantizer(num_bits=32)
        with self.assertRaisesRegex(ValueError, "`calibration` must be"):
            ActivationQuantizer().calibration = "mean"
