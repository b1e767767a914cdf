"""Weightless bottleneck blocks between encoder and decoder.

- `GroupSlownessPenalty`: identity layer adding the L1 temporal-slowness
  penalty on group norms (the `slowgroupwtacnn` algorithm).
- `build_sparsity`: the bottleneck model of an algorithm (identity,
  k-sparse, group k-sparse, group k-sparse + slowness).
- `build_identity`: a weightless identity model (the vgg19 bottleneck and
  decoder).

The k-sparse layers themselves live in `deltasparse.layers.sparsity`.
"""

import keras
from keras import ops

from deltasparse.layers.sparsity import group_ksparse as _group_ksparse_layers
from deltasparse.layers.sparsity import ksparse as _ksparse_layers
from deltasparse.ops import norms as _norms

SPARSITY_KINDS = ("identity", "ksparse", "group_ksparse", "slow_group_ksparse")
"""The bottleneck kinds of `build_sparsity`."""

GROUP_SPARSITY_KINDS = ("group_ksparse", "slow_group_ksparse")
"""The kinds whose competition runs between channel groups."""


@keras.saving.register_keras_serializable(package="deltasparse")
class GroupSlownessPenalty(keras.layers.Layer):
    """Identity layer adding an L1 temporal-slowness penalty on group norms.

    For inputs `x` of shape `(B, T, H, W, C)` it computes the group L2 norms
    `n = group_norms(x, groups, axis=-1, norm=2, epsilon)` of shape
    `(B, T, H, W, G)` and adds

        `l1_slow * mean_{b,t,h,w,g} |n[b,t+1,h,w,g] - n[b,t,h,w,g]|`

    to the model loss (the `RegularizedLambda` activity regularizer of the
    original `slowgroupwtacnn`). Like Keras 2.2.4 activity regularizers and
    unlike Keras 3's, the penalty is not divided by the batch size. It is
    added in training and evaluation alike. Inputs pass through unchanged.

    Args:
        groups: int, number of contiguous channel groups G (C % G == 0).
        l1_slow: float >= 0, weight of the penalty.
        epsilon: float or `None`, added under the root of each group norm.
            `None` means `keras.config.epsilon()` (1e-7).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor `(batch, time, ..., channels)` with time >= 2.

    Returns:
        `inputs`, unchanged.

    Example:
    >>> layer = GroupSlownessPenalty(groups=2, l1_slow=1e-4)
    >>> tuple(layer(np.ones((1, 3, 4, 4, 8), "float32")).shape)
    (1, 3, 4, 4, 8)
    """

    def __init__(self, groups, l1_slow, epsilon=None, **kwargs):
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(
                f"`groups` must be a positive int. Received: groups={groups}"
            )
        if l1_slow < 0:
            raise ValueError(
                f"`l1_slow` must be >= 0. Received: l1_slow={l1_slow}"
            )
        super().__init__(**kwargs)
        self.groups = groups
        self.l1_slow = float(l1_slow)
        self.epsilon = epsilon

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "`GroupSlownessPenalty` expects inputs (batch, time, ..., "
                f"channels). Received: input_shape={tuple(input_shape)}"
            )
        channels = input_shape[-1]
        if channels is not None and channels % self.groups:
            raise ValueError(
                "The channel count must be divisible by `groups`. Received: "
                f"groups={self.groups}, input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        norms = _norms.group_norms(
            inputs, self.groups, axis=-1, norm=2, epsilon=self.epsilon
        )
        change = ops.abs(norms[:, 1:] - norms[:, :-1])
        self.add_loss(self.l1_slow * ops.mean(change))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "groups": self.groups,
                "l1_slow": self.l1_slow,
                "epsilon": self.epsilon,
            }
        )
        return config


def build_sparsity(
    kind,
    feature_shape,
    k_spatial=1,
    k_lifetime=1,
    groups=None,
    l1_slow=0.0,
    epsilon=None,
    name="sparsity",
):
    """Builds the weightless sparsity model between encoder and decoder.

    - `"identity"`: no sparsity.
    - `"ksparse"`: `KSparse(k_spatial, k_lifetime)`: per channel, keep the
      `k_spatial` largest positions of each frame, then the `k_lifetime`
      largest (sample, frame) pairs of the batch at each position.
    - `"group_ksparse"`: `GroupKSparse(groups, k_spatial, k_lifetime, norm=2,
      epsilon=epsilon)`: the same competition between whole channel groups,
      scored by their L2 norm.
    - `"slow_group_ksparse"`: group k-sparse followed by
      `GroupSlownessPenalty(groups, l1_slow, epsilon)`.

    Sparsity is active at inference too (alpha = 1, as in the original).

    Args:
        kind: one of `SPARSITY_KINDS`.
        feature_shape: tuple `(T, H, W, F)`.
        k_spatial: int, winners per frame. Defaults to `1`.
        k_lifetime: int, winners per position over batch x time. Defaults to
            `1`.
        groups: int, channel groups (group kinds only). Defaults to `None`.
        l1_slow: float, slowness weight (`"slow_group_ksparse"` only).
            Defaults to `0.0`.
        epsilon: float or `None`, group-norm epsilon (`None`: 1e-7). Defaults
            to `None`.
        name: str. Defaults to `"sparsity"`.

    Returns:
        A functional `keras.Model` mapping `(B, T, H, W, F)` to the same
        shape.

    Example:
    >>> s = build_sparsity("ksparse", (3, 8, 8, 4))  # doctest: +SKIP
    """
    if kind not in SPARSITY_KINDS:
        raise ValueError(
            f"`kind` must be one of {SPARSITY_KINDS}. Received: kind={kind!r}"
        )
    inputs = keras.Input(shape=tuple(feature_shape), name="code")
    if kind == "identity":
        outputs = keras.layers.Identity(name="identity")(inputs)
    elif kind == "ksparse":
        outputs = _ksparse_layers.KSparse(
            k_spatial, k_lifetime, name="ksparse"
        )(inputs)
    else:
        outputs = _group_ksparse_layers.GroupKSparse(
            groups,
            k_spatial,
            k_lifetime,
            norm=2,
            epsilon=epsilon,
            name="group_ksparse",
        )(inputs)
        if kind == "slow_group_ksparse":
            outputs = GroupSlownessPenalty(
                groups, l1_slow, epsilon=epsilon, name="slowness"
            )(outputs)
    return keras.Model(inputs, outputs, name=name)


def build_identity(feature_shape, name):
    """Builds a weightless identity model (the vgg19 sparsity and decoder).

    Args:
        feature_shape: tuple, input shape without the batch axis.
        name: str, model name.

    Returns:
        A functional `keras.Model` returning its input.

    Example:
    >>> build_identity((2, 1, 1, 8), "decoder").output.shape
    (None, 2, 1, 1, 8)
    """
    inputs = keras.Input(shape=tuple(feature_shape), name="code")
    outputs = keras.layers.Identity(name="identity")(inputs)
    return keras.Model(inputs, outputs, name=name)
