"""Tests of `deltasparse.compression.quantization`: the config and preset,
`quantize_model` on resnet3d / MobileNetV2-3D / a delta+L1 model (which
layers are replaced, weights kept, training), `export_float` and
`dequantize`, `.keras` round trip, and QAT training on JAX (subprocess)."""

import os

import keras
import numpy as np

from deltasparse.compression.quantization import QuantizationConfig
from deltasparse.compression.quantization import dequantize
from deltasparse.compression.quantization import export_float
from deltasparse.compression.quantization import quantization_summary
from deltasparse.compression.quantization import quantize_model
from deltasparse.compression.quantization import seed_qat_config
from deltasparse.layers import DeltaActivation
from deltasparse.layers import L1ActivityRegularizer
from deltasparse.layers.quantization import ActivationQuantizer
from deltasparse.layers.quantization import QuantizedConv3D
from deltasparse.layers.quantization import QuantizedDepthwiseConv3D
from deltasparse.layers.quantization import WeightQuantization
from deltasparse.models.video_classifier import VideoClassifier
from deltasparse.testing import TestCase
from deltasparse.testing.subprocess_backend import run_on_backend



def tiny_model():
    """Conv3D (ReLU fused) -> grouped Conv3D -> BN -> ReLU -> Dense."""
    inputs = keras.Input((4, 8, 8, 3), name="frames")
    x = keras.layers.Conv3D(4, 3, padding="same", activation="relu",
                            name="conv_a")(inputs)
    x = keras.layers.Conv3D(4, (1, 3, 3), groups=2, name="conv_b")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="tiny")


def clips(count=4, seed=0, shape=(4, 8, 8, 3)):
    return np.random.default_rng(seed).normal(
        size=(count,) + shape).astype("float32")


class QuantizationConfigTest(TestCase):
    def test_seed_preset(self):
        self.assertEqual(seed_qat_config().get_config(), {
            "weight_bits": 4, "activation_bits": 4, "weight_symmetric": False,
            "activation_symmetric": False, "per_channel": True,
            "decay": 0.999})

    def test_serialization(self):
        config = QuantizationConfig(weight_bits=6, activation_bits=None,
                                    weight_symmetric=True)
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(config))
        self.assertEqual(restored, config)
        self.assertNotEqual(restored, seed_qat_config())

    def test_invalid_arguments(self):
        with self.assertRaisesRegex(ValueError, "`activation_bits` must be"):
            QuantizationConfig(activation_bits=1)
        with self.assertRaisesRegex(ValueError, "`decay` must be"):
            QuantizationConfig(decay=1.5)
        with self.assertRaisesRegex(ValueError, "`per_channel` must be"):
            QuantizationConfig(per_channel=1)


