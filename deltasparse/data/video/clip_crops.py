"""Clips and crops of the 3-D CNN papers (Hara et al.; Efficient-3DCNNs).

The sampling and augmentation of `kenshohara/3D-ResNets-PyTorch` and
`okankop/Efficient-3DCNNs` (what the compressed-3d-cnn seed trains with,
spec `video_systems.md` §A2.2, §A2.4), as seeded pure NumPy functions plus
two `tf.data` pipelines over a `deltasparse.data.video.VideoList`:

Temporal (0-based frame ids; Hara's lists are 1-based):

- `temporal_random_crop` (training, `TemporalRandomCrop`): a window of
  `clip_length` consecutive frames starting at `U{0, ..., max(0, F - T -
  1)}`. As in Hara's code the last possible start `F - T` is never drawn
  (the `- 1`); a shorter video is looped (`loop_padding`).
- `temporal_center_crop` (validation, `TemporalCenterCrop`): the window
  starting at `max(0, F // 2 - T // 2)`, looped when short.
- `hara_clip_indices(F, T, num_clips)`: the clips of Hara's
  `make_dataset(n_samples_for_each_video=num_clips)`: `0` = every
  non-overlapping window (test, video accuracy), `1` = the centre clip,
  `N > 1` = windows `max(1, ceil((F - 1 - T) / (N - 1)))` apart (Hara's
  rule; it gives more than N clips when the video is short).
- `loop_padding`: Hara's `LoopPadding`, the frame ids repeated cyclically.

Spatial (`corner_crop_box`, `multiscale_scales`, `CROP_POSITIONS`):
`MultiScaleCornerCrop`: a square of side `int(min(h, w) * scale)`, scale one
of `1, 2^(-1/4), ..., 2^(-1)` (5 scales), at one of the 4 corners or the
centre, one draw per clip, resized to `image_size`, plus a horizontal flip
with p = 0.5 per clip; validation and test: `Scale(size)` (shorter side to
`size`, aspect kept) then `CenterCrop(size)` (`scale_center_crop`).

Normalisation (`ClipNormalization`, `MEANS`, `KINETICS_STD`): Hara's
`ToTensor(norm_value)` then `Normalize(mean, std)` with the means of
`mean.py` (ActivityNet `[114.7748, 107.7354, 99.4750]`, Kinetics
`[110.63666788, 103.16065604, 96.29023126]`, RGB, on the 0-255 scale) and
the Kinetics std `[38.7568578, 37.88248729, 40.02898126]`, all divided by
`norm_value` (1 or 255); `mean_norm=False` subtracts 0, `std_norm=False`
divides by 1 (Hara's `--no_mean_norm`, `--std_norm`; defaults: mean
subtracted, no std).

Differences from the originals: resizing is TensorFlow's bilinear with
antialiasing (PIL's `BILINEAR` also filters when downsampling; values differ
by a few grey levels); the random state is NumPy's generator seeded by
`(epoch seed, video index)` instead of Python's global `random`, so an epoch
is a pure function of `(seed, epoch)`; a one-frame video gets one looped test
clip (Hara's `range(1, n_frames, step)` gives it none); only square inputs
(Hara's `sample_size` is one number).
"""

import math
import numbers

import numpy as np
import tensorflow as tf

from deltasparse.data.video.index import check_positive_int
from deltasparse.data.video.pipeline import _epoch_dataset
from deltasparse.data.video.views import _check_videos
from deltasparse.data.video.views import _frame_reader

#: Crop positions of `MultiScaleCornerCrop`: centre, top-left, top-right,
#: bottom-left, bottom-right (Hara's order).
CROP_POSITIONS = ("c", "tl", "tr", "bl", "br")
#: Per-channel RGB means of `mean.py`, on the 0-255 scale.
MEANS = {
    "activitynet": (114.7748, 107.7354, 99.4750),
    "kinetics": (110.63666788, 103.16065604, 96.29023126),
}
#: Per-channel RGB std of `mean.py` (Kinetics), on the 0-255 scale.
KINETICS_STD = (38.7568578, 37.88248729, 40.02898126)
#: `scale_step` of Hara's `--scale_step` default: 2^(-1/4).
SCALE_STEP = 2.0 ** -0.25


# --------------------------------------------------------------------------
# Temporal crops (pure NumPy)
# --------------------------------------------------------------------------


