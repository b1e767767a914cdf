"""`FocusClassifier`: AdaFocusV2's fusion classifier (the original
`PoolingClassifier`, borrowed from FrameExit)."""

import keras
from keras import ops

from deltasparse.models.adafocus.policy_network import BATCH_NORM_EPSILON
from deltasparse.models.adafocus.policy_network import BATCH_NORM_MOMENTUM
from deltasparse.models.adafocus.policy_network import check_positive_int


@keras.saving.register_keras_serializable(package="deltasparse")
class FocusClassifier(keras.layers.Layer):
    """Per-step logits from per-frame features: MLP, running max, T heads.

    Every frame's features go through a dense layer of `hidden` units,
    BatchNorm (over the B*T frames, PyTorch's momentum and epsilon) and ReLU;
    a running max over time makes step t's representation the element-wise
    max of frames 0..t, and step t has its own linear head (dropout before),
    so `step_logits[:, t]` depends on frames 0..t only (in inference mode;
    in training the BatchNorm's batch statistics mix the frames). Clips of
    fewer frames than `num_segments` use the first heads (a prefix of the
    video, as in early exit).

    Args:
        num_classes: int K.
        num_segments: int T, the number of heads (frames per clip).
        hidden: int, MLP width. Defaults to `4096`.
        dropout: float in [0, 1), dropout before the heads. Defaults to
            `0.2`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        features: `(B, T', D)` per-frame features, T' <= `num_segments`.
        training: bool, BatchNorm and dropout mode.

    Returns:
        `(B, T', K)` step logits.

    Example:
    >>> classifier = FocusClassifier(num_classes=3, num_segments=4, hidden=8)
    >>> tuple(classifier(np.zeros((2, 4, 5), "float32")).shape)
    (2, 4, 3)
    """

    def __init__(self, num_classes, num_segments, hidden=4096, dropout=0.2,
                 **kwargs):
        super().__init__(**kwargs)
        check_positive_int("num_classes", num_classes)
        check_positive_int("num_segments", num_segments)
        check_positive_int("hidden", hidden)
        if isinstance(dropout, bool) or not isinstance(
                dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(
                f"`dropout` must be a float in [0, 1). Received: "
                f"dropout={dropout!r}")
        self.num_classes = num_classes
        self.num_segments = num_segments
        self.hidden = hidden
        self.dropout = dropout
        dtype = kwargs.get("dtype")
        self.embed = keras.layers.Dense(hidden, name="embed", dtype=dtype)
        self.embed_norm = keras.layers.BatchNormalization(
            momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON,
            name="embed_norm", dtype=dtype)
        self.head_dropout = keras.layers.Dropout(dropout, name="head_dropout",
                                                 dtype=dtype)
        self.heads = [keras.layers.Dense(num_classes, name=f"head_{t}",
                                         dtype=dtype)
                      for t in range(num_segments)]

    def build(self, features_shape):
        if len(features_shape) != 3 or features_shape[-1] is None:
            raise ValueError(
                "`features` must be (batch, time, features) with a static "
                f"feature size. Received: features.shape="
                f"{tuple(features_shape)}")
        self.embed.build((None, features_shape[-1]))
        self.embed_norm.build((None, self.hidden))
        for head in self.heads:
            head.build((None, self.hidden))

    def call(self, features, training=None):
        time = features.shape[1]
        if time is None or time > self.num_segments:
            raise ValueError(
                f"`features` must have a static time axis of at most "
                f"num_segments={self.num_segments} frames. "
                f"Received: features.shape={tuple(features.shape)}")
        x = self.embed(ops.reshape(features, (-1, features.shape[-1])))
        x = ops.relu(self.embed_norm(x, training=training))
        x = ops.reshape(x, (-1, time, self.hidden))
        pooled = [x[:, 0]]
        for t in range(1, time):
            pooled.append(ops.maximum(pooled[-1], x[:, t]))
        logits = [head(self.head_dropout(step, training=training))
                  for head, step in zip(self.heads, pooled)]
        return ops.stack(logits, axis=1)

    def compute_output_shape(self, features_shape):
        return (features_shape[0], features_shape[1], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes,
                      num_segments=self.num_segments, hidden=self.hidden,
                      dropout=self.dropout)
        return config


__all__ = ["FocusClassifier"]
