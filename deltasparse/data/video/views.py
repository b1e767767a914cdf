"""Multi-view test sets and one-clip-per-video training sets (`tf.data`).

Both pipelines read a `deltasparse.data.video.VideoList`: its JPEG (or PNG)
frame files when it has a `frame_template`, else its video files (OpenCV
decoding inside `tf.numpy_function`, see `read_video_frames`).

- `view_dataset`: every view of every video, in the order video, clip,
  crop, for video-level testing (`deltasparse.evaluation.evaluate_videos`
  averages the views of a video). A *view* is one temporal clip
  (`sampling="uniform"`: N uniformly spaced clips; `"sliding"`: every
  non-overlapping clip; `"segments"`: one clip of TSN segment centres)
  times one spatial crop (`num_crops` = 1, 3 or 10, see `crop_boxes`).
- `video_dataset`: one randomly sampled clip per video per epoch (dense or
  TSN segments), for training on any `VideoList`; an epoch is a pure
  function of `(seed, epoch)` like `clip_dataset`.
"""

import re
import string

import numpy as np
import tensorflow as tf

from deltasparse.data.video.augment import AUGMENTATION
from deltasparse.data.video.augment import INTERPOLATIONS
from deltasparse.data.video.augment import check_image_size
from deltasparse.data.video.augment import check_preprocessing
from deltasparse.data.video.augment import preprocess
from deltasparse.data.video.augment import resize_and_augment_clip
from deltasparse.data.video.decode import read_video_frames
from deltasparse.data.video.index import check_positive_int
from deltasparse.data.video.index import clip_frame_indices
from deltasparse.data.video.pipeline import _epoch_dataset
from deltasparse.data.video.sampling import crop_boxes
from deltasparse.data.video.sampling import dense_clip_indices
from deltasparse.data.video.sampling import segment_frame_indices
from deltasparse.data.video.sampling import uniform_clip_indices
from deltasparse.data.video.video_list import VideoList

#: Temporal sampling of `view_dataset`.
VIEW_SAMPLINGS = ("uniform", "sliding", "segments")
#: Temporal sampling of `video_dataset`.
TRAIN_SAMPLINGS = ("dense", "segments")

_INDEX_SPEC = re.compile(r"(0?)(\d*)d?")


# --------------------------------------------------------------------------
# Shared pieces: checks, frame reading, cropping
# --------------------------------------------------------------------------


def _check_videos(videos):
    if not isinstance(videos, VideoList):
        raise ValueError(
            "`videos` must be a `deltasparse.data.video.VideoList` (e.g. "
            "`ClipIndex.video_list()` or a dataset reader's result). "
            f"Received: videos={type(videos).__name__}")
    if len(videos) == 0:
        raise ValueError(
            "`videos` must hold at least one video. "
            f"Received: videos.name={videos.name!r} with 0 videos")
    empty = [vid for vid, n in zip(videos.video_ids, videos.num_frames)
             if n == 0]
    if empty:
        shown = ", ".join(repr(v) for v in empty[:10])
        raise ValueError(
            f"Every video needs at least one frame; {len(empty)} of "
            f"{len(videos)} have num_frames == 0: {shown}"
            f"{' ...' if len(empty) > 10 else ''}. Leave them out of the "
            "list (`videos.subset(...)`; preparation lists unreadable "
            f"videos). Received: videos.name={videos.name!r}")
    return videos


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {', '.join(map(repr, choices))}. "
            f"Received: {name}={value!r}")
    return value


def _frame_names(videos):
    """A function `(video index, frame ids) -> frame file names` (tf)."""
    paths = tf.constant(videos.paths)
    offset = tf.constant(videos.frame_offset, tf.int64)
    pieces = list(string.Formatter().parse(videos.frame_template))
    in_graph = all(
        field in (None, "path", "index") and not conversion and (
            field != "index" or _INDEX_SPEC.fullmatch(spec or ""))
        and (field != "path" or not spec)
        for _, field, spec, conversion in pieces)

    def names(v, frame_ids):
        if not in_graph:  # an unusual format spec: let Python format it
            return tf.numpy_function(
                lambda i, ks: np.array([videos.frame_path(int(i), int(k))
                                        .encode() for k in ks], object),
                [v, frame_ids], tf.string, stateful=False)
        index = frame_ids + offset
        parts = []
        for literal, field, spec, _ in pieces:
            if literal:
                parts.append(literal)
            if field == "path":
                parts.append(tf.gather(paths, v))
            elif field == "index":
                fill, width = _INDEX_SPEC.fullmatch(spec or "").groups()
                parts.append(tf.strings.as_string(
                    index, width=int(width or -1), fill=fill or ""))
        return tf.strings.join(parts)

    return names