def loop_padding(frame_ids, clip_length):
    """Hara's `LoopPadding`: repeats `frame_ids` cyclically to `clip_length`.

    Args:
        frame_ids: 1-D int sequence, at least one id.
        clip_length: int >= 1.

    Returns:
        int64 array `(clip_length,)` when `frame_ids` is shorter, else
        `frame_ids` unchanged (as an array).

    Example:
    >>> loop_padding([4, 5, 6], 7).tolist()
    [4, 5, 6, 4, 5, 6, 4]
    """
    frame_ids = np.asarray(frame_ids, np.int64).reshape(-1)
    clip_length = check_positive_int("clip_length", clip_length)
    if len(frame_ids) == 0:
        raise ValueError("`frame_ids` must hold at least one frame id. "
                         "Received: frame_ids=[]")
    if len(frame_ids) >= clip_length:
        return frame_ids
    return frame_ids[np.arange(clip_length) % len(frame_ids)]


def _window(start, num_frames, clip_length):
    stop = min(start + clip_length, num_frames)
    return loop_padding(np.arange(start, stop, dtype=np.int64), clip_length)


def _rng(seed):
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(
            seed, numbers.Integral) or seed < 0:
        raise ValueError(
            "`seed` must be None, an int >= 0 or a `np.random.Generator`. "
            f"Received: seed={seed!r}")
    return np.random.default_rng(int(seed))


def temporal_random_crop(num_frames, clip_length, seed=None):
    """Hara's `TemporalRandomCrop`: a random window, looped when short.

    The start is uniform in `{0, ..., max(0, num_frames - clip_length -
    1)}` (Hara's `randint(0, rand_end)`, whose `- 1` leaves out the last
    full window); the window holds the frames `start ... start +
    clip_length - 1` that exist, repeated cyclically up to `clip_length`.

    Args:
        num_frames: int >= 1, frames in the video (F).
        clip_length: int >= 1 (T).
        seed: None, an int or a `np.random.Generator`.

    Returns:
        int64 array `(clip_length,)`, 0-based frame ids.

    Example:
    >>> temporal_random_crop(3, 5, seed=0).tolist()  # short: looped
    [0, 1, 2, 0, 1]
    >>> int(temporal_random_crop(20, 16, seed=1)[0]) in range(4)
    True
    """
    num_frames = check_positive_int("num_frames", num_frames)
    clip_length = check_positive_int("clip_length", clip_length)
    last = max(0, num_frames - clip_length - 1)
    start = int(_rng(seed).integers(0, last + 1))
    return _window(start, num_frames, clip_length)


