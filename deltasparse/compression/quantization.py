"""Quantization-aware training (QAT): `QuantizationConfig`, the seed's preset,
`quantize_model` (a model rewritten with fake-quantized layers) and the way
back to plain float Keras models (`export_float`, `dequantize`).

The seed (Distiller's `QuantAwareTrainRangeLinearQuantizer`, spec A2.3)
fake-quantizes the weights of every convolution and linear layer per output
channel from their own range, and the activations after every ReLU on a
range tracked by an exponential moving average (decay 0.999), 4 bits each,
asymmetric unsigned. `quantize_model` does the same on any Keras functional
model (a `VideoClassifier` with its backbone included) through
`keras.models.clone_model(recursive=True)`:

- `Conv2D`, `Conv3D` (grouped too), `DepthwiseConv2D`,
  `deltasparse.layers.DepthwiseConv3D` and `Dense` become their
  `deltasparse.layers.quantization` versions with the same weights;
- an `ActivationQuantizer` follows every activation layer (`ReLU`,
  `Activation`, `LeakyReLU`, `ELU`, `PReLU`; not softmax or linear), every
  quantized layer with a fused non-linear activation (not softmax), and
  the model inputs; not between an activation and the `DeltaActivation`
  that alone consumes it (the delta layer quantizes it itself);
- everything else is kept in float: BatchNormalization (Distiller's QAT
  does not fold it either), pooling, `Add`, and the sparsity layers. A
  `DeltaActivation` keeps its own learned quantizer (step `|theta|`) and
  gets no second one; `L1ActivityRegularizer` and the other sparsity
  layers see the quantized activations of the layer before them. So QAT
  composes with the delta and L1 models: their losses and statistics work
  as before. `quantization_summary` lists what was and was not quantized.
"""

import keras

from deltasparse.layers.convolution.depthwise_conv3d import DepthwiseConv3D
from deltasparse.layers.quantization import ActivationQuantizer
from deltasparse.layers.quantization import QuantizedConv2D
from deltasparse.layers.quantization import QuantizedConv3D
from deltasparse.layers.quantization import QuantizedDense
from deltasparse.layers.quantization import QuantizedDepthwiseConv2D
from deltasparse.layers.quantization import QuantizedDepthwiseConv3D
from deltasparse.layers.quantization import WeightQuantization
from deltasparse.layers.quantization.weight_quantization import check_bool
from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.sparsity_statistics import SparsityStatsLayer
from deltasparse.models.sparsity_slots import SparsityAccumulator
from deltasparse.ops.fake_quantization import check_decay
from deltasparse.ops.fake_quantization import check_num_bits

# Float layer class -> its QAT version (exact types: a subclass with its own
# computation is not assumed to compute like its base).
QUANTIZED_LAYERS = {
    keras.layers.Conv2D: QuantizedConv2D,
    keras.layers.Conv3D: QuantizedConv3D,
    keras.layers.DepthwiseConv2D: QuantizedDepthwiseConv2D,
    DepthwiseConv3D: QuantizedDepthwiseConv3D,
    keras.layers.Dense: QuantizedDense,
}
FLOAT_LAYERS = {quantized: base for base, quantized in QUANTIZED_LAYERS.items()}
ACTIVATION_LAYERS = (keras.layers.ReLU, keras.layers.Activation,
                     keras.layers.LeakyReLU, keras.layers.ELU,
                     keras.layers.PReLU)
