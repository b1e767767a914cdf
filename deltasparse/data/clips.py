"""Sliding-window video clips and single frames as `tf.data` pipelines.

This replaces the original Keras-2 `SlidingFrameGenerator` (spec §6.3) and
the `flow_from_directory` frame readers of the 2-D baselines (spec §6.2). It
reads the layout written by `deltasparse.data.ucf101.prepare_ucf101`
(`<split>/<subset>/<Class>/<video>.avi` and
`<split>/<subset>_frames/<Class>/<video>.avi_<k>.jpg`), either from the
extracted JPEG frames (`source="frames"`, fast) or straight from the video
files (`source="video"`, OpenCV decoding inside `tf.numpy_function`).

Per clip the pipeline does what the original did, in the same order:

1. read `nb_frames` frames `i, i + frame_stride, ...` (see `clip_frame_indices`);
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
`tf.random.experimental.index_shuffle` (a fresh permutation per epoch in
O(1) memory) and the augmentation parameters are stateless functions of
(epoch seed, clip index), so with a `seed` the stream is reproducible even
with parallel calls.

Classes are indexed by their Python-sorted names (spec §10 item 14), the
order of `sorted(os.listdir(root))`, not the `classInd.txt` numbering.
"""

import concurrent.futures
import dataclasses
import math
import os
import warnings

import cv2
import numpy as np
import tensorflow as tf
import tqdm

from deltasparse.data import ucf101

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
AUGMENTATION = dict(
    rotation_range=30.0,
    zoom_range=0.15,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.15,
    horizontal_flip=True,
)
_PREPROCESSING_ALIASES = {
    None: None,
    "none": None,
    "caffe": "caffe",
    "resnet": "caffe",
    "resnet50": "caffe",
    "tf": "tf",
    "mobilenet": "tf",
}
_INTERPOLATIONS = ("bilinear", "nearest")
_SOURCES = ("frames", "video")


