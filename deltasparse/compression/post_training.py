"""Post-training quantization (PTQ): calibration of activation ranges on a
representative set, emulated weight-only and weight+activation quantization,
and the real int8 TFLite path of `deltasparse.export`.

The seed (spec A2.3, `ptq`): its YAML asks for 6-bit activations and
weights, asymmetric unsigned, per channel, `clip_acts: AVG` (activation
ranges = the average of the per-batch ranges), while its code path runs
`PostTrainLinearQuantizer(bits_activations=None, bits_weights=8)`, i.e.
weight-only 8-bit. `post_training_quantize` covers both
(`activation_bits=None` is the code path; `activation_bits=6` with
`calibration="average"` the YAML). Emulation means fake quantization in
float ("simulated int8"): it measures the accuracy cost, not the speed of
integer kernels. The accuracy itself is the caller's to evaluate (e.g.
`deltasparse.evaluation.evaluate_videos` on the returned model).
"""

import dataclasses
import os
import shutil
import tempfile

import keras
import numpy as np

from deltasparse.compression.quantization import QuantizationConfig
from deltasparse.compression.quantization import export_float
from deltasparse.compression.quantization import quantize_model
from deltasparse.layers.quantization import ActivationQuantizer
from deltasparse.layers.quantization import WeightQuantization
from deltasparse.models.sparsity_slots import sparsity_statistics_disabled

CALIBRATION_METHODS = ("ema", "minmax", "average")


def _quantizers(model):
    return [layer for layer in model._flatten_layers(include_self=False,
                                                     recursive=True)
            if isinstance(layer, ActivationQuantizer)]


def _clip_batches(clips, batch_size):
    """Batches of float32 clips from an array or an iterable of batches
    (`clips` or `(clips, labels, ...)` tuples, e.g. a `tf.data.Dataset`)."""
    if isinstance(clips, np.ndarray) or (
            hasattr(clips, "shape") and not hasattr(clips, "element_spec")):
        array = np.asarray(clips, "float32")
        if array.ndim < 2 or len(array) == 0:
            raise ValueError(
                "`clips` must be a non-empty batch of clips (N, T, H, W, C) "
                f"or an iterable of batches. Received: clips.shape="
                f"{array.shape}")
        for start in range(0, len(array), batch_size):
            yield array[start:start + batch_size]
        return
    for batch in clips:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        elif isinstance(batch, dict):
            batch = next(iter(batch.values()))
        yield batch


def calibrate(qat_model, clips, steps=None, method="minmax", batch_size=8,
              reset=True):
    """Sets the activation ranges of a quantized model from example clips.

    The model runs in inference mode (`training=False`: BatchNormalization
    uses its moving statistics, dropout is off, no weight changes, the
    sparsity statistics are not summed); only its `ActivationQuantizer`s
    update their ranges, in calibration mode:

    - `"minmax"`: the minimum and maximum over all calibration batches;
    - `"average"`: the mean over batches of each batch's minimum and
      maximum (Distiller's `clip_acts: AVG`, the seed's PTQ YAML);
    - `"ema"`: the debiased exponential moving average of QAT (decay of
      each quantizer).

    Args:
        qat_model: a model from `quantize_model` (or any model holding
            `ActivationQuantizer`s).
        clips: float32 array `(N, T, H, W, C)`, or an iterable of batches
            (arrays or `(clips, labels, ...)` tuples; a `tf.data.Dataset`).
        steps: int or None, the number of batches used (None: all).
        method: `"minmax"`, `"average"` or `"ema"`. Defaults to `"minmax"`.
        batch_size: int, batch size for an array `clips`. Defaults to `8`.
        reset: bool, forget the ranges tracked so far first. Defaults to
            `True`.

    Returns:
        dict `{quantizer name: (minimum, maximum)}` (floats).

    Raises:
        ValueError: for a model without quantizers, an unknown method, no
            batches, or invalid arguments.

    Example:
    >>> from deltasparse.compression.quantization import quantize_model
    >>> inputs = keras.Input((4,), name="frames")
    >>> qat = quantize_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
    >>> ranges = calibrate(qat, np.linspace(-1, 3, 8).reshape(2, 4))
    >>> [round(value, 3) for value in ranges["frames_quantizer"]]
    [-1.0, 3.0]
    """
    if method not in CALIBRATION_METHODS:
        raise ValueError(
            f"`method` must be one of {CALIBRATION_METHODS}. "
            f"Received: method={method!r}")
    if steps is not None and (isinstance(steps, bool) or not isinstance(
            steps, int) or steps < 1):
        raise ValueError(
            f"`steps` must be None or an int >= 1. Received: steps={steps!r}")
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, int) or batch_size < 1:
        raise ValueError(
            "`batch_size` must be an int >= 1. "
            f"Received: batch_size={batch_size!r}")
    quantizers = _quantizers(qat_model)
    if not quantizers:
        raise ValueError(
            "`qat_model` holds no ActivationQuantizer (weight-only "
            "quantization needs no calibration). Received: "
            f"qat_model={qat_model.name!r}")
    used = 0
    try:
        for quantizer in quantizers:
            if reset:
                quantizer.reset_range()
            quantizer.calibration = method
        with sparsity_statistics_disabled(qat_model):
            for batch in _clip_batches(clips, batch_size):
                if steps is not None and used >= steps:
                    break
                qat_model(batch, training=False)
                used += 1
    finally:
        for quantizer in quantizers:
            quantizer.calibration = None
    if used == 0:
        raise ValueError(
            "`clips` gave no batch to calibrate on. Received: clips with "
            "no batches")
    return {q.name: (float(keras.ops.convert_to_numpy(q.minimum.value)),
                     float(keras.ops.convert_to_numpy(q.maximum.value)))
            for q in quantizers}


