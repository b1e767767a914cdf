"""Tests of `deltasparse.compression.post_training`: calibration ranges
against NumPy (min/max, average, steps, datasets, inference semantics),
weight-only and weight+activation emulation, and the int8 TFLite path
(which ops stay float: CONV_3D)."""

import os

import keras
import numpy as np

from deltasparse.compression.post_training import builtin_pooling
from deltasparse.compression.post_training import calibrate
from deltasparse.compression.post_training import post_training_quantize
from deltasparse.compression.post_training import tflite_int8
from deltasparse.compression.quantization import QuantizationConfig
from deltasparse.compression.quantization import quantization_summary
from deltasparse.compression.quantization import quantize_model
from deltasparse.compression.quantization import seed_qat_config
from deltasparse.testing import TestCase
from tests.compression.test_quantization import clips
from tests.compression.test_quantization import tiny_model


def quantizer_range(model, name):
    layer = model.get_layer(name)
    return [float(keras.ops.convert_to_numpy(v.value))
            for v in (layer.minimum, layer.maximum)]


def relu_outputs(model, x):
    """The float model's `relu` activations (NumPy reference for ranges)."""
    probe = keras.Model(model.input, model.get_layer("relu").output)
    return keras.ops.convert_to_numpy(probe(x, training=False))


class CalibrateTest(TestCase):
    def test_minmax_ranges_match_numpy(self):
        model = tiny_model()
        # 16-bit grids: the relu quantizer then sees (nearly) the float
        # activations.
        qat = quantize_model(model, QuantizationConfig(16, 16))
        x = clips(6)
        ranges = calibrate(qat, x, method="minmax", batch_size=4)
        self.assertAllClose(ranges["frames_quantizer"], [x.min(), x.max()])
        self.assertAllClose(quantizer_range(qat, "frames_quantizer"),
                            [x.min(), x.max()])
        activations = relu_outputs(model, x)
        self.assertAllClose(ranges["relu_quantizer"],
                            [activations.min(), activations.max()],
                            atol=1e-3)

    def test_average_and_steps(self):
        qat = quantize_model(tiny_model(), seed_qat_config())
        x = clips(6)
        ranges = calibrate(qat, x, method="average", batch_size=2, steps=2)
        batches = [x[0:2], x[2:4]]
        self.assertAllClose(ranges["frames_quantizer"], [
            np.mean([b.min() for b in batches]),
            np.mean([b.max() for b in batches])], atol=1e-6)
        self.assertEqual(float(keras.ops.convert_to_numpy(
            qat.get_layer("frames_quantizer").steps.value)), 2.0)

    def test_inference_mode_and_datasets(self):
        import tensorflow as tf

        qat = quantize_model(tiny_model(), seed_qat_config())
        bn = qat.get_layer("bn")
        moving_mean = keras.ops.convert_to_numpy(bn.moving_mean)
        x = clips(4)
        dataset = tf.data.Dataset.from_tensor_slices(
            (x, np.zeros(4, "int32"))).batch(2)
        ranges = calibrate(qat, dataset, method="ema")
        self.assertAllClose(bn.moving_mean, moving_mean)  # inference mode
        self.assertEqual(qat.get_layer("relu_quantizer").calibration, None)
        self.assertLess(ranges["frames_quantizer"][0], 0.0)

    def test_invalid_arguments(self):
        with self.assertRaisesRegex(ValueError, "no ActivationQuantizer"):
            calibrate(tiny_model(), clips())
        qat = quantize_model(tiny_model())
        with self.assertRaisesRegex(ValueError, "`method` must be"):
            calibrate(qat, clips(), method="mean")
        with self.assertRaisesRegex(ValueError, "`steps` must be"):
            calibrate(qat, clips(), steps=0)
        with self.assertRaisesRegex(ValueError, "`clips` must be"):
            calibrate(qat, np.zeros((0, 4, 8, 8, 3), "float32"))


