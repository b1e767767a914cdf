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

Thresholds are fractions of dense MACs (what `kernels` compares them with:
the fraction of output pixels to recompute for the gather method, of
changed input pixels for the scatter method), keyed by kernel kind
(`Conv2DKernel.kind`) and by the size class of the output's spatial area
per stream.
"""

import statistics
import time

import numpy as np

KINDS = ("conv1x1", "conv", "conv_strided", "depthwise", "depthwise_strided",
         "dense")

# Output pixels per stream at or above which a size class starts.
SIZE_CLASSES = (("large", 56 * 56), ("medium", 14 * 14), ("small", 1))

# Measured break-even fractions of dense MACs, batch 1, independent random
# pixels, 2 shared cores (other jobs running), 2026-12-01, by
#     OPENBLAS_NUM_THREADS=1 python benchmarks/bench_delta_kernels.py \
#         --calibrate --repeats 7
# run twice; medians over the distinct layers of MobileNet and ResNet50 at
# 224x224 in each class, first run / second run (layers):
#     conv1x1           large 0.60 / 0.63 (6), medium 0.81 / 0.84 (12),
#                       small 0.88 / 0.89 (6)
#     conv              large 0.50 / 0.48 (1), medium 0.43 / 0.69 (2),
#                       small 0.56 / 0.82 (1)
#     conv_strided      large 0.56 / 0.57 (2; the 3x3 and 7x7 stems)
#     depthwise         large 0.25 / 0.28 (2), medium 0.16 / 0.19 (2),
#                       small 0.02 / 0.00 (1)
#     depthwise_strided large 0.66 / 0.75 (1), medium 0.50 / 0.56 (2),
#                       small 0.55 / 0.47 (1)
#     dense             0.05 / 0.04 (2)
# The table rounds them down a little (to 0.05) so that the noisy crossing
# errs towards the dense routine; `conv_strided` medium and small (no such
# layer in the two models) take the large value.
DEFAULT_THRESHOLDS = {
    ("conv1x1", "large"): 0.55,
    ("conv1x1", "medium"): 0.75,
    ("conv1x1", "small"): 0.8,
    ("conv", "large"): 0.45,
    ("conv", "medium"): 0.5,
    ("conv", "small"): 0.5,
    ("conv_strided", "large"): 0.5,
    ("conv_strided", "medium"): 0.5,
    ("conv_strided", "small"): 0.5,
    ("depthwise", "large"): 0.25,
    ("depthwise", "medium"): 0.15,
    ("depthwise", "small"): 0.02,
    ("depthwise_strided", "large"): 0.65,
    ("depthwise_strided", "medium"): 0.45,
    ("depthwise_strided", "small"): 0.45,
    ("dense", "small"): 0.04,
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


def random_change(input_shape, density, rng, block=1):
    """A random delta with about `density` of its pixels (of its entries
    for a dense `(B, Cin)` input) changed in all channels: `(delta,
    changed)`. With `block > 1` the changed pixels come in aligned
    `block x block` squares (moving objects rather than noise)."""
    if len(input_shape) > 2:
        batch, height, width = input_shape[:3]
        coarse = rng.random((batch, -(-height // block),
                             -(-width // block))) < density
        changed = np.repeat(np.repeat(coarse, block, axis=1), block,
                            axis=2)[:, :height, :width]
    else:
        changed = rng.random(tuple(input_shape)) < density
    values = rng.standard_normal(input_shape).astype(np.float32)
    if len(input_shape) > 2:
        delta = values * changed[..., None]
    else:
        delta = values * changed
    return delta.astype(np.float32), changed


def _median_times(functions, repeats):
    """Median seconds of each function, timed in turn within every repeat
    (so that load from other processes hits all of them alike)."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, spent in zip(functions, times):
            start = time.perf_counter()
            function()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def time_update(kernel, input_shape, density, repeats=5, seed=0, block=1):
    """Median seconds of `kernel.update` on a random change of `density`:
    forced sparse, forced dense and with the kernel's own `dense_above`,
    interleaved; and the fraction of output pixels (of dense MACs) that
    the sparse path executes.

    Returns:
        Dict with `density`, `fraction`, `sparse_s`, `dense_s`, `auto_s`.
    """
    rng = np.random.default_rng(seed)
    delta, changed = random_change(input_shape, density, rng, block)
    y = np.zeros(kernel.output_shape(input_shape), np.float32)
    saved = kernel.dense_above
    state = {}

    def run(dense_above):
        def function():
            kernel.dense_above = dense_above
            kernel.update(y, delta, changed)
            state[dense_above] = kernel.last_macs / kernel.dense_macs
        return function

    try:
        sparse_s, dense_s, auto_s = _median_times(
            [run(np.inf), run(0.0), run(saved)], repeats)
    finally:
        kernel.dense_above = saved
    return dict(density=density, fraction=state[np.inf], sparse_s=sparse_s,
                dense_s=dense_s, auto_s=auto_s)


def measure_break_even(kernel, input_shape, densities=(
        0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0), repeats=5,
        seed=0, block=1):
    """The fraction of output pixels at which the sparse update of `kernel`
    stops beating its dense fallback.

    Random changes of each input density are timed both ways
    (`time_update`); the break-even is interpolated linearly, in output
    fraction, between the last measured point where sparse wins and the
    first where it loses (1.0 when sparse always wins, 0.0 when it never
    does). Densities at which no output pixel changed are skipped.

    Args:
        kernel: a `Conv2DKernel`, `DepthwiseConv2DKernel` or `DenseKernel`.
        input_shape: tuple, `(B, H, W, Cin)` or `(B, Cin)`.
        densities: increasing input densities (fractions of changed pixels).
        repeats: timed calls per point (the median is kept).
        seed: int, seed of the random changes.
        block: int, side of the changed squares (1: independent pixels).

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
    rows = [time_update(kernel, input_shape, density, repeats, seed, block)
            for density in densities]
    previous = None
    for row in rows:
        if row["fraction"] == 0.0:  # nothing changed: nothing to compare
            continue
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