class QuantizeModelTest(TestCase):
    def test_resnet3d_layers_replaced_with_same_weights(self):
        model = VideoClassifier.from_preset(
            "resnet3d_10", num_classes=3, image_size=(32, 32), clip_length=4)
        layers = model._flatten_layers(include_self=False, recursive=True)
        layers = [layer for layer in layers if not isinstance(layer,
                                                              keras.Model)]
        convs = [layer for layer in layers
                 if isinstance(layer, (keras.layers.Conv3D,
                                       keras.layers.Dense))]
        relus = [layer for layer in layers
                 if isinstance(layer, keras.layers.ReLU)]
        qat = quantize_model(model, seed_qat_config())
        summary = quantization_summary(qat)
        self.assertEqual(sorted(summary["quantized_layers"]),
                         sorted(layer.name for layer in convs))
        # One quantizer after every ReLU and one after the input; none after
        # the softmax classifier.
        self.assertEqual(sorted(summary["activation_quantizers"]), sorted(
            [f"{layer.name}_quantizer" for layer in relus]
            + ["frames_quantizer"]))
        self.assertEqual(summary["not_quantized"]["conv1_bn"],
                         "BatchNormalization stays float (not folded)")
        quantized = qat.get_layer("conv2_block1_1_conv")
        self.assertIsInstance(quantized, QuantizedConv3D)
        self.assertEqual(quantized.weight_bits, 4)
        self.assertAllClose(quantized.kernel,
                            model.get_layer("conv2_block1_1_conv").kernel)
        bn = qat.get_layer("conv1_bn")
        self.assertAllClose(bn.moving_variance,
                            model.get_layer("conv1_bn").moving_variance)

    def test_fine_grid_reproduces_the_float_model(self):
        model = tiny_model()
        qat = quantize_model(model, QuantizationConfig(weight_bits=16))
        x = clips()
        # Uncalibrated activation quantizers pass through; 16-bit weights.
        self.assertAllClose(qat(x), model(x), atol=1e-4)
        self.assertAllClose(dequantize(qat)(x), model(x), atol=1e-6)

    def test_export_float_bakes_the_quantized_kernels(self):
        qat = quantize_model(tiny_model(), QuantizationConfig(
            weight_bits=4, activation_bits=None))
        x = clips()
        exported = export_float(qat)
        self.assertEqual(exported.name, "tiny_float")
        for layer in exported.layers:
            self.assertNotIsInstance(layer, (WeightQuantization,
                                             ActivationQuantizer))
        self.assertAllClose(exported(x), qat(x), atol=1e-5)
        kernel = keras.ops.convert_to_numpy(exported.get_layer("conv_a").kernel)
        for channel in range(kernel.shape[-1]):
            self.assertLessEqual(len(np.unique(kernel[..., channel])), 16)

    def test_fit_updates_ranges_and_weights(self):
        qat = quantize_model(tiny_model(), seed_qat_config())
        qat.compile(keras.optimizers.Adam(1e-2),
                    "sparse_categorical_crossentropy")
        before = keras.ops.convert_to_numpy(qat.get_layer("conv_a").kernel)
        history = qat.fit(clips(), np.array([0, 1, 2, 0]), batch_size=2,
                          epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        for name in ("frames_quantizer", "conv_a_quantizer", "relu_quantizer"):
            self.assertEqual(float(keras.ops.convert_to_numpy(
                qat.get_layer(name).steps.value)), 2.0)
        self.assertGreater(np.abs(keras.ops.convert_to_numpy(
            qat.get_layer("conv_a").kernel) - before).max(), 0.0)

    def test_keras_round_trip(self):
        qat = quantize_model(tiny_model(), seed_qat_config())
        x = clips()
        qat(x, training=True)
        path = os.path.join(self.get_temp_dir(), "qat.keras")
        qat.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.get_layer("conv_b"), QuantizedConv3D)
        self.assertEqual(loaded.get_layer("conv_b").groups, 2)
        self.assertAllClose(loaded(x), qat(x), atol=1e-6)

    def test_composes_with_delta_and_l1_layers(self):
        inputs = keras.Input((4, 8, 8, 3), name="frames")
        x = keras.layers.Conv3D(4, 3, padding="same", name="conv_a")(inputs)
        x = keras.layers.ReLU(name="relu")(x)
        x = DeltaActivation(sp_rate=0.1, name="delta")(x)
        x = keras.layers.Conv3D(4, 3, padding="same", activation="relu",
                                name="conv_b")(x)
        x = L1ActivityRegularizer(sp_rate=0.1, name="l1")(x)
        x = keras.layers.GlobalAveragePooling3D()(x)
        model = keras.Model(inputs, keras.layers.Dense(3)(x))
        qat = quantize_model(model, seed_qat_config())
        names = [layer.name for layer in qat.layers]
        # The delta layer keeps its own quantizer: no second one before or
        # after it; the L1 layer sees the quantized activation of conv_b.
        self.assertEqual(names[names.index("delta") - 1], "relu")
        self.assertEqual(names[names.index("delta") + 1], "conv_b")
        self.assertEqual(names[names.index("l1") - 1], "conv_b_quantizer")
        summary = quantization_summary(qat)
        self.assertIn("own learned quantizer", summary["not_quantized"]["delta"])
        self.assertIn("l1", summary["not_quantized"])
        self.assertIsInstance(qat.get_layer("delta"), DeltaActivation)
        self.assertAllClose(qat.get_layer("delta").threshold,
                            model.get_layer("delta").threshold)
        qat.compile("adam", keras.losses.SparseCategoricalCrossentropy(
            from_logits=True))
        history = qat.fit(clips(2), np.array([0, 1]), epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        self.assertEqual(len(qat.losses), 2)  # the delta and L1 losses

    def test_mobilenetv2_3d_depthwise(self):
        model = VideoClassifier.from_preset(
            "mobilenetv2_3d_0.2x", num_classes=3, image_size=(32, 32),
            clip_length=4)
        qat = quantize_model(model, QuantizationConfig(activation_bits=None))
        depthwise = [layer for layer in qat.layers
                     if isinstance(layer, QuantizedDepthwiseConv3D)]
        self.assertGreater(len(depthwise), 0)
        self.assertEqual(quantization_summary(qat)["activation_quantizers"],
                         [])

    def test_invalid_arguments(self):
        qat = quantize_model(tiny_model())
        with self.assertRaisesRegex(ValueError, "already quantized"):
            quantize_model(qat)
        with self.assertRaisesRegex(ValueError, "`config` must be"):
            quantize_model(tiny_model(), {"weight_bits": 4})
        with self.assertRaisesRegex(ValueError, "`model` must be"):
            quantize_model(keras.layers.Dense(2))


JAX_SCRIPT = """
import json
import keras
import numpy as np
from deltasparse.compression.quantization import quantize_model, seed_qat_config
from tests.compression.test_quantization import clips, tiny_model

keras.utils.set_random_seed(0)
qat = quantize_model(tiny_model(), seed_qat_config())
qat.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
before = keras.ops.convert_to_numpy(qat.get_layer("conv_b").kernel)
history = qat.fit(clips(6), np.array([0, 1, 2, 0, 1, 2]), batch_size=2,
                  epochs=1, verbose=0)
after = keras.ops.convert_to_numpy(qat.get_layer("conv_b").kernel)
print(json.dumps({
    "backend": keras.backend.backend(),
    "loss": [float(v) for v in history.history["loss"]],
    "steps": float(keras.ops.convert_to_numpy(
        qat.get_layer("relu_quantizer").steps.value)),
    "kernel_change": float(np.abs(after - before).max()),
}))
"""


def test_qat_trains_three_steps_on_jax():
    result = run_on_backend("jax", JAX_SCRIPT)
    assert result["backend"] == "jax"
    assert np.isfinite(result["loss"][0])
    assert result["steps"] == 3.0
    assert result["kernel_change"] > 0.0
