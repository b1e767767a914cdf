"""Scanned CIFAR-10 videos (spec `group_ksparse.md` §5.2).

Every 32x32x3 image becomes a video of `n * n` frames (`n = (32 - size) //
stride + 1`; 9 frames for the paper's `size=16`, `stride=8`): a
`size x size` window scans the image in a serpentine, column band by column
band: down the left band, up the next, down the next, ... Frame `f` lies in
column band `f // n` (columns `[stride * (f // n), ... + size)`); within the
band its row index is `f % n` for even bands and `n - 1 - f % n` for odd
bands. Deterministic; values / 255.

Data source, never downloaded: `path=` (the `cifar-10-batches-py` folder or
the `cifar-10-python.tar.gz` archive), else Keras' dataset cache
(`$KERAS_HOME/datasets` or `~/.keras/datasets`: `cifar-10-batches-py/`,
`cifar-10-batches-py-target/cifar-10-batches-py/`,
`cifar-10-batches-py.tar.gz` or `cifar-10-python.tar.gz`). The batches are
the Python pickles of the official archive; read only trusted files.
"""

import os
import pickle
import tarfile

import numpy as np

from deltasparse.data.datasets.video_arrays import VideoClassificationData
from deltasparse.data.datasets.video_arrays import as_random_state
from deltasparse.data.datasets.video_arrays import check_count
from deltasparse.data.datasets.video_arrays import check_dtype
from deltasparse.data.datasets.video_arrays import find_in_keras_cache
from deltasparse.data.datasets.video_arrays import keras_dataset_dirs
from deltasparse.data.datasets.video_arrays import one_hot
from deltasparse.data.datasets.video_arrays import prepare_videos

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_CACHE_NAMES = (
    CIFAR10_DIR,
    os.path.join("cifar-10-batches-py-target", CIFAR10_DIR),
    "cifar-10-batches-py.tar.gz",
    "cifar-10-python.tar.gz",
)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def _decode_batch(raw, where):
    try:
        batch = pickle.loads(raw, encoding="bytes")
        data = batch.get(b"data", batch.get("data"))
        labels = batch.get(b"labels", batch.get("labels"))
        images = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
    except Exception as err:  # noqa: BLE001 - any unpickling problem
        raise ValueError(
            "Expected a CIFAR-10 python batch (a pickled dict with 'data' "
            f"(N, 3072) uint8 and 'labels'); reading it failed with: {err}. "
            f"Received: path={where!r}"
        ) from err
    return (images.transpose(0, 2, 3, 1),
            np.asarray(labels, dtype=np.int64).reshape(-1))


class _BatchReader:
    """Reads CIFAR-10 batches from a folder or a .tar.gz archive."""

    def __init__(self, path):
        self.path = path
        self.tar = None
        if os.path.isdir(path):
            inner = os.path.join(path, CIFAR10_DIR)
            if not os.path.exists(os.path.join(path, TEST_BATCH)) \
                    and os.path.isdir(inner):
                self.path = inner
        else:
            try:
                self.tar = tarfile.open(path, "r:*")
            except (tarfile.TarError, OSError) as err:
                raise ValueError(
                    "`path` must be the cifar-10-batches-py folder or the "
                    f"cifar-10-python.tar.gz archive ({err}). "
                    f"Received: path={path!r}"
                ) from err
            self.members = {os.path.basename(m.name): m
                            for m in self.tar.getmembers() if m.isfile()}

    def read(self, name):
        if self.tar is not None:
            if name not in self.members:
                raise FileNotFoundError(
                    f"CIFAR-10 archive lacks the batch {name!r}; use the "
                    f"official {CIFAR10_URL}. Received: path={self.path!r}"
                )
            raw = self.tar.extractfile(self.members[name]).read()
            return _decode_batch(raw, f"{self.path}:{name}")
        fpath = os.path.join(self.path, name)
        if not os.path.isfile(fpath):
            raise FileNotFoundError(
                f"CIFAR-10 batch file missing: {fpath}. Extract the official "
                f"{CIFAR10_URL} there. Received: path={self.path!r}"
            )
        with open(fpath, "rb") as f:
            return _decode_batch(f.read(), fpath)

    def read_many(self, names, limit):
        xs, ys, count = [], [], 0
        for name in names:
            if limit is not None and count >= limit:
                break
            x, y = self.read(name)
            xs.append(x)
            ys.append(y)
            count += len(x)
        x, y = np.concatenate(xs), np.concatenate(ys)
        return (x, y) if limit is None else (x[:limit], y[:limit])

    def close(self):
        if self.tar is not None:
            self.tar.close()