# --------------------------------------------------------------------------
# Clip indexing (pure NumPy)
# --------------------------------------------------------------------------


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
            value < 1):
        raise ValueError(
            f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    return int(value)


def _check_stride(sequence_stride):
    if isinstance(sequence_stride, bool) or not isinstance(
            sequence_stride, (int, float, np.integer, np.floating)) or not (
            math.isfinite(sequence_stride) and sequence_stride > 0):
        raise ValueError(
            "`sequence_stride` must be a number > 0 (e.g. 1, 1.0 or 16). "
            f"Received: sequence_stride={sequence_stride!r}")
    return float(sequence_stride)


def num_clips(num_frames, nb_frames, frame_stride=1, sequence_stride=1):
    """Number of clips `clip_frame_indices` gives for one video.

    Args:
        num_frames: int, frames in the video.
        nb_frames: int, frames per clip (T).
        frame_stride: int, step between the frames of a clip.
        sequence_stride: number > 0, step between clip starts.

    Returns:
        int, `floor((F - 1 - (T - 1) * frame_stride) / s) + 1`, or 0 if the
        video is shorter than one clip span.

    Example:
    >>> num_clips(10, 2, 1, 1)
    9
    """
    return len(_clip_starts(int(num_frames), _check_positive_int(
        "nb_frames", nb_frames), _check_positive_int(
        "frame_stride", frame_stride), _check_stride(sequence_stride)))


def _clip_starts(num_frames, nb_frames, frame_stride, sequence_stride):
    last = num_frames - 1 - (nb_frames - 1) * frame_stride  # max start
    if last < 0:
        return np.zeros((0,), np.int64)
    m = np.arange(int(last / sequence_stride) + 2, dtype=np.float64)
    starts = m * sequence_stride
    starts = starts[starts + (nb_frames - 1) * frame_stride < num_frames]
    return np.floor(starts).astype(np.int64)


def clip_frame_indices(num_frames, nb_frames, frame_stride=1,
                       sequence_stride=1):
    """0-based frame indices of every sliding-window clip of one video.

    Clip starts are `i = 0, s, 2s, ...` (`s = sequence_stride`, a float is
    fine; non-integer starts are floored) for as long as the clip's last
    frame exists, i.e. `i + (nb_frames - 1) * frame_stride < num_frames`;
    clip `i` holds frames `i, i + frame_stride, ..., i + (nb_frames - 1) *
    frame_stride`.

    Difference from the original `SlidingFrameGenerator` (spec §6.3, §10
    item 4), which is fixed here: the original matched frames with a 1-based
    decoding counter against these 0-based indices. So every clip with
    `i >= 1` was shifted one frame earlier (frames `i-1, ..., i+nb-2`), and
    the first clip of every video (`i = 0`) never found frame "0" and fell
    back to the base class's uniform sampler (for T = 2: first and last
    frame of the video). Its bound `i <= F - nb_frames * frame_stride` is
    also stricter than needed when `frame_stride > 1` (it drops the last
    `frame_stride - 1` possible starts). For `frame_stride = 1` both give
    `floor((F - nb_frames) / s) + 1` clips per video.

    Args:
        num_frames: int >= 0, frames in the video (F).
        nb_frames: int >= 1, frames per clip (T).
        frame_stride: int >= 1, step between frames of a clip. Defaults to 1.
        sequence_stride: number > 0, step between clip starts. Defaults
            to 1.

    Returns:
        int64 array of shape `(num_clips, nb_frames)`.

    Example:
    >>> clip_frame_indices(6, 2, 1, 2).tolist()
    [[0, 1], [2, 3], [4, 5]]
    >>> clip_frame_indices(7, 3, 2, 1).tolist()
    [[0, 2, 4], [1, 3, 5], [2, 4, 6]]
    """
    nb_frames = _check_positive_int("nb_frames", nb_frames)
    frame_stride = _check_positive_int("frame_stride", frame_stride)
    sequence_stride = _check_stride(sequence_stride)
    if isinstance(num_frames, bool) or int(num_frames) != num_frames or (
            num_frames < 0):
        raise ValueError(
            f"`num_frames` must be an int >= 0. Received: num_frames={num_frames!r}")
    starts = _clip_starts(int(num_frames), nb_frames, frame_stride,
                          sequence_stride)
    return starts[:, None] + np.arange(nb_frames, dtype=np.int64) * frame_stride


# --------------------------------------------------------------------------
# Folder scanning
# --------------------------------------------------------------------------


@dataclasses.dataclass
class ClipIndex:
    """Every clip of a folder tree, as flat arrays.

    Attributes:
        video_dir: str, `<split>/<subset>` (videos).
        frames_dir: str, `<split>/<subset>_frames` (JPEG frames).
        source: str, `"frames"` or `"video"`.
        class_names: list of str, sorted; label `j` is `class_names[j]`.
        videos: list of str, `"Class/video.avi"` per video (sorted).
        video_labels: int32 array `(V,)`.
        video_frames: int64 array `(V,)`, frames per video.
        clip_video: int32 array `(N,)`, the video of every clip.
        clip_start: int64 array `(N,)`, the first frame of every clip.
        nb_frames, frame_stride, sequence_stride: the window parameters.
    """

    video_dir: str
    frames_dir: str
    source: str
    class_names: list
    videos: list
    video_labels: np.ndarray
    video_frames: np.ndarray
    clip_video: np.ndarray
    clip_start: np.ndarray
    nb_frames: int
    frame_stride: int
    sequence_stride: float

    def __len__(self):
        return int(self.clip_video.shape[0])

    @property
    def num_classes(self):
        return len(self.class_names)

    def clip_frames(self, i):
        """0-based frame indices of clip `i`."""
        return self.clip_start[i] + np.arange(
            self.nb_frames, dtype=np.int64) * self.frame_stride

    def clip_label(self, i):
        """Integer label of clip `i`."""
        return int(self.video_labels[self.clip_video[i]])

    def clip_video_path(self, i):
        """Video file path of clip `i`."""
        return os.path.join(self.video_dir, self.videos[self.clip_video[i]])

    def clip_frame_paths(self, i):
        """JPEG paths of the frames of clip `i` (`source="frames"` layout)."""
        rel = self.videos[self.clip_video[i]]
        return [os.path.join(self.frames_dir, f"{rel}_{k}.jpg")
                for k in self.clip_frames(i)]


def _not_found(what, path):
    return FileNotFoundError(
        f"`root` must be a prepared UCF101-style folder: {what} not found. "
        "Prepare UCF101 with `deltasparse-prepare-ucf101` "
        "(deltasparse.data.ucf101.prepare_ucf101), or get the small "
        "built-in dataset with "
        "`deltasparse.data.synthetic_actions.ensure_synthetic_ucf()`, and "
        "pass `<split root>/train` (or the split root with `subset='train'`)"
        f".\n{ucf101.download_instructions()}\nReceived: root={path!r}"
    )


def _resolve_dirs(root, subset):
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(
            f"`root` must be a path (str). Received: root={root!r}")
    root = os.fspath(root)
    if subset is not None:
        if not isinstance(subset, str) or not subset:
            raise ValueError(
                "`subset` must be None or a folder name such as 'train'. "
                f"Received: subset={subset!r}")
        root = os.path.join(root, subset)
    root = os.path.normpath(root)
    if root.endswith("_frames"):
        return root[: -len("_frames")], root
    return root, root + "_frames"


def _subdirs(path):
    with os.scandir(path) as it:
        return sorted(e.name for e in it
                      if e.is_dir() and not e.name.startswith("."))


def _resolve_classes(folder, classes):
    found = _subdirs(folder)
    if classes is None:
        if not found:
            raise _not_found("class sub-folders", folder)
        return found
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
        raise ValueError(
            "`classes` must be None or a sequence of class folder names. "
            f"Received: classes={classes!r}")
    classes = list(classes)
    missing = [c for c in classes if c not in found]
    if missing or len(set(classes)) != len(classes) or not classes:
        raise ValueError(
            "`classes` must name distinct existing class folders of "
            f"{folder!r}. Received: classes={classes!r} (missing: {missing})")
    return classes


def _scan_frames(frames_dir, classes):
    """{"Class/video": frame count} from `<video>_<k>.jpg` file names."""
    counts = {}
    for c in classes:
        ks = {}
        with os.scandir(os.path.join(frames_dir, c)) as it:
            for e in it:
                name = e.name
                if name.startswith(".") or not name.endswith(".jpg"):
                    continue
                stem, _, k = name[:-4].rpartition("_")
                if stem and k.isdigit():
                    ks.setdefault(stem, set()).add(int(k))
        for stem, present in ks.items():
            n = 0
            while n in present:  # contiguous frames from 0
                n += 1
            if n:
                counts[f"{c}/{stem}"] = n
    return counts


def _scan_videos(video_dir, classes):
    found = []
    for c in classes:
        with os.scandir(os.path.join(video_dir, c)) as it:
            for e in it:
                if not e.name.startswith(".") and e.name.lower().endswith(
                        ucf101.VIDEO_EXTENSIONS):
                    found.append(f"{c}/{e.name}")
    return found


def count_video_frames(path, decode=False):
    """Frame count of a video file.

    Args:
        path: str.
        decode: bool, decode the whole file instead of trusting the header
            (`CAP_PROP_FRAME_COUNT`, which can be off by a few frames). The
            header is also decoded-through when it gives no count.

    Returns:
        int (0 if the file cannot be read).

    Example:
    >>> count_video_frames("v_Fencing_g01_c01.avi")  # doctest: +SKIP
    112
    """
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            return 0
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if n > 0 and not decode:
            return n
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def _video_counts(video_dir, videos, index, progress):
    counts = {}
    todo = []
    for rel in videos:
        if index is not None and rel in index:
            counts[rel] = int(index[rel])
        else:
            todo.append(rel)
    if todo:
        paths = [os.path.join(video_dir, rel) for rel in todo]
        with concurrent.futures.ThreadPoolExecutor(
                max_workers=min(8, os.cpu_count() or 1)) as pool:
            it = pool.map(count_video_frames, paths)
            for rel, n in zip(todo, tqdm.tqdm(
                    it, total=len(todo), desc="counting frames", unit="video",
                    disable=not progress or len(todo) < 200)):
                counts[rel] = n
    return counts


def index_clips(root, nb_frames, frame_stride=1, sequence_stride=1,
                source="frames", classes=None, subset=None, progress=True):
    """Lists the clips of a prepared folder (see `clip_frame_indices`).

    Videos are taken in sorted class order, then sorted file order (the
    original used unsorted `glob` order within a class). Frame counts come
    from the `<subset>_index.json` written by `prepare_ucf101` when present
    (decoded counts), else from the JPEG file names (`source="frames"`) or
    the video headers (`source="video"`).

    Args:
        root: str, `<split root>/<subset>` (or its `_frames` twin), or the
            split root together with `subset`.
        nb_frames: int, frames per clip (T).
        frame_stride: int, step between the frames of a clip. Defaults to 1.
        sequence_stride: number, step between clip starts. Defaults to 1.
        source: `"frames"` or `"video"`. Defaults to `"frames"`.
        classes: None (all sub-folders, sorted) or a list of class names
            (used in the given order; other classes are left out).
        subset: None or `"train"` / `"test"`. Defaults to None.
        progress: bool, progress bar when many video headers are read.

    Returns:
        A `ClipIndex`; `len(index)` is the number of clips.

    Raises:
        FileNotFoundError: if the folder is missing (the message says how
            to prepare it).
        ValueError: for invalid arguments or when no clip fits.

    Example:
    >>> idx = index_clips("ucf101/split1/train", nb_frames=2)  # doctest: +SKIP
    >>> len(idx), idx.class_names[:2]  # doctest: +SKIP
    (1777280, ['ApplyEyeMakeup', 'ApplyLipstick'])
    """
    nb_frames = _check_positive_int("nb_frames", nb_frames)
    frame_stride = _check_positive_int("frame_stride", frame_stride)
    sequence_stride = _check_stride(sequence_stride)
    if source not in _SOURCES:
        raise ValueError(
            f"`source` must be 'frames' or 'video'. Received: source={source!r}")
    video_dir, frames_dir = _resolve_dirs(root, subset)
    folder = frames_dir if source == "frames" else video_dir
    if not os.path.isdir(folder):
        raise _not_found(f"{source} folder {folder!r}", os.fspath(root))
    class_names = _resolve_classes(folder, classes)

    split_root, subset_name = os.path.split(video_dir)
    prepared = ucf101.read_index(split_root, subset_name)
    index = prepared["videos"] if prepared is not None else None
    if source == "frames":
        if index is not None and prepared.get("frames_extracted"):
            wanted = set(class_names)
            counts = {rel: n for rel, n in index.items()
                      if rel.split("/", 1)[0] in wanted}
        else:
            counts = _scan_frames(frames_dir, class_names)
    else:
        videos = _scan_videos(video_dir, class_names)
        counts = _video_counts(video_dir, videos, index, progress)

    label_of = {c: j for j, c in enumerate(class_names)}
    videos = sorted(counts, key=lambda r: (label_of[r.split("/", 1)[0]], r))
    video_frames = np.array([counts[r] for r in videos], np.int64)
    video_labels = np.array([label_of[r.split("/", 1)[0]] for r in videos],
                            np.int32)
    per_video = [_clip_starts(int(n), nb_frames, frame_stride, sequence_stride)
                 for n in video_frames]
    lengths = np.array([len(s) for s in per_video], np.int64)
    too_short = int(np.sum(lengths == 0))
    if too_short:
        warnings.warn(
            f"{too_short} of {len(videos)} videos are shorter than one clip "
            f"({nb_frames} frames, frame_stride {frame_stride}) and give no "
            "clip.", stacklevel=2)
    if lengths.sum() == 0:
        raise ValueError(
            f"No clip of {nb_frames} frames (frame_stride {frame_stride}) "
            f"fits in the videos under {folder!r}. Received: "
            f"nb_frames={nb_frames}, videos={len(videos)}")
    clip_video = np.repeat(np.arange(len(videos), dtype=np.int32), lengths)
    clip_start = np.concatenate(per_video).astype(np.int64)
    return ClipIndex(
        video_dir=video_dir, frames_dir=frames_dir, source=source,
        class_names=class_names, videos=videos, video_labels=video_labels,
        video_frames=video_frames, clip_video=clip_video,
        clip_start=clip_start, nb_frames=nb_frames,
        frame_stride=frame_stride, sequence_stride=sequence_stride)


# --------------------------------------------------------------------------
# TF building blocks: augmentation and preprocessing
# --------------------------------------------------------------------------


def affine_transform_matrix(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0,
                            zy=1.0, flip=False, height=224, width=224):
    """The `ImageDataGenerator` affine transform as a projective-transform vector.

    Builds Keras' `apply_affine_transform` matrix in (row, column)
    coordinates, `M = R(theta) @ Shift(tx, ty) @ Shear(shear) @ Zoom(zx, zy)`
    centred at `(height / 2 + 0.5, width / 2 + 0.5)` (Keras' centre, half a
    pixel off the true one), maps an OUTPUT pixel to the INPUT point it
    samples, and folds the horizontal flip (applied after the affine in
    Keras) in. The result is the 8-vector `[a0, a1, a2, b0, b1, b2, 0, 0]`
    in (x = column, y = row) order expected by
    `tf.raw_ops.ImageProjectiveTransformV3`.

    `tx` shifts rows (height), `ty` columns (width), `zx` scales rows, `zy`
    columns; angles are in degrees. Works on scalars or 1-D tensors (one
    transform per element).

    Args:
        theta, tx, ty, shear, zx, zy: float tensors (degrees / pixels /
            factors).
        flip: bool tensor, flip horizontally.
        height, width: int, image size.

    Returns:
        float32 tensor of shape `(..., 8)`.

    Example:
    >>> m = affine_transform_matrix(flip=True, height=4, width=4)
    >>> (m.numpy() + 0.0).tolist()  # x_in = 3 - x, y_in = y
    [-1.0, 0.0, 3.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    """
    f32 = tf.float32
    theta = tf.cast(theta, f32) * (math.pi / 180.0)
    shear = tf.cast(shear, f32) * (math.pi / 180.0)
    tx, ty = tf.cast(tx, f32), tf.cast(ty, f32)
    zx, zy = tf.cast(zx, f32), tf.cast(zy, f32)
    cos, sin = tf.cos(theta), tf.sin(theta)
    # M = R @ S @ Sh @ Z (row, col coordinates), expanded by hand.
    # R @ S = [[c, -s, c*tx - s*ty], [s, c, s*tx + c*ty]]
    # Sh @ Z = [[zx, -sin(sh)*zy], [0, cos(sh)*zy]]
    ssh, csh = tf.sin(shear), tf.cos(shear)
    m00 = cos * zx
    m01 = (-cos * ssh - sin * csh) * zy
    m10 = sin * zx
    m11 = (-sin * ssh + cos * csh) * zy
    m02 = cos * tx - sin * ty
    m12 = sin * tx + cos * ty
    # Centre: Off @ M @ Reset with o = (h/2 + 0.5, w/2 + 0.5).
    ox, oy = height / 2.0 + 0.5, width / 2.0 + 0.5
    m02 = m02 + ox - (m00 * ox + m01 * oy)
    m12 = m12 + oy - (m10 * ox + m11 * oy)
    # (x = col, y = row): x_in = m11 x + m10 y + m12, y_in = m01 x + m00 y + m02
    a0, a1, a2 = m11, m10, m12
    b0, b1, b2 = m01, m00, m02
    flip = tf.cast(flip, tf.bool)
    w1 = float(width - 1)
    a2 = tf.where(flip, a0 * w1 + a2, a2)
    b2 = tf.where(flip, b0 * w1 + b2, b2)
    a0 = tf.where(flip, -a0, a0)
    b0 = tf.where(flip, -b0, b0)
    zero = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=-1)