def temporal_center_crop(num_frames, clip_length):
    """Hara's `TemporalCenterCrop`: the window at the centre, looped.

    Starts at `max(0, num_frames // 2 - clip_length // 2)`.

    Args:
        num_frames: int >= 1.
        clip_length: int >= 1.

    Returns:
        int64 array `(clip_length,)`.

    Example:
    >>> temporal_center_crop(10, 4).tolist()
    [3, 4, 5, 6]
    >>> temporal_center_crop(3, 4).tolist()
    [0, 1, 2, 0]
    """
    num_frames = check_positive_int("num_frames", num_frames)
    clip_length = check_positive_int("clip_length", clip_length)
    start = max(0, num_frames // 2 - clip_length // 2)
    return _window(start, num_frames, clip_length)


def hara_clip_indices(num_frames, clip_length, num_clips=0):
    """The evaluation clips of one video, as Hara's `make_dataset`.

    - `num_clips=0` (`n_samples_for_each_video=0`, the test set of video
      accuracy): every non-overlapping window, starts `0, T, 2T, ...` while
      `start < num_frames - 1` (Hara's `range(1, n_frames, T)`); the last,
      incomplete window is kept and looped (`LoopPadding`), so a 34-frame
      video gives 3 clips of 16, the third `[32, 33, 32, 33, ...]`, while a
      33-frame video gives 2 (its last frame is not used). A one-frame
      video gets one looped clip (Hara's gives none).
    - `num_clips=1`: the centre clip (`temporal_center_crop`), the
      validation clip of every epoch.
    - `num_clips=N > 1`: windows `max(1, ceil((F - 1 - T) / (N - 1)))`
      apart from 0, same stopping rule, each looped; for a video shorter
      than `T + N` this gives more than N clips (Hara's rule, kept).

    Args:
        num_frames: int >= 1 (F).
        clip_length: int >= 1 (T).
        num_clips: int >= 0. Defaults to 0.

    Returns:
        int64 array `(clips, clip_length)`.

    Example:
    >>> hara_clip_indices(10, 4).tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 8, 9]]
    >>> hara_clip_indices(9, 4).shape  # frame 8 starts no window
    (2, 4)
    """
    num_frames = check_positive_int("num_frames", num_frames)
    clip_length = check_positive_int("clip_length", clip_length)
    if isinstance(num_clips, bool) or not isinstance(
            num_clips, numbers.Integral) or num_clips < 0:
        raise ValueError(
            "`num_clips` must be an int >= 0 (0 = every non-overlapping "
            f"clip). Received: num_clips={num_clips!r}")
    if num_clips == 1:
        return temporal_center_crop(num_frames, clip_length)[None]
    if num_clips == 0:
        step = clip_length
    else:
        step = max(1, math.ceil((num_frames - 1 - clip_length)
                                / (num_clips - 1)))
    starts = list(range(0, max(num_frames - 1, 1), step))
    return np.stack([_window(s, num_frames, clip_length) for s in starts])


# --------------------------------------------------------------------------
# Spatial crops (pure NumPy boxes)
# --------------------------------------------------------------------------


def multiscale_scales(num_scales=5, scale_step=SCALE_STEP, initial_scale=1.0):
    """Hara's crop scales: `initial_scale * scale_step ** i`, `i < num_scales`.

    Example:
    >>> [round(s, 4) for s in multiscale_scales()]
    [1.0, 0.8409, 0.7071, 0.5946, 0.5]
    """
    num_scales = check_positive_int("num_scales", num_scales)
    for name, value in (("scale_step", scale_step),
                        ("initial_scale", initial_scale)):
        if isinstance(value, bool) or not isinstance(
                value, numbers.Real) or not 0 < value <= 1:
            raise ValueError(f"`{name}` must be a number in (0, 1]. "
                             f"Received: {name}={value!r}")
    scales = [float(initial_scale)]
    for _ in range(1, num_scales):
        scales.append(scales[-1] * float(scale_step))
    return scales


def corner_crop_box(height, width, scale, position):
    """The pixel box of `MultiScaleCornerCrop` for one scale and position.

    The side is `int(min(height, width) * scale)`. Corners touch the frame
    edges; the centre box is Hara's: `(w / 2 - side // 2, h / 2 - side //
    2)` to `(w / 2 + side // 2, h / 2 + side // 2)`, rounded half to even
    as PIL's `crop` rounds, so for an odd side it is one pixel smaller
    (`2 * (side // 2)`), as in the original.

    Args:
        height: int >= 1.
        width: int >= 1.
        scale: float in (0, 1].
        position: one of `CROP_POSITIONS`.

    Returns:
        `(y1, x1, y2, x2)` ints, `y2`, `x2` exclusive.

    Example:
    >>> corner_crop_box(6, 8, 0.5, "br")
    (3, 5, 6, 8)
    >>> corner_crop_box(6, 8, 1.0, "c")
    (0, 1, 6, 7)
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    if position not in CROP_POSITIONS:
        raise ValueError(f"`position` must be one of {CROP_POSITIONS}. "
                         f"Received: position={position!r}")
    side = max(1, int(min(height, width) * float(scale)))
    if position == "c":
        half = side // 2
        x1, y1 = round(width / 2 - half), round(height / 2 - half)
        x2, y2 = round(width / 2 + half), round(height / 2 + half)
        return int(y1), int(x1), int(y2), int(x2)
    y1 = 0 if position[0] == "t" else height - side
    x1 = 0 if position[1] == "l" else width - side
    return y1, x1, y1 + side, x1 + side


def scale_center_crop_shape(height, width, size):
    """Hara's `Scale(size)` + `CenterCrop(size)`: `(resized, offset)`.

    `Scale` resizes the shorter side to `size` (the longer to `int(size *
    long / short)`); `CenterCrop` takes the `size x size` square at
    `int(round((resized - size) / 2))` along each side.

    Returns:
        `((resized_height, resized_width), (top, left))`.

    Example:
    >>> scale_center_crop_shape(240, 320, 112)
    ((112, 149), (0, 18))
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    size = check_positive_int("size", size)
    if width < height:
        out_h, out_w = int(size * height / width), size
    else:
        out_h, out_w = size, int(size * width / height)
    return (out_h, out_w), (int(round((out_h - size) / 2.0)),
                            int(round((out_w - size) / 2.0)))


def check_square_size(image_size):
    """`image_size` (an int or `(s, s)`) as the int side `s`."""
    if isinstance(image_size, (list, tuple)) and len(image_size) == 2 and (
            image_size[0] == image_size[1]):
        image_size = image_size[0]
    if isinstance(image_size, bool) or not isinstance(
            image_size, numbers.Integral) or image_size < 1:
        raise ValueError(
            "`image_size` must be an int or a square `(size, size)` (Hara's "
            f"`sample_size`). Received: image_size={image_size!r}")
    return int(image_size)


# --------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------


class ClipNormalization:
    """Hara's `ToTensor(norm_value)` + `Normalize(mean, std)`, as a callable.

    `x` (float RGB on 0-255) becomes `(x / norm_value - mean) / std` with
    `mean = MEANS[mean_dataset] / norm_value` (or 0 without `mean_norm`)
    and `std = KINETICS_STD / norm_value` (or 1 without `std_norm`). Pass
    it as `preprocessing` to the pipelines of this module (or any
    `deltasparse.data.video.preprocess` call).

    Args:
        mean_dataset: `"activitynet"` or `"kinetics"`. Defaults to
            `"activitynet"` (Hara's and Efficient-3DCNNs' default).
        mean_norm: bool, subtract the mean. Defaults to True.
        std_norm: bool, divide by the std. Defaults to False.
        norm_value: 1 or 255. Defaults to 1.

    Example:
    >>> norm = ClipNormalization(norm_value=255, std_norm=True)
    >>> [round(float(v), 4) for v in norm(tf.constant([[114.7748, 0., 0.]]))[0]]
    [0.0, -2.8439, -2.4851]
    """

    def __init__(self, mean_dataset="activitynet", mean_norm=True,
                 std_norm=False, norm_value=1):
        if mean_dataset not in MEANS:
            raise ValueError(
                f"`mean_dataset` must be one of {sorted(MEANS)}. "
                f"Received: mean_dataset={mean_dataset!r}")
        if isinstance(norm_value, bool) or norm_value not in (1, 255):
            raise ValueError("`norm_value` must be 1 or 255. "
                             f"Received: norm_value={norm_value!r}")
        for name, value in (("mean_norm", mean_norm),
                            ("std_norm", std_norm)):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"`{name}` must be a bool. "
                                 f"Received: {name}={value!r}")
        self.mean_dataset = mean_dataset
        self.mean_norm = bool(mean_norm)
        self.std_norm = bool(std_norm)
        self.norm_value = int(norm_value)
        scale = float(norm_value)
        self.mean = (np.array(MEANS[mean_dataset]) / scale if mean_norm
                     else np.zeros(3))
        self.std = np.array(KINETICS_STD) / scale if std_norm else np.ones(3)

    def __call__(self, x):
        x = tf.cast(x, tf.float32) / float(self.norm_value)
        return (x - tf.constant(self.mean, tf.float32)) / tf.constant(
            self.std, tf.float32)

    def get_config(self):
        return {"mean_dataset": self.mean_dataset,
                "mean_norm": self.mean_norm, "std_norm": self.std_norm,
                "norm_value": self.norm_value}

    def to_json(self):
        """The `preprocessing` form of `model_info.json`:
        `{"clip_normalization": config}` (read by `check_preprocessing`)."""
        return {"clip_normalization": self.get_config()}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"ClipNormalization({args})"


