"""Tests of `deltasparse.evaluation.evaluate_videos`: views averaged per
video (probabilities, logits, sigmoid outputs), clip vs video figures
against NumPy / scikit-learn, the sparsity figures of `evaluate_clips`."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as sk

from deltasparse.data.video.video_list import VideoList
from deltasparse.evaluation import evaluate_clips
from deltasparse.evaluation import evaluate_videos
from tests.models.tiny_video_model import tiny_data
from tests.models.tiny_video_model import tiny_video_model

VIDEOS, VIEWS = 5, 3


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return tiny_video_model("delta", sp_rate=1.0)


def _views(seed=0, classes=3):
    """VIDEOS x VIEWS clips (views in order video, view) with the labels of
    their video, and the video index of every view."""
    x, _ = tiny_data(batches=VIDEOS, batch=VIEWS, seed=seed, classes=classes)
    video_labels = np.eye(classes, dtype="float32")[[0, 1, 2, 0, 1]]
    index = np.repeat(np.arange(VIDEOS), VIEWS).astype("int32")
    return x, video_labels[index], index


def _batches(x, y, index, size=4):
    return [(x[i:i + size], y[i:i + size], index[i:i + size])
            for i in range(0, len(x), size)]


def _dense_model_and_clips(classes, activation, views, seed):
    """A flatten + dense model on (2, 4, 4, 1) clips, and random clips."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((2, 4, 4, 1)),
                              keras.layers.Flatten(),
                              keras.layers.Dense(classes,
                                                 activation=activation)])
    rng = np.random.default_rng(seed)
    return model, rng.normal(size=(views, 2, 4, 4, 1)).astype("float32")


def test_probabilities_averaged_per_video(model):
    x, y, index = _views()
    result = evaluate_videos(model, _batches(x, y, index), progress=False,
                             top_k=2)
    probs = np.asarray(model.predict(x, verbose=0), "float64")
    want = probs.reshape(VIDEOS, VIEWS, 3).mean(axis=1)
    np.testing.assert_allclose(result.video_scores, want, rtol=1e-6)
    assert result.outputs == "probabilities" and not result.multilabel
    truth = y[::VIEWS].argmax(1)
    fig = result.figures
    assert fig["videos"] == VIDEOS and fig["views"] == VIDEOS * VIEWS
    assert fig["steps"] == 4
    assert fig["clip_top1"] == pytest.approx(
        np.mean(probs.argmax(1) == y.argmax(1)))
    assert fig["video_top1"] == pytest.approx(np.mean(want.argmax(1) == truth))
    assert fig["video_top2"] == pytest.approx(
        sk.top_k_accuracy_score(truth, want, k=2, labels=range(3)))
    assert fig["video_mean_class_accuracy"] == pytest.approx(
        sk.balanced_accuracy_score(truth, want.argmax(1)))
    assert fig["video_map"] == pytest.approx(np.mean(
        [sk.average_precision_score(truth == j, want[:, j]) for j in range(3)]))
    assert "video_top5" not in fig          # top_k >= classes is left out
    assert result.video_ids == [0, 1, 2, 3, 4]
    assert result.class_names == ["0", "1", "2"]
    np.testing.assert_array_equal(result.video_labels, y[::VIEWS])
    assert result.views == {"num_clips": None, "num_crops": None,
                            "views_per_video": VIEWS, "sampling": None,
                            "clip_length": 3, "image_size": [8, 8]}
    # Mode "score" on probabilities also averages the probabilities.
    score = evaluate_videos(model, _batches(x, y, index), mode="score",
                            progress=False)
    np.testing.assert_allclose(score.video_scores, want, rtol=1e-6)


def test_sparsity_figures_match_evaluate_clips(model):
    x, y, index = _views(seed=1)
    clips = evaluate_clips(model, [(x[i:i + 4], y[i:i + 4])
                                   for i in range(0, len(x), 4)],
                           progress=False)
    result = evaluate_videos(model, _batches(x, y, index), progress=False)
    assert result.figures["clip_top1"] == pytest.approx(clips["accuracy"])
    names = [k for k in clips if "density" in k or "macs" in k
             or "op_ratio" in k]
    assert names
    for name in names:
        assert result.figures[name] == pytest.approx(clips[name], rel=1e-6)


