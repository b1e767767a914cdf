"""AdaFocusV2's paper configurations, and the ImageNet networks they use.

| preset | glance network (input) | local network | paper GFLOPs/frame |
|---|---|---|---|
| `adafocus_v2_mobilenetv2_patch{96,128,160,192}` | MobileNetV2 (224x224 frame, 7x7x1280) | ResNet-50 on the patch | 1.101 / 1.685 / 2.436 / 3.353 |
| `adafocus_v2_resnet50_patch{96,128,160}` | ResNet-50 (96x96 downsample, 3x3x2048) | ResNet-50 on the patch | 1.547 / 2.131 / 2.882 |

The paper's constants (spec A1.3, `test_early_exit.py` of the original) are
kept as `paper_gflops_per_frame` for comparison only; the model counts its
own (`AdaFocusV2.gflops_per_frame`, 200 classes):

| preset | counted | paper | counted + v1.5 correction |
|---|---|---|---|
| mobilenetv2 patch 96 / 128 / 160 / 192 | 1.058 / 1.609 / 2.318 / 3.183 | 1.101 / 1.685 / 2.436 / 3.353 | 1.101 / 1.685 / 2.436 / 3.353 |
| resnet50 patch 96 / 128 / 160 | 1.462 / 2.013 / 2.721 | 1.547 / 2.131 / 2.882 | 1.547 / 2.131 / 2.882 |

The 4-6 % gap is the ResNet-50 variant, not the counter: torchvision's
ResNet-50 (the original's) strides the 3x3 convolution of each stage's
first block ("v1.5"), Keras' `ResNet50` strides the 1x1 before it (v1),
which saves 0.75 S^2 C_in w MACs in stages 3-5 (S the stage's input side,
C_in its input channels, w the bottleneck width); adding that back gives
the paper's constants to three decimals. Every network is a `keras.applications`
model built with `weights=None` and, when a weights file is given, loaded
from that path: nothing is downloaded. The original initialises its
ResNet-50 glance from a special 96x96 checkpoint
(`Initialization_model_prime_resnet50_patch_size_96_or_128.pth`) that has no
Keras counterpart; any ResNet-50 no-top file of the same architecture loads.
"""

import os

import keras

from deltasparse.models.adafocus.input_conversion import InputConversion
from deltasparse.models.adafocus.input_conversion import check_pixel_convention
from deltasparse.models.weight_transfer import KERAS_APPLICATIONS_URL

MOBILENET_V2_WEIGHTS_FILE = (
    "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
RESNET50_WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"

GLANCE_ARCHITECTURES = {
    "mobilenetv2": {"glance_input_size": None, "preprocessing": "tf",
                    "weights_url": f"{KERAS_APPLICATIONS_URL}mobilenet_v2/"
                                   f"{MOBILENET_V2_WEIGHTS_FILE}"},
    "resnet50": {"glance_input_size": 96, "preprocessing": "caffe",
                 "weights_url": f"{KERAS_APPLICATIONS_URL}resnet/"
                                f"{RESNET50_WEIGHTS_FILE}"},
}
"""Glance architecture -> its glance input size (`None`: the full frame),
the pixel convention of its Keras ImageNet weights and the URL of those
no-top weights (download them yourself)."""


def _preset(glance, patch_size, paper_gflops_per_frame, description):
    return {"glance": glance, "patch_size": patch_size,
            "paper_gflops_per_frame": paper_gflops_per_frame,
            "description": description}


ADAFOCUS_V2_PRESETS = {
    **{f"adafocus_v2_mobilenetv2_patch{p}": _preset(
        "mobilenetv2", p, g,
        f"MobileNetV2 glance on the 224x224 frame, ResNet-50 on a {p}x{p} "
        "patch.")
       for p, g in ((96, 1.101), (128, 1.685), (160, 2.436), (192, 3.353))},
    **{f"adafocus_v2_resnet50_patch{p}": _preset(
        "resnet50", p, g,
        f"ResNet-50 glance on a 96x96 downsample, ResNet-50 on a {p}x{p} "
        "patch.")
       for p, g in ((96, 1.547), (128, 2.131), (160, 2.882))},
}
"""Preset name -> `{"glance", "patch_size", "paper_gflops_per_frame",
"description"}`."""


def get_preset(name):
    """The entry of `ADAFOCUS_V2_PRESETS` for `name`.

    Raises:
        ValueError: for an unknown name.

    Example:
    >>> get_preset("adafocus_v2_mobilenetv2_patch128")["patch_size"]
    128
    """
    if name not in ADAFOCUS_V2_PRESETS:
        raise ValueError(
            f"`preset` must be one of {sorted(ADAFOCUS_V2_PRESETS)}. "
            f"Received: preset={name!r}")
    return ADAFOCUS_V2_PRESETS[name]


def _check_weights(argument, weights, url):
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)) or not os.path.isfile(
            weights):
        raise FileNotFoundError(
            f"`{argument}` must be the path of an existing Keras weights file "
            f"(.h5 / .weights.h5). Get Keras' ImageNet no-top file from {url} "
            "on a machine with network (nothing is downloaded here). "
            f"Received: {argument}={weights!r}")


