"""`PatchCrop`: a differentiable P x P crop at a continuous position.

AdaFocusV2 (Wang et al., CVPR 2022) crops the patch its local network sees
with `F.affine_grid` (scale P / W, a translation) and `F.grid_sample`
(bilinear, `align_corners=False`), so the classification loss reaches the
policy's patch position through the bilinear weights. `keras.ops.image.
affine_transform` has no gradient with respect to the transform, so this
layer samples with gathers and bilinear weights written in `keras.ops`: the
same values and gradients on every backend.
"""

import numbers

import keras
from keras import ops


def _interpolate(frames, start, size, axis):
    """Linear interpolation of `frames` along `axis` (1 = rows, 2 = columns)
    at the `size` continuous coordinates `start + 0, ..., start + size - 1`
    of every example (`start`: `(batch,)`, in pixel-centre units)."""
    extent = frames.shape[axis]
    coordinates = ops.expand_dims(start, 1) + ops.arange(
        size, dtype=frames.dtype)  # (batch, size)
    lower = ops.floor(coordinates)
    weight = coordinates - lower  # d/d start = 1: the position's gradient
    lower = ops.clip(ops.cast(lower, "int32"), 0, extent - 1)
    upper = ops.minimum(lower + 1, extent - 1)
    shape = [1, 1, 1, 1]
    shape[0] = -1
    shape[axis] = size

    def gather(indices):  # indices broadcast over the other axes
        return ops.take_along_axis(frames, ops.reshape(indices, shape),
                                   axis=axis)

    weight = ops.reshape(weight, shape)
    return gather(lower) * (1.0 - weight) + gather(upper) * weight


@keras.saving.register_keras_serializable(package="deltasparse")
class PatchCrop(keras.layers.Layer):
    """Crops a `patch_size` x `patch_size` patch at a continuous position.

    The position is AdaFocusV2's: `(y, x)` in [0, 1] per example, the patch's
    top-left corner at `y * (H - P)`, `x * (W - P)` pixels, so 0 and 1 put
    the patch against the frame's edges. Output pixel `(i, j)` is the
    bilinear sample of the frame at pixel-centre coordinates
    `(top + i, left + j)` (pixel `k`'s centre is at `k`): `F.grid_sample`
    with `align_corners=False` and AdaFocus' affine grid (scale P / W)
    samples exactly there. At integer corners the patch is an exact copy of
    the frame's pixels. Positions outside [0, 1] (never produced by the
    policy's sigmoid) sample the border pixels instead of PyTorch's zeros.

    Gradients flow to the frames (the bilinear weights) and to the
    positions: `d patch / d top = (H - P) * (next row - this row)`, the
    right derivative at integer coordinates.

    Args:
        patch_size: int P >= 1, or `(height, width)`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        frames: `(batch, H, W, C)` with H, W >= the patch size (or the
            list `[frames, positions]`).
        positions: `(batch, 2)`, `(y, x)` in [0, 1].

    Returns:
        `(batch, P, P, C)` patches.

    Example:
    >>> frames = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> patch = PatchCrop(2)(frames, np.array([[0.5, 1.0]], "float32"))
    >>> keras.ops.convert_to_numpy(patch)[0, :, :, 0].tolist()
    [[6.0, 7.0], [10.0, 11.0]]
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        size = (tuple(patch_size) if isinstance(patch_size, (tuple, list))
                else (patch_size, patch_size))
        if len(size) != 2 or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool)
                and v >= 1 for v in size):
            raise ValueError(
                "`patch_size` must be an int >= 1 or (height, width) of "
                f"ints >= 1. Received: patch_size={patch_size!r}")
        self.patch_size = tuple(int(v) for v in size)

    @staticmethod
    def _pair(frames, positions):
        if positions is None and isinstance(frames, (list, tuple)) and len(
                frames) == 2 and not isinstance(frames[0], numbers.Number):
            return frames
        return frames, positions

    def build(self, frames_shape, positions_shape=None):
        frames_shape, positions_shape = self._pair(frames_shape,
                                                   positions_shape)
        if len(frames_shape) != 4:
            raise ValueError(
                "`frames` must be (batch, height, width, channels). "
                f"Received: frames.shape={tuple(frames_shape)}")
        for axis, (extent, size) in enumerate(
                zip(frames_shape[1:3], self.patch_size)):
            if extent is None:
                raise ValueError(
                    "`frames` need a static height and width. "
                    f"Received: frames.shape={tuple(frames_shape)}")
            if extent < size:
                raise ValueError(
                    f"`patch_size` must fit in the frame ({extent} pixels "
                    f"on axis {axis + 1}). Received: patch_size="
                    f"{self.patch_size}")
        if positions_shape is not None and (
                len(positions_shape) != 2 or positions_shape[-1] != 2):
            raise ValueError(
                "`positions` must be (batch, 2): (y, x) in [0, 1]. "
                f"Received: positions.shape={tuple(positions_shape)}")

    def call(self, frames, positions=None):
        frames, positions = self._pair(frames, positions)
        if positions is None:
            raise ValueError("`positions` is required: (batch, 2), (y, x) "
                             "in [0, 1]. Received: positions=None")
        frames = ops.convert_to_tensor(frames, dtype=self.compute_dtype)
        positions = ops.cast(positions, frames.dtype)
        height, width = frames.shape[1], frames.shape[2]
        rows, columns = self.patch_size
        top = positions[:, 0] * float(height - rows)
        left = positions[:, 1] * float(width - columns)
        patches = _interpolate(frames, top, rows, axis=1)
        return _interpolate(patches, left, columns, axis=2)

    def compute_output_shape(self, frames_shape, positions_shape=None):
        frames_shape, _ = self._pair(frames_shape, positions_shape)
        return (frames_shape[0], *self.patch_size, frames_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(patch_size=self.patch_size)
        return config
