"""Counted multiply-accumulates (MACs) of a Keras model on real shapes.

Convention: the "GFLOPs" of the reports are GMACs x 1e-9, i.e. one
multiply-accumulate counts as one "FLOP". This is the convention of thop
and of the video papers (ResNet-50 at 224x224 = 4.1 "GFLOPs", MobileNet v1 =
569 M mult-adds). Only the layers that multiply by weights count:
`Conv1D/2D/3D` (with `groups`), `DepthwiseConv1D/2D`, `SeparableConv1D/2D`
(depthwise + pointwise), `Conv1D/2D/3DTranspose`, `Dense` and
`EinsumDense`. Biases, pooling, BatchNormalization, activations,
element-wise ops and the sparsity slots are not counted.

The shapes are the ones seen in ONE eager forward pass of a zero batch, so
a layer inside a folded-time model (`(B*T, H, W, C)`), a nested model or a
`TimeDistributed` wrapper counts every frame, and a layer called twice
counts twice. A transposed convolution counts the multiplications it really
does (input elements x kernel x output channels), where thop counts output
elements x kernel x input channels (which includes the inserted zeros).
"""

import dataclasses
import math

import keras
import numpy as np


@dataclasses.dataclass
class MacCount:
    """The MACs of one forward pass.

    Attributes:
        total: int, the MACs of the whole pass.
        per_layer: dict layer name -> MACs (int), in call order. Layers of
            nested models are named `<model>/<layer>`.
    """

    total: int
    per_layer: dict

    @property
    def gflops(self):
        """float, `total` x 1e-9 (the "GFLOPs" of the papers: GMACs)."""
        return self.total * 1e-9


def _spatial_and_channels(shape, data_format):
    """(batch, spatial dims, channels) of a conv tensor shape."""
    shape = [int(d) for d in shape]
    if data_format == "channels_first":
        return shape[0], shape[2:], shape[1]
    return shape[0], shape[1:-1], shape[-1]


def _conv_macs(layer, input_shape, output_shape):
    fmt = getattr(layer, "data_format", "channels_last")
    batch, in_spatial, in_channels = _spatial_and_channels(input_shape, fmt)
    _, out_spatial, out_channels = _spatial_and_channels(output_shape, fmt)
    kernel = math.prod(layer.kernel_size)
    if isinstance(layer, (keras.layers.DepthwiseConv1D,
                          keras.layers.DepthwiseConv2D)):
        return batch * math.prod(out_spatial) * out_channels * kernel
    if isinstance(layer, (keras.layers.SeparableConv1D,
                          keras.layers.SeparableConv2D)):
        depth = in_channels * layer.depth_multiplier
        positions = batch * math.prod(out_spatial)
        return positions * depth * kernel + positions * depth * out_channels
    if isinstance(layer, (keras.layers.Conv1DTranspose,
                          keras.layers.Conv2DTranspose,
                          keras.layers.Conv3DTranspose)):
        return batch * math.prod(in_spatial) * in_channels * kernel * (
            out_channels)
    groups = getattr(layer, "groups", 1) or 1
    return batch * math.prod(out_spatial) * out_channels * kernel * (
        in_channels // groups)


def _dense_macs(layer, input_shape, output_shape):
    del output_shape
    shape = [int(d) for d in input_shape]
    return math.prod(shape[:-1]) * shape[-1] * int(layer.units)


def _einsum_dense_macs(layer, input_shape, output_shape):
    del input_shape
    equation = layer.equation.replace(" ", "")
    operands, output = equation.split("->")
    kernel_spec = operands.split(",")[1]
    kernel_shape = tuple(layer.kernel.shape)
    contracted = [size for letter, size in zip(kernel_spec, kernel_shape)
                  if letter not in output]
    return math.prod(int(d) for d in output_shape) * math.prod(contracted)


# Checked in this order (SeparableConv and Depthwise before BaseConv).
_COUNTERS = (
    ((keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
      keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D,
      keras.layers.SeparableConv1D, keras.layers.SeparableConv2D,
      keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
      keras.layers.Conv3DTranspose), _conv_macs),
    ((keras.layers.EinsumDense,), _einsum_dense_macs),
    ((keras.layers.Dense,), _dense_macs),
)


def _counter(layer):
    for classes, counter in _COUNTERS:
        if isinstance(layer, classes):
            return counter
    return None


def _named_layers(model):
    """(qualified name, layer) of every layer below `model`, depth first."""
    seen = set()

    def walk(parent, prefix):
        for layer in parent._flatten_layers(include_self=False,
                                            recursive=False):
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            name = f"{prefix}{layer.name}"
            yield name, layer
            yield from walk(layer, f"{name}/")

    yield from walk(model, "")


def _first_tensor(value):
    while isinstance(value, (list, tuple)):
        value = value[0]
    return value


def count_macs(model, input_shape):
    """Counts the multiply-accumulates of one forward pass of `model`.

    Runs `model` once, eagerly and in inference mode, on zeros of
    `input_shape` while every counted layer records the shapes it sees (its
    `call` is wrapped for the pass and restored afterwards). See the module
    docstring for what counts; "GFLOPs" = `MacCount.total * 1e-9`.

    Args:
        model: a built Keras model (Functional, Sequential or subclassed).
        input_shape: tuple of ints, the input shape WITH the batch axis,
            e.g. `(1, 16, 224, 224, 3)` for one 16-frame clip.

    Returns:
        A `MacCount(total, per_layer)`.

    Raises:
        ValueError: if `input_shape` is not a tuple of positive ints, or
            its rank differs from the model's input.

    Example:
    >>> model = keras.Sequential([keras.Input((8, 8, 3)),
    ...     keras.layers.Conv2D(4, 3, padding="same", name="conv"),
    ...     keras.layers.Flatten(), keras.layers.Dense(2, name="fc")])
    >>> count = count_macs(model, (1, 8, 8, 3))
    >>> count.per_layer
    {'conv': 6912, 'fc': 512}
    """
    if not isinstance(input_shape, (tuple, list)) or not input_shape or any(
            isinstance(d, bool) or not isinstance(d, (int, np.integer))
            or d < 1 for d in input_shape):
        raise ValueError(
            "`input_shape` must be a tuple of positive ints including the "
            "batch axis, e.g. (1, 16, 224, 224, 3). "
            f"Received: input_shape={input_shape!r}")
    inputs = getattr(model, "inputs", None)
    if inputs and len(inputs) == 1 and inputs[0].shape is not None and len(
            inputs[0].shape) != len(input_shape):
        raise ValueError(
            f"`input_shape` must have rank {len(inputs[0].shape)} (the "
            f"model's input {tuple(inputs[0].shape)}, batch axis included). "
            f"Received: input_shape={tuple(input_shape)}")
    per_layer = {}
    wrapped = []

    def wrap(name, layer, counter):
        original = layer.call

        def call(*args, **kwargs):
            outputs = original(*args, **kwargs)
            macs = counter(layer, tuple(_first_tensor(args).shape),
                           tuple(_first_tensor(outputs).shape))
            per_layer[name] = per_layer.get(name, 0) + int(macs)
            return outputs

        object.__setattr__(layer, "call", call)
        wrapped.append(layer)

    try:
        for name, layer in _named_layers(model):
            counter = _counter(layer)
            if counter is not None:
                wrap(name, layer, counter)
        zeros = np.zeros(tuple(int(d) for d in input_shape), "float32")
        model(zeros, training=False)
    finally:
        for layer in wrapped:
            del layer.__dict__["call"]
    return MacCount(total=int(sum(per_layer.values())), per_layer=per_layer)


__all__ = ["MacCount", "count_macs"]