def _finish(network, weights, frames_preprocessing, expected, name):
    """Loads `weights`, then puts an `InputConversion` from the frames'
    convention to the network's in front when they differ."""
    if weights is not None:
        network.load_weights(os.fspath(weights))
    if frames_preprocessing is None or frames_preprocessing == expected:
        return network
    with keras.name_scope(name):
        inputs = keras.Input(network.input_shape[1:], name="frames")
        converted = InputConversion(frames_preprocessing, expected,
                                    name="input_conversion")(inputs)
        return keras.Model(inputs, network(converted), name=name)


def build_glance_network(glance, image_size=(224, 224), weights=None,
                         frames_preprocessing=None):
    """The glance network of a preset: frame (or its downsample) -> map.

    Built under `keras.name_scope("glance_network")`, so its variable paths
    (`glance_network/conv1_conv/kernel`, ...) differ from the local
    network's and per-module learning rates can tell them apart.

    Args:
        glance: `"mobilenetv2"` or `"resnet50"`.
        image_size: `(height, width)` of the frames. Defaults to
            `(224, 224)`.
        weights: path of a weights file, or `None` (random). Defaults to
            `None`.
        frames_preprocessing: `None` (the frames already follow the
            network's convention: "tf" for MobileNetV2, "caffe" for
            ResNet-50) or the frames' convention (`PIXEL_CONVENTIONS`, e.g.
            `"torch"`), converted inside the network. Defaults to `None`.

    Returns:
        A `keras.Model` named `"glance_network"`.

    Raises:
        ValueError: unknown `glance`.
        FileNotFoundError: `weights` is not an existing file.
    """
    if glance not in GLANCE_ARCHITECTURES:
        raise ValueError(
            f"`glance` must be one of {sorted(GLANCE_ARCHITECTURES)}. "
            f"Received: glance={glance!r}")
    spec = GLANCE_ARCHITECTURES[glance]
    _check_weights("glance_weights", weights, spec["weights_url"])
    check_pixel_convention("frames_preprocessing", frames_preprocessing,
                           allow_none=True)
    size = spec["glance_input_size"]
    shape = (size, size, 3) if size else (*image_size, 3)
    wrapped = frames_preprocessing not in (None, spec["preprocessing"])
    name = glance if wrapped else "glance_network"
    with keras.name_scope("glance_network"):
        application = (keras.applications.MobileNetV2
                       if glance == "mobilenetv2"
                       else keras.applications.ResNet50)
        network = application(input_shape=shape, include_top=False,
                              weights=None, name=name)
    return _finish(network, weights, frames_preprocessing,
                   spec["preprocessing"], "glance_network")


def build_local_network(patch_size, weights=None,
                        frames_preprocessing=None):
    """The local network of every preset: ResNet-50 with average pooling.

    Built under `keras.name_scope("local_network")` (see
    `build_glance_network`).

    Args:
        patch_size: int P, the patch side.
        weights: path of a ResNet-50 no-top weights file, or `None`.
            Defaults to `None`.
        frames_preprocessing: as in `build_glance_network` (ResNet-50
            expects "caffe"). Defaults to `None`.

    Returns:
        A `keras.Model` `(P, P, 3) -> (2048,)` named `"local_network"`.

    Raises:
        FileNotFoundError: `weights` is not an existing file.
    """
    _check_weights("local_weights", weights,
                   GLANCE_ARCHITECTURES["resnet50"]["weights_url"])
    check_pixel_convention("frames_preprocessing", frames_preprocessing,
                           allow_none=True)
    wrapped = frames_preprocessing not in (None, "caffe")
    with keras.name_scope("local_network"):
        network = keras.applications.ResNet50(
            input_shape=(patch_size, patch_size, 3), include_top=False,
            weights=None, pooling="avg",
            name="resnet50" if wrapped else "local_network")
    return _finish(network, weights, frames_preprocessing, "caffe",
                   "local_network")


__all__ = ["ADAFOCUS_V2_PRESETS", "GLANCE_ARCHITECTURES", "build_glance_network",
           "build_local_network", "get_preset"]