def random_affine_params(seed, height, width, rotation_range=30.0,
                         zoom_range=0.15, width_shift_range=0.2,
                         height_shift_range=0.2, shear_range=0.15,
                         horizontal_flip=True):
    """Draws one set of `ImageDataGenerator` parameters, statelessly.

    Same distributions as Keras' `get_random_transform`: theta ~ U(±rotation)
    degrees, tx ~ U(±height_shift)·height, ty ~ U(±width_shift)·width,
    shear ~ U(±shear) degrees, zx, zy ~ U(1 ± zoom) independently, flip with
    p = 0.5.

    Args:
        seed: int tensor of shape `(2,)` (stateless RNG seed).
        height, width: int, image size.
        rotation_range, zoom_range, width_shift_range, height_shift_range,
            shear_range: floats, as in `ImageDataGenerator`.
        horizontal_flip: bool.

    Returns:
        dict of scalar tensors `theta, tx, ty, shear, zx, zy, flip`.

    Example:
    >>> p = random_affine_params(tf.constant([1, 2]), 224, 224)
    >>> sorted(p)
    ['flip', 'shear', 'theta', 'tx', 'ty', 'zx', 'zy']
    """
    u = tf.random.stateless_uniform([7], seed=seed, dtype=tf.float32)
    sym = 2.0 * u - 1.0
    return {
        "theta": sym[0] * rotation_range,
        "tx": sym[1] * height_shift_range * height,
        "ty": sym[2] * width_shift_range * width,
        "shear": sym[3] * shear_range,
        "zx": 1.0 - zoom_range + 2.0 * zoom_range * u[4],
        "zy": 1.0 - zoom_range + 2.0 * zoom_range * u[5],
        "flip": tf.logical_and(tf.constant(bool(horizontal_flip)), u[6] < 0.5),
    }


