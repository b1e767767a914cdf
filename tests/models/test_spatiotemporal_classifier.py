"""`VideoClassifier` on a `SpatiotemporalBackbone` (3-D features)."""

import keras
import numpy as np
import pytest

from deltasparse.models import SpatiotemporalBackbone
from deltasparse.models import VideoClassifier


@keras.saving.register_keras_serializable(package="deltasparse_tests")
class TinyConv3DBackbone(SpatiotemporalBackbone):
    def __init__(self, image_size=(32, 32), channels=3, clip_length=None,
                 **kwargs):
        clips = self.start_clip_graph(image_size, channels, clip_length)
        x = keras.layers.Conv3D(4, 3, strides=(1, 2, 2), padding="same",
                                name="conv1")(clips)
        super().__init__(inputs=clips, outputs=x, **kwargs)


def test_head_pools_over_time_and_space_then_one_classifier():
    backbone = TinyConv3DBackbone()
    model = VideoClassifier(backbone, num_classes=5)
    assert model.name == "tinyconv3d"
    assert [layer.name for layer in model.layers[-3:]] == [
        "global_pool", "dropout", "classifier"]
    clips = np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3))
    probabilities = np.asarray(model(clips.astype("float32")))
    assert probabilities.shape == (2, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The classifier sees the global mean of the backbone's features.
    features = np.asarray(backbone(clips.astype("float32")))
    kernel, bias = model.get_layer("classifier").get_weights()
    logits = features.mean(axis=(1, 2, 3)) @ kernel + bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-4,
                               atol=1e-6)
    assert model.sparsity_slots == ()


def test_round_trip(tmp_path):
    model = VideoClassifier(TinyConv3DBackbone(clip_length=4), 3,
                            dropout=0.2)
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    clips = np.ones((1, 4, 32, 32, 3), "float32")
    np.testing.assert_allclose(loaded(clips), model(clips), rtol=1e-6)
    assert loaded.backbone.clip_length == 4


@pytest.mark.parametrize("arguments, message", [
    ({"output_layer": "conv"}, "output_layer"),
    ({"pooling": "avg_7x7"}, "pooling"),
])
def test_per_frame_head_options_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        VideoClassifier(TinyConv3DBackbone(), 3, **arguments)


def test_initial_weights_follow_the_pytorch_originals():
    from deltasparse.models.mobilenetv2_3d import MobileNetV2_3DBackbone
    from deltasparse.models.resnet3d import ResNet3DBackbone

    keras.utils.set_random_seed(0)
    resnet = VideoClassifier(ResNet3DBackbone(
        depth=18, shortcut="A", image_size=(32, 32), clip_length=4), 8)
    # Hara: kaiming_normal_(mode="fan_out"): std sqrt(2 / (7*7*7 * 64)).
    conv1 = resnet.backbone.get_layer("conv1_conv").kernel.numpy()
    assert np.std(conv1) == pytest.approx(np.sqrt(2 / (343 * 64)), rel=0.02)
    # PyTorch nn.Linear: kernel and bias uniform on +-1/sqrt(512).
    kernel, bias = resnet.get_layer("classifier").get_weights()
    bound = 1 / np.sqrt(512)
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.9 * bound
    assert np.abs(bias).max() <= bound and np.abs(bias).max() > 0.5 * bound
    mobilenet = VideoClassifier(MobileNetV2_3DBackbone(
        width_multiplier=0.2, image_size=(32, 32), clip_length=4), 8)
    kernel, bias = mobilenet.get_layer("classifier").get_weights()
    assert np.std(kernel) == pytest.approx(0.01, rel=0.1)
    assert not bias.any()