def cifar10_source_path(path=None):
    """Resolves where CIFAR-10 is read from; never downloads.

    Args:
        path: a folder or archive, or `None` to search Keras' cache.

    Returns:
        The path to read.

    Raises:
        FileNotFoundError: if `path` is missing, or `None` and nothing is in
            the cache, with what to download and where to put it.

    Example:
    >>> cifar10_source_path("~/data/cifar-10-python.tar.gz")  # doctest: +SKIP
    """
    target = keras_dataset_dirs()[0]
    how = (f"Download {CIFAR10_URL} and put it into {target}/ (as "
           f"cifar-10-python.tar.gz or extracted to {target}/{CIFAR10_DIR}/)"
           ", or pass path=<that folder or archive>.")
    if path is not None:
        path = os.path.expanduser(path)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"CIFAR-10 not found at this path. {how} Received: "
                f"path={path!r}"
            )
        return path
    found = find_in_keras_cache(CIFAR10_CACHE_NAMES)
    if found is None:
        raise FileNotFoundError(
            "CIFAR-10 not found in the Keras dataset cache (looked for "
            f"{', '.join(CIFAR10_CACHE_NAMES)} in "
            f"{', '.join(keras_dataset_dirs())}). {how} Received: path=None"
        )
    return found


def load_cifar10(path=None, n_train=None, n_test=None):
    """CIFAR-10 images from a folder, an archive or Keras' cache.

    Args:
        path: the `cifar-10-batches-py` folder (or its parent) or the
            `.tar.gz` archive. Defaults to the Keras cache.
        n_train: read only the first `n_train` training images (only the
            batches needed are read). Defaults to all 50,000.
        n_test: read only the first `n_test` test images.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 `(N, 32, 32, 3)`
        channels-last images and int64 labels, as `cifar10.load_data()`.

    Raises:
        FileNotFoundError: if the data cannot be found.
        ValueError: if a file is not a CIFAR-10 batch.

    Example:
    >>> (x, y), (xt, yt) = load_cifar10(n_train=10, n_test=10)  # doctest: +SKIP
    """
    n_train = check_count(n_train, "n_train")
    n_test = check_count(n_test, "n_test")
    reader = _BatchReader(cifar10_source_path(path))
    try:
        train = reader.read_many(TRAIN_BATCHES, n_train)
        test = reader.read_many((TEST_BATCH,), n_test)
    finally:
        reader.close()
    for name, n, arr in (("n_train", n_train, train[0]),
                         ("n_test", n_test, test[0])):
        if n is not None and len(arr) < n:
            raise ValueError(
                f"`{name}` must be at most {len(arr)} (the number of images "
                f"in the data). Received: {name}={n}"
            )
    return train, test


def scan_offsets(image_size=32, size=16, stride=8):
    """(row, column) offsets of the serpentine scan windows, frame by frame.

    Args:
        image_size: image side. Defaults to `32`.
        size: window side. Defaults to `16`.
        stride: window step. Defaults to `8`.

    Returns:
        List of `n * n` `(row, col)` pairs, `n = (image_size - size) //
        stride + 1`.

    Raises:
        ValueError: if the window does not fit.

    Example:
    >>> scan_offsets()[:4]
    [(0, 0), (8, 0), (16, 0), (16, 8)]
    """
    size = check_count(size, "size", allow_none=False)
    stride = check_count(stride, "stride", allow_none=False)
    if size > image_size:
        raise ValueError(
            f"`size` must be at most the image side {image_size}. "
            f"Received: size={size}"
        )
    n = (image_size - size) // stride + 1
    offsets = []
    for f in range(n * n):
        band, r = divmod(f, n)
        row = r if band % 2 == 0 else n - 1 - r
        offsets.append((stride * row, stride * band))
    return offsets