def post_training_quantize(model, representative_clips, weight_bits=8,
                           activation_bits=None, per_channel=True,
                           symmetric=False, calibration="average", steps=None,
                           batch_size=8):
    """An emulated (fake-quantized) copy of a trained float model.

    Weights are quantized per output channel (or per kernel) from their own
    range; with `activation_bits`, `ActivationQuantizer`s (see
    `quantize_model`) are calibrated on `representative_clips` and then
    fixed (they only change in training or calibration).

    Args:
        model: a trained float `keras.Model`.
        representative_clips: clips as `calibrate` takes them (used only
            with `activation_bits`).
        weight_bits: int in 2..16. Defaults to `8` (the seed's code path).
        activation_bits: None (weight-only, the seed's code path), or an
            int in 2..16 (`8`; `6` = the seed's YAML). Defaults to `None`.
        per_channel: bool. Defaults to `True`.
        symmetric: bool, symmetric grids for weights and activations.
            Defaults to `False` (asymmetric unsigned, the seed's).
        calibration: a `calibrate` method. Defaults to `"average"` (the
            seed's `clip_acts: AVG`).
        steps: int or None, calibration batches.
        batch_size: int, calibration batch size for an array.

    Returns:
        The quantized `keras.Model` (QAT layers, ranges calibrated); use
        `export_float` for a stock-layer model of its weights.

    Example:
    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    >>> emulated = post_training_quantize(model, None, weight_bits=8)
    >>> type(emulated.layers[-1]).__name__
    'QuantizedDense'
    """
    config = QuantizationConfig(
        weight_bits=weight_bits, activation_bits=activation_bits,
        weight_symmetric=symmetric, activation_symmetric=symmetric,
        per_channel=per_channel)
    quantized = quantize_model(model, config)
    if activation_bits is not None:
        calibrate(quantized, representative_clips, steps=steps,
                  method=calibration, batch_size=batch_size)
    return quantized


