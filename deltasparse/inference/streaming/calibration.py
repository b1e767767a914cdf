"""Break-even densities of the incremental kernels: when dense wins.

A kernel's sparse update costs a gather, a matmul and a scatter per changed
output pixel; its dense routine costs one large matmul (or, depthwise, a
few whole-tensor multiply-adds). Above some fraction of output pixels to
recompute the dense routine is faster. `measure_break_even` measures that
fraction for one kernel and input shape; `default_thresholds` is the table
the kernels use when `dense_above=None`, measured on the development
machine (2 shared cores, OpenBLAS with `OPENBLAS_NUM_THREADS=1`) by:

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_delta_kernels.py \
        --calibrate

Thresholds are fractions of output pixels (equal to the fraction of dense
MACs the sparse path executes), keyed by kernel kind and by the size class
of the output's spatial area per stream.
"""

import statistics
import time

import numpy as np

KINDS = ("conv1x1", "conv", "depthwise", "dense")

# Output pixels per stream at or above which a size class starts.
SIZE_CLASSES = (("large", 56 * 56), ("medium", 14 * 14), ("small", 1))

# Measured break-even fractions of output pixels (median over the layers of
# MobileNet and ResNet50 at 224x224 in each class, batch 1); see the module
# docstring for the command. A value a little below the break-even keeps the
# sparse path where it clearly wins.
DEFAULT_THRESHOLDS = {
    ("conv1x1", "large"): 0.5,
    ("conv1x1", "medium"): 0.5,
    ("conv1x1", "small"): 0.5,
    ("conv", "large"): 0.5,
    ("conv", "medium"): 0.5,
    ("conv", "small"): 0.5,
    ("depthwise", "large"): 0.5,
    ("depthwise", "medium"): 0.5,
    ("depthwise", "small"): 0.5,
    ("dense", "small"): 0.5,
}


def size_class(output_pixels):
    """`"large"`, `"medium"` or `"small"` for `output_pixels` per stream."""
    for name, lower in SIZE_CLASSES:
        if output_pixels >= lower:
            return name
    return SIZE_CLASSES[-1][0]


def default_thresholds():
    """The measured `dense_above` table: `{(kind, size_class): fraction}`.

    Returns:
        A new dict keyed by `(kind, size_class)`, kind in `KINDS`, size class
        `"large"` (>= 56x56 output pixels per stream), `"medium"` (>= 14x14)
        or `"small"`; `"dense"` has only `"small"`.

    Example:
    >>> table = default_thresholds()
    >>> 0.0 < table[("conv1x1", "large")] <= 1.0
    True
    """
    return dict(DEFAULT_THRESHOLDS)


def default_threshold(kind, output_pixels):
    """`dense_above` for a kernel `kind` with `output_pixels` per stream."""
    if kind not in KINDS:
        raise ValueError(
            f"`kind` must be one of {KINDS}. Received: kind={kind!r}")
    if kind == "dense":
        return DEFAULT_THRESHOLDS[("dense", "small")]
    return DEFAULT_THRESHOLDS[(kind, size_class(output_pixels))]


def random_change(input_shape, density, rng):
    """A random delta with about `density` of its pixels (rows for a dense
    input) changed in all channels: `(delta, changed)`."""
    changed = rng.random(tuple(input_shape[:-1]) if len(input_shape) > 2
                         else tuple(input_shape)) < density
    values = rng.standard_normal(input_shape).astype(np.float32)
    if len(input_shape) > 2:
        delta = values * changed[..., None]
    else:
        delta = values * changed
    return delta.astype(np.float32), changed


def _median_time(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_update(kernel, input_shape, density, repeats=5, seed=0):
    """Median seconds of `kernel.update` on a random change of `density`,
    forced sparse and forced dense, and the fraction of output pixels (of
    dense MACs) the sparse path executed.

    Returns:
        Dict with `density`, `fraction`, `sparse_s`, `dense_s`.
    """
    rng = np.random.default_rng(seed)
    delta, changed = random_change(input_shape, density, rng)
    y = np.zeros(kernel.output_shape(input_shape), np.float32)
    saved = kernel.dense_above
    try:
        kernel.dense_above = np.inf
        sparse_s = _median_time(lambda: kernel.update(y, delta, changed),
                                repeats)
        fraction = kernel.last_macs / kernel.dense_macs
        kernel.dense_above = 0.0
        dense_s = _median_time(lambda: kernel.update(y, delta, changed),
                               repeats)
    finally:
        kernel.dense_above = saved
    return dict(density=density, fraction=fraction, sparse_s=sparse_s,
                dense_s=dense_s)


def measure_break_even(kernel, input_shape, densities=(
        0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0), repeats=5,
        seed=0):
    """The fraction of output pixels at which the sparse update of `kernel`
    stops beating its dense fallback.

    Random changes of each input density are timed both ways
    (`time_update`); the break-even is interpolated linearly, in output
    fraction, between the last measured point where sparse wins and the
    first where it loses (1.0 when sparse always wins, 0.0 when it never
    does).

    Args:
        kernel: a `Conv2DKernel`, `DepthwiseConv2DKernel` or `DenseKernel`.
        input_shape: tuple, `(B, H, W, Cin)` or `(B, Cin)`.
        densities: increasing input densities (fractions of changed pixels).
        repeats: timed calls per point (the median is kept).
        seed: int, seed of the random changes.

    Returns:
        `(break_even, rows)`: the fraction, and the `time_update` dict of
        every density.

    Example:
    >>> import numpy as np
    >>> from deltasparse.inference.streaming.kernels import Conv2DKernel
    >>> conv = Conv2DKernel(np.ones((1, 1, 8, 8), np.float32), None)
    >>> break_even, rows = measure_break_even(conv, (1, 16, 16, 8),
    ...                                       densities=(0.1, 0.9))
    >>> 0.0 <= break_even <= 1.0, len(rows)
    (True, 2)
    """
    if not len(densities) or any(
            not 0.0 < d <= 1.0 for d in densities) or list(densities) != \
            sorted(densities):
        raise ValueError(
            "`densities` must be increasing fractions in (0, 1]. "
            f"Received: densities={densities}")
    rows = [time_update(kernel, input_shape, density, repeats, seed)
            for density in densities]
    previous = None
    for row in rows:
        if row["sparse_s"] >= row["dense_s"]:
            if previous is None:
                return 0.0, rows
            # Linear in fraction between the win and the loss.
            win = previous["dense_s"] - previous["sparse_s"]
            loss = row["sparse_s"] - row["dense_s"]
            weight = win / (win + loss) if win + loss > 0 else 0.5
            return previous["fraction"] + weight * (
                row["fraction"] - previous["fraction"]), rows
        previous = row
    return 1.0, rows