def augment_clip(clip, seed, **augmentation):
    """Applies ONE random affine transform to every frame of a clip.

    Args:
        clip: float32 tensor `(T, H, W, C)` (or `(H, W, C)`: one frame).
        seed: int tensor of shape `(2,)`: equal seeds give equal transforms.
        **augmentation: overrides of `AUGMENTATION` (`rotation_range`, ...).

    Returns:
        Tensor of the same shape and dtype; bilinear sampling, borders
        filled with the nearest edge pixel.

    Example:
    >>> x = tf.random.uniform((2, 32, 32, 3))
    >>> augment_clip(x, tf.constant([0, 1])).shape
    TensorShape([2, 32, 32, 3])
    """
    single = clip.shape.rank == 3
    if single:
        clip = clip[None]
    shape = tf.shape(clip)
    h, w = clip.shape[1], clip.shape[2]
    if h is None or w is None:
        raise ValueError(
            "`clip` needs a static height and width. "
            f"Received: clip.shape={clip.shape}")
    params = random_affine_params(seed, h, w, **{**AUGMENTATION,
                                                 **augmentation})
    transform = affine_transform_matrix(height=h, width=w, **params)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=clip,
        transforms=transform[None],
        output_shape=shape[1:3],
        fill_value=tf.constant(0.0, clip.dtype),
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return out[0] if single else out


