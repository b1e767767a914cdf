"""Tests for `InputConversion` against the data pipeline's own
preprocessing (`deltasparse.data.video.augment.preprocess`) and a NumPy
ImageNet mean / std."""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from deltasparse.data.video.augment import preprocess
from deltasparse.models.adafocus import InputConversion
from deltasparse.models.adafocus import PIXEL_CONVENTIONS
from deltasparse.models.adafocus.input_conversion import TORCH_MEAN_RGB
from deltasparse.models.adafocus.input_conversion import TORCH_STD_RGB
from deltasparse.testing import TestCase

RAW = np.random.default_rng(0).uniform(0, 255, size=(2, 4, 4, 3)).astype(
    "float32")
TORCH = (RAW / 255 - np.array(TORCH_MEAN_RGB)) / np.array(TORCH_STD_RGB)


def convert(source, target, x):
    return keras.ops.convert_to_numpy(InputConversion(source, target)(x))


class InputConversionTest(TestCase):

    def test_from_raw_matches_the_pipeline(self):
        for mode in ("tf", "caffe"):
            self.assertAllClose(convert("raw", mode, RAW),
                                preprocess(tf.constant(RAW), mode).numpy(),
                                atol=1e-4)
        self.assertAllClose(convert("raw", "torch", RAW), TORCH, atol=1e-5)

    def test_torch_frames_to_each_network(self):
        self.assertAllClose(convert("torch", "caffe", TORCH),
                            preprocess(tf.constant(RAW), "caffe").numpy(),
                            atol=1e-3)
        self.assertAllClose(convert("torch", "tf", TORCH),
                            RAW / 127.5 - 1, atol=1e-5)

    def test_every_round_trip_is_the_identity(self):
        for source in PIXEL_CONVENTIONS:
            for target in PIXEL_CONVENTIONS:
                x = convert("raw", source, RAW)
                back = convert(target, source, convert(source, target, x))
                self.assertAllClose(back, x, atol=1e-3)

    def test_serialization_and_errors(self):
        layer = InputConversion("torch", "caffe")
        model = keras.Sequential([keras.Input((4, 4, 3)), layer])
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "conversion.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded(TORCH), model(TORCH), atol=1e-5)
        with self.assertRaisesRegex(ValueError, "Received: target='bgr'"):
            InputConversion("raw", "bgr")
