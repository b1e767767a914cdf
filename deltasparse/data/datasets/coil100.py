"""COIL-100 turntable videos and their frame-index splits (spec §5.3).

COIL-100 (Columbia Object Image Library) photographs each of 100 objects on
a turntable every 5 degrees: files `obj{i}__{angle}.png`, `i = 1..100`,
`angle = 0, 5, ..., 355`, 128x128 RGB. Each object is one 72-frame video and
one class. Frames are resized to 32x32 (PIL bilinear) and divided by 255;
ZCA whitening (epsilon `1e-3`) is fitted on *all* frames (transductive, as
in the original).

The data are never downloaded: get `coil-100.zip` from
https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php and unzip it
so that `<path>/obj1__0.png` exists (the default `path` is
`datasets/coil-100`, relative to the working directory, as the original
experiment).
"""

import os

import numpy as np
from tqdm.auto import tqdm

from deltasparse.data.datasets.video_arrays import check_count
from deltasparse.data.datasets.video_arrays import check_dtype
from deltasparse.data.datasets.video_arrays import one_hot
from deltasparse.data.datasets.video_arrays import prepare_videos
from deltasparse.data.datasets.video_arrays import progress_disabled
from deltasparse.data.datasets.video_arrays import read_rgb_frame

COIL100_URL = "https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php"
NUM_OBJECTS = 100
NUM_FRAMES = 72
ANGLE_STEP = 5
#: Frames [0, SPLIT_PERIOD) hold the train / validation frames; the frames
#: after them are always test frames (spec §5.3).
SPLIT_PERIOD = 64


def coil100_frame_path(path, obj, frame):
    """File of object `obj` (1-based) at frame `frame` (angle `5 * frame`)."""
    return os.path.join(path, f"obj{obj}__{ANGLE_STEP * frame}.png")


