"""`inflate_2d_weights`: I3D inflation of keras.applications weights."""

import keras
import numpy as np
import pytest

from deltasparse.models import VideoClassifier
from deltasparse.models.mobilenetv2_3d import MobileNetV2_3DBackbone
from deltasparse.models.weight_inflation import inflate_2d_weights
from deltasparse.models.weight_inflation import inflate_kernel

# 33 px frames: odd sizes make TensorFlow's "same" padding of the 2-D
# strided convolutions symmetric, as PyTorch's (and the 3-D family's).
SIZE = 33


def randomised_mobilenetv2(alpha=1.0, size=SIZE):
    """A keras.applications MobileNetV2 (no download) with random BN
    statistics, so that copying them matters."""
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=alpha, include_top=False,
        weights=None)
    randomise_batch_norms(model)
    return model


def same_epsilon_as(model_3d, model_2d):
    """keras.applications BN epsilons (MobileNetV2 1e-3, ResNet50 1.001e-5)
    in the 3-D model, whose own default is PyTorch's 1e-5, for an exact
    comparison."""
    for layer in model_3d.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.epsilon = model_2d.get_layer(layer.name).epsilon


def randomise_batch_norms(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape),
                rng.normal(size=beta.shape),
                rng.normal(size=mean.shape) * 0.1,
                rng.uniform(0.5, 2.0, variance.shape)])


def features(model, name, x):
    return np.asarray(keras.Model(model.input, model.get_layer(name).output)(
        x, training=False))


def test_inflate_kernel_by_value():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 3, 2, 5))
    mean = inflate_kernel(kernel, 3, "mean")
    assert mean.shape == (3, 3, 3, 2, 5)
    for t in range(3):
        np.testing.assert_allclose(mean[t], kernel / 3)
    centre = inflate_kernel(kernel, 3, "centre")
    np.testing.assert_array_equal(centre[1], kernel)
    assert not centre[0].any() and not centre[2].any()
    depthwise = rng.normal(size=(3, 3, 4, 1))
    grouped = inflate_kernel(depthwise, 5, "mean", depthwise=True)
    assert grouped.shape == (5, 3, 3, 1, 4)
    for c in range(4):
        np.testing.assert_allclose(grouped[2, :, :, 0, c],
                                   depthwise[:, :, c, 0] / 5)
    assert inflate_kernel(np.ones((1, 1, 3, 2)), 1).shape == (1, 1, 1, 3, 2)


def test_a_constant_clip_gives_the_2d_features_mean_rule(tmp_path):
    model_2d = randomised_mobilenetv2()
    path = tmp_path / "mobilenet_v2_random.weights.h5"
    model_2d.save_weights(path)
    model_3d = MobileNetV2_3DBackbone(1.0, image_size=(SIZE, SIZE))
    report = inflate_2d_weights(model_3d, str(path), time_kernel="mean")
    assert report.mismatched == [] and report.skipped_absent == []
    assert {"Conv1", "bn_Conv1", "expanded_conv_depthwise",
            "block_16_project_BN", "Conv_1", "Conv_1_bn"} <= set(
                report.matched)
    same_epsilon_as(model_3d, model_2d)
    frame = np.random.default_rng(2).normal(size=(1, SIZE, SIZE, 3))
    clip = np.repeat(frame[:, None], 16, axis=1).astype("float32")
    # Frames untouched by the temporal zero padding: 2..13 after the first
    # stride-1 layers, 2..6 of 8 after block 1's temporal stride 2.
    for name, frames in (("bn_Conv1", range(1, 15)),
                         ("expanded_conv_project_BN", range(2, 14)),
                         ("block_1_project_BN", range(2, 7))):
        want = features(model_2d, name, frame.astype("float32"))[0]
        got = features(model_3d, name, clip)[0]
        for t in frames:
            np.testing.assert_allclose(got[t], want, rtol=1e-3, atol=1e-3,
                                       err_msg=f"{name} frame {t}")
    # The temporal zero padding does change the first frame.
    edge = features(model_3d, "expanded_conv_project_BN", clip)[0, 0]
    assert not np.allclose(edge, features(
        model_2d, "expanded_conv_project_BN", frame.astype("float32"))[0],
        atol=1e-3)


