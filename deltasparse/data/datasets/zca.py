"""ZCA whitening of image frames (spec `group_ksparse.md` §5.5).

Fit: one mean per pixel and channel (over axis 0 of a 4-D `(N, H, W, C)`
input, over axes (0, 1) of a 5-D `(N, T, H, W, C)` input), rows flattened to
`D = H * W * C`, biased covariance `S = Xc^T Xc / n`, SVD `S = U diag(s) U^T`
and the whitening matrix `P = U diag(1 / sqrt(s + epsilon)) U^T`.
Transform: `(X - mean) P`, reshaped back. All math is float64; the data are
processed in row chunks so that a float32 dataset is never copied to float64
as a whole.
"""

import numbers
import os

import numpy as np

from deltasparse.data.datasets.video_arrays import check_dtype
from deltasparse.data.datasets.video_arrays import is_int

_SUPPORTED_NDIM = (4, 5)


def _check_input(x, name="x"):
    x = np.asarray(x)
    if x.ndim not in _SUPPORTED_NDIM:
        raise ValueError(
            f"`{name}` must be a 4-D (N, H, W, C) or 5-D (N, T, H, W, C) "
            f"array. Received: {name}.shape={x.shape}"
        )
    return x


class ZCAWhitening:
    """ZCA whitening with a per-pixel mean, as in the original `ZCAWhitening`.

    After `fit(X)`, `transform(X)` gives data whose covariance is
    `U diag(s / (s + epsilon)) U^T`, i.e. the identity up to `epsilon`.
    `transform` always uses the mean and matrix of the data passed to `fit`
    (e.g. Scanned CIFAR-10: fit on the training frames, apply to the test
    frames; COIL-100 / NEC Animal: fit on all frames).

    Differences from the original: none in the result. The covariance and
    the transform are computed in float64 chunks of `chunk_size` rows (the
    original formed them in one go), and the fitted state can be saved and
    loaded (`save` / `load`, an `.npz` file).

    Args:
        epsilon: float >= 0 added to the singular values before the inverse
            square root. Defaults to `1e-3` (the CIFAR / COIL / NEC configs).
        chunk_size: rows processed at once. Defaults to `8192`.

    Attributes:
        mean_: float64 mean with the fit input's keepdims shape,
            `(1, H, W, C)` or `(1, 1, H, W, C)`.
        matrix_: float64 `(D, D)` whitening matrix `P`.
        singular_values_: float64 `(D,)` singular values `s` of the
            covariance.
        n_samples_: number of rows (frames) used by `fit`.

    Example:
    >>> x = np.random.rand(100, 4, 4, 3)
    >>> zca = ZCAWhitening(epsilon=1e-5).fit(x)
    >>> y = zca.transform(x).reshape(100, -1)
    >>> bool(np.allclose(y.T @ y / 100, np.eye(48), atol=1e-2))
    True
    """

    def __init__(self, epsilon=1e-3, chunk_size=8192):
        if (isinstance(epsilon, bool)
                or not isinstance(epsilon, numbers.Real) or not epsilon >= 0):
            raise ValueError(
                "`epsilon` must be a float >= 0. "
                f"Received: epsilon={epsilon!r}"
            )
        if not is_int(chunk_size) or chunk_size < 1:
            raise ValueError(
                "`chunk_size` must be an int >= 1. "
                f"Received: chunk_size={chunk_size!r}"
            )
        self.epsilon = float(epsilon)
        self.chunk_size = int(chunk_size)
        self.mean_ = None
        self.matrix_ = None
        self.singular_values_ = None
        self.n_samples_ = None

    @property
    def fitted(self):
        """Whether `fit` (or `load`) has been called."""
        return self.matrix_ is not None

    @property
    def feature_shape(self):
        """`(H, W, C)` of the fitted frames, or `None` before fitting."""
        return None if self.mean_ is None else self.mean_.shape[-3:]

    def _rows(self, x):
        """Yields (start, float64 chunk of rows) of x viewed as (n, D)."""
        flat = x.reshape(-1, int(np.prod(x.shape[-3:])))
        for start in range(0, flat.shape[0], self.chunk_size):
            yield start, flat[start:start + self.chunk_size].astype(np.float64)

    def fit(self, x):
        """Fits the per-pixel mean and the whitening matrix.

        Args:
            x: `(N, H, W, C)` or `(N, T, H, W, C)` array.

        Returns:
            `self`.

        Raises:
            ValueError: if `x` is not 4-D / 5-D or is empty.

        Example:
        >>> ZCAWhitening(1e-3).fit(np.random.rand(10, 2, 2, 1)).matrix_.shape
        (4, 4)
        """
        x = _check_input(x)
        n = int(np.prod(x.shape[:-3]))
        if n == 0:
            raise ValueError(
                f"`x` must contain at least one frame. Received: x.shape="
                f"{x.shape}"
            )
        dim = int(np.prod(x.shape[-3:]))
        total = np.zeros(dim, dtype=np.float64)
        for _, rows in self._rows(x):
            total += rows.sum(axis=0)
        mean = total / n
        cov = np.zeros((dim, dim), dtype=np.float64)
        for _, rows in self._rows(x):
            rows -= mean
            cov += rows.T @ rows
        cov /= n
        u, s, _ = np.linalg.svd(cov)
        self.matrix_ = (u * (1.0 / np.sqrt(s + self.epsilon))) @ u.T
        self.singular_values_ = s
        keep = (1,) * (x.ndim - 3)
        self.mean_ = mean.reshape(keep + x.shape[-3:])
        self.n_samples_ = n
        return self

    def transform(self, x, dtype=None):
        """Whitens `x` with the fitted mean and matrix.

        Args:
            x: array whose last three axes equal the fitted `(H, W, C)`;
                4-D or 5-D.
            dtype: output dtype. Defaults to `x.dtype` when it is a float
                type, else float64.

        Returns:
            Array of the shape of `x`.

        Raises:
            RuntimeError: if called before `fit` / `load`.
            ValueError: if the frame shape differs from the fitted one.

        Example:
        >>> zca = ZCAWhitening(1e-3).fit(np.random.rand(10, 2, 2, 1))
        >>> zca.transform(np.zeros((3, 5, 2, 2, 1))).shape
        (3, 5, 2, 2, 1)
        """
        if not self.fitted:
            raise RuntimeError(
                "This ZCAWhitening is not fitted yet: call `fit(x)` or "
                "`ZCAWhitening.load(path)` first."
            )
        x = _check_input(x)
        if tuple(x.shape[-3:]) != tuple(self.feature_shape):
            raise ValueError(
                "`x` must have frames of the fitted shape (H, W, C) = "
                f"{tuple(self.feature_shape)}. Received: x.shape={x.shape}"
            )
        if dtype is None:
            floating = np.issubdtype(x.dtype, np.floating)
            dtype = x.dtype if floating else "float64"
        dtype = check_dtype(dtype)
        mean = self.mean_.reshape(-1)
        out = np.empty((int(np.prod(x.shape[:-3])), mean.size), dtype=dtype)
        for start, rows in self._rows(x):
            rows -= mean
            out[start:start + len(rows)] = rows @ self.matrix_
        return out.reshape(x.shape)

    def fit_transform(self, x, dtype=None):
        """`fit(x)` then `transform(x, dtype)`.

        Example:
        >>> ZCAWhitening(1e-3).fit_transform(np.random.rand(10, 2, 2, 1)).shape
        (10, 2, 2, 1)
        """
        return self.fit(x).transform(x, dtype=dtype)

    def save(self, path):
        """Saves the fitted state to an `.npz` file.

        Args:
            path: file path (numpy appends `.npz` when missing).

        Raises:
            RuntimeError: if not fitted.

        Example:
        >>> zca.save("zca_cifar.npz")  # doctest: +SKIP
        """
        if not self.fitted:
            raise RuntimeError("Cannot save an unfitted ZCAWhitening: call "
                               "`fit(x)` first.")
        np.savez(path, mean=self.mean_, matrix=self.matrix_,
                 singular_values=self.singular_values_,
                 epsilon=np.float64(self.epsilon),
                 n_samples=np.int64(self.n_samples_))

    @classmethod
    def load(cls, path, chunk_size=8192):
        """Restores a `ZCAWhitening` saved by `save`.

        Args:
            path: `.npz` file written by `save`.
            chunk_size: see the constructor.

        Returns:
            A fitted `ZCAWhitening`.

        Raises:
            FileNotFoundError: if `path` does not exist.
            ValueError: if the file lacks the expected arrays.

        Example:
        >>> zca = ZCAWhitening.load("zca_cifar.npz")  # doctest: +SKIP
        """
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "No saved ZCA state at this path; create it with "
                "`ZCAWhitening(...).fit(x).save(path)`. "
                f"Received: path={path!r}"
            )
        with np.load(path, allow_pickle=False) as data:
            missing = {"mean", "matrix", "singular_values", "epsilon",
                       "n_samples"} - set(data.files)
            if missing:
                raise ValueError(
                    "`path` must be an .npz written by ZCAWhitening.save; it "
                    f"lacks {sorted(missing)}. Received: path={path!r}"
                )
            zca = cls(epsilon=float(data["epsilon"]), chunk_size=chunk_size)
            zca.mean_ = data["mean"]
            zca.matrix_ = data["matrix"]
            zca.singular_values_ = data["singular_values"]
            zca.n_samples_ = int(data["n_samples"])
        return zca