def _frame_reader(videos, clip_length, video_seek):
    """A function `(video index, frame ids) -> uint8 (T, h, w, 3)` (tf)."""
    if videos.frame_template is None:
        paths = tf.constant(videos.paths)

        def read(v, frame_ids):
            clip = tf.numpy_function(
                lambda p, ks: read_video_frames(p, ks, seek=video_seek),
                [tf.gather(paths, v), frame_ids], tf.uint8, stateful=False)
            return tf.ensure_shape(clip, (clip_length, None, None, 3))
        return read

    names = _frame_names(videos)

    def read(v, frame_ids):
        files = names(v, frame_ids)
        return tf.stack([
            tf.io.decode_image(tf.io.read_file(files[k]), channels=3,
                               expand_animations=False)
            for k in range(clip_length)])
    return read


def _video_clips_reader(videos, per_video, clip_length):
    """A function `video index -> (uint8 clips (C, T, h, w, 3), index)`.

    Decodes every clip of a video file in one pass over the file
    (`read_video_frames` decodes each distinct frame once).
    """
    def read(v):
        frames = per_video[int(v)]
        out = read_video_frames(videos.paths[int(v)], frames.ravel())
        return out.reshape(frames.shape + out.shape[1:])

    def load(v):
        clips = tf.numpy_function(read, [v], tf.uint8, stateful=False)
        clips = tf.ensure_shape(clips, (None, clip_length, None, None, 3))
        return clips, tf.fill([tf.shape(clips)[0]], v)
    return load


def crop_and_resize_boxes(height, width, num_crops, image_size,
                          crop_fraction=None):
    """The `crop_boxes` of a frame as `tf.image.crop_and_resize` boxes.

    `tf.image.crop_and_resize` samples output pixel `i` of a box at
    `y1 + i (y2 - y1) / (S - 1)` in normalised (align-corners) coordinates;
    the boxes here are chosen so that it samples at the half-pixel centres
    `top + (i + 0.5) side / S - 0.5` of the pixel crop, the convention of
    `tf.image.resize`. So a crop resized to its own size returns its pixels
    exactly, and a flipped crop (its `x1` and `x2` swapped) the mirror image.
    When the crop is upsampled, the outermost sample points would fall up
    to half a pixel outside the frame (where `crop_and_resize` writes 0);
    they are moved onto the border instead, which shrinks the spacing of
    the samples by at most one pixel over the crop.

    Args:
        height: int, frame height.
        width: int, frame width.
        num_crops: 1, 3 or 10.
        image_size: `(height, width)` of the resized crops.
        crop_fraction: None or float in (0, 1], see `crop_boxes`.

    Returns:
        float32 array `(num_crops, 4)` of normalised `[y1, x1, y2, x2]`.

    Example:
    >>> crop_and_resize_boxes(5, 9, 1, (5, 5), crop_fraction=1.0).tolist()
    [[0.0, 0.25, 1.0, 0.75]]
    """
    height, width = int(height), int(width)
    out_h, out_w = check_image_size(image_size)
    boxes, flips = crop_boxes(height, width, num_crops, crop_fraction)
    step_y = (boxes[:, 2] - boxes[:, 0]) / out_h
    step_x = (boxes[:, 3] - boxes[:, 1]) / out_w
    y1 = np.clip(boxes[:, 0] + 0.5 * step_y - 0.5, 0, height - 1)
    y2 = np.clip(boxes[:, 2] - 0.5 * step_y - 0.5, 0, height - 1)
    x1 = np.clip(boxes[:, 1] + 0.5 * step_x - 0.5, 0, width - 1)
    x2 = np.clip(boxes[:, 3] - 0.5 * step_x - 0.5, 0, width - 1)
    x1, x2 = np.where(flips, x2, x1), np.where(flips, x1, x2)
    out = np.stack([y1 / max(height - 1, 1), x1 / max(width - 1, 1),
                    y2 / max(height - 1, 1), x2 / max(width - 1, 1)], axis=1)
    return out.astype(np.float32)


