"""`InputConversion`: from one pixel convention to another, inside a model.

AdaFocusV2 feeds the same frames to two ImageNet networks. The original's
torchvision networks share one normalisation (ImageNet mean / std); Keras'
ImageNet weights do not: `MobileNetV2` expects `x / 127.5 - 1` ("tf"),
`ResNet50` expects BGR minus the ImageNet mean ("caffe"). A leading
`InputConversion` lets each network see its own convention whatever the
data pipeline produced.
"""

import keras
import numpy as np
from keras import ops

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
TORCH_STD_RGB = (0.229, 0.224, 0.225)

# convention -> (scale, offset) of raw RGB [0, 255] -> convention, channel
# order flipped afterwards for "caffe".
_FROM_RAW = {
    "raw": (np.ones(3), np.zeros(3)),
    "tf": (np.full(3, 1 / 127.5), np.full(3, -1.0)),
    "caffe": (np.ones(3), -np.array(CAFFE_MEAN_BGR[::-1])),
    "torch": (1 / (255 * np.array(TORCH_STD_RGB)),
              -np.array(TORCH_MEAN_RGB) / np.array(TORCH_STD_RGB)),
}
PIXEL_CONVENTIONS = tuple(_FROM_RAW)
"""`"raw"` (RGB in [0, 255]), `"tf"` (raw / 127.5 - 1), `"caffe"` (BGR,
minus `CAFFE_MEAN_BGR`) and `"torch"` ((raw / 255 - mean) / std, RGB)."""


def check_pixel_convention(name, value, allow_none=False):
    """Raises the project's ValueError unless `value` is a convention."""
    if value is None and allow_none:
        return
    if value not in _FROM_RAW:
        raise ValueError(f"`{name}` must be one of {list(PIXEL_CONVENTIONS)}. "
                         f"Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="deltasparse")
class InputConversion(keras.layers.Layer):
    """Converts images from the `source` pixel convention to `target`.

    Per channel an affine map (through raw RGB [0, 255]); `"caffe"` inputs
    are flipped to RGB first and `"caffe"` outputs back to BGR.

    Args:
        source: str, the convention of the inputs (`PIXEL_CONVENTIONS`).
        target: str, the convention of the outputs.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        images: `(..., 3)`.

    Returns:
        `(..., 3)` in the `target` convention.

    Example:
    >>> layer = InputConversion("raw", "tf")
    >>> keras.ops.convert_to_numpy(layer(np.array([[0.0, 127.5, 255.0]])))
    array([[-1.,  0.,  1.]], dtype=float32)
    """

    def __init__(self, source, target, **kwargs):
        super().__init__(**kwargs)
        check_pixel_convention("source", source)
        check_pixel_convention("target", target)
        self.source = source
        self.target = target
        scale_in, offset_in = _FROM_RAW[source]
        scale_out, offset_out = _FROM_RAW[target]
        # raw = (x_rgb - offset_in) / scale_in; y_rgb = raw * s_out + o_out.
        self._scale = (scale_out / scale_in).astype("float32")
        self._offset = (offset_out - offset_in * scale_out / scale_in).astype(
            "float32")
        self._from_bgr = source == "caffe"
        self.built = True

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self._from_bgr:
            images = ops.flip(images, axis=-1)
        images = images * self._scale + self._offset
        if self.target == "caffe":
            images = ops.flip(images, axis=-1)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(source=self.source, target=self.target)
        return config


__all__ = ["CAFFE_MEAN_BGR", "InputConversion", "PIXEL_CONVENTIONS",
           "check_pixel_convention",
           "TORCH_MEAN_RGB", "TORCH_STD_RGB"]
