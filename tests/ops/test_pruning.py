"""Tests for `deltasparse.ops.pruning` against a NumPy reference (a stable
sort by magnitude, then flat index), on the TensorFlow and JAX backends."""

import math

import keras
import numpy as np
from absl.testing import parameterized

from deltasparse.ops.pruning import filter_mask
from deltasparse.ops.pruning import magnitude_mask
from deltasparse.ops.pruning import num_pruned
from deltasparse.testing import TestCase


def reference_mask(weights, sparsity):
    """The spec in NumPy: remove the `floor(s * n + 0.5)` smallest |w|,
    ties to the lower flat index (lexicographic sort on (|w|, index))."""
    flat = np.abs(np.asarray(weights, "float64")).ravel()
    count = int(math.floor(sparsity * flat.size + 0.5))
    order = np.lexsort((np.arange(flat.size), flat))
    keep = np.ones(flat.size, np.asarray(weights).dtype)
    keep[order[:count]] = 0
    return keep.reshape(np.shape(weights))


def reference_filter_mask(weights, sparsity):
    weights = np.asarray(weights)
    norms = np.abs(weights).reshape(-1, weights.shape[-1]).sum(axis=0)
    return np.broadcast_to(reference_mask(norms, sparsity), weights.shape)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


class NumPrunedTest(TestCase):
    def test_rounds_halves_up(self):
        self.assertEqual(num_pruned(0.5, 5), 3)   # 2.5 -> 3 (round() gives 2)
        self.assertEqual(num_pruned(0.25, 10), 3)  # 2.5 -> 3
        self.assertEqual(num_pruned(0.2, 7), 1)   # 1.4 -> 1
        self.assertEqual(num_pruned(0.0, 7), 0)
        self.assertEqual(num_pruned(1.0, 7), 7)

    def test_tensor_sparsity(self):
        self.assertEqual(int(numpy(num_pruned(
            keras.ops.convert_to_tensor(0.3), 20))), 6)


class MagnitudeMaskTest(TestCase):
    @parameterized.named_parameters(
        ("kernel_3d", (3, 3, 3, 4, 5), 0.2),
        ("dense", (16, 7), 0.8),
        ("gamma", (11,), 0.4),
        ("odd_half", (5,), 0.5),
        ("tiny_fraction", (3, 3), 0.01),
    )
    def test_matches_numpy_and_hits_the_count(self, shape, sparsity):
        weights = np.random.default_rng(0).normal(size=shape).astype(
            "float32")
        mask = numpy(magnitude_mask(weights, sparsity))
        self.assertEqual(mask.dtype, np.float32)
        self.assertEqual(mask.shape, shape)
        self.assertAllEqual(mask, reference_mask(weights, sparsity))
        self.assertEqual(int((mask == 0).sum()),
                         int(math.floor(sparsity * np.prod(shape) + 0.5)))
        # Every removed weight is no larger than every kept one.
        removed = np.abs(weights[mask == 0])
        kept = np.abs(weights[mask == 1])
        if removed.size and kept.size:
            self.assertLessEqual(removed.max(), kept.min())

    def test_ties_remove_the_lower_flat_index_first(self):
        weights = np.array([[1.0, -1.0, 3.0], [1.0, 0.5, -1.0]], "float32")
        # 0.5 first, then the |w| = 1 ties at flat indices 0, 1, 3, 5.
        self.assertAllEqual(numpy(magnitude_mask(weights, 0.5)),
                            [[0, 0, 1], [1, 0, 1]])
        self.assertAllEqual(numpy(magnitude_mask(np.zeros((2, 3)), 0.5)),
                            [[0, 0, 0], [1, 1, 1]])

    def test_sparsity_zero_and_one(self):
        weights = np.arange(-3, 3, dtype="float32").reshape(2, 3)
        self.assertAllEqual(numpy(magnitude_mask(weights, 0.0)),
                            np.ones((2, 3)))
        self.assertAllEqual(numpy(magnitude_mask(weights, 1.0)),
                            np.zeros((2, 3)))
        for value in (0.0, 1.0):  # the same as a tensor sparsity
            tensor = keras.ops.convert_to_tensor(value)
            self.assertAllEqual(numpy(magnitude_mask(weights, tensor)),
                                reference_mask(weights, value))

    def test_keeps_the_weights_dtype(self):
        weights = np.ones((4,), "float16")
        mask = magnitude_mask(weights, 0.5)
        self.assertEqual(keras.backend.standardize_dtype(mask.dtype),
                         "float16")

    def test_compiled_with_a_traced_sparsity(self):
        weights = np.random.default_rng(1).normal(size=(6, 5)).astype(
            "float32")
        sparsity = np.float32(0.3)
        if keras.backend.backend() == "jax":
            import jax

            mask = jax.jit(magnitude_mask)(weights, sparsity)
        else:
            import tensorflow as tf

            mask = tf.function(magnitude_mask, jit_compile=False)(
                tf.constant(weights), tf.constant(sparsity))
        self.assertAllEqual(numpy(mask), reference_mask(weights, 0.3))

    def test_invalid_sparsity(self):
        for value in (-0.1, 1.5):
            with self.assertRaisesRegex(ValueError,
                                        r"`sparsity`.*Received: sparsity="):
                magnitude_mask(np.ones(3), value)


class FilterMaskTest(TestCase):
    def test_matches_numpy(self):
        kernel = np.random.default_rng(2).normal(size=(3, 3, 3, 4, 10))
        kernel = kernel.astype("float32")
        mask = numpy(filter_mask(kernel, 0.5))
        self.assertAllEqual(mask, reference_filter_mask(kernel, 0.5))
        zeroed = np.all(mask == 0, axis=(0, 1, 2, 3))
        self.assertEqual(int(zeroed.sum()), 5)
        self.assertTrue(np.all((mask == 0) == zeroed))

    def test_filter_ties_and_rank_one(self):
        kernel = np.array([[1.0, -1.0, 2.0], [-1.0, 1.0, 0.0]], "float32")
        # L1 norms 2, 2, 2: the lower filter index goes first.
        self.assertAllEqual(numpy(filter_mask(kernel, 0.34)),
                            [[0, 1, 1], [0, 1, 1]])
        self.assertAllEqual(numpy(filter_mask(np.array([3.0, -1.0]), 0.5)),
                            [1, 0])

    def test_invalid_rank(self):
        with self.assertRaisesRegex(ValueError, "at least one axis"):
            filter_mask(np.float32(1.0), 0.5)
