"""Incremental ("delta") updates of linear layers for streaming inference.

A linear layer `y = f(x) + bias` satisfies `f(x + delta) = f(x) + f(delta)`,
so when a frame changes the layer's input by a sparse `delta`, the cached
output is brought up to date by adding `f(delta)`, computed only at the
output pixels whose receptive field holds a changed input pixel. The
kernels here do exactly that for a batch of streams, channels-last, in
float32, with NumPy (OpenBLAS):

- `Conv2DKernel`: any kernel size, stride, dilation, `"same"`/`"valid"`.
- `DepthwiseConv2DKernel`: the same, per channel (`depth_multiplier=1`).
- `DenseKernel`: the changed rows and input features of `(B, Cin)` are
  gathered and multiplied by the matching kernel rows.

Two sparse methods, chosen per kernel by measurement (attribute `method`):

- `"gather"` (1x1 and strided kernels): the changed output pixels (the
  receptive-field dilation of the changed input pixels) are listed, their
  receptive fields are gathered from the zero-padded delta into one matrix
  (an im2col of the changed pixels only; for a 1x1 convolution simply the
  changed rows) by one fancy index on a strided window view, multiplied by
  the kernel matrix in ONE matmul (depthwise: one `np.einsum`) and
  scatter-added into the cached output.
- `"scatter"` (k x k, stride 1): the changed input rows are gathered once
  and, for every tap `(i, j)`, multiplied by `kernel[i, j]` and added to the
  output pixels they reach through that tap (distinct within one tap, so a
  fancy-index `+=` is exact). It executes `changed inputs x taps` products
  instead of `dilated outputs x taps`: for scattered changes up to `kh * kw`
  times fewer (measured 2x faster than the gather at 5 % random pixels).

Why pixels and not tiles with a halo: both methods execute only products
that involve a changed input pixel or a changed output pixel, tiles also
recompute the unchanged pixels of every touched tile, and a constant number
of NumPy calls per layer (the per-call overhead, not arithmetic, dominates
at these sizes). Why NumPy and not TensorFlow: a TF call costs 1.3-1.9 ms of
dispatch at these sizes, more than a whole sparse update at low density;
the dense routines (im2col + one OpenBLAS matmul; depthwise `np.einsum` on
the window view) match or beat a compiled `tf.function` per layer at batch
1 on this 2-core machine (summed over the layers at 224x224: MobileNet
19-27 ms vs 31-37 ms, ResNet50 71-107 ms vs 95-108 ms over several runs;
`benchmarks/bench_delta_kernels.py --tf`). The one exception is the 7x7
stride-2 stem with 3 input channels (TF 2.4 ms, NumPy im2col 3-7 ms).

Each kernel falls back to its dense routine, `y += f(delta)` over the whole
output, when its changed fraction exceeds `dense_above` (the sparse path
then costs more than the dense one): the fraction of output pixels to
recompute for `"gather"`, of changed input pixels for `"scatter"` (for
both, about the fraction of dense MACs the sparse path executes). The
decision is made once per call for the whole batch of streams. The
default comes from `calibration.default_thresholds()`, measured on the
development machine by `calibration.measure_break_even`.

A kernel keeps padding buffers between calls (that is what makes the
gather method's padded copy of a sparse delta cost O(changed pixels)): use
one kernel object per thread.

Multithreaded OpenBLAS spins its worker threads; on a small shared CPU that
makes a 1 ms matmul take 8-30 ms (measured). Set `OPENBLAS_NUM_THREADS=1`
(or `threadpoolctl.threadpool_limits(1)`) for streaming inference; the
benchmark does.

Every kernel records `last_macs` (multiply-accumulates executed by the last
`dense` or `update` call) and `dense_macs` (those of a dense evaluation of
the same batch), so an engine can report the executed fraction.
"""

import numpy as np

from deltasparse.inference.streaming import calibration