def resize_and_augment_clip(clip, seed, image_size, interpolation="bilinear",
                            **augmentation):
    """Resizes a clip and applies ONE random affine transform, in one pass.

    Equivalent to `tf.image.resize(clip, image_size)` followed by
    `augment_clip` (the original resized, then transformed), but the two
    coordinate maps are composed so every output pixel is interpolated
    once, straight from the source frame: about twice as fast, and without
    the double blur of interpolating twice (the only difference from the
    two-step version; values agree to a few grey levels).

    Args:
        clip: uint8 or float tensor `(T, h, w, C)`, any source size.
        seed: int tensor of shape `(2,)`.
        image_size: `(height, width)` of the output.
        interpolation: `"bilinear"` or `"nearest"`.
        **augmentation: overrides of `AUGMENTATION`.

    Returns:
        float32 tensor `(T, height, width, C)`.

    Example:
    >>> x = tf.zeros((2, 24, 32, 3), tf.uint8)
    >>> resize_and_augment_clip(x, tf.constant([0, 1]), (16, 16)).shape
    TensorShape([2, 16, 16, 3])
    """
    height, width = image_size
    params = random_affine_params(seed, height, width,
                                  **{**AUGMENTATION, **augmentation})
    m = affine_transform_matrix(height=height, width=width, **params)
    shape = tf.shape(clip)
    sy = tf.cast(shape[1], tf.float32) / float(height)
    sx = tf.cast(shape[2], tf.float32) / float(width)
    # Output pixel -> augmented-resized image point (m) -> source point via
    # the half-pixel-centre map of `tf.image.resize`: src = (p + .5) s - .5.
    transform = tf.stack([
        m[0] * sx, m[1] * sx, m[2] * sx + 0.5 * sx - 0.5,
        m[3] * sy, m[4] * sy, m[5] * sy + 0.5 * sy - 0.5,
        m[6], m[7]])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(clip, tf.float32),
        transforms=transform[None],
        output_shape=tf.constant([height, width], tf.int32),
        fill_value=tf.constant(0.0, tf.float32),
        interpolation=interpolation.upper(),
        fill_mode="NEAREST",
    )


