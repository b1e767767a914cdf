"""Small glance and local networks for AdaFocusV2 demos and tests.

The paper's networks (MobileNetV2 and ResNet-50 from ImageNet weights) need
weights files and a GPU-sized budget. `small_convnet` builds a few
`Conv2D + BatchNorm + ReLU` stages, and `build_small_adafocus` an
`AdaFocusV2` from two of them, so the whole method (glance, policy,
differentiable patch, two-branch loss) trains from scratch in minutes on a
CPU, e.g. on `deltasparse.data.datasets.synthetic_focus`.
"""

import keras

from deltasparse.models.adafocus.adafocus_v2 import AdaFocusV2


def _check_widths(widths):
    if not isinstance(widths, (list, tuple)) or not widths or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1
            for w in widths):
        raise ValueError("`widths` must be a non-empty list of positive ints "
                         f"(channels per stage). Received: widths={widths!r}")
    return tuple(widths)


def small_convnet(name, input_size, widths=(16, 32, 64), first_stride=1):
    """`Conv2D(3x3) + BatchNorm + ReLU` stages; every stage after the first
    halves the resolution.

    Args:
        name: str, the model's name (and the name scope of its variables,
            so that per-module learning rates can tell networks apart).
        input_size: int or `(height, width)` of its input images.
        widths: channels of each stage. Defaults to `(16, 32, 64)`.
        first_stride: int, the stride of the first stage. Defaults to 1.

    Returns:
        A functional `keras.Model` image -> feature map.

    Example:
    >>> net = small_convnet("local_network", 32)
    >>> net.output.shape
    (None, 8, 8, 64)
    """
    widths = _check_widths(widths)
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    with keras.name_scope(name):
        inputs = keras.Input((*input_size, 3), name=f"{name}_input")
        x = inputs
        for i, width in enumerate(widths):
            stride = first_stride if i == 0 else 2
            x = keras.layers.Conv2D(width, 3, strides=stride, padding="same",
                                    use_bias=False, name=f"conv{i + 1}")(x)
            x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                                name=f"bn{i + 1}")(x)
            x = keras.layers.ReLU(name=f"relu{i + 1}")(x)
        return keras.Model(inputs, x, name=name)


def build_small_adafocus(num_classes, image_size, patch_size=32,
                         glance_input_size=24, glance_widths=(16, 32),
                         local_widths=(16, 32, 64), **kwargs):
    """An `AdaFocusV2` with `small_convnet` glance and local networks.

    The glance network sees the frame downsampled to `glance_input_size`
    (it can find a small object there, not recognise it); the local network
    sees the `patch_size` patch at full resolution.

    Args:
        num_classes: int.
        image_size: int or `(height, width)` of the frames.
        patch_size: int. Defaults to 32.
        glance_input_size: int. Defaults to 24.
        glance_widths: channels of the glance stages. Defaults to
            `(16, 32)`.
        local_widths: channels of the local stages. Defaults to
            `(16, 32, 64)`.
        **kwargs: other `AdaFocusV2` arguments (`num_segments`,
            `policy_hidden`, `classifier_hidden`, `dropout`, ...).

    Returns:
        A built `AdaFocusV2`.

    Example:
    >>> model = build_small_adafocus(5, 64, patch_size=16,
    ...     glance_input_size=16, num_segments=4, policy_hidden=16,
    ...     classifier_hidden=16)
    >>> model.predict_on_batch(np.zeros((1, 4, 64, 64, 3), "float32")).shape
    (1, 5)
    """
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    glance = small_convnet("glance_network", glance_input_size, glance_widths)
    local = small_convnet("local_network", patch_size, local_widths)
    kwargs.setdefault("name", "adafocus_v2_small")
    model = AdaFocusV2(glance, local, num_classes, patch_size=patch_size,
                       glance_input_size=glance_input_size, **kwargs)
    model.build((None, model.num_segments, *image_size, 3))
    return model


__all__ = ["build_small_adafocus", "small_convnet"]
