"""Tests for `deltasparse.ops.fake_quantization` against an independent
NumPy reference of the linear quantizer (Distiller / TensorFlow grid),
values and straight-through gradients, on the TensorFlow and JAX backends."""

import keras
import numpy as np
from absl.testing import parameterized
from keras import ops

from deltasparse.ops.fake_quantization import ema_update
from deltasparse.ops.fake_quantization import fake_quantize
from deltasparse.ops.fake_quantization import integer_range
from deltasparse.ops.fake_quantization import quantization_range
from deltasparse.ops.fake_quantization import tensor_range
from deltasparse.testing import TestCase
from tests.ops.test_quantize import value_and_grads


def np_fake_quantize(x, low, high, bits, symmetric=False, narrow=False):
    """Reference written from the formulas: float64, explicit loops of
    nothing but NumPy, per-channel through broadcasting."""
    x = np.asarray(x, "float64")
    low, high = np.asarray(low, "float64"), np.asarray(high, "float64")
    if symmetric:
        q_min, q_max = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        q_min += int(narrow)
        scale = np.maximum(np.abs(low), np.abs(high)) / (2 ** (bits - 1) - 1)
        zero = np.zeros_like(scale)
    else:
        q_min, q_max = int(narrow), 2 ** bits - 1
        low, high = np.minimum(low, 0), np.maximum(high, 0)
        scale = (high - low) / (q_max - q_min)
        zero = np.clip(np.round(q_min - low / scale), q_min, q_max)
    levels = np.clip(np.round(x / scale) + zero, q_min, q_max)
    return (levels - zero) * scale


def to_numpy(value):
    return ops.convert_to_numpy(value)


class QuantizationRangeTest(TestCase):
    def test_integer_range(self):
        self.assertEqual(integer_range(8), (0, 255))
        self.assertEqual(integer_range(8, narrow_range=True), (1, 255))
        self.assertEqual(integer_range(4, symmetric=True), (-8, 7))
        self.assertEqual(integer_range(4, True, True), (-7, 7))

    def test_hand_computed_asymmetric_range(self):
        # [-0.3, 1.2] at 2 bits: scale 0.5, zero point round(0.6) = 1, so
        # the grid is {-0.5, 0, 0.5, 1.0} (nudged to contain 0 exactly).
        scale, zero, low, high = map(to_numpy, quantization_range(
            -0.3, 1.2, num_bits=2))
        self.assertAllClose([scale, zero, low, high], [0.5, 1.0, -0.5, 1.0])

    def test_range_is_widened_to_contain_zero(self):
        scale, zero, low, high = map(to_numpy, quantization_range(
            2.0, 5.0, num_bits=8))
        self.assertAllClose([scale, zero, low], [5.0 / 255, 0.0, 0.0])
        self.assertAllClose(high, 5.0)

    def test_symmetric_range(self):
        scale, zero, low, high = map(to_numpy, quantization_range(
            -0.5, 1.4, num_bits=4, symmetric=True))
        self.assertAllClose([scale, zero], [0.2, 0.0])
        self.assertAllClose([low, high], [-1.6, 1.4])

    def test_tensor_range_per_channel(self):
        x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
        low, high = tensor_range(x, axis=-1)
        self.assertAllClose(low, x.min(axis=(0, 1)))
        self.assertAllClose(high, x.max(axis=(0, 1)))
        low, high = tensor_range(x, axis=(1, 2))
        self.assertAllClose(low, x.min(axis=0))
        low, high = tensor_range(x)
        self.assertAllClose([low, high], [x.min(), x.max()])


