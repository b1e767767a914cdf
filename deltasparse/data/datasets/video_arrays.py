"""Shared pieces of the in-memory video datasets of the group k-sparse paper.

The four dataset modules (`mnist_rotated`, `cifar10_scanned`, `coil100`,
`nec_animal`) build `(N, T, H, W, C)` float arrays and share the helpers
collected here (spec `group_ksparse.md` §5):

- argument checks (`check_dtype`, `check_count`) and random-state handling
  (`as_random_state`: `None` means numpy's global RNG, which Sacred seeds, as
  in the original);
- `one_hot` labels;
- the Keras dataset cache lookup (`keras_dataset_dirs`, `find_in_keras_cache`)
  used to read MNIST / CIFAR-10 without ever touching the network;
- the random labelled subsets of Rotated MNIST and Scanned CIFAR-10
  (`validation_end`, `labeled_split_indices`) and the base class
  `VideoClassificationData` that exposes them as `generate_labeled_data`;
- the image helpers of the original's vendored `scipy.misc` code:
  `bytescale`, `imresize`, and the VGG19 input path
  `imagenet_preprocess_videos` (byte-scaling + 'caffe' preprocessing).
"""

import numbers
import os

import numpy as np
from PIL import Image


#: Rounding offset of the vendored `bytescale` (spec §5.5: "+0.4999").
BYTESCALE_OFFSET = 0.4999

#: Per-channel means subtracted by Keras' 'caffe' `preprocess_input`, in
#: BGR order.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

#: Factor of the validation split: val = positions
#: `[num_labeled, round(VAL_FACTOR * num_labeled))` (spec §5.1).
VAL_FACTOR = 1.1111


# --------------------------------------------------------------------------
# Argument checks.
# --------------------------------------------------------------------------


def is_int(value):
    """True for Python / NumPy integers (bools excluded)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_dtype(dtype, name="dtype"):
    """Returns `np.dtype(dtype)` after checking that it is a float type.

    Args:
        dtype: anything `np.dtype` accepts, e.g. `"float32"`.
        name: argument name used in the error message.

    Returns:
        A floating `np.dtype`.

    Raises:
        ValueError: if `dtype` is not a floating-point type.

    Example:
    >>> check_dtype("float32")
    dtype('float32')
    """
    try:
        out = np.dtype(dtype)
    except TypeError:
        out = None
    if out is None or not np.issubdtype(out, np.floating):
        raise ValueError(
            f"`{name}` must be a floating-point dtype such as 'float32' or "
            f"'float64'. Received: {name}={dtype!r}"
        )
    return out


def check_count(value, name, minimum=1, allow_none=True):
    """Checks an optional integer count (`n_train`, `size`, ...).

    Args:
        value: the value to check.
        name: argument name used in the error message.
        minimum: smallest allowed value. Defaults to `1`.
        allow_none: whether `None` is accepted. Defaults to `True`.

    Returns:
        `value` as a Python int, or `None`.

    Raises:
        ValueError: if `value` is not an int `>= minimum` (or `None` when
            allowed).

    Example:
    >>> check_count(3, "n_train")
    3
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or value < minimum:
        what = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(
            f"`{name}` must be {what}. Received: {name}={value!r}"
        )
    return int(value)


def as_random_state(rng):
    """Normalises a random-state argument.

    The original drew every random number from numpy's *global* RNG (seeded
    by Sacred). `None` keeps that behaviour; pass a `np.random.RandomState`
    (e.g. Sacred's `_rnd`), a `np.random.Generator` or an int seed for an
    explicit stream.

    Args:
        rng: `None`, an int seed, a `np.random.RandomState` or a
            `np.random.Generator`.

    Returns:
        The `np.random` module (for `None`), a `RandomState` or a
        `Generator`.

    Raises:
        ValueError: for any other value.

    Example:
    >>> as_random_state(0).rand() == np.random.RandomState(0).rand()
    True
    """
    if rng is None or rng is np.random:
        return np.random
    if is_int(rng):
        return np.random.RandomState(int(rng))
    if isinstance(rng, (np.random.RandomState, np.random.Generator)):
        return rng
    raise ValueError(
        "`rng` must be None (numpy's global RNG), an int seed, a "
        "np.random.RandomState or a np.random.Generator. "
        f"Received: rng={rng!r}"
    )


