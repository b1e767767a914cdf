"""Tests of `FoldTime` / `UnfoldTime` (B, T, ...) <-> (B*T, ...)."""

import os

import keras
import numpy as np
from absl.testing import parameterized

from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.testing import TestCase


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def folded_model(layer_fn, frame_shape=(8, 8, 3)):
    """Input (None, *frame_shape) -> Fold -> layer_fn -> Unfold(reference)."""
    inputs = keras.Input((None,) + frame_shape)
    h = FoldTime(name="fold")(inputs)
    h = layer_fn(h)
    outputs = UnfoldTime(name="unfold")(h, reference=inputs)
    return keras.Model(inputs, outputs)


class FoldTimeTest(TestCase):
    def test_basics(self):
        self.run_layer_test(
            FoldTime,
            init_kwargs={},
            input_shape=(2, 3, 4, 4, 2),
            expected_output_shape=(6, 4, 4, 2),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
            run_training_check=False,  # no weights to train
        )

    def test_row_order(self):
        # Frame t of sample b lands at row b * T + t (row-major).
        x = np.random.default_rng(0).random((2, 3, 4, 5, 2), "float32")
        y = to_numpy(FoldTime()(x))
        self.assertEqual(y.shape, (6, 4, 5, 2))
        for b in range(2):
            for t in range(3):
                self.assertAllClose(y[b * 3 + t], x[b, t])

    def test_other_ranks(self):
        x = np.arange(24, dtype="float32").reshape(2, 3, 4)
        self.assertAllClose(to_numpy(FoldTime()(x)), x.reshape(6, 4))

    def test_symbolic_shapes(self):
        self.assertEqual(
            FoldTime().compute_output_shape((None, 3, 8, 8, 3)),
            (None, 8, 8, 3),
        )
        self.assertEqual(
            FoldTime().compute_output_shape((2, 3, 8, 8, 3)), (6, 8, 8, 3)
        )
        out = FoldTime()(keras.Input((None, 8, 8, 3)))
        self.assertEqual(tuple(out.shape), (None, 8, 8, 3))

    def test_invalid_inputs(self):
        with self.assertRaisesRegex(ValueError, "rank >= 3"):
            FoldTime()(np.zeros((2, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "static feature"):
            FoldTime()(keras.Input((None, None, 3)))


class UnfoldTimeTest(TestCase):
    def test_basics(self):
        self.run_layer_test(
            UnfoldTime,
            init_kwargs={"time_steps": 3},
            input_shape=(6, 4, 4, 2),
            expected_output_shape=(2, 3, 4, 4, 2),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
            run_training_check=False,  # no weights to train
        )

    def test_inverse_of_fold(self):
        x = np.random.default_rng(1).random((2, 3, 4, 4, 2), "float32")
        folded = FoldTime()(x)
        self.assertAllClose(to_numpy(UnfoldTime(time_steps=3)(folded)), x)
        self.assertAllClose(to_numpy(UnfoldTime()(folded, reference=x)), x)
        # time_steps wins over the reference.
        self.assertEqual(
            tuple(UnfoldTime(time_steps=2)(folded, reference=x).shape),
            (3, 2, 4, 4, 2),
        )

    def test_symbolic_shapes(self):
        layer = UnfoldTime()
        self.assertEqual(
            layer.compute_output_shape((6, 8, 8, 3), (2, 3, 1, 1, 1)),
            (2, 3, 8, 8, 3),
        )
        self.assertEqual(
            UnfoldTime(time_steps=4).compute_output_shape((None, 8, 8, 3)),
            (None, 4, 8, 8, 3),
        )
        inputs = keras.Input((5, 8, 8, 3))
        out = UnfoldTime()(FoldTime()(inputs), reference=inputs)
        self.assertEqual(tuple(out.shape), (None, 5, 8, 8, 3))

    @parameterized.named_parameters(
        ("zero", 0), ("negative", -2), ("float", 2.0), ("string", "3")
    )
    def test_invalid_time_steps(self, time_steps):
        with self.assertRaisesRegex(
            ValueError, f"Received: time_steps={time_steps}"
        ):
            UnfoldTime(time_steps=time_steps)

    def test_missing_reference(self):
        with self.assertRaisesRegex(ValueError, "reference"):
            UnfoldTime()(np.zeros((6, 4), "float32"))

    def test_config(self):
        layer = UnfoldTime(time_steps=7, name="u")
        config = layer.get_config()
        self.assertEqual(config["time_steps"], 7)
        clone = UnfoldTime.from_config(config)
        self.assertEqual(clone.time_steps, 7)
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)
        )
        self.assertIsInstance(restored, UnfoldTime)
        self.assertEqual(restored.get_config(), config)