def preprocess(x, mode):
    """Backbone input preprocessing of float RGB images in [0, 255].

    Args:
        x: float32 tensor `(..., 3)`, RGB.
        mode: `"caffe"` (aliases `"resnet"`, `"resnet50"`): RGB→BGR minus
            [103.939, 116.779, 123.68], as `keras.applications.resnet50`;
            `"tf"` (alias `"mobilenet"`): x / 127.5 − 1; None: unchanged;
            or a callable applied to `x`.

    Returns:
        float32 tensor of the same shape.

    Example:
    >>> preprocess(tf.constant([[0.0, 127.5, 255.0]]), "tf").numpy().tolist()
    [[-1.0, 0.0, 1.0]]
    """
    mode = _check_preprocessing(mode)
    if mode is None:
        return x
    if callable(mode):
        return mode(x)
    if mode == "caffe":
        return x[..., ::-1] - tf.constant(CAFFE_MEAN_BGR, x.dtype)
    return x / 127.5 - 1.0


def _check_preprocessing(mode):
    if callable(mode):
        return mode
    key = mode.lower() if isinstance(mode, str) else mode
    if key not in _PREPROCESSING_ALIASES:
        raise ValueError(
            "`preprocessing` must be 'caffe' (ResNet50), 'tf' (MobileNet), "
            f"None or a callable. Received: preprocessing={mode!r}")
    return _PREPROCESSING_ALIASES[key]