def scanned_videos(images, size=16, stride=8, dtype="float32"):
    """Serpentine scan videos of square images, scaled to [0, 1].

    Args:
        images: uint8 `(N, S, S, C)` images.
        size: window side. Defaults to `16`.
        stride: window step. Defaults to `8`.
        dtype: output float dtype. Defaults to `"float32"`.

    Returns:
        `(N, n * n, size, size, C)` array, values / 255.

    Raises:
        ValueError: if `images` is not `(N, S, S, C)`.

    Example:
    >>> scanned_videos(np.zeros((2, 32, 32, 3), np.uint8)).shape
    (2, 9, 16, 16, 3)
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
        raise ValueError(
            "`images` must have shape (N, S, S, C) (square images). "
            f"Received: images.shape={images.shape}"
        )
    dtype = check_dtype(dtype)
    offsets = scan_offsets(images.shape[1], size, stride)
    out = np.empty((len(images), len(offsets), size, size, images.shape[3]),
                   dtype=dtype)
    for f, (row, col) in enumerate(offsets):
        out[:, f] = images[:, row:row + size, col:col + size] / 255.0
    return out


class CIFAR10ScannedDataset(VideoClassificationData):
    """Scanned CIFAR-10: 9-frame serpentine scans with 16x16x3 windows.

    Builds `X_train` `(50000, 9, 16, 16, 3)` and `X_test`
    `(10000, 9, 16, 16, 3)` with one-hot labels over 10 classes, as the
    original `CIFAR10ScannedDataset` (spec §5.2), then ZCA-whitens them
    (epsilon `1e-3`) with a `ZCAWhitening` fitted on all training frames and
    applied to both splits. `generate_labeled_data(num_labeled)` draws
    the labelled train / validation subsets from the training videos
    (45000 -> 5000 validation videos).

    Differences from the original: the data are read from local files (no
    download); frames are stored in `dtype` directly (the original used
    float64 arrays); the ZCA runs in float64 row chunks (same result).

    Args:
        stride: window step. Defaults to `8`.
        size: window side. Defaults to `16`.
        zca_epsilon: ZCA epsilon, or `None` for no whitening. Defaults to
            `1e-3`.
        imagenet_preprocessing: VGG19 input path (pad to 32x32, byte-scale,
            'caffe' preprocessing; `imagenet_preprocess_videos`). Applied
            before ZCA when both are set. Defaults to `False`.
        dtype: float dtype of videos and labels. Defaults to `"float32"`.
        n_train: keep the first `n_train` training images. Defaults to all.
        n_test: keep the first `n_test` test images. Defaults to all.
        path: CIFAR-10 folder or archive; overrides the Keras cache.
        rng: random state of the labelled subsets (`None`: numpy's global
            RNG, as the original).

    Attributes:
        X_train, Y_train, X_test, Y_test, y_train, y_test, num_classes
        (`10`), source (`'cifar10'`), zca.

    Raises:
        FileNotFoundError: if CIFAR-10 is not available locally.

    Example:
    >>> data = CIFAR10ScannedDataset(n_train=500, n_test=100)  # doctest: +SKIP
    >>> data.X_train.shape  # doctest: +SKIP
    (500, 9, 16, 16, 3)
    """

    def __init__(self, stride=8, size=16, zca_epsilon=1e-3,
                 imagenet_preprocessing=False, dtype="float32", n_train=None,
                 n_test=None, path=None, rng=None):
        self.dtype = check_dtype(dtype)
        self.stride = check_count(stride, "stride", allow_none=False)
        self.size = check_count(size, "size", allow_none=False)
        scan_offsets(32, self.size, self.stride)  # validates size
        self.rng = as_random_state(rng)
        self.num_classes = 10
        self.source = "cifar10"
        self.zca_epsilon = zca_epsilon
        self.imagenet_preprocessing = bool(imagenet_preprocessing)

        (x_train, y_train), (x_test, y_test) = load_cifar10(
            path, n_train, n_test)
        self.y_train, self.y_test = y_train, y_test
        videos = [scanned_videos(x, self.size, self.stride, self.dtype)
                  for x in (x_train, x_test)]
        (self.X_train, self.X_test), self.zca = prepare_videos(
            videos, self.imagenet_preprocessing, zca_epsilon, self.dtype)
        self.Y_train = one_hot(self.y_train, self.num_classes, self.dtype)
        self.Y_test = one_hot(self.y_test, self.num_classes, self.dtype)