def coil100_frame_splits(num_labeled, num_frames=NUM_FRAMES,
                         period=SPLIT_PERIOD):
    """Train / validation / test frame indices for `num_labeled` frames.

    Spec §5.3, with step `s = period // num_labeled`:

    - train: `0, s, 2s, ... < period`;
    - validation: `s//2, s//2 + s, ... < period`, minus the train frames,
      in the iteration order of the Python set the original built
      (`list(set(range(s // 2, period, s)) - set(train))`); that order is
      **not** sorted for 8 (`[4, 36, 12, 44, 28, 20, 52, 60]`) and 16;
    - test: every other frame of `0 .. num_frames - 1`, ascending.

    The validation order is recomputed the original's way (CPython's set
    order for small ints, identical in 3.7 and 3.11) so that recurrent
    models see the frames in the same order.

    Args:
        num_labeled: labelled frames per object, a divisor of `period` that
            is at most `period // 2`: 1, 2, 4, 8, 16 or 32 (the paper uses
            2, 4, 8, 16, 32).
        num_frames: frames per video. Defaults to `72`.
        period: frames the train / val indices are spread over. Defaults
            to `64`.

    Returns:
        `(train_idx, val_idx, test_idx)`, lists of ints.

    Raises:
        ValueError: if `num_labeled` is not such a divisor.

    Example:
    >>> tr, va, te = coil100_frame_splits(8)
    >>> tr, va, len(te)
    ([0, 8, 16, 24, 32, 40, 48, 56], [4, 36, 12, 44, 28, 20, 52, 60], 56)
    """
    valid = [n for n in range(1, period // 2 + 1) if period % n == 0]
    if num_labeled not in valid or isinstance(num_labeled, bool):
        raise ValueError(
            f"`num_labeled` must be the number of labelled frames per object, "
            f"one of {valid}. Received: num_labeled={num_labeled!r}"
        )
    step = period // int(num_labeled)
    train_idx = list(range(0, period, step))
    val_idx = list(set(range(step // 2, period, step)) - set(train_idx))
    used = set(train_idx) | set(val_idx)
    test_idx = [i for i in range(num_frames) if i not in used]
    return train_idx, val_idx, test_idx


def _missing_coil_error(path, first_missing, count):
    if not os.path.isdir(path):
        what = "the folder does not exist"
    else:
        what = f"{count} frame file(s) missing, e.g. {first_missing}"
    return FileNotFoundError(
        f"COIL-100 not found: {what}. Download coil-100.zip from "
        f"{COIL100_URL} and unzip "
        "it so that <path>/obj1__0.png ... <path>/obj100__355.png exist "
        f"(e.g. into datasets/coil-100). Received: path={path!r}"
    )


def load_coil100_videos(path, n_objects=None, size=32, dtype="float32",
                        progress=None):
    """Reads the COIL-100 turntable videos, resized and scaled to [0, 1].

    Args:
        path: folder holding `obj{i}__{angle}.png`.
        n_objects: read only objects `1..n_objects`. Defaults to all 100.
        size: frame side after the PIL bilinear resize. Defaults to `32`.
        dtype: float dtype. Defaults to `"float32"`.
        progress: tqdm progress bar (`None`: only on a terminal).

    Returns:
        `(n_objects, 72, size, size, 3)` array, values / 255.

    Raises:
        FileNotFoundError: if the folder or any needed frame is missing.

    Example:
    >>> x = load_coil100_videos("datasets/coil-100")  # doctest: +SKIP
    """
    path = os.path.expanduser(path)
    n_objects = check_count(n_objects, "n_objects") or NUM_OBJECTS
    if n_objects > NUM_OBJECTS:
        raise ValueError(
            f"`n_objects` must be at most {NUM_OBJECTS}. Received: "
            f"n_objects={n_objects}"
        )
    size = check_count(size, "size", allow_none=False)
    dtype = check_dtype(dtype)
    files = [[coil100_frame_path(path, i + 1, t) for t in range(NUM_FRAMES)]
             for i in range(n_objects)]
    missing = [f for row in files for f in row if not os.path.isfile(f)]
    if missing:
        raise _missing_coil_error(path, missing[0], len(missing))
    out = np.empty((n_objects, NUM_FRAMES, size, size, 3), dtype=dtype)
    for i in tqdm(range(n_objects), desc="COIL-100",
                  disable=progress_disabled(progress)):
        for t, fpath in enumerate(files[i]):
            out[i, t] = read_rgb_frame(fpath, size) / 255.0
    return out


class COIL100Dataset:
    """COIL-100: one 72-frame turntable video per object, 100 classes.

    Builds `X` `(100, 72, 32, 32, 3)` and `Y` (the 100x100 identity) as the
    original `COIL100Dataset` (spec §5.3) and ZCA-whitens all frames
    (transductive). `generate_labeled_data(num_labeled)` splits every video
    by frame index (see `coil100_frame_splits`): each split holds one video
    per class made of a subset of that object's frames.

    Differences from the original: frames are converted to RGB on reading
    (the COIL PNGs already are); `generate_labeled_data(None)`, which
    crashed in the original, raises a `ValueError`.

    Args:
        path: folder with the `obj{i}__{angle}.png` files. Defaults to
            `"datasets/coil-100"`.
        size: frame side. Defaults to `32`.
        zca_epsilon: ZCA epsilon (fit on all frames), or `None`. Defaults
            to `1e-3`.
        imagenet_preprocessing: VGG19 input path (byte-scale + 'caffe'
            preprocessing, `imagenet_preprocess_videos`), applied before ZCA
            when both are set. Defaults to `False`.
        dtype: float dtype of videos and labels. Defaults to `"float32"`.
        n_objects: use objects `1..n_objects` only (`num_classes` becomes
            `n_objects`). Defaults to all 100.
        progress: tqdm progress bar (`None`: only on a terminal).

    Attributes:
        X, Y: videos and one-hot labels; `y` int labels (`y[i] = i`).
        num_classes, source (`'coil100'`), zca.
        After `generate_labeled_data`: `X_train_labeled`, `Y_train_labeled`,
        `X_val_labeled`, `Y_val_labeled`, `X_test`, `Y_test` and the frame
        lists `train_idx`, `val_idx`, `test_idx`.

    Raises:
        FileNotFoundError: if the COIL-100 frames are missing.

    Example:
    >>> data = COIL100Dataset("datasets/coil-100")  # doctest: +SKIP
    >>> (xl, yl), _, (xt, yt) = data.generate_labeled_data(8)  # doctest: +SKIP
    >>> xl.shape, xt.shape  # doctest: +SKIP
    ((100, 8, 32, 32, 3), (100, 56, 32, 32, 3))
    """

    def __init__(self, path="datasets/coil-100", size=32, zca_epsilon=1e-3,
                 imagenet_preprocessing=False, dtype="float32",
                 n_objects=None, progress=None):
        self.path = path
        self.size = check_count(size, "size", allow_none=False)
        self.dtype = check_dtype(dtype)
        self.zca_epsilon = zca_epsilon
        self.imagenet_preprocessing = bool(imagenet_preprocessing)
        self.source = "coil100"
        x = load_coil100_videos(path, n_objects, self.size, self.dtype,
                                progress)
        (x,), self.zca = prepare_videos(
            [x], self.imagenet_preprocessing, zca_epsilon, self.dtype)
        self.X = x
        self.num_classes = len(x)
        self.y = np.arange(self.num_classes, dtype=np.int64)
        self.Y = one_hot(self.y, self.num_classes, self.dtype)

    def generate_labeled_data(self, num_labeled):
        """Splits every video into labelled train / val / test frames.

        Args:
            num_labeled: labelled frames per object (2, 4, 8, 16 or 32 in
                the paper; see `coil100_frame_splits`).

        Returns:
            `((X_train_labeled, Y_train_labeled), (X_val_labeled,
            Y_val_labeled), (X_test, Y_test))`: videos `X[:, idx]` and the
            identity labels; also stored as attributes.

        Raises:
            ValueError: for an unsupported `num_labeled`.

        Example:
        >>> data.generate_labeled_data(32)[2][0].shape[1]  # doctest: +SKIP
        8
        """
        train_idx, val_idx, test_idx = coil100_frame_splits(num_labeled)
        self.train_idx, self.val_idx, self.test_idx = (
            train_idx, val_idx, test_idx)
        self.X_train_labeled = self.X[:, train_idx]
        self.X_val_labeled = self.X[:, val_idx]
        self.X_test = self.X[:, test_idx]
        self.Y_train_labeled = self.Y.copy()
        self.Y_val_labeled = self.Y.copy()
        self.Y_test = self.Y.copy()
        return ((self.X_train_labeled, self.Y_train_labeled),
                (self.X_val_labeled, self.Y_val_labeled),
                (self.X_test, self.Y_test))

    @property
    def info(self):
        """Dict describing the data (for Sacred's `_run.info`)."""
        return {"source": self.source, "path": str(self.path),
                "num_classes": self.num_classes,
                "shape": list(self.X.shape), "dtype": str(self.dtype)}
