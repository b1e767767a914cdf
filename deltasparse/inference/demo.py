"""The annotated demo video: a trained model's top-k labels drawn on a video.

`annotate_video` reads a video that OpenCV decodes, runs the model over
sliding windows of `clip_length` frames (a window every `stride` frames),
draws on every frame the top-k classes and probabilities of the latest
window that ends at or before that frame, and writes `output.avi` (MJPG)
plus a JSON of the per-window predictions. `main` is the `deltasparse-demo`
command (`python -m deltasparse.inference`).

Frames are prepared like the run's data pipeline
(`deltasparse.data.video.clip_dataset`): RGB, resized bilinearly to the
model's `image_size` without cropping (`tf.image.resize`), then
`deltasparse.data.video.preprocess`.

Difference from the original demo (spec §A3.1: a 10-frame buffer sampled to
5 TSN segments, "class label: ..." written with `cv2.putText` into a DIVX
`output.avi` at a fixed 25 fps and 640x480): every frame of the window is
fed (the clip the model was evaluated on), the output keeps the input's fps
and size, MJPG is used because it encodes with opencv-python-headless, and
the per-window predictions are saved as JSON.
"""

import argparse
import collections
import os
import sys
import time
import warnings

import cv2
import numpy as np

PREDICTIONS_FORMAT = "deltasparse-demo-predictions/1"
OUTPUTS = ("auto", "probabilities", "logits")
DEFAULT_FPS = 25.0
_PANEL_COLOUR = (32, 32, 32)          # BGR, the background of the labels
_BAR_COLOUR = (80, 200, 80)
_BAR_OUTLINE_COLOUR = (140, 140, 140)
_TEXT_COLOUR = (255, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MAX_NAME = 28                        # characters of a class name drawn


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------


def _positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(
            f"`{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def _positive_number(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(
            value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"`{name}` must be a number > 0 (frames per second). "
            f"Received: {name}={value!r}")
    return float(value)


def _size(name, value):
    if value is None:
        return None
    ok = (isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool)
        and v >= 1 for v in value))
    if not ok:
        raise ValueError(
            f"`{name}` must be (height, width) with positive ints. "
            f"Received: {name}={value!r}")
    return int(value[0]), int(value[1])


# --------------------------------------------------------------------------
# The model and its settings
# --------------------------------------------------------------------------


def _as_bundle(model):
    """A `ModelBundle` for a keras model, a bundle or a path."""
    from deltasparse.export.model_files import ModelBundle
    from deltasparse.export.model_files import load_model_bundle

    if isinstance(model, ModelBundle):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model_bundle(model)
    if not hasattr(model, "predict_on_batch"):
        raise ValueError(
            "`model` must be a keras.Model, a ModelBundle, a `.keras` file "
            f"or a bundle/run folder. Received: model={model!r}")
    shape = tuple(model.input_shape)
    outputs = int(model.output_shape[-1])
    return ModelBundle(
        model=model, class_names=[f"class_{j}" for j in range(outputs)],
        image_size=tuple(shape[-3:-1]) if len(shape) == 5 else None,
        clip_length=shape[1] if len(shape) == 5 else None,
        preprocessing=None, path=None, info={})


