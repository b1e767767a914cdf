"""Tests of the `TemporalAutoencoder` Keras model (config, outputs, errors)."""

import keras
import numpy as np
import pytest

from deltasparse.models.temporal_autoencoder import losses
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.training.autoencoder_protocol import AutoencoderTrainingConfig


def make_kwargs(algorithm, **overrides):
    return dict(algorithm=algorithm, clip_length=3, image_size=(8, 8),
                channels=1, num_classes=3, filters=8, encoder_kernel_size=3,
                decoder_kernel_size=5, groups=2, **overrides)


def test_outputs_and_views():
    model = TemporalAutoencoder.from_preset(**make_kwargs("groupwtacrnn"))
    x = np.zeros((2, 3, 8, 8, 1), "float32")
    out = model(x)
    assert tuple(out["reconstruction"].shape) == (2, 3, 8, 8, 1)
    assert tuple(out["probabilities"].shape) == (2, 3)
    assert model.reconstruction_loss().next_frame
    names = [layer.name for layer in model.classifier_view().layers]
    assert "sparsity" not in names and "decoder" not in names
    assert "sparsity" in [l.name for l in model.autoencoder_view().layers]


def test_clip_length_error_names_expected_and_received():
    model = TemporalAutoencoder(**make_kwargs("wtacnn"))
    with pytest.raises(ValueError, match=(
            r"built for `clip_length`=3 frames; use `with_clip_length\(5\)`"
            r".*Received: clip_length=5 \(inputs.shape=\(2, 5, 8, 8, 1\)\)")):
        model(np.zeros((2, 5, 8, 8, 1), "float32"))
    longer = model.with_clip_length(5)
    np.testing.assert_allclose(
        np.asarray(longer(np.ones((2, 5, 8, 8, 1), "float32"))["probabilities"]),
        np.asarray(model(np.ones((2, 3, 8, 8, 1), "float32"))["probabilities"]),
        atol=1e-6)  # per-frame weights, logits averaged over time


def test_model_and_settings_validation():
    model_kwargs = make_kwargs("groupwtacrnn")
    with pytest.raises(ValueError, match="Received: k_spacial=1"):
        TemporalAutoencoder(**model_kwargs, k_spacial=1)
    with pytest.raises(ValueError, match="Received: groups=3"):
        TemporalAutoencoder(**{**model_kwargs, "groups": 3})
    with pytest.raises(ValueError, match="Received: algorithm='cnn'"):
        TemporalAutoencoder(**{**model_kwargs, "algorithm": "cnn"})
    with pytest.raises(ValueError, match="for the vgg19 algorithm"):
        TemporalAutoencoder(**{**model_kwargs, "algorithm": "vgg19"})
    with pytest.raises(ValueError, match="Received: filters=None"):
        TemporalAutoencoder(**{**model_kwargs, "filters": None})
    with pytest.raises(ValueError, match="Received: clip_length=0"):
        TemporalAutoencoder(**{**model_kwargs, "clip_length": 0})
    with pytest.raises(ValueError, match="Received: epochs=-1"):
        AutoencoderTrainingConfig(epochs=-1)
    with pytest.raises(ValueError, match="Received: momentum=1"):
        AutoencoderTrainingConfig(momentum=1)
    assert AutoencoderTrainingConfig().carry_over is True


def test_model_keras_file_round_trip(tmp_path):
    model = TemporalAutoencoder(**make_kwargs("slowgroupwtacnn"))
    x = np.random.default_rng(0).random((4, 3, 8, 8, 1)).astype("float32")
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TemporalAutoencoder)
    assert loaded.get_config() == model.get_config()
    for key in ("reconstruction", "probabilities"):
        np.testing.assert_allclose(
            np.asarray(loaded(x)[key]), np.asarray(model(x)[key]), atol=1e-6)
    assert isinstance(loaded.reconstruction_loss(),
                      losses.FrameReconstructionLoss)
