"""Turns a functional Keras video model into a per-frame program.

`build_program(model)` walks the functional graph backwards from the
model's output and returns a `Program`: a topologically ordered list of
`Step`s, each one per-frame operation on `(batch, ...)` tensors:

- `"input"`: the frame;
- `"linear"`: a `Conv2D`, `DepthwiseConv2D` or `Dense` with every directly
  following inference-mode `BatchNormalization` folded into its kernel and
  bias;
- `"pointwise"`: a chain of per-pixel functions (`affine` for a
  BatchNormalization that could not be folded, `relu`, `softmax`, `bias`,
  `quantize` for the `DeltaActivation` quantizer), fused across
  consecutive layers;
- `"add"`, `"pad"`, `"maxpool"`, `"gap"` (global average pooling, also an
  `AveragePooling2D` whose window covers the whole map), `"reshape"`.

Time folding (`FoldTime`, `UnfoldTime`), `Dropout`, the
`SparsityAccumulator` and `InputLayer` are identities per frame; the
temporal mean (`GlobalAveragePooling1D` over an `UnfoldTime`) becomes the
program's `consensus="mean"`. Anything else raises one `ValueError` naming
the layer and its class.
"""

import dataclasses

import keras
import numpy as np

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.models.sparsity_slots import SparsityAccumulator

_IDENTITY_LAYERS = (keras.layers.Dropout, SparsityAccumulator, FoldTime,
                    UnfoldTime, keras.layers.InputLayer)


@dataclasses.dataclass
class Step:
    """One per-frame operation of a `Program`.

    Args:
        kind: `"input"`, `"linear"`, `"pointwise"`, `"add"`, `"pad"`,
            `"maxpool"`, `"gap"` or `"reshape"`.
        name: name of the (first) Keras layer it comes from.
        inputs: list of indices of earlier steps.
        shape: per-frame output shape (without the batch axis).
        params: dict of the kind's parameters (NumPy arrays, tuples).
    """

    kind: str
    name: str
    inputs: list
    shape: tuple
    params: dict


@dataclasses.dataclass
class Program:
    """A per-frame program: `steps` in topological order, the index of the
    `output` step and the temporal `consensus` of the model (`"mean"`: the
    model averages the per-frame outputs over time, `"frames"`: it returns
    them `(B, T, ...)`, `"folded"`: `(B*T, ...)`)."""

    steps: list
    output: int
    consensus: str


def unsupported(layer, why=""):
    return ValueError(
        f"Layer '{layer.name}' (class `{type(layer).__name__}`) is not "
        "supported by `StreamingDeltaModel`" + (f": {why}" if why else "")
        + ". Supported: Conv2D, DepthwiseConv2D (depth_multiplier 1), Dense, "
        "BatchNormalization, ReLU, Activation (relu, relu6, softmax, "
        "linear), DeltaActivation (delta_level 0, no sigma, no max_pooling), "
        "ZeroPadding2D, MaxPooling2D, Add, GlobalAveragePooling2D, global "
        "AveragePooling2D, Reshape, Flatten, Dropout, FoldTime, UnfoldTime. "
        f"Received: layer={layer.name!r}"
    )


def _activation_fns(layer, activation):
    """Pointwise functions of a Keras activation (a function or a name)."""
    name = activation if isinstance(activation, str) else getattr(
        activation, "__name__", str(activation))
    if name in ("linear", None):
        return []
    if name == "relu":
        return [("relu", None)]
    if name == "relu6":
        return [("relu", 6.0)]
    if name == "softmax":
        return [("softmax",)]
    raise unsupported(layer, f"activation {name!r}")


