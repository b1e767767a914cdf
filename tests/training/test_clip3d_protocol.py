"""The 3-D training protocol (`deltasparse.training.clip3d_protocol`)."""

import json

import keras
import numpy as np
import pytest

from deltasparse.evaluation import VideoEvaluation
from deltasparse.models import SpatiotemporalBackbone
from deltasparse.models import VideoClassifier
from deltasparse.training import clip3d_protocol as protocol


@keras.saving.register_keras_serializable(package="deltasparse_tests")
class TinyClipBackbone(SpatiotemporalBackbone):
    """Conv3D + BatchNorm: enough layers to test loading and freezing."""

    def __init__(self, image_size=(32, 32), channels=3, clip_length=None,
                 **kwargs):
        clips = self.start_clip_graph(image_size, channels, clip_length)
        x = keras.layers.Conv3D(4, 3, strides=2, padding="same",
                                name="conv1")(clips)
        x = keras.layers.BatchNormalization(name="conv1_bn")(x)
        super().__init__(inputs=clips, outputs=x, **kwargs)


def tiny_classifier(num_classes, seed):
    keras.utils.set_random_seed(seed)
    return VideoClassifier(TinyClipBackbone(clip_length=4), num_classes)


# --------------------------------------------------------------------------
# Video accuracy and the top-10 file
# --------------------------------------------------------------------------


def softmax_model(num_classes):
    """Clips (1, 1, 1, K) -> softmax of their K values: hand-set logits."""
    inputs = keras.Input((1, 1, 1, num_classes))
    outputs = keras.layers.Activation("softmax")(
        keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


def test_video_accuracy_averages_clip_probabilities_by_hand():
    # Video 0 (label 1): clip probabilities [.7 .2 .1], [.1 .45 .45],
    # [.1 .45 .45]: majority vote of clip argmaxes = class 1 or 2 tie,
    # mean of probabilities = [.3, .3667, .3333] -> class 1 (correct).
    # Video 1 (label 0): [.5 .4 .1], [.0 .9 .1] -> mean [.25 .65 .1] ->
    # class 1 (wrong), although its first clip is right.
    probabilities = np.array([
        [0.7, 0.2, 0.1], [0.1, 0.45, 0.45], [0.1, 0.45, 0.45],
        [0.5, 0.4, 0.1], [1e-9, 0.9, 0.1]])
    clips = np.log(probabilities).astype("float32").reshape(5, 1, 1, 1, 3)
    labels = np.eye(3, dtype="float32")[[1, 1, 1, 0, 0]]
    index = np.array([0, 0, 0, 1, 1])
    batches = [(clips[:2], labels[:2], index[:2]),
               (clips[2:], labels[2:], index[2:])]
    evaluation = protocol.evaluate_video_accuracy(softmax_model(3), batches)
    np.testing.assert_allclose(evaluation.video_scores, [
        [0.3, 1.1 / 3, 1.0 / 3], [0.25, 0.65, 0.1]], atol=1e-6)
    assert evaluation.figures["video_top1"] == 0.5
    assert evaluation.figures["clip_top1"] == pytest.approx(3 / 5)
    assert evaluation.figures["videos"] == 2
    assert evaluation.figures["views"] == 5


def test_top_predictions_sorted_and_written_as_hara_val_json(tmp_path):
    evaluation = VideoEvaluation(
        figures={}, video_ids=["v_a", "v_b"],
        video_scores=np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]),
        video_labels=np.eye(3)[[1, 0]], class_names=["x", "y", "z"],
        views={})
    top = protocol.top_predictions(evaluation, 10)  # k capped at K = 3
    assert top["v_a"] == [{"label": "y", "score": 0.6},
                          {"label": "z", "score": 0.3},
                          {"label": "x", "score": 0.1}]
    assert [p["label"] for p in top["v_b"]] == ["x", "z", "y"]
    path = protocol.write_top_predictions(evaluation, tmp_path / "val.json",
                                          2)
    with open(path) as handle:
        data = json.load(handle)
    assert list(data) == ["results"]
    assert data["results"]["v_b"] == [{"label": "x", "score": 0.5},
                                      {"label": "z", "score": 0.3}]
    assert protocol.read_top_predictions(path) == data["results"]
    with pytest.raises(ValueError, match="`k`"):
        protocol.top_predictions(evaluation, 0)


