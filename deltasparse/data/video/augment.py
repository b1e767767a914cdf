"""Per-clip augmentation and backbone preprocessing, as TensorFlow ops.

ONE random affine transform per clip, shared by all its frames (rotation
±30°, zoom [0.85, 1.15] per axis, width/height shift ±0.2, shear ±0.15
degrees, horizontal flip p=0.5, fill "nearest"): the `ImageDataGenerator`
settings of the original. The parameters are stateless functions of a
seed, so a stream is reproducible with parallel calls. `preprocess`
applies `"caffe"` (ResNet50) or `"tf"` (MobileNet) input scaling.
"""

import math

import numpy as np
import tensorflow as tf


CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: ImageNet RGB mean and std on the 0-1 scale ("torch" preprocessing).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUGMENTATION = dict(
    rotation_range=30.0,
    zoom_range=0.15,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.15,
    horizontal_flip=True,
)
_PREPROCESSING_ALIASES = {
    None: None,
    "none": None,
    "caffe": "caffe",
    "resnet": "caffe",
    "resnet50": "caffe",
    "tf": "tf",
    "mobilenet": "tf",
    "torch": "torch",
}
INTERPOLATIONS = ("bilinear", "nearest")


# --------------------------------------------------------------------------
# TF building blocks: augmentation and preprocessing
# --------------------------------------------------------------------------


def affine_transform_matrix(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0,
                            zy=1.0, flip=False, height=224, width=224):
    """The `ImageDataGenerator` affine transform as a projective-transform vector.

    Builds Keras' `apply_affine_transform` matrix in (row, column)
    coordinates, `M = R(theta) @ Shift(tx, ty) @ Shear(shear) @ Zoom(zx, zy)`
    centred at `(height / 2 + 0.5, width / 2 + 0.5)` (Keras' centre, half a
    pixel off the true one), maps an OUTPUT pixel to the INPUT point it
    samples, and folds the horizontal flip (applied after the affine in
    Keras) in. The result is the 8-vector `[a0, a1, a2, b0, b1, b2, 0, 0]`
    in (x = column, y = row) order expected by
    `tf.raw_ops.ImageProjectiveTransformV3`.

    `tx` shifts rows (height), `ty` columns (width), `zx` scales rows, `zy`
    columns; angles are in degrees. Works on scalars or 1-D tensors (one
    transform per element).

    Args:
        theta, tx, ty, shear, zx, zy: float tensors (degrees / pixels /
            factors).
        flip: bool tensor, flip horizontally.
        height, width: int, image size.

    Returns:
        float32 tensor of shape `(..., 8)`.

    Example:
    >>> m = affine_transform_matrix(flip=True, height=4, width=4)
    >>> (m.numpy() + 0.0).tolist()  # x_in = 3 - x, y_in = y
    [-1.0, 0.0, 3.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    """
    f32 = tf.float32
    theta = tf.cast(theta, f32) * (math.pi / 180.0)
    shear = tf.cast(shear, f32) * (math.pi / 180.0)
    tx, ty = tf.cast(tx, f32), tf.cast(ty, f32)
    zx, zy = tf.cast(zx, f32), tf.cast(zy, f32)
    cos, sin = tf.cos(theta), tf.sin(theta)
    # M = R @ S @ Sh @ Z (row, col coordinates), expanded by hand.
    # R @ S = [[c, -s, c*tx - s*ty], [s, c, s*tx + c*ty]]
    # Sh @ Z = [[zx, -sin(sh)*zy], [0, cos(sh)*zy]]
    ssh, csh = tf.sin(shear), tf.cos(shear)
    m00 = cos * zx
    m01 = (-cos * ssh - sin * csh) * zy
    m10 = sin * zx
    m11 = (-sin * ssh + cos * csh) * zy
    m02 = cos * tx - sin * ty
    m12 = sin * tx + cos * ty
    # Centre: Off @ M @ Reset with o = (h/2 + 0.5, w/2 + 0.5).
    ox, oy = height / 2.0 + 0.5, width / 2.0 + 0.5
    m02 = m02 + ox - (m00 * ox + m01 * oy)
    m12 = m12 + oy - (m10 * ox + m11 * oy)
    # (x = col, y = row): x_in = m11 x + m10 y + m12, y_in = m01 x + m00 y + m02
    a0, a1, a2 = m11, m10, m12
    b0, b1, b2 = m01, m00, m02
    flip = tf.cast(flip, tf.bool)
    w1 = float(width - 1)
    a2 = tf.where(flip, a0 * w1 + a2, a2)
    b2 = tf.where(flip, b0 * w1 + b2, b2)
    a0 = tf.where(flip, -a0, a0)
    b0 = tf.where(flip, -b0, b0)
    zero = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=-1)


