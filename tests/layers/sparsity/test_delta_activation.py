"""Tests for `DeltaActivation` against an independent NumPy reference of
spec `delta_activation.md` §2.3-§2.6 (values and gradients)."""

import os

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras import ops

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.models.sparsity_logger import SparsityLogger
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.testing import TestCase



# --------------------------------------------------------------------------
# NumPy reference, written from the spec.
# --------------------------------------------------------------------------
def np_max_pool_same(y, window):
    """Stride-1 'SAME' max pool over axes 1..ndim-2 (window per axis)."""
    out = y
    for axis, k in zip(range(1, y.ndim - 1), window):
        before = (k - 1) // 2
        pad = [(0, 0)] * y.ndim
        pad[axis] = (before, k - 1 - before)
        padded = np.pad(out, pad, constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis)
        out = windows.max(axis=-1)
    return out


def np_dal(
    x,
    theta,
    bias=None,
    sigma=False,
    activation=None,
    pool=None,
    delta_level=0,
    sp_rate=1.0,
    n_outputs=1.0,
):
    """Forward pass of spec §2.3; returns a dict of intermediate values."""
    q = np.abs(theta)
    s = np.cumsum(x, axis=1) if sigma else x
    if bias is not None:
        s = s + bias
    if activation == "relu":
        a = np.maximum(s, 0)
    elif activation == "softmax":
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        a = e / e.sum(axis=-1, keepdims=True)
    else:
        a = s
    r = np.round(a / q)  # round half to even
    y = r * q
    if pool is not None:
        y = np_max_pool_same(y, pool)
    d = y[:, :-1] - y[:, 1:]  # previous minus next
    if delta_level == 0:
        out = y
    elif delta_level == 1:
        out = y - np.concatenate([np.zeros_like(y[:, :1]), y[:, :-1]], 1)
    else:
        out = np.concatenate([d[:, :1], d], axis=1)
    c = sp_rate * n_outputs
    return dict(
        s=s,
        a=a,
        r=r,
        y=y,
        d=d,
        out=out,
        l0=np.count_nonzero(d),
        n=d.size,
        nf=d.shape[0] * d.shape[1],
        loss=c * np.abs(d).sum() / d.size,
        c=c,
    )


def np_dal_grads(x, theta, upstream, bias=None, **kwargs):
    """Backward pass of spec §2.5 for L = sum(out * upstream) + loss."""
    f = np_dal(x, theta, bias=bias, **kwargs)
    delta_level = kwargs.get("delta_level", 0)
    d = f["d"]
    grad_d = f["c"] * np.sign(d) / d.size  # d|d|/dd = sign(d), 0 at 0
    grad_y = np.zeros_like(f["y"])
    if delta_level == 0:
        grad_y += upstream
    elif delta_level == 1:
        grad_y += upstream
        grad_y[:, :-1] -= upstream[:, 1:]
    else:
        grad_out_d = upstream[:, 1:].copy()
        grad_out_d[:, 0] += upstream[:, 0]
        grad_d = grad_d + grad_out_d
    grad_y[:, :-1] += grad_d
    grad_y[:, 1:] -= grad_d
    # Quantizer: straight through to a; -round(a/q) * g to q; sign to theta.
    grad_a = grad_y
    grad_q = -f["r"] * grad_y
    grad_q = grad_q.sum(axis=tuple(range(x.ndim - theta.ndim)))
    for axis, size in enumerate(theta.shape):
        if size == 1:
            grad_q = grad_q.sum(axis=axis, keepdims=True)
    grad_theta = np.sign(theta) * grad_q
    activation = kwargs.get("activation")
    if activation == "relu":
        grad_s = grad_a * (f["s"] > 0)
    elif activation == "softmax":
        a = f["a"]
        grad_s = a * (grad_a - (grad_a * a).sum(axis=-1, keepdims=True))
    else:
        grad_s = grad_a
    grad_bias = grad_s.reshape(-1, x.shape[-1]).sum(axis=0)
    if kwargs.get("sigma"):
        grad_x = np.flip(np.cumsum(np.flip(grad_s, 1), axis=1), 1)
    else:
        grad_x = grad_s
    return f, grad_x, grad_theta, grad_bias


