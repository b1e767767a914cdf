"""Rotated MNIST videos (spec `group_ksparse.md` §5.1).

Every 28x28 digit becomes a video of `clip_length` (36) frames, one full
turn (the original called it `rotations`): frame `t` is the digit rotated
counter-clockwise about its centre by `phase + t * 360 / clip_length` degrees (PIL, bilinear, 8-bit 'L' image, black fill), of which
only the top-left `size x size` (14x14) crop is kept. One random phase in
[0, 360) is drawn per digit, all training digits first, then all test
digits.

Data source, never downloaded: `path=` (an `mnist.npz`), else Keras'
dataset cache (`$KERAS_HOME/datasets/mnist.npz` or
`~/.keras/datasets/mnist.npz`). Without either, real handwritten digits
shipped inside scikit-learn (`sklearn.datasets.load_digits`, 1,797 8x8
images) are upscaled and placed MNIST-style instead, with a logged warning
and `source='sklearn_digits_fallback'`.
"""

import logging
import os

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from deltasparse.data.datasets.video_arrays import VideoClassificationData
from deltasparse.data.datasets.video_arrays import as_random_state
from deltasparse.data.datasets.video_arrays import check_count
from deltasparse.data.datasets.video_arrays import check_dtype
from deltasparse.data.datasets.video_arrays import find_in_keras_cache
from deltasparse.data.datasets.video_arrays import keras_dataset_dirs
from deltasparse.data.datasets.video_arrays import one_hot
from deltasparse.data.datasets.video_arrays import prepare_videos
from deltasparse.data.datasets.video_arrays import progress_disabled
from deltasparse.data.datasets.video_arrays import resize_uint8
from deltasparse.data.datasets.video_arrays import subset
from deltasparse.data.datasets.video_arrays import uniform

logger = logging.getLogger(__name__)

MNIST_URL = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
             "mnist.npz")
MNIST_FILE = "mnist.npz"
SOURCE_MNIST = "mnist"
SOURCE_FALLBACK = "sklearn_digits_fallback"


def _read_mnist_npz(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("x_train", "y_train", "x_test",
                                            "y_test")}
    except (KeyError, ValueError, OSError) as err:
        raise ValueError(
            "`path` must be an mnist.npz with arrays x_train, y_train, "
            f"x_test, y_test (as Keras downloads it from {MNIST_URL}). "
            f"Reading it failed with: {err}. Received: path={path!r}"
        ) from err
    return ((arrays["x_train"], arrays["y_train"].reshape(-1)),
            (arrays["x_test"], arrays["y_test"].reshape(-1)))


