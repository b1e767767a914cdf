"""Tests for `L1ActivityRegularizer` against a NumPy reference of spec
`delta_activation.md` §3 (values and gradients)."""

import os

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras import ops

from deltasparse.layers.sparsity.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.models.sparsity_logger import SparsityLogger
from deltasparse.testing import TestCase



def np_l1(x, upstream, sp_rate=1.0, n_outputs=1.0):
    """Spec §3: identity; L0, N, nF = B*T; loss c * mean|x|; and the
    gradient of `sum(out * upstream) + loss` w.r.t. x."""
    c = sp_rate * n_outputs
    return dict(
        out=x,
        l0=np.count_nonzero(x),
        n=x.size,
        nf=x.shape[0] * x.shape[1],
        loss=c * np.abs(x).sum() / x.size,
        grad=upstream + c * np.sign(x) / x.size,  # d|x|/dx = 0 at x = 0
    )


def sparse_input(shape, seed=0):
    """ReLU'd normal data: about half the entries are exactly 0."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(0, 1, shape), 0).astype("float32")


def value_and_input_grad(layer, x, upstream):
    """Output, summed losses and d/dx of `sum(out * upstream) + losses`."""

    def first(out):
        return out[0] if isinstance(out, (tuple, list)) else out

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        xv = tf.Variable(x)
        with tf.GradientTape() as tape:
            out = layer(xv)
            loss = ops.sum(layer.losses)
            total = ops.sum(first(out) * upstream) + loss
        return out, loss, tape.gradient(total, xv)

    import jax

    def fn(x):
        out, _, losses = layer.stateless_call([], [], x, return_losses=True)
        loss = ops.sum(losses)
        return ops.sum(first(out) * upstream) + loss, (out, loss)

    (_, (out, loss)), grad = jax.value_and_grad(fn, has_aux=True)(x)
    return out, loss, grad


class L1ActivityRegularizerTest(TestCase):
    def test_basics(self):
        self.run_layer_test(
            L1ActivityRegularizer,
            init_kwargs={"show_metric": True, "sp_rate": 0.1},
            input_shape=(2, 3, 4, 4, 3),
            expected_output_shape=(2, 3, 4, 4, 3),
            expected_num_trainable_weights=0,
            # show_metric: the three float32 totals (L0, N, frames).
            expected_num_non_trainable_weights=3,
            expected_num_seed_generators=0,
            expected_num_losses=1,
            supports_masking=False,
        )

    def test_basics_return_stats(self):
        self.run_layer_test(
            L1ActivityRegularizer,
            init_kwargs={"return_stats": True, "n_outputs": 9.0},
            input_shape=(2, 1, 4, 4, 2),
            expected_output_shape=((2, 1, 4, 4, 2), (), ()),
            expected_num_losses=1,
            # The fit step uses the outputs as targets, and Keras data
            # adapters reject the rank-0 statistics; training is covered by
            # `test_basics` and the training test below.
            run_training_check=False,
            run_mixed_precision_check=False,  # covered by test_basics
        )

    def test_defaults_match_spec(self):
        layer = L1ActivityRegularizer()
        config = layer.get_config()
        self.assertEqual(config["sp_rate"], 1.0)
        self.assertEqual(config["n_outputs"], 1.0)
        self.assertFalse(config["show_metric"])
        self.assertFalse(config["return_stats"])
        self.assertEqual(layer.weights, [])

    @parameterized.named_parameters(
        ("rank2", (6, 5)),
        ("rank3", (2, 3, 4)),
        ("rank5", (2, 3, 2, 2, 3)),
        ("single_frame", (2, 1, 4, 4, 2)),
    )
    def test_values_and_gradients_match_reference(self, shape):
        x = sparse_input(shape)
        upstream = np.random.default_rng(1).normal(0, 1, shape)
        upstream = upstream.astype("float32")
        layer = L1ActivityRegularizer(
            sp_rate=0.5, n_outputs=3.0, return_stats=True
        )
        (out, l0, n), loss, grad = value_and_input_grad(layer, x, upstream)
        ref = np_l1(x, upstream, sp_rate=0.5, n_outputs=3.0)
        self.assertAllEqual(out, x)
        self.assertAllClose(l0, ref["l0"])
        self.assertAllClose(n, ref["n"])
        for value in (l0, n):
            self.assertEqual(
                keras.backend.standardize_dtype(value.dtype), "float32"
            )
        self.assertAllClose(loss, ref["loss"], atol=1e-6)
        # Includes exact zeros: their L1 gradient is 0 (as with `tf.abs`).
        self.assertGreater(ref["n"], ref["l0"])
        self.assertAllClose(grad, ref["grad"], atol=1e-6)

    def test_negative_values_count(self):
        x = np.array([[[-1.0, 0.0], [2.0, 0.0]]], "float32")  # (1, 2, 2)
        layer = L1ActivityRegularizer(sp_rate=2.0, return_stats=True)
        _, l0, n = layer(x)
        self.assertAllClose([l0, n], [2.0, 4.0])
        self.assertAllClose(layer.losses[0], 2.0 * 3.0 / 4.0)

    def test_mixed_precision_statistics_in_float32(self):
        x = sparse_input((2, 3, 4, 4, 3)) * 3.0
        layer = L1ActivityRegularizer(
            dtype="mixed_float16", sp_rate=0.5, return_stats=True
        )
        out, l0, n = layer(x)
        self.assertEqual(keras.backend.standardize_dtype(out.dtype), "float16")
        for value in (l0, n, layer.losses[0]):
            self.assertEqual(
                keras.backend.standardize_dtype(value.dtype), "float32"
            )
        x16 = x.astype("float16").astype("float32")
        self.assertAllClose(l0, np.count_nonzero(x16))
        self.assertAllClose(n, x.size)
        self.assertAllClose(
            layer.losses[0], 0.5 * np.abs(x16).mean(), atol=1e-6
        )

    # ------------------------------------------------------ metrics and model
    def test_show_metric_in_fit_and_evaluate(self):
        # Through the non-trainable totals and SparsityLogger, every backend.
        x = sparse_input((6, 3, 4))
        target = np.zeros_like(x)
        inp = keras.Input((3, 4))
        out = L1ActivityRegularizer(
            name="l1", show_metric=True, sp_rate=0.5, n_outputs=5.0
        )(inp)
        model = keras.Model(inp, out)
        model.compile(optimizer="sgd", loss="mse")
        logger = SparsityLogger()
        logs = model.evaluate(
            x, target, batch_size=6, return_dict=True, verbose=0,
            callbacks=[logger],
        )
        logs.update(logger.test_figures)
        ref = np_l1(x, 0.0, sp_rate=0.5, n_outputs=5.0)
        self.assertAllClose(logs["n_spikes_l1"], ref["l0"] / ref["nf"],
                            atol=1e-5)
        self.assertAllClose(logs["n_neurons_l1"], 4.0)
        self.assertAllClose(logs["n_outputs_l1"], 5.0)
        self.assertAllClose(
            logs["loss"], np.mean(x**2) + ref["loss"], atol=1e-5
        )
        history = model.fit(x, target, batch_size=3, epochs=2, verbose=0,
                            callbacks=[SparsityLogger()])
        for key in ("n_spikes_l1", "n_neurons_l1", "n_outputs_l1"):
            self.assertLen(history.history[key], 2)
        self.assertAllClose(history.history["n_outputs_l1"], [5.0, 5.0])

    def test_inside_time_distributed(self):
        # Per frame: one loss per frame, each the mean over that frame.
        x = sparse_input((2, 3, 5))
        inp = keras.Input((3, 5))
        out = keras.layers.TimeDistributed(
            L1ActivityRegularizer(sp_rate=0.5)
        )(inp)
        model = keras.Model(inp, out)
        self.assertAllClose(model(x), x)
        per_frame = [0.5 * np.abs(x[:, t]).mean() for t in range(3)]
        self.assertAllClose(ops.sum(model.losses), sum(per_frame), atol=1e-6)

    def test_functional_model_save_load(self):
        keras.utils.set_random_seed(0)
        inp = keras.Input((None, 6))
        h = keras.layers.Dense(4, activation="relu", name="fc")(inp)
        h, l0, n = L1ActivityRegularizer(
            sp_rate=4e-4, n_outputs=3.0, return_stats=True, name="fc_l1"
        )(h)
        out = keras.layers.Dense(2, name="head")(h)
        model = keras.Model(inp, [out, l0, n])
        x = sparse_input((2, 3, 6))
        outputs = model(x)
        self.assertAllClose(outputs[2], 2 * 3 * 4)
        self.assertLen(model.losses, 1)
        path = os.path.join(self.get_temp_dir(), "l1.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        self.assertIsInstance(loaded.get_layer("fc_l1"), L1ActivityRegularizer)
        self.assertEqual(
            loaded.get_layer("fc_l1").get_config(),
            model.get_layer("fc_l1").get_config(),
        )
        for ref, new in zip(outputs, loaded(x)):
            self.assertAllClose(ref, new, atol=0, rtol=0)

    # ------------------------------------------------------------ bad input
    def test_invalid_arguments(self):
        cases = (
            ({"sp_rate": -0.1}, "sp_rate"),
            ({"sp_rate": "1"}, "sp_rate"),
            ({"n_outputs": float("inf")}, "n_outputs"),
            ({"show_metric": 1}, "show_metric"),
            ({"return_stats": None}, "return_stats"),
        )
        for kwargs, name in cases:
            with self.subTest(name=name):
                with self.assertRaisesRegex(
                    ValueError, f"`{name}`.*Received: {name}="
                ):
                    L1ActivityRegularizer(**kwargs)

    def test_invalid_rank(self):
        with self.assertRaisesRegex(ValueError, "rank >= 2"):
            L1ActivityRegularizer()(np.zeros((4,), "float32"))
        with self.assertRaisesRegex(ValueError, "rank >= 2"):
            L1ActivityRegularizer().compute_output_shape((4,))

    # ------------------------------------------------------- the L1 effect
    @pytest.mark.slow
    def test_training_reduces_activation_density(self):
        keras.utils.set_random_seed(2)
        rng = np.random.default_rng(3)
        x = rng.normal(0, 1, (32, 3, 8)).astype("float32")
        labels = (x[:, :, :4].sum((1, 2)) > 0).astype("float32")[:, None]
        inp = keras.Input((3, 8))
        hidden = keras.layers.Dense(
            16, activation="relu", bias_initializer="ones", name="fc"
        )(inp)
        h = L1ActivityRegularizer(sp_rate=1.0, n_outputs=4.0)(hidden)
        h = keras.layers.GlobalAveragePooling1D()(h)
        out = keras.layers.Dense(1, activation="sigmoid")(h)
        model = keras.Model(inp, out)
        probe = keras.Model(inp, hidden)

        def stats():
            a = ops.convert_to_numpy(probe(x))
            return np.count_nonzero(a) / a.size, np.abs(a).mean()

        density_before, mean_before = stats()
        model.compile(
            optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy"
        )
        model.fit(x, labels, batch_size=8, epochs=6, verbose=0)
        density_after, mean_after = stats()
        self.assertLess(mean_after, 0.5 * mean_before)
        self.assertLess(density_after, 0.5 * density_before)
