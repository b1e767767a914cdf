"""Filter pruning with thinning: L1 ranking, channel dependencies, skipped
layers, and thinned == zeroed outputs on residual 3-D models."""

import json

import keras
import numpy as np
import pytest

from deltasparse.compression.thinning import ThinningPlan
from deltasparse.compression.thinning import flatten_model
from deltasparse.compression.thinning import plan_filter_pruning
from deltasparse.compression.thinning import thin_model
from deltasparse.compression.thinning import zero_filters
from deltasparse.models.resnet3d.resnet3d_blocks import ChannelZeroPadding
from deltasparse.models.resnet3d.resnet3d_blocks import apply_bottleneck_block
from deltasparse.models.resnet3d.resnet3d_blocks import batch_norm
from deltasparse.models.resnet3d.resnet3d_blocks import conv3d
from deltasparse.models.video_classifier import VideoClassifier
from deltasparse.testing.subprocess_backend import run_on_backend

CLIP = (4, 32, 32, 3)


def randomize_batch_norms(model, seed=0):
    """Non-trivial BN statistics, so a forgotten channel shows."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n),
                               rng.normal(0, 0.2, n), rng.normal(0, 0.2, n),
                               rng.uniform(0.5, 1.5, n)])
    return model


def tiny_bottleneck(separation=None):
    """Stem + two bottleneck blocks (projection shortcut "B"; the 3x3x3 is
    full, or CSN's "ir"/"ip" depthwise) + classifier, a few K weights."""
    keras.utils.set_random_seed(1)
    clips = keras.Input(CLIP)
    x = conv3d(clips, 8, 3, (1, 2, 2), "stem", None)
    x = batch_norm(x, None, "stem_bn", None)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for index, strides in ((1, 1), (2, 2)):
        x = apply_bottleneck_block(x, 4, strides, "B", None, f"b{index}",
                                   None, separation=separation)
    x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
    logits = keras.layers.Dense(3, name="classifier")(x)
    return randomize_batch_norms(keras.Model(clips, logits))


def preset(name):
    keras.utils.set_random_seed(1)
    model = VideoClassifier.from_preset(name, num_classes=5, image_size=(
        32, 32), clip_length=4, activation="linear")
    return randomize_batch_norms(model)


def plain_model(after_conv):
    """Conv3D "conv" whose output goes through `after_conv(x)`."""
    clips = keras.Input(CLIP)
    x = keras.layers.Conv3D(4, 1, name="conv")(clips)
    x = after_conv(x)
    x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
    return keras.Model(clips, keras.layers.Dense(2, name="fc")(x))


def clips(batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch,) + CLIP).astype(
        "float32")


def outputs(model, x, training=False):
    return keras.ops.convert_to_numpy(model(x, training=training))


def test_l1_ranking_floor_and_ties_against_hand_computed_norms():
    model = plain_model(lambda x: x)
    kernel = np.zeros((1, 1, 1, 3, 4), "float32")
    # L1 norms of the 4 filters: 2, 2, 5, 2 (signs must not matter).
    kernel[0, 0, 0, :, 0] = [1, -1, 0]
    kernel[0, 0, 0, :, 1] = [0, 2, 0]
    kernel[0, 0, 0, :, 2] = [-5, 0, 0]
    kernel[0, 0, 0, :, 3] = [1, 0, -1]
    model.get_layer("conv").set_weights([kernel, np.zeros(4, "float32")])
    # floor(0.5 * 4) = 2 removed: the three ties remove indices 0 then 1.
    assert plan_filter_pruning(model, 0.5).kept == {"conv": [2, 3]}
    # floor(0.7 * 4) = 2 as well; 0.75 removes 3.
    assert plan_filter_pruning(model, 0.7).kept == {"conv": [2, 3]}
    assert plan_filter_pruning(model, 0.75).kept == {"conv": [2]}
    assert plan_filter_pruning(model, 0.0).kept == {"conv": [0, 1, 2, 3]}
    # At least one filter survives.
    assert plan_filter_pruning(model, 0.99).kept == {"conv": [2]}