class FakeQuantizeTest(TestCase):
    @parameterized.named_parameters(
        ("asymmetric_8", 8, False, False), ("asymmetric_4", 4, False, False),
        ("symmetric_8", 8, True, False), ("symmetric_4", 4, True, False),
        ("narrow_4", 4, False, True), ("symmetric_narrow_4", 4, True, True))
    def test_per_tensor_matches_numpy(self, bits, symmetric, narrow):
        x = np.random.default_rng(bits).normal(size=(64,)).astype("float32")
        got = fake_quantize(x, -1.3, 0.9, bits, symmetric, narrow)
        want = np_fake_quantize(x, -1.3, 0.9, bits, symmetric, narrow)
        self.assertAllClose(got, want, atol=1e-6)
        self.assertEqual(got.dtype, x.dtype)

    @parameterized.named_parameters(("bits_4", 4), ("bits_8", 8))
    def test_per_channel_matches_numpy(self, bits):
        x = np.random.default_rng(1).normal(size=(3, 3, 2, 5)) * np.arange(
            1, 6)
        x = x.astype("float32")
        low, high = x.min(axis=(0, 1, 2)), x.max(axis=(0, 1, 2))
        got = fake_quantize(x, low, high, bits, axis=-1)
        self.assertAllClose(got, np_fake_quantize(x, low, high, bits),
                            atol=1e-5)
        # Every channel on its own grid: at most 2^bits distinct values.
        for channel in range(5):
            self.assertLessEqual(
                len(np.unique(to_numpy(got)[..., channel])), 2 ** bits)

    def test_two_kept_axes(self):
        x = np.random.default_rng(2).normal(size=(3, 3, 4, 2)).astype("f4")
        low, high = x.min(axis=(0, 1)), x.max(axis=(0, 1))
        got = fake_quantize(x, low, high, 4, axis=(2, 3))
        self.assertAllClose(got, np_fake_quantize(x, low, high, 4), atol=1e-6)

    def test_hand_computed_values(self):
        # Grid {-0.5, 0, 0.5, 1.0}; -0.75 and 1.7 are clipped.
        x = np.array([-0.75, -0.3, 0.2, 0.26, 0.8, 1.7], "float32")
        got = to_numpy(fake_quantize(x, -0.3, 1.2, num_bits=2))
        self.assertAllEqual(got, [-0.5, -0.5, 0.0, 0.5, 1.0, 1.0])

    def test_zero_is_exact_and_zero_width_range(self):
        x = np.array([0.0, 0.3], "float32")
        self.assertEqual(float(to_numpy(fake_quantize(x, -0.7, 1.1, 4))[0]),
                         0.0)
        zeros = np.zeros((4, 3), "float32")
        got = fake_quantize(zeros, zeros.min(0), zeros.max(0), 4, axis=-1)
        self.assertAllEqual(got, zeros)

    def test_straight_through_gradient(self):
        x = np.array([-2.0, -1.0, -0.2, 0.0, 0.37, 0.9, 1.5], "float32")
        upstream = np.arange(1, 8).astype("float32")

        def loss(values, low, high):
            return ops.sum(fake_quantize(values, low, high, 4) * upstream)

        _, (dx, dlow, dhigh) = value_and_grads(
            loss, x, np.float32(-1.0), np.float32(0.9))
        inside = (x >= -1.0) & (x <= 0.9)
        self.assertAllClose(dx, np.where(inside, upstream, 0.0))
        for grad in (dlow, dhigh):  # no gradient to the range
            self.assertTrue(grad is None or float(to_numpy(grad)) == 0.0)

    def test_symmetric_gradient_uses_the_bound(self):
        x = np.array([-1.5, -1.2, 0.5, 1.3], "float32")
        _, (dx,) = value_and_grads(
            lambda v: ops.sum(fake_quantize(v, -0.4, 1.2, 8, symmetric=True)),
            x)
        self.assertAllClose(dx, [0.0, 1.0, 1.0, 0.0])

    def test_compiled(self):
        x = np.random.default_rng(3).normal(size=(16, 4)).astype("float32")
        low, high = x.min(0), x.max(0)
        if keras.backend.backend() == "jax":
            import jax

            function = jax.jit(lambda v: fake_quantize(v, low, high, 4,
                                                       axis=-1))
        else:
            import tensorflow as tf

            function = tf.function(lambda v: fake_quantize(v, low, high, 4,
                                                           axis=-1),
                                   jit_compile=True)
        self.assertAllClose(function(x), np_fake_quantize(x, low, high, 4),
                            atol=1e-5)

    def test_invalid_arguments(self):
        for bits in (1, 17, True, 4.0):
            with self.assertRaisesRegex(ValueError, "`num_bits` must be"):
                fake_quantize(np.ones(3, "float32"), 0.0, 1.0, bits)
        with self.assertRaisesRegex(ValueError, "`axis` must be"):
            fake_quantize(np.ones((2, 3), "float32"), 0.0, 1.0, 8, axis=2)


class EmaUpdateTest(TestCase):
    def test_plain_average(self):
        self.assertAllClose(ema_update(np.float32(2.0), np.float32(4.0), 0.75),
                            2.5)

    def test_bias_corrected_matches_distiller_recursion(self):
        decay = 0.9
        values = np.array([3.0, -1.0, 2.5, 0.5, 4.0], "float32")
        biased, average = 0.0, np.float32(0.0)
        for step, value in enumerate(values, start=1):
            biased = decay * biased + (1 - decay) * float(value)
            average = ema_update(average, value, decay, step=step)
            self.assertAllClose(average, biased / (1 - decay ** step),
                                atol=1e-5)
        self.assertEqual(float(to_numpy(ema_update(
            np.float32(7.0), np.float32(3.0), 0.999, step=1))), 3.0)

    def test_invalid_decay(self):
        with self.assertRaisesRegex(ValueError, "`decay` must be a float in"):
            ema_update(0.0, 1.0, 1.0)
