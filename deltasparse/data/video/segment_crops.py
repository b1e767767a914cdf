"""TSN segments and crops: the input pipeline of TSN, TSM and AdaFocusV2.

The training and validation transforms of TSN (Wang et al., 2016) as kept
by TSM and AdaFocusV2 (`ops/transforms.py`, `main_v2.py`; spec
`video_systems.md` §A1.2), as seeded NumPy box arithmetic plus two
`tf.data` pipelines over a `deltasparse.data.video.VideoList`:

- `GroupMultiScaleCrop` (training): one crop per clip, shared by all its
  frames. With `base = min(h, w)` the candidate sides are `int(base *
  s)` for `s` in `scales` (default `TSN_SCALES = (1, .875, .75, .66)`),
  each snapped to the output size when within 3 pixels of it; a crop is
  a (height, width) pair of candidates `i`, `j` with `|i - j| <=
  max_distort`, drawn uniformly. With `fix_crop` its top-left corner is
  drawn uniformly among the fixed offsets of `fixed_crop_offsets` (5, or
  13 with `more_fix_crop`: corners, centre, edge centres and quarter
  points of a grid of step `(h - crop_h) // 4`, `(w - crop_w) // 4`);
  without, uniformly in the frame. The crop is resized to `image_size`,
  then flipped horizontally with p = 0.5 (`GroupRandomHorizontalFlip`).
- Validation (`resize_center_crop`): `GroupScale(scale_size)` (the shorter
  side to `scale_size`, the longer to `int(scale_size * long / short)`,
  torchvision's `Resize`) then `GroupCenterCrop(image_size)` (top-left at
  `int(round((resized - crop) / 2))`). `scale_size` defaults to `max(
  image_size) * 256 // 224` (256 for 224, AdaFocusV2's `scale_size`).

`segment_training_dataset` and `segment_view_dataset` sample
`num_segments` TSN segments per video (`segment_frame_indices`: a random
frame per segment in training, the centres in validation), optionally
reorder them (`frame_order="prefix_covering"`, AdaFocusV2's `--sample`,
see `prefix_covering_order`), read the frames, crop, and preprocess
(`"torch"` = ImageNet mean/std, the originals' `GroupNormalize`, by
default). The validation batches are `(frames, labels, video_index)`, what
`deltasparse.evaluation.evaluate_videos` reads.

Differences from the originals: resizing is TensorFlow's bilinear,
antialiased when it shrinks (PIL's `BILINEAR` also filters when
downsampling; values differ by a few grey levels); a crop side snapped
up to the output size beyond the frame (a frame side 1-2 pixels smaller
than the output) is clamped to the frame (PIL would pad with black); the
random state is NumPy's generator seeded by `(epoch seed, video index)`
instead of Python's global `random`, so an epoch is a pure function of
`(seed, epoch)`.
"""

import numbers

import cv2
import numpy as np
import tensorflow as tf
import tqdm

from deltasparse.data.video.augment import check_image_size
from deltasparse.data.video.augment import check_preprocessing
from deltasparse.data.video.augment import preprocess
from deltasparse.data.video.decode import read_video_frames
from deltasparse.data.video.clip_crops import _calls
from deltasparse.data.video.clip_crops import _finish
from deltasparse.data.video.clip_crops import _labels
from deltasparse.data.video.index import check_positive_int
from deltasparse.data.video.pipeline import _epoch_dataset
from deltasparse.data.video.sampling import prefix_covering_order
from deltasparse.data.video.sampling import segment_frame_indices
from deltasparse.data.video.views import _check_choice
from deltasparse.data.video.views import _check_videos
from deltasparse.data.video.views import _frame_reader

#: The crop scales of TSN's `GroupMultiScaleCrop` (AdaFocusV2's setting).
TSN_SCALES = (1.0, 0.875, 0.75, 0.66)
#: `frame_order` values: None (time order) or AdaFocusV2's reordering.
FRAME_ORDERS = (None, "prefix_covering")
# A crop side within this many pixels of the output side snaps to it (TSN).
_SNAP = 3