PADDINGS = ("same", "valid")


def _pair(value, name):
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    value = tuple(value)
    if len(value) != 2 or not all(
            isinstance(v, (int, np.integer)) and v >= 1 for v in value):
        raise ValueError(
            f"`{name}` must be a positive int or a pair of positive ints. "
            f"Received: {name}={value}")
    return tuple(int(v) for v in value)


def _float_array(value, name, ndim):
    array = np.asarray(value, dtype=np.float32)
    if array.ndim != ndim:
        raise ValueError(
            f"`{name}` must be an array with {ndim} dimensions. "
            f"Received: {name}.shape={array.shape}")
    return np.ascontiguousarray(array)


def _bias(bias, units):
    if bias is None:
        return np.zeros((units,), np.float32)
    bias = np.asarray(bias, dtype=np.float32).reshape(-1)
    if bias.shape != (units,):
        raise ValueError(
            f"`bias` must have shape ({units},) (the kernel's output "
            f"channels) or be None. Received: bias.shape={bias.shape}")
    return bias


def _check_dense_above(dense_above):
    if dense_above is not None and not dense_above >= 0:
        raise ValueError(
            "`dense_above` must be None (the calibrated default) or a "
            "fraction >= 0 of the output pixels to recompute above which "
            f"the dense routine runs. Received: dense_above={dense_above}")
    return dense_above


def _check_output(y, shape):
    if not isinstance(y, np.ndarray) or y.shape != shape \
            or y.dtype != np.float32 or not y.flags.c_contiguous:
        raise ValueError(
            "`y` must be the cached output: a C-contiguous float32 NumPy "
            f"array of shape {shape}, updated in place. Received: "
            f"y.shape={getattr(y, 'shape', None)}, "
            f"y.dtype={getattr(y, 'dtype', None)}")


def _output_geometry(size, kernel, stride, dilation, padding):
    """Output size and (before, after) padding of one spatial axis, with the
    TensorFlow / Keras semantics (`"same"` pads more at the end)."""
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + effective - size, 0)
        return out, total // 2, total - total // 2
    out = (size - effective) // stride + 1
    if out < 1:
        raise ValueError(
            f"`input_shape` is too small for a {kernel}-tap kernel (dilation "
            f"{dilation}) with 'valid' padding. Received: size={size}")
    return out, 0, 0