# Activations after which no quantizer goes (probabilities, or nothing).
UNQUANTIZED_ACTIVATIONS = ("linear", "softmax", "log_softmax")
WEIGHT_ARGUMENTS = ("weight_bits", "weight_symmetric", "per_channel",
                    "narrow_range")


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizationConfig:
    """How `quantize_model` quantizes weights and activations.

    Args:
        weight_bits: int in 2..16. Defaults to `8`.
        activation_bits: int in 2..16, or `None` for weight-only
            quantization (no `ActivationQuantizer`). Defaults to `8`.
        weight_symmetric: bool, signed weight grid (zero point 0) instead of
            asymmetric unsigned. Defaults to `False`.
        activation_symmetric: bool. Defaults to `False`.
        per_channel: bool, one weight range per output channel (else per
            kernel). Defaults to `True`.
        decay: float in [0, 1), EMA decay of the activation ranges.
            Defaults to `0.999`.

    Raises:
        ValueError: for invalid arguments.

    Example:
    >>> config = QuantizationConfig(weight_bits=4, activation_bits=None)
    >>> QuantizationConfig.from_config(config.get_config()) == config
    True
    """

    def __init__(self, weight_bits=8, activation_bits=8,
                 weight_symmetric=False, activation_symmetric=False,
                 per_channel=True, decay=0.999):
        check_num_bits(weight_bits, "weight_bits")
        if activation_bits is not None:
            check_num_bits(activation_bits, "activation_bits")
        check_bool("weight_symmetric", weight_symmetric)
        check_bool("activation_symmetric", activation_symmetric)
        check_bool("per_channel", per_channel)
        check_decay(decay)
        self.weight_bits = weight_bits
        self.activation_bits = activation_bits
        self.weight_symmetric = weight_symmetric
        self.activation_symmetric = activation_symmetric
        self.per_channel = per_channel
        self.decay = float(decay)

    def weight_arguments(self):
        """The `WeightQuantization` arguments of the quantized layers."""
        return {"weight_bits": self.weight_bits,
                "weight_symmetric": self.weight_symmetric,
                "per_channel": self.per_channel, "narrow_range": False}

    def activation_quantizer(self, name):
        """A new `ActivationQuantizer` with this config (or `None` for
        weight-only quantization)."""
        if self.activation_bits is None:
            return None
        return ActivationQuantizer(num_bits=self.activation_bits,
                                   symmetric=self.activation_symmetric,
                                   decay=self.decay, name=name)

    def get_config(self):
        return {"weight_bits": self.weight_bits,
                "activation_bits": self.activation_bits,
                "weight_symmetric": self.weight_symmetric,
                "activation_symmetric": self.activation_symmetric,
                "per_channel": self.per_channel, "decay": self.decay}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return (isinstance(other, QuantizationConfig)
                and self.get_config() == other.get_config())

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"QuantizationConfig({arguments})"


def seed_qat_config():
    """The seed's QAT setting (spec A2.3, `qat` schedule): 4-bit weights and
    activations, asymmetric unsigned, per-channel weights, EMA decay 0.999.

    The seed's YAML comment says 8 bits while its values are 4; the values
    are taken. (Distiller trained epochs 0-2 with it: the schedule is the
    caller's, e.g. the experiment's `qat` config.)

    Returns:
        `QuantizationConfig`.

    Example:
    >>> seed_qat_config().weight_bits, seed_qat_config().activation_bits
    (4, 4)
    """
    return QuantizationConfig(weight_bits=4, activation_bits=4,
                              weight_symmetric=False,
                              activation_symmetric=False, per_channel=True,
                              decay=0.999)


def _is_quantization_layer(layer):
    return isinstance(layer, (WeightQuantization, ActivationQuantizer))


def _quantizes_output(layer):
    """Whether an `ActivationQuantizer` goes after `layer`'s output."""
    if isinstance(layer, keras.layers.Activation):
        name = getattr(layer.activation, "__name__", "")
        return name not in UNQUANTIZED_ACTIVATIONS
    if isinstance(layer, ACTIVATION_LAYERS):
        return True
    if isinstance(layer, WeightQuantization):
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", "linear")
        return name not in UNQUANTIZED_ACTIVATIONS
    return False


def _feeds_only_delta(layer):
    """Whether every consumer of `layer`'s output is a DeltaActivation
    (which quantizes that activation itself)."""
    consumers = [node.operation for node in
                 getattr(layer, "_outbound_nodes", ())]
    return bool(consumers) and all(isinstance(consumer, DeltaActivation)
                                   for consumer in consumers)


def _is_model_input(tensor):
    history = getattr(tensor, "_keras_history", None)
    return history is not None and isinstance(history[0],
                                              keras.layers.InputLayer)


def _copy_weights(pairs, kernel_fn=None):
    """Copies weights from every original to its clone; `kernel_fn(layer,
    kernel)` may replace a quantized layer's kernel value."""
    for original, clone in pairs:
        weights = original.get_weights()
        if not weights:
            continue
        if kernel_fn is not None and isinstance(original, WeightQuantization):
            weights[0] = kernel_fn(original, original.kernel)
        clone.set_weights(weights)


