"""Sliding-window video clips and single frames as `tf.data` pipelines.

This replaces the original Keras-2 `SlidingFrameGenerator` (spec §6.3) and
the `flow_from_directory` frame readers of the 2-D baselines (spec §6.2). It
reads the layout written by `deltasparse.data.datasets.ucf101.prepare_ucf101`
(`<split>/<subset>/<Class>/<video>.avi` and
`<split>/<subset>_frames/<Class>/<video>.avi_<k>.jpg`), either from the
extracted JPEG frames (`source="frames"`, fast) or straight from the video
files (`source="video"`, OpenCV decoding inside `tf.numpy_function`).

Per clip the pipeline does what the original did, in the same order:

1. read `clip_length` frames `i, i + frame_stride, ...` (see `clip_frame_indices`);
2. resize every frame to `image_size` (bilinear, no crop: the aspect ratio
   is distorted, like the original `cv2.resize`);
3. with `augment`, ONE random affine transform per clip, shared by all its
   frames (rotation ±30°, zoom [0.85, 1.15] per axis, width/height shift
   ±0.2, shear ±0.15 degrees, horizontal flip p=0.5, fill "nearest"): the
   `ImageDataGenerator` settings of the original, drawn anew every epoch
   (steps 2 and 3 are then fused into one resampling, see
   `resize_and_augment_clip`);
4. backbone preprocessing: `"caffe"` (ResNet50: RGB→BGR, minus the
   ImageNet means [103.939, 116.779, 123.68]) or `"tf"` (MobileNet:
   x / 127.5 − 1);

and yields `(clips float32 (B, T, H, W, 3), one-hot labels (B, classes))`.
Everything runs inside `tf.data` with parallel `map`, parallel batching and
prefetching, so input work overlaps training. Shuffling uses
`tf.random.experimental.index_shuffle` (a permutation in O(1) memory) and
the augmentation parameters are stateless functions of (epoch seed, clip
index), so with a `seed` the stream is reproducible even with parallel
calls. Two ways to run epochs:

- one dataset iterated again and again (`epoch=None`, the default): every
  iteration draws a fresh epoch seed from a generator seeded by `seed`;
- one dataset per epoch (`epoch=0, 1, ...`, what a resumable trainer
  uses): the epoch seed is `epoch_seed(seed, epoch)`, a stateless hash, so
  the order and the augmentation of epoch `e` are pure functions of
  `(seed, e)`: a fresh process that builds epoch 3 gets exactly the
  batches of the 4th epoch of an uninterrupted run, whatever was iterated
  before.

Classes are indexed by their Python-sorted names (spec §10 item 14), the
order of `sorted(os.listdir(root))`, not the `classInd.txt` numbering.
"""


import os

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
from deltasparse.data.video.index import index_clips

# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def epoch_seed(seed, epoch):
    """The epoch seed of `clip_dataset(..., seed=seed, epoch=epoch)`.

    A stateless hash of `(seed, epoch)` (NumPy's `SeedSequence`), the same
    in every process and on every platform; `seed=None` counts as 0.

    Args:
        seed: int or None.
        epoch: int >= 0.

    Returns:
        int, in `[0, 2**63)`.

    Example:
    >>> epoch_seed(1, 3) == epoch_seed(1, 3) != epoch_seed(1, 4)
    True
    """
    seed = 0 if seed is None else int(seed)
    state = np.random.SeedSequence([seed % 2**64, int(epoch)]).generate_state(
        2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def _epoch_dataset(n, shuffle, need_seed, seed, epoch_number=None):
    """(clip index, epoch seed) pairs.

    With `epoch`, the epoch seed is `epoch_seed(seed, epoch)`; without, a
    fresh seed is drawn on every iteration.
    """
    n64 = tf.constant(n, tf.int64)

    def epoch(r):
        positions = tf.data.Dataset.range(n64)
        if shuffle:
            key = tf.stack([r, tf.constant(-1, tf.int64)])
            positions = positions.map(
                lambda i: tf.random.experimental.index_shuffle(
                    i, key, n64 - 1))
        return positions.map(lambda i: (i, r))

    if not need_seed:
        ds = epoch(tf.constant(0, tf.int64))
    elif epoch_number is not None:
        ds = epoch(tf.constant(epoch_seed(seed, epoch_number), tf.int64))
    else:
        ds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True).take(1).flat_map(epoch)
    return ds.apply(tf.data.experimental.assert_cardinality(n))


