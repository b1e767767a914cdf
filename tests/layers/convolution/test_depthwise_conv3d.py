"""Tests of `DepthwiseConv3D` against `Conv3D(groups=C)` and a per-channel
NumPy correlation (values, gradients, serialization, dynamic time, JAX)."""

import os

import keras
import numpy as np
from absl.testing import parameterized

from deltasparse.evaluation import count_macs
from deltasparse.layers import DepthwiseConv3D
from deltasparse.testing import TestCase
from deltasparse.testing.subprocess_backend import run_on_backend


def numpy_depthwise_conv3d(x, kernel, strides, padding, bias=None):
    """Per-channel 3-D correlation; Keras/TF "same": ceil(n / s) outputs,
    `max((out - 1) * s + k - n, 0)` zeros, the smaller half before."""
    batch, *sizes, channels = x.shape
    kernel_sizes = kernel.shape[:3]
    pads, outs = [], []
    for n, k, s in zip(sizes, kernel_sizes, strides):
        if padding == "valid":
            pads.append((0, 0))
            outs.append((n - k) // s + 1)
        else:
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
            outs.append(out)
    x = np.pad(x.astype("float64"), [(0, 0)] + pads + [(0, 0)])
    y = np.zeros((batch, *outs, channels))
    for t in range(outs[0]):
        for i in range(outs[1]):
            for j in range(outs[2]):
                window = x[:, t * strides[0]:t * strides[0] + kernel_sizes[0],
                           i * strides[1]:i * strides[1] + kernel_sizes[1],
                           j * strides[2]:j * strides[2] + kernel_sizes[2]]
                for c in range(channels):
                    y[:, t, i, j, c] = np.sum(
                        window[..., c] * kernel[..., 0, c], axis=(1, 2, 3))
    if bias is not None:
        y = y + bias
    return y


def grouped_twin(layer, input_shape):
    """`Conv3D(groups=C)` with `layer`'s configuration and weights."""
    twin = keras.layers.Conv3D(
        layer.filters, layer.kernel_size, strides=layer.strides,
        padding=layer.padding, groups=layer.filters, use_bias=layer.use_bias)
    twin.build(input_shape)
    twin.set_weights(layer.get_weights())
    return twin


def value_and_grads(function, x, variables):
    """`function(x)` and the gradients of `sum(function(x) * weights)` with
    respect to `x` and `variables` (TensorFlow or JAX)."""
    weights = np.random.default_rng(7).normal(
        size=keras.ops.shape(function(x))).astype("float32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        x = tf.Variable(x)
        with tf.GradientTape() as tape:
            y = function(x)
            loss = tf.reduce_sum(y * weights)
        grads = tape.gradient(loss, [x] + [v.value for v in variables])
        return np.asarray(y), [np.asarray(g) for g in grads]
    if keras.backend.backend() == "jax":
        import jax

        def loss(x, values):
            for variable, value in zip(variables, values):
                variable.assign(value)
            return keras.ops.sum(function(x) * weights)

        values = [v.value for v in variables]
        grads = jax.grad(loss, argnums=(0, 1))(x, values)
        for variable, value in zip(variables, values):
            variable.assign(value)
        return (np.asarray(function(x)),
                [np.asarray(grads[0])] + [np.asarray(g) for g in grads[1]])
    raise NotImplementedError(keras.backend.backend())


CASES = [
    ("same_stride_1", 3, (1, 1, 1), "same"),
    ("same_stride_t", 3, (2, 1, 1), "same"),
    ("same_stride_h", 3, (1, 2, 1), "same"),
    ("same_stride_w", 3, (1, 1, 2), "same"),
    ("same_stride_all", 3, (2, 2, 2), "same"),
    ("valid_stride_1", 3, (1, 1, 1), "valid"),
    ("valid_stride_t", (3, 2, 3), (2, 1, 1), "valid"),
    ("valid_stride_hw", (2, 3, 3), (1, 2, 2), "valid"),
    ("same_even_kernel", (2, 2, 3), (2, 1, 2), "same"),
]


class DepthwiseConv3DTest(TestCase):
    def test_basics(self):
        self.run_layer_test(
            DepthwiseConv3D,
            init_kwargs={"kernel_size": 3, "strides": (2, 1, 2),
                         "padding": "same", "use_bias": True},
            input_shape=(2, 5, 6, 7, 3),
            expected_output_shape=(2, 3, 6, 4, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )

    @parameterized.named_parameters(*CASES)
    def test_equals_grouped_conv3d_and_numpy(self, kernel_size, strides,
                                             padding):
        shape = (2, 7, 9, 5, 3)  # odd sizes: uneven "same" padding
        x = np.random.default_rng(0).normal(size=shape).astype("float32")
        layer = DepthwiseConv3D(kernel_size, strides=strides, padding=padding,
                                use_bias=True,
                                bias_initializer="random_normal")
        y = keras.ops.convert_to_numpy(layer(x))
        kernel, bias = layer.get_weights()
        self.assertEqual(kernel.shape[3:], (1, 3))
        want = numpy_depthwise_conv3d(x, kernel, strides, padding, bias)
        self.assertEqual(y.shape, want.shape)
        self.assertAllClose(y, want, atol=1e-5)
        twin = keras.ops.convert_to_numpy(grouped_twin(layer, shape)(x))
        self.assertAllClose(y, twin, atol=1e-5)

    @parameterized.named_parameters(CASES[0], CASES[4], CASES[6])
    def test_gradients_equal_grouped_conv3d(self, kernel_size, strides,
                                            padding):
        shape = (2, 6, 7, 5, 4)
        x = np.random.default_rng(1).normal(size=shape).astype("float32")
        layer = DepthwiseConv3D(kernel_size, strides=strides, padding=padding)
        layer.build(shape)
        twin = grouped_twin(layer, shape)
        y, grads = value_and_grads(layer, x, [layer.kernel])
        y_twin, grads_twin = value_and_grads(twin, x, [twin.kernel])
        self.assertAllClose(y, y_twin, atol=1e-5)
        self.assertAllClose(grads[0], grads_twin[0], atol=1e-5)  # input
        self.assertAllClose(grads[1], grads_twin[1], atol=1e-4)  # kernel
        self.assertGreater(np.abs(grads[1]).max(), 0.1)

    def test_is_a_conv3d_with_the_same_macs(self):
        layer = DepthwiseConv3D(3, strides=2, padding="same", name="dw")
        self.assertIsInstance(layer, keras.layers.Conv3D)
        inputs = keras.Input((8, 16, 16, 6))
        model = keras.Model(inputs, layer(inputs))
        self.assertEqual(layer.groups, 6)
        self.assertEqual(layer.filters, 6)
        self.assertEqual(tuple(layer.kernel.shape), (3, 3, 3, 1, 6))
        # 4 x 8 x 8 outputs x 6 channels x 27 taps.
        self.assertEqual(count_macs(model, (1, 8, 16, 16, 6)).total,
                         4 * 8 * 8 * 6 * 27)

    def test_filters_given_and_config_before_build(self):
        layer = DepthwiseConv3D(3, filters=4, padding="same")
        self.assertEqual(layer.groups, 4)
        config = DepthwiseConv3D(3).get_config()
        self.assertIsNone(config["filters"])
        self.assertIsNone(config["groups"])
        rebuilt = DepthwiseConv3D.from_config(config)
        rebuilt(np.zeros((1, 3, 4, 4, 2), "float32"))
        self.assertEqual(rebuilt.filters, 2)
        built = DepthwiseConv3D.from_config(rebuilt.get_config())
        self.assertEqual((built.filters, built.groups), (2, 2))

    def test_keras_file_round_trip(self):
        inputs = keras.Input((None, 9, 9, 4))
        x = DepthwiseConv3D(3, strides=(2, 2, 1), padding="same",
                            use_bias=True, activation="relu",
                            bias_initializer="random_normal", name="dw")(
                                inputs)
        model = keras.Model(inputs, x)
        clips = np.random.default_rng(2).normal(
            size=(2, 5, 9, 9, 4)).astype("float32")
        path = os.path.join(self.get_temp_dir(), "depthwise.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.get_layer("dw"), DepthwiseConv3D)
        self.assertAllClose(loaded.predict(clips, verbose=0),
                            model.predict(clips, verbose=0), atol=1e-6)
        self.assertGreater(np.abs(model.predict(clips, verbose=0)).max(), 0)

    def test_unknown_clip_length(self):
        layer = DepthwiseConv3D(3, strides=2, padding="same", filters=3)
        self.assertEqual(layer.compute_output_shape((None, None, 9, 8, 3)),
                         (None, None, 5, 4, 3))
        out = layer(keras.Input((None, 9, 8, 3)))
        self.assertEqual(tuple(out.shape), (None, None, 5, 4, 3))
        kernel = layer.get_weights()[0]
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            function = tf.function(layer, input_signature=[
                tf.TensorSpec((None, None, 9, 8, 3), "float32")])
        else:
            function = layer
        for steps in (4, 5, 7):  # even and odd: the "same" split changes
            x = np.random.default_rng(steps).normal(
                size=(1, steps, 9, 8, 3)).astype("float32")
            want = numpy_depthwise_conv3d(x, kernel, (2, 2, 2), "same")
            self.assertAllClose(np.asarray(function(x)), want, atol=1e-5)

    def test_compiled_inside_mobilenetv2_3d(self):
        # Regression: with `ops.pad` for the time padding, TensorFlow's CPU
        # graph rewrites (oneDNN) broke this graph ("AddN must have the same
        # size and shape") while eager calls worked.
        self.skip_unless_backend("tensorflow", reason="a TensorFlow graph "
                                 "rewrite regression")
        from deltasparse.models.mobilenetv2_3d import MobileNetV2_3DBackbone

        model = MobileNetV2_3DBackbone(0.2, image_size=(32, 32))
        clips = np.random.default_rng(3).normal(
            size=(2, 8, 32, 32, 3)).astype("float32")
        self.assertAllClose(model.predict_on_batch(clips), model(clips),
                            atol=1e-4)

    def test_invalid_arguments(self):
        with self.assertRaisesRegex(ValueError, "`filters` and `groups`.*"
                                    "Received: filters=4, groups=2"):
            DepthwiseConv3D(3, filters=4, groups=2)
        with self.assertRaisesRegex(ValueError, "`dilation_rate`.*Received"):
            DepthwiseConv3D(3, dilation_rate=2)
        with self.assertRaisesRegex(ValueError, "`data_format`.*Received"):
            DepthwiseConv3D(3, data_format="channels_first")
        with self.assertRaisesRegex(ValueError, "needs inputs with 4 "
                                    "channels.*Received: input_shape"):
            DepthwiseConv3D(3, filters=4)(np.zeros((1, 3, 4, 4, 2),
                                                   "float32"))
        with self.assertRaisesRegex(ValueError, "channel axis.*Received"):
            DepthwiseConv3D(3).build((None, 3, 4, 4, None))


JAX_SCRIPT = """
import json
import numpy as np
import keras
from deltasparse.layers import DepthwiseConv3D
from tests.layers.convolution.test_depthwise_conv3d import (
    numpy_depthwise_conv3d)
import jax
x = np.random.default_rng(0).normal(size=(2, 7, 9, 5, 3)).astype("float32")
layer = DepthwiseConv3D(3, strides=(2, 2, 1), padding="same")
layer.build(x.shape)
y = np.asarray(jax.jit(layer)(x))
want = numpy_depthwise_conv3d(x, layer.get_weights()[0], (2, 2, 1), "same")
print(json.dumps({"backend": keras.backend.backend(),
                  "error": float(np.abs(y - want).max()),
                  "shape": list(y.shape)}))
"""


class DepthwiseConv3DJaxTest(TestCase):
    def test_jax_backend_in_a_subprocess(self):
        if keras.backend.backend() == "jax":
            self.skipTest("already on JAX: the tests above cover it")
        # The backend is fixed at import time: JAX runs in its own process
        # (the JAX job also runs the tests above with KERAS_BACKEND=jax).
        result = run_on_backend("jax", JAX_SCRIPT)
        self.assertEqual(result["backend"], "jax")
        self.assertEqual(result["shape"], [2, 4, 5, 5, 3])
        self.assertLess(result["error"], 1e-5)