class TimeFoldingModelTest(TestCase):
    def test_round_trip_dynamic_time(self):
        model = folded_model(lambda h: h)
        self.assertEqual(tuple(model.output.shape), (None, None, 8, 8, 3))
        rng = np.random.default_rng(2)
        for shape in [(2, 2, 8, 8, 3), (1, 4, 8, 8, 3), (3, 1, 8, 8, 3)]:
            x = rng.random(shape, "float32")
            self.assertAllClose(to_numpy(model(x)), x)
            self.assertAllClose(model.predict(x, verbose=0), x)

    def test_dynamic_time_in_traced_graph(self):
        # A graph traced once with T unknown must serve every clip length.
        model = folded_model(
            keras.layers.Conv2D(2, 3, padding="same", name="conv")
        )
        rng = np.random.default_rng(3)
        xs = [rng.random((2, t, 8, 8, 3), "float32") for t in (2, 4)]
        expected = [to_numpy(model(x)) for x in xs]
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            fn = tf.function(
                model,
                input_signature=[tf.TensorSpec((None, None, 8, 8, 3))],
            )
        elif keras.backend.backend() == "jax":
            import jax

            fn = jax.jit(model)  # retraces per shape; T is always static
        else:
            self.skipTest("graph tracing is checked on TF and JAX only")
        for x, y in zip(xs, expected):
            out = np.asarray(fn(x))
            self.assertEqual(out.shape, x.shape[:-1] + (2,))
            self.assertAllClose(out, y, atol=1e-6)

    def test_fit_graph_mode_and_keras_file(self):
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(4)
        inputs = keras.Input((None, 8, 8, 3))
        h = FoldTime()(inputs)
        h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(h)
        h = keras.layers.BatchNormalization()(h)
        h = UnfoldTime()(h, reference=inputs)
        h = keras.layers.GlobalAveragePooling3D()(h)
        outputs = keras.layers.Dense(2, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            loss="sparse_categorical_crossentropy",
            run_eagerly=False,
        )
        # Class = brightness of the clip.
        y = np.arange(16) % 2
        x = rng.random((16, 3, 8, 8, 3), "float32")
        x += y[:, None, None, None, None]
        history = model.fit(x, y, batch_size=8, epochs=4, verbose=0)
        losses = history.history["loss"]
        self.assertTrue(np.all(np.isfinite(losses)))
        self.assertLess(losses[-1], losses[0])

        x_other = rng.random((3, 2, 8, 8, 3), "float32")  # another T
        expected = to_numpy(model(x_other))
        path = os.path.join(self.get_temp_dir(), "folded.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.layers[1], FoldTime)
        self.assertIsInstance(loaded.layers[4], UnfoldTime)
        self.assertAllClose(to_numpy(loaded(x_other)), expected, atol=1e-6)

    def test_batch_norm_statistics_over_batch_and_time(self):
        # Key property: BN between FoldTime/UnfoldTime normalises with
        # statistics over batch x time x space (Keras 2 TimeDistributed),
        # whereas Keras 3 TimeDistributed(BN) normalises every frame with its
        # own statistics.
        rng = np.random.default_rng(5)
        b, t, c = 2, 3, 2
        offsets = np.array([-2.0, 0.5, 3.0], "float32")  # per-frame shift
        x = rng.normal(size=(b, t, 4, 4, c)).astype("float32")
        x += offsets[None, :, None, None, None]

        bn = keras.layers.BatchNormalization(name="bn")
        model = folded_model(bn, frame_shape=(4, 4, c))
        out = to_numpy(model(x, training=True))
        mean = x.mean(axis=(0, 1, 2, 3))
        var = x.var(axis=(0, 1, 2, 3))
        expected = (x - mean) / np.sqrt(var + bn.epsilon)
        self.assertAllClose(out, expected, atol=1e-4)
        # One training call: moving stats move towards the batch x time ones.
        self.assertAllClose(
            to_numpy(bn.moving_mean), (1 - bn.momentum) * mean, atol=1e-5
        )
        # Frames keep their relative offsets (not each centred on zero).
        frame_means = out.mean(axis=(0, 2, 3, 4))
        self.assertAllClose(
            frame_means,
            (offsets - offsets.mean())
            / np.sqrt(var.mean() + bn.epsilon),
            atol=0.3,
        )
        self.assertGreater(np.ptp(frame_means), 1.0)

        # Contrast: Keras 3 TimeDistributed normalises per frame.
        td = keras.layers.TimeDistributed(keras.layers.BatchNormalization())
        td_out = to_numpy(td(x, training=True))
        td_mean = x.mean(axis=(0, 2, 3), keepdims=True)
        td_var = x.var(axis=(0, 2, 3), keepdims=True)
        self.assertAllClose(
            td_out, (x - td_mean) / np.sqrt(td_var + 1e-3), atol=1e-4
        )
        self.assertAllClose(
            td_out.mean(axis=(0, 2, 3, 4)), np.zeros(t), atol=1e-5
        )
        self.assertNotAllClose(td_out, out)

        # Inference mode: both use the moving statistics, identical results
        # when the moving statistics agree.
        td.layer.set_weights(bn.get_weights())
        self.assertAllClose(
            to_numpy(td(x, training=False)),
            to_numpy(model(x, training=False)),
            atol=1e-5,
        )