def random_affine_params(seed, height, width, rotation_range=30.0,
                         zoom_range=0.15, width_shift_range=0.2,
                         height_shift_range=0.2, shear_range=0.15,
                         horizontal_flip=True):
    """Draws one set of `ImageDataGenerator` parameters, statelessly.

    Same distributions as Keras' `get_random_transform`: theta ~ U(±rotation)
    degrees, tx ~ U(±height_shift)·height, ty ~ U(±width_shift)·width,
    shear ~ U(±shear) degrees, zx, zy ~ U(1 ± zoom) independently, flip with
    p = 0.5.

    Args:
        seed: int tensor of shape `(2,)` (stateless RNG seed).
        height, width: int, image size.
        rotation_range, zoom_range, width_shift_range, height_shift_range,
            shear_range: floats, as in `ImageDataGenerator`.
        horizontal_flip: bool.

    Returns:
        dict of scalar tensors `theta, tx, ty, shear, zx, zy, flip`.

    Example:
    >>> p = random_affine_params(tf.constant([1, 2]), 224, 224)
    >>> sorted(p)
    ['flip', 'shear', 'theta', 'tx', 'ty', 'zx', 'zy']
    """
    u = tf.random.stateless_uniform([7], seed=seed, dtype=tf.float32)
    sym = 2.0 * u - 1.0
    return {
        "theta": sym[0] * rotation_range,
        "tx": sym[1] * height_shift_range * height,
        "ty": sym[2] * width_shift_range * width,
        "shear": sym[3] * shear_range,
        "zx": 1.0 - zoom_range + 2.0 * zoom_range * u[4],
        "zy": 1.0 - zoom_range + 2.0 * zoom_range * u[5],
        "flip": tf.logical_and(tf.constant(bool(horizontal_flip)), u[6] < 0.5),
    }


def augment_clip(clip, seed, **augmentation):
    """Applies ONE random affine transform to every frame of a clip.

    Args:
        clip: float32 tensor `(T, H, W, C)` (or `(H, W, C)`: one frame).
        seed: int tensor of shape `(2,)`: equal seeds give equal transforms.
        **augmentation: overrides of `AUGMENTATION` (`rotation_range`, ...).

    Returns:
        Tensor of the same shape and dtype; bilinear sampling, borders
        filled with the nearest edge pixel.

    Example:
    >>> x = tf.random.uniform((2, 32, 32, 3))
    >>> augment_clip(x, tf.constant([0, 1])).shape
    TensorShape([2, 32, 32, 3])
    """
    single = clip.shape.rank == 3
    if single:
        clip = clip[None]
    shape = tf.shape(clip)
    h, w = clip.shape[1], clip.shape[2]
    if h is None or w is None:
        raise ValueError(
            "`clip` needs a static height and width. "
            f"Received: clip.shape={clip.shape}")
    params = random_affine_params(seed, h, w, **{**AUGMENTATION,
                                                 **augmentation})
    transform = affine_transform_matrix(height=h, width=w, **params)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=clip,
        transforms=transform[None],
        output_shape=shape[1:3],
        fill_value=tf.constant(0.0, clip.dtype),
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return out[0] if single else out