def test_video_list_attributes_and_tf_data(model, capsys):
    x, y, index = _views(seed=2)
    ds = tf.data.Dataset.from_tensor_slices((x, y, index)).batch(6)
    ds.video_list = VideoList(
        paths=[f"/data/v{i}.avi" for i in range(VIDEOS)],
        num_frames=[10] * VIDEOS, labels=list(y[::VIEWS].argmax(1)),
        class_names=["run", "jump", "swim"],
        video_ids=[f"c/v{i}.avi" for i in range(VIDEOS)])
    ds.num_clips, ds.num_crops, ds.views_per_video = 3, 1, 3
    ds.sampling, ds.clip_length = "uniform", 3
    result = evaluate_videos(model, ds, progress=True)
    assert "evaluate" in capsys.readouterr().err
    assert result.video_ids == [f"c/v{i}.avi" for i in range(VIDEOS)]
    assert result.class_names == ["run", "jump", "swim"]
    assert result.views["num_clips"] == 3 and result.views["num_crops"] == 1
    assert result.views["sampling"] == "uniform"
    # A batch may mix videos; views of a video may be spread over batches.
    steps = evaluate_videos(model, ds, steps=1, progress=False)
    assert steps.figures["views"] == 6 and steps.figures["videos"] == 2


def test_logits_softmax_per_view_and_first_seen_order():
    model, x = _dense_model_and_clips(4, None, views=6, seed=1)
    x = x * 5
    index = np.array([3, 1, 3, 1, 3, 0], "int32")   # ids first seen 3, 1, 0
    labels = np.eye(4, dtype="float32")[[2, 1, 2, 1, 2, 0]]
    logits = np.asarray(model.predict(x, verbose=0), "float64")
    result = evaluate_videos(model, [(x[:3], labels[:3], index[:3]),
                                     (x[3:], labels[3:], index[3:])],
                             progress=False)
    assert result.outputs == "logits" and result.video_ids == [3, 1, 0]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    want = np.stack([prob[index == v].mean(0) for v in (3, 1, 0)])
    np.testing.assert_allclose(result.video_scores, want, rtol=1e-5)
    score = evaluate_videos(model, [(x, labels, index)], mode="score",
                            progress=False)
    want = np.stack([logits[index == v].mean(0) for v in (3, 1, 0)])
    np.testing.assert_allclose(score.video_scores, want, rtol=1e-5)
    np.testing.assert_array_equal(score.video_labels.argmax(1), [2, 1, 0])


def test_multilabel_sigmoid_outputs_give_map():
    model, x = _dense_model_and_clips(3, "sigmoid", views=8, seed=2)
    video_labels = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]],
                            "float32")
    index = np.repeat(np.arange(4), 2).astype("int32")
    result = evaluate_videos(model, [(x, video_labels[index], index)],
                             progress=False)
    assert result.multilabel and result.outputs == "sigmoid"
    assert "video_top1" not in result.figures
    out = np.asarray(model.predict(x, verbose=0), "float64")
    mean = out.reshape(4, 2, 3).mean(1)              # averaged as given
    np.testing.assert_allclose(result.video_scores, mean, rtol=1e-6)
    want = np.mean([sk.average_precision_score(video_labels[:, j], mean[:, j])
                    for j in range(2)])              # class 2: no positive
    assert result.figures["video_map"] == pytest.approx(want)
    assert result.figures["map_classes"] == 2


def test_bad_batches_and_arguments(model):
    x, y, index = _views()
    with pytest.raises(ValueError, match="video_index"):
        evaluate_videos(model, [(x, y)], progress=False)
    bad = y.copy()
    bad[1] = np.roll(bad[1], 1)                     # view 1 of video 0
    with pytest.raises(ValueError, match="same labels"):
        evaluate_videos(model, [(x, bad, index)], progress=False)
    with pytest.raises(ValueError, match="Received: mode='mean'"):
        evaluate_videos(model, [(x, y, index)], mode="mean")
    with pytest.raises(ValueError, match="Received: top_k=1"):
        evaluate_videos(model, [(x, y, index)], top_k=1)
    with pytest.raises(ValueError, match="Received: outputs='softmax'"):
        evaluate_videos(model, [(x, y, index)], outputs="softmax")
    with pytest.raises(ValueError, match="no batch"):
        evaluate_videos(model, [], progress=False)
    with pytest.raises(ValueError, match="a label row of zeros"):
        evaluate_videos(model, [(x, 0 * y, index)], progress=False)


class _Batches(list):
    """A list of batches that can carry `view_dataset`'s attributes."""


def test_varying_views_and_index_outside_the_video_list(model):
    x, y, index = _views(seed=3)
    index = np.array([0] * 5 + [1] * 4 + [2] * 6, "int32")  # sliding clips
    y = np.eye(3, dtype="float32")[[0, 1, 2]][index]
    result = evaluate_videos(model, _batches(x, y, index), progress=False)
    assert result.views["views_per_video"] is None
    assert result.figures["views"] == 15 and result.figures["videos"] == 3
    probs = np.asarray(model.predict(x, verbose=0), "float64")
    np.testing.assert_allclose(result.video_scores[2],
                               probs[index == 2].mean(0), rtol=1e-6)
    batches = _Batches(_batches(x, y, index))
    batches.video_list = VideoList(paths=["a", "b"], num_frames=[4, 4],
                                   labels=[0, 1], class_names=["p", "q", "r"])
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        evaluate_videos(model, batches, progress=False)
