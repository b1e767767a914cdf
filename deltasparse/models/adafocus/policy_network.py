"""`PolicyNetwork`: AdaFocusV2's patch-position policy (the original
`PolicySTN` of `models/adafocus_v2.py`)."""

import keras
from keras import ops

# PyTorch BatchNorm defaults (momentum 0.1 of the new batch, eps 1e-5).
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5


def check_positive_int(name, value):
    """Raises the project's ValueError unless `value` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`{name}` must be an int >= 1. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="deltasparse")
class PolicyNetwork(keras.layers.Layer):
    """Predicts one patch position per frame from the glance feature maps.

    As the original `PolicySTN`: on the glance feature maps with their
    gradient stopped (`ops.stop_gradient`: the policy's loss never reaches
    the glance network), every frame goes through a 1x1 convolution to
    `channels` maps (no bias), BatchNorm, tanh, flatten, a dense layer of
    `hidden` units, BatchNorm and tanh; a GRU of `hidden` units runs over
    the frames (zero initial state, PyTorch's gate formulation:
    `reset_after=True`) and a dense layer with a sigmoid gives `(y, x)` in
    [0, 1] per frame. The BatchNorms see the B*T frames of the batch, as the
    original, with PyTorch's momentum and epsilon.

    Args:
        hidden: int, width of the dense layer and of the GRU (2048 in the
            paper's runs). Defaults to `2048`.
        channels: int, output channels of the 1x1 convolution. Defaults to
            `64`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        feature_maps: `(B, T, h, w, c)` glance feature maps.
        training: bool, BatchNorm mode.

    Returns:
        `(B, T, 2)` positions, `(y, x)` in [0, 1].

    Example:
    >>> policy = PolicyNetwork(hidden=8, channels=4)
    >>> tuple(policy(np.zeros((2, 3, 5, 5, 6), "float32")).shape)
    (2, 3, 2)
    """

    def __init__(self, hidden=2048, channels=64, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("hidden", hidden)
        check_positive_int("channels", channels)
        self.hidden = hidden
        self.channels = channels
        dtype = kwargs.get("dtype")
        norm = dict(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON,
                    dtype=dtype)
        self.reduce = keras.layers.Conv2D(channels, 1, use_bias=False,
                                          name="reduce", dtype=dtype)
        self.reduce_norm = keras.layers.BatchNormalization(
            name="reduce_norm", **norm)
        self.flatten = keras.layers.Flatten(name="flatten", dtype=dtype)
        self.embed = keras.layers.Dense(hidden, name="embed", dtype=dtype)
        self.embed_norm = keras.layers.BatchNormalization(
            name="embed_norm", **norm)
        self.gru = keras.layers.GRU(hidden, return_sequences=True,
                                    reset_after=True, name="gru", dtype=dtype)
        self.position = keras.layers.Dense(2, activation="sigmoid",
                                           name="position", dtype=dtype)

    def build(self, feature_maps_shape):
        if len(feature_maps_shape) != 5 or any(
                d is None for d in feature_maps_shape[2:]):
            raise ValueError(
                "`feature_maps` must be (batch, time, height, width, "
                "channels) with static feature dimensions. "
                f"Received: feature_maps.shape={tuple(feature_maps_shape)}")
        time = feature_maps_shape[1]
        frame_shape = (None, *feature_maps_shape[2:])
        self.reduce.build(frame_shape)
        reduced = self.reduce.compute_output_shape(frame_shape)
        self.reduce_norm.build(reduced)
        flat = self.flatten.compute_output_shape(reduced)
        self.embed.build(flat)
        self.embed_norm.build((None, self.hidden))
        self.gru.build((None, time, self.hidden))
        self.position.build((None, time, self.hidden))

    def call(self, feature_maps, training=None):
        feature_maps = ops.stop_gradient(feature_maps)
        time = feature_maps.shape[1]
        frames = ops.reshape(feature_maps, (-1, *feature_maps.shape[2:]))
        x = ops.tanh(self.reduce_norm(self.reduce(frames), training=training))
        x = self.embed(self.flatten(x))
        x = ops.tanh(self.embed_norm(x, training=training))
        x = self.gru(ops.reshape(x, (-1, time, self.hidden)),
                     training=training)
        return self.position(x)

    def compute_output_shape(self, feature_maps_shape):
        return (feature_maps_shape[0], feature_maps_shape[1], 2)

    def recurrent_macs_per_frame(self):
        """int, the multiply-accumulates of one GRU step (not seen by
        `count_macs`, which counts Conv and Dense layers only): three gates
        of `hidden` units over the input and the state."""
        return 3 * self.hidden * (self.hidden + self.hidden)

    def get_config(self):
        config = super().get_config()
        config.update(hidden=self.hidden, channels=self.channels)
        return config


__all__ = ["PolicyNetwork"]