def uniform(rng, n):
    """`n` draws from U[0, 1) with `rng` (`rand` or `random` method)."""
    if isinstance(rng, np.random.Generator):
        return rng.random(n)
    return rng.rand(n)


def one_hot(labels, num_classes, dtype="float32"):
    """One-hot encodes integer labels.

    Args:
        labels: int array-like of shape `(N,)` (or `(N, 1)`), values in
            `[0, num_classes)`.
        num_classes: number of classes.
        dtype: output dtype. Defaults to `"float32"`.

    Returns:
        Array of shape `(N, num_classes)`.

    Raises:
        ValueError: if a label lies outside `[0, num_classes)`.

    Example:
    >>> one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`labels` must lie in [0, {num_classes}). Received: labels with "
            f"min={labels.min()} and max={labels.max()}"
        )
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


# --------------------------------------------------------------------------
# Keras dataset cache (read-only, never downloads).
# --------------------------------------------------------------------------


def keras_dataset_dirs():
    """Folders where Keras keeps downloaded datasets, most specific first.

    `$KERAS_HOME/datasets` when `KERAS_HOME` is set (Keras then uses nothing
    else); otherwise `~/.keras/datasets` and Keras' fallback
    `/tmp/.keras/datasets`.

    Returns:
        A list of folder paths (they need not exist).

    Example:
    >>> keras_dataset_dirs()[0].endswith("datasets")
    True
    """
    home = os.environ.get("KERAS_HOME")
    if home:
        return [os.path.join(os.path.expanduser(home), "datasets")]
    return [
        os.path.join(os.path.expanduser("~"), ".keras", "datasets"),
        os.path.join("/tmp", ".keras", "datasets"),
    ]


def find_in_keras_cache(names):
    """First existing `<cache dir>/<name>` over `keras_dataset_dirs()`.

    Args:
        names: relative paths to try, in order of preference, in each
            folder.

    Returns:
        The path, or `None` when nothing exists.

    Example:
    >>> find_in_keras_cache(["no-such-dataset.npz"]) is None
    True
    """
    for folder in keras_dataset_dirs():
        for name in names:
            candidate = os.path.join(folder, name)
            if os.path.exists(candidate):
                return candidate
    return None


def subset(arrays, n, name):
    """Keeps the first `n` rows of each array (all of them when `n` is None).

    Raises:
        ValueError: if `n` exceeds the number of rows.
    """
    n = check_count(n, name)
    if n is None:
        return arrays
    total = len(arrays[0])
    if n > total:
        raise ValueError(
            f"`{name}` must be at most {total} (the number available). "
            f"Received: {name}={n}"
        )
    return tuple(a[:n] for a in arrays)


# --------------------------------------------------------------------------
# Labelled subsets (Rotated MNIST, Scanned CIFAR-10).
# --------------------------------------------------------------------------


def validation_end(num_labeled):
    """End position of the validation split, `round(1.1111 * num_labeled)`.

    Python's `round` (half to even), as in the original: 300 -> 333,
    54000 -> 59999, 45000 -> 50000.

    Args:
        num_labeled: number of labelled training videos.

    Returns:
        int; the validation split holds `validation_end(n) - n` videos.

    Example:
    >>> validation_end(300) - 300
    33
    """
    return int(round(VAL_FACTOR * num_labeled))


def labeled_split_indices(labels, num_labeled, num_classes, rng=None,
                          max_tries=10000):
    """Random labelled train / validation subset, every class in both.

    Spec §5.1: draw a random permutation of all training videos; train =
    its first `num_labeled` entries, validation = positions
    `[num_labeled, round(1.1111 * num_labeled))`. Repeat (with a new
    permutation) until every class occurs in both splits.

    Args:
        labels: int array of shape `(N,)`, the class of every training video.
        num_labeled: total number of labelled videos (not per class).
        num_classes: number of classes that must occur in both splits.
        rng: random state (see `as_random_state`). Defaults to numpy's
            global RNG, like the original.
        max_tries: permutations to draw before giving up. The original
            looped forever; this guard only fires for pathological inputs.

    Returns:
        `(train_idx, val_idx)`: int arrays into `labels`.

    Raises:
        ValueError: if `num_labeled` is not an int, if either split would
            hold fewer than `num_classes` videos, or if the validation split
            would run past the end of the data.
        RuntimeError: if no valid split was found in `max_tries` draws.

    Example:
    >>> y = np.arange(1000) % 10
    >>> tr, va = labeled_split_indices(y, 300, 10, rng=0)
    >>> len(tr), len(va)
    (300, 33)
    """
    rng = as_random_state(rng)
    labels = np.asarray(labels).reshape(-1)
    n_total = labels.size
    num_labeled = check_count(num_labeled, "num_labeled", allow_none=False)
    end = validation_end(num_labeled)
    if end > n_total:
        raise ValueError(
            "`num_labeled` is too large: the validation split ends at "
            f"round(1.1111 * num_labeled) = {end}, but only {n_total} "
            f"training videos are available. Received: num_labeled="
            f"{num_labeled}"
        )
    if num_labeled < num_classes or end - num_labeled < num_classes:
        raise ValueError(
            f"`num_labeled` must be large enough for all {num_classes} "
            "classes to occur in the training split and in the validation "
            f"split of round(1.1111 * num_labeled) - num_labeled = "
            f"{end - num_labeled} videos. Received: num_labeled={num_labeled}"
        )
    classes = np.arange(num_classes)
    for _ in range(max_tries):
        perm = rng.permutation(n_total)
        train_idx, val_idx = perm[:num_labeled], perm[num_labeled:end]
        if (np.isin(classes, labels[train_idx]).all()
                and np.isin(classes, labels[val_idx]).all()):
            return train_idx, val_idx
    raise RuntimeError(
        f"No labelled split with every class in both splits after "
        f"{max_tries} random permutations (num_labeled={num_labeled})."
    )


class VideoClassificationData:
    """Base class of the train / test video datasets (MNIST, CIFAR-10).

    Subclasses fill `X_train`, `Y_train`, `X_test`, `Y_test` (videos of shape
    `(N, T, H, W, C)` and one-hot labels), `y_train` / `y_test` (int
    labels), `num_classes`, `dtype`, `source` and `rng`.

    `generate_labeled_data` then draws the random labelled subsets of the
    original (spec §5.1, §5.2) and stores them as `X_train_labeled`,
    `Y_train_labeled`, `X_val_labeled`, `Y_val_labeled` (plus the index
    arrays `train_labeled_idx`, `val_labeled_idx`).
    """

    X_train = Y_train = X_test = Y_test = None
    y_train = y_test = None
    num_classes = None
    source = None
    zca = None
    dtype = np.dtype("float32")
    rng = None

    def generate_labeled_data(self, num_labeled=None):
        """Draws a labelled training subset and a validation subset.

        A random permutation of the training videos is drawn (from `rng`,
        i.e. numpy's global RNG unless the dataset was given one); its
        first `num_labeled` videos form the labelled training set and the
        next `round(1.1111 * num_labeled) - num_labeled` the validation set
        (300 -> 33, 600 -> 67, 1000 -> 111, 2000 -> 222, 5000 -> 556,
        10000 -> 1111, 45000 -> 5000, 54000 -> 5999). This repeats until
        every class occurs in both. The test set is always the full
        `X_test`.

        Args:
            num_labeled: total number of labelled videos (not per class).
                Defaults to `round(0.9 * len(X_train))`, as the original.

        Returns:
            `((X_train_labeled, Y_train_labeled), (X_val_labeled,
            Y_val_labeled), (X_test, Y_test))`; the same arrays are stored
            as attributes.

        Raises:
            ValueError: if `num_labeled` does not fit the training set (see
                `labeled_split_indices`).

        Example:
        >>> data.generate_labeled_data(300)[1][0].shape[0]  # doctest: +SKIP
        33
        """
        if num_labeled is None:
            num_labeled = int(round(0.9 * len(self.X_train)))
        train_idx, val_idx = labeled_split_indices(
            self.y_train, num_labeled, self.num_classes, rng=self.rng)
        self.train_labeled_idx, self.val_labeled_idx = train_idx, val_idx
        self.X_train_labeled = self.X_train[train_idx]
        self.Y_train_labeled = self.Y_train[train_idx]
        self.X_val_labeled = self.X_train[val_idx]
        self.Y_val_labeled = self.Y_train[val_idx]
        return ((self.X_train_labeled, self.Y_train_labeled),
                (self.X_val_labeled, self.Y_val_labeled),
                (self.X_test, self.Y_test))

    @property
    def info(self):
        """Dict describing the data (for Sacred's `_run.info`)."""
        return {
            "source": self.source,
            "num_classes": self.num_classes,
            "train_shape": list(np.shape(self.X_train)),
            "test_shape": list(np.shape(self.X_test)),
            "dtype": str(self.dtype),
        }


# --------------------------------------------------------------------------
# Image helpers of the original's vendored scipy.misc code.
# --------------------------------------------------------------------------


def bytescale(images, axes=None, offset=BYTESCALE_OFFSET):
    """Maps each image's min..max linearly onto 0..255 and casts to uint8.

    The vendored `bytescale` of the original: `uint8` input is returned
    unchanged; otherwise `(x - min) * 255 / (max - min)` (a range of 0 is
    treated as 1), clipped to [0, 255], plus the rounding offset `0.4999`,
    truncated to uint8. Math is float64.

    Args:
        images: array. Floating arrays are scaled.
        axes: axes over which min/max are taken (one scale per remaining
            index); `None` means the whole array, as the original for a
            single frame.
        offset: rounding offset. Defaults to `0.4999` (spec §5.5).

    Returns:
        uint8 array of the same shape.

    Example:
    >>> bytescale(np.array([0.2, 0.6, 1.0]))
    array([  0, 127, 255], dtype=uint8)
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    data = images.astype(np.float64)
    lo = data.min(axis=axes, keepdims=True)
    hi = data.max(axis=axes, keepdims=True)
    scale = hi - lo
    scale = np.where(scale == 0, 1.0, scale)
    out = (data - lo) * (255.0 / scale)
    return (np.clip(out, 0, 255) + offset).astype(np.uint8)


def resize_uint8(image, size):
    """PIL bilinear resize of a uint8 `(H, W)` or `(H, W, C)` image.

    Args:
        image: uint8 array.
        size: `(height, width)`.

    Returns:
        uint8 array of shape `size` (+ channels). A resize to the same size
        returns the input unchanged (as PIL does).

    Example:
    >>> resize_uint8(np.zeros((8, 8, 3), np.uint8), (4, 4)).shape
    (4, 4, 3)
    """
    image = np.asarray(image)
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return resize_uint8(image[..., 0], size)[..., None]
    pil = Image.fromarray(np.ascontiguousarray(image))
    return np.asarray(pil.resize((width, height), Image.BILINEAR))


def imresize(image, size):
    """The original's vendored `imresize`: byte-scale, then PIL bilinear.

    Float input is byte-scaled as a whole (`bytescale`), uint8 input is
    used as is; the result is resized with PIL's antialiased bilinear filter.

    Args:
        image: `(H, W)` or `(H, W, C)` array.
        size: `(height, width)`.

    Returns:
        uint8 array.

    Example:
    >>> int(imresize(np.eye(4), (4, 4)).max())
    255
    """
    return resize_uint8(bytescale(image), size)


def caffe_preprocess(images, dtype=None):
    """Keras' 'caffe' `preprocess_input` (channels-last): RGB -> BGR, minus
    the ImageNet BGR means, no scaling.

    Args:
        images: array `(..., 3)`, RGB, 0..255.
        dtype: output float dtype. Defaults to the input's float dtype, or
            float32 (Keras' floatx) for integer input.

    Returns:
        float array of the same shape.

    Example:
    >>> caffe_preprocess(np.zeros((1, 3)))[0]
    array([-103.939, -116.779, -123.68 ])
    """
    images = np.asarray(images)
    if dtype is None:
        floating = np.issubdtype(images.dtype, np.floating)
        dtype = images.dtype if floating else np.float32
    dtype = check_dtype(dtype)
    return images[..., ::-1].astype(dtype) - np.asarray(CAFFE_BGR_MEAN,
                                                        dtype=dtype)


def imagenet_preprocess_videos(videos, size=32, dtype="float32",
                               chunk_frames=4096):
    """The `imagenet_preprocessing=True` path of the original (VGG19 input).

    Spec §5.5, per frame: zero-pad at the bottom/right to `size x size`
    (nothing to do when the frame is already that large), repeat a single
    gray channel 3 times, byte-scale the frame (its min -> 0, its max ->
    255, see `bytescale`) and resize it to `size x size` (a no-op after the
    padding), then apply the 'caffe' `preprocess_input` (`caffe_preprocess`).

    Args:
        videos: `(N, T, H, W, C)` array with `C` in {1, 3}.
        size: target frame side. Defaults to `32`.
        dtype: output dtype. Defaults to `"float32"`.
        chunk_frames: frames processed at once (memory bound).

    Returns:
        `(N, T, size, size, 3)` array of `dtype`.

    Raises:
        ValueError: if `videos` is not 5-D with 1 or 3 channels.

    Example:
    >>> imagenet_preprocess_videos(np.zeros((1, 2, 14, 14, 1))).shape
    (1, 2, 32, 32, 3)
    """
    videos = np.asarray(videos)
    if videos.ndim != 5 or videos.shape[-1] not in (1, 3):
        raise ValueError(
            "`videos` must have shape (N, T, H, W, C) with C = 1 or 3. "
            f"Received: videos.shape={videos.shape}"
        )
    dtype = check_dtype(dtype)
    n, t, h, w, c = videos.shape
    frames = videos.reshape(n * t, h, w, c)
    out = np.empty((n * t, size, size, 3), dtype=dtype)
    ph, pw = max(size, h), max(size, w)
    for start in range(0, n * t, chunk_frames):
        chunk = frames[start:start + chunk_frames]
        padded = np.zeros((len(chunk), ph, pw, c), dtype=chunk.dtype)
        padded[:, :h, :w] = chunk
        if c == 1:
            padded = np.repeat(padded, 3, axis=-1)
        scaled = bytescale(padded, axes=(1, 2, 3))
        if (ph, pw) != (size, size):
            scaled = np.stack([resize_uint8(f, (size, size)) for f in scaled])
        out[start:start + len(chunk)] = caffe_preprocess(scaled, dtype)
    return out.reshape(n, t, size, size, 3)


def prepare_videos(videos, imagenet_preprocessing, zca_epsilon, dtype):
    """The shared input path of the group k-sparse datasets.

    Optionally the VGG19 path (`imagenet_preprocess_videos` to 32x32), then
    optionally ZCA whitening fitted on `videos[0]` (the training videos, or
    the only array for the transductive COIL-100 / NEC Animal) and applied
    to every array.

    Args:
        videos: list of `(N, T, H, W, C)` arrays; the first is fitted on.
        imagenet_preprocessing: bool.
        zca_epsilon: float or None (no whitening).
        dtype: output dtype.

    Returns:
        `(videos, zca)`: the list of arrays and the fitted `ZCAWhitening`
        (None without whitening).

    Example:
    >>> v, zca = prepare_videos([np.zeros((2, 1, 4, 4, 1))], False, None,
    ...                         "float32")
    >>> v[0].shape, zca
    ((2, 1, 4, 4, 1), None)
    """
    from deltasparse.data.datasets.zca import ZCAWhitening

    if imagenet_preprocessing:
        videos = [imagenet_preprocess_videos(v, 32, dtype) for v in videos]
    zca = None
    if zca_epsilon is not None:
        zca = ZCAWhitening(zca_epsilon).fit(videos[0])
        videos = [zca.transform(v, dtype) for v in videos]
    return list(videos), zca


def read_rgb_frame(path, size):
    """Reads an image file as RGB uint8 and resizes it to `size x size`.

    Args:
        path: image file path.
        size: output side (bilinear PIL resize, as the vendored `imresize`
            on uint8 input).

    Returns:
        uint8 array `(size, size, 3)`.
    """
    with Image.open(path) as img:
        arr = np.asarray(img.convert("RGB"))
    return resize_uint8(arr, (size, size))


def progress_disabled(progress):
    """Maps a `progress` argument to tqdm's `disable` (None = auto)."""
    return None if progress is None else not progress