def test_resnet3d_10_plan_keeps_residual_outputs_and_lists_why():
    plan = plan_filter_pruning(preset("resnet3d_10"), 0.5)
    assert sorted(plan.kept) == [f"conv{s}_block1_1_conv" for s in range(
        2, 6)]
    assert [len(plan.kept[name]) for name in sorted(plan.kept)] == [
        32, 64, 128, 256]
    assert plan.dependents["conv3_block1_1_conv"] == [
        "conv3_block1_1_bn", "conv3_block1_1_relu"]
    assert plan.consumers["conv3_block1_1_conv"] == ["conv3_block1_2_conv"]
    assert set(plan.skipped) == {"conv1_conv"} | {
        f"conv{s}_block1_2_conv" for s in range(2, 6)}
    assert all("residual addition" in reason
               for reason in plan.skipped.values())


def test_layers_selects_by_pattern():
    model = preset("resnet3d_10")
    plan = plan_filter_pruning(model, 0.5, layers=["conv2_*", "conv5_*"])
    assert sorted(plan.kept) == ["conv2_block1_1_conv", "conv5_block1_1_conv"]
    assert sorted(plan.skipped) == ["conv2_block1_2_conv",
                                    "conv5_block1_2_conv"]


@pytest.mark.parametrize("after_conv, words", [
    (lambda x: keras.layers.Add()([x, x]), "residual addition"),
    (lambda x: keras.layers.Concatenate()([x, x]), "concatenation"),
    (lambda x: ChannelZeroPadding(2)(x), "shortcut A"),
    (lambda x: keras.layers.Activation("sigmoid")(x), "does not map 0 to 0"),
    (lambda x: keras.layers.Conv3D(4, 1, groups=2)(x), "grouped"),
    (lambda x: keras.layers.Reshape((4, 32, 16, 8))(x), "Reshape"),
])
def test_convolutions_whose_channels_cannot_shrink_are_skipped(after_conv,
                                                               words):
    plan = plan_filter_pruning(plain_model(after_conv), 0.5)
    assert "conv" not in plan.kept
    assert words in plan.skipped["conv"]


def test_flatten_and_model_output_are_skipped():
    clips = keras.Input(CLIP)
    x = keras.layers.Conv3D(4, 1, name="conv")(clips)
    flat = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    plan = plan_filter_pruning(keras.Model(clips, flat), 0.5)
    assert "Flatten" in plan.skipped["conv"]
    plan = plan_filter_pruning(keras.Model(clips, [x, flat]), 0.5)
    assert "model output" in plan.skipped["conv"]


def check_equivalent(model, fraction=0.5, training=False):
    plan = plan_filter_pruning(model, fraction)
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.weights]
    thinned = thin_model(model, plan)
    zeroed = zero_filters(model, plan)
    x = clips()
    np.testing.assert_allclose(outputs(thinned, x, training),
                               outputs(zeroed, x, training), atol=1e-5)
    # Pruning changed something, and the input model is untouched.
    assert np.abs(outputs(thinned, x) - outputs(model, x)).max() > 1e-4
    for variable, value in zip(model.weights, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable),
                                      value)
    return plan, thinned


