"""`VideoBackbone`: base of the folded-time per-frame video backbones."""

import math
import numbers

import keras

from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.models.sparsity_slots import SPARSITY_CHOICES
from deltasparse.models.sparsity_slots import SparsitySlotBuilder

MIN_FRAME_SIZE = 32


# === Argument checks shared by the backbones and the task ===


def check_image_size(image_size):
    """Returns `(height, width)` as ints >= 32; raises otherwise."""
    size = tuple(image_size) if isinstance(image_size, (list, tuple)) else ()
    valid = len(size) == 2 and all(
        isinstance(d, numbers.Integral)
        and not isinstance(d, bool)
        and d >= MIN_FRAME_SIZE
        for d in size
    )
    if not valid:
        raise ValueError(
            "`image_size` must be the frame size (height, width), both ints "
            f">= {MIN_FRAME_SIZE}; the clip length stays free. "
            f"Received: image_size={image_size!r}"
        )
    return tuple(int(d) for d in size)


def check_positive_int(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < 1
    ):
        raise ValueError(
            f"`{name}` must be a positive int. Received: {name}={value!r}"
        )
    return int(value)


def check_non_negative(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"`{name}` must be a finite number >= 0. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_rate(name, value):
    """A float in `[0, 1)` (dropout rates)."""
    value = check_non_negative(name, value)
    if value >= 1:
        raise ValueError(
            f"`{name}` must be in [0, 1). Received: {name}={value}"
        )
    return value


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be a bool. Received: {name}={value!r}"
        )
    return value


def check_sparsity(sparsity):
    if sparsity not in SPARSITY_CHOICES or isinstance(sparsity, bool):
        raise ValueError(
            f"`sparsity` must be one of {SPARSITY_CHOICES}. "
            f"Received: sparsity={sparsity!r}"
        )
    return sparsity


def check_bn_momentum(bn_momentum):
    if bn_momentum is None:
        return None
    value = check_non_negative("bn_momentum", bn_momentum)
    if value >= 1:
        raise ValueError(
            "`bn_momentum` must be None or in [0, 1). "
            f"Received: bn_momentum={bn_momentum!r}"
        )
    return value


def check_thr_init(thr_init, names, default):
    """Normalises `thr_init` to a tuple with one float per entry of
    `names` (the stages the thresholds belong to)."""
    length = len(names)
    if thr_init is None:
        return tuple(float(v) for v in default)
    if isinstance(thr_init, numbers.Real) and not isinstance(thr_init, bool):
        values = (thr_init,) * length
    elif isinstance(thr_init, (list, tuple)) and len(thr_init) == length:
        values = tuple(thr_init)
    else:
        values = None
    if values is None or not all(
        isinstance(v, numbers.Real)
        and not isinstance(v, bool)
        and math.isfinite(v)
        and v != 0
        for v in values
    ):
        raise ValueError(
            f"`thr_init` must be None, a non-zero number, or a list of "
            f"{length} non-zero numbers ({', '.join(names)}). "
            f"Received: thr_init={thr_init!r}"
        )
    return tuple(float(v) for v in values)


def clip_shape_error(model_name, expected, received):
    return ValueError(
        f"`inputs` of {model_name!r} must be clips of shape (batch, time, "
        f"{expected[0]}, {expected[1]}, {expected[2]}): (batch, time, "
        "height, width, channels) with the frame size and channels the "
        f"model was built for. Received: inputs.shape={tuple(received)}"
    )


def check_clip_shape(model_name, frame_shape, shape):
    """Raises `clip_shape_error` unless `shape` is `(B, T, *frame_shape)`
    (unknown dims pass)."""
    shape = tuple(shape)
    if len(shape) != 5 or any(
        got is not None and got != want
        for got, want in zip(shape[2:], frame_shape)
    ):
        raise clip_shape_error(model_name, frame_shape, shape)



def kaiming_fan_out():
    """Hara's (and Efficient-3DCNNs') convolution init, PyTorch's
    `kaiming_normal_(mode="fan_out")`: N(0, 2 / (kernel volume x filters))."""
    return keras.initializers.VarianceScaling(
        2.0, mode="fan_out", distribution="untruncated_normal")


class ClipInputCheck:
    """Mixin for Functional video models: one clear error for a bad clip.

    Checks `inputs.shape` against the model's `frame_shape` before Keras
    does (whose error would name an internal, padded shape), in `__call__`
    and in `call` (the JAX trainers' stateless path calls `call` directly).
    """

    def _check_inputs(self, inputs):
        shape = getattr(inputs, "shape", None)
        if shape is not None:
            check_clip_shape(self.name, self.frame_shape, shape)

    def __call__(self, inputs, *args, **kwargs):
        self._check_inputs(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None, mask=None, **kwargs):
        self._check_inputs(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)