def _renamed(model, name):
    """`model`'s graph as a new functional model called `name` (one input
    or output given as a tensor, not a one-element list)."""
    def unwrap(tensors):
        return tensors[0] if len(tensors) == 1 else tensors

    return keras.Model(unwrap(model.inputs), unwrap(model.outputs), name=name)


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`model` must be a functional `keras.Model` (a VideoClassifier, "
            f"a Functional or Sequential model). Received: model={model!r}")


def quantize_model(model, config=None, quantize_inputs=True):
    """A quantization-aware training copy of `model`.

    The copy is one plain functional model (nested functional models are
    flattened by `keras.models.clone_model(recursive=True)`) whose supported
    layers are replaced by their QAT versions with the same weights (see
    the module docstring), with `ActivationQuantizer`s after activations
    and inputs. It trains with `fit` (or the project's `Trainer`) like the
    original; the EMA ranges are updated in training steps only.

    Args:
        model: a functional (or Sequential) `keras.Model`, not yet quantized.
        config: `QuantizationConfig`. Defaults to `QuantizationConfig()` (8
            bits). `seed_qat_config()` is the seed's.
        quantize_inputs: bool, an `ActivationQuantizer` after each model
            input (when activations are quantized). Defaults to `True`.

    Returns:
        `keras.Model` named `"<name>_qat"`, not compiled.

    Raises:
        ValueError: for a model that already holds quantization layers, or
            invalid arguments.

    Example:
    >>> inputs = keras.Input((4, 8, 8, 3))
    >>> x = keras.layers.Conv3D(4, 3, activation="relu")(inputs)
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(x))
    >>> qat = quantize_model(model, seed_qat_config())
    >>> [type(layer).__name__ for layer in qat.layers[1:]]
    ['ActivationQuantizer', 'QuantizedConv3D', 'ActivationQuantizer', 'QuantizedDense']
    """
    _check_model(model)
    config = QuantizationConfig() if config is None else config
    if not isinstance(config, QuantizationConfig):
        raise ValueError(
            "`config` must be a QuantizationConfig or None. "
            f"Received: config={config!r}")
    check_bool("quantize_inputs", quantize_inputs)
    if any(_is_quantization_layer(layer) for layer in
           model._flatten_layers(include_self=False, recursive=True)):
        raise ValueError(
            "`model` is already quantized (it holds QAT layers); use "
            "`dequantize(model)` first to quantize it again. "
            f"Received: model={model.name!r}")
    pairs = []
    originals = {}  # id(clone) -> original layer
    input_quantizers = {}

    def clone_layer(layer):
        quantized_cls = QUANTIZED_LAYERS.get(type(layer))
        if quantized_cls is None:
            clone = layer.__class__.from_config(layer.get_config())
        else:
            clone = quantized_cls.from_config(
                {**layer.get_config(), **config.weight_arguments()})
        pairs.append((layer, clone))
        originals[id(clone)] = layer
        return clone

    def quantized_input(tensor):
        if id(tensor) not in input_quantizers:
            name = f"{tensor._keras_history[0].name}_quantizer"
            quantizer = config.activation_quantizer(name)
            input_quantizers[id(tensor)] = quantizer(tensor)
        return input_quantizers[id(tensor)]

    def call_layer(layer, *args, **kwargs):
        if (quantize_inputs and config.activation_bits is not None and args
                and _is_model_input(args[0])):
            args = (quantized_input(args[0]),) + args[1:]
        outputs = layer(*args, **kwargs)
        if (config.activation_bits is not None and _quantizes_output(layer)
                and not _feeds_only_delta(originals.get(id(layer)))):
            outputs = config.activation_quantizer(
                f"{layer.name}_quantizer")(outputs)
        return outputs

    clone = keras.models.clone_model(model, clone_function=clone_layer,
                                     call_function=call_layer, recursive=True)
    _copy_weights(pairs)
    return _renamed(clone, f"{model.name}_qat")


