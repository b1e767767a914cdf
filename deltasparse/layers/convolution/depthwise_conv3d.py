"""`DepthwiseConv3D`: a grouped `Conv3D` (groups = channels) computed as
2-D depthwise convolutions over time folded into the batch."""

import keras
from keras import ops


def _static_or_maximum(value, minimum):
    """`max(value, minimum)` for a Python int or a backend scalar tensor."""
    if isinstance(value, int):
        return max(value, minimum)
    return ops.maximum(value, minimum)


def _time_window(time_steps, kernel, stride, padding):
    """(pad before, pad after, output steps) of the time axis.

    Keras/TensorFlow `Conv3D` semantics: `"valid"` pads nothing; `"same"`
    gives `ceil(T / stride)` steps and pads `max((out - 1) * stride + kernel
    - T, 0)` zeros in total, the smaller half before. `time_steps` may be a
    Python int or a scalar tensor (clip length unknown when tracing).
    """
    if padding == "valid":
        return 0, 0, (time_steps - kernel) // stride + 1
    steps = (time_steps + stride - 1) // stride
    total = _static_or_maximum((steps - 1) * stride + kernel - time_steps, 0)
    before = total // 2
    return before, total - before, steps


def _pad_time(inputs, before, after):
    """`inputs` with `before` and `after` zero frames on the time axis.

    Concatenation, not `ops.pad`: on TensorFlow CPU with oneDNN, a graph
    rewrite of `Pad` followed by these strided time slices returned the
    whole padded tensor for one slice inside MobileNetV2-3D ("AddN must
    have the same size and shape"; gone with TF_ENABLE_ONEDNN_OPTS=0 or
    grappler off).
    """
    shape = ops.shape(inputs)
    parts = []
    if not (isinstance(before, int) and before == 0):
        parts.append(ops.zeros((shape[0], before) + tuple(shape[2:]),
                               inputs.dtype))
    parts.append(inputs)
    if not (isinstance(after, int) and after == 0):
        parts.append(ops.zeros((shape[0], after) + tuple(shape[2:]),
                               inputs.dtype))
    return ops.concatenate(parts, axis=1)


