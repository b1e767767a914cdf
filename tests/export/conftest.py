"""Tiny models shared by the export tests."""

import numpy as np
import pytest

CLIP_SHAPE = (4, 32, 32, 3)  # T, H, W, C


def calibrated_video_model(preset, seed=0):
    """A tiny `VideoClassifier` whose outputs depend on its input.

    With random weights the signal of a 0.25-wide MobileNet dies after a
    few blocks and every clip gets the same probabilities, which would make
    a parity check trivial. One training-mode call with `bn_momentum=0`
    sets every BatchNormalization's moving statistics to the batch's, so
    inference keeps the activations at unit scale.
    """
    import keras

    from deltasparse.models.video_classifier import VideoClassifier

    keras.utils.set_random_seed(seed)
    model = VideoClassifier.from_preset(
        preset, num_classes=3, image_size=CLIP_SHAPE[1:3], alpha=0.25,
        bn_momentum=0.0)
    warmup = np.random.default_rng(seed).uniform(-1, 1, (8, *CLIP_SHAPE))
    model(warmup.astype("float32"), training=True)
    return model


def clips(count, seed):
    return np.random.default_rng(seed).uniform(
        -1, 1, (count, *CLIP_SHAPE)).astype("float32")


@pytest.fixture(scope="module")
def delta_model():
    return calibrated_video_model("mobilenet_delta")


def tiny_clip_model(activation="softmax"):
    """A hand-made `(B, 2, 8, 8, 3)` -> `(B, 3)` clip model (fast to
    convert), seeded."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((2, 8, 8, 3))
    x = keras.layers.Reshape((2, 8 * 8 * 3))(inputs)
    x = keras.layers.Dense(4, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(3, activation=activation)(x)
    return keras.Model(inputs, outputs)