class _FoldedPooling3D(keras.layers.Layer):
    """A `"valid"`, channels-last `MaxPooling3D` / `AveragePooling3D` as 2-D
    pooling over time folded into the batch plus a max / mean over the
    temporal taps (strided slices): ops that TFLite has as int8 builtins
    (`MAX_POOL_2D`, `AVERAGE_POOL_2D`, `STRIDED_SLICE`), where `MaxPool3D`
    and `AvgPool3D` exist only as TF Select ops, which the int8
    calibrator cannot run. Used only inside `tflite_int8`; not saved."""

    def __init__(self, pool_size, strides, reduction, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides)
        self.reduction = reduction

    def call(self, inputs):
        kernel_time, stride_time = self.pool_size[0], self.strides[0]
        time_steps, height, width, channels = inputs.shape[1:]
        steps = (time_steps - kernel_time) // stride_time + 1
        span = (steps - 1) * stride_time + 1
        pool = (keras.ops.max_pool if self.reduction == "max"
                else keras.ops.average_pool)
        outputs = None
        for tap in range(kernel_time):
            frames = inputs[:, tap:tap + span:stride_time]
            frames = keras.ops.reshape(frames, (-1, height, width, channels))
            response = pool(frames, self.pool_size[1:], self.strides[1:],
                            padding="valid", data_format="channels_last")
            if outputs is None:
                outputs = response
            elif self.reduction == "max":
                outputs = keras.ops.maximum(outputs, response)
            else:
                outputs = outputs + response
        if self.reduction == "average" and kernel_time > 1:
            outputs = outputs / kernel_time
        return keras.ops.reshape(
            outputs, (-1, steps) + tuple(outputs.shape[1:]))


def builtin_pooling(model):
    """`model` with its `"valid"`, channels-last 3-D pooling layers computed
    by TFLite builtin ops (same outputs to float rounding).

    TFLite has no builtin `MaxPool3D` / `AvgPool3D`; as TF Select ops they
    stop full-integer conversion (the int8 calibrator runs the model
    without the Flex runtime). `tflite_int8` applies this rewrite; other
    pooling layers (`"same"` padding, unknown clip length) are kept.

    Args:
        model: a functional `keras.Model` with a static clip length.

    Returns:
        A plain functional `keras.Model` (for conversion only: the rewritten
        layers are not serializable).

    Example:
    >>> inputs = keras.Input((4, 8, 8, 2))
    >>> pooled = keras.layers.MaxPooling3D(2)(inputs)
    >>> model = keras.Model(inputs, pooled)
    >>> x = np.random.default_rng(0).normal(size=(1, 4, 8, 8, 2))
    >>> bool(np.allclose(builtin_pooling(model)(x), model(x)))
    True
    """
    pairs = []

    def clone_layer(layer):
        reduction = {keras.layers.MaxPooling3D: "max",
                     keras.layers.AveragePooling3D: "average"}.get(type(layer))
        shape = tuple(layer.input.shape[1:]) if reduction else ()
        if (reduction is None or layer.padding != "valid"
                or layer.data_format != "channels_last" or None in shape):
            clone = layer.__class__.from_config(layer.get_config())
            pairs.append((layer, clone))
            return clone
        return _FoldedPooling3D(layer.pool_size, layer.strides, reduction,
                                name=layer.name)

    clone = keras.models.clone_model(model, clone_function=clone_layer,
                                     recursive=True)
    for original, copy in pairs:
        if original.weights:
            copy.set_weights(original.get_weights())
    return clone


def _with_static_input(model, shape):
    """A flat copy of `model` on an input of `shape` (its weights copied
    layer by layer, by name)."""
    originals = {layer.name: layer for layer in model._flatten_layers(
        include_self=False, recursive=True)}
    copy = keras.models.clone_model(model, input_tensors=keras.Input(shape),
                                    recursive=True)
    for layer in copy.layers:
        if layer.weights:
            layer.set_weights(originals[layer.name].get_weights())
    return copy


@dataclasses.dataclass
class TFLiteInt8Result:
    """What `tflite_int8` wrote.

    Attributes:
        path: str, the `.tflite` file.
        size_bytes: int, its size.
        ops_set: str, the op set that converted and ran (`"TFLITE_BUILTINS"`
            or with `SELECT_TF_OPS`).
        builtins_error: str or None, why builtins alone did not work.
        float_ops: list of `{"op", "layer"}`, computing ops left in float.
        float_layers: sorted list of the Keras layers of `float_ops`.
        flex_ops: sorted list of the TF Select (`Flex*`) ops.
        op_counts: dict `{op name: count}` of the whole model.
    """

    path: str
    size_bytes: int
    ops_set: str
    builtins_error: object
    float_ops: list
    float_layers: list
    flex_ops: list
    op_counts: dict

    def to_dict(self):
        return dataclasses.asdict(self)


