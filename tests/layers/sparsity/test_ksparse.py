"""Tests for `deltasparse.layers.sparsity.ksparse.KSparse` (spec `group_ksparse.md`
§4.0-4.1: spatial k-sparse over H*W, then lifetime k-sparse over B*T)."""

import os

import keras
import numpy as np

from deltasparse.layers.sparsity.ksparse import KSparse
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.testing import TestCase
from tests.ops.test_ksparse import np_ksparse
from tests.ops.test_ksparse import np_ksparse_mask
from tests.ops.test_ksparse import run
from tests.ops.test_ksparse import value_and_grad


def np_ksparse_layer(x, k_spatial, k_lifetime, alpha=1, training=False):
    y = np_ksparse(x, k_spatial, [2, 3], alpha=alpha, training=training)
    return np_ksparse(y, k_lifetime, [0, 1], alpha=alpha, training=training)


def np_ksparse_layer_mask(x, k_spatial, k_lifetime, alpha=1, training=False):
    kw = dict(alpha=alpha, training=training)
    spatial = np_ksparse_mask(x, k_spatial, [2, 3], **kw)
    return spatial & np_ksparse_mask(x * spatial, k_lifetime, [0, 1], **kw)


def _rand(shape, seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


def toy_videos(n=8, t=3, size=8, seed=0):
    """Bright 2x2 squares moving one pixel per frame, one per video."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, t, size, size, 1), "float32")
    for i in range(n):
        r, c = rng.integers(0, size - 2 - t, size=2)
        dr, dc = rng.choice([0, 1], size=2)
        for j in range(t):
            top, left = r + dr * j, c + dc * j
            x[i, j, top : top + 2, left : left + 2] = 1
    return x


def build_autoencoder(sparsity, t=3, size=8, filters=8):
    """Encoder (per-frame conv, ReLU) -> sparsity -> decoder (per-frame
    transposed conv, linear), frames folded into the batch axis."""
    inputs = keras.Input((t, size, size, 1))
    h = FoldTime()(inputs)
    h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
    encoded = UnfoldTime(time_steps=t)(h)
    code = sparsity(encoded)
    h = FoldTime()(code)
    h = keras.layers.Conv2DTranspose(1, 3, padding="same")(h)
    outputs = UnfoldTime(time_steps=t)(h)
    autoencoder = keras.Model(inputs, outputs)
    encoder = keras.Model(inputs, encoded)
    return autoencoder, encoder


class AutoencoderChecks:
    """Shared by the KSparse and GroupKSparse layer tests."""

    def check_training_reduces_loss(self, sparsity, reference):
        keras.utils.set_random_seed(0)
        x = toy_videos()
        autoencoder, encoder = build_autoencoder(sparsity)
        autoencoder.compile(keras.optimizers.Adam(0.01), loss="mse")
        loss = autoencoder.fit(x, x, batch_size=4, epochs=12, verbose=0)
        loss = loss.history["loss"]
        self.assertLess(loss[-1], 0.5 * loss[0])
        # The code is exactly the reference k-sparse code of the encoding.
        enc = encoder.predict(x[:4], batch_size=4, verbose=0)
        code = run(lambda z: sparsity(z, training=False), enc)
        self.assertAllClose(code, reference(enc), atol=1e-6)
        return code


class KSparseLayerTest(TestCase, AutoencoderChecks):
    def test_basics(self):
        self.run_layer_test(
            KSparse,
            init_kwargs={"k_spatial": 2, "k_lifetime": 3, "alpha": 2},
            input_shape=(2, 3, 4, 4, 4),
            expected_output_shape=(2, 3, 4, 4, 4),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )

    def test_values_and_gradients_match_reference(self):
        x = _rand((2, 3, 4, 4, 3), seed=1)
        u = np.random.default_rng(2).normal(size=x.shape).astype("float32")
        for training, alpha in ((True, 2), (False, 2)):
            with self.subTest(training=training, alpha=alpha):
                layer = KSparse(2, 3, alpha=alpha)
                y, g = value_and_grad(
                    lambda z: layer(z, training=training), x, u
                )
                mask = np_ksparse_layer_mask(x, 2, 3, alpha, training)
                self.assertAllClose(y, x * mask)
                self.assertAllClose(g, u * mask)

    def test_spatial_then_lifetime_correctness(self):
        # 1 video, 2 frames, 2x2, 1 channel; k_spatial=2 keeps 2 of 4 pixels
        # per frame; k_lifetime=1 keeps the larger frame per pixel.
        x = np.array(
            [[[[1.0, 5.0], [4.0, 2.0]], [[3.0, 6.0], [0.5, 7.0]]]], "f4"
        )[..., None]
        y = run(lambda z: KSparse(2, 1)(z), x)
        expected = np.array(
            [[[[0, 0], [4, 0]], [[0, 6], [0, 7]]]], "f4"
        )[..., None]
        self.assertAllClose(y, expected)

    def test_dynamic_batch_in_functional_model(self):
        inputs = keras.Input((2, 3, 3, 2))  # batch is None
        identity = keras.layers.Dense(
            2, use_bias=False, kernel_initializer="identity"
        )
        h = identity(inputs)
        outputs = KSparse(2, 3)(h)
        model = keras.Model(inputs, outputs)
        self.assertEqual(tuple(model.output.shape), (None, 2, 3, 3, 2))
        x = _rand((5, 2, 3, 3, 2), seed=3)
        # predict: batches of 3 and 2; the lifetime competition is per batch.
        y = model.predict(x, batch_size=3, verbose=0)
        ref = np.concatenate(
            [np_ksparse_layer(x[:3], 2, 3), np_ksparse_layer(x[3:], 2, 3)]
        )
        self.assertAllClose(y, ref)
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(
            x, np.zeros_like(x), batch_size=3, epochs=2, verbose=0
        )
        self.assertTrue(np.all(np.isfinite(history.history["loss"])))
        self.assertNotAllClose(identity.get_weights()[0], np.eye(2))

    def test_keras_save_and_load(self):
        inputs = keras.Input((2, 4, 4, 3))
        model = keras.Model(inputs, KSparse(2, 3, alpha=2, name="wta")(inputs))
        path = os.path.join(self.get_temp_dir(), "ksparse.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.get_layer("wta"), KSparse)
        self.assertEqual(loaded.get_layer("wta").get_config()["alpha"], 2)
        x = _rand((2, 2, 4, 4, 3), seed=4)
        self.assertAllClose(
            loaded.predict(x, verbose=0), model.predict(x, verbose=0)
        )

    def test_mixed_precision(self):
        layer = KSparse(2, 2, dtype="mixed_float16")
        x = _rand((2, 2, 3, 3, 2), seed=5)
        y = run(lambda z: layer(z), x)
        self.assertEqual(y.dtype, np.float16)
        x16 = x.astype("float16").astype("float32")
        self.assertAllClose(y, np_ksparse_layer(x16, 2, 2), atol=1e-3)

    def test_invalid_arguments(self):
        cases = [
            (dict(k_spatial=0, k_lifetime=1), "Received: k_spatial=0"),
            (dict(k_spatial=1, k_lifetime=-2), "Received: k_lifetime=-2"),
            (dict(k_spatial=1.0, k_lifetime=1), "Received: k_spatial=1.0"),
            (dict(k_spatial=1, k_lifetime=1, alpha=-1), "Received: alpha=-1"),
        ]
        for kwargs, message in cases:
            with self.subTest(**kwargs):
                with self.assertRaisesRegex(ValueError, message):
                    KSparse(**kwargs)

    def test_invalid_input_shapes(self):
        with self.assertRaisesRegex(ValueError, "rank 5.*input_shape"):
            KSparse(1, 1)(np.zeros((2, 4, 4, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "static height"):
            KSparse(1, 1).compute_output_shape((None, 3, None, 4, 2))

    def test_training_autoencoder(self):
        code = self.check_training_reduces_loss(
            KSparse(2, 4), lambda enc: np_ksparse_layer(enc, 2, 4)
        )
        nonzero = code != 0
        self.assertLessEqual(nonzero.sum(axis=(2, 3)).max(), 2)  # per b,t,c
        self.assertLessEqual(nonzero.sum(axis=(0, 1)).max(), 4)  # per h,w,c
        self.assertGreater(nonzero.sum(), 0)
