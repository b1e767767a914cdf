"""Tests of `ConvMinimalRNN2D` against a NumPy reference of spec §3.2.

The reference below is written from the spec, independently of the layer:
u_t = sigmoid(conv(x_t, W; s, p, d) + b + conv(h_{t-1}, U; 1, "same")),
h_t = (1 - u_t) * h_{t-1} + u_t * x_t, h_0 = 0. Convolutions follow the
TensorFlow/JAX "same" convention (extra padding at the bottom/right).
"""

import os

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from deltasparse.layers.rnn.conv_minimal_rnn import ConvMinimalRNN2D
from deltasparse.layers.rnn.conv_minimal_rnn import ConvMinimalRNN2DCell
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.testing import TestCase

# --------------------------------------------------------------------------
# NumPy reference (float64)
# --------------------------------------------------------------------------


def np_conv2d(x, w, strides=(1, 1), padding="same", dilation=(1, 1)):
    """Cross-correlation, NHWC input, HWIO kernel, TF padding convention."""
    _, h, w_in, _ = x.shape
    kh, kw = w.shape[:2]
    (sh, sw), (dh, dw) = strides, dilation
    if padding == "same":
        ho, wo = -(-h // sh), -(-w_in // sw)
        pad_h = max((ho - 1) * sh + (kh - 1) * dh + 1 - h, 0)
        pad_w = max((wo - 1) * sw + (kw - 1) * dw + 1 - w_in, 0)
        x = np.pad(
            x,
            (
                (0, 0),
                (pad_h // 2, pad_h - pad_h // 2),
                (pad_w // 2, pad_w - pad_w // 2),
                (0, 0),
            ),
        )
    else:
        ho = (h - (kh - 1) * dh - 1) // sh + 1
        wo = (w_in - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((x.shape[0], ho, wo, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[
                :,
                i * dh : i * dh + (ho - 1) * sh + 1 : sh,
                j * dw : j * dw + (wo - 1) * sw + 1 : sw,
                :,
            ]
            out += np.einsum("bhwc,co->bhwo", patch, w[i, j])
    return out


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_minimal_rnn(
    x,
    kernel,
    recurrent_kernel,
    bias=None,
    padding="same",
    dilation=(1, 1),
    mask=None,
    go_backwards=False,
    strides=(1, 1),
    x_mask=None,
    h_mask=None,
):
    """Returns (outputs in processing order, last state)."""
    x = np.asarray(x, np.float64)
    steps = list(range(x.shape[1]))
    if go_backwards:
        steps = steps[::-1]
    h = np.zeros(x[:, 0].shape)
    prev_out = np.zeros_like(h)
    outs = []
    for t in steps:
        xt = x[:, t]
        xg = xt if x_mask is None else xt * x_mask
        hg = h if h_mask is None else h * h_mask
        z = np_conv2d(
            xg, kernel, strides=strides, padding=padding, dilation=dilation
        )
        if bias is not None:
            z = z + bias
        z = z + np_conv2d(hg, recurrent_kernel, padding="same")
        u = np_sigmoid(z)
        h_new = (1.0 - u) * h + u * xt
        if mask is not None:
            keep = mask[:, t].reshape(-1, 1, 1, 1).astype(bool)
            h_new = np.where(keep, h_new, h)
            out = np.where(keep, h_new, prev_out)
        else:
            out = h_new
        h = h_new
        prev_out = out
        outs.append(out)
    return np.stack(outs, axis=1), h


def random_weights(rng, kernel_size, channels, scale=0.4):
    shape = tuple(kernel_size) + (channels, channels)
    return (
        rng.normal(0, scale, shape),
        rng.normal(0, scale, shape),
        rng.normal(0, 0.5, (channels,)),
    )


def make_rnn(*args, **kwargs):
    """A layer whose weights the test overwrites: cheap zeros init (random
    initializers cost a JAX compilation per new shape)."""
    kwargs.setdefault("kernel_initializer", "zeros")
    kwargs.setdefault("recurrent_initializer", "zeros")
    return ConvMinimalRNN2D(*args, **kwargs)


def set_weights(layer, kernel, recurrent_kernel, bias=None):
    values = [kernel, recurrent_kernel] + ([] if bias is None else [bias])
    layer.set_weights([np.asarray(v, "float32") for v in values])


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def backend_gradients(layer, x, weights_out):
    """d sum(layer(x) * weights_out) / d (x, *trainable weights)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.reduce_sum(layer(xt) * weights_out)
        grads = tape.gradient(loss, [xt] + layer.trainable_variables)
        return [np.asarray(g) for g in grads]
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(tv, xx):
            out, _ = layer.stateless_call(tv, non_trainable, xx)
            return jnp.sum(out * weights_out)

        g_tv, g_x = jax.grad(loss_fn, argnums=(0, 1))(trainable, x)
        return [np.asarray(g_x)] + [np.asarray(g) for g in g_tv]
    pytest.skip(f"no autodiff helper for backend {backend}")


def moving_dot_videos(rng, n, steps, size):
    """A Gaussian dot (sigma 1) moving diagonally, one pixel per frame."""
    rows, cols = np.mgrid[0:size, 0:size]
    videos = np.zeros((n, steps, size, size, 1), "float32")
    for i in range(n):
        r, c = rng.uniform(2, size - 3, 2)
        dr, dc = rng.choice([-1, 1], 2)
        for t in range(steps):
            d2 = (rows - r - dr * t) ** 2 + (cols - c - dc * t) ** 2
            videos[i, t, :, :, 0] = np.exp(-d2 / 2.0)
    return videos


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


class ConvMinimalRNN2DTest(TestCase):
    def test_basics(self):
        # Serialization, build, symbolic + eager call, one fit step,
        # mixed precision. return_sequences=False is covered below.
        self.run_layer_test(
            ConvMinimalRNN2D,
            init_kwargs={
                "filters": 3,
                "kernel_size": 3,
                "padding": "same",
                "return_sequences": True,
                "recurrent_dropout": 0.5,
            },
            input_shape=(2, 3, 5, 5, 3),
            call_kwargs={"training": True},
            # fit under jit, dropout included, is covered (once, to save a
            # JAX compilation) by test_training_next_frame_predictor.
            run_training_check=False,
            expected_output_shape=(2, 3, 5, 5, 3),
            expected_num_trainable_weights=3,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
            supports_masking=True,
        )

    def test_cell_basics(self):
        cell = ConvMinimalRNN2DCell(
            2,
            (3, 1),
            padding="same",
            use_bias=False,
            kernel_initializer="zeros",
            recurrent_initializer="zeros",
        )
        rnn = keras.layers.RNN(cell, return_sequences=True)
        x = np.random.default_rng(0).random((2, 3, 4, 4, 2), "float32")
        self.assertEqual(tuple(rnn(x).shape), (2, 3, 4, 4, 2))
        self.assertEqual(
            [w.name for w in cell.weights], ["kernel", "recurrent_kernel"]
        )
        self.assertEqual(tuple(cell.kernel.shape), (3, 1, 2, 2))
        clone = ConvMinimalRNN2DCell.from_config(cell.get_config())
        self.assertEqual(clone.get_config(), cell.get_config())

    def test_weights(self):
        layer = ConvMinimalRNN2D(3, 3, padding="same")
        layer.build((None, None, 5, 5, 3))
        self.assertEqual(
            [(w.name, tuple(w.shape)) for w in layer.weights],
            [
                ("kernel", (3, 3, 3, 3)),
                ("recurrent_kernel", (3, 3, 3, 3)),
                ("bias", (3,)),
            ],
        )
        # Default orthogonal recurrent init: orthonormal columns of the
        # (kh * kw * C, C) reshape, gain 1.
        u = to_numpy(layer.cell.recurrent_kernel).reshape(-1, 3)
        self.assertAllClose(u.T @ u, np.eye(3), atol=1e-5)
        self.assertAllClose(to_numpy(layer.cell.bias), np.zeros(3))

    def test_correctness_constant_weights(self):
        # 1x1 frame, 1 channel, kernel 1, recurrent kernel 0, x_t = 1:
        # u = sigmoid(1) at every step and h_t = 1 - (1 - u)^t.
        layer = ConvMinimalRNN2D(
            1,
            1,
            kernel_initializer=keras.initializers.Constant(1.0),
            recurrent_initializer=keras.initializers.Constant(0.0),
            return_sequences=True,
        )
        out = to_numpy(layer(np.ones((1, 4, 1, 1, 1), "float32")))
        u = 1.0 / (1.0 + np.exp(-1.0))
        expected = 1.0 - (1.0 - u) ** np.arange(1, 5)
        self.assertAllClose(out.reshape(4), expected, atol=1e-6)

    @parameterized.named_parameters(
        ("same_3x3", 3, "same", 1, False),
        ("same_3x2_dilated", (3, 2), "same", (2, 1), False),
        ("same_unrolled", 3, "same", 1, True),
        ("valid_1x1", 1, "valid", 1, False),
    )
    def test_correctness_vs_numpy(self, kernel_size, padding, dilation, unroll):
        rng = np.random.default_rng(1)
        channels = 3
        ks = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
        dil = (dilation,) * 2 if isinstance(dilation, int) else dilation
        kernel, recurrent_kernel, bias = random_weights(rng, ks, channels)
        x = rng.random((2, 4, 5, 6, channels)).astype("float32")
        layer = make_rnn(
            channels,
            kernel_size,
            padding=padding,
            dilation_rate=dilation,
            return_sequences=True,
            return_state=True,
            unroll=unroll,
        )
        layer.build(x.shape)
        set_weights(layer, kernel, recurrent_kernel, bias)
        outputs, state = layer(x)
        ref_out, ref_state = np_minimal_rnn(
            x, kernel, recurrent_kernel, bias, padding=padding, dilation=dil
        )
        self.assertAllClose(to_numpy(outputs), ref_out, atol=1e-5)
        self.assertAllClose(to_numpy(state), ref_state, atol=1e-5)
        # return_sequences=False returns the last step (== final state).
        last = make_rnn(
            channels, kernel_size, padding=padding, dilation_rate=dilation
        )
        last.build(x.shape)
        set_weights(last, kernel, recurrent_kernel, bias)
        self.assertAllClose(to_numpy(last(x)), ref_state, atol=1e-5)

    def test_gradients_vs_finite_differences(self):
        rng = np.random.default_rng(2)
        channels = 2
        kernel, recurrent_kernel, bias = random_weights(rng, (3, 3), channels)
        x = rng.random((1, 3, 4, 4, channels))
        r = rng.normal(size=(1, 3, 4, 4, channels))
        layer = make_rnn(
            channels, 3, padding="same", return_sequences=True
        )
        layer.build(x.shape)
        set_weights(layer, kernel, recurrent_kernel, bias)
        grads = backend_gradients(
            layer, x.astype("float32"), r.astype("float32")
        )

        params = [x, kernel, recurrent_kernel, bias]

        def loss(p):
            out, _ = np_minimal_rnn(p[0], p[1], p[2], p[3])
            return np.sum(out * r)

        eps = 1e-6
        for i, (param, grad) in enumerate(zip(params, grads)):
            numeric = np.zeros(param.shape)
            for idx in np.ndindex(param.shape):
                plus = [p.copy() for p in params]
                minus = [p.copy() for p in params]
                plus[i][idx] += eps
                minus[i][idx] -= eps
                numeric[idx] = (loss(plus) - loss(minus)) / (2 * eps)
            self.assertAllClose(grad, numeric, atol=2e-4, rtol=2e-3)

    def test_variable_time_and_frame_size(self):
        rng = np.random.default_rng(3)
        kernel, recurrent_kernel, bias = random_weights(rng, (3, 3), 2)
        inputs = keras.Input((None, None, None, 2))
        layer = make_rnn(
            2, 3, padding="same", return_sequences=True, unroll=True
        )
        outputs = layer(inputs)
        self.assertEqual(tuple(outputs.shape), (None, None, None, None, 2))
        model = keras.Model(inputs, outputs)
        set_weights(layer, kernel, recurrent_kernel, bias)
        for shape in [(2, 2, 5, 5, 2), (1, 4, 4, 6, 2)]:
            x = rng.random(shape).astype("float32")
            ref, _ = np_minimal_rnn(x, kernel, recurrent_kernel, bias)
            self.assertAllClose(
                model.predict(x, verbose=0), ref, atol=1e-5
            )

    def test_go_backwards(self):
        rng = np.random.default_rng(4)
        kernel, recurrent_kernel, bias = random_weights(rng, (3, 3), 2)
        x = rng.random((2, 3, 4, 4, 2)).astype("float32")
        layer = make_rnn(
            2,
            3,
            padding="same",
            go_backwards=True,
            return_sequences=True,
            return_state=True,
        )
        layer.build(x.shape)
        set_weights(layer, kernel, recurrent_kernel, bias)
        outputs, state = layer(x)
        ref_out, ref_state = np_minimal_rnn(
            x, kernel, recurrent_kernel, bias, go_backwards=True
        )
        self.assertAllClose(to_numpy(outputs), ref_out, atol=1e-5)
        self.assertAllClose(to_numpy(state), ref_state, atol=1e-5)
        # Processing order == forward pass over the reversed clip.
        forward, _ = np_minimal_rnn(x[:, ::-1], kernel, recurrent_kernel, bias)
        self.assertAllClose(ref_out, forward)

    @parameterized.named_parameters(
        ("loop", False, False),
        ("unrolled", True, False),
        ("backwards", False, True),
    )
    def test_masking(self, unroll, go_backwards):
        rng = np.random.default_rng(5)
        kernel, recurrent_kernel, bias = random_weights(rng, (3, 3), 2)
        x = rng.random((2, 4, 4, 4, 2)).astype("float32")
        mask = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], bool)
        layer = make_rnn(
            2,
            3,
            padding="same",
            return_sequences=True,
            return_state=True,
            unroll=unroll,
            go_backwards=go_backwards,
        )
        layer.build(x.shape)
        set_weights(layer, kernel, recurrent_kernel, bias)
        outputs, state = layer(x, mask=mask)
        ref_out, ref_state = np_minimal_rnn(
            x,
            kernel,
            recurrent_kernel,
            bias,
            mask=mask,
            go_backwards=go_backwards,
        )
        self.assertAllClose(to_numpy(outputs), ref_out, atol=1e-5)
        self.assertAllClose(to_numpy(state), ref_state, atol=1e-5)

    def test_masking_layer_on_padded_clip(self):
        # A keras.layers.Masking mask is per pixel, (B, T, H, W); the layer
        # reduces it to per step: a frame that is all padding is skipped.
        rng = np.random.default_rng(6)
        kernel, recurrent_kernel, bias = random_weights(rng, (3, 3), 2)
        x = rng.random((2, 3, 4, 4, 2)).astype("float32") + 0.1
        x[0, 2] = -1.0  # padded frame
        x[1, 1, 0, 0] = -1.0  # a single padded-looking pixel: not masked
        inputs = keras.Input((None, 4, 4, 2))
        masked = keras.layers.Masking(mask_value=-1.0)(inputs)
        layer = make_rnn(2, 3, padding="same", return_sequences=True)
        outputs = layer(masked)
        model = keras.Model(inputs, outputs)
        set_weights(layer, kernel, recurrent_kernel, bias)
        mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
        # Masking also zeroes the masked pixels of its output.
        x_masked = x * np.any(x != -1.0, axis=-1, keepdims=True)
        ref, _ = np_minimal_rnn(
            x_masked, kernel, recurrent_kernel, bias, mask=mask
        )
        self.assertAllClose(model.predict(x, verbose=0), ref, atol=1e-5)

    def test_dropout_masks_reused_over_steps(self):
        rng = np.random.default_rng(7)
        kernel, recurrent_kernel, bias = random_weights(rng, (3, 3), 2)
        x = rng.random((2, 3, 4, 4, 2)).astype("float32")
        layer = make_rnn(
            2,
            3,
            padding="same",
            dropout=0.5,
            recurrent_dropout=0.25,
            return_sequences=True,
            seed=1,
        )
        layer.build(x.shape)
        set_weights(layer, kernel, recurrent_kernel, bias)
        ref, _ = np_minimal_rnn(x, kernel, recurrent_kernel, bias)
        # Inference: no dropout.
        self.assertAllClose(to_numpy(layer(x, training=False)), ref, atol=1e-5)

        # Training: record the drawn masks, then check the whole sequence
        # against the reference using those same masks at every step, on the
        # conv inputs only.
        drawn = []
        original_draw = layer.cell._draw_mask

        def recording_draw(like, rate):
            mask = original_draw(like, rate)
            drawn.append((rate, to_numpy(mask)))
            return mask

        layer.cell._draw_mask = recording_draw
        out = to_numpy(layer(x, training=True))
        self.assertEqual([rate for rate, _ in drawn], [0.5, 0.25])
        x_mask, h_mask = drawn[0][1], drawn[1][1]
        self.assertEqual(x_mask.shape, (2, 4, 4, 2))
        self.assertAllClose(np.unique(x_mask), [0.0, 2.0])
        self.assertAllClose(np.unique(h_mask), [0.0, 4.0 / 3.0])
        ref_drop, _ = np_minimal_rnn(
            x, kernel, recurrent_kernel, bias, x_mask=x_mask, h_mask=h_mask
        )
        self.assertAllClose(out, ref_drop, atol=1e-5)
        self.assertNotAllClose(out, ref)
        # Masks are per call: cleared afterwards, redrawn next time.
        self.assertIsNone(layer.cell._dropout_mask)
        self.assertIsNone(layer.cell._recurrent_dropout_mask)

    def test_cell_dropout_needs_prepared_masks(self):
        cell = ConvMinimalRNN2DCell(
            2,
            3,
            padding="same",
            dropout=0.5,
            kernel_initializer="zeros",
            recurrent_initializer="zeros",
        )
        frame = np.ones((1, 4, 4, 2), "float32")
        state = [np.zeros((1, 4, 4, 2), "float32")]
        with self.assertRaisesRegex(ValueError, "Received: dropout=0.5"):
            cell(frame, state, training=True)
        # Inference needs no mask; a prepared mask is used and kept.
        cell(frame, state, training=False)
        mask = cell.get_dropout_mask(frame)
        self.assertIs(cell.get_dropout_mask(frame), mask)
        out, _ = cell(frame, state, training=True)
        self.assertEqual(tuple(out.shape), (1, 4, 4, 2))
        cell.reset_dropout_mask()
        self.assertIsNone(cell._dropout_mask)

    def test_activation_is_unused(self):
        rng = np.random.default_rng(8)
        weights = random_weights(rng, (3, 3), 2)
        x = rng.random((1, 3, 4, 4, 2)).astype("float32")
        outs = []
        for activation in ("tanh", "relu"):
            layer = make_rnn(
                2, 3, padding="same", activation=activation
            )
            layer.build(x.shape)
            set_weights(layer, *weights)
            outs.append(to_numpy(layer(x)))
        self.assertAllClose(outs[0], outs[1])
        self.assertEqual(layer.get_config()["activation"], "relu")

    def test_stateful(self):
        rng = np.random.default_rng(9)
        weights = random_weights(rng, (3, 3), 2)
        x = rng.random((2, 4, 4, 4, 2)).astype("float32")
        layer = make_rnn(
            2, 3, padding="same", stateful=True, return_sequences=True
        )
        layer.build(x[:, :2].shape)
        set_weights(layer, *weights)
        first = to_numpy(layer(x[:, :2]))
        second = to_numpy(layer(x[:, 2:]))
        ref, _ = np_minimal_rnn(x, *weights)
        self.assertAllClose(np.concatenate([first, second], 1), ref, atol=1e-5)
        layer.reset_state()
        self.assertAllClose(to_numpy(layer(x[:, :2])), first, atol=1e-6)

    def test_config_round_trip(self):
        layer = ConvMinimalRNN2D(
            4,
            (3, 5),
            padding="SAME",
            dilation_rate=(1, 2),
            recurrent_activation="hard_sigmoid",
            use_bias=False,
            kernel_regularizer="l2",
            dropout=0.1,
            recurrent_dropout=0.2,
            return_sequences=True,
            return_state=True,
            go_backwards=True,
            unroll=True,
            seed=3,
            name="crnn",
        )
        config = layer.get_config()
        self.assertNotIn("cell", config)
        self.assertEqual(config["padding"], "same")
        self.assertEqual(config["kernel_size"], (3, 5))
        self.assertEqual(config["activation"], "tanh")
        clone = ConvMinimalRNN2D.from_config(config)
        self.assertEqual(clone.get_config(), config)
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)
        )
        self.assertIsInstance(restored, ConvMinimalRNN2D)
        self.assertEqual(restored.get_config(), config)

    def test_keras_file_round_trip(self):
        rng = np.random.default_rng(10)
        inputs = keras.Input((None, 5, 5, 3))
        outputs = ConvMinimalRNN2D(
            3,
            3,
            padding="same",
            return_sequences=True,
            kernel_regularizer="l2",
            bias_initializer="ones",
            name="crnn",
        )(inputs)
        model = keras.Model(inputs, outputs)
        x = rng.random((2, 3, 5, 5, 3)).astype("float32")
        expected = to_numpy(model(x))
        path = os.path.join(self.get_temp_dir(), "crnn.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        layer = loaded.get_layer("crnn")
        self.assertIsInstance(layer, ConvMinimalRNN2D)
        self.assertEqual(
            layer.get_config(), model.get_layer("crnn").get_config()
        )
        self.assertAllClose(to_numpy(loaded(x)), expected, atol=1e-6)
        self.assertLen(loaded.losses, 1)

    @parameterized.named_parameters(
        ("filters_ne_channels", {"filters": 4}, "must equal the number of"),
        (
            "stride_changes_size",
            {"strides": 2, "padding": "same"},
            "must keep the frame size",
        ),
    )
    def test_invalid_at_build(self, kwargs, message):
        kwargs = {"filters": 3, "kernel_size": 3, "padding": "same", **kwargs}
        layer = ConvMinimalRNN2D(**kwargs)
        with self.assertRaisesRegex(ValueError, message):
            layer(np.zeros((1, 2, 6, 6, 3), "float32"))

    @parameterized.named_parameters(
        ("valid_3x3", {"padding": "valid"}, "padding=valid"),
        ("bad_padding", {"padding": "causal"}, "Received: padding=causal"),
        ("dropout", {"dropout": 1.0}, "Received: dropout=1.0"),
        (
            "recurrent_dropout",
            {"recurrent_dropout": -0.1},
            "Received: recurrent_dropout=-0.1",
        ),
        ("kernel_size", {"kernel_size": (3, 3, 3)}, "Received: kernel_size"),
        ("filters", {"filters": 0}, "Received: filters=0"),
        (
            "stride_and_dilation",
            {"strides": 2, "dilation_rate": 2},
            "Received: strides=",
        ),
    )
    def test_invalid_arguments(self, kwargs, message):
        kwargs = {"filters": 3, "kernel_size": 3, "padding": "same", **kwargs}
        with self.assertRaisesRegex(ValueError, message):
            ConvMinimalRNN2D(**kwargs)

    @parameterized.named_parameters(
        ("same_width_1", (1, 2), 3, "same", (2, 3, 4, 1, 2)),
        ("same_1x1_frames", (2, 2), 3, "same", (2, 3, 1, 1, 2)),
        ("same_height_1", (3, 1), (3, 2), "same", (2, 3, 1, 5, 2)),
        ("valid_1x1_kernel", (2, 1), 1, "valid", (2, 3, 1, 4, 2)),
    )
    def test_strided_vs_numpy(self, strides, kernel_size, padding, shape):
        # Strides > 1 keep the frame size only along axes of length 1 (the
        # state must keep it); there the strided input convolution must
        # match an independent strided NumPy convolution, by value.
        rng = np.random.default_rng(21)
        ks = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
        kernel, recurrent_kernel, bias = random_weights(rng, ks, shape[-1])
        x = rng.random(shape).astype("float32")
        layer = make_rnn(
            shape[-1],
            kernel_size,
            strides=strides,
            padding=padding,
            return_sequences=True,
        )
        layer.build(x.shape)
        set_weights(layer, kernel, recurrent_kernel, bias)
        out = to_numpy(layer(x))
        ref, _ = np_minimal_rnn(
            x,
            kernel,
            recurrent_kernel,
            bias,
            padding=padding,
            strides=strides,
        )
        self.assertEqual(out.shape, shape)
        self.assertAllClose(out, ref, atol=1e-5)

    def test_default_arguments_are_usable(self):
        # Before: ConvMinimalRNN2D(4, 3) was refused (default 'valid').
        rng = np.random.default_rng(22)
        x = rng.random((2, 3, 6, 6, 4)).astype("float32")
        layer = ConvMinimalRNN2D(4, 3)
        self.assertEqual(layer.padding, "same")
        self.assertEqual(ConvMinimalRNN2DCell(4, 3).padding, "same")
        layer.build(x.shape)
        weights = random_weights(rng, (3, 3), 4)
        set_weights(layer, *weights)
        _, ref_state = np_minimal_rnn(x, *weights)
        self.assertAllClose(to_numpy(layer(x)), ref_state, atol=1e-5)
        # An explicit 'valid' still means 'valid' (1x1 kernels only).
        self.assertEqual(ConvMinimalRNN2D(4, 1, padding="valid").padding,
                         "valid")

    def test_zero_time_steps(self):
        # Before: a TensorFlow `StridedSlice` error from inside the layer.
        message = (
            r"at least 1 time step.*Received: input_shape=\(2, 0, 6, 6, 3\)"
        )
        layer = make_rnn(3, 3)
        with self.assertRaisesRegex(ValueError, message):
            layer(np.zeros((2, 0, 6, 6, 3), "float32"))
        layer(np.zeros((2, 2, 6, 6, 3), "float32"))  # built: still checked
        with self.assertRaisesRegex(ValueError, message):
            layer(np.zeros((2, 0, 6, 6, 3), "float32"))
        with self.assertRaisesRegex(ValueError, r"at least 1 time step"):
            make_rnn(3, 3)(keras.Input((0, 6, 6, 3)))

    def test_called_on_other_channels_than_built(self):
        layer = make_rnn(4, 3)
        layer(np.zeros((2, 2, 6, 6, 4), "float32"))
        message = (
            r"`filters` \(4\) must equal the number of input channels.*"
            r"Received: filters=4, input_shape=\(2, 2, 6, 6, 5\)"
        )
        with self.assertRaisesRegex(ValueError, message):
            layer(np.zeros((2, 2, 6, 6, 5), "float32"))
        with self.assertRaisesRegex(ValueError, message):
            layer(keras.Input((2, 6, 6, 5), batch_size=2))
        # Other frame sizes are fine for a non-stateful layer.
        out = layer(np.zeros((1, 3, 5, 7, 4), "float32"))
        self.assertEqual(tuple(out.shape), (1, 5, 7, 4))

    def test_stateful_called_on_other_frame_size(self):
        layer = make_rnn(2, 3, stateful=True)
        layer(np.zeros((2, 2, 4, 4, 2), "float32"))
        with self.assertRaisesRegex(
            ValueError, r"frame size \(4, 4\).*input_shape=\(2, 2, 5, 5, 2\)"
        ):
            layer(np.zeros((2, 2, 5, 5, 2), "float32"))

    def test_mixed_precision(self):
        rng = np.random.default_rng(11)
        weights = random_weights(rng, (3, 3), 3)
        x = rng.random((2, 3, 5, 5, 3), "float32")
        layer = make_rnn(
            3, 3, padding="same", return_sequences=True, dtype="mixed_float16"
        )
        layer.build(x.shape)
        set_weights(layer, *weights)
        out = layer(x)
        self.assertEqual(keras.backend.standardize_dtype(out.dtype), "float16")
        self.assertEqual(layer.cell.kernel.dtype, "float32")
        ref, _ = np_minimal_rnn(x, *weights)
        self.assertAllClose(to_numpy(out).astype("float32"), ref, atol=5e-3)

    @pytest.mark.slow  # ~8 s CPU on JAX (compiling the train step)
    def test_training_next_frame_predictor(self):
        # Tiny next-frame predictor on moving-dot videos, trained with fit
        # in graph mode (tf.function / jax.jit): the loss must fall well
        # below both the untrained loss and the predict-zeros baseline.
        keras.utils.set_random_seed(0)
        videos = moving_dot_videos(np.random.default_rng(12), 32, 4, 8)
        x, y = videos[:, :-1], videos[:, 1:]
        inputs = keras.Input((None, 8, 8, 1))
        h = FoldTime()(inputs)
        h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
        h = UnfoldTime()(h, reference=inputs)
        h = ConvMinimalRNN2D(
            8,
            3,
            padding="same",
            return_sequences=True,
            dropout=0.1,
            recurrent_dropout=0.1,
        )(h)
        h = FoldTime()(h)
        h = keras.layers.Conv2D(1, 3, padding="same")(h)
        outputs = UnfoldTime()(h, reference=inputs)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(0.01), loss="mse", run_eagerly=False
        )
        initial = float(np.mean((to_numpy(model(x)) - y) ** 2))
        history = model.fit(x, y, batch_size=8, epochs=15, verbose=0)
        final = history.history["loss"][-1]
        self.assertLess(final, 0.7 * min(initial, float(np.mean(y**2))))