class VideoBackbone(ClipInputCheck, keras.Model):
    """Base of the per-frame video backbones (Functional models).

    A video backbone takes clips `(batch, time, height, width, channels)`,
    folds time into the batch once at the input (`FoldTime`, so
    BatchNormalization uses statistics over batch x time as the original
    Keras-2 `TimeDistributed` did) and returns folded per-frame features
    `(batch * time, h, w, c)`. Its sparsity slots (`sparsity_slots`, a tuple
    of `SparsitySlot`) are inserted by a `SparsitySlotBuilder`, which the
    task (`VideoClassifier`) continues for its head slots and closes with
    the model's one `SparsityAccumulator`. A one-frame clip `(B, 1, H, W, C)`
    is exactly the 2-D frame model.

    Subclasses build their graph between `start_graph` and
    `super().__init__(inputs=..., outputs=..., slot_builder=...)`.

    Args:
        inputs: the clip input tensor from `start_graph`.
        outputs: the folded features.
        slot_builder: the `SparsitySlotBuilder` used for the graph.
        **kwargs: Base model keyword arguments, such as `name` and `dtype`.
    """

    # Arguments of the head a `VideoClassifier` uses by default (the paper
    # head of the family); subclasses override.
    default_head = {}
    # Per-frame backbones return folded `(B*T, h, w, c)` features; a
    # `SpatiotemporalBackbone` returns `(B, t, h, w, c)` and sets True.
    spatiotemporal = False
    # Head sparsity slots of the family (`VideoClassifier` inserts them).
    head_slots = ()
    # Per-stage names of the `thr_init` entries; subclasses override.
    thr_init_names = ()

    @staticmethod
    def start_graph(image_size, channels, sparsity, sp_rate, thr_trainable,
                    dtype):
        """Makes the `frames` input and the slot builder.

        Returns:
            `(clips, slot_builder)`.
        """
        height, width = check_image_size(image_size)
        channels = check_positive_int("channels", channels)
        clips = keras.Input(shape=(None, height, width, channels),
                            name="frames")
        builder = SparsitySlotBuilder(clips, sparsity, sp_rate,
                                      thr_trainable, dtype)
        return clips, builder

    @staticmethod
    def fold(x, dtype, name="fold_time"):
        return FoldTime(name=name, dtype=dtype)(x)

    def __init__(self, *, inputs, outputs, slot_builder, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.slot_builder = slot_builder
        self.frame_shape = tuple(inputs.shape[2:])

    def __setattr__(self, name, value):
        # The builder holds symbolic tensors; keep it out of tracking.
        if name == "slot_builder":
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    @property
    def sparsity_slots(self):
        """Tuple of `SparsitySlot`, in graph order (empty without slots)."""
        return tuple(self.slot_builder.slots)

    def store_config(self, sparsity, sp_rate, thr_init, thr_values,
                     thr_trainable, bn_momentum):
        """Stores the arguments shared by every backbone (after
        `super().__init__`)."""
        self.sparsity = sparsity
        self.image_size = tuple(self.frame_shape[:2])
        self.channels = int(self.frame_shape[2])
        self.sp_rate = sp_rate
        self.thr_init = None if thr_init is None else tuple(thr_values)
        self.thr_values = tuple(thr_values)
        self.thr_trainable = thr_trainable
        self.bn_momentum = bn_momentum

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "sparsity": self.sparsity,
            "image_size": list(self.image_size),
            "channels": self.channels,
            "sp_rate": self.sp_rate,
            "thr_init": None if self.thr_init is None else list(self.thr_init),
            "thr_trainable": self.thr_trainable,
            "bn_momentum": self.bn_momentum,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):
            config["dtype"] = keras.dtype_policies.deserialize(dtype)
        return cls(**config)


class SpatiotemporalBackbone(VideoBackbone):
    """Base of the 3-D video backbones (convolutions over time and space).

    A spatiotemporal backbone takes clips `(batch, time, height, width,
    channels)` (channels last; `time` may stay free, `clip_length=None`)
    and returns unfolded features `(batch, t, h, w, c)`. A
    `VideoClassifier` on it pools those over time and space and applies one
    classifier layer (no per-frame head, no temporal consensus). These
    backbones have no sparsity slots (`sparsity` is `None`).

    Subclasses build their graph between `start_clip_graph` and
    `super().__init__(inputs=..., outputs=..., name=..., dtype=...)`, then
    add their own arguments to `get_config`.

    Args:
        inputs: the clip input tensor from `start_clip_graph`.
        outputs: the `(batch, t, h, w, c)` features.
        **kwargs: Base model keyword arguments, such as `name` and `dtype`.
    """

    spatiotemporal = True

    @staticmethod
    def classifier_initializers(fan_in):
        """Kernel and bias initializers of the `classifier` layer of a
        `VideoClassifier` on this backbone.

        The default is PyTorch's `nn.Linear` init, which Hara et al.'s
        ResNets keep: both uniform on +-1/sqrt(fan_in) (Keras' Glorot
        default has about 6x its variance, which makes the first logits of
        a deep 3-D ResNet large and slows training from scratch).
        """
        bound = 1.0 / math.sqrt(fan_in)
        return (keras.initializers.VarianceScaling(
                    1.0 / 3.0, mode="fan_in", distribution="uniform"),
                keras.initializers.RandomUniform(-bound, bound))

    @staticmethod
    def start_clip_graph(image_size, channels, clip_length=None):
        """Makes the `frames` input `(batch, clip_length, h, w, channels)`.

        Returns:
            The input tensor.
        """
        height, width = check_image_size(image_size)
        channels = check_positive_int("channels", channels)
        if clip_length is not None:
            clip_length = check_positive_int("clip_length", clip_length)
        return keras.Input(shape=(clip_length, height, width, channels),
                           name="frames")

    def __init__(self, *, inputs, outputs, **kwargs):
        builder = SparsitySlotBuilder(inputs, None, 0.0, False,
                                      kwargs.get("dtype"))
        super().__init__(inputs=inputs, outputs=outputs,
                         slot_builder=builder, **kwargs)
        self.sparsity = None
        self.image_size = tuple(self.frame_shape[:2])
        self.channels = int(self.frame_shape[2])
        self.clip_length = inputs.shape[1]
        self.thr_values = ()

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "image_size": list(self.image_size),
            "channels": self.channels,
            "clip_length": self.clip_length,
        }