def _float_model(model, quantized_kernels, suffix):
    _check_model(model)
    pairs = []

    def clone_layer(layer):
        float_cls = FLOAT_LAYERS.get(type(layer))
        if float_cls is None:
            clone = layer.__class__.from_config(layer.get_config())
        else:
            config = {key: value for key, value in layer.get_config().items()
                      if key not in WEIGHT_ARGUMENTS}
            clone = float_cls.from_config(config)
        if not isinstance(layer, ActivationQuantizer):  # dropped: unbuilt
            pairs.append((layer, clone))
        return clone

    def call_layer(layer, *args, **kwargs):
        if isinstance(layer, ActivationQuantizer):
            return args[0]
        return layer(*args, **kwargs)

    clone = keras.models.clone_model(model, clone_function=clone_layer,
                                     call_function=call_layer, recursive=True)

    def baked(layer, kernel):
        return keras.ops.convert_to_numpy(layer.quantized_kernel(kernel))

    _copy_weights(pairs, baked if quantized_kernels else None)
    name = model.name[:-len("_qat")] if model.name.endswith("_qat") else (
        model.name)
    return _renamed(clone, f"{name}{suffix}")


def export_float(model):
    """A plain float Keras model computing `model`'s quantized weights.

    Every QAT layer becomes its float Keras (or deltasparse) layer holding
    the fake-quantized kernel (`layer.quantized_kernel`, values on the
    integer grid times the scale: "simulated" quantization), the
    `ActivationQuantizer`s are removed. The result needs no deltasparse
    quantization code (e.g. for `tflite_int8` or other tools); its outputs
    equal the QAT model's with activation quantization switched off.

    Args:
        model: a model from `quantize_model` (other layers are copied).

    Returns:
        `keras.Model` named `"<name>_float"`.

    Example:
    >>> inputs = keras.Input((3,))
    >>> qat = quantize_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
    >>> [type(layer).__name__ for layer in export_float(qat).layers]
    ['InputLayer', 'Dense']
    """
    return _float_model(model, quantized_kernels=True, suffix="_float")


def dequantize(model):
    """The float model a QAT model trains: the same as `export_float` but
    with the float ("shadow") kernels instead of their quantized values,
    e.g. to continue float training or to quantize again differently.

    Args:
        model: a model from `quantize_model`.

    Returns:
        `keras.Model` with the original name.

    Example:
    >>> inputs = keras.Input((3,))
    >>> qat = quantize_model(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
    >>> [type(layer).__name__ for layer in dequantize(qat).layers]
    ['InputLayer', 'Dense']
    """
    return _float_model(model, quantized_kernels=False, suffix="")


def _not_quantized_reason(layer):
    if isinstance(layer, DeltaActivation):
        return ("DeltaActivation keeps its own learned quantizer (step "
                "|theta|); no second quantizer")
    if isinstance(layer, SparsityStatsLayer):
        return "sparsity layer, float (sees the quantized activations)"
    if isinstance(layer, keras.layers.BatchNormalization):
        return "BatchNormalization stays float (not folded)"
    if isinstance(layer, SparsityAccumulator):
        return "sparsity statistics (pass-through), float"
    if not layer.weights:
        return None
    return f"{type(layer).__name__} has no QAT version; stays float"


def quantization_summary(model):
    """What a (QAT) model quantizes.

    Args:
        model: a `keras.Model`.

    Returns:
        dict: `quantized_layers` (names of the layers with fake-quantized
        kernels), `activation_quantizers` (names), `not_quantized`
        ({layer name: reason} for the layers with weights, and the sparsity
        layers, that stay float).

    Example:
    >>> inputs = keras.Input((3,))
    >>> x = keras.layers.BatchNormalization(name="bn")(inputs)
    >>> qat = quantize_model(keras.Model(inputs, keras.layers.Dense(2)(x)))
    >>> summary = quantization_summary(qat)
    >>> len(summary["quantized_layers"]), summary["not_quantized"]
    (1, {'bn': 'BatchNormalization stays float (not folded)'})
    """
    quantized, quantizers, skipped = [], [], {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, WeightQuantization):
            quantized.append(layer.name)
        elif isinstance(layer, ActivationQuantizer):
            quantizers.append(layer.name)
        elif not isinstance(layer, keras.Model):
            reason = _not_quantized_reason(layer)
            if reason is not None:
                skipped[layer.name] = reason
    return {"quantized_layers": quantized, "activation_quantizers": quantizers,
            "not_quantized": skipped}


__all__ = ["QuantizationConfig", "dequantize", "export_float",
           "quantization_summary", "quantize_model", "seed_qat_config"]