class _SpatialKernel:
    """Shared geometry, padding buffers, changed-mask dilation and gathers of
    the 2-D convolution kernels."""

    kind = None

    def __init__(self, kernel, bias, strides, padding, dilation, dense_above,
                 units):
        if padding not in PADDINGS:
            raise ValueError(
                f"`padding` must be one of {PADDINGS}. "
                f"Received: padding={padding!r}")
        self.kernel = kernel
        self.bias = _bias(bias, units)
        self.kernel_size = kernel.shape[:2]
        self.strides = _pair(strides, "strides")
        self.dilation = _pair(dilation, "dilation")
        self.padding = padding
        self.units = units
        self._dense_above = _check_dense_above(dense_above)
        self.last_macs = 0
        self.dense_macs = 0
        self._geometries = {}
        self._buffers = {}
        if self.strides != (1, 1) and self.kernel_size != (1, 1):
            self.kind = self.kind + "_strided"
        # Measured side by side: the scatter of changed inputs wins for
        # k x k stride 1 (2x the gather at 5 % random pixels); the gather of
        # changed outputs wins for strided kernels (fewer outputs than
        # inputs, 2-3x at clustered changes) and for 1x1.
        self.method = "scatter" if self.kind in ("conv", "depthwise") \
            else "gather"

    @property
    def dense_above(self):
        return self._dense_above

    @dense_above.setter
    def dense_above(self, value):
        self._dense_above = _check_dense_above(value)

    def threshold(self, input_shape):
        """The `dense_above` used for inputs of `input_shape`: the one given
        at construction, else the calibrated default of this kind and size."""
        if self._dense_above is not None:
            return self._dense_above
        _, out_h, out_w, _ = self.output_shape(input_shape)
        return calibration.default_threshold(self.kind, out_h * out_w)

    def _geometry(self, height, width):
        key = (height, width)
        if key not in self._geometries:
            (kh, kw), (sh, sw), (dh, dw) = (
                self.kernel_size, self.strides, self.dilation)
            out_h, top, bottom = _output_geometry(
                height, kh, sh, dh, self.padding)
            out_w, left, right = _output_geometry(
                width, kw, sw, dw, self.padding)
            self._geometries[key] = dict(
                out_h=out_h, out_w=out_w, top=top, left=left,
                padded_h=height + top + bottom,
                padded_w=width + left + right,
                padded=bool(top or bottom or left or right))
        return self._geometries[key]

    def _check_input(self, x, name):
        if not isinstance(x, np.ndarray) or x.ndim != 4 \
                or x.shape[-1] != self.kernel.shape[2]:
            raise ValueError(
                f"`{name}` must be a NumPy array (batch, height, width, "
                f"{self.kernel.shape[2]}). "
                f"Received: {name}.shape={getattr(x, 'shape', None)}")
        return self._geometry(x.shape[1], x.shape[2])

    def output_shape(self, input_shape):
        """`(batch, out_height, out_width, units)` for a 4-D input shape."""
        batch, height, width = input_shape[:3]
        geometry = self._geometry(height, width)
        return (batch, geometry["out_h"], geometry["out_w"], self.units)

    def _padded(self, values, geometry, changed_index=None):
        """`values` (B, H, W, C) in a zero-bordered buffer, flattened to
        `(B * Hp * Wp, C)`. With `changed_index` (flat input pixels where
        `values` may be nonzero) only those pixels are written (and the
        previous call's pixels cleared), which costs O(changed)."""
        if not geometry["padded"]:
            return values.reshape(-1, values.shape[-1])
        batch, height, width, channels = values.shape
        key = values.shape
        if key not in self._buffers:
            self._buffers[key] = [np.zeros(
                (batch, geometry["padded_h"], geometry["padded_w"], channels),
                np.float32), None]
        buffer, written = self._buffers[key]
        flat = buffer.reshape(-1, channels)
        top, left = geometry["top"], geometry["left"]
        if changed_index is None:
            buffer[:, top:top + height, left:left + width] = values
            self._buffers[key][1] = "all"
            return flat
        if isinstance(written, str):
            buffer[:, top:top + height, left:left + width] = 0.0
        elif written is not None:
            flat[written] = 0.0
        b, rest = np.divmod(changed_index, height * width)
        row, col = np.divmod(rest, width)
        target = (b * geometry["padded_h"] + row + top) \
            * geometry["padded_w"] + col + left
        flat[target] = values.reshape(-1, channels)[changed_index]
        self._buffers[key][1] = target
        return flat

    def _dilate(self, changed, geometry):
        """Output pixels whose receptive field holds a changed input pixel,
        (B, Ho, Wo) bool: a separable OR over the kernel taps."""
        (kh, kw), (sh, sw), (dh, dw) = (
            self.kernel_size, self.strides, self.dilation)
        out_h, out_w = geometry["out_h"], geometry["out_w"]
        if geometry["padded"]:
            batch, height, width = changed.shape
            mask = np.zeros((batch, geometry["padded_h"],
                             geometry["padded_w"]), bool)
            mask[:, geometry["top"]:geometry["top"] + height,
                 geometry["left"]:geometry["left"] + width] = changed
        else:
            mask = changed
        rows = mask[:, 0:(out_h - 1) * sh + 1:sh]
        if kh > 1:
            rows = rows.copy()
            for i in range(1, kh):
                rows |= mask[:, i * dh:i * dh + (out_h - 1) * sh + 1:sh]
        out = rows[:, :, 0:(out_w - 1) * sw + 1:sw]
        out = out.copy()  # never a view of `changed`
        for j in range(1, kw):
            out |= rows[:, :, j * dw:j * dw + (out_w - 1) * sw + 1:sw]
        return out

    def _patches(self, flat, output_index, geometry, batch):
        """Receptive fields of the flat output pixels `output_index`,
        gathered from the flattened padded input: (n, kh, kw, C). One
        fancy index per output pixel on the strided window view (measured
        2-10x faster than one index per tap when C is small)."""
        out_h, out_w = geometry["out_h"], geometry["out_w"]
        b, rest = np.divmod(output_index, out_h * out_w)
        row, col = np.divmod(rest, out_w)
        return self._windows(flat, geometry, batch)[b, row, col]

    def _windows(self, flat, geometry, batch):
        """Strided view (B, Ho, Wo, kh, kw, C) of the padded input (no
        copy)."""
        channels = flat.shape[-1]
        padded = flat.reshape(batch, geometry["padded_h"],
                              geometry["padded_w"], channels)
        (kh, kw), (sh, sw), (dh, dw) = (
            self.kernel_size, self.strides, self.dilation)
        s0, s1, s2, s3 = padded.strides
        return np.lib.stride_tricks.as_strided(
            padded,
            shape=(batch, geometry["out_h"], geometry["out_w"], kh, kw,
                   channels),
            strides=(s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
            writeable=False)

    def dense(self, x):
        """The layer on a whole batch: `(B, H, W, Cin) -> (B, Ho, Wo, Cout)`,
        bias included; records `last_macs = dense_macs`."""
        geometry = self._check_input(x, "x")
        x = np.asarray(x, np.float32)
        y = self._dense_linear(self._padded(x, geometry), geometry, x.shape[0])
        y += self.bias
        self.dense_macs = self.last_macs = y.shape[0] * y.shape[1] \
            * y.shape[2] * self.macs_per_pixel
        return y

    def update(self, y, delta, changed):
        """Adds the layer's response to `delta` (no bias) to `y` in place.

        Args:
            y: float32 array (B, Ho, Wo, Cout), the cached output.
            delta: float32 array (B, H, W, Cin), the input change; zero
                outside `changed`.
            changed: bool array (B, H, W), the input pixels where any
                channel of `delta` is nonzero (a superset is fine).

        Returns:
            Bool array (B, Ho, Wo): the output pixels that may have changed
            (the receptive-field dilation of `changed`; a new array).
        """
        geometry = self._check_input(delta, "delta")
        shape = self.output_shape(delta.shape)
        _check_output(y, shape)
        if changed.shape != delta.shape[:3]:
            raise ValueError(
                "`changed` must be a bool array (batch, height, width) "
                f"{delta.shape[:3]}. Received: changed.shape={changed.shape}")
        out_changed = self._dilate(changed, geometry)
        total = int(out_changed.size)
        self.dense_macs = total * self.macs_per_pixel
        if self.method == "gather":
            count = np.count_nonzero(out_changed)
            fraction = count / total
        else:
            changed_index = np.flatnonzero(changed)
            count = len(changed_index)
            fraction = count / changed.size
        if count == 0:
            self.last_macs = 0
            return out_changed
        y_flat = y.reshape(-1, self.units)
        if fraction > self.threshold(delta.shape):
            y += self._dense_linear(
                self._padded(delta, geometry), geometry, delta.shape[0])
            self.last_macs = self.dense_macs
        elif self.method == "gather":
            flat = self._padded(
                delta, geometry, np.flatnonzero(changed)
                if geometry["padded"] else None)
            output_index = np.flatnonzero(out_changed)
            y_flat[output_index] += self._sparse_linear(
                flat, output_index, geometry, delta.shape[0])
            self.last_macs = int(count) * self.macs_per_pixel
        else:
            rows = delta.reshape(-1, delta.shape[-1])[changed_index]
            pairs = 0
            for tap, selected, output_index in self._scatter_targets(
                    changed_index, geometry, delta.shape[1], delta.shape[2]):
                source = rows if len(selected) == count else rows[selected]
                y_flat[output_index] += self._tap_linear(source, tap)
                pairs += len(selected)
            self.last_macs = pairs * self.macs_per_pixel \
                // (self.kernel_size[0] * self.kernel_size[1])
        return out_changed

    def _scatter_targets(self, changed_index, geometry, height, width):
        """For every tap `(i, j)`: the changed input pixels that reach an
        output pixel through it, and those flat output pixels (distinct
        within one tap, so a fancy-index `+=` is exact)."""
        (kh, kw), (sh, sw), (dh, dw) = (
            self.kernel_size, self.strides, self.dilation)
        out_h, out_w = geometry["out_h"], geometry["out_w"]
        b, rest = np.divmod(changed_index, height * width)
        row, col = np.divmod(rest, width)

        def axis(position, pad, taps, dilation, stride, size):
            found = []
            for tap in range(taps):
                out, remainder = np.divmod(position + pad - tap * dilation,
                                           stride)
                found.append((out, (remainder == 0) & (out >= 0)
                              & (out < size)))
            return found

        rows = axis(row, geometry["top"], kh, dh, sh, out_h)
        cols = axis(col, geometry["left"], kw, dw, sw, out_w)
        base = b * out_h
        for i, (out_row, valid_row) in enumerate(rows):
            for j, (out_col, valid_col) in enumerate(cols):
                valid = valid_row & valid_col
                if valid.all():
                    selected = np.arange(len(changed_index))
                    target = (base + out_row) * out_w + out_col
                else:
                    selected = np.flatnonzero(valid)
                    if not len(selected):
                        continue
                    target = (base[selected] + out_row[selected]) * out_w \
                        + out_col[selected]
                yield (i, j), selected, target


class Conv2DKernel(_SpatialKernel):
    """Incremental 2-D convolution (Keras `Conv2D`, BatchNorm folded in).

    Args:
        kernel: float32 array `(kh, kw, cin, cout)` (Keras layout), with any
            following BatchNormalization already folded in by the caller.
        bias: float32 array `(cout,)`, or None for zeros.
        strides: int or pair. Defaults to `(1, 1)`.
        padding: `"same"` or `"valid"`, TensorFlow semantics (`"same"` pads
            `max((out - 1) * s + k - in, 0)` in total, the larger half at the
            end). Defaults to `"same"`.
        dilation: int or pair, the dilation rate. Defaults to `(1, 1)`.
        dense_above: None or float >= 0: when the changed fraction (see
            the module docstring) exceeds it, `update` runs the dense
            routine on the whole delta. None takes
            `calibration.default_thresholds()` for this kind and output
            size. Defaults to None.

    Attributes:
        kind: `"conv1x1"`, `"conv"` (k x k, stride 1) or `"conv_strided"`;
            keys the calibrated thresholds.
        method: `"gather"` or `"scatter"`, the sparse method (see the
            module docstring); chosen from `kind`, may be set.
        last_macs: int, MACs executed by the last `dense` / `update`.
        dense_macs: int, MACs of a dense evaluation of that batch.

    Raises:
        ValueError: for a kernel that is not 4-D, a bias of the wrong size, an
            unknown padding or bad strides / dilation.

    Example:
    >>> import numpy as np
    >>> kernel = np.ones((3, 3, 2, 4), np.float32)
    >>> conv = Conv2DKernel(kernel, np.zeros(4, np.float32), dense_above=1.0)
    >>> x = np.zeros((1, 8, 8, 2), np.float32)
    >>> y = conv.dense(x)
    >>> delta = np.zeros_like(x); delta[0, 4, 4, 0] = 1.0
    >>> out_changed = conv.update(y, delta, delta.any(-1))
    >>> int(out_changed.sum()), float(y.sum()), conv.method, conv.last_macs
    (9, 36.0, 'scatter', 72)
    """

    kind = "conv"

    def __init__(self, kernel, bias, strides=(1, 1), padding="same",
                 dilation=(1, 1), dense_above=None):
        kernel = _float_array(kernel, "kernel", 4)
        if kernel.shape[:2] == (1, 1):
            self.kind = "conv1x1"
        super().__init__(kernel, bias, strides, padding, dilation,
                         dense_above, units=kernel.shape[3])
        kh, kw, cin, cout = kernel.shape
        self.macs_per_pixel = kh * kw * cin * cout
        self._matrix = kernel.reshape(kh * kw * cin, cout)

    def _dense_linear(self, flat, geometry, batch):
        if self.kernel_size == (1, 1):
            sh, sw = self.strides
            x = flat.reshape(batch, geometry["padded_h"], geometry["padded_w"],
                             -1)
            if (sh, sw) != (1, 1):
                x = x[:, ::sh, ::sw]
            columns = x.reshape(-1, x.shape[-1])
        else:
            columns = self._windows(flat, geometry, batch).reshape(
                -1, self._matrix.shape[0])
        return (columns @ self._matrix).reshape(
            batch, geometry["out_h"], geometry["out_w"], self.units)

    def _tap_linear(self, rows, tap):
        return rows @ self.kernel[tap]

    def _sparse_linear(self, flat, output_index, geometry, batch):
        if self.kernel_size == (1, 1) and self.strides == (1, 1):
            return flat[output_index] @ self._matrix
        patches = self._patches(flat, output_index, geometry, batch)
        return patches.reshape(len(output_index), -1) @ self._matrix


class DepthwiseConv2DKernel(_SpatialKernel):
    """Incremental depthwise 2-D convolution (Keras `DepthwiseConv2D`,
    `depth_multiplier=1`, BatchNorm folded in).

    Args:
        kernel: float32 array `(kh, kw, channels, 1)` (Keras layout; a 3-D
            `(kh, kw, channels)` is accepted too).
        bias: float32 array `(channels,)`, or None for zeros.
        strides, padding, dilation, dense_above: as in `Conv2DKernel`.

    Attributes:
        kind: `"depthwise"` (stride 1) or `"depthwise_strided"`.
        method, last_macs, dense_macs: as in `Conv2DKernel` (`kh * kw` MACs
            per output channel and pixel).

    Raises:
        ValueError: for a depth multiplier other than 1, or as
            `Conv2DKernel`.

    Example:
    >>> import numpy as np
    >>> conv = DepthwiseConv2DKernel(np.ones((3, 3, 2, 1), np.float32), None,
    ...                              strides=2, dense_above=1.0)
    >>> conv.output_shape((1, 8, 8, 2))
    (1, 4, 4, 2)
    """

    kind = "depthwise"

    def __init__(self, kernel, bias, strides=(1, 1), padding="same",
                 dilation=(1, 1), dense_above=None):
        kernel = np.asarray(kernel, np.float32)
        if kernel.ndim == 4:
            if kernel.shape[3] != 1:
                raise ValueError(
                    "`kernel` must be (kh, kw, channels, 1): only "
                    "depth_multiplier 1 is supported. "
                    f"Received: kernel.shape={kernel.shape}")
            kernel = kernel[..., 0]
        kernel = _float_array(kernel, "kernel", 3)
        super().__init__(kernel, bias, strides, padding, dilation,
                         dense_above, units=kernel.shape[2])
        kh, kw, channels = kernel.shape
        self.macs_per_pixel = kh * kw * channels

    # Plain `np.einsum` (no `optimize`) on the strided windows: measured
    # 1.4-3x faster than a loop of per-tap multiply-adds, and 10-25x faster
    # than `optimize=True` at MobileNet sizes.
    def _dense_linear(self, flat, geometry, batch):
        return np.einsum("bhwijc,ijc->bhwc",
                         self._windows(flat, geometry, batch), self.kernel)

    def _tap_linear(self, rows, tap):
        return rows * self.kernel[tap]

    def _sparse_linear(self, flat, output_index, geometry, batch):
        return np.einsum("nijc,ijc->nc", self._patches(
            flat, output_index, geometry, batch), self.kernel)


class DenseKernel:
    """Incremental fully connected layer (Keras `Dense`, no activation).

    Args:
        kernel: float32 array `(cin, cout)`.
        bias: float32 array `(cout,)`, or None for zeros.
        dense_above: None or float >= 0: the fraction of the `(B, Cin)`
            inputs spanned by the changed rows and features above which the
            dense matmul runs. Defaults to None (calibrated default).

    Attributes:
        last_macs, dense_macs: as in `Conv2DKernel`.

    Example:
    >>> import numpy as np
    >>> dense = DenseKernel(np.eye(3, dtype=np.float32),
    ...                     np.ones(3, np.float32))
    >>> y = dense.dense(np.zeros((2, 3), np.float32))
    >>> delta = np.zeros((2, 3), np.float32); delta[1, 2] = 5.0
    >>> dense.update(y, delta, delta != 0).tolist(), y[1].tolist()
    ([False, True], [1.0, 1.0, 6.0])
    """

    kind = "dense"

    def __init__(self, kernel, bias, dense_above=None):
        self.kernel = _float_array(kernel, "kernel", 2)
        self.units = self.kernel.shape[1]
        self.bias = _bias(bias, self.units)
        self._dense_above = _check_dense_above(dense_above)
        self.last_macs = 0
        self.dense_macs = 0

    dense_above = _SpatialKernel.dense_above

    def threshold(self, input_shape):
        """The `dense_above` used for inputs of `input_shape`."""
        if self._dense_above is not None:
            return self._dense_above
        return calibration.default_threshold(self.kind, 1)

    def _check_input(self, x, name):
        if not isinstance(x, np.ndarray) or x.ndim != 2 \
                or x.shape[1] != self.kernel.shape[0]:
            raise ValueError(
                f"`{name}` must be a NumPy array (batch, "
                f"{self.kernel.shape[0]}). "
                f"Received: {name}.shape={getattr(x, 'shape', None)}")

    def output_shape(self, input_shape):
        """`(batch, units)`."""
        return (input_shape[0], self.units)

    def dense(self, x):
        """`x @ kernel + bias`; records `last_macs = dense_macs`."""
        self._check_input(x, "x")
        self.dense_macs = self.last_macs = x.shape[0] * self.kernel.size
        return np.asarray(x, np.float32) @ self.kernel + self.bias

    def update(self, y, delta, changed):
        """Adds `delta @ kernel` to `y` (B, Cout) in place; returns the bool
        (B,) rows that may have changed (rows with a changed input)."""
        self._check_input(delta, "delta")
        _check_output(y, self.output_shape(delta.shape))
        if changed.shape != delta.shape:
            raise ValueError(
                f"`changed` must be a bool array {delta.shape}. "
                f"Received: changed.shape={changed.shape}")
        self.dense_macs = delta.shape[0] * self.kernel.size
        rows = np.flatnonzero(changed.any(axis=1))
        columns = np.flatnonzero(changed.any(axis=0))
        out_changed = np.zeros(delta.shape[0], bool)
        out_changed[rows] = True
        executed = len(rows) * len(columns)
        if executed == 0:
            self.last_macs = 0
        elif executed > self.threshold(delta.shape) * delta.size:
            y += delta @ self.kernel
            self.last_macs = self.dense_macs
        else:
            y[rows] += delta[np.ix_(rows, columns)] @ self.kernel[columns]
            self.last_macs = executed * self.units
        return out_changed