def test_resnet3d_10_shortcut_a_thinned_equals_zeroed():
    model = preset("resnet3d_10")
    plan, thinned = check_equivalent(model)
    # Hand count: per stage (input c, width w) conv1 loses w/2 filters of
    # 27 c weights, its BN 4 w/2 values, conv2 w/2 input channels of 27 w.
    dropped = sum(27 * c * (w // 2) + 4 * (w // 2) + 27 * (w // 2) * w
                  for c, w in ((64, 64), (64, 128), (128, 256), (256, 512)))
    assert model.count_params() - thinned.count_params() == dropped
    assert thinned.get_layer("conv4_block1_1_conv").filters == 128
    assert thinned.get_layer("conv4_block1_2_conv").kernel.shape == (
        3, 3, 3, 128, 256)


@pytest.mark.parametrize("separation", [None, "ir", "ip"])
def test_bottleneck_shortcut_b_and_csn_blocks_thinned_equals_zeroed(
        separation):
    model = tiny_bottleneck(separation)
    plan, thinned = check_equivalent(model)
    # Inside each block: 1x1x1 (8 or 16 -> 4) and, without "ir", the
    # second convolution (full 3x3x3 or the "ip" pointwise) shrink to 2.
    inner = {None: "2_conv", "ir": None, "ip": "2_pointwise_conv"}[
        separation]
    # The stem feeds two convolutions (b1's 1x1x1 and its projection).
    expected = {"stem_conv"} | {f"b{b}_1_conv" for b in (1, 2)}
    if inner:
        expected |= {f"b{b}_{inner}" for b in (1, 2)}
    assert set(plan.kept) == expected
    assert all(len(kept) == plan.num_filters[name] // 2
               for name, kept in plan.kept.items())
    assert plan.consumers["stem_conv"] == ["b1_1_conv", "b1_0_conv"] or (
        plan.consumers["stem_conv"] == ["b1_0_conv", "b1_1_conv"])
    assert set(plan.skipped) == {"b1_0_conv", "b1_3_conv", "b2_0_conv",
                                 "b2_3_conv"}
    if separation is not None:  # the depthwise 3x3x3 follows its input
        depthwise = thinned.get_layer("b1_2_conv")
        assert depthwise.groups == depthwise.filters == 2
        assert "b1_2_conv" in plan.dependents[
            "b1_1_conv" if separation == "ir" else "b1_2_pointwise_conv"]
    # Hand count of the thinned plain bottleneck (weights per layer, BN: 4
    # per channel): stem 27*3*4 + 16; b1: projection 4*16 + 64, 1x1x1 4*2
    # + 8, 3x3x3 27*2*2 + 8, 1x1x1 2*16 + 64; b2: projection 16*16 + 64,
    # 1x1x1 16*2 + 8, 3x3x3 108 + 8, 1x1x1 32 + 64; classifier 16*3 + 3.
    if separation is None:
        assert model.count_params() == 2523
        assert thinned.count_params() == (340 + 356 + 572 + 51)


def test_bottleneck_training_mode_equivalence():
    # Batch statistics: a zeroed channel has mean 0, variance 0 -> beta = 0.
    check_equivalent(tiny_bottleneck(), training=True)


def test_mobilenetv2_3d_thinned_equals_zeroed():
    model = preset("mobilenetv2_3d_0.2x")
    plan, thinned = check_equivalent(model)
    assert "block_1_expand" in plan.kept
    assert "block_1_depthwise" in plan.dependents["block_1_expand"]
    assert "block_2_add" in plan.skipped["block_2_project"]
    # The last 1x1x1 (1280) shrinks and so do the classifier's rows.
    assert plan.consumers["Conv_1"] == ["classifier"]
    assert thinned.get_layer("classifier").kernel.shape == (640, 5)


def test_thinned_model_trains_and_round_trips(tmp_path):
    model = tiny_bottleneck("ir")
    thinned = thin_model(model, plan_filter_pruning(model, 0.5))
    thinned.compile(optimizer="sgd", loss=keras.losses.
                    SparseCategoricalCrossentropy(from_logits=True))
    loss = thinned.train_on_batch(clips(), np.array([0, 2]))
    assert np.isfinite(loss)
    path = str(tmp_path / "thinned.keras")
    thinned.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(outputs(loaded, clips()),
                               outputs(thinned, clips()), atol=1e-6)
    assert loaded.count_params() == thinned.count_params()
    # The copies were built with zeros but keep the original initializers.
    for name in ("b1_1_conv", "b1_1_bn", "classifier"):
        assert thinned.get_layer(name).get_config() == dict(
            model.get_layer(name).get_config(),
            **({"filters": 2} if name == "b1_1_conv" else {}))


def test_plan_config_round_trip_and_repr():
    plan = plan_filter_pruning(tiny_bottleneck(), 0.5)
    config = json.loads(json.dumps(plan.get_config()))
    copy = ThinningPlan.from_config(config)
    assert copy.get_config() == plan.get_config()
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(plan))
    assert restored.kept == plan.kept
    assert plan.fraction_removed() == 0.5
    assert "5 convolutions thinned" in repr(plan)


def test_flatten_model_inlines_the_backbone_and_copies_weights():
    model = preset("resnet3d_10")
    flat = flatten_model(model)
    assert type(flat) is keras.Model or type(flat).__name__ == "Functional"
    assert not any(isinstance(layer, keras.Model) for layer in flat.layers)
    np.testing.assert_allclose(outputs(flat, clips()),
                               outputs(model, clips()), atol=1e-6)
    with pytest.raises(ValueError, match="`model` must be a Functional"):
        flatten_model(keras.layers.Dense(2))