def _check_image_size(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(
            image_size, bool):
        image_size = (image_size, image_size)
    ok = (isinstance(image_size, (tuple, list)) and len(image_size) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                  and v >= 1 for v in image_size))
    if not ok:
        raise ValueError(
            "`image_size` must be (height, width) with positive ints. "
            f"Received: image_size={image_size!r}")
    return int(image_size[0]), int(image_size[1])


# --------------------------------------------------------------------------
# Video decoding (runs inside tf.numpy_function)
# --------------------------------------------------------------------------


def read_video_frames(path, frame_indices, seek=False):
    """Decodes the given 0-based frames of a video with OpenCV.

    By default decodes sequentially from the start (skipped frames are only
    `grab`bed), which is exact for every file, like the original generator.
    With `seek`, it first jumps to the first wanted frame
    (`CAP_PROP_POS_FRAMES`; OpenCV's FFmpeg backend seeks to the previous
    key frame and decodes forward by timestamps), which is much faster deep
    into long videos but relies on sane timestamps. If the file ends before
    a requested frame (headers can overstate the count), the last decoded
    frame is repeated.

    Args:
        path: str or bytes.
        frame_indices: sorted sequence of int.
        seek: bool, seek to the first frame instead of decoding up to it.

    Returns:
        uint8 array `(len(frame_indices), H, W, 3)`, RGB.

    Raises:
        ValueError: if no frame can be decoded.

    Example:
    >>> read_video_frames("v.avi", [0, 1]).shape  # doctest: +SKIP
    (2, 240, 320, 3)
    """
    if isinstance(path, bytes):
        path = path.decode("utf-8")
    wanted = [int(k) for k in frame_indices]
    cap = cv2.VideoCapture(path)
    frames = []
    try:
        pos, last = 0, None
        if seek and wanted and wanted[0] > 0:
            if cap.set(cv2.CAP_PROP_POS_FRAMES, wanted[0]):
                pos = wanted[0]
            else:  # no seeking support: decode from the start
                cap.release()
                cap = cv2.VideoCapture(path)
        for k in wanted:
            while pos < k:
                if not cap.grab():
                    break
                pos += 1
            ok, frame = (cap.read() if pos == k else (False, None))
            if ok:
                last = frame
                pos += 1
            elif last is None:
                raise ValueError(
                    f"Cannot decode frame {k} of video {path!r}; re-run "
                    "prepare_ucf101 (it lists unreadable videos).")
            frames.append(last)
    finally:
        cap.release()
    out = np.stack(frames)
    return out[..., ::-1].copy()  # BGR -> RGB


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def _epoch_dataset(n, shuffle, need_seed, seed):
    """(clip index, epoch seed) pairs; a fresh seed on every iteration."""
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
    else:
        ds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True).take(1).flat_map(epoch)
    return ds.apply(tf.data.experimental.assert_cardinality(n))