def _crop_clip(clip, num_crops, image_size, crop_fraction, full_frame=False):
    """uint8 `(T, h, w, 3)` -> float32 `(num_crops, T, H, W, 3)`."""
    if full_frame:  # as clip_dataset: the whole frame, aspect not kept
        return tf.cast(tf.image.resize(clip, image_size), tf.float32)[None]
    clip_length = clip.shape[0]
    shape = tf.shape(clip)
    boxes = tf.numpy_function(
        lambda h, w: crop_and_resize_boxes(h, w, num_crops, image_size,
                                           crop_fraction),
        [shape[1], shape[2]], tf.float32, stateful=False)
    boxes = tf.ensure_shape(boxes, (num_crops, 4))
    crops = tf.image.crop_and_resize(
        clip, tf.repeat(boxes, clip_length, axis=0),
        tf.tile(tf.range(clip_length), [num_crops]), image_size)
    return tf.reshape(crops, (num_crops, clip_length, *image_size, 3))


def _view_frames(num_frames, clip_length, num_clips, frame_stride, sampling,
                 sequence_stride):
    """Frame indices `(clips, clip_length)` of one video's test clips."""
    if sampling == "uniform":
        return uniform_clip_indices(num_frames, clip_length, num_clips,
                                    frame_stride)
    if sampling == "segments":
        return segment_frame_indices(num_frames, clip_length, False)[None]
    frames = clip_frame_indices(num_frames, clip_length, frame_stride,
                                sequence_stride)
    if len(frames) == 0:  # shorter than one clip: one looped clip
        frames = uniform_clip_indices(num_frames, clip_length, 1,
                                      frame_stride)
    return frames


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def view_dataset(videos, clip_length, num_clips=1, num_crops=1,
                 frame_stride=1, sampling="uniform", sequence_stride=None,
                 image_size=(224, 224), preprocessing="caffe",
                 crop_fraction=None, batch_size=8, num_parallel_calls=None,
                 video_seek=False, full_frame=False):
    """Every test view of every video: temporal clips x spatial crops.

    For each video, each temporal clip, each crop (in that order) the
    dataset yields one view: the clip's frames are read once, cropped
    `num_crops` times (`crop_boxes`, flipped crops mirrored) and every crop
    resized to `image_size` in the same step (`tf.image.crop_and_resize`,
    bilinear), then preprocessed for the backbone. A video file is decoded
    once for all its clips (their frames are held in memory meanwhile; for
    densely overlapping `"sliding"` clips of long videos pass
    `video_seek=True`, which seeks to every clip instead).

    Temporal sampling:

    - `"uniform"`: `num_clips` uniformly spaced clips of `clip_length`
      frames `frame_stride` apart (`uniform_clip_indices`, MMAction2's
      test-mode `SampleFrames`); short videos loop.
    - `"sliding"`: every clip of `clip_frame_indices` with
      `sequence_stride` (default `clip_length`: all non-overlapping clips,
      the video accuracy of Hara et al. / compressed-3d-cnn); the number
      of clips varies per video. A video shorter than one clip gets one
      looped clip; the trailing partial clip of a longer video is dropped
      (Hara's loader loops it too).
    - `"segments"`: one clip of `clip_length` TSN segment centres
      (`segment_frame_indices(..., training=False)`); `num_clips` must be 1.

    Spatial crops (`crop_boxes`): 1 = the centre square (side 0.875 x the
    short side by default, i.e. MMAction2's resize to 256 + centre crop
    224), 3 = three full-height squares along the long side, 10 = four
    corners + centre and their flips. The crops of MMAction2 come from a
    frame resized first; here the crop box is taken from the decoded frame
    and resized once, the same region up to interpolation. With
    `full_frame=True` there is no crop: the whole frame is resized to
    `image_size` (bilinear, aspect ratio not kept), exactly the pixels of
    `clip_dataset` and of the UCF101 training clips.

    The dataset carries `video_list`, `num_clips` (clips per video; None
    for `"sliding"`), `num_crops`, `views_per_video` (None for
    `"sliding"`), `num_views` (total), `clips_per_video` (int array `(V,)`),
    `clip_length`, `frame_stride`, `sampling`, `image_size` and
    `crop_fraction`; `len(ds)` is the number of batches. The attributes are
    lost if `ds` is transformed further.

    Args:
        videos: a `VideoList` (e.g. `ClipIndex.video_list()`).
        clip_length: int >= 1, frames per clip (for `"segments"`: the
            number of segments).
        num_clips: int >= 1, clips per video for `"uniform"`. Defaults to 1.
        num_crops: 1, 3 or 10. Defaults to 1.
        frame_stride: int >= 1, step between the frames of a clip
            (`"uniform"`, `"sliding"`). Defaults to 1.
        sampling: `"uniform"`, `"sliding"` or `"segments"`. Defaults to
            `"uniform"`.
        sequence_stride: None (= `clip_length`) or a number > 0, step
            between clip starts for `"sliding"`.
        image_size: `(height, width)` of the model input. Defaults to
            `(224, 224)`.
        preprocessing: `"caffe"`, `"tf"`, None or a callable, see
            `preprocess`. Defaults to `"caffe"`.
        crop_fraction: None (0.875 for 1 and 10 crops, 1.0 for 3) or a
            float in (0, 1], the crop side over the short side.
        batch_size: int >= 1, views per batch. Defaults to 8.
        num_parallel_calls: int or None (AUTOTUNE).
        video_seek: bool, video files only: read every clip on its own,
            seeking to its first frame (see `read_video_frames`), instead
            of decoding each video once for all its clips. Defaults to
            False.
        full_frame: bool, resize the whole frame instead of cropping
            (`num_crops` must be 1). Defaults to False.

    Returns:
        `tf.data.Dataset` of `(clips float32 (B, T, H, W, 3), labels
        float32 (B, num_classes) multi-hot, video_index int32 (B,))`.

    Raises:
        ValueError: for invalid arguments, or videos with no frame (named).

    Example:
    >>> videos = index_clips("ucf101/split1/test", 16).video_list()  # doctest: +SKIP
    >>> ds = view_dataset(videos, 16, num_clips=10, num_crops=3,
    ...                   image_size=(112, 112))  # doctest: +SKIP
    >>> ds.views_per_video, ds.num_views  # doctest: +SKIP
    (30, 113490)
    """
    videos = _check_videos(videos)
    clip_length = check_positive_int("clip_length", clip_length)
    num_clips = check_positive_int("num_clips", num_clips)
    frame_stride = check_positive_int("frame_stride", frame_stride)
    batch_size = check_positive_int("batch_size", batch_size)
    _check_choice("sampling", sampling, VIEW_SAMPLINGS)
    image_size = check_image_size(image_size)
    prep = check_preprocessing(preprocessing)
    crop_boxes(1, 1, num_crops, crop_fraction)  # checks both arguments
    if full_frame and (num_crops != 1 or crop_fraction is not None):
        raise ValueError(
            "`full_frame=True` resizes the whole frame: it takes "
            "`num_crops=1` and no `crop_fraction`. Received: "
            f"num_crops={num_crops!r}, crop_fraction={crop_fraction!r}")
    if sampling == "segments" and num_clips != 1:
        raise ValueError(
            "`sampling='segments'` takes one clip of segment centres per "
            "video (`clip_length` segments): `num_clips` must be 1. "
            f"Received: num_clips={num_clips}")
    if sequence_stride is None:
        sequence_stride = clip_length
    per_video = [_view_frames(int(n), clip_length, num_clips, frame_stride,
                              sampling, sequence_stride)
                 for n in videos.num_frames]
    clips_per_video = np.array([len(f) for f in per_video], np.int64)
    clip_video = np.repeat(np.arange(len(videos), dtype=np.int32),
                           clips_per_video)
    num_views = int(clips_per_video.sum()) * num_crops
    label_matrix = tf.constant(videos.label_matrix())

    def crop(clip, v):
        crops = _crop_clip(clip, num_crops, image_size, crop_fraction,
                           full_frame)
        labels = tf.repeat(tf.gather(label_matrix, v)[None], num_crops, 0)
        return preprocess(crops, prep), labels, tf.fill([num_crops], v)

    calls = tf.data.AUTOTUNE if num_parallel_calls is None else (
        num_parallel_calls)
    if videos.frame_template is None and not video_seek:
        # One decoding pass per video file for all its clips.
        ds = tf.data.Dataset.range(len(videos)).map(
            lambda v: tf.cast(v, tf.int32))
        ds = ds.map(_video_clips_reader(videos, per_video, clip_length),
                    num_parallel_calls=calls, deterministic=True).unbatch()
    else:
        read = _frame_reader(videos, clip_length, video_seek)
        ds = tf.data.Dataset.from_tensor_slices(
            (clip_video, np.concatenate(per_video).astype(np.int64)))
        ds = ds.map(lambda v, frame_ids: (read(v, frame_ids), v),
                    num_parallel_calls=calls, deterministic=True)
    ds = ds.map(crop, num_parallel_calls=calls, deterministic=True).unbatch()
    ds = ds.apply(tf.data.experimental.assert_cardinality(num_views))
    ds = ds.batch(batch_size, num_parallel_calls=calls, deterministic=True)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    sliding = sampling == "sliding"
    ds.video_list = videos
    ds.num_clips = None if sliding else int(clips_per_video[0])
    ds.num_crops = int(num_crops)
    ds.views_per_video = None if sliding else ds.num_clips * ds.num_crops
    ds.num_views = num_views
    ds.clips_per_video = clips_per_video
    ds.clip_length = clip_length
    ds.frame_stride = frame_stride
    ds.sampling = sampling
    ds.image_size = image_size
    ds.crop_fraction = crop_fraction
    ds.full_frame = bool(full_frame)
    return ds


