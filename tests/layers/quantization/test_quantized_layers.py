"""Tests of the QAT layers: each one equals its float twin run with the
NumPy fake-quantized kernel (per output channel), passes `run_layer_test`
(serialization, fit step, mixed precision) and round-trips through
`.keras`; the kernel gradient is the float layer's (straight through)."""

import os

import keras
import numpy as np
from absl.testing import parameterized

from deltasparse.layers import DepthwiseConv3D
from deltasparse.layers.quantization import QuantizedConv2D
from deltasparse.layers.quantization import QuantizedConv3D
from deltasparse.layers.quantization import QuantizedDense
from deltasparse.layers.quantization import QuantizedDepthwiseConv2D
from deltasparse.layers.quantization import QuantizedDepthwiseConv3D
from deltasparse.testing import TestCase
from tests.ops.test_fake_quantization import np_fake_quantize

# (quantized class, float twin, init arguments, input shape, kept axes of the
# kernel's output channels)
CASES = {
    "conv2d": (QuantizedConv2D, keras.layers.Conv2D,
               {"filters": 4, "kernel_size": 3}, (2, 8, 8, 3), (-1,)),
    "grouped_conv2d": (QuantizedConv2D, keras.layers.Conv2D,
                       {"filters": 4, "kernel_size": 3, "groups": 2},
                       (2, 8, 8, 4), (-1,)),
    "conv3d": (QuantizedConv3D, keras.layers.Conv3D,
               {"filters": 4, "kernel_size": 3, "padding": "same"},
               (1, 4, 8, 8, 3), (-1,)),
    "grouped_conv3d": (QuantizedConv3D, keras.layers.Conv3D,
                       {"filters": 6, "kernel_size": (1, 3, 3), "groups": 3},
                       (1, 4, 8, 8, 3), (-1,)),
    "depthwise_conv2d": (QuantizedDepthwiseConv2D,
                         keras.layers.DepthwiseConv2D,
                         {"kernel_size": 3, "depth_multiplier": 2},
                         (2, 8, 8, 3), (2, 3)),
    "depthwise_conv3d": (QuantizedDepthwiseConv3D, DepthwiseConv3D,
                         {"kernel_size": 3, "padding": "same", "use_bias": True},
                         (1, 4, 8, 8, 3), (-1,)),
    "dense": (QuantizedDense, keras.layers.Dense, {"units": 5},
              (2, 7), (-1,)),
}


def numpy_quantized_kernel(kernel, bits, axes, symmetric=False):
    kept = {a % kernel.ndim for a in axes}
    reduced = tuple(a for a in range(kernel.ndim) if a not in kept)
    low = kernel.min(axis=reduced, keepdims=True)
    high = kernel.max(axis=reduced, keepdims=True)
    return np_fake_quantize(kernel, low, high, bits, symmetric)


def build_pair(name, bits=4, symmetric=False, seed=0):
    quantized_cls, float_cls, kwargs, shape, axes = CASES[name]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype("float32")
    layer = quantized_cls(weight_bits=bits, weight_symmetric=symmetric,
                          bias_initializer="random_normal", **kwargs)
    layer.build(shape)
    kernel = rng.normal(size=layer.kernel.shape).astype("float32")
    layer.kernel.assign(kernel)
    twin = float_cls(bias_initializer="random_normal", **kwargs)
    twin.build(shape)
    twin.set_weights([numpy_quantized_kernel(kernel, bits, axes, symmetric),
                      keras.ops.convert_to_numpy(layer.bias)])
    return layer, twin, x


class QuantizedLayersTest(TestCase):
    @parameterized.named_parameters(*[(n, n) for n in CASES])
    def test_equals_float_layer_with_numpy_quantized_kernel(self, name):
        layer, twin, x = build_pair(name, bits=4)
        self.assertAllClose(layer(x), twin(x), atol=1e-4, rtol=1e-4)
        # The shadow kernel stays float: only the forward pass quantizes.
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        self.assertGreater(np.abs(kernel - keras.ops.convert_to_numpy(
            layer.quantized_kernel(layer.kernel))).max(), 1e-4)

    @parameterized.named_parameters(*[(n, n) for n in CASES])
    def test_layer_basics(self, name):
        quantized_cls, _, kwargs, shape, _ = CASES[name]
        self.run_layer_test(
            quantized_cls, init_kwargs={**kwargs, "weight_bits": 4},
            input_shape=shape,
            expected_output_shape=quantized_cls(**kwargs).compute_output_shape(
                shape),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0, expected_num_losses=0,
            expected_num_seed_generators=0,
            supports_masking=quantized_cls is QuantizedDense,
            # Mixed precision once per kernel layout (it retraces the layer;
            # slow on JAX).
            run_mixed_precision_check=name in ("conv3d", "depthwise_conv2d",
                                               "dense"))

    def test_symmetric_8_bits(self):
        layer, twin, x = build_pair("conv3d", bits=8, symmetric=True)
        self.assertAllClose(layer(x), twin(x), atol=1e-4, rtol=1e-4)

    def test_per_tensor_quantization(self):
        layer, _, x = build_pair("conv3d")
        layer.per_channel = False
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        want = np_fake_quantize(kernel, kernel.min(), kernel.max(), 4)
        self.assertAllClose(layer.quantized_kernel(layer.kernel), want,
                            atol=1e-6)
        self.assertLessEqual(len(np.unique(want)), 16)

    def test_kernel_gradient_is_straight_through(self):
        layer, _, x = build_pair("dense")
        upstream = np.random.default_rng(4).normal(size=(2, 5)).astype("f4")
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x) * upstream)
            grad = tape.gradient(loss, layer.kernel.value)
        else:
            import jax

            def loss(kernel):
                outputs, _ = layer.stateless_call(
                    [kernel, layer.bias.value], [], x)
                return (outputs * upstream).sum()
            grad = jax.grad(loss)(layer.kernel.value)
        self.assertAllClose(grad, x.T @ upstream, atol=1e-5)

    def test_keras_round_trip(self):
        layer, _, x = build_pair("grouped_conv3d")
        inputs = keras.Input(x.shape[1:])
        model = keras.Model(inputs, layer(inputs))
        path = os.path.join(self.get_temp_dir(), "quantized.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.layers[-1], QuantizedConv3D)
        self.assertEqual(loaded.layers[-1].weight_bits, 4)
        self.assertAllClose(loaded(x), model(x), atol=1e-6)

    def test_invalid_arguments(self):
        with self.assertRaisesRegex(ValueError, "`weight_bits` must be"):
            QuantizedConv3D(4, 3, weight_bits=1)
        with self.assertRaisesRegex(ValueError, "`per_channel` must be"):
            QuantizedDense(4, per_channel="yes")
        with self.assertRaisesRegex(ValueError, "`lora_rank` is not"):
            QuantizedDense(4, lora_rank=2)