# --------------------------------------------------------------------------
# Box arithmetic (pure NumPy)
# --------------------------------------------------------------------------


def _resize(clip, image_size):
    """Bilinear resize of `(T, h, w, 3)` to `image_size`, float32;
    antialiased only when it shrinks (when enlarging, antialiasing changes
    nothing but costs about 10x the time)."""
    clip = tf.cast(clip, tf.float32)
    shape = tf.shape(clip)
    shrinks = tf.logical_or(shape[1] > image_size[0],
                            shape[2] > image_size[1])
    return tf.cond(
        shrinks,
        lambda: tf.image.resize(clip, image_size, antialias=True),
        lambda: tf.image.resize(clip, image_size))


def _check_scales(scales):
    scales = tuple(scales) if isinstance(scales, (list, tuple)) else scales
    if not isinstance(scales, tuple) or not scales or not all(
            isinstance(s, numbers.Real) and not isinstance(s, bool)
            and 0 < s <= 1 for s in scales):
        raise ValueError("`scales` must be a non-empty sequence of numbers "
                         f"in (0, 1]. Received: scales={scales!r}")
    return tuple(float(s) for s in scales)


def multiscale_crop_sizes(height, width, image_size, scales=TSN_SCALES,
                          max_distort=1):
    """The candidate `(crop_height, crop_width)` pairs of TSN's crop.

    With `base = min(height, width)`, the sides are `int(base * s)` for
    `s` in `scales`; a height within 3 pixels of `image_size[0]` becomes
    `image_size[0]` (a width, of `image_size[1]`), as TSN snaps them; a
    side larger than the frame is clamped to it. The pairs `(heights[i],
    widths[j])` with `|i - j| <= max_distort` are listed in TSN's order
    (`i` major, `j` minor); duplicates are kept (they weight the draw, as
    in TSN).

    Args:
        height: int >= 1, frame height.
        width: int >= 1, frame width.
        image_size: `(height, width)` (or an int) of the resized crop.
        scales: sequence of floats in (0, 1]. Defaults to `TSN_SCALES`.
        max_distort: int >= 0, the largest scale-index gap between the
            height and the width. Defaults to 1.

    Returns:
        list of `(crop_height, crop_width)` int pairs.

    Example:
    >>> multiscale_crop_sizes(256, 340, 224)[:4]
    [(256, 256), (256, 224), (224, 256), (224, 224)]
    >>> len(multiscale_crop_sizes(256, 340, 224))
    10
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    out_h, out_w = check_image_size(image_size)
    scales = _check_scales(scales)
    if isinstance(max_distort, bool) or not isinstance(
            max_distort, numbers.Integral) or max_distort < 0:
        raise ValueError("`max_distort` must be an int >= 0. "
                         f"Received: max_distort={max_distort!r}")
    base = min(height, width)
    sides = [int(base * s) for s in scales]
    heights = [min(out_h if abs(c - out_h) < _SNAP else c, height)
               for c in sides]
    widths = [min(out_w if abs(c - out_w) < _SNAP else c, width)
              for c in sides]
    return [(max(h, 1), max(w, 1)) for i, h in enumerate(heights)
            for j, w in enumerate(widths) if abs(i - j) <= max_distort]


def fixed_crop_offsets(height, width, crop_height, crop_width,
                       more_fix_crop=True):
    """TSN's fixed crop corners `(top, left)` for a crop in a frame.

    With `hs = (height - crop_height) // 4` and `ws = (width - crop_width)
    // 4`, in TSN's order: top-left `(0, 0)`, top-right `(0, 4 ws)`,
    bottom-left `(4 hs, 0)`, bottom-right `(4 hs, 4 ws)`, centre `(2 hs,
    2 ws)`; with `more_fix_crop` also centre-left `(2 hs, 0)`, centre-right
    `(2 hs, 4 ws)`, bottom-centre `(4 hs, 2 ws)`, top-centre `(0, 2 ws)`
    and the quarter points `(hs, ws)`, `(hs, 3 ws)`, `(3 hs, ws)`, `(3 hs,
    3 ws)`. The far offsets are `4 * (free // 4)`, up to 3 pixels short of
    the frame edge, as in TSN.

    Args:
        height, width: ints, the frame.
        crop_height, crop_width: ints, the crop (at most the frame).
        more_fix_crop: bool. Defaults to True (13 offsets; else 5).

    Returns:
        list of `(top, left)` int pairs.

    Example:
    >>> fixed_crop_offsets(10, 18, 2, 6, more_fix_crop=False)
    [(0, 0), (0, 12), (8, 0), (8, 12), (4, 6)]
    """
    hs = (int(height) - int(crop_height)) // 4
    ws = (int(width) - int(crop_width)) // 4
    if hs < 0 or ws < 0:
        raise ValueError(
            "The crop must fit in the frame. Received: crop "
            f"{crop_height}x{crop_width} in a {height}x{width} frame")
    grid = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]
    if more_fix_crop:
        grid += [(2, 0), (2, 4), (4, 2), (0, 2), (1, 1), (1, 3), (3, 1),
                 (3, 3)]
    return [(i * hs, j * ws) for i, j in grid]


class GroupMultiScaleCrop:
    """TSN's multi-scale crop: one box per clip, resized to `image_size`.

    See the module docstring for the rule. `sample_box` draws a box with
    NumPy (from a seed or generator); calling the object crops and
    resizes a clip with TensorFlow ops (inside `tf.data`).

    Args:
        image_size: int or `(height, width)` of the output.
        scales: sequence of floats in (0, 1]. Defaults to `TSN_SCALES`.
        max_distort: int >= 0. Defaults to 1.
        fix_crop: bool, draw the corner among the fixed offsets (else
            uniformly). Defaults to True.
        more_fix_crop: bool, 13 fixed offsets instead of 5. Defaults to
            True.

    Example:
    >>> crop = GroupMultiScaleCrop(4, scales=(1.0, 0.5))
    >>> box = crop.sample_box(8, 8, seed=0)
    >>> box[2] - box[0] in (4, 8), box[3] - box[1] in (4, 8)
    (True, True)
    >>> tuple(crop(np.zeros((2, 8, 8, 3), np.uint8), box).shape)
    (2, 4, 4, 3)
    """

    def __init__(self, image_size, scales=TSN_SCALES, max_distort=1,
                 fix_crop=True, more_fix_crop=True):
        self.image_size = check_image_size(image_size)
        self.scales = _check_scales(scales)
        multiscale_crop_sizes(1, 1, 1, self.scales, max_distort)  # checks
        self.max_distort = int(max_distort)
        self.fix_crop = bool(fix_crop)
        self.more_fix_crop = bool(more_fix_crop)

    def crop_sizes(self, height, width):
        """The candidate `(crop_height, crop_width)` pairs for a frame."""
        return multiscale_crop_sizes(height, width, self.image_size,
                                     self.scales, self.max_distort)

    def sample_box(self, height, width, seed=None):
        """Draws one crop box `(y1, x1, y2, x2)` (ints, `y2`, `x2` exclusive).

        Args:
            height, width: ints, the frame.
            seed: None, an int, a sequence of ints or a
                `np.random.Generator`.
        """
        rng = seed if isinstance(seed, np.random.Generator) else (
            np.random.default_rng(seed))
        sizes = self.crop_sizes(height, width)
        crop_h, crop_w = sizes[int(rng.integers(len(sizes)))]
        if self.fix_crop:
            offsets = fixed_crop_offsets(height, width, crop_h, crop_w,
                                         self.more_fix_crop)
            top, left = offsets[int(rng.integers(len(offsets)))]
        else:
            top = int(rng.integers(height - crop_h + 1))
            left = int(rng.integers(width - crop_w + 1))
        return int(top), int(left), int(top + crop_h), int(left + crop_w)

    def __call__(self, clip, box):
        """Crops `box` from every frame of `clip` `(T, h, w, 3)` and resizes
        the crops to `image_size` (float32, bilinear, antialiased when
        shrinking)."""
        box = tf.convert_to_tensor(box)
        return _resize(clip[:, box[0]:box[2], box[1]:box[3], :],
                       self.image_size)

    def get_config(self):
        return {"image_size": self.image_size, "scales": self.scales,
                "max_distort": self.max_distort, "fix_crop": self.fix_crop,
                "more_fix_crop": self.more_fix_crop}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"GroupMultiScaleCrop({args})"


def default_scale_size(image_size):
    """AdaFocusV2's `scale_size`: `max(image_size) * 256 // 224`.

    Example:
    >>> default_scale_size(224), default_scale_size(128)
    (256, 146)
    """
    return max(check_image_size(image_size)) * 256 // 224


def resize_center_crop_geometry(height, width, scale_size, image_size):
    """`GroupScale(scale_size)` + `GroupCenterCrop(image_size)` geometry.

    The shorter side is resized to `scale_size` and the longer to
    `int(scale_size * long / short)` (torchvision's `Resize`); the crop's
    top-left corner is `int(round((resized - crop) / 2))` on each axis
    (torchvision's `CenterCrop`).

    Args:
        height, width: ints, the frame.
        scale_size: int, the resized shorter side.
        image_size: int or `(height, width)`, the crop (at most the
            resized frame).

    Returns:
        `((resized_height, resized_width), (top, left))`.

    Raises:
        ValueError: if the crop does not fit in the resized frame.

    Example:
    >>> resize_center_crop_geometry(240, 320, 256, 224)
    ((256, 341), (16, 58))
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    scale_size = check_positive_int("scale_size", scale_size)
    crop_h, crop_w = check_image_size(image_size)
    if width < height:
        out_h, out_w = int(scale_size * height / width), scale_size
    else:
        out_h, out_w = scale_size, int(scale_size * width / height)
    if crop_h > out_h or crop_w > out_w:
        raise ValueError(
            "`image_size` must fit in the frame resized to `scale_size`: "
            f"{crop_h}x{crop_w} in {out_h}x{out_w}. Received: "
            f"scale_size={scale_size}, image_size={image_size!r}")
    return (out_h, out_w), (int(round((out_h - crop_h) / 2.0)),
                            int(round((out_w - crop_w) / 2.0)))


def resize_center_crop(clip, scale_size, image_size):
    """Validation transform of a `(T, h, w, 3)` clip (tf), float32 output.

    See `resize_center_crop_geometry`; resizing is bilinear, antialiased
    when it shrinks.

    Example:
    >>> tuple(resize_center_crop(np.zeros((2, 30, 40, 3), np.uint8), 16,
    ...                          14).shape)
    (2, 14, 14, 3)
    """
    crop_h, crop_w = check_image_size(image_size)
    shape = tf.shape(clip)

    def geometry(h, w):
        size, corner = resize_center_crop_geometry(int(h), int(w),
                                                   scale_size, image_size)
        return np.array([*size, *corner], np.int32)

    g = tf.ensure_shape(tf.numpy_function(
        geometry, [shape[1], shape[2]], tf.int32, stateful=False), (4,))
    resized = _resize(clip, g[:2])
    return resized[:, g[2]:g[2] + crop_h, g[3]:g[3] + crop_w, :]


def preload_frames(videos, progress=False):
    """Decodes every frame of every video once, for in-memory pipelines.

    Pass the result as `frames=` to `segment_training_dataset` and
    `segment_view_dataset` (build it once and reuse it for every epoch):
    the pipelines then index these arrays instead of decoding files, which
    for small sets (the synthetic focus set: 250 videos x 16 frames of 128
    x 128, 196 MB) saves most of the input time on a small CPU. Frame
    files are decoded by OpenCV (PNG: the same pixels as the file
    pipelines; JPEG may differ from TensorFlow's decoder by a grey level).

    Args:
        videos: a `VideoList`.
        progress: bool, show a tqdm bar. Defaults to False.

    Returns:
        list of uint8 RGB arrays `(num_frames, h, w, 3)`, one per video.

    Raises:
        ValueError: for an empty `videos` or a frame that cannot be read.

    Example:
    >>> frames = preload_frames(videos)  # doctest: +SKIP
    >>> train = segment_training_dataset(videos, 16, frames=frames,
    ...                                  seed=0, epoch=0)  # doctest: +SKIP
    """
    videos = _check_videos(videos)
    out = []
    for i in tqdm.tqdm(range(len(videos)), desc="preloading frames",
                       unit="video", disable=not progress):
        n = int(videos.num_frames[i])
        if videos.frame_template is None:
            out.append(read_video_frames(videos.paths[i], range(n)))
            continue
        clip = []
        for k in range(n):
            frame = cv2.imread(videos.frame_path(i, k), cv2.IMREAD_COLOR)
            if frame is None:
                raise ValueError(
                    "Every frame of `videos` must be readable. Received: "
                    f"{videos.frame_path(i, k)!r} of {videos.video_ids[i]!r}")
            clip.append(frame[..., ::-1])
        out.append(np.ascontiguousarray(np.stack(clip)))
    return out


def _reader(videos, frames, clip_length):
    """`_frame_reader`, or indexing of `preload_frames` arrays."""
    if frames is None:
        return _frame_reader(videos, clip_length, False)
    if len(frames) != len(videos):
        raise ValueError(
            "`frames` must hold one array per video of `videos` (see "
            f"`preload_frames`). Received: {len(frames)} arrays for "
            f"{len(videos)} videos")

    def read(v, frame_ids):
        clip = tf.numpy_function(lambda i, ks: frames[int(i)][ks],
                                 [v, frame_ids], tf.uint8, stateful=False)
        return tf.ensure_shape(clip, (clip_length, None, None, 3))
    return read


def _frame_permutation(frame_order, num_segments):
    _check_choice("frame_order", frame_order, FRAME_ORDERS)
    if frame_order is None:
        return np.arange(num_segments)
    return np.asarray(prefix_covering_order(num_segments), np.int64)


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def segment_training_dataset(videos, num_segments=16, image_size=224,
                             scales=TSN_SCALES, max_distort=1, fix_crop=True,
                             more_fix_crop=True, horizontal_flip=True,
                             frame_order=None, preprocessing="torch",
                             batch_size=32, shuffle=True, seed=None,
                             epoch=None, drop_remainder=True,
                             num_parallel_calls=None, frames=None):
    """Training clips as TSN / AdaFocusV2 train: segments, multi-scale crop.

    Every epoch visits each video once (a new order with `shuffle`) and
    draws, from generators seeded by `(epoch seed, video index)`: one
    random frame in each of `num_segments` TSN segments
    (`segment_frame_indices(..., training=True)`), reordered by
    `frame_order`; one `GroupMultiScaleCrop` box for all frames, resized
    to `image_size`; a horizontal flip with p = 0.5 (`horizontal_flip`).
    Then `preprocessing` is applied. With `epoch` the epoch is a pure
    function of `(seed, epoch)` (`epoch_seed`), so
    `Trainer.fit(model, lambda e: segment_training_dataset(..., seed=s,
    epoch=e), ...)` resumes exactly.

    For small synthetic frames, `scales=(1.0,)` keeps the whole frame (the
    crop of scale 1 of a square frame is the frame).

    Args:
        videos: a `VideoList`.
        num_segments: int >= 1, frames per clip (T). Defaults to 16.
        image_size: int or `(height, width)`. Defaults to 224.
        scales: crop scales. Defaults to `TSN_SCALES`.
        max_distort: int >= 0. Defaults to 1.
        fix_crop: bool. Defaults to True.
        more_fix_crop: bool. Defaults to True.
        horizontal_flip: bool. Defaults to True.
        frame_order: None (time order) or `"prefix_covering"`.
        preprocessing: `"torch"` (ImageNet mean/std, the originals'),
            `"caffe"`, `"tf"`, None (RGB 0-255) or a callable.
        batch_size: int >= 1. Defaults to 32 (AdaFocusV2's).
        shuffle: bool. Defaults to True.
        seed: None or int.
        epoch: None or int >= 0.
        drop_remainder: bool. Defaults to True (the original's
            `drop_last=True`).
        num_parallel_calls: int or None (AUTOTUNE).
        frames: None (read the files) or the `preload_frames(videos)`
            arrays.

    Returns:
        `tf.data.Dataset` of `(frames float32 (B, T, H, W, 3), labels
        float32 (B, num_classes))`, with `video_list`, `num_videos`,
        `num_segments`, `clip_length`, `image_size` and `frame_order`
        attributes.

    Raises:
        ValueError: for invalid arguments.

    Example:
    >>> train = segment_training_dataset(videos, 16, image_size=224, seed=1,
    ...                                  epoch=0)  # doctest: +SKIP
    >>> frames, labels = next(iter(train))  # doctest: +SKIP
    """
    videos = _check_videos(videos)
    num_segments = check_positive_int("num_segments", num_segments)
    batch_size = check_positive_int("batch_size", batch_size)
    crop = GroupMultiScaleCrop(image_size, scales, max_distort, fix_crop,
                               more_fix_crop)
    order = _frame_permutation(frame_order, num_segments)
    prep = check_preprocessing(preprocessing)
    num_frames = videos.num_frames
    read = _reader(videos, frames, num_segments)
    labels = _labels(videos)

    def sample(v, r):
        rng = np.random.default_rng([int(r) % 2**63, int(v)])
        ids = segment_frame_indices(int(num_frames[v]), num_segments, True,
                                    rng)
        return ids[order]

    def box(h, w, v, r):
        rng = np.random.default_rng([int(r) % 2**63, int(v), 1])
        b = crop.sample_box(int(h), int(w), rng)
        flip = bool(horizontal_flip) and rng.random() < 0.5
        return np.array([*b, flip], np.int32)

    def load(v, r):
        frame_ids = tf.numpy_function(sample, [v, r], tf.int64,
                                      stateful=False)
        clip = read(v, tf.ensure_shape(frame_ids, (num_segments,)))
        shape = tf.shape(clip)
        b = tf.ensure_shape(tf.numpy_function(
            box, [shape[1], shape[2], v, r], tf.int32, stateful=False), (5,))
        clip = crop(clip, b[:4])
        clip = tf.cond(b[4] > 0, lambda: clip[:, :, ::-1, :], lambda: clip)
        clip = tf.ensure_shape(clip, (num_segments, *crop.image_size, 3))
        return preprocess(clip, prep), tf.gather(labels, v)

    calls = _calls(num_parallel_calls)
    ds = _epoch_dataset(len(videos), shuffle, True, seed, epoch)
    ds = ds.map(load, num_parallel_calls=calls, deterministic=True)
    ds = _finish(ds, batch_size, drop_remainder, calls, True)
    ds.video_list = videos
    ds.num_videos = len(videos)
    ds.num_segments = num_segments
    ds.clip_length = num_segments
    ds.image_size = crop.image_size
    ds.frame_order = frame_order
    return ds


def segment_view_dataset(videos, num_segments=16, image_size=224,
                         scale_size=None, full_frame=False, frame_order=None,
                         preprocessing="torch", batch_size=8,
                         num_parallel_calls=None, frames=None):
    """Validation clips as TSN / AdaFocusV2 test: segment centres, centre crop.

    One view per video, in video order: the centres of `num_segments` TSN
    segments (`segment_frame_indices(..., training=False)`), reordered by
    `frame_order`, each frame resized (shorter side to `scale_size`) and
    centre-cropped to `image_size` (`resize_center_crop`), or with
    `full_frame=True` resized whole to `image_size` (aspect not kept;
    nothing is cut off, which small synthetic frames may need), then
    preprocessed. The batches are `(frames, labels, video_index)`, what
    `deltasparse.evaluation.evaluate_videos` reads; for Keras validation
    drop the index with `deltasparse.data.video.clip_crops.
    without_video_index`.

    Args:
        videos: a `VideoList`.
        num_segments: int >= 1 (T). Defaults to 16.
        image_size: int or `(height, width)`. Defaults to 224.
        scale_size: None (`default_scale_size(image_size)`, 256 for 224)
            or an int.
        full_frame: bool, resize the whole frame instead. Defaults to
            False.
        frame_order: None (time order) or `"prefix_covering"`.
        preprocessing: as `segment_training_dataset`. Defaults to
            `"torch"`.
        batch_size: int >= 1. Defaults to 8.
        num_parallel_calls: int or None (AUTOTUNE).
        frames: None (read the files) or the `preload_frames(videos)`
            arrays.

    Returns:
        `tf.data.Dataset` of `(frames float32 (B, T, H, W, 3), labels
        float32 (B, K), video_index int32 (B,))` with `video_list`,
        `clips_per_video`, `num_views`, `num_clips` (1), `num_crops` (1),
        `views_per_video` (1), `num_segments`, `clip_length`, `sampling`
        (`"segments"`), `image_size`, `scale_size`, `full_frame`,
        `frame_order` and `frame_indices` (int64 `(V, T)`: the frame of
        every step, e.g. to align per-frame annotations with
        `step_logits`) attributes.

    Raises:
        ValueError: for invalid arguments.

    Example:
    >>> val = segment_view_dataset(videos, 16, image_size=224)  # doctest: +SKIP
    >>> evaluate_videos(model, val).figures["video_map"]  # doctest: +SKIP
    """
    videos = _check_videos(videos)
    num_segments = check_positive_int("num_segments", num_segments)
    batch_size = check_positive_int("batch_size", batch_size)
    image_size = check_image_size(image_size)
    scale_size = default_scale_size(image_size) if scale_size is None else (
        check_positive_int("scale_size", scale_size))
    if scale_size < min(image_size) and not full_frame:
        raise ValueError(
            "`scale_size` must be at least the crop side "
            f"({min(image_size)}). Received: scale_size={scale_size}")
    order = _frame_permutation(frame_order, num_segments)
    prep = check_preprocessing(preprocessing)
    per_video = np.stack([
        segment_frame_indices(int(n), num_segments, False)[order]
        for n in videos.num_frames]).astype(np.int64)
    read = _reader(videos, frames, num_segments)
    labels = _labels(videos)

    def load(v, frame_ids):
        clip = read(v, frame_ids)
        if full_frame:
            clip = _resize(clip, image_size)
        else:
            clip = resize_center_crop(clip, scale_size, image_size)
        clip = tf.ensure_shape(clip, (num_segments, *image_size, 3))
        return preprocess(clip, prep), tf.gather(labels, v), v

    calls = _calls(num_parallel_calls)
    ds = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(videos), dtype=np.int32), per_video))
    ds = ds.map(load, num_parallel_calls=calls, deterministic=True)
    ds = _finish(ds, batch_size, False, calls, True)
    ds.video_list = videos
    ds.clips_per_video = np.ones(len(videos), np.int64)
    ds.num_views = len(videos)
    ds.num_clips = 1
    ds.num_crops = 1
    ds.views_per_video = 1
    ds.num_segments = num_segments
    ds.clip_length = num_segments
    ds.sampling = "segments"
    ds.image_size = image_size
    ds.scale_size = scale_size
    ds.full_frame = bool(full_frame)
    ds.frame_order = frame_order
    ds.frame_indices = per_video
    return ds


__all__ = [
    "FRAME_ORDERS",
    "GroupMultiScaleCrop",
    "TSN_SCALES",
    "default_scale_size",
    "fixed_crop_offsets",
    "multiscale_crop_sizes",
    "preload_frames",
    "resize_center_crop",
    "resize_center_crop_geometry",
    "segment_training_dataset",
    "segment_view_dataset",
]
