"""Tests of the encoders (structure, L2, time folding, VGG19 file)."""

import os

import keras
import numpy as np
import pytest

from deltasparse.models.temporal_autoencoder import encoders

RNG = np.random.default_rng(0)


def test_cnn_encoder_structure_and_l2():
    enc = encoders.build_cnn_encoder(
        (3, 8, 8, 1), 4, 3, l2=0.1, recurrent=True, input_dropout=0.3
    )
    names = [layer.name for layer in enc.layers]
    assert names == [
        "frames", "input_dropout", "fold_time", "conv1", "conv2", "conv3",
        "unfold_time", "crnn",
    ]
    assert enc.output.shape == (None, 3, 8, 8, 4)
    assert enc.get_layer("conv2").activation is keras.activations.relu
    assert enc.get_layer("conv2").padding == "same"
    # L2 on the three conv kernels and the recurrent layer's input kernel.
    assert len(enc.losses) == 4
    kernels = [enc.get_layer(f"conv{i}").kernel for i in (1, 2, 3)]
    kernels.append(enc.get_layer("crnn").cell.kernel)
    expected = sum(0.1 * np.sum(np.square(np.asarray(k))) for k in kernels)
    np.testing.assert_allclose(
        sum(float(v) for v in enc.losses), expected, rtol=1e-5
    )


def test_cnn_encoder_folds_time_like_per_frame_conv():
    enc = encoders.build_cnn_encoder((3, 6, 6, 2), 4, 3)
    x = RNG.random((2, 3, 6, 6, 2)).astype("float32")
    frame = keras.Sequential(
        [enc.get_layer(f"conv{i}") for i in (1, 2, 3)]
    )
    expected = np.stack(
        [np.asarray(frame(x[:, t])) for t in range(3)], axis=1
    )
    np.testing.assert_allclose(np.asarray(enc(x)), expected, atol=1e-5)


def test_set_encoder_trainable_toggles_cnn():
    enc = encoders.build_cnn_encoder((2, 4, 4, 1), 2, 3)
    encoders.set_encoder_trainable(enc, False)
    assert enc.trainable_variables == []
    encoders.set_encoder_trainable(enc, True)
    assert len(enc.trainable_variables) == 6


def test_missing_vgg19_weights_is_a_clear_error(tmp_path):
    for path in (None, str(tmp_path / "nope.h5")):
        with pytest.raises(FileNotFoundError) as info:
            encoders.build_vgg19_encoder(2, path)
        message = str(info.value)
        assert encoders.VGG19_WEIGHTS_FILE in message
        assert "`vgg19_weights`" in message
        assert message.endswith(f"Received: vgg19_weights={path!r}")


def test_vgg19_weights_named_are_the_ones_keras_loads():
    # The download hint must name the very file keras.applications.VGG19
    # fetches for include_top=False, checked against Keras' own source
    # (adjacent string literals joined), so a renamed Keras file fails here.
    import inspect
    import re

    with open(inspect.getsourcefile(keras.applications.VGG19)) as handle:
        source = re.sub(r'"\s*"', "", handle.read())
    assert encoders.VGG19_WEIGHTS_URL in source