def test_errors():
    model = tiny_bottleneck()
    for fraction in (1.0, -0.1, "half", True):
        with pytest.raises(ValueError, match="`fraction` must be a float"):
            plan_filter_pruning(model, fraction)
    with pytest.raises(ValueError, match="unmatched=\\['nothing_\\*'\\]"):
        plan_filter_pruning(model, 0.5, layers=["b1_*", "nothing_*"])
    with pytest.raises(ValueError, match="`layers` must be None"):
        plan_filter_pruning(model, 0.5, layers=[3])
    with pytest.raises(ValueError, match="`plan` must be a ThinningPlan"):
        thin_model(model, {"b1_1_conv": [0]})
    wrong = ThinningPlan({"b1_1_conv": [0]}, {"b1_1_conv": 7})
    with pytest.raises(ValueError, match="expects 7 filters"):
        zero_filters(model, wrong)
    blocked = ThinningPlan({"b1_3_conv": [0]}, {"b1_3_conv": 16})
    with pytest.raises(ValueError, match="cannot shrink: .*residual"):
        thin_model(model, blocked)
    with pytest.raises(ValueError, match="not a convolution"):
        thin_model(model, ThinningPlan({"pool": [0]}, {"pool": 4}))
    with pytest.raises(ValueError, match="distinct filter indices"):
        ThinningPlan({"conv": [0, 0]}, {"conv": 4})
    with pytest.raises(ValueError, match="missing=\\['conv'\\]"):
        ThinningPlan({"conv": [0]}, {})


JAX_SCRIPT = """
import json, keras, numpy as np
from deltasparse.compression.thinning import (plan_filter_pruning,
    thin_model, zero_filters)
from deltasparse.layers.convolution import DepthwiseConv3D
from tests.compression.test_thinning import randomize_batch_norms
# Zero initializers + NumPy weights: JAX's random initializers compile once
# per shape, which would dominate this test.
zeros = {"kernel_initializer": "zeros", "bias_initializer": "zeros"}
clips = keras.Input((4, 16, 16, 3))
x = keras.layers.Conv3D(8, 3, padding="same", name="conv1", **zeros)(clips)
x = keras.layers.BatchNormalization(name="bn1")(x)
x = DepthwiseConv3D(3, padding="same", name="depthwise", **zeros)(x)
x = keras.layers.ReLU(name="relu")(x)
x = keras.layers.Conv3D(6, 1, name="conv2", **zeros)(x)
x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
model = keras.Model(clips, keras.layers.Dense(3, name="classifier",
                                              **zeros)(x))
rng = np.random.default_rng(0)
model.set_weights([rng.normal(0, 0.3, w.shape) for w in model.weights])
randomize_batch_norms(model)
plan = plan_filter_pruning(model, 0.5)
thinned, zeroed = thin_model(model, plan), zero_filters(model, plan)
x = np.random.default_rng(0).normal(size=(6, 4, 16, 16, 3)).astype("float32")
difference = float(np.abs(thinned.predict_on_batch(x)
                          - zeroed.predict_on_batch(x)).max())
thinned.compile(optimizer="adam", loss=keras.losses.
                SparseCategoricalCrossentropy(from_logits=True))
history = thinned.fit(x, np.array([0, 1, 2] * 2), batch_size=2, epochs=1,
                      verbose=0).history
print(json.dumps({"backend": keras.backend.backend(),
                  "difference": difference, "kept": plan.kept,
                  "depthwise": thinned.get_layer("depthwise").groups,
                  "losses": history["loss"],
                  "parameters": [model.count_params(),
                                 thinned.count_params()]}))
"""


def test_thinning_end_to_end_on_jax():
    result = run_on_backend("jax", JAX_SCRIPT)
    assert result["backend"] == "jax"
    assert result["difference"] < 1e-5
    assert sorted(result["kept"]) == ["conv1", "conv2"]
    assert [len(kept) for kept in result["kept"].values()] == [4, 3]
    assert result["depthwise"] == 4
    # conv1 8 -> 4 filters (81 + 1 each), bn1 and depthwise (27 each) lose
    # 4 channels, conv2 4 inputs of 6 and 3 filters, classifier 3 rows.
    dropped = 4 * 82 + 4 * 4 + 4 * 27 + (8 * 6 + 6 - 4 * 3 - 3) + 3 * 3
    assert result["parameters"][0] - result["parameters"][1] == dropped
    assert np.isfinite(result["losses"]).all()