def resize_and_augment_clip(clip, seed, image_size, interpolation="bilinear",
                            **augmentation):
    """Resizes a clip and applies ONE random affine transform, in one pass.

    Equivalent to `tf.image.resize(clip, image_size)` followed by
    `augment_clip` (the original resized, then transformed), but the two
    coordinate maps are composed so every output pixel is interpolated
    once, straight from the source frame: about twice as fast, and without
    the double blur of interpolating twice (the only difference from the
    two-step version; values agree to a few grey levels).

    Args:
        clip: uint8 or float tensor `(T, h, w, C)`, any source size.
        seed: int tensor of shape `(2,)`.
        image_size: `(height, width)` of the output.
        interpolation: `"bilinear"` or `"nearest"`.
        **augmentation: overrides of `AUGMENTATION`.

    Returns:
        float32 tensor `(T, height, width, C)`.

    Example:
    >>> x = tf.zeros((2, 24, 32, 3), tf.uint8)
    >>> resize_and_augment_clip(x, tf.constant([0, 1]), (16, 16)).shape
    TensorShape([2, 16, 16, 3])
    """
    height, width = image_size
    params = random_affine_params(seed, height, width,
                                  **{**AUGMENTATION, **augmentation})
    m = affine_transform_matrix(height=height, width=width, **params)
    shape = tf.shape(clip)
    sy = tf.cast(shape[1], tf.float32) / float(height)
    sx = tf.cast(shape[2], tf.float32) / float(width)
    # Output pixel -> augmented-resized image point (m) -> source point via
    # the half-pixel-centre map of `tf.image.resize`: src = (p + .5) s - .5.
    transform = tf.stack([
        m[0] * sx, m[1] * sx, m[2] * sx + 0.5 * sx - 0.5,
        m[3] * sy, m[4] * sy, m[5] * sy + 0.5 * sy - 0.5,
        m[6], m[7]])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(clip, tf.float32),
        transforms=transform[None],
        output_shape=tf.constant([height, width], tf.int32),
        fill_value=tf.constant(0.0, tf.float32),
        interpolation=interpolation.upper(),
        fill_mode="NEAREST",
    )


def preprocess(x, mode):
    """Backbone input preprocessing of float RGB images in [0, 255].

    Args:
        x: float32 tensor `(..., 3)`, RGB.
        mode: `"caffe"` (aliases `"resnet"`, `"resnet50"`): RGB→BGR minus
            [103.939, 116.779, 123.68], as `keras.applications.resnet50`;
            `"tf"` (alias `"mobilenet"`): x / 127.5 − 1; `"torch"`:
            (x / 255 − `IMAGENET_MEAN`) / `IMAGENET_STD`, RGB, as
            torchvision's `Normalize` (TSN, AdaFocusV2) and
            `keras.applications`' "torch" mode; None: unchanged; or a
            callable applied to `x`.

    Returns:
        float32 tensor of the same shape.

    Example:
    >>> preprocess(tf.constant([[0.0, 127.5, 255.0]]), "tf").numpy().tolist()
    [[-1.0, 0.0, 1.0]]
    """
    mode = check_preprocessing(mode)
    if mode is None:
        return x
    if callable(mode):
        return mode(x)
    if mode == "caffe":
        return x[..., ::-1] - tf.constant(CAFFE_MEAN_BGR, x.dtype)
    if mode == "torch":
        return (x / 255.0 - tf.constant(IMAGENET_MEAN, x.dtype)) / (
            tf.constant(IMAGENET_STD, x.dtype))
    return x / 127.5 - 1.0


def check_preprocessing(mode):
    """The preprocessing `mode` as `preprocess` applies it.

    Besides the names and callables `preprocess` takes, the JSON form
    `{"clip_normalization": {...}}` (a `ClipNormalization` config, as the
    3-D CNN runs write it into `model_info.json`) becomes that callable.
    """
    if callable(mode):
        return mode
    if isinstance(mode, dict) and set(mode) == {"clip_normalization"}:
        from deltasparse.data.video.clip_crops import ClipNormalization

        return ClipNormalization(**mode["clip_normalization"])
    key = mode.lower() if isinstance(mode, str) else mode
    if key not in _PREPROCESSING_ALIASES:
        raise ValueError(
            "`preprocessing` must be 'caffe' (ResNet50), 'tf' (MobileNet), "
            "'torch' (ImageNet mean/std), None, {'clip_normalization': "
            "<ClipNormalization config>} or a callable. "
            f"Received: preprocessing={mode!r}")
    return _PREPROCESSING_ALIASES[key]


def check_image_size(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(
            image_size, bool):
        image_size = (image_size, image_size)
    ok = (isinstance(image_size, (tuple, list)) and len(image_size) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                  and v >= 1 for v in image_size))
    if not ok:
        raise ValueError(
            "`image_size` must be (height, width) with positive ints. "
            f"Received: image_size={image_size!r}")
    return int(image_size[0]), int(image_size[1])


