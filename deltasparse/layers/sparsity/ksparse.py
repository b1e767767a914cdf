"""Spatial-then-lifetime k-sparse (winner-take-all) layer for video features."""

import keras

from deltasparse.ops.ksparse import _check_alpha
from deltasparse.ops.ksparse import _check_k
from deltasparse.ops.ksparse import ksparse


def _check_video_shape(layer, input_shape):
    """Raises unless `input_shape` is `(batch, time, height, width, channels)`
    with static height, width and channels."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 5:
        raise ValueError(
            f"`{layer.__class__.__name__}` expects inputs of rank 5, "
            "(batch, time, height, width, channels). "
            f"Received: input_shape={input_shape}"
        )
    if any(d is None for d in input_shape[2:]):
        raise ValueError(
            f"`{layer.__class__.__name__}` needs static height, width and "
            f"channels. Received: input_shape={input_shape}"
        )
    return input_shape


@keras.saving.register_keras_serializable(package="deltasparse")
class KSparse(keras.layers.Layer):
    """Spatial, then lifetime, k-sparse winner-take-all on `(B, T, H, W, C)`.

    The sparsity of the WTA CNN autoencoders of the group k-sparse paper
    (`KerasWTACNN`, spec `group_ksparse.md` §4.0-4.2), computed as
    `ksparse(ksparse(x, k_spatial, axis=[2, 3]), k_lifetime, axis=[0, 1])`:

    1. **Spatial:** for every sample, frame and channel `(b, t, c)`, keep the
       `k_spatial` largest values over the `H * W` positions.
    2. **Lifetime:** on that result, for every position and channel
       `(h, w, c)`, keep the `k_lifetime` largest values over **all
       `B * T` frames of the batch**. The output therefore depends on the
       batch composition; with a smaller (e.g. last) batch, `k_lifetime` is
       capped at `B * T`.

    Each competition keeps exactly `min(k, S)` entries (a count, not a
    threshold); ties go to the lower flat index (`h * W + w`, resp.
    `b * T + t`). The masks carry no gradient: winners receive the upstream
    gradient, losers 0. Sparsity is applied in training **and** inference
    (with `alpha=1`, as in the original); `alpha` scales `k` at inference
    (Keras-2 `in_train_phase(k, alpha * k)`; `alpha * k` is rounded to the
    nearest int, at least 1). `k_lifetime` is a count over `B * T`, not a
    percentage per feature map as in Makhzani & Frey's WTA autoencoder.

    The layer has no weights. Under a mixed-precision policy the competition
    runs in float32 and the output has the compute dtype.

    Args:
        k_spatial: int > 0. Winners per `(b, t, channel)` over `H * W`.
            `H * W` (or more) disables the spatial step (`nospatial`).
        k_lifetime: int > 0. Winners per `(h, w, channel)` over `B * T`.
            `B * T` (or more) disables the lifetime step (`nolifetime`).
        alpha: float > 0. Inference uses `round(alpha * k)` winners.
            Defaults to `1`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of shape `(batch, time, height, width, channels)`;
            batch and time may be dynamic.
        training: Python bool or `None`. Selects `k` (training) or
            `alpha * k` (inference, also for `None`).

    Returns:
        Tensor of the input's shape: `mask * inputs`.

    Example:
    >>> x = np.random.rand(2, 3, 8, 8, 4).astype("float32") + 0.1
    >>> y = keras.ops.convert_to_numpy(KSparse(k_spatial=1, k_lifetime=6)(x))
    >>> int(np.count_nonzero(y))  # 1 pixel per (b, t, c); B*T=6: no lifetime
    24
    >>> y = keras.ops.convert_to_numpy(KSparse(k_spatial=64, k_lifetime=1)(x))
    >>> int(np.count_nonzero(y))  # 1 frame of the batch per (h, w, c)
    256
    """

    def __init__(self, k_spatial, k_lifetime, alpha=1, **kwargs):
        _check_k(k_spatial, "k_spatial")
        _check_k(k_lifetime, "k_lifetime")
        _check_alpha(alpha)
        super().__init__(**kwargs)
        self.k_spatial = k_spatial
        self.k_lifetime = k_lifetime
        self.alpha = alpha
        self.supports_masking = False

    def build(self, input_shape):
        _check_video_shape(self, input_shape)

    def call(self, inputs, training=None):
        x = ksparse(
            inputs,
            self.k_spatial,
            axis=[2, 3],
            alpha=self.alpha,
            training=training,
        )
        return ksparse(
            x,
            self.k_lifetime,
            axis=[0, 1],
            alpha=self.alpha,
            training=training,
        )

    def compute_output_shape(self, input_shape):
        return _check_video_shape(self, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "k_spatial": self.k_spatial,
                "k_lifetime": self.k_lifetime,
                "alpha": self.alpha,
            }
        )
        return config