def _settings(bundle, class_names, clip_length, stride, image_size,
              preprocessing):
    """Resolves the demo settings: arguments first, then the bundle's."""
    from deltasparse.data.video.augment import check_preprocessing

    model = bundle.model
    shape = tuple(model.input_shape)
    if len(shape) != 5:
        raise ValueError(
            "`model` must take clips (batch, time, height, width, channels). "
            f"Received: a model with input shape {shape}")
    outputs = int(model.output_shape[-1])
    class_names = list(bundle.class_names if class_names is None
                       else class_names)
    if len(class_names) != outputs:
        raise ValueError(
            f"`class_names` must name the model's {outputs} outputs. "
            f"Received: {len(class_names)} class names")
    if clip_length is None:
        clip_length = bundle.clip_length
    if clip_length is None:
        raise ValueError(
            "`clip_length` must be given: the model takes clips of any "
            "length and its bundle does not record one. "
            "Received: clip_length=None")
    clip_length = _positive_int("clip_length", clip_length)
    if shape[1] is not None and shape[1] != clip_length:
        raise ValueError(
            f"`clip_length` must be {shape[1]}, the model's fixed number of "
            f"frames per clip. Received: clip_length={clip_length}")
    stride = (max(1, clip_length // 2) if stride is None
              else _positive_int("stride", stride))
    if image_size is None:
        image_size = bundle.image_size
        if image_size is None or None in tuple(image_size):
            raise ValueError(
                "`image_size` must be given: the model takes frames of any "
                "size and its bundle does not record one. "
                "Received: image_size=None")
    image_size = _size("image_size", image_size)
    if preprocessing is None:
        preprocessing = bundle.preprocessing
    preprocessing = check_preprocessing(preprocessing)
    return class_names, clip_length, stride, image_size, preprocessing


def to_probabilities(scores, outputs="auto"):
    """Class probabilities from model outputs (probabilities or logits).

    Args:
        scores: float array `(batch, num_classes)`.
        outputs: `"probabilities"` (used as given, also for multi-label
            sigmoid outputs), `"logits"` (softmax per row) or `"auto"`:
            probabilities when every row is non-negative and sums to 1
            (within 1e-3; a softmax `VideoClassifier`), logits otherwise.

    Returns:
        `(probabilities float64 (batch, num_classes), kind)`, `kind` being
        `"probabilities"` or `"logits"`.

    Raises:
        ValueError: if `outputs` is unknown.

    Example:
    >>> p, kind = to_probabilities(np.array([[0.0, np.log(3.0)]]))
    >>> kind, np.round(p, 2).tolist()
    ('logits', [[0.25, 0.75]])
    """
    if outputs not in OUTPUTS:
        raise ValueError(
            f"`outputs` must be one of {list(OUTPUTS)}. "
            f"Received: outputs={outputs!r}")
    scores = np.asarray(scores, np.float64)
    if outputs == "auto":
        rows_sum_to_one = np.all(np.abs(scores.sum(axis=-1) - 1.0) < 1e-3)
        outputs = ("probabilities" if rows_sum_to_one and np.all(scores >= 0)
                   else "logits")
    if outputs == "probabilities":
        return scores, outputs
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True), outputs


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------


