"""Minimal NumPy delta kernels implementing the `kernels` contract.

Private stand-in for `deltasparse.inference.streaming.kernels` (written in
parallel by another branch) so that the engine is never blocked; the engine
uses that module when it exists and this one otherwise. Same interface:
`Conv2DKernel`, `DepthwiseConv2DKernel`, `DenseKernel` with `dense(x)`,
`update(y, delta, changed) -> out_changed`, `last_macs`, `dense_macs` and
`output_shape(input_shape)`. Granularity: the changed OUTPUT pixels are
gathered (im2col of their receptive fields in the padded delta) into one
matrix, multiplied, and scatter-added; above `dense_above` (fraction of
changed output pixels) the whole delta is convolved densely.
"""

import numpy as np

from deltasparse.inference.streaming.graph import dilate_mask
from deltasparse.inference.streaming.graph import pads

DEFAULT_DENSE_ABOVE = 0.3


def _check_padding(padding):
    if padding not in ("same", "valid"):
        raise ValueError(
            "`padding` must be 'same' or 'valid'. "
            f"Received: padding={padding!r}"
        )
    return padding


class _SpatialKernel:
    """Shared geometry of the convolution kernels (not public)."""

    def __init__(self, kernel, bias, strides, padding, dilation, dense_above):
        self.kernel = np.ascontiguousarray(kernel, dtype="float32")
        kh, kw = self.kernel.shape[:2]
        self.kernel_size = (kh, kw)
        self.bias = (np.zeros(self.kernel.shape[-1], "float32") if bias is None
                     else np.asarray(bias, dtype="float32"))
        self.strides = tuple(strides)
        self.padding = _check_padding(padding)
        self.dilation = tuple(dilation)
        self.dense_above = (DEFAULT_DENSE_ABOVE if dense_above is None
                            else float(dense_above))
        self.last_macs = 0
        self.dense_macs = 0
        self._geometry = {}

    def _geom(self, h, w):
        key = (h, w)
        if key not in self._geometry:
            (kh, kw), (sh, sw), (dh, dw) = (self.kernel_size, self.strides,
                                            self.dilation)
            ho, pt, pb = pads(h, kh, sh, dh, self.padding)
            wo, pl, pr = pads(w, kw, sw, dw, self.padding)
            oi, oj = np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw,
                                 indexing="ij")
            self._geometry[key] = (ho, wo, ((pt, pb), (pl, pr)),
                                   oi.ravel(), oj.ravel())
        return self._geometry[key]

    def output_shape(self, input_shape):
        b, h, w, _ = input_shape
        ho, wo = self._geom(h, w)[:2]
        return (b, ho, wo, self._out_channels())

    def _padded(self, x, pad):
        if pad == ((0, 0), (0, 0)):
            return x
        return np.pad(x, ((0, 0), pad[0], pad[1], (0, 0)))

    def _windows(self, xp, ho, wo):
        """All receptive fields `(B, Ho, Wo, kh*kw, C)` (a copy)."""
        (kh, kw), (sh, sw), (dh, dw) = (self.kernel_size, self.strides,
                                        self.dilation)
        b, _, _, c = xp.shape
        s = xp.strides
        view = np.lib.stride_tricks.as_strided(
            xp, (b, ho, wo, kh, kw, c),
            (s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]),
            writeable=False)
        return view.reshape(b, ho, wo, kh * kw, c)

    def dense(self, x):
        x = np.asarray(x, dtype="float32")
        y = self._dense_nobias(x)
        y += self.bias
        return y

    def _dense_nobias(self, x):
        _, h, w, _ = x.shape
        ho, wo, pad = self._geom(h, w)[:3]
        self.dense_macs = self._macs(x.shape[0] * ho * wo)
        xp = self._padded(x, pad)
        if self.kernel_size == (1, 1):
            sh, sw = self.strides
            return self._apply(xp[:, :(ho - 1) * sh + 1:sh,
                                  :(wo - 1) * sw + 1:sw, None, :])
        return self._dense_windows(xp, ho, wo)

    def _dense_windows(self, xp, ho, wo):
        return self._apply(self._windows(xp, ho, wo))

    def update(self, y, delta, changed):
        b, h, w, _ = delta.shape
        ho, wo, pad, oi, oj = self._geom(h, w)
        out_changed = dilate_mask(changed, self.kernel_size, self.strides,
                                  self.dilation, pad, (ho, wo))
        self.dense_macs = self._macs(b * ho * wo)
        n = int(np.count_nonzero(out_changed))
        if n == 0:
            self.last_macs = 0
        elif n > self.dense_above * out_changed.size:
            y += self._dense_nobias(delta)
            self.last_macs = self.dense_macs
        else:
            bi, i, j = np.nonzero(out_changed)
            dp = self._padded(delta, pad)
            rows = dp[bi[:, None], i[:, None] * self.strides[0] + oi,
                      j[:, None] * self.strides[1] + oj]
            y[bi, i, j] += self._apply(rows)
            self.last_macs = self._macs(n)
        return out_changed


