"""Tests of the autoencoder losses against NumPy."""

import keras
import numpy as np
import pytest

from deltasparse.models.temporal_autoencoder import losses

RNG = np.random.default_rng(0)


def _np_keras2_cce(y, p, eps=1e-7):
    p = p / p.sum(axis=-1, keepdims=True)
    p = np.clip(p, eps, 1 - eps)
    return -np.sum(y * np.log(p), axis=-1)


def test_reconstruction_loss_matches_numpy():
    true = RNG.random((2, 3, 4, 4, 3)).astype("float32")
    pred = RNG.random((2, 3, 4, 4, 3)).astype("float32")
    expected = np.mean(np.mean((pred - true) ** 2, axis=-1))
    got = losses.FrameReconstructionLoss()(true, pred)
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)


def test_next_frame_loss_matches_numpy():
    true = RNG.random((2, 4, 4, 4, 2)).astype("float32")
    pred = RNG.random((2, 4, 4, 4, 2)).astype("float32")
    expected = np.mean(np.mean((pred[:, :-1] - true[:, 1:]) ** 2, axis=-1))
    got = losses.FrameReconstructionLoss(next_frame=True)(true, pred)
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)


@pytest.mark.parametrize("next_frame", [False, True])
def test_masked_loss_keeps_channel_divisor(next_frame):
    true = RNG.random((2, 3, 4, 4, 3)).astype("float32")
    true[:, -1] = -1.0  # padded last frame
    true[0, 0, 0, 0, 1] = -1.0  # a single padded channel
    pred = RNG.random(true.shape).astype("float32")
    p, t = (pred[:, :-1], true[:, 1:]) if next_frame else (pred, true)
    per_element = np.sum((p - t) ** 2 * (t != -1.0), axis=-1) / 3.0
    expected = np.mean(per_element)
    got = losses.FrameReconstructionLoss(next_frame=next_frame, pad_value=-1)(
        true, pred
    )
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    unmasked = losses.FrameReconstructionLoss(next_frame=next_frame)(true, pred)
    assert float(got) < float(unmasked)


def test_reconstruction_loss_serialization():
    loss = losses.FrameReconstructionLoss(next_frame=True, pad_value=-1)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(clone, losses.FrameReconstructionLoss)
    assert clone.next_frame and clone.pad_value == -1.0


def test_keras2_crossentropy_matches_numpy_and_clips():
    y = np.eye(4, dtype="float32")[[0, 1, 2, 3, 0]]
    p = RNG.random((5, 4)).astype("float32")
    p[0] = [1.0, 0.0, 0.0, 0.0]  # perfect: clipped at 1 - eps
    p[4] = [0.0, 1.0, 0.0, 0.0]  # hopeless: clipped at eps, not inf
    per_sample = losses.keras2_categorical_crossentropy(y, p)
    np.testing.assert_allclose(
        np.asarray(per_sample), _np_keras2_cce(y, p), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(float(per_sample[4]), -np.log(1e-7), rtol=1e-5)
    mean = losses.Keras2CategoricalCrossentropy()(y, p)
    np.testing.assert_allclose(
        float(mean), _np_keras2_cce(y, p).mean(), rtol=1e-5
    )


def test_keras2_crossentropy_ignores_softmax_logits_shortcut():
    # Keras 3 (TF) would use the logits behind a softmax output; a saturated
    # softmax shows the difference: Keras 2.2.4 clips at -log(1e-7).
    logits = keras.ops.convert_to_tensor([[40.0, 0.0]])
    probs = keras.activations.softmax(logits)
    y = np.array([[0.0, 1.0]], "float32")
    got = float(losses.Keras2CategoricalCrossentropy()(y, probs))
    np.testing.assert_allclose(got, -np.log(1e-7), rtol=1e-5)