def draw_predictions(frame, labels, title=None):
    """Draws a panel of labels with probability bars on a BGR frame.

    The panel sits in the top-left corner on a darkened background: an
    optional title line, then one line per `(name, probability)`: a bar
    whose filled part is proportional to the probability (the outline is
    100%), the name and the probability as a percentage. Text is scaled
    to the frame (readable from 64 px to 1080p).

    Args:
        frame: uint8 array `(height, width, 3)`, BGR; drawn on in place.
        labels: sequence of `(name, probability)` pairs, best first; may be
            empty (only the title is drawn).
        title: str or None, a first line (e.g. the window's frames).

    Returns:
        `frame`.

    Example:
    >>> frame = np.zeros((48, 64, 3), np.uint8)
    >>> bool(draw_predictions(frame, [("run", 0.9)]).any())
    True
    """
    height, width = frame.shape[:2]
    scale = max(0.25, min(height, width) / 720.0)
    thickness = max(1, int(round(scale * 2)))
    (_, text_height), baseline = cv2.getTextSize("Ag", _FONT, scale,
                                                 thickness)
    line = text_height + baseline + max(2, int(4 * scale))
    margin = max(2, int(8 * scale))
    bar_width = max(8, int(120 * scale))
    lines = [] if title is None else [(str(title), None)]
    lines += [(f"{str(name)[:_MAX_NAME]} {100.0 * p:.0f}%", float(p))
              for name, p in labels]
    text_width = max([cv2.getTextSize(text, _FONT, scale, thickness)[0][0]
                      for text, _ in lines] + [0])
    panel_width = min(width, 3 * margin + text_width + bar_width)
    panel_height = min(height, margin + line * len(lines) + margin // 2)
    region = frame[:panel_height, :panel_width]
    shade = np.empty_like(region)
    shade[:] = _PANEL_COLOUR
    cv2.addWeighted(region, 0.35, shade, 0.65, 0.0, dst=region)
    for i, (text, probability) in enumerate(lines):
        y = margin + line * i + text_height
        x = margin
        if probability is not None:
            length = int(round(bar_width * min(max(probability, 0.0), 1.0)))
            cv2.rectangle(frame, (x, y - text_height),
                          (x + bar_width, y + baseline // 2),
                          _BAR_OUTLINE_COLOUR, thickness=1)
            cv2.rectangle(frame, (x, y - text_height),
                          (x + max(1, length), y + baseline // 2),
                          _BAR_COLOUR, thickness=-1)
            x += bar_width + margin
        cv2.putText(frame, text, (x, y), _FONT, scale, _TEXT_COLOUR,
                    thickness, cv2.LINE_AA)
    return frame


# --------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------


class _WindowPredictor:
    """Batches the windows of a video and predicts them."""

    def __init__(self, model, preprocessing, class_names, top_k, outputs):
        self.model = model
        self.preprocessing = preprocessing
        self.class_names = class_names
        self.top_k = min(top_k, len(class_names))
        self.outputs = outputs
        self.kind = None

    def predict(self, windows):
        """`windows`: list of `(start, end, clip (T, H, W, 3) float32)`."""
        import keras

        from deltasparse.data.video.augment import preprocess

        clips = np.stack([clip for _, _, clip in windows])
        clips = np.asarray(preprocess(clips, self.preprocessing),
                           np.float32)
        scores = keras.ops.convert_to_numpy(
            self.model.predict_on_batch(clips))
        probabilities, kind = to_probabilities(scores, self.outputs)
        self.kind = self.kind or kind
        results = []
        for (start, end, _), row in zip(windows, probabilities):
            best = np.argsort(-row, kind="stable")[:self.top_k]
            results.append(dict(
                start=int(start), end=int(end),
                class_indices=[int(j) for j in best],
                classes=[self.class_names[j] for j in best],
                probabilities=[float(row[j]) for j in best]))
        return results


def _resize_frame(frame_bgr, image_size):
    """RGB float32 `(H, W, 3)` frame as the run's pipeline resizes it."""
    import tensorflow as tf

    rgb = np.ascontiguousarray(frame_bgr[..., ::-1])
    return tf.image.resize(rgb, image_size, method="bilinear").numpy()


def _label_pairs(window):
    return list(zip(window["classes"], window["probabilities"]))


def _title(window, clip_length, frames_seen):
    if window is None:
        return f"collecting frames {min(frames_seen, clip_length)}/" \
               f"{clip_length}"
    return f"frames {window['start']}-{window['end']}"


def _temp_video_path(path):
    folder, name = os.path.split(os.path.abspath(path))
    stem, extension = os.path.splitext(name)
    return os.path.join(folder, f".{stem}.tmp-{os.getpid()}{extension}")


# --------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------


def annotate_video(model, video_path, output_path="output.avi",
                   class_names=None, clip_length=None, stride=None,
                   image_size=None, preprocessing=None, top_k=3,
                   batch_size=4, fps=None, progress=True,
                   predictions_path=None, outputs="auto", output_size=None,
                   max_frames=None):
    """Writes a copy of a video with the model's top-k labels on every frame.

    Windows of `clip_length` consecutive frames start at frames `0, stride,
    2 * stride, ...` while the window fits in the video (the sliding
    windows of `deltasparse.data.video.clip_frame_indices(num_frames,
    clip_length, 1, stride)`). Frame `f` shows the prediction of the latest
    window that ends at or before `f`; the first `clip_length - 1` frames
    show "collecting frames k/T". A video shorter than one window gets one
    window of its frames repeated in a loop (index mod num_frames, as
    MMAction2's samplers do), with a warning.

    The predictions JSON holds the settings (`class_names`, `clip_length`,
    `stride`, `image_size`, `preprocessing`, `outputs`, `top_k`, `frames`,
    `video_fps`, the `video`, `model` and `output` paths) and `windows`: one
    dict per window with `start` and `end` (0-based frame numbers, `end`
    included), the top-k `classes`, `class_indices` and `probabilities`,
    best first.

    Frames are streamed: at most `batch_size * stride + clip_length` frames
    are held in memory, whatever the video's length.

    Args:
        model: a `keras.Model` taking clips `(batch, time, height, width,
            3)`, a `deltasparse.export.ModelBundle`, or a path to a `.keras`
            file or a bundle/run folder (`load_model_bundle`).
        video_path: str, any video that OpenCV decodes.
        output_path: str, the annotated `.avi` (MJPG; another extension
            gets OpenCV's fallback codec for its container, e.g. `mp4v`).
            Written atomically, its folder created. Defaults to
            `"output.avi"`.
        class_names: list of str, one per output. Defaults to the bundle's
            (`"class_0"`, ... for a bare model).
        clip_length: int, frames per window. Defaults to the bundle's or the
            model's fixed input length.
        stride: int, frames between window starts. Defaults to
            `max(1, clip_length // 2)` (half-overlapping windows).
        image_size: `(height, width)` the frames are resized to. Defaults to
            the bundle's or the model's input size.
        preprocessing: `"caffe"`, `"tf"`, `"none"` or a callable. Defaults
            to the bundle's (none when it records none).
        top_k: int, labels drawn and saved per window. Defaults to 3.
        batch_size: int, windows per model call. Defaults to 4.
        fps: float, frames per second of the output. Defaults to the
            input's (25 when the file does not say).
        progress: bool, show a tqdm progress bar.
        predictions_path: str, the JSON of per-window predictions. Defaults
            to `output_path` with the extension `.json`.
        outputs: `"auto"`, `"probabilities"` or `"logits"`, what the model
            returns (see `to_probabilities`; pass `"probabilities"` for a
            multi-label sigmoid model).
        output_size: `(height, width)` of the output video. Defaults to
            the input's.
        max_frames: int, stop after this many frames (None: the whole
            video).

    Returns:
        dict: `frames` (written), `windows`, `seconds` (wall time),
        `fps` (frames processed per second), `video_fps`, `frame_size`
        (height, width of the output), `output_path`, `predictions_path`.

    Raises:
        FileNotFoundError: if `video_path` does not exist.
        ValueError: if the video cannot be decoded, the output cannot be
            written, or an argument is invalid.

    Example:
    >>> annotate_video("run_folder", "clip.mp4")  # doctest: +SKIP
    {'frames': 120, 'windows': 14, 'seconds': 3.1, 'fps': 38.7, ...}
    """
    from tqdm.auto import tqdm

    from deltasparse.training.checkpoints import write_json_atomic

    video_path = os.fspath(video_path)
    if not os.path.isfile(video_path):
        raise FileNotFoundError(
            "`video_path` must be an existing video file (any format OpenCV "
            f"decodes). Received: video_path={video_path!r}")
    top_k = _positive_int("top_k", top_k)
    batch_size = _positive_int("batch_size", batch_size)
    fps = _positive_number("fps", fps)
    output_size = _size("output_size", output_size)
    max_frames = _positive_int("max_frames", max_frames, allow_none=True)
    if outputs not in OUTPUTS:
        raise ValueError(
            f"`outputs` must be one of {list(OUTPUTS)}. "
            f"Received: outputs={outputs!r}")
    output_path = os.fspath(output_path)
    if predictions_path is None:
        predictions_path = os.path.splitext(output_path)[0] + ".json"
    bundle = _as_bundle(model)
    class_names, clip_length, stride, image_size, preprocessing = _settings(
        bundle, class_names, clip_length, stride, image_size, preprocessing)
    predictor = _WindowPredictor(bundle.model, preprocessing, class_names,
                                 top_k, outputs)

    folder = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(folder, exist_ok=True)
    capture = cv2.VideoCapture(video_path)
    writer = bar = None
    temp_path = _temp_video_path(output_path)
    started = time.perf_counter()
    try:
        if not capture.isOpened():
            raise ValueError(
                "`video_path` must be a video OpenCV can decode. "
                f"Received: video_path={video_path!r}")
        video_fps = capture.get(cv2.CAP_PROP_FPS)
        video_fps = float(video_fps) if video_fps and video_fps > 0 \
            else DEFAULT_FPS
        expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        if max_frames is not None:
            expected = min(expected or max_frames, max_frames)
        bar = tqdm(total=expected, unit="frame", disable=not progress,
                   desc=os.path.basename(video_path))
        recent = collections.deque(maxlen=clip_length)  # resized frames
        waiting_frames = []   # (index, BGR frame) whose window is pending
        waiting_windows = []  # (start, end, clip) not predicted yet
        windows = []
        shown = None          # the latest predicted window
        count = 0
        frame_size = None

        def write(frame, window, frames_seen):
            nonlocal writer, frame_size
            if output_size is not None and frame.shape[:2] != output_size:
                frame = cv2.resize(frame, output_size[::-1],
                                   interpolation=cv2.INTER_AREA)
            if writer is None:
                frame_size = frame.shape[:2]
                height, width = frame_size
                writer = cv2.VideoWriter(
                    temp_path, cv2.VideoWriter_fourcc(*"MJPG"),
                    fps or video_fps, (width, height))
                if not writer.isOpened():
                    raise ValueError(
                        "`output_path` must be a writable `.avi` path "
                        "(MJPG). Received: "
                        f"output_path={output_path!r}")
            labels = [] if window is None else _label_pairs(window)
            writer.write(draw_predictions(
                np.ascontiguousarray(frame), labels,
                _title(window, clip_length, frames_seen)))

        def flush():
            nonlocal shown
            results = predictor.predict(waiting_windows) \
                if waiting_windows else []
            windows.extend(results)
            position = 0
            for index, frame in waiting_frames:
                while position < len(results) and \
                        results[position]["end"] <= index:
                    shown = results[position]
                    position += 1
                write(frame, shown, index + 1)
            waiting_windows.clear()
            waiting_frames.clear()

        next_end = clip_length - 1
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            index = count
            count += 1
            recent.append(_resize_frame(frame, image_size))
            if index == next_end:
                waiting_windows.append(
                    (index - clip_length + 1, index, np.stack(recent)))
                next_end += stride
            if waiting_windows or index < clip_length - 1:
                # Held until its window is predicted (the first frames
                # until the first window exists, for short videos).
                waiting_frames.append((index, frame))
                if len(waiting_windows) == batch_size:
                    flush()
            else:
                write(frame, shown, index + 1)
            bar.update(1)
        if count == 0:
            raise ValueError(
                "`video_path` must be a video with at least one decodable "
                f"frame. Received: video_path={video_path!r}")
        if count < clip_length:
            warnings.warn(
                f"The video has {count} frames, fewer than clip_length="
                f"{clip_length}; its only window repeats them in a loop.",
                stacklevel=2)
            frames = list(recent)
            waiting_windows.append((0, count - 1, np.stack(
                [frames[k % count] for k in range(clip_length)])))
        flush()
        writer.release()
        writer = None
        os.replace(temp_path, output_path)
    finally:
        capture.release()
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.release()
        if os.path.exists(temp_path):
            os.remove(temp_path)
    seconds = time.perf_counter() - started
    write_json_atomic(predictions_path, dict(
        format=PREDICTIONS_FORMAT, video=os.path.abspath(video_path),
        model=bundle.path, output=os.path.abspath(output_path),
        class_names=class_names, clip_length=clip_length, stride=stride,
        image_size=list(image_size),
        preprocessing=preprocessing if isinstance(preprocessing, str)
        or preprocessing is None else repr(preprocessing),
        outputs=predictor.kind, top_k=predictor.top_k, frames=count,
        video_fps=video_fps, windows=windows))
    return dict(frames=count, windows=len(windows), seconds=seconds,
                fps=count / seconds if seconds > 0 else float("inf"),
                video_fps=video_fps, frame_size=tuple(frame_size),
                output_path=output_path, predictions_path=predictions_path)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


#: `annotate_video` arguments the command takes: name -> (type, default,
#: help).
_NUMBER_OPTIONS = {
    "top_k": (int, 3, "labels drawn per frame (default 3)"),
    "stride": (int, None, "frames between window starts (default: half "
                          "the clip length)"),
    "clip_length": (int, None, "frames per window (default: the model's)"),
    "batch_size": (int, 4, "windows per model call (default 4)"),
    "fps": (float, None, "output frames per second (default: the input's)"),
    "max_frames": (int, None, "stop after this many frames"),
}


def build_parser():
    """Returns the `argparse.ArgumentParser` of `deltasparse-demo`."""
    parser = argparse.ArgumentParser(
        prog="deltasparse-demo",
        description="Run a trained video model over sliding windows of a "
                    "video and write a copy with the top-k labels and "
                    "probabilities drawn on every frame (MJPG .avi), plus "
                    "a JSON of the per-window predictions.")
    parser.add_argument("video", help="input video (any format OpenCV "
                                      "decodes)")
    parser.add_argument("--model", required=True,
                        help="a .keras file, or a bundle or run folder "
                             "holding model.keras and model_info.json")
    parser.add_argument("--output", default="output.avi",
                        help="annotated video (default output.avi)")
    for name, (kind, default, text) in _NUMBER_OPTIONS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind,
                            default=default, help=text)
    parser.add_argument("--predictions", default=None,
                        help="per-window predictions JSON (default: the "
                             "output path with .json)")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the progress bar")
    return parser


def main(argv=None):
    """Entry point of `deltasparse-demo` (`python -m deltasparse.inference`).

    Args:
        argv: command-line arguments without the program name. Defaults to
            `sys.argv[1:]`.

    Returns:
        The exit status: 0 on success, 1 on errors (printed as one
        `error: ...` line on stderr).
    """
    args = build_parser().parse_args(argv)
    try:
        summary = annotate_video(
            args.model, args.video, output_path=args.output,
            progress=not args.no_progress, predictions_path=args.predictions,
            **{name: getattr(args, name) for name in _NUMBER_OPTIONS})
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {summary['output_path']} ({summary['frames']} frames, "
          f"{summary['windows']} windows, {summary['fps']:.1f} frames/s) "
          f"and {summary['predictions_path']}")
    return 0


__all__ = ["annotate_video", "draw_predictions", "main",
           "to_probabilities"]