class Conv2DKernel(_SpatialKernel):
    """`y = conv2d(x, kernel) + bias`, channels-last, with delta updates.

    Args:
        kernel: `(kh, kw, cin, cout)` float32 (BatchNorm already folded).
        bias: `(cout,)` or None.
        strides, padding, dilation: as `keras.layers.Conv2D`.
        dense_above: fraction of changed output pixels above which
            `update` convolves the whole delta. Defaults to 0.3.
    """

    def __init__(self, kernel, bias, strides=(1, 1), padding="same",
                 dilation=(1, 1), dense_above=None):
        super().__init__(kernel, bias, strides, padding, dilation,
                         dense_above)
        kh, kw, cin, cout = self.kernel.shape
        self._matrix = self.kernel.reshape(kh * kw * cin, cout)

    def _out_channels(self):
        return self.kernel.shape[-1]

    def _macs(self, pixels):
        return int(pixels) * int(np.prod(self.kernel.shape))

    def _apply(self, windows):
        lead = windows.shape[:-2]
        flat = windows.reshape(-1, self._matrix.shape[0])
        return (flat @ self._matrix).reshape(lead + (-1,))


class DepthwiseConv2DKernel(_SpatialKernel):
    """Depthwise (`depth_multiplier=1`) version of `Conv2DKernel`;
    `kernel` is `(kh, kw, c, 1)`."""

    def __init__(self, kernel, bias, strides=(1, 1), padding="same",
                 dilation=(1, 1), dense_above=None):
        kernel = np.asarray(kernel, dtype="float32")
        if kernel.ndim != 4 or kernel.shape[-1] != 1:
            raise ValueError(
                "`kernel` must have shape (kh, kw, channels, 1) "
                f"(depth_multiplier 1). Received: kernel.shape={kernel.shape}"
            )
        super().__init__(kernel, bias, strides, padding, dilation,
                         dense_above)
        kh, kw, c, _ = self.kernel.shape
        self._taps = self.kernel.reshape(kh * kw, c)

    def _out_channels(self):
        return self.kernel.shape[2]

    def _macs(self, pixels):
        return int(pixels) * int(self._taps.size)

    def _apply(self, windows):
        return np.einsum("...kc,kc->...c", windows, self._taps)

    def _dense_windows(self, xp, ho, wo):
        (kh, kw), (sh, sw), (dh, dw) = (self.kernel_size, self.strides,
                                        self.dilation)
        y = None
        for i in range(kh):
            for j in range(kw):
                tap = xp[:, i * dh:i * dh + (ho - 1) * sh + 1:sh,
                         j * dw:j * dw + (wo - 1) * sw + 1:sw] * self._taps[
                             i * kw + j]
                y = tap if y is None else np.add(y, tap, out=y)
        return y


class DenseKernel:
    """`y = x @ kernel + bias` with delta updates of the changed inputs.

    Args:
        kernel: `(cin, cout)` float32; bias: `(cout,)` or None.
        dense_above: fraction of changed input features above which the
            whole delta is multiplied. Defaults to 0.3.
    """

    def __init__(self, kernel, bias, dense_above=None):
        self.kernel = np.ascontiguousarray(kernel, dtype="float32")
        self.bias = (np.zeros(self.kernel.shape[-1], "float32") if bias is None
                     else np.asarray(bias, dtype="float32"))
        self.dense_above = (DEFAULT_DENSE_ABOVE if dense_above is None
                            else float(dense_above))
        self.last_macs = 0
        self.dense_macs = 0

    def output_shape(self, input_shape):
        return (input_shape[0], self.kernel.shape[1])

    def dense(self, x):
        self.dense_macs = int(x.shape[0]) * self.kernel.size
        return np.asarray(x, "float32") @ self.kernel + self.bias

    def update(self, y, delta, changed):
        self.dense_macs = int(delta.shape[0]) * self.kernel.size
        columns = np.flatnonzero(changed.any(axis=0))
        if columns.size > self.dense_above * self.kernel.shape[0]:
            y += delta @ self.kernel
            self.last_macs = self.dense_macs
        elif columns.size:
            y += delta[:, columns] @ self.kernel[columns]
            self.last_macs = int(delta.shape[0]) * columns.size * (
                self.kernel.shape[1])
        else:
            self.last_macs = 0
        return changed.any(axis=1)
