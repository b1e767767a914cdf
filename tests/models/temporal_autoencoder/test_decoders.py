"""Tests of the decoder and the classification head against NumPy."""

import keras
import numpy as np

from deltasparse.models.temporal_autoencoder import decoders

RNG = np.random.default_rng(0)


def test_decoder_and_classifier_shapes():
    dec = decoders.build_decoder((3, 8, 8, 4), channels=3, kernel_size=5, l2=0.0)
    assert dec.output.shape == (None, 3, 8, 8, 3)
    deconv = dec.get_layer("deconv")
    assert deconv.kernel.shape == (5, 5, 3, 4)
    assert deconv.activation is keras.activations.linear
    head = decoders.build_classifier_head((3, 8, 8, 4), num_classes=5, pool_size=2)
    assert head.get_layer("logits").kernel.shape == (4 * 4 * 4, 5)
    no_pool = decoders.build_classifier_head((3, 1, 1, 4), num_classes=5, pool_size=None)
    assert "max_pool" not in [layer.name for layer in no_pool.layers]


def test_classifier_matches_numpy_on_any_length():
    head = decoders.build_classifier_head((None, 4, 4, 2), num_classes=3, pool_size=2)
    x = RNG.random((2, 5, 4, 4, 2)).astype("float32")
    w, b = (np.asarray(v) for v in head.get_layer("logits").weights)
    pooled = x.reshape(2, 5, 2, 2, 2, 2, 2).max(axis=(3, 5))
    logits = pooled.reshape(2, 5, -1) @ w + b
    z = logits.mean(axis=1)
    expected = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(head(x)), expected, atol=1e-6)