def _build_dataset(index, batch_size, image_size, preprocessing, augment,
                   shuffle, seed, drop_remainder, deterministic, interpolation,
                   squeeze_time, augmentation, num_parallel_calls,
                   video_seek=False, epoch=None):
    batch_size = check_positive_int("batch_size", batch_size)
    height, width = check_image_size(image_size)
    prep = check_preprocessing(preprocessing)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            "`interpolation` must be 'bilinear' or 'nearest'. "
            f"Received: interpolation={interpolation!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(
            seed, (int, np.integer))):
        raise ValueError(f"`seed` must be None or an int. Received: seed={seed!r}")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(
            epoch, (int, np.integer)) or epoch < 0):
        raise ValueError(
            "`epoch` must be None or an int >= 0 (the epoch number, from 0). "
            f"Received: epoch={epoch!r}")
    unknown = set(augmentation or {}) - set(AUGMENTATION)
    if unknown:
        raise ValueError(
            f"`augmentation` keys must be among {sorted(AUGMENTATION)}. "
            f"Received: augmentation={augmentation!r}")
    aug_kwargs = {**AUGMENTATION, **(augmentation or {})}
    if deterministic is None:
        deterministic = seed is not None or epoch is not None or not shuffle
    if num_parallel_calls is None:
        num_parallel_calls = tf.data.AUTOTUNE

    def read_video(path, frame_ids):
        return read_video_frames(path, frame_ids, seek=video_seek)

    T, fs = index.clip_length, index.frame_stride
    n = len(index)
    clip_video = tf.constant(index.clip_video, tf.int32)
    clip_start = tf.constant(index.clip_start, tf.int64)
    labels = tf.constant(index.video_labels, tf.int32)
    offsets = tf.constant(np.arange(T, dtype=np.int64) * fs)
    num_classes = index.num_classes
    if index.source == "frames":
        prefixes = tf.constant([
            os.path.join(index.frames_dir, rel) + "_" for rel in index.videos])
    else:
        paths = tf.constant([
            os.path.join(index.video_dir, rel) for rel in index.videos])

    def read_frames(v, frame_ids):
        if index.source == "frames":
            files = tf.strings.join(
                [tf.gather(prefixes, v), tf.strings.as_string(frame_ids),
                 ".jpg"])
            clip = tf.stack([
                tf.io.decode_jpeg(tf.io.read_file(files[k]), channels=3)
                for k in range(T)])
        else:
            clip = tf.numpy_function(
                read_video, [tf.gather(paths, v), frame_ids], tf.uint8,
                stateful=False)
            clip = tf.ensure_shape(clip, (T, None, None, 3))
        return clip

    def load(c, r):
        v = tf.gather(clip_video, c)
        frame_ids = tf.gather(clip_start, c) + offsets
        clip = read_frames(v, frame_ids)
        if augment:
            clip = resize_and_augment_clip(
                clip, tf.stack([r, c]), (height, width), interpolation,
                **aug_kwargs)
        else:
            clip = tf.image.resize(clip, (height, width), method=interpolation)
            clip = tf.cast(clip, tf.float32)  # nearest keeps uint8
        clip = preprocess(clip, prep)
        if squeeze_time:
            clip = clip[0]
        label = tf.one_hot(tf.gather(labels, v), num_classes, dtype=tf.float32)
        return clip, label

    ds = _epoch_dataset(n, shuffle, shuffle or augment, seed, epoch)
    ds = ds.map(load, num_parallel_calls=num_parallel_calls,
                deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder,
                  num_parallel_calls=num_parallel_calls,
                  deterministic=deterministic)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    ds.class_names = list(index.class_names)
    ds.num_clips = n
    ds.clip_index = index
    return ds