# --------------------------------------------------------------------------
# TF pieces
# --------------------------------------------------------------------------


def _resize(clip, size):
    return tf.image.resize(tf.cast(clip, tf.float32), (size, size),
                           method="bilinear", antialias=True)


def scale_center_crop(clip, size):
    """`Scale(size)` + `CenterCrop(size)` of a `(T, h, w, 3)` clip (tf)."""
    shape = tf.shape(clip)

    def geometry(h, w):
        (out_h, out_w), (top, left) = scale_center_crop_shape(int(h), int(w),
                                                              size)
        return np.array([out_h, out_w, top, left], np.int32)

    g = tf.numpy_function(geometry, [shape[1], shape[2]], tf.int32,
                          stateful=False)
    g = tf.ensure_shape(g, (4,))
    resized = tf.image.resize(tf.cast(clip, tf.float32), g[:2],
                              method="bilinear", antialias=True)
    return resized[:, g[2]:g[2] + size, g[3]:g[3] + size, :]


def _labels(videos):
    return tf.constant(videos.label_matrix())


def _finish(ds, batch_size, drop_remainder, calls, deterministic):
    ds = ds.batch(batch_size, drop_remainder=drop_remainder,
                  num_parallel_calls=calls, deterministic=deterministic)
    return ds.prefetch(tf.data.AUTOTUNE)