def _np(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float32")


def _check_channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise unsupported(layer, "only data_format='channels_last'")


class _Walker:
    def __init__(self):
        self.steps = []
        self.memo = {}

    def add(self, kind, name, inputs, shape, params):
        self.steps.append(Step(kind, name, list(inputs), tuple(shape),
                               params))
        return len(self.steps) - 1

    def visit(self, tensor):
        """Index of the step computing `tensor` (per frame), and whether
        the tensor is unfolded `(B, T, ...)`."""
        key = id(tensor)
        if key in self.memo:
            return self.memo[key]
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if isinstance(layer, keras.layers.InputLayer) or node.is_input:
            shape = tuple(tensor.shape)
            if len(shape) != 5:
                raise ValueError(
                    "`model` must take clips `(batch, time, height, width, "
                    "channels)`. Received: input shape "
                    f"{shape}"
                )
            result = (self.add("input", layer.name, [], shape[2:], {}), True)
        else:
            result = self.visit_layer(layer, node, tensor)
        self.memo[key] = result
        return result

    def visit_layer(self, layer, node, tensor):
        first = node.arguments.args[0]
        if isinstance(layer, keras.layers.Add):
            parents = [self.visit(t) for t in first]
            index = self.add("add", layer.name, [p[0] for p in parents],
                             self.steps[parents[0][0]].shape, {})
            return index, parents[0][1]
        if isinstance(first, (list, tuple)):
            if not isinstance(layer, SparsityAccumulator):
                raise unsupported(layer, "several inputs")
            first = first[0]
        parent, unfolded = self.visit(first)
        if isinstance(layer, FoldTime):
            return parent, False
        if isinstance(layer, UnfoldTime):
            return parent, True
        if isinstance(layer, _IDENTITY_LAYERS):
            return parent, unfolded
        out_shape = tuple(tensor.shape)[2 if unfolded else 1:]
        return self.make(layer, parent, out_shape), unfolded

    def make(self, layer, parent, shape):
        in_shape = self.steps[parent].shape
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _check_channels_last(layer)
            if layer.depth_multiplier != 1:
                raise unsupported(layer, "depth_multiplier must be 1")
            return self.linear(layer, parent, shape, "depthwise",
                               layer.kernel, strides=tuple(layer.strides),
                               padding=layer.padding,
                               dilation=tuple(layer.dilation_rate))
        if isinstance(layer, keras.layers.Conv2D):
            _check_channels_last(layer)
            if getattr(layer, "groups", 1) != 1:
                raise unsupported(layer, "groups must be 1")
            return self.linear(layer, parent, shape, "conv", layer.kernel,
                               strides=tuple(layer.strides),
                               padding=layer.padding,
                               dilation=tuple(layer.dilation_rate))
        if isinstance(layer, keras.layers.Dense):
            if len(in_shape) != 1:
                raise unsupported(layer, "Dense only on (batch, features)")
            return self.linear(layer, parent, shape, "dense", layer.kernel)
        if isinstance(layer, keras.layers.BatchNormalization):
            if layer.axis not in (-1, len(in_shape)):
                raise unsupported(layer, "only axis=-1")
            inv = 1.0 / np.sqrt(_np(layer.moving_variance) + np.float32(
                layer.epsilon)).astype("float32")
            scale = inv * (_np(layer.gamma) if layer.scale else 1.0)
            shift = (_np(layer.beta) if layer.center else 0.0) - _np(
                layer.moving_mean) * scale
            return self.pointwise(layer, parent, shape,
                                  [("affine", scale.astype("float32"),
                                    np.float32(shift))])
        if isinstance(layer, keras.layers.ReLU):
            if float(layer.negative_slope) != 0 or float(layer.threshold) != 0:
                raise unsupported(layer, "negative_slope and threshold "
                                  "must be 0")
            max_value = None if layer.max_value is None else float(
                layer.max_value)
            return self.pointwise(layer, parent, shape,
                                  [("relu", max_value)])
        if isinstance(layer, keras.layers.Activation):
            return self.pointwise(layer, parent, shape,
                                  _activation_fns(layer, layer.activation))
        if isinstance(layer, DeltaActivation):
            return self.pointwise(layer, parent, shape, self.delta_fns(
                layer, in_shape))
        if isinstance(layer, keras.layers.ZeroPadding2D):
            _check_channels_last(layer)
            amounts = tuple(tuple(int(v) for v in p) for p in layer.padding)
            return self.add("pad", layer.name, [parent], shape,
                            {"pads": amounts})
        if isinstance(layer, keras.layers.MaxPooling2D):
            _check_channels_last(layer)
            return self.add("maxpool", layer.name, [parent], shape, {
                "pool_size": tuple(layer.pool_size),
                "strides": tuple(layer.strides),
                "padding": layer.padding})
        if isinstance(layer, keras.layers.GlobalAveragePooling2D):
            _check_channels_last(layer)
            return self.add("gap", layer.name, [parent], shape, {})
        if isinstance(layer, keras.layers.AveragePooling2D):
            _check_channels_last(layer)
            if tuple(shape[:2]) != (1, 1) or tuple(layer.pool_size) != tuple(
                    in_shape[:2]):
                raise unsupported(layer, "only a window covering the whole "
                                  "map (a global average)")
            return self.add("gap", layer.name, [parent], shape, {})
        if isinstance(layer, (keras.layers.Reshape, keras.layers.Flatten)):
            pixels_in = int(np.prod(in_shape[:-1]))
            pixels_out = int(np.prod(shape[:-1]))
            if shape[-1] != in_shape[-1] or pixels_in != pixels_out:
                raise unsupported(layer, "only reshapes that keep every "
                                  "pixel's channel vector")
            return self.add("reshape", layer.name, [parent], shape, {})
        raise unsupported(layer)

    def linear(self, layer, parent, shape, kernel_kind, kernel, **params):
        bias = _np(layer.bias) if layer.use_bias else np.zeros(
            shape[-1], "float32")
        index = self.add("linear", layer.name, [parent], shape, {
            "kernel_kind": kernel_kind, "kernel": _np(kernel), "bias": bias,
            **params})
        fns = _activation_fns(layer, layer.activation)
        if fns:
            index = self.add("pointwise", layer.name + "_activation",
                             [index], shape, {"fns": fns})
        return index

    def pointwise(self, layer, parent, shape, fns):
        if not fns:
            return parent
        return self.add("pointwise", layer.name, [parent], shape,
                        {"fns": fns})

    @staticmethod
    def delta_fns(layer, in_shape):
        if layer.sigma or layer.max_pooling is not None or (
                layer.delta_level != 0):
            raise unsupported(layer, "only delta_level=0 without sigma and "
                              "max_pooling (what the presets use)")
        fns = []
        if layer.bias is not None:
            fns.append(("bias", _np(layer.bias)))
        if layer.activation == "relu":
            fns.append(("relu", None))
        elif layer.activation == "softmax":
            fns.append(("softmax",))
        step = np.abs(_np(layer.threshold))
        if layer.threshold_level == "layer-wise":
            step = step.reshape(())
        fns.append(("quantize", step,
                    layer.threshold_level == "neuron-wise" and len(
                        in_shape) > 1, bool(np.all(step != 0))))
        return fns


def dilate_mask(changed, kernel_size, strides, dilation, pads, out_hw):
    """Output pixels `(B, Ho, Wo)` whose receptive field holds a `True` of
    the input mask `changed` `(B, H, W)` (zero padding `pads`)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = (kernel_size, strides,
                                              dilation, out_hw)
    cp = np.pad(changed, ((0, 0),) + tuple(pads)) if tuple(pads) != (
        (0, 0), (0, 0)) else changed
    out = np.zeros((changed.shape[0], ho, wo), bool)
    for i in range(kh):
        for j in range(kw):
            out |= cp[:, i * dh:i * dh + (ho - 1) * sh + 1:sh,
                      j * dw:j * dw + (wo - 1) * sw + 1:sw]
    return out


def pads(size, k, s, d, padding):
    """(out, pad_before, pad_after) of one spatial axis (TF semantics)."""
    extent = (k - 1) * d + 1
    if padding == "valid":
        return (size - extent) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + extent - size, 0)
    return out, total // 2, total - total // 2


def _consumers(steps):
    counts = [0] * len(steps)
    for step in steps:
        for i in step.inputs:
            counts[i] += 1
    return counts


def _fuse(steps, output):
    """Folds BatchNormalization into linear steps, fuses pointwise chains
    and zero padding followed by a 'valid' convolution equal to 'same'."""
    alias = {}
    counts = _consumers(steps)

    def resolve(i):
        while i in alias:
            i = alias[i]
        return i

    for index, step in enumerate(steps):
        step.inputs = [resolve(i) for i in step.inputs]
        if step.kind == "pointwise":
            parent = steps[step.inputs[0]]
            sole = counts[step.inputs[0]] == 1 and step.inputs[0] != output
            fns = list(step.params["fns"])
            if sole and parent.kind == "linear" and fns[0][0] == "affine":
                _, scale, shift = fns.pop(0)
                parent.params["kernel"] = parent.params["kernel"] * (
                    scale if parent.params["kernel_kind"] != "depthwise"
                    else scale[:, None])
                parent.params["bias"] = (parent.params["bias"] * scale
                                         + shift).astype("float32")
                if not fns:
                    alias[index] = step.inputs[0]
                    counts[step.inputs[0]] = counts[index]
                    continue
            if sole and parent.kind == "pointwise":
                parent.params["fns"] = parent.params["fns"] + fns
                alias[index] = step.inputs[0]
                counts[step.inputs[0]] = counts[index]
                continue
            step.params["fns"] = fns
        if step.kind == "linear" and step.params["kernel_kind"] != "dense":
            parent = steps[step.inputs[0]]
            if (parent.kind == "pad" and counts[step.inputs[0]] == 1
                    and step.params["padding"] == "valid"):
                kernel = step.params["kernel"]
                same = tuple(
                    pads(steps[parent.inputs[0]].shape[a], kernel.shape[a],
                         step.params["strides"][a],
                         step.params["dilation"][a], "same")[1:]
                    for a in (0, 1))
                if same == parent.params["pads"]:
                    step.params["padding"] = "same"
                    step.inputs = list(parent.inputs)
    keep = [i for i in range(len(steps)) if i not in alias]
    used = set()
    output = resolve(output)
    stack = [output]
    while stack:
        i = stack.pop()
        if i not in used:
            used.add(i)
            stack.extend(steps[i].inputs)
    keep = [i for i in keep if i in used]
    new_index = {old: new for new, old in enumerate(keep)}
    compact = []
    for old in keep:
        step = steps[old]
        step.inputs = [new_index[i] for i in step.inputs]
        compact.append(step)
    return compact, new_index[output]


def build_program(model):
    """Walks a functional video model into a fused per-frame `Program`.

    Args:
        model: a functional `keras.Model` taking clips `(batch, time,
            height, width, channels)`, e.g. a `VideoClassifier`.

    Returns:
        A `Program`.

    Raises:
        ValueError: for a layer the engine cannot run incrementally (the
            message names the layer and its class), or a model that does
            not take clips.

    Example:
    >>> from deltasparse.models.video_classifier import VideoClassifier
    >>> model = VideoClassifier.from_preset(
    ...     "mobilenet_delta", num_classes=3, image_size=(32, 32),
    ...     alpha=0.25)
    >>> program = build_program(model)
    >>> program.consensus, program.steps[0].kind
    ('mean', 'input')
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "outputs"):
        raise ValueError(
            "`model` must be a functional `keras.Model` (e.g. a "
            f"`VideoClassifier`). Received: model={model!r}"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            "`model` must have one input (clips) and one output. Received: "
            f"model with {len(model.inputs)} inputs and "
            f"{len(model.outputs)} outputs"
        )
    walker = _Walker()
    tensor = model.outputs[0]
    layer, node_index, _ = tensor._keras_history
    consensus = None
    if isinstance(layer, keras.layers.GlobalAveragePooling1D):
        inner = layer._inbound_nodes[node_index].arguments.args[0]
        if isinstance(inner._keras_history[0], UnfoldTime):
            consensus = "mean"
            tensor = inner
    output, unfolded = walker.visit(tensor)
    if consensus is None:
        consensus = "frames" if unfolded else "folded"
    steps, output = _fuse(walker.steps, output)
    return Program(steps, output, consensus)