def clip_dataset(root, clip_length, frame_stride=1, sequence_stride=1,
                 batch_size=16, image_size=(224, 224), preprocessing="caffe",
                 augment=False, shuffle=False, source="frames", seed=None,
                 drop_remainder=False, classes=None, subset=None,
                 deterministic=None, interpolation="bilinear",
                 augmentation=None, num_parallel_calls=None, progress=True,
                 video_seek=False, epoch=None, allow_empty_classes=False,
                 verify_frames=False):
    """A `tf.data.Dataset` of sliding-window clips and one-hot labels.

    Replaces the original `SlidingFrameGenerator` train/validation factories
    (spec §6.3): clips of `clip_length` frames (see `clip_frame_indices`, with
    the original's off-by-one fixed), resized bilinearly to `image_size`
    without cropping, optionally augmented with ONE random affine transform
    per clip shared by all its frames (the original `ImageDataGenerator`
    settings, see `AUGMENTATION`), then preprocessed for the backbone.

    Differences from the original: clips are exactly the consecutive frames
    (no 1-based shift, no uniform-sampling fallback for the first clip);
    videos are in sorted file order; the last partial batch is kept unless
    `drop_remainder` (the original dropped it); a float `sequence_stride`
    that is not whole gives floored starts; augmentation is implemented in
    TF (`ImageProjectiveTransformV3`, same matrix and distributions as
    Keras 2, bilinear like its `order=1`) and fused with the resize into a
    single resampling (the original interpolated twice, `cv2.resize` to
    uint8 then scipy; values differ by about a grey level).

    The dataset knows its length: `len(ds)` (batches per epoch) works, and
    `ds.num_clips`, `ds.class_names` and `ds.clip_index` are attached (they
    are lost if you transform `ds` further).

    Args:
        root: str, `<split root>/<subset>` as written by `prepare_ucf101`
            (the `_frames` twin is accepted too), or the split root together
            with `subset`.
        clip_length: int, frames per clip (T).
        frame_stride: int, step between the frames of a clip. Defaults to 1.
        sequence_stride: number, step between clip starts (the originals
            used `ceil(T / 2)`). Defaults to 1.
        batch_size: int. Defaults to 16.
        image_size: `(height, width)`. Defaults to `(224, 224)`.
        preprocessing: `"caffe"` (ResNet50), `"tf"` (MobileNet), None (raw
            RGB in [0, 255]) or a callable. Defaults to `"caffe"`.
        augment: bool, random affine augmentation (training). Defaults to
            False.
        shuffle: bool, a new clip order every epoch. Defaults to False.
        source: `"frames"` (extracted JPEGs) or `"video"` (decode the
            videos with OpenCV). Defaults to `"frames"`.
        seed: int or None, makes shuffling and augmentation reproducible.
        drop_remainder: bool, drop the last partial batch. Defaults to False.
        classes: None (all class folders, sorted) or a list of class names.
        subset: None or `"train"` / `"test"` (then `root` is the split root).
        deterministic: None, True or False: element order under parallel
            map. None means deterministic when `seed` is set or when not
            shuffling.
        interpolation: `"bilinear"` (the original clip generator) or
            `"nearest"`. Defaults to `"bilinear"`.
        augmentation: dict overriding entries of `AUGMENTATION`.
        num_parallel_calls: int or None (AUTOTUNE).
        progress: bool, progress bar when video headers must be read.
        video_seek: bool, `source="video"` only: seek to each clip's first
            frame instead of decoding from the start of the video (faster
            for long videos; exact when the file's timestamps are sane, see
            `read_video_frames`). Defaults to False (always exact).
        epoch: None or int >= 0. None: every iteration of the dataset is a
            new epoch with a fresh seed. An int: the dataset IS that epoch;
            its order and augmentation are pure functions of `(seed,
            epoch)` (`epoch_seed`; `seed=None` counts as 0) and iterating it
            again repeats it. Build one per epoch for exact resumption:
            `lambda e: clip_dataset(..., seed=s, epoch=e)`.
        allow_empty_classes: bool, see `index_clips`. Defaults to False.
        verify_frames: bool, see `index_clips`. Defaults to False.

    Returns:
        `tf.data.Dataset` of `(float32 (B, T, H, W, 3), float32 (B, classes))`.

    Raises:
        FileNotFoundError: if `root` is not a prepared folder (the message
            says how to prepare one).
        ValueError: for invalid arguments, or a class without any usable
            clip (see `index_clips`; unreadable videos are skipped and
            listed in `ds.clip_index.unreadable`).

    Example:
    >>> from deltasparse.data.datasets.synthetic_actions import ensure_synthetic_ucf
    >>> root = ensure_synthetic_ucf()  # doctest: +SKIP
    >>> ds = clip_dataset(root, 2, subset="train", batch_size=8,
    ...                   image_size=(64, 64), augment=True, shuffle=True)  # doctest: +SKIP
    >>> x, y = next(iter(ds))  # doctest: +SKIP
    >>> x.shape, y.shape  # doctest: +SKIP
    (TensorShape([8, 2, 64, 64, 3]), TensorShape([8, 8]))
    """
    index = index_clips(root, clip_length, frame_stride, sequence_stride,
                        source=source, classes=classes, subset=subset,
                        progress=progress,
                        allow_empty_classes=allow_empty_classes,
                        verify_frames=verify_frames)
    return _build_dataset(index, batch_size, image_size, preprocessing,
                          augment, shuffle, seed, drop_remainder,
                          deterministic, interpolation, False, augmentation,
                          num_parallel_calls, video_seek, epoch)


