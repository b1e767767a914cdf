"""I3D inflation of 2-D `keras.applications` weights into 3-D video CNNs.

Carreira & Zisserman 2017 ("Quo Vadis, Action Recognition? A New Model and
the Kinetics Dataset", section 2.4) bootstrap a 3-D network from a 2-D
ImageNet network by repeating every 2-D kernel over the new time axis and
dividing it by the temporal size, so that a "boring video" (one frame
repeated) gives the 2-D activations. The 3-D families of deltasparse keep the
`keras.applications` layer names (`ResNet3DBackbone`, `CSNBackbone` ->
ResNet50; `MobileNetV2_3DBackbone` -> MobileNetV2), so layers are matched by
name.
"""

import os

import keras
import numpy as np

from deltasparse.models.weight_transfer import TransferReport
from deltasparse.models.weight_transfer import _leaf_layers
from deltasparse.models.weight_transfer import _model_weights
from deltasparse.models.weight_transfer import transfer_weights

TIME_KERNELS = ("mean", "centre")
CLASSIFIER_NAMES = ("classifier",)


def inflate_kernel(kernel, time_size, time_kernel="mean", depthwise=False):
    """A 2-D convolution kernel made 3-D over `time_size` frames.

    Args:
        kernel: array `(kh, kw, in_channels, out_channels)` (`Conv2D`) or
            `(kh, kw, channels, 1)` (`DepthwiseConv2D`, with `depthwise`).
        time_size: int, the temporal kernel size `kt`.
        time_kernel: `"mean"` (the I3D rule: the kernel repeated `kt` times,
            divided by `kt`) or `"centre"` (the kernel in the centre slice
            `kt // 2`, zeros elsewhere). Defaults to `"mean"`.
        depthwise: bool, `kernel` is depthwise; the result is the kernel of
            a grouped `Conv3D(groups=channels)`, `(kt, kh, kw, 1,
            channels)`. Defaults to `False`.

    Returns:
        array `(kt, kh, kw, in_channels, out_channels)`.

    Example:
    >>> kernel = np.ones((3, 3, 2, 4))
    >>> inflated = inflate_kernel(kernel, 3)
    >>> inflated.shape, round(float(inflated[0, 0, 0, 0, 0]), 4)
    ((3, 3, 3, 2, 4), 0.3333)
    >>> inflate_kernel(np.ones((3, 3, 5, 1)), 3, "centre", True).shape
    (3, 3, 3, 1, 5)
    """
    if time_kernel not in TIME_KERNELS:
        raise ValueError(
            f"`time_kernel` must be one of {TIME_KERNELS}. "
            f"Received: time_kernel={time_kernel!r}")
    kernel = np.asarray(kernel)
    if depthwise:
        kernel = np.transpose(kernel, (0, 1, 3, 2))  # (kh, kw, 1, c)
    if time_kernel == "mean":
        return np.repeat(kernel[None], time_size, axis=0) / time_size
    inflated = np.zeros((time_size,) + kernel.shape, kernel.dtype)
    inflated[time_size // 2] = kernel
    return inflated


def _backbone(model):
    backbone = getattr(model, "backbone", None)
    return backbone if isinstance(backbone, keras.Model) else model


def source_architecture(model_3d):
    """The `keras.applications` model whose weights files fit `model_3d`.

    `ResNet3DBackbone` and `CSNBackbone` (or a `VideoClassifier` on them):
    `ResNet50(include_top=False)`; `MobileNetV2_3DBackbone`:
    `MobileNetV2(alpha=width_multiplier, include_top=False)`; built with
    `weights=None` (nothing is downloaded) on the 3-D model's frame size.

    Args:
        model_3d: a 3-D backbone or a `VideoClassifier` on one.

    Returns:
        A 2-D `keras.Model`.

    Raises:
        ValueError: a model of another family.
    """
    backbone = _backbone(model_3d)
    family = type(backbone).__name__
    size = tuple(getattr(backbone, "image_size", (224, 224)))
    shape = size + (int(getattr(backbone, "channels", 3)),)
    if family.startswith("MobileNetV2_3D"):
        return keras.applications.MobileNetV2(
            input_shape=shape, alpha=backbone.width_multiplier,
            include_top=False, weights=None)
    if family.startswith(("ResNet3D", "CSN")):
        return keras.applications.ResNet50(
            input_shape=shape, include_top=False, weights=None)
    raise ValueError(
        "`model_3d` must be a ResNet3D, CSN or MobileNetV2-3D backbone (or a "
        "VideoClassifier on one) to load a weights file; for another model "
        "pass a built 2-D Keras model as `source`. "
        f"Received: model_3d={family}")


def _source_weights(model_3d, source):
    if isinstance(source, keras.Model):
        return _model_weights(source), f"model {source.name!r}"
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(
            "`source` must be a path to a keras.applications weights file "
            "(`.h5` / `.weights.h5`) or a built 2-D Keras model. "
            f"Received: source={type(source).__name__}")
    architecture = source_architecture(model_3d)
    loaded = transfer_weights(source, architecture)
    if not loaded.matched:
        raise ValueError(
            f"The weights file holds no layer of {architecture.name} "
            f"(the 2-D architecture of {type(_backbone(model_3d)).__name__})."
            f" Received: source={os.fspath(source)!r}")
    return _model_weights(architecture), repr(os.fspath(source))


def _following_batch_norm(layer):
    """The BatchNormalization that alone consumes `layer`'s output, or None."""
    nodes = getattr(layer, "_outbound_nodes", [])
    consumers = {id(node.operation): node.operation for node in nodes}
    if len(consumers) != 1:
        return None
    (consumer,) = consumers.values()
    return consumer if isinstance(
        consumer, keras.layers.BatchNormalization) else None


def _inflate_layer(layer, arrays, time_kernel):
    """The 3-D weights of `layer` from the 2-D `arrays`, or a string saying
    why they do not fit."""
    targets = [tuple(v.shape) for v in layer.weights]
    inflated = ""
    if isinstance(layer, keras.layers.Conv3D) and len(arrays) == 2 and len(
            targets) == 1 and _following_batch_norm(layer) is not None:
        arrays = arrays[:1]  # the bias is folded into the BatchNorm
    if isinstance(layer, keras.layers.Conv3D) and arrays and (
            np.ndim(arrays[0]) == 4):
        kernel = arrays[0]
        depthwise = layer.groups > 1 and kernel.shape[3] == 1
        arrays = [inflate_kernel(kernel, targets[0][0], time_kernel,
                                 depthwise)] + list(arrays[1:])
        inflated = " (inflated)"
    shapes = [tuple(np.shape(a)) for a in arrays]
    if shapes != targets:
        return f"source {shapes}{inflated}, target {targets}"
    return arrays


def inflate_2d_weights(model_3d, source, time_kernel="mean", exclude=None):
    """Copies 2-D weights into a 3-D model by layer name, inflating kernels.

    For every layer of `model_3d` that owns weights (nested models
    flattened) and has a same-named layer in the 2-D source: a `Conv3D`
    receives the 2-D kernel made 3-D (`inflate_kernel`: `(kh, kw, cin,
    cout)` -> `(kt, kh, kw, cin, cout)`; a `DepthwiseConv2D` kernel `(kh,
    kw, c, 1)` -> the grouped-`Conv3D` kernel `(kt, kh, kw, 1, c)`; 1x1
    becomes 1x1x1), a bias is copied, or, when the 3-D convolution has none
    (the 3-D families) and feeds a BatchNormalization, folded into that
    layer's moving mean (`mean - bias`: exact in inference, and in training
    the batch mean absorbs a constant anyway; keras.applications ResNet50
    convolutions have biases, Hara's have none); BatchNormalization
    (gamma, beta, moving mean and variance) and any other layer are copied
    when the shapes agree. The classifier (`classifier`) is never copied. Layers
    whose shapes differ are left untouched and reported.

    With `time_kernel="mean"` (the I3D rule) a temporally constant clip
    gives, away from the temporal zero padding, the 2-D features of its
    frame up to the BatchNorm epsilon (the 3-D families use PyTorch's 1e-5,
    keras.applications 1e-3: set the same epsilon where exactness matters)
    and up to padding: TensorFlow's "same" pads strided 2-D convolutions
    at the end of even sizes, the 3-D families symmetrically as PyTorch.
    `"centre"` puts the kernel in the centre time slice (each frame's 2-D
    features at initialisation, for any clip).

    Channel counts must agree: at width 1.0 MobileNetV2-3D has the shapes of
    keras.applications MobileNetV2; at other widths Efficient-3DCNNs'
    `int(c * width)` differs from Keras' multiples of 8 and most layers are
    reported as mismatched.

    Args:
        model_3d: the 3-D model to fill (a 3-D backbone or a
            `VideoClassifier` on one).
        source: a path to a keras.applications weights file (`.h5`,
            `.weights.h5`) of ResNet50 or MobileNetV2 (loaded, by name, into
            the architecture `source_architecture(model_3d)` picks; nothing
            is downloaded), or a built 2-D Keras model.
        time_kernel: `"mean"` or `"centre"`. Defaults to `"mean"`.
        exclude: optional iterable of target layer names left untouched
            besides the classifier. Defaults to `None`.

    Returns:
        A `TransferReport` (`matched`: copied layers; `mismatched`: `(name,
        shapes)`; `skipped_absent`: target layers the source lacks;
        `excluded`: the classifier and `exclude`; `unused`: source layers
        the target lacks).

    Raises:
        FileNotFoundError: `source` is a path that does not exist.
        ValueError: a bad argument, a model of an unknown family with a
            file source, or no layer copied at all.

    Example:
    >>> from deltasparse.models.mobilenetv2_3d import MobileNetV2_3DBackbone
    >>> model_2d = keras.applications.MobileNetV2(
    ...     input_shape=(32, 32, 3), include_top=False, weights=None)
    >>> report = inflate_2d_weights(
    ...     MobileNetV2_3DBackbone(1.0, image_size=(32, 32)), model_2d)
    >>> len(report.matched), report.mismatched
    (104, [])
    """
    if time_kernel not in TIME_KERNELS:
        raise ValueError(
            f"`time_kernel` must be one of {TIME_KERNELS}. "
            f"Received: time_kernel={time_kernel!r}")
    if not isinstance(model_3d, keras.Model):
        raise ValueError(
            "`model_3d` must be a Keras model. "
            f"Received: model_3d={type(model_3d).__name__}")
    excluded_names = set(CLASSIFIER_NAMES) | set(exclude or ())
    weights, description = _source_weights(model_3d, source)
    report = TransferReport(source=description, target=repr(model_3d.name))
    copies = []
    folds = []
    seen = set()
    for layer in _leaf_layers(model_3d):
        if not layer.weights:
            continue
        if layer.name in excluded_names:
            report.excluded.append(layer.name)
            continue
        if layer.name not in weights or not weights[layer.name][1]:
            report.skipped_absent.append(layer.name)
            continue
        seen.add(layer.name)
        result = _inflate_layer(layer, weights[layer.name][1], time_kernel)
        if isinstance(result, str):
            report.mismatched.append((layer.name, result))
            continue
        copies.append((layer, result))
        report.matched.append(layer.name)
        if len(weights[layer.name][1]) > len(result):
            folds.append((_following_batch_norm(layer),
                          np.asarray(weights[layer.name][1][1])))
    report.unused = [name for name, (_, arrays) in weights.items()
                     if arrays and name not in seen]
    if not copies:
        raise ValueError(
            f"No layer of {model_3d.name!r} could be filled from "
            f"{description}: {len(report.mismatched)} shape-mismatched, "
            f"{len(report.skipped_absent)} absent from the source. The 3-D "
            "families keep the keras.applications names (ResNet50, "
            "MobileNetV2); check the architecture and width. "
            f"Received: source={description}")
    for layer, arrays in copies:
        layer.set_weights([np.asarray(a, dtype=v.dtype)
                           for a, v in zip(arrays, layer.weights)])
    for batch_norm, bias in folds:
        # BN(conv + b) = BN'(conv) with moving_mean' = moving_mean - b
        # (exact in inference; in training the batch mean absorbs b).
        batch_norm.moving_mean.assign(
            keras.ops.convert_to_numpy(batch_norm.moving_mean) - bias)
    return report
