"""Spatial-then-lifetime group k-sparse layer for video features."""

import keras

from deltasparse.layers.sparsity.ksparse import _check_video_shape
from deltasparse.ops.ksparse import _check_alpha
from deltasparse.ops.ksparse import _check_k
from deltasparse.ops.ksparse import group_ksparse
from deltasparse.ops.norms import _check_epsilon
from deltasparse.ops.norms import _check_p
from deltasparse.ops.norms import _is_int


@keras.saving.register_keras_serializable(package="deltasparse")
class GroupKSparse(keras.layers.Layer):
    """Spatial, then lifetime, group k-sparse winner-take-all on video.

    The sparsity of the paper's method ("Group k-Sparse Temporal
    Convolutional Neural Networks", Milacski et al., IJCNN 2019;
    `KerasGroupWTACNN` / `KerasGroupWTACRNN`, spec `group_ksparse.md` §4.3,
    §4.4). The `C` channels are split into `groups` contiguous blocks of
    `C // groups` channels, and whole blocks compete by their norm
    `(sum_{c in g} |x_c| ** norm + epsilon) ** (1 / norm)`:

    1. **Spatial:** for every sample, frame and group `(b, t, g)`, keep the
       `k_spatial` positions `(h, w)` with the largest group norm.
    2. **Lifetime:** on that result, for every position and group
       `(h, w, g)`, keep the `k_lifetime` frames `(b, t)` **of the whole
       batch** with the largest group norm (capped at `B * T`, so the output
       depends on the batch composition).

    That is `group_ksparse(group_ksparse(x, groups, k_spatial, [4], [2, 3]),
    groups, k_lifetime, [4], [0, 1])`. All channels of a winning block are
    kept together, everything else is zeroed. Each competition keeps exactly
    `min(k, S)` positions (ties: lower flat index `h * W + w`, resp.
    `b * T + t`), even among all-zero blocks (their norm is
    `epsilon ** (1 / norm)`). The masks carry no gradient. Sparsity is
    applied in training and inference (`alpha=1`, as in the original);
    `alpha` scales `k` at inference (rounded to the nearest int, at
    least 1).

    The layer has no weights. Under a mixed-precision policy the norms and
    the competition run in float32 and the output has the compute dtype.

    Args:
        groups: int > 0 dividing the channel count `C`.
        k_spatial: int > 0. Winning positions per `(b, t, group)`.
        k_lifetime: int > 0. Winning frames per `(h, w, group)` over `B * T`.
        norm: float > 0. Order of the group norm. Defaults to `2`.
        alpha: float > 0. Inference uses `round(alpha * k)` winners.
            Defaults to `1`.
        epsilon: float >= 0 or `None`. Added inside the norm's root; `None`
            means `keras.config.epsilon()` (1e-7 by default, the original's
            `K.epsilon()`). Defaults to `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of shape `(batch, time, height, width, channels)`;
            batch and time may be dynamic.
        training: Python bool or `None`. Selects `k` (training) or
            `alpha * k` (inference, also for `None`).

    Returns:
        Tensor of the input's shape: `mask * inputs`.

    Example:
    >>> x = np.random.rand(2, 3, 8, 8, 16).astype("float32")
    >>> layer = GroupKSparse(groups=4, k_spatial=1, k_lifetime=2)
    >>> tuple(layer(x).shape)
    (2, 3, 8, 8, 16)
    """

    def __init__(
        self,
        groups,
        k_spatial,
        k_lifetime,
        norm=2,
        alpha=1,
        epsilon=None,
        **kwargs,
    ):
        if not _is_int(groups) or groups < 1:
            raise ValueError(
                f"`groups` must be a positive int. Received: groups={groups!r}"
            )
        _check_k(k_spatial, "k_spatial")
        _check_k(k_lifetime, "k_lifetime")
        _check_p(norm, "norm")
        _check_alpha(alpha)
        _check_epsilon(epsilon)
        super().__init__(**kwargs)
        self.groups = groups
        self.k_spatial = k_spatial
        self.k_lifetime = k_lifetime
        self.norm = norm
        self.alpha = alpha
        self.epsilon = epsilon
        self.supports_masking = False

    def _check_shape(self, input_shape):
        input_shape = _check_video_shape(self, input_shape)
        if input_shape[-1] % self.groups:
            raise ValueError(
                f"The channel count ({input_shape[-1]}) must be divisible by "
                f"`groups`. Received: groups={self.groups}, "
                f"input_shape={input_shape}"
            )
        return input_shape

    def build(self, input_shape):
        self._check_shape(input_shape)

    def call(self, inputs, training=None):
        kwargs = dict(
            groups=self.groups,
            axis_group=[4],
            norm=self.norm,
            alpha=self.alpha,
            epsilon=self.epsilon,
            training=training,
        )
        x = group_ksparse(
            inputs, k=self.k_spatial, axis_sparse=[2, 3], **kwargs
        )
        return group_ksparse(
            x, k=self.k_lifetime, axis_sparse=[0, 1], **kwargs
        )

    def compute_output_shape(self, input_shape):
        return self._check_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "groups": self.groups,
                "k_spatial": self.k_spatial,
                "k_lifetime": self.k_lifetime,
                "norm": self.norm,
                "alpha": self.alpha,
                "epsilon": self.epsilon,
            }
        )
        return config