def frame_dataset(root, batch_size=32, image_size=(224, 224),
                  preprocessing="caffe", augment=False, shuffle=False,
                  seed=None, drop_remainder=False, classes=None, subset=None,
                  frame_step=1, deterministic=None, interpolation="bilinear",
                  augmentation=None, num_parallel_calls=None, source="frames",
                  video_seek=False, epoch=None, allow_empty_classes=False,
                  verify_frames=False, progress=True):
    """A `tf.data.Dataset` of single frames, for the 2-D baselines.

    Replaces `ImageDataGenerator.flow_from_directory` on the extracted
    frames (spec §6.2): every frame (or every `frame_step`-th) of every
    video, resized to `image_size`, optionally augmented (same settings as
    `clip_dataset`, one transform per frame), preprocessed.

    Difference from the original: its 2-D readers resized with Keras'
    default nearest-neighbour, the clip generator bilinearly (spec §10 item
    15); the default here is bilinear for both, so a 2-D baseline sees the
    same pixels as the clip models. Pass `interpolation="nearest"` for the
    original 2-D behaviour. The original also shuffled the validation
    frames; here `shuffle` is up to you.

    Args:
        root: str, `<split root>/<subset>_frames` (or `<subset>`), or the
            split root with `subset`.
        batch_size: int. Defaults to 32.
        image_size: `(height, width)`. Defaults to `(224, 224)`.
        preprocessing: `"caffe"`, `"tf"`, None or a callable. Defaults to
            `"caffe"`.
        augment: bool. Defaults to False.
        shuffle: bool. Defaults to False.
        seed: int or None.
        drop_remainder: bool. Defaults to False.
        classes: None or a list of class names.
        subset: None or `"train"` / `"test"`.
        frame_step: int, take every `frame_step`-th frame. Defaults to 1.
        deterministic: None, True or False (see `clip_dataset`).
        interpolation: `"bilinear"` or `"nearest"`. Defaults to
            `"bilinear"`.
        augmentation: dict overriding entries of `AUGMENTATION`.
        num_parallel_calls: int or None (AUTOTUNE).
        source: `"frames"` or `"video"`. Defaults to `"frames"`.
        video_seek: bool, see `clip_dataset`. Defaults to False.
        epoch: None or int >= 0, see `clip_dataset`.
        allow_empty_classes: bool, see `index_clips`. Defaults to False.
        verify_frames: bool, see `index_clips`. Defaults to False.
        progress: bool, progress bar when many videos are checked.

    Returns:
        `tf.data.Dataset` of `(float32 (B, H, W, 3), float32 (B, classes))`
        with `len`, `num_clips` (frames), `class_names`, `clip_index`.

    Example:
    >>> ds = frame_dataset("synthetic/split1/train_frames", batch_size=4,
    ...                    image_size=(64, 64))  # doctest: +SKIP
    >>> next(iter(ds))[0].shape  # doctest: +SKIP
    TensorShape([4, 64, 64, 3])
    """
    frame_step = check_positive_int("frame_step", frame_step)
    index = index_clips(root, 1, 1, frame_step, source=source,
                        classes=classes, subset=subset, progress=progress,
                        allow_empty_classes=allow_empty_classes,
                        verify_frames=verify_frames)
    return _build_dataset(index, batch_size, image_size, preprocessing,
                          augment, shuffle, seed, drop_remainder,
                          deterministic, interpolation, True, augmentation,
                          num_parallel_calls, video_seek, epoch)