@keras.saving.register_keras_serializable(package="deltasparse")
class DepthwiseConv3D(keras.layers.Conv3D):
    """3-D depthwise convolution: `Conv3D(groups=filters)`, one filter per
    input channel, run as 2-D depthwise convolutions over folded time.

    The weights, the `kernel` shape `(kt, kh, kw, 1, channels)`, the
    config and `isinstance(layer, keras.layers.Conv3D)` are those of
    `keras.layers.Conv3D(channels, kernel_size, groups=channels)`, so MAC
    counting (`deltasparse.evaluation.count_macs`), 2-D weight inflation
    (`deltasparse.models.weight_inflation`) and weight files treat both
    alike. Only the computation differs: for every temporal tap `k` the
    clip is sliced at times `k, k + st, k + 2 st, ...` (after the time
    padding), the slice is folded into the batch, and one
    `keras.ops.depthwise_conv` (2-D, with the kernel slice `kernel[k]` and
    the spatial strides and padding) runs on it; the `kt` results are
    summed, then the bias and activation are applied as in `Conv3D`.

    Why: TensorFlow has no CPU kernel for grouped 3-D convolutions, and
    Keras runs them as an XLA-compiled grouped convolution that is orders
    of magnitude slower on CPU than TensorFlow's native 2-D depthwise
    kernel (one layer, batch 2, 8x28x28x96: about 2.4 s against 10 ms).
    The results agree to float32 rounding (the summation order differs).

    `filters` (= `groups` = input channels) may be left out: it is then
    taken from the input at `build`. `get_config` stores it once built, so
    `from_config` rebuilds the same layer.

    Args:
        kernel_size: int or tuple of 3 ints `(kt, kh, kw)`.
        strides: int or tuple of 3 ints. Defaults to `(1, 1, 1)`.
        padding: `"valid"` or `"same"` (Keras/TensorFlow semantics: for
            `"same"` with stride > 1, the smaller half of the padding goes
            before). Defaults to `"valid"`.
        filters: int or `None`, the number of channels (input = output).
            Defaults to `None` (taken from the input).
        groups: int or `None`; when given it must equal `filters`. It
            exists so that the `Conv3D` config round-trips. Defaults to
            `None`.
        data_format: only `"channels_last"` (or `None` with that image data
            format).
        dilation_rate: only 1.
        use_bias: bool. Defaults to `False` (the 3-D families' depthwise
            convolutions are followed by BatchNorm).
        **kwargs: the other `keras.layers.Conv3D` arguments (`activation`,
            initializers, regularizers, constraints) and base layer keyword
            arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor `(batch, time, height, width, channels)`; `time` may
            be unknown (`None`) when tracing.

    Returns:
        Tensor `(batch, out_time, out_height, out_width, channels)`, as
        `Conv3D(channels, kernel_size, strides, padding, groups=channels)`.

    Raises:
        ValueError: for `filters` and `groups` that differ, a dilation other
            than 1, `channels_first`, or an input whose channel count is not
            `filters`.

    Example:
    >>> import numpy as np
    >>> layer = DepthwiseConv3D(3, strides=(1, 2, 2), padding="same")
    >>> tuple(layer(np.ones((1, 4, 8, 8, 5), "float32")).shape)
    (1, 4, 4, 4, 5)
    >>> tuple(layer.kernel.shape), layer.groups
    ((3, 3, 3, 1, 5), 5)
    """

    def __init__(self, kernel_size, strides=(1, 1, 1), padding="valid",
                 filters=None, groups=None, data_format=None,
                 dilation_rate=(1, 1, 1), use_bias=False, **kwargs):
        if filters is not None and groups is not None and filters != groups:
            raise ValueError(
                "`filters` and `groups` of a DepthwiseConv3D must be equal "
                "(one filter per input channel), or left out. Received: "
                f"filters={filters}, groups={groups}")
        channels = filters if filters is not None else groups
        super().__init__(filters=channels, kernel_size=kernel_size,
                         strides=strides, padding=padding,
                         data_format=data_format,
                         dilation_rate=dilation_rate,
                         groups=channels or 1, use_bias=use_bias, **kwargs)
        if any(d != 1 for d in self.dilation_rate):
            raise ValueError(
                "`dilation_rate` of a DepthwiseConv3D must be 1 (dilated "
                "kernels are not implemented). Received: "
                f"dilation_rate={dilation_rate}")
        if self.data_format != "channels_last":
            raise ValueError(
                "`data_format` of a DepthwiseConv3D must be "
                "'channels_last'. Received: "
                f"data_format={self.data_format!r}")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "The channel axis of a DepthwiseConv3D input must be known. "
                f"Received: input_shape={tuple(input_shape)}")
        if self.filters is None:
            self.filters = self.groups = int(channels)
        elif channels != self.filters:
            raise ValueError(
                f"A DepthwiseConv3D with filters={self.filters} needs inputs "
                f"with {self.filters} channels. Received: "
                f"input_shape={tuple(input_shape)}")
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        kernel_time, kernel_height, kernel_width = self.kernel_size
        stride_time = self.strides[0]
        batch, time_steps, height, width, channels = ops.shape(inputs)
        before, after, steps = _time_window(time_steps, kernel_time,
                                            stride_time, self.padding)
        if not (isinstance(before, int) and before == 0 and after == 0):
            inputs = _pad_time(inputs, before, after)
        span = (steps - 1) * stride_time + 1
        outputs = None
        for tap in range(kernel_time):
            frames = inputs[:, tap:tap + span:stride_time]
            frames = ops.reshape(frames, (-1, height, width, channels))
            tap_kernel = ops.reshape(
                kernel[tap], (kernel_height, kernel_width, channels, 1))
            response = ops.depthwise_conv(
                frames, tap_kernel, strides=self.strides[1:],
                padding=self.padding, data_format="channels_last")
            outputs = response if outputs is None else outputs + response
        out_height, out_width = outputs.shape[1], outputs.shape[2]
        if out_height is None or out_width is None:
            out_height, out_width = ops.shape(outputs)[1:3]
        return ops.reshape(outputs, (batch, steps, out_height, out_width,
                                     channels))

    def compute_output_shape(self, input_shape):
        if self.filters is None:  # not built yet: channels kept
            shape = super().compute_output_shape(input_shape)
            return tuple(shape[:-1]) + (input_shape[-1],)
        return super().compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        if self.filters is None:  # not built: `groups` is not known either
            config["groups"] = None
        return config