def load_sklearn_digits_as_mnist(box=20, canvas=28, n_test=300):
    """scikit-learn's 8x8 handwritten digits, placed MNIST-style.

    Each of the 1,797 `load_digits` images (values 0..16) is scaled to
    0..255 uint8, upscaled to `box x box` with PIL's bilinear filter and
    centred on a black `canvas x canvas` image, like MNIST's 20x20 digits in
    28x28 frames. The last `n_test` images form the test set.

    Args:
        box: side of the digit box. Defaults to `20`.
        canvas: image side. Defaults to `28`.
        n_test: number of test images (taken from the end). Defaults to
            `300`, leaving 1,497 training images.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 images
        `(N, canvas, canvas)` and int64 labels, like `mnist.load_data()`.

    Example:
    >>> (x, y), _ = load_sklearn_digits_as_mnist()
    >>> x.shape, x.dtype
    ((1497, 28, 28), dtype('uint8'))
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    offset = (canvas - box) // 2
    images = np.zeros((len(small), canvas, canvas), dtype=np.uint8)
    for i, img in enumerate(small):
        images[i, offset:offset + box, offset:offset + box] = resize_uint8(
            img, (box, box))
    labels = digits.target.astype(np.int64)
    split = len(images) - n_test
    return (images[:split], labels[:split]), (images[split:], labels[split:])


def load_mnist(path=None, fallback=True):
    """MNIST digits from a file or Keras' cache; never downloads.

    Args:
        path: an `mnist.npz` (Keras format). Defaults to `None`: look in
            `$KERAS_HOME/datasets` or `~/.keras/datasets`.
        fallback: when no file is found, use scikit-learn's digits
            (`load_sklearn_digits_as_mnist`) with a logged warning instead
            of raising. Defaults to `True`. Not used when `path` is given.

    Returns:
        `((x_train, y_train), (x_test, y_test), source)` with uint8 images
        `(N, 28, 28)`, int labels, and `source` = `'mnist'` or
        `'sklearn_digits_fallback'`.

    Raises:
        FileNotFoundError: if `path` is given but missing, or nothing is
            found and `fallback` is False.
        ValueError: if the file is not a Keras `mnist.npz`.

    Example:
    >>> (x, y), (xt, yt), source = load_mnist()  # doctest: +SKIP
    """
    if path is not None:
        path = os.path.expanduser(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"MNIST file not found. Download {MNIST_URL} and pass its "
                "path, or put it into "
                f"{os.path.join(keras_dataset_dirs()[0], MNIST_FILE)} and "
                f"leave `path` unset. Received: path={path!r}"
            )
        train, test = _read_mnist_npz(path)
        return train, test, SOURCE_MNIST
    cached = find_in_keras_cache([MNIST_FILE])
    if cached is not None:
        train, test = _read_mnist_npz(cached)
        return train, test, SOURCE_MNIST
    target = os.path.join(keras_dataset_dirs()[0], MNIST_FILE)
    if not fallback:
        raise FileNotFoundError(
            f"MNIST not found in the Keras dataset cache "
            f"({', '.join(keras_dataset_dirs())}). Download {MNIST_URL} to "
            f"{target}, or pass path=<mnist.npz>. Received: path=None"
        )
    logger.warning(
        "MNIST not found (looked for %s). Falling back to scikit-learn's "
        "8x8 handwritten digits upscaled to 28x28 "
        "(source='sklearn_digits_fallback'); results are NOT comparable "
        "with the paper. Download %s to %s for the real data.",
        target, MNIST_URL, target)
    train, test = load_sklearn_digits_as_mnist()
    return train, test, SOURCE_FALLBACK


def rotated_frames(image, phase, clip_length=36, size=14):
    """One digit as a rotation video (uint8 frames).

    Frame `t` = PIL `rotate(phase + t * 360 / clip_length, BILINEAR)` of the
    8-bit image (counter-clockwise about the centre, same canvas, black
    fill), cropped to its top-left `size x size`.

    Args:
        image: uint8 `(H, W)` image.
        phase: rotation of frame 0, in degrees.
        clip_length: frames per full turn (the clip length T). Defaults
            to `36`.
        size: side of the top-left crop. Defaults to `14`.

    Returns:
        uint8 array `(clip_length, size, size)`.

    Example:
    >>> img = np.zeros((28, 28), np.uint8)
    >>> rotated_frames(img, 12.5).shape
    (36, 14, 14)
    """
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    out = np.empty((clip_length, size, size), dtype=np.uint8)
    for t in range(clip_length):
        angle = phase + t * 360 / clip_length
        out[t] = np.asarray(pil.rotate(angle, resample=Image.BILINEAR))[
            :size, :size]
    return out


def rotated_videos(images, phases, clip_length=36, size=14, dtype="float32",
                   progress=None):
    """Rotation videos of many digits, scaled to [0, 1].

    Args:
        images: uint8 `(N, H, W)` digits.
        phases: `(N,)` phases in degrees.
        clip_length: frames per video. Defaults to `36`.
        size: top-left crop side. Defaults to `14`.
        dtype: output float dtype. Defaults to `"float32"`.
        progress: tqdm progress bar: `True`, `False` or `None` (auto: only
            on a terminal).

    Returns:
        `(N, clip_length, size, size, 1)` array of `dtype`, values / 255.

    Raises:
        ValueError: if `images` is not uint8 `(N, H, W)` with `H, W >= size`,
            or `phases` has the wrong length.

    Example:
    >>> rotated_videos(np.zeros((2, 28, 28), np.uint8), [0., 90.]).shape
    (2, 36, 14, 14, 1)
    """
    images = np.asarray(images)
    phases = np.asarray(phases, dtype=np.float64).reshape(-1)
    clip_length = check_count(clip_length, "clip_length", allow_none=False)
    size = check_count(size, "size", allow_none=False)
    if (images.dtype != np.uint8 or images.ndim != 3
            or min(images.shape[1:]) < size):
        raise ValueError(
            f"`images` must be a uint8 array (N, H, W) with H, W >= size="
            f"{size}. Received: images.dtype={images.dtype}, "
            f"images.shape={images.shape}"
        )
    if phases.size != len(images):
        raise ValueError(
            f"`phases` must hold one phase per image ({len(images)}). "
            f"Received: phases.shape={phases.shape}"
        )
    dtype = check_dtype(dtype)
    out = np.empty((len(images), clip_length, size, size, 1), dtype=dtype)
    for i in tqdm(range(len(images)), desc="Rotated MNIST",
                  disable=progress_disabled(progress)):
        frames = rotated_frames(images[i], phases[i], clip_length, size)
        out[i, ..., 0] = frames / 255.0
    return out


class MNISTRotatedDataset(VideoClassificationData):
    """Rotated MNIST: 36-frame rotation videos of the top-left digit quarter.

    Builds `X_train` `(60000, 36, 14, 14, 1)` and `X_test`
    `(10000, 36, 14, 14, 1)` (values / 255) with one-hot `Y_train`, `Y_test`
    over 10 classes, as the original `MNISTRotatedDataset` (spec §5.1). The
    phases (`360 * rand()` degrees per digit, train digits first) come from
    `rng`, by default numpy's global RNG that Sacred seeds, as in the
    original. Phases are drawn for the whole source before `n_train` /
    `n_test` take the first digits, so a subset has exactly the frames of
    the full dataset. `generate_labeled_data(num_labeled)` draws the
    labelled train / validation subsets.

    Differences from the original: the data are read from a local
    `mnist.npz` (no download), with a scikit-learn digits fallback (see the
    module docstring; check `source`); the frames are stored directly in
    `dtype` (the original filled float64 arrays); the no-op 28x28 resize
    after the rotation is skipped.

    Args:
        clip_length: frames per video, one full turn (the original's
            `rotations`). Defaults to `36`.
        size: side of the top-left crop. Defaults to `14`.
        zca_epsilon: ZCA whitening epsilon (fit on the training frames,
            applied to both splits), or `None` (the MNIST default) for none.
        imagenet_preprocessing: VGG19 input path (zero-pad to 32x32, gray ->
            RGB, byte-scale, 'caffe' preprocessing; see
            `imagenet_preprocess_videos`). Applied before ZCA when both are
            set. Defaults to `False`.
        dtype: float dtype of the videos and labels. Defaults to
            `"float32"`.
        n_train: keep only the first `n_train` training digits. Defaults to
            all.
        n_test: keep only the first `n_test` test digits. Defaults to all.
        path: an `mnist.npz`; overrides the Keras cache.
        fallback: use scikit-learn's digits when no MNIST file is found.
            Defaults to `True`.
        rng: `None` (numpy's global RNG), an int seed, a `RandomState` or a
            `Generator`; used for the phases and the labelled subsets.
        progress: tqdm progress bar (`None`: only on a terminal).

    Attributes:
        X_train, Y_train, X_test, Y_test: videos and one-hot labels.
        y_train, y_test: int labels.
        phases_train, phases_test: phases in degrees.
        num_classes: `10`.
        source: `'mnist'` or `'sklearn_digits_fallback'`.
        zca: the fitted `ZCAWhitening`, or `None`.

    Example:
    >>> data = MNISTRotatedDataset(n_train=500, n_test=20, rng=123)
    >>> data.X_train.shape
    (500, 36, 14, 14, 1)
    >>> (xl, yl), (xv, yv), (xt, yt) = data.generate_labeled_data(300)
    >>> xv.shape[0]
    33
    """

    def __init__(self, clip_length=36, size=14, zca_epsilon=None,
                 imagenet_preprocessing=False, dtype="float32", n_train=None,
                 n_test=None, path=None, fallback=True, rng=None,
                 progress=None):
        self.dtype = check_dtype(dtype)
        self.clip_length = check_count(clip_length, "clip_length",
                                       allow_none=False)
        self.size = check_count(size, "size", allow_none=False)
        if self.size > 28:
            raise ValueError(
                f"`size` must be at most 28 (the digit side). Received: "
                f"size={size}"
            )
        check_count(n_train, "n_train")
        check_count(n_test, "n_test")
        self.rng = as_random_state(rng)
        self.num_classes = 10
        self.zca_epsilon = zca_epsilon
        self.imagenet_preprocessing = bool(imagenet_preprocessing)

        (x_train, y_train), (x_test, y_test), self.source = load_mnist(
            path, fallback=fallback)
        phases_train = 360.0 * uniform(self.rng, len(x_train))
        phases_test = 360.0 * uniform(self.rng, len(x_test))
        x_train, y_train, phases_train = subset(
            (x_train, y_train, phases_train), n_train, "n_train")
        x_test, y_test, phases_test = subset(
            (x_test, y_test, phases_test), n_test, "n_test")
        self.phases_train, self.phases_test = phases_train, phases_test
        self.y_train = np.asarray(y_train, dtype=np.int64)
        self.y_test = np.asarray(y_test, dtype=np.int64)

        videos = [rotated_videos(x, p, self.clip_length, self.size,
                                 self.dtype, progress)
                  for x, p in ((x_train, phases_train),
                               (x_test, phases_test))]
        (self.X_train, self.X_test), self.zca = prepare_videos(
            videos, self.imagenet_preprocessing, zca_epsilon, self.dtype)
        self.Y_train = one_hot(self.y_train, self.num_classes, self.dtype)
        self.Y_test = one_hot(self.y_test, self.num_classes, self.dtype)
