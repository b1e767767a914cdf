"""Tests for `deltasparse.layers.sparsity.group_ksparse.GroupKSparse` (spec
`group_ksparse.md` §2.5, §4.3: group spatial, then group lifetime)."""

import os

import keras
import numpy as np

from deltasparse.layers.sparsity.group_ksparse import GroupKSparse
from deltasparse.testing import TestCase
from tests.layers.sparsity.test_ksparse import AutoencoderChecks
from tests.layers.sparsity.test_ksparse import np_ksparse_layer
from tests.ops.test_ksparse import np_group_ksparse
from tests.ops.test_ksparse import np_group_ksparse_mask
from tests.ops.test_ksparse import run
from tests.ops.test_ksparse import value_and_grad


def np_group_layer(x, groups, k_spatial, k_lifetime, **kwargs):
    y = np_group_ksparse(x, groups, k_spatial, [4], [2, 3], **kwargs)
    return np_group_ksparse(y, groups, k_lifetime, [4], [0, 1], **kwargs)


def np_group_layer_mask(x, groups, k_spatial, k_lifetime, **kwargs):
    spatial = np_group_ksparse_mask(x, groups, k_spatial, [4], [2, 3], **kwargs)
    lifetime = np_group_ksparse_mask(
        x * spatial, groups, k_lifetime, [4], [0, 1], **kwargs
    )
    return spatial & lifetime


def _rand(shape, seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


class GroupKSparseLayerTest(TestCase, AutoencoderChecks):
    def test_basics(self):
        self.run_layer_test(
            GroupKSparse,
            init_kwargs={
                "groups": 2,
                "k_spatial": 2,
                "k_lifetime": 3,
                "norm": 2,
                "alpha": 2,
                "epsilon": 1e-6,
            },
            input_shape=(2, 3, 4, 4, 4),
            expected_output_shape=(2, 3, 4, 4, 4),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )

    def test_values_and_gradients_match_reference(self):
        x = _rand((2, 3, 3, 3, 6), seed=1)
        u = np.random.default_rng(2).normal(size=x.shape).astype("float32")
        for training, alpha in ((True, 2), (False, 2)):
            with self.subTest(training=training):
                layer = GroupKSparse(3, 2, 3, alpha=alpha)
                y, g = value_and_grad(
                    lambda z: layer(z, training=training), x, u
                )
                mask = np_group_layer_mask(
                    x, 3, 2, 3, alpha=alpha, training=training
                )
                self.assertAllClose(y, x * mask)
                self.assertAllClose(g, u * mask)

    def test_whole_groups_and_zero_groups(self):
        # One frame, 1x3 positions, 4 channels in 2 groups, k_spatial=1.
        x = np.zeros((1, 1, 1, 3, 4), "float32")
        x[0, 0, 0, 1, :2] = [0.6, 0.8]  # group 0 wins at w=1 (norm 1.0)
        x[0, 0, 0, 2, :2] = [0.9, 0.0]  # larger single entry, smaller norm
        # group 1 is all zero: norms tie at sqrt(eps), w=0 wins.
        _, g = value_and_grad(
            lambda z: GroupKSparse(2, 1, 1)(z), x, np.ones_like(x)
        )
        expected = np.zeros_like(x)
        expected[0, 0, 0, 1, :2] = 1
        expected[0, 0, 0, 0, 2:] = 1
        self.assertAllClose(g, expected)

    def test_groups_equal_channels_is_ksparse_of_abs(self):
        x = np.random.default_rng(3).normal(size=(2, 2, 3, 3, 2))
        x = x.astype("float32")
        y = run(lambda z: GroupKSparse(2, 2, 2)(z), x)
        ref = np.abs(x) * (np_ksparse_layer(np.abs(x), 2, 2) != 0)
        self.assertAllClose(np.abs(y), ref)

    def test_dynamic_batch_in_functional_model(self):
        inputs = keras.Input((2, 2, 2, 4))  # batch is None
        identity = keras.layers.Dense(
            4, use_bias=False, kernel_initializer="identity"
        )
        h = identity(inputs)
        model = keras.Model(inputs, GroupKSparse(2, 1, 3)(h))
        x = _rand((5, 2, 2, 2, 4), seed=4)
        y = model.predict(x, batch_size=3, verbose=0)
        ref = np.concatenate(
            [np_group_layer(x[:3], 2, 1, 3), np_group_layer(x[3:], 2, 1, 3)]
        )
        self.assertAllClose(y, ref)
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(
            x, np.zeros_like(x), batch_size=3, epochs=2, verbose=0
        )
        self.assertTrue(np.all(np.isfinite(history.history["loss"])))

    def test_keras_save_and_load(self):
        inputs = keras.Input((2, 4, 4, 4))
        layer = GroupKSparse(2, 2, 3, norm=1, epsilon=1e-5, name="gwta")
        model = keras.Model(inputs, layer(inputs))
        path = os.path.join(self.get_temp_dir(), "group_ksparse.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.get_layer("gwta"), GroupKSparse)
        self.assertEqual(
            loaded.get_layer("gwta").get_config(), layer.get_config()
        )
        x = _rand((2, 2, 4, 4, 4), seed=5)
        self.assertAllClose(
            loaded.predict(x, verbose=0), model.predict(x, verbose=0)
        )

    def test_mixed_precision(self):
        layer = GroupKSparse(2, 2, 2, dtype="mixed_float16")
        x = _rand((2, 2, 3, 3, 4), seed=6)
        y = run(lambda z: layer(z), x)
        self.assertEqual(y.dtype, np.float16)
        x16 = x.astype("float16").astype("float32")
        self.assertAllClose(y, np_group_layer(x16, 2, 2, 2), atol=1e-3)

    def test_invalid_arguments(self):
        base = dict(groups=2, k_spatial=1, k_lifetime=1)
        cases = [
            (dict(groups=0), "Received: groups=0"),
            (dict(k_spatial=0), "Received: k_spatial=0"),
            (dict(k_lifetime=-1), "Received: k_lifetime=-1"),
            (dict(norm=0), "Received: norm=0"),
            (dict(alpha=0.0), "Received: alpha=0.0"),
            (dict(epsilon=-1e-3), "Received: epsilon=-0.001"),
        ]
        for kwargs, message in cases:
            with self.subTest(**kwargs):
                with self.assertRaisesRegex(ValueError, message):
                    GroupKSparse(**{**base, **kwargs})

    def test_invalid_input_shapes(self):
        with self.assertRaisesRegex(ValueError, "rank 5"):
            GroupKSparse(2, 1, 1).compute_output_shape((2, 4, 4, 4))
        with self.assertRaisesRegex(ValueError, "divisible by `groups`"):
            GroupKSparse(4, 1, 1)(np.zeros((1, 2, 2, 2, 6), "float32"))

    def test_training_autoencoder(self):
        # 8 filters in 2 groups of 4.
        code = self.check_training_reduces_loss(
            GroupKSparse(2, 2, 4),
            lambda enc: np_group_layer(enc, 2, 2, 4),
        )
        blocks = code.reshape(code.shape[:4] + (2, 4))
        active = np.any(blocks != 0, axis=-1)  # (B, T, H, W, groups)
        self.assertLessEqual(active.sum(axis=(2, 3)).max(), 2)  # per b,t,g
        self.assertLessEqual(active.sum(axis=(0, 1)).max(), 4)  # per h,w,g
        self.assertGreater(active.sum(), 0)