def _calls(num_parallel_calls):
    return tf.data.AUTOTUNE if num_parallel_calls is None else (
        num_parallel_calls)


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def clip3d_training_dataset(videos, clip_length=16, image_size=112,
                            scales=None, crop_positions=CROP_POSITIONS,
                            horizontal_flip=True, preprocessing=None,
                            batch_size=32, shuffle=True, seed=None,
                            epoch=None, drop_remainder=True,
                            num_parallel_calls=None):
    """Training clips as Hara trains: random window, corner crop, flip.

    Every epoch visits each video once (a new order with `shuffle`) and
    draws, from a generator seeded by `(epoch seed, video index)`: a
    `temporal_random_crop` window, one scale of `scales` and one of
    `crop_positions` (`corner_crop_box`, the same box for every frame) and
    a flip (p = 0.5 with `horizontal_flip`). The box is resized to
    `image_size` (bilinear, antialiased), flipped, then `preprocessing`
    (e.g. `ClipNormalization()`) is applied. With `epoch` the epoch is a
    pure function of `(seed, epoch)`, as `video_dataset`.

    Args:
        videos: a `VideoList`.
        clip_length: int >= 1. Defaults to 16.
        image_size: int or `(s, s)`. Defaults to 112.
        scales: list of floats in (0, 1], or None (`multiscale_scales()`).
        crop_positions: subset of `CROP_POSITIONS`; `("c",)` is Hara's
            `--train_crop center`. Defaults to all five (`corner`).
        horizontal_flip: bool. Defaults to True.
        preprocessing: None (raw RGB 0-255) or a callable.
        batch_size: int >= 1. Defaults to 32.
        shuffle: bool. Defaults to True.
        seed: None or int.
        epoch: None or int >= 0.
        drop_remainder: bool. Defaults to True.
        num_parallel_calls: int or None (AUTOTUNE).

    Returns:
        `tf.data.Dataset` of `(clips float32 (B, T, s, s, 3), labels
        float32 (B, K))`, with `video_list`, `num_videos`, `clip_length`
        and `image_size` attributes.

    Example:
    >>> train = clip3d_training_dataset(videos, 16, seed=1, epoch=0,
    ...                                 preprocessing=ClipNormalization())  # doctest: +SKIP
    """
    videos = _check_videos(videos)
    clip_length = check_positive_int("clip_length", clip_length)
    size = check_square_size(image_size)
    batch_size = check_positive_int("batch_size", batch_size)
    scales = multiscale_scales() if scales is None else [float(s)
                                                         for s in scales]
    if not scales or not all(0 < s <= 1 for s in scales):
        raise ValueError("`scales` must be a non-empty list of numbers in "
                         f"(0, 1]. Received: scales={scales!r}")
    positions = tuple(crop_positions)
    if not positions or any(p not in CROP_POSITIONS for p in positions):
        raise ValueError(
            f"`crop_positions` must be a non-empty subset of "
            f"{CROP_POSITIONS}. Received: crop_positions={crop_positions!r}")
    frames = videos.num_frames
    read = _frame_reader(videos, clip_length, False)
    labels = _labels(videos)

    def sample(v, r):
        rng = np.random.default_rng([int(r) % 2**63, int(v)])
        frame_ids = temporal_random_crop(int(frames[v]), clip_length, rng)
        choice = np.array([rng.integers(len(scales)),
                           rng.integers(len(positions)),
                           horizontal_flip and rng.random() < 0.5], np.int64)
        return frame_ids, choice

    def box(h, w, choice):
        return np.array(corner_crop_box(
            int(h), int(w), scales[int(choice[0])],
            positions[int(choice[1])]), np.int32)

    def load(v, r):
        frame_ids, choice = tf.numpy_function(
            sample, [v, r], (tf.int64, tf.int64), stateful=False)
        clip = read(v, tf.ensure_shape(frame_ids, (clip_length,)))
        shape = tf.shape(clip)
        b = tf.ensure_shape(tf.numpy_function(
            box, [shape[1], shape[2], choice], tf.int32, stateful=False),
            (4,))
        clip = _resize(clip[:, b[0]:b[2], b[1]:b[3], :], size)
        clip = tf.cond(choice[2] > 0, lambda: clip[:, :, ::-1, :],
                       lambda: clip)
        clip = tf.ensure_shape(clip, (clip_length, size, size, 3))
        if preprocessing is not None:
            clip = preprocessing(clip)
        return clip, tf.gather(labels, v)

    calls = _calls(num_parallel_calls)
    ds = _epoch_dataset(len(videos), shuffle, True, seed, epoch)
    ds = ds.map(load, num_parallel_calls=calls, deterministic=True)
    ds = _finish(ds, batch_size, drop_remainder, calls, True)
    ds.video_list = videos
    ds.num_videos = len(videos)
    ds.clip_length = clip_length
    ds.image_size = (size, size)
    return ds


