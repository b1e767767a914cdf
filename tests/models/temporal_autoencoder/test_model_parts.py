"""Tests of the temporal autoencoder parts: presets, losses, blocks, encoders,
decoders (each against NumPy or the spec table)."""

import os

import keras
import numpy as np
import pytest

from deltasparse.models.temporal_autoencoder import blocks
from deltasparse.models.temporal_autoencoder import decoders
from deltasparse.models.temporal_autoencoder import encoders
from deltasparse.models.temporal_autoencoder import losses
from deltasparse.models.temporal_autoencoder import temporal_autoencoder_presets as presets
from deltasparse.testing import TestCase

RNG = np.random.default_rng(0)


def np_group_norms(x, groups, eps=1e-7):
    shape = x.shape[:-1] + (groups, x.shape[-1] // groups)
    return np.sqrt(np.sum(np.square(x.reshape(shape)), axis=-1) + eps)


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------


def test_registry_matches_spec_table():
    a = {name: presets.get_algorithm(name) for name in presets.ALGORITHMS}
    assert len(a) == 10
    assert [m for m in a if a[m].recurrent] == [
        "wtacrnn", "randominitcrnn", "denoisingcrnn", "groupwtacrnn"
    ]
    # Every recurrent algorithm uses the next-frame loss, and only those.
    assert all(s.next_frame == s.recurrent for s in a.values())
    assert {m for m in a if not a[m].pretrains} == {
        "randominitcnn", "randominitcrnn", "vgg19"
    }
    assert {m for m in a if a[m].input_dropout} == {
        "denoisingcnn", "denoisingcrnn"
    }
    assert a["slowgroupwtacnn"].sparsity == "slow_group_ksparse"
    assert a["groupwtacrnn"].sparsity == "group_ksparse"
    assert a["wtacrnn"].sparsity == "ksparse"
    assert a["vgg19"].encoder == "vgg19"


def test_unknown_algorithm():
    with pytest.raises(ValueError, match="Received: algorithm='wta'"):
        presets.get_algorithm("wta")


def test_preset_clipnorm_is_the_papers():
    clipped = {n for n in presets.ALGORITHMS if presets.preset_clipnorm(n)}
    assert clipped == {"wtacrnn", "groupwtacrnn", "randominitcrnn"}
    assert presets.preset_clipnorm("groupwtacrnn") == 1.0


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------


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


def _np_keras2_cce(y, p, eps=1e-7):
    p = p / p.sum(axis=-1, keepdims=True)
    p = np.clip(p, eps, 1 - eps)
    return -np.sum(y * np.log(p), axis=-1)


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


# --------------------------------------------------------------------------
# Slowness penalty
# --------------------------------------------------------------------------


class GroupSlownessPenaltyTest(TestCase):
    def test_basics(self):
        self.run_layer_test(
            blocks.GroupSlownessPenalty,
            init_kwargs={"groups": 2, "l1_slow": 1e-2},
            input_shape=(2, 3, 4, 4, 4),
            expected_output_shape=(2, 3, 4, 4, 4),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=1,
            supports_masking=False,
        )

    def test_penalty_matches_numpy(self):
        x = RNG.random((2, 4, 3, 3, 6)).astype("float32")
        x[:, 1, :, :, :3] = 0.0  # all-zero groups: norm sqrt(eps)
        layer = blocks.GroupSlownessPenalty(groups=3, l1_slow=0.5)
        out = layer(x)
        self.assertAllClose(out, x)
        n = np_group_norms(x.astype("float64"), 3)
        expected = 0.5 * np.mean(np.abs(n[:, 1:] - n[:, :-1]))
        self.assertLen(layer.losses, 1)
        self.assertAllClose(float(layer.losses[0]), expected, rtol=1e-5)

    def test_not_divided_by_batch_size(self):
        # Keras 3 activity regularizers divide by the batch size; Keras
        # 2.2.4, which the original used, does not.
        x = RNG.random((1, 3, 2, 2, 2)).astype("float32")
        single = blocks.GroupSlownessPenalty(groups=1, l1_slow=1.0)
        single(x)
        double = blocks.GroupSlownessPenalty(groups=1, l1_slow=1.0)
        double(np.concatenate([x, x]))
        self.assertAllClose(
            float(single.losses[0]), float(double.losses[0]), rtol=1e-6
        )

    def test_invalid_arguments(self):
        with self.assertRaisesRegex(ValueError, "Received: groups=0"):
            blocks.GroupSlownessPenalty(groups=0, l1_slow=1.0)
        with self.assertRaisesRegex(ValueError, "Received: l1_slow=-1"):
            blocks.GroupSlownessPenalty(groups=1, l1_slow=-1)
        with self.assertRaisesRegex(ValueError, "divisible by `groups`"):
            blocks.GroupSlownessPenalty(groups=4, l1_slow=1.0)(
                np.zeros((1, 2, 2, 2, 6), "float32")
            )


# --------------------------------------------------------------------------
# Model parts
# --------------------------------------------------------------------------


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


def test_sparsity_kinds_build():
    shape = (2, 4, 4, 4)
    for kind in blocks.SPARSITY_KINDS:
        model = blocks.build_sparsity(kind, shape, groups=2, l1_slow=1e-3)
        assert model.output.shape == (None,) + shape
    with pytest.raises(ValueError, match="Received: kind='topk'"):
        blocks.build_sparsity("topk", shape)


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


def test_vgg19_weight_file_constant():
    assert encoders.VGG19_WEIGHTS_URL.endswith(encoders.VGG19_WEIGHTS_FILE)
    assert os.path.basename(encoders.VGG19_WEIGHTS_URL) == encoders.VGG19_WEIGHTS_FILE


def test_slow_sparsity_model_keras_file_round_trip(tmp_path):
    model = blocks.build_sparsity(
        "slow_group_ksparse", (3, 4, 4, 4), k_spatial=2, k_lifetime=3,
        groups=2, l1_slow=0.25,
    )
    path = str(tmp_path / "sparsity.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = RNG.random((2, 3, 4, 4, 4)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    slowness = loaded.get_layer("slowness")
    assert (slowness.groups, slowness.l1_slow) == (2, 0.25)
    np.testing.assert_allclose(
        float(loaded.losses[0]), float(model.losses[0]), rtol=1e-6
    )