class PostTrainingQuantizeTest(TestCase):
    def test_weight_only_is_the_seed_code_path(self):
        model = tiny_model()
        emulated = post_training_quantize(model, None, weight_bits=8)
        summary = quantization_summary(emulated)
        self.assertEqual(summary["activation_quantizers"], [])
        self.assertEqual(sorted(summary["quantized_layers"]),
                         ["conv_a", "conv_b", "head"])
        x = clips()
        self.assertAllClose(emulated(x), model(x), atol=2e-2)

    def test_weight_and_activation_at_6_bits(self):
        model = tiny_model()
        x = clips(8)
        emulated = post_training_quantize(model, x, weight_bits=6,
                                          activation_bits=6)
        self.assertEqual(emulated.get_layer("relu_quantizer").num_bits, 6)
        self.assertGreater(float(keras.ops.convert_to_numpy(
            emulated.get_layer("relu_quantizer").steps.value)), 0.0)
        outputs = keras.ops.convert_to_numpy(emulated(x))
        reference = keras.ops.convert_to_numpy(model(x))
        self.assertGreater(np.abs(outputs - reference).max(), 0.0)
        self.assertAllClose(outputs, reference, atol=0.1)


def pooling_model(clip_length=4):
    """Conv3D -> MaxPooling3D (a resnet3d stem) -> strided 1x1x1 average
    pool (shortcut A) -> Dense."""
    inputs = keras.Input((clip_length, 16, 16, 3), name="frames")
    x = keras.layers.Conv3D(4, 3, activation="relu", name="conv3d")(inputs)
    x = keras.layers.MaxPooling3D((2, 3, 3), strides=2, name="max")(x)
    x = keras.layers.AveragePooling3D(1, strides=(1, 2, 2), name="avg")(x)
    x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


class TFLiteInt8Test(TestCase):
    def test_builtin_pooling_keeps_the_outputs(self):
        model = pooling_model()
        rewritten = builtin_pooling(model)
        self.assertNotIn("MaxPooling3D", [type(layer).__name__
                                          for layer in rewritten.layers])
        x = clips(2, shape=(4, 16, 16, 3))
        self.assertAllClose(rewritten(x), model(x), atol=1e-6)
        for name in ("max", "avg"):
            probe = keras.Model(model.input, model.get_layer(name).output)
            twin = keras.Model(rewritten.input,
                               rewritten.get_layer(name).output)
            self.assertAllClose(twin(x), probe(x), atol=1e-6)

    def test_conv3d_stays_float(self):
        self.skip_unless_backend("tensorflow", reason="TFLite conversion")
        model = pooling_model()
        path = os.path.join(self.get_temp_dir(), "model_int8.tflite")
        result = tflite_int8(model, clips(4, shape=(4, 16, 16, 3)), path)
        self.assertTrue(os.path.isfile(path))
        self.assertEqual(result.size_bytes, os.path.getsize(path))
        float_op_names = {op["op"] for op in result.float_ops}
        self.assertIn("CONV_3D", float_op_names)
        self.assertIn("conv3d", result.float_layers)
        self.assertNotIn("FULLY_CONNECTED", float_op_names)
        self.assertIn("FULLY_CONNECTED", result.op_counts)
        self.assertEqual(result.flex_ops, [])
        self.assertEqual(result.ops_set, "TFLITE_BUILTINS")
        self.assertIn("MAX_POOL_2D", result.op_counts)
        with self.assertRaisesRegex(ValueError, "`representative_clips`"):
            tflite_int8(model, clips(2), path)

    def test_free_clip_length_converts_on_the_clips_shape(self):
        # The 3-D presets leave the clip length free; their pooling is
        # still rewritten (on the representative clips' shape).
        self.skip_unless_backend("tensorflow", reason="TFLite conversion")
        model = pooling_model(clip_length=None)
        path = os.path.join(self.get_temp_dir(), "free_int8.tflite")
        result = tflite_int8(model, clips(4, shape=(4, 16, 16, 3)), path)
        self.assertEqual(result.ops_set, "TFLITE_BUILTINS")
        self.assertEqual(result.flex_ops, [])
        self.assertIn("MAX_POOL_2D", result.op_counts)
        self.assertEqual(model.input_shape[1], None)  # left unchanged