def clip3d_view_dataset(videos, clip_length=16, num_clips=0, image_size=112,
                        preprocessing=None, batch_size=8,
                        num_parallel_calls=None):
    """Evaluation clips as Hara evaluates: `hara_clip_indices` x centre crop.

    Every clip of `hara_clip_indices(F, clip_length, num_clips)` of every
    video (`num_clips=0`: all non-overlapping windows, the test set of
    video accuracy; `1`: the centre clip, the validation set), in video
    order, each `scale_center_crop`-ed to `image_size` and preprocessed.
    The batches are `(clips, labels, video_index)`, what
    `deltasparse.evaluation.evaluate_videos` reads; for Keras validation
    drop the index with `without_video_index`.

    Args:
        videos: a `VideoList`.
        clip_length: int >= 1. Defaults to 16.
        num_clips: int >= 0, see `hara_clip_indices`. Defaults to 0.
        image_size: int or `(s, s)`. Defaults to 112.
        preprocessing: None or a callable (e.g. `ClipNormalization()`).
        batch_size: int >= 1. Defaults to 8.
        num_parallel_calls: int or None (AUTOTUNE).

    Returns:
        `tf.data.Dataset` with `video_list`, `clips_per_video`, `num_views`,
        `num_clips` (None when it varies), `num_crops` (1),
        `views_per_video`, `clip_length`, `sampling`, `image_size`.

    Example:
    >>> test = clip3d_view_dataset(videos, 16, num_clips=0)  # doctest: +SKIP
    >>> evaluate_videos(model, test).figures["video_top1"]  # doctest: +SKIP
    """
    videos = _check_videos(videos)
    clip_length = check_positive_int("clip_length", clip_length)
    size = check_square_size(image_size)
    batch_size = check_positive_int("batch_size", batch_size)
    per_video = [hara_clip_indices(int(n), clip_length, num_clips)
                 for n in videos.num_frames]
    counts = np.array([len(f) for f in per_video], np.int64)
    clip_video = np.repeat(np.arange(len(videos), dtype=np.int32), counts)
    read = _frame_reader(videos, clip_length, False)
    labels = _labels(videos)

    def load(v, frame_ids):
        clip = scale_center_crop(read(v, frame_ids), size)
        clip = tf.ensure_shape(clip, (clip_length, size, size, 3))
        if preprocessing is not None:
            clip = preprocessing(clip)
        return clip, tf.gather(labels, v), v

    calls = _calls(num_parallel_calls)
    ds = tf.data.Dataset.from_tensor_slices(
        (clip_video, np.concatenate(per_video).astype(np.int64)))
    ds = ds.map(load, num_parallel_calls=calls, deterministic=True)
    ds = ds.apply(tf.data.experimental.assert_cardinality(int(counts.sum())))
    ds = _finish(ds, batch_size, False, calls, True)
    same = bool(np.all(counts == counts[0]))
    ds.video_list = videos
    ds.clips_per_video = counts
    ds.num_views = int(counts.sum())
    ds.num_clips = int(counts[0]) if same else None
    ds.num_crops = 1
    ds.views_per_video = ds.num_clips
    ds.clip_length = clip_length
    ds.sampling = "hara_all" if num_clips == 0 else f"hara_{num_clips}"
    ds.image_size = (size, size)
    return ds


def without_video_index(dataset):
    """`(clips, labels, video_index)` batches as `(clips, labels)` (Keras)."""
    return dataset.map(lambda clips, labels, index: (clips, labels))


__all__ = [
    "CROP_POSITIONS",
    "ClipNormalization",
    "KINETICS_STD",
    "MEANS",
    "SCALE_STEP",
    "check_square_size",
    "clip3d_training_dataset",
    "clip3d_view_dataset",
    "corner_crop_box",
    "hara_clip_indices",
    "loop_padding",
    "multiscale_scales",
    "scale_center_crop",
    "scale_center_crop_shape",
    "temporal_center_crop",
    "temporal_random_crop",
    "without_video_index",
]