def test_centre_rule_gives_each_frames_2d_features():
    model_2d = randomised_mobilenetv2()
    model_3d = MobileNetV2_3DBackbone(1.0, image_size=(SIZE, SIZE))
    inflate_2d_weights(model_3d, model_2d, time_kernel="centre")
    same_epsilon_as(model_3d, model_2d)
    clip = np.random.default_rng(3).normal(
        size=(1, 4, SIZE, SIZE, 3)).astype("float32")
    got = features(model_3d, "Conv1_relu", clip)[0]
    want = features(model_2d, "Conv1_relu", clip[0])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_report_of_a_narrow_keras_mobilenetv2(tmp_path):
    # alpha 0.35: Keras rounds channels to multiples of 8 (Conv1: 16), the
    # original 3-D code truncates (int(32 * 0.35) = 11): the early layers
    # mismatch, the late ones (112 -> 1280) agree.
    model_2d = randomised_mobilenetv2(alpha=0.35, size=32)
    path = tmp_path / "mobilenet_v2_0.35.weights.h5"
    model_2d.save_weights(path)
    model_3d = VideoClassifier(
        MobileNetV2_3DBackbone(0.35, image_size=(32, 32)), num_classes=5)
    before = model_3d.get_layer("classifier").get_weights()[0].copy()
    report = inflate_2d_weights(model_3d, path)
    mismatched = dict(report.mismatched)
    assert "Conv1" in mismatched and "(3, 3, 3, 3, 16)" in mismatched["Conv1"]
    assert {"Conv_1", "Conv_1_bn", "block_16_project"} <= set(report.matched)
    assert report.excluded == ["classifier"]
    np.testing.assert_array_equal(
        model_3d.get_layer("classifier").get_weights()[0], before)
    np.testing.assert_allclose(
        model_3d.get_layer("Conv_1").get_weights()[0][0],
        model_2d.get_layer("Conv_1").get_weights()[0], rtol=1e-6)
    assert "Conv1" not in report.matched
    assert (len(report.matched), len(report.mismatched)) == (32, 72)
    assert "32 matched, 72 mismatched" in report.summary()


def test_resnet3d_50_from_a_resnet50_file_folds_the_conv_biases(tmp_path):
    from deltasparse.models.resnet3d import ResNet3DBackbone

    keras.utils.set_random_seed(1)
    model_2d = keras.applications.ResNet50(
        input_shape=(32, 32, 3), include_top=False, weights=None)
    randomise_batch_norms(model_2d, seed=1)
    rng = np.random.default_rng(1)
    conv = model_2d.get_layer("conv2_block1_2_conv")
    kernel, _ = conv.get_weights()
    conv.set_weights([kernel, rng.normal(size=kernel.shape[-1])])
    path = tmp_path / "resnet50_random.weights.h5"
    model_2d.save_weights(path)
    model_3d = ResNet3DBackbone(50, "B", image_size=(32, 32))
    report = inflate_2d_weights(model_3d, str(path))
    assert report.mismatched == [] and report.skipped_absent == []
    assert len(report.matched) == 106  # 53 convolutions + 53 BatchNorms
    same_epsilon_as(model_3d, model_2d)
    frame = rng.normal(size=(1, 32, 32, 3)).astype("float32")
    clip = np.repeat(frame[:, None], 32, axis=1)
    # Stage 2 (stride 1) still matches the 2-D ResNet50 in the centre
    # frames (conv1's 7-frame and pool1's temporal padding, then three
    # blocks with 3x3x3 convolutions: frames 5..10 of 16).
    want = features(model_2d, "conv2_block3_out", frame)[0]
    got = features(model_3d, "conv2_block3_out", clip)[0]
    for t in range(5, 11):
        np.testing.assert_allclose(got[t], want, rtol=1e-3, atol=1e-3,
                                   err_msg=f"frame {t}")


def test_errors(tmp_path):
    model_3d = MobileNetV2_3DBackbone(0.2, image_size=(32, 32))
    unrelated = keras.Sequential([keras.Input((4,)),
                                  keras.layers.Dense(2, name="other")])
    with pytest.raises(ValueError, match="No layer"):
        inflate_2d_weights(model_3d, unrelated)
    with pytest.raises(ValueError, match="time_kernel"):
        inflate_2d_weights(model_3d, unrelated, time_kernel="first")
    with pytest.raises(FileNotFoundError):
        inflate_2d_weights(model_3d, str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="model_3d"):
        inflate_2d_weights(unrelated, str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="source"):
        inflate_2d_weights(model_3d, 3)