def _build_dataset(index, batch_size, image_size, preprocessing, augment,
                   shuffle, seed, drop_remainder, deterministic, interpolation,
                   squeeze_time, augmentation, num_parallel_calls,
                   video_seek=False):
    batch_size = _check_positive_int("batch_size", batch_size)
    height, width = _check_image_size(image_size)
    prep = _check_preprocessing(preprocessing)
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            "`interpolation` must be 'bilinear' or 'nearest'. "
            f"Received: interpolation={interpolation!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(
            seed, (int, np.integer))):
        raise ValueError(f"`seed` must be None or an int. Received: seed={seed!r}")
    unknown = set(augmentation or {}) - set(AUGMENTATION)
    if unknown:
        raise ValueError(
            f"`augmentation` keys must be among {sorted(AUGMENTATION)}. "
            f"Received: augmentation={augmentation!r}")
    aug_kwargs = {**AUGMENTATION, **(augmentation or {})}
    if deterministic is None:
        deterministic = seed is not None or not shuffle
    if num_parallel_calls is None:
        num_parallel_calls = tf.data.AUTOTUNE

    def read_video(path, frame_ids):
        return read_video_frames(path, frame_ids, seek=video_seek)

    T, fs = index.nb_frames, index.frame_stride
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

    ds = _epoch_dataset(n, shuffle, shuffle or augment, seed)
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


def clip_dataset(root, nb_frames, frame_stride=1, sequence_stride=1,
                 batch_size=16, image_size=(224, 224), preprocessing="caffe",
                 augment=False, shuffle=False, source="frames", seed=None,
                 drop_remainder=False, classes=None, subset=None,
                 deterministic=None, interpolation="bilinear",
                 augmentation=None, num_parallel_calls=None, progress=True,
                 video_seek=False):
    """A `tf.data.Dataset` of sliding-window clips and one-hot labels.

    Replaces the original `SlidingFrameGenerator` train/validation factories
    (spec §6.3): clips of `nb_frames` frames (see `clip_frame_indices`, with
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
        nb_frames: int, frames per clip (T).
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

    Returns:
        `tf.data.Dataset` of `(float32 (B, T, H, W, 3), float32 (B, classes))`.

    Raises:
        FileNotFoundError: if `root` is not a prepared folder (the message
            says how to prepare one).
        ValueError: for invalid arguments.

    Example:
    >>> from deltasparse.data.synthetic_actions import ensure_synthetic_ucf
    >>> root = ensure_synthetic_ucf()  # doctest: +SKIP
    >>> ds = clip_dataset(root, 2, subset="train", batch_size=8,
    ...                   image_size=(64, 64), augment=True, shuffle=True)  # doctest: +SKIP
    >>> x, y = next(iter(ds))  # doctest: +SKIP
    >>> x.shape, y.shape  # doctest: +SKIP
    (TensorShape([8, 2, 64, 64, 3]), TensorShape([8, 8]))
    """
    index = index_clips(root, nb_frames, frame_stride, sequence_stride,
                        source=source, classes=classes, subset=subset,
                        progress=progress)
    return _build_dataset(index, batch_size, image_size, preprocessing,
                          augment, shuffle, seed, drop_remainder,
                          deterministic, interpolation, False, augmentation,
                          num_parallel_calls, video_seek)


def frame_dataset(root, batch_size=32, image_size=(224, 224),
                  preprocessing="caffe", augment=False, shuffle=False,
                  seed=None, drop_remainder=False, classes=None, subset=None,
                  frame_step=1, deterministic=None, interpolation="bilinear",
                  augmentation=None, num_parallel_calls=None, source="frames",
                  video_seek=False):
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

    Returns:
        `tf.data.Dataset` of `(float32 (B, H, W, 3), float32 (B, classes))`
        with `len`, `num_clips` (frames), `class_names`, `clip_index`.

    Example:
    >>> ds = frame_dataset("synthetic/split1/train_frames", batch_size=4,
    ...                    image_size=(64, 64))  # doctest: +SKIP
    >>> next(iter(ds))[0].shape  # doctest: +SKIP
    TensorShape([4, 64, 64, 3])
    """
    frame_step = _check_positive_int("frame_step", frame_step)
    index = index_clips(root, 1, 1, frame_step, source=source,
                        classes=classes, subset=subset)
    return _build_dataset(index, batch_size, image_size, preprocessing,
                          augment, shuffle, seed, drop_remainder,
                          deterministic, interpolation, True, augmentation,
                          num_parallel_calls, video_seek)


__all__ = [
    "AUGMENTATION",
    "CAFFE_MEAN_BGR",
    "ClipIndex",
    "affine_transform_matrix",
    "augment_clip",
    "clip_dataset",
    "clip_frame_indices",
    "count_video_frames",
    "frame_dataset",
    "index_clips",
    "num_clips",
    "preprocess",
    "random_affine_params",
    "read_video_frames",
    "resize_and_augment_clip",
]