def video_dataset(videos, clip_length, sampling="dense", frame_stride=1,
                  num_segments=None, image_size=(224, 224),
                  preprocessing="caffe", batch_size=8, shuffle=True,
                  seed=None, epoch=None, augment=False, drop_remainder=False,
                  augmentation=None, interpolation="bilinear",
                  num_parallel_calls=None, deterministic=None,
                  video_seek=False):
    """One randomly sampled clip per video per epoch, for training.

    Every epoch visits each video once (in a new order with `shuffle`) and
    samples one clip: `"dense"` = `dense_clip_indices(..., num_clips=1,
    training=True)` (`clip_length` frames `frame_stride` apart at a random
    offset, MMAction2's training `SampleFrames`), `"segments"` =
    `segment_frame_indices(..., training=True)` (one random frame in each
    of `num_segments` TSN segments). The sampler's generator is seeded
    with `(epoch seed, video index)`, so with `epoch` an epoch is a pure
    function of `(seed, epoch)` (`epoch_seed`), as in `clip_dataset`;
    without it every iteration draws a fresh epoch seed (reproducible from
    `seed`). Frames are resized whole to `image_size` (no crop), with
    `augment` through ONE random affine transform per clip
    (`resize_and_augment_clip`, the `clip_dataset` augmentation), then
    preprocessed.

    The dataset carries `video_list`, `clip_length`, `sampling`,
    `image_size` and `num_videos`; `len(ds)` is the number of batches.

    Args:
        videos: a `VideoList`.
        clip_length: int >= 1, frames per clip.
        sampling: `"dense"` or `"segments"`. Defaults to `"dense"`.
        frame_stride: int >= 1, `"dense"` only. Defaults to 1.
        num_segments: None or int, `"segments"` only: the clip holds one
            frame per segment, so it must equal `clip_length` (None does).
        image_size: `(height, width)`. Defaults to `(224, 224)`.
        preprocessing: `"caffe"`, `"tf"`, None or a callable.
        batch_size: int >= 1. Defaults to 8.
        shuffle: bool, a new video order every epoch. Defaults to True.
        seed: None or int.
        epoch: None or int >= 0, see above.
        augment: bool, random affine augmentation. Defaults to False.
        drop_remainder: bool, drop the last partial batch.
        augmentation: dict overriding entries of `AUGMENTATION`.
        interpolation: `"bilinear"` or `"nearest"`.
        num_parallel_calls: int or None (AUTOTUNE).
        deterministic: None (deterministic with a `seed`, an `epoch` or
            without `shuffle`), True or False.
        video_seek: bool, see `read_video_frames`.

    Returns:
        `tf.data.Dataset` of `(clips float32 (B, T, H, W, 3), labels
        float32 (B, num_classes) multi-hot)`.

    Raises:
        ValueError: for invalid arguments, or videos with no frame (named).

    Example:
    >>> train = video_dataset(videos, 8, frame_stride=2, seed=1, epoch=0,
    ...                       image_size=(112, 112), augment=True)  # doctest: +SKIP
    >>> x, y = next(iter(train))  # doctest: +SKIP
    """
    videos = _check_videos(videos)
    clip_length = check_positive_int("clip_length", clip_length)
    frame_stride = check_positive_int("frame_stride", frame_stride)
    batch_size = check_positive_int("batch_size", batch_size)
    _check_choice("sampling", sampling, TRAIN_SAMPLINGS)
    _check_choice("interpolation", interpolation, INTERPOLATIONS)
    image_size = check_image_size(image_size)
    prep = check_preprocessing(preprocessing)
    if sampling == "segments" and num_segments not in (None, clip_length):
        raise ValueError(
            "`sampling='segments'` gives one frame per segment, so "
            "`num_segments` must be None or equal `clip_length` "
            f"({clip_length}). Received: num_segments={num_segments!r}")
    for name, value, low in (("seed", seed, 0), ("epoch", epoch, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, (int, np.integer)) or value < low):
            raise ValueError(
                f"`{name}` must be None or an int >= {low}. "
                f"Received: {name}={value!r}")
    unknown = sorted(set(augmentation or {}) - set(AUGMENTATION))
    if unknown:
        raise ValueError(
            f"`augmentation` keys must be among {sorted(AUGMENTATION)}. "
            f"Received: augmentation={augmentation!r}")
    if deterministic is None:
        deterministic = seed is not None or epoch is not None or not shuffle
    frames = videos.num_frames

    def sample(v, r):
        rng = np.random.default_rng([int(r) % 2**63, int(v)])
        if sampling == "segments":
            return segment_frame_indices(int(frames[v]), clip_length, True,
                                         rng)
        return dense_clip_indices(int(frames[v]), clip_length, frame_stride,
                                  1, True, rng)[0]

    read = _frame_reader(videos, clip_length, video_seek)
    label_matrix = tf.constant(videos.label_matrix())

    def load(v, r):
        frame_ids = tf.numpy_function(sample, [v, r], tf.int64,
                                      stateful=False)
        clip = read(v, tf.ensure_shape(frame_ids, (clip_length,)))
        if augment:
            clip = resize_and_augment_clip(
                clip, tf.stack([r, v]), image_size, interpolation,
                **{**AUGMENTATION, **(augmentation or {})})
        else:
            clip = tf.cast(tf.image.resize(clip, image_size,
                                           method=interpolation), tf.float32)
        return preprocess(clip, prep), tf.gather(label_matrix, v)

    calls = tf.data.AUTOTUNE if num_parallel_calls is None else (
        num_parallel_calls)
    ds = _epoch_dataset(len(videos), shuffle, True, seed, epoch)
    ds = ds.map(load, num_parallel_calls=calls, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder,
                  num_parallel_calls=calls, deterministic=deterministic)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.video_list = videos
    ds.num_videos = len(videos)
    ds.clip_length = clip_length
    ds.sampling = sampling
    ds.image_size = image_size
    return ds


__all__ = ["TRAIN_SAMPLINGS", "VIEW_SAMPLINGS", "crop_and_resize_boxes",
           "video_dataset", "view_dataset"]