# --------------------------------------------------------------------------
# Fine-tuning and optimizer
# --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_pretrain_loads_all_but_the_classifier(tmp_path, suffix):
    source = tiny_classifier(5, seed=1)
    path = str(tmp_path / f"source{suffix}")
    if suffix == ".keras":
        source.save(path)
    else:
        source.save_weights(path)
    target = tiny_classifier(3, seed=2)
    before = target.get_layer("classifier").get_weights()
    report = protocol.load_pretrained(target, path)
    assert "conv1" in report.matched and "classifier" not in report.matched
    for name in ("conv1", "conv1_bn"):
        for a, b in zip(source.get_layer(name).get_weights(),
                        target.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(before, target.get_layer("classifier").get_weights()):
        np.testing.assert_array_equal(a, b)
    # Same class count: the classifier is still left alone.
    same = tiny_classifier(5, seed=3)
    kernel = same.get_layer("classifier").get_weights()[0]
    protocol.load_pretrained(same, path)
    np.testing.assert_array_equal(
        same.get_layer("classifier").get_weights()[0], kernel)
    with pytest.raises(FileNotFoundError, match="pretrain_path"):
        protocol.load_pretrained(target, str(tmp_path / "missing.weights.h5"))


def test_last_layer_trains_only_the_classifier():
    model = tiny_classifier(3, seed=0)
    assert protocol.set_ft_portion(model, "last_layer") == 2
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {
        "classifier"}
    protocol.compile_clip3d(model, keras.optimizers.SGD(0.5))
    frozen = model.get_layer("conv1").get_weights()[0].copy()
    head = model.get_layer("classifier").get_weights()[0].copy()
    x = np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3))
    y = np.eye(3)[[0, 2]]
    model.fit(x.astype("float32"), y.astype("float32"), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0],
                                  frozen)
    assert not np.array_equal(model.get_layer("classifier").get_weights()[0],
                              head)
    assert protocol.set_ft_portion(model, "complete") == len(model.weights) - 2
    with pytest.raises(ValueError, match="ft_portion"):
        protocol.set_ft_portion(model, "head")


def test_optimizer_choices_and_errors():
    adam = protocol.make_clip3d_optimizer(1e-3, optimizer="adam")
    assert isinstance(adam, keras.optimizers.Adam)
    from deltasparse.training.optimizers import SGDWithDampening
    from deltasparse.training.plateau import ReduceLearningRateOnPlateau

    sgd = protocol.make_clip3d_optimizer(0.1)
    assert isinstance(sgd, SGDWithDampening)
    assert float(sgd.learning_rate) == pytest.approx(0.1)
    config = sgd.get_config()
    assert (config["momentum"], config["dampening"], config["weight_decay"],
            config["nesterov"]) == (0.9, 0.9, 1e-3, False)
    plateau = protocol.plateau_callback(10, 0.1, "state.json")
    assert isinstance(plateau, ReduceLearningRateOnPlateau)
    assert (plateau.monitor, plateau.patience, plateau.factor,
            plateau.state_path) == ("val_loss", 10, 0.1, "state.json")
    with pytest.raises(ValueError, match="optimizer"):
        protocol.make_clip3d_optimizer(0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="`lr`"):
        protocol.make_clip3d_optimizer(0.0)


def test_unknown_architecture_names_the_presets():
    with pytest.raises(ValueError, match="`architecture` must be a 3-D"):
        protocol.build_clip3d_classifier("resnet3d_7", 3)


def test_inflate_from_a_2d_mobilenetv2_weights_file(tmp_path):
    source = keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(32, 32, 3))
    path = str(tmp_path / "mobilenet_v2.weights.h5")
    source.save_weights(path)
    model = protocol.build_clip3d_classifier("mobilenetv2_3d_1.0x", 3,
                                             (32, 32), 4)
    report = protocol.inflate_pretrained(model, path)
    assert "Conv1" in report.matched and "Conv_1" in report.matched
    kernel = model.get_layer("Conv1").get_weights()[0]
    np.testing.assert_allclose(
        kernel.sum(axis=0), source.get_layer("Conv1").get_weights()[0],
        rtol=1e-5, atol=1e-6)  # "mean": the 2-D kernel spread over time
    with pytest.raises(FileNotFoundError, match="inflate_from"):
        protocol.inflate_pretrained(model, str(tmp_path / "none.h5"))


def test_zero_init_residual_makes_every_block_start_as_its_shortcut():
    from deltasparse.models.resnet3d import ResNet3DBackbone

    model = VideoClassifier(ResNet3DBackbone(
        depth=10, shortcut="B", image_size=(32, 32), clip_length=4), 3)
    zeroed = protocol.zero_init_residual_branches(model)
    assert zeroed == [f"conv{s}_block1_2_bn" for s in (2, 3, 4, 5)]
    backbone = model.backbone
    assert np.all(backbone.get_layer("conv3_block1_0_bn").gamma.numpy() == 1)
    # conv3_block1 (stride 2, projection B): out = relu(shortcut + 0).
    probe = keras.Model(backbone.input, [
        backbone.get_layer("conv3_block1_0_bn").output,
        backbone.get_layer("conv3_block1_out").output])
    clips = np.random.default_rng(0).normal(size=(2, 4, 32, 32, 3))
    shortcut, out = probe(clips.astype("float32"), training=False)
    np.testing.assert_allclose(out, np.maximum(shortcut, 0.0), atol=1e-6)
    assert np.abs(np.asarray(shortcut)).max() > 0.01
