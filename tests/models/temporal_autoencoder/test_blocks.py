"""Tests of the bottleneck blocks (slowness penalty, sparsity models)."""

import keras
import numpy as np
import pytest

from deltasparse.models.temporal_autoencoder import blocks
from deltasparse.testing import TestCase

RNG = np.random.default_rng(0)


def np_group_norms(x, groups, eps=1e-7):
    shape = x.shape[:-1] + (groups, x.shape[-1] // groups)
    return np.sqrt(np.sum(np.square(x.reshape(shape)), axis=-1) + eps)


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


def test_sparsity_kinds_build():
    shape = (2, 4, 4, 4)
    for kind in blocks.SPARSITY_KINDS:
        model = blocks.build_sparsity(kind, shape, groups=2, l1_slow=1e-3)
        assert model.output.shape == (None,) + shape
    with pytest.raises(ValueError, match="Received: kind='topk'"):
        blocks.build_sparsity("topk", shape)


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