# --------------------------------------------------------------------------
# Helpers.
# --------------------------------------------------------------------------
def slow_video(shape, seed=0, drift=0.15):
    """Slowly varying random clip: a base frame plus a small random walk."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (shape[0], 1) + tuple(shape[2:]))
    steps = rng.normal(0, drift, shape)
    return (base + np.cumsum(steps, axis=1)).astype("float32")


def layer_value_and_grads(layer, x, upstream):
    """Output, summed losses and gradients of
    `L = sum(output * upstream) + sum(layer.losses)` w.r.t. the input and the
    trainable weights (by weight name)."""
    layer(x)  # build
    names = [w.name for w in layer.trainable_weights]

    def first(out):
        return out[0] if isinstance(out, (tuple, list)) else out

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        xv = tf.Variable(x)
        with tf.GradientTape() as tape:
            out = layer(xv)
            loss = ops.sum(layer.losses)
            total = ops.sum(first(out) * upstream) + loss
        grads = tape.gradient(total, [xv] + list(layer.trainable_weights))
        return out, loss, grads[0], dict(zip(names, grads[1:]))

    import jax

    non_trainable = [v.value for v in layer.non_trainable_variables]

    def fn(x, trainable):
        out, _, losses = layer.stateless_call(
            trainable, non_trainable, x, return_losses=True
        )
        loss = ops.sum(losses)
        return ops.sum(first(out) * upstream) + loss, (out, loss)

    # One compiled program per case is faster than JAX's op-by-op dispatch.
    trainable = [v.value for v in layer.trainable_variables]
    (_, (out, loss)), (gx, gw) = jax.jit(
        jax.value_and_grad(fn, argnums=(0, 1), has_aux=True)
    )(x, trainable)
    return out, loss, gx, dict(zip(names, gw))


def set_weights(layer, x, theta, bias=None):
    layer(x)  # build
    layer.threshold.assign(theta)
    if bias is not None:
        layer.bias.assign(bias)


def theta_for(level, x_shape, seed=1, sign_mix=True):
    rng = np.random.default_rng(seed)
    if level == "channel-wise":
        shape = (x_shape[-1],)
    elif level == "neuron-wise":
        shape = tuple(x_shape[2:])
    else:
        shape = (1,)
    theta = rng.uniform(0.2, 0.6, shape)
    if sign_mix:
        theta = theta * np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return theta.astype("float32")


R3 = (2, 4, 6)
R5 = (2, 3, 2, 2, 3)
CASES = (
    ("level0_channel_rank3", {}, "channel-wise", R3),
    ("level0_neuron_rank5", {}, "neuron-wise", R5),
    ("level0_layer_rank5", {}, "layer-wise", R5),
    ("level1_sigma", {"delta_level": 1, "sigma": True}, "channel-wise", R3),
    ("level2_sigma_rank5", {"delta_level": 2, "sigma": True}, "neuron-wise",
     R5),
    ("bias_relu", {"trainable_bias": True, "activation": "relu"},
     "channel-wise", R5),
    ("softmax", {"activation": "softmax"}, "channel-wise", R3),
    ("level1_bias_relu_layer", {"delta_level": 1, "trainable_bias": True,
                                "activation": "relu"}, "layer-wise", R3),
)


class DeltaActivationTest(TestCase):
    # ---------------------------------------------------------------- basics
    @parameterized.named_parameters(
        ("channel_rank5", {}, (2, 3, 4, 4, 3), 1, 0),
        ("frozen_neuron_metrics_level2", {
            "thr_trainable": False, "threshold_level": "neuron-wise",
            "show_metric": True, "delta_level": 2, "activation": "softmax",
            "sigma": True}, (2, 3, 5), 0, 4),
    )
    def test_basics(self, kwargs, shape, n_trainable, n_non_trainable):
        self.run_layer_test(
            DeltaActivation,
            init_kwargs={"thr_init": 0.3, "sp_rate": 0.01, **kwargs},
            input_shape=shape,
            expected_output_shape=shape,
            expected_num_trainable_weights=n_trainable,
            expected_num_non_trainable_weights=n_non_trainable,
            expected_num_seed_generators=0,
            expected_num_losses=1,
            supports_masking=False,
            # One mixed precision check is enough (it only depends on dtypes).
            run_mixed_precision_check=not kwargs,
        )

    def test_basics_return_stats(self):
        self.run_layer_test(
            DeltaActivation,
            init_kwargs={
                "return_stats": True,
                "max_pooling": 2,
                "threshold_level": "layer-wise",
                "trainable_bias": True,
                "activation": "relu",
            },
            input_shape=(2, 3, 4, 4, 2),
            expected_output_shape=((2, 3, 4, 4, 2), (), ()),
            expected_num_trainable_weights=2,
            expected_num_losses=1,
            # The fit step uses the outputs as targets, and Keras data
            # adapters reject the rank-0 statistics; training is covered by
            # `test_basics` and the training test below.
            run_training_check=False,
            # float16 max pooling has no CPU kernel in TensorFlow.
            run_mixed_precision_check=False,
        )

    def test_weights(self):
        layer = DeltaActivation(thr_init=-0.7, trainable_bias=True)
        layer.build((None, None, 4, 4, 3))
        self.assertEqual(layer.threshold.name, "threshold")
        self.assertEqual(tuple(layer.threshold.shape), (3,))
        self.assertAllClose(layer.threshold, [-0.7] * 3)
        self.assertEqual(layer.bias.name, "bias")
        self.assertAllClose(layer.bias, np.zeros(3))
        layer = DeltaActivation(threshold_level="neuron-wise")
        layer.build((None, 2, 4, 5, 3))
        self.assertEqual(tuple(layer.threshold.shape), (4, 5, 3))
        layer = DeltaActivation(
            threshold_level="layer-wise", thr_trainable=False
        )
        layer.build((None, 2, 6))
        self.assertEqual(tuple(layer.threshold.shape), (1,))
        self.assertFalse(layer.threshold.trainable)
        self.assertIsNone(layer.bias)

    def test_defaults_match_spec(self):
        config = DeltaActivation().get_config()
        expected = {
            "threshold_level": "channel-wise",
            "sp_rate": 1.0,
            "n_outputs": 1.0,
            "thr_init": 0.1,
            "trainable_bias": False,
            "activation": None,
            "max_pooling": None,
            "sigma": False,
            "delta_level": 0,
            "show_metric": False,
            "thr_trainable": True,
            "return_stats": False,
        }
        for key, value in expected.items():
            self.assertEqual(config[key], value, msg=key)

    # ----------------------------------------------------------- faithfulness
    @parameterized.named_parameters(*CASES)
    def test_gradients_match_reference(self, kwargs, level, shape):
        x = slow_video(shape)
        theta = theta_for(level, shape)
        rng = np.random.default_rng(3)
        bias = None
        if kwargs.get("trainable_bias"):
            bias = rng.normal(0, 0.3, shape[-1]).astype("float32")
        upstream = rng.normal(0, 1, shape).astype("float32")
        layer = DeltaActivation(
            threshold_level=level, sp_rate=0.5, n_outputs=3.0,
            return_stats=True, **kwargs
        )
        set_weights(layer, x, theta, bias)
        out, loss, gx, gw = layer_value_and_grads(layer, x, upstream)
        ref_kwargs = {k: v for k, v in kwargs.items() if k != "trainable_bias"}
        ref, ref_gx, ref_gtheta, ref_gbias = np_dal_grads(
            x, theta, upstream, bias=bias, sp_rate=0.5, n_outputs=3.0,
            **ref_kwargs,
        )
        # Forward: output, statistics (float32 scalars) and added loss.
        output, l0, n = out
        self.assertAllClose(output, ref["out"], atol=1e-5)
        self.assertAllClose(l0, ref["l0"])
        self.assertAllClose(n, ref["n"])
        self.assertEqual(keras.backend.standardize_dtype(l0.dtype), "float32")
        self.assertEqual(keras.backend.standardize_dtype(n.dtype), "float32")
        self.assertAllClose(loss, ref["loss"], atol=1e-6)
        # The test data must exercise both zero and nonzero deltas.
        self.assertGreater(ref["l0"], 0)
        self.assertLess(ref["l0"], ref["n"])
        # Backward: input, |threshold| with mixed signs, bias.
        self.assertAllClose(gx, ref_gx, atol=1e-5, rtol=1e-5)
        self.assertAllClose(gw["threshold"], ref_gtheta, atol=1e-4, rtol=1e-5)
        if bias is not None:
            self.assertAllClose(gw["bias"], ref_gbias, atol=1e-4, rtol=1e-5)

    def test_sparsity_loss_gradient_grows_step(self):
        # Only the sparsity loss: d/dq = -c * mean|delta levels| <= 0, so
        # gradient descent increases q (spec §2.5).
        x = slow_video((2, 4, 6), drift=0.5)
        layer = DeltaActivation(threshold_level="layer-wise", thr_init=0.25)
        _, loss, gx, gw = layer_value_and_grads(
            layer, x, np.zeros(x.shape, "float32")
        )
        ref, ref_gx, ref_gtheta, _ = np_dal_grads(
            x, np.array([0.25], "float32"), np.zeros(x.shape, "float32")
        )
        r = ref["r"]
        expected = -np.abs(r[:, :-1] - r[:, 1:]).mean()
        self.assertAllClose(ref_gtheta, [expected], atol=1e-6)
        self.assertAllClose(gw["threshold"], [expected], atol=1e-6)
        self.assertLess(float(ops.convert_to_numpy(gw["threshold"])[0]), 0.0)
        self.assertAllClose(gx, ref_gx, atol=1e-6)
        self.assertAllClose(loss, ref["loss"], atol=1e-6)

    def test_spec_numeric_check_through_layer(self):
        # Spec §2.5 check: a = [0.5, 1.5, 2.5, -0.5, 3.7, 7.2], theta = -2,
        # L = sum(y * [1..6]) per frame: y = [0, 2, 2, -0, 4, 8],
        # dL/da = [1..6], dL/dtheta = +39 per frame (two equal frames: 78).
        a = np.array([0.5, 1.5, 2.5, -0.5, 3.7, 7.2], "float32")
        x = np.stack([a, a])[None]  # (1, 2, 6): zero temporal deltas
        w = np.broadcast_to(np.arange(1, 7, dtype="float32"), x.shape)
        layer = DeltaActivation(threshold_level="layer-wise", thr_init=-2.0)
        out, loss, gx, gw = layer_value_and_grads(layer, x, w)
        self.assertAllEqual(out, np.stack([[0, 2, 2, -0, 4, 8]] * 2)[None])
        self.assertAllEqual(gx, w)
        self.assertAllClose(gw["threshold"], [78.0])
        self.assertAllClose(loss, 0.0)

    @parameterized.named_parameters(
        ("rank5_tuple", (3, 1, 2), (2, 4, 3, 3, 2), (3, 1, 2)),
        ("rank5_single", (3,), (2, 3, 4, 4, 2), (3, 3, 3)),
        ("rank3_int", 3, (2, 4, 5), (3,)),
    )
    def test_max_pooling(self, max_pooling, shape, window):
        x = slow_video(shape, drift=0.4)
        theta = theta_for("channel-wise", shape)
        layer = DeltaActivation(max_pooling=max_pooling, return_stats=True)
        set_weights(layer, x, theta)
        out, l0, n = layer(x)
        ref = np_dal(x, theta, pool=window)
        self.assertAllClose(out, ref["out"], atol=1e-5)
        self.assertAllClose(l0, ref["l0"])
        self.assertAllClose(n, ref["n"])
        self.assertAllClose(layer.losses[0], ref["loss"], atol=1e-6)

    def test_delta_level_semantics(self):
        # Hand-written example (layer-wise step 1, identity activation).
        x = np.array([[[0.2], [1.1], [3.0], [2.9]]], "float32")  # (1, 4, 1)
        y = np.array([[[0.0], [1.0], [3.0], [3.0]]], "float32")
        outputs = {}
        for level in (0, 1, 2):
            layer = DeltaActivation(
                threshold_level="layer-wise", thr_init=1.0, delta_level=level,
                return_stats=True,
            )
            outputs[level], l0, n = layer(x)
            self.assertAllClose(l0, 2.0)  # d = [-1, -2, 0]
            self.assertAllClose(n, 3.0)
            self.assertAllClose(layer.losses[0], 1.0)  # mean |d| = 3 / 3
        self.assertAllClose(outputs[0], y)
        self.assertAllClose(outputs[1], [[[0.0], [1.0], [2.0], [0.0]]])
        self.assertAllClose(outputs[2], [[[-1.0], [-1.0], [-2.0], [0.0]]])

    def test_sigma_integrates_over_time(self):
        x = np.array([[[0.4], [0.4], [0.4]]], "float32")
        layer = DeltaActivation(threshold_level="layer-wise", thr_init=0.5,
                                sigma=True)
        # cumsum = [0.4, 0.8, 1.2] -> round(.8, 1.6, 2.4) * .5 = [.5, 1, 1]
        self.assertAllClose(layer(x), [[[0.5], [1.0], [1.0]]])

    def test_equal_levels_give_exact_zero_deltas_under_xla(self):
        # XLA fuses `r*q` products into the subtraction (FMA), which left
        # 1-ulp residues counted as spikes in 168 of 180 configurations
        # before `_exact_delta`; eager execution (the original) has none.
        for delta_level, level, shape in (
            (0, "neuron-wise", (2, 4, 3, 3, 8)),
            (1, "channel-wise", (4, 4, 12)),
            (2, "channel-wise", (4, 4, 12)),
        ):
            x = slow_video(shape, seed=delta_level)
            theta = theta_for(level, shape, seed=delta_level)
            layer = DeltaActivation(
                threshold_level=level, delta_level=delta_level,
                return_stats=True,
            )
            set_weights(layer, x, theta)
            if keras.backend.backend() == "jax":
                import jax

                weights = [v.value for v in layer.trainable_variables]
                out, l0, _ = jax.jit(
                    lambda x, w: layer.stateless_call(w, [], x)[0]
                )(x, weights)
            else:
                import tensorflow as tf

                out, l0, _ = tf.function(layer, jit_compile=True)(x)
            ref = np_dal(x, theta, delta_level=delta_level)
            with self.subTest(delta_level=delta_level):
                self.assertAllClose(l0, ref["l0"])
                self.assertEqual(
                    np.count_nonzero(ops.convert_to_numpy(out)),
                    np.count_nonzero(ref["out"]),
                )
                self.assertAllClose(out, ref["out"], atol=1e-5)

    def test_zero_thr_init_is_rejected(self):
        # The original divided by |theta| = 0: all-NaN outputs.
        for thr_init in (0, 0.0, -0.0):
            with self.subTest(thr_init=thr_init):
                with self.assertRaisesRegex(
                    ValueError, "`thr_init` must be a non-zero.*thr_init=0"
                ):
                    DeltaActivation(thr_init=thr_init)
        # The sign is irrelevant (|theta| is the step): still accepted.
        layer = DeltaActivation(thr_init=-0.5)
        out = layer(np.full((1, 2, 3), 0.6, "float32"))
        self.assertAllClose(out, np.full((1, 2, 3), 0.5))

    def test_run_time_zero_threshold_is_guarded(self):
        # A theta entry that is 0 at run time (loaded or trained) passes its
        # channel through unquantized, with finite values and gradients;
        # the other channels are the reference exactly.
        x = slow_video((2, 3, 4), drift=0.3)
        theta = np.array([0.25, 0.0, 0.5, 0.1], "float32")
        layer = DeltaActivation(return_stats=True)
        layer.build(x.shape)
        layer.threshold.assign(theta)
        out, l0, _ = layer(x)
        out = ops.convert_to_numpy(out)
        self.assertTrue(np.isfinite(out).all())
        np.testing.assert_array_equal(out[..., 1], x[..., 1])
        keep = theta != 0
        ref = np_dal(x[..., keep], theta[keep])
        self.assertAllClose(out[..., keep], ref["out"])
        y = np.where(keep, np_dal(x, np.where(keep, theta, 1.0))["out"], x)
        self.assertAllClose(l0, np.count_nonzero(y[:, :-1] - y[:, 1:]))

    # ------------------------------------------------------ metrics and model
    def _metric_model(self, **kwargs):
        inp = keras.Input((3, 4))
        out = DeltaActivation(name="dal", show_metric=True, **kwargs)(inp)
        return keras.Model(inp, out)

    def test_show_metric_in_fit_and_evaluate(self):
        # The figures come from the layer's non-trainable totals through
        # SparsityLogger, on every backend (JAX included).
        x = slow_video((6, 3, 4), drift=0.5)
        target = np.zeros_like(x)
        model = self._metric_model(thr_init=0.25, sp_rate=0.5, n_outputs=7.0)
        model.compile(optimizer="sgd", loss="mse")
        logger = SparsityLogger()
        logs = model.evaluate(
            x, target, batch_size=6, return_dict=True, verbose=0,
            callbacks=[logger],
        )
        self.assertLen(model.get_layer("dal").non_trainable_weights, 3)
        logs.update(logger.test_figures)
        theta = np.full((4,), 0.25, "float32")
        ref = np_dal(x, theta, sp_rate=0.5, n_outputs=7.0)
        self.assertAllClose(logs["n_spikes_dal"], ref["l0"] / ref["nf"],
                            atol=1e-5)
        self.assertAllClose(logs["n_neurons_dal"], 4.0)
        self.assertAllClose(logs["n_outputs_dal"], 7.0)
        # The added loss is part of the evaluation loss (spec §2.3 step 10).
        mse = np.mean(ref["out"] ** 2)
        self.assertAllClose(logs["loss"], mse + ref["loss"], atol=1e-5)

        history = model.fit(x, target, batch_size=3, epochs=2, verbose=0,
                            callbacks=[SparsityLogger()])
        for key in ("n_spikes_dal", "n_neurons_dal", "n_outputs_dal"):
            self.assertIn(key, history.history)
            self.assertLen(history.history[key], 2)
        self.assertAllClose(history.history["n_neurons_dal"], [4.0, 4.0])
        self.assertAllClose(history.history["n_outputs_dal"], [7.0, 7.0])
        self.assertGreater(history.history["n_spikes_dal"][0], 0.0)

    def test_functional_model_with_folded_conv_and_save_load(self):
        keras.utils.set_random_seed(0)
        inp = keras.Input((None, 4, 4, 2))
        h = FoldTime()(inp)
        h = keras.layers.Conv2D(3, 3, padding="same", name="conv")(h)
        h = UnfoldTime()(h, reference=inp)
        y, l0, n = DeltaActivation(
            threshold_level="neuron-wise", activation="relu", sigma=True,
            sp_rate=1e-3, n_outputs=9.0, return_stats=True, name="conv_delta",
        )(h)
        y = DeltaActivation(delta_level=1, name="out_delta")(y)
        model = keras.Model(inp, [y, l0, n])
        layer = model.get_layer("conv_delta")
        rng = np.random.default_rng(0)
        layer.threshold.assign(rng.uniform(-0.5, 0.5, (4, 4, 3)))
        x = slow_video((2, 3, 4, 4, 2))
        outputs = model(x)
        self.assertEqual(tuple(outputs[0].shape), (2, 3, 4, 4, 3))
        self.assertAllClose(outputs[2], 2 * 2 * 4 * 4 * 3)
        self.assertLen(model.losses, 2)

        path = os.path.join(self.get_temp_dir(), "dal.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        self.assertIsInstance(loaded.get_layer("conv_delta"), DeltaActivation)
        self.assertEqual(
            loaded.get_layer("conv_delta").get_config(), layer.get_config()
        )
        for ref, new in zip(outputs, loaded(x)):
            self.assertAllClose(ref, new, atol=0, rtol=0)

    def test_mixed_precision_statistics_in_float32(self):
        x = slow_video((2, 3, 4, 4, 3), drift=0.3)
        layer = DeltaActivation(
            dtype="mixed_float16", thr_init=0.2, sp_rate=0.5,
            return_stats=True,
        )
        out, l0, n = layer(x)
        self.assertEqual(keras.backend.standardize_dtype(out.dtype), "float16")
        self.assertEqual(layer.threshold.dtype, "float32")
        for value in (l0, n, layer.losses[0]):
            self.assertEqual(
                keras.backend.standardize_dtype(value.dtype), "float32"
            )
        y = ops.convert_to_numpy(out).astype("float32")
        d = y[:, :-1] - y[:, 1:]
        self.assertAllClose(l0, np.count_nonzero(d))
        self.assertAllClose(n, d.size)
        self.assertAllClose(layer.losses[0], 0.5 * np.abs(d).mean(), atol=1e-6)

    def test_dynamic_single_frame_gives_zeros_not_nan(self):
        self.skip_unless_backend(
            "tensorflow", reason="JAX always traces with static shapes"
        )
        import tensorflow as tf

        layer = DeltaActivation(return_stats=True)
        layer.build((None, None, 4))

        @tf.function(input_signature=[tf.TensorSpec((None, None, 4))])
        def run(x):
            out, l0, n = layer(x)
            return out, l0, n, layer.losses[0]

        out, l0, n, loss = run(np.full((2, 1, 4), 0.3, "float32"))
        self.assertAllClose(out, np.full((2, 1, 4), 0.3))
        self.assertAllClose([l0, n, loss], [0.0, 0.0, 0.0])

    # ------------------------------------------------------------ bad input
    def test_invalid_arguments(self):
        cases = (
            ({"threshold_level": "pixel-wise"}, "threshold_level"),
            ({"activation": "tanh"}, "activation"),
            ({"activation": ops.relu}, "activation"),
            ({"sp_rate": -1.0}, "sp_rate"),
            ({"n_outputs": float("nan")}, "n_outputs"),
            ({"thr_init": "0.1"}, "thr_init"),
            ({"delta_level": 3}, "delta_level"),
            ({"delta_level": True}, "delta_level"),
            ({"max_pooling": 0}, "max_pooling"),
            ({"max_pooling": (2, 2)}, "max_pooling"),
            ({"sigma": 1}, "sigma"),
            ({"trainable_bias": "yes"}, "trainable_bias"),
            ({"show_metric": None}, "show_metric"),
            ({"thr_trainable": 0}, "thr_trainable"),
            ({"return_stats": "no"}, "return_stats"),
        )
        for kwargs, name in cases:
            with self.subTest(name=name, kwargs=repr(kwargs)):
                with self.assertRaisesRegex(
                    ValueError, f"`{name}`.*Received: {name}="
                ):
                    DeltaActivation(**kwargs)

    def test_original_spelling_trainabale_bias_is_rejected(self):
        with self.assertRaisesRegex(ValueError, "`trainable_bias`"):
            DeltaActivation(trainabale_bias=True)

    def test_invalid_input_shape(self):
        cases = (
            ((2, 3, 4, 5), "rank 3"),
            ((2, 3), "rank 3"),
            ((2, 1, 4), "at least 2 frames"),
            ((2, 1, 4, 4, 3), "at least 2 frames"),
        )
        for shape, message in cases:
            with self.subTest(shape=shape):
                with self.assertRaisesRegex(ValueError, message):
                    DeltaActivation()(np.zeros(shape, "float32"))
                with self.assertRaisesRegex(ValueError, message):
                    DeltaActivation()(
                        keras.Input(shape[1:], batch_size=shape[0])
                    )

    def test_called_on_other_shape_than_built(self):
        # Before: a TensorFlow `RealDiv`/`AddV2` shape error from inside.
        cases = (
            ({}, (2, 3, 8), (2, 3, 5), r"\(batch, time, \.\.\., 8\).*"
             r"`threshold` of shape \(8,\).*input_shape=\(2, 3, 5\)"),
            (
                {"threshold_level": "neuron-wise"},
                (2, 3, 4, 4, 2),
                (2, 3, 6, 6, 2),
                r"\(batch, time, 4, 4, 2\).*`threshold` of shape "
                r"\(4, 4, 2\).*Received: input_shape=\(2, 3, 6, 6, 2\)",
            ),
            (
                {"threshold_level": "neuron-wise"},
                (2, 3, 6),
                (2, 3, 4, 4, 6),
                r"\(batch, time, 6\).*input_shape=\(2, 3, 4, 4, 6\)",
            ),
            (
                {"threshold_level": "layer-wise", "trainable_bias": True},
                (2, 3, 8),
                (2, 3, 5),
                r"`bias` of shape \(8,\).*input_shape=\(2, 3, 5\)",
            ),
        )
        for kwargs, built, called, message in cases:
            with self.subTest(kwargs=repr(kwargs), called=called):
                layer = DeltaActivation(**kwargs)
                layer(np.zeros(built, "float32"))
                with self.assertRaisesRegex(ValueError, message):
                    layer(np.zeros(called, "float32"))
                with self.assertRaisesRegex(ValueError, message):
                    layer(keras.Input(called[1:], batch_size=called[0]))
        # What the weights allow still works: other batch, time, frame size.
        layer = DeltaActivation()
        layer(np.zeros((2, 3, 4, 4, 8), "float32"))
        out = layer(np.zeros((1, 5, 6, 6, 8), "float32"))
        self.assertEqual(tuple(out.shape), (1, 5, 6, 6, 8))
        layer = DeltaActivation(threshold_level="layer-wise")
        layer(np.zeros((2, 3, 8), "float32"))
        self.assertEqual(tuple(layer(np.zeros((2, 3, 5), "f4")).shape),
                         (2, 3, 5))

    def test_invalid_pool_for_rank3(self):
        layer = DeltaActivation(max_pooling=(2, 2, 2))
        with self.assertRaisesRegex(ValueError, "max_pooling"):
            layer(np.zeros((2, 3, 4), "float32"))

    def test_neuron_wise_needs_static_features(self):
        layer = DeltaActivation(threshold_level="neuron-wise")
        with self.assertRaisesRegex(ValueError, "neuron-wise"):
            layer.build((None, 3, None, None, 4))

    # -------------------------------------------------------- paper's effect
    @pytest.mark.slow
    def test_training_grows_thresholds_and_sparsifies_deltas(self):
        keras.utils.set_random_seed(1)
        x = slow_video((32, 4, 8), seed=5, drift=0.1)
        labels = (x[:, 0].sum(-1) > 0).astype("float32")[:, None]
        inp = keras.Input((4, 8))
        hidden = keras.layers.Dense(16, activation="relu", name="fc")(inp)
        dal = DeltaActivation(thr_init=0.02, sp_rate=0.05, name="fc_delta")
        h = dal(hidden)
        h = keras.layers.Dense(1, activation="sigmoid")(h)
        out = keras.layers.GlobalAveragePooling1D()(h)
        model = keras.Model(inp, out)
        probe = keras.Model(inp, hidden)

        def density():
            y = ops.convert_to_numpy(dal(probe(x)))
            d = y[:, :-1] - y[:, 1:]
            return np.count_nonzero(d) / d.size

        theta_before = np.abs(ops.convert_to_numpy(dal.threshold)).mean()
        density_before = density()
        model.compile(
            optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy"
        )
        model.fit(x, labels, batch_size=8, epochs=8, verbose=0)
        theta_after = np.abs(ops.convert_to_numpy(dal.threshold)).mean()
        density_after = density()
        self.assertGreater(theta_after, 2 * theta_before)
        self.assertLess(density_after, 0.5 * density_before)