def tflite_int8(model, representative_clips, path):
    """Converts `model` to a full-integer (int8) TFLite model.

    Through `deltasparse.export`: a SavedModel (`write_saved_model`),
    `convert_tflite` in `"tflite_int8"` mode calibrated on
    `representative_clips` (builtins first, TF Select when needed), then
    `float_ops` / `flex_ops` on the result. A QAT model is first turned
    into its float twin (`export_float`): TFLite calibrates its own
    activation ranges. The 3-D pooling layers are rewritten first
    (`builtin_pooling`): TFLite has them only as TF Select ops, and the
    int8 calibrator cannot run those (a resnet3d stem's `MaxPool3D` made
    every op set fail). Inputs and outputs stay float32.

    The converter quantizes CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and
    most element-wise ops; CONV_3D (and the 3-D pooling ops) have no int8
    kernel and stay float between QUANTIZE/DEQUANTIZE pairs; a grouped
    Conv3D needs `FlexConv3D` (spec A2.7). `float_ops` says which.

    Args:
        model: a `keras.Model` taking clips `(batch, T, H, W, C)`.
        representative_clips: float32 `(N, T, H, W, C)`, N >= 1.
        path: str, the `.tflite` file to write (atomically).

    Returns:
        `TFLiteInt8Result`.

    Raises:
        ValueError: for clips of the wrong shape.

    Example:
    >>> result = tflite_int8(model, clips, "model_int8.tflite")  # doctest: +SKIP
    >>> result.float_layers  # doctest: +SKIP
    ['conv1_conv', ...]
    """
    from deltasparse.export.formats import convert_tflite
    from deltasparse.export.formats import write_saved_model
    from deltasparse.export.tflite_inspection import flex_ops
    from deltasparse.export.tflite_inspection import float_ops
    from deltasparse.export.tflite_inspection import tflite_ops

    clips = np.asarray(representative_clips, "float32")
    expected = tuple(model.input_shape[1:])
    if clips.ndim != len(expected) + 1 or len(clips) == 0 or any(
            e is not None and e != c for e, c in zip(expected, clips.shape[1:])):
        raise ValueError(
            "`representative_clips` must be a non-empty float array "
            f"(N, *{expected}). Received: representative_clips.shape="
            f"{clips.shape}")
    if any(isinstance(layer, (WeightQuantization, ActivationQuantizer))
           for layer in model._flatten_layers(include_self=False,
                                              recursive=True)):
        model = export_float(model)
    if None in tuple(model.input_shape[1:]):
        # A free clip length (the 3-D presets' default) hides the pooling
        # windows' shapes from `builtin_pooling`: the same layers on a
        # static input of the clips' shape.
        model = _with_static_input(model, clips.shape[1:])
    model = builtin_pooling(model)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    workspace = tempfile.mkdtemp(prefix=".tflite-int8-", dir=folder)
    try:
        saved_model = write_saved_model(
            model, os.path.join(workspace, "saved_model"),
            (None,) + tuple(clips.shape[1:]))
        content, ops_set, builtins_error = convert_tflite(
            saved_model, "tflite_int8", clips, check_clip=clips[0])
        tmp = os.path.join(workspace, "model.tflite")
        with open(tmp, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    names = [layer.name for layer in model._flatten_layers(
        include_self=False, recursive=True)]
    stays_float = float_ops(path, names)
    counts = {}
    for op in tflite_ops(path):
        counts[op["op"]] = counts.get(op["op"], 0) + 1
    return TFLiteInt8Result(
        path=path, size_bytes=os.path.getsize(path), ops_set=ops_set,
        builtins_error=builtins_error, float_ops=stays_float,
        float_layers=sorted({op["layer"] for op in stays_float}),
        flex_ops=flex_ops(path), op_counts=counts)


__all__ = ["CALIBRATION_METHODS", "TFLiteInt8Result", "builtin_pooling",
           "calibrate",
           "post_training_quantize", "tflite_int8"]
