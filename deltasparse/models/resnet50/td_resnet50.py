"""Time-distributed ResNet-50 v1 with optional delta or L1 sparsity slots.

Re-implementation of the `UCF_TD_ResNet50`, `UCF_ResNet50_L1` and
`UCF_ResNet50_delta` builders of the Delta Activation Layer code
(Yousefzadeh & Sifalakis, arXiv 2107.07305), spec `delta_activation.md`
§4.1-4.2. The module also holds the helpers shared with
`deltasparse.models.mobilenet.td_mobilenet` (input checks, sparsity slots).
"""

import math
import numbers

import keras
from keras import layers

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.metrics.sparsity import SparsityMetrics

SPARSITY_KINDS = (None, "l1", "delta")
MIN_FRAME_SIZE = 32

# (stage name, bottleneck filters f, blocks, stride of block 1).
RESNET50_STAGES = (
    ("conv2", 64, 3, 1),
    ("conv3", 128, 4, 2),
    ("conv4", 256, 6, 2),
    ("conv5", 512, 3, 2),
)
# Index in the 7-entry `thr_init` list: [in, conv1, conv2..conv5, fc].
RESNET50_THR_INDEX = {
    "in": 0,
    "conv1": 1,
    "conv2": 2,
    "conv3": 3,
    "conv4": 4,
    "conv5": 5,
    "fc": 6,
}
RESNET50_DEFAULT_THR_INIT = (3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 3.0)
FC_UNITS = 1024


# === Helpers shared with td_mobilenet ===


def _check_frame_shape(input_shape):
    """Returns `(H, W, C)` from `(H, W)` or `(H, W, C)`; raises otherwise."""
    shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else ()
    valid = len(shape) in (2, 3) and all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool)
        for d in shape
    )
    if valid:
        shape = tuple(int(d) for d in shape)
        if len(shape) == 2:
            shape = shape + (3,)
        valid = (
            shape[0] >= MIN_FRAME_SIZE
            and shape[1] >= MIN_FRAME_SIZE
            and shape[2] >= 1
        )
    if not valid:
        raise ValueError(
            "`input_shape` must be the frame shape (height, width) or "
            f"(height, width, channels) with height and width >= "
            f"{MIN_FRAME_SIZE}; the clip length stays free. "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def _check_sparsity(sparsity):
    if sparsity not in SPARSITY_KINDS:
        raise ValueError(
            f"`sparsity` must be one of {SPARSITY_KINDS}. "
            f"Received: sparsity={sparsity!r}"
        )
    return sparsity


def _check_positive_int(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < 1
    ):
        raise ValueError(
            f"`{name}` must be a positive int. Received: {name}={value!r}"
        )
    return int(value)


def _check_non_negative(name, value):
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


def _check_thr_init(thr_init, length, default):
    """Normalises `thr_init` to a tuple of `length` floats."""
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
        for v in values
    ):
        raise ValueError(
            f"`thr_init` must be None, a number, or a list of {length} "
            f"numbers. Received: thr_init={thr_init!r}"
        )
    return tuple(float(v) for v in values)


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be a bool. Received: {name}={value!r}"
        )
    return value


class _SparsitySlots:
    """Inserts sparsity slots into a folded `(B*T, ...)` graph and records
    their statistics. Not public; used while building a model."""

    def __init__(self, clips, sparsity, sp_rate, thr_trainable, dtype):
        self.clips = clips
        self.sparsity = sparsity
        self.sp_rate = sp_rate
        self.thr_trainable = thr_trainable
        self.dtype = dtype
        self.names = []
        self.groups = []
        self.n_outputs = []
        self.l0 = []
        self.n = []

    @property
    def kind(self):
        return "delta" if self.sparsity == "delta" else "activation"

    def _layer(self, name, n_outputs, thr_init, sp_rate):
        sp_rate = self.sp_rate if sp_rate is None else sp_rate
        if self.sparsity == "delta":
            return DeltaActivation(
                sp_rate=sp_rate,
                n_outputs=float(n_outputs),
                thr_init=thr_init,
                thr_trainable=self.thr_trainable,
                return_stats=True,
                name=name,
                dtype=self.dtype,
            )
        return L1ActivityRegularizer(
            sp_rate=sp_rate,
            n_outputs=float(n_outputs),
            return_stats=True,
            name=name,
            dtype=self.dtype,
        )

    def apply_unfolded(self, x, name, n_outputs, group, thr_init, sp_rate):
        layer = self._layer(name, n_outputs, thr_init, sp_rate)
        y, l0, n = layer(x)
        self.names.append(name)
        self.groups.append(group)
        self.n_outputs.append(float(n_outputs))
        self.l0.append(l0)
        self.n.append(n)
        return y

    def __call__(self, x, name, n_outputs, group, thr_init, sp_rate=None):
        """Unfolds `x` to `(B, T, ...)`, applies the slot, folds back."""
        if self.sparsity is None:
            return x
        x = UnfoldTime(name=f"{name}_unfold", dtype=self.dtype)(
            x, reference=self.clips
        )
        y = self.apply_unfolded(x, name, n_outputs, group, thr_init, sp_rate)
        return FoldTime(name=f"{name}_fold", dtype=self.dtype)(y)

    def report(self, x):
        """Passes `x` through a `SparsityMetrics` layer fed by all slots."""
        if not self.names:
            return x
        return SparsityMetrics(
            slot_names=self.names,
            groups=self.groups,
            n_outputs=self.n_outputs,
            kind=self.kind,
            name="sparsity_metrics",
            dtype=self.dtype,
        )([x, self.clips, *self.l0, *self.n])


def _temporal_mean(x, clips, dtype):
    """`(B*T, K)` per-frame outputs to their mean over time `(B, K)`."""
    x = UnfoldTime(name="unfold_time", dtype=dtype)(x, reference=clips)
    return layers.GlobalAveragePooling1D(name="temporal_mean", dtype=dtype)(x)


def _base_config(model):
    return {
        "name": model.name,
        "trainable": model.trainable,
        "dtype": keras.dtype_policies.serialize(model.dtype_policy),
    }


def _revive_dtype(config):
    config = dict(config)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        config["dtype"] = keras.dtype_policies.deserialize(dtype)
    return config


# === ResNet-50 ===


def _bottleneck_block(x, slots, filters, stride, conv_shortcut, out_fanout,
                      thr, group, name, dtype):
    """ResNet v1 bottleneck (`keras.applications` naming) with slots after
    its three ReLUs. `x` is folded `(B*T, H, W, C)`."""
    bn = {"epsilon": 1.001e-5, "dtype": dtype}
    if conv_shortcut:
        shortcut = layers.Conv2D(
            4 * filters, 1, strides=stride, name=f"{name}_0_conv", dtype=dtype
        )(x)
        shortcut = layers.BatchNormalization(name=f"{name}_0_bn", **bn)(
            shortcut
        )
    else:
        shortcut = x
    x = layers.Conv2D(
        filters, 1, strides=stride, name=f"{name}_1_conv", dtype=dtype
    )(x)
    x = layers.BatchNormalization(name=f"{name}_1_bn", **bn)(x)
    x = layers.Activation("relu", name=f"{name}_1_relu", dtype=dtype)(x)
    x = slots(x, f"{name}_1_delta", 9 * filters, group, thr)
    x = layers.Conv2D(
        filters, 3, padding="same", name=f"{name}_2_conv", dtype=dtype
    )(x)
    x = layers.BatchNormalization(name=f"{name}_2_bn", **bn)(x)
    x = layers.Activation("relu", name=f"{name}_2_relu", dtype=dtype)(x)
    x = slots(x, f"{name}_2_delta", 4 * filters, group, thr)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv", dtype=dtype)(x)
    x = layers.BatchNormalization(name=f"{name}_3_bn", **bn)(x)
    x = layers.Add(name=f"{name}_add", dtype=dtype)([shortcut, x])
    x = layers.Activation("relu", name=f"{name}_out", dtype=dtype)(x)
    return slots(x, f"{name}_out_delta", out_fanout, group, thr)


@keras.saving.register_keras_serializable(package="deltasparse")
class TDResNet50(keras.Model):
    """Time-distributed ResNet-50 v1 video classifier with sparsity slots.

    Every frame of a clip `(B, T, H, W, C)` goes through a Keras ResNet-50 v1
    (topology and layer names of `keras.applications.ResNet50`: `conv1_pad`,
    `conv1_conv`, ..., `conv5_block3_out`; stride on `_1_conv` and
    `_0_conv`, BatchNormalization epsilon 1.001e-5, all convolutions with a
    bias), then a head `avg_pool` (7x7 average pool) -> `flatten` ->
    `fc1024` (Dense 1024, ReLU) -> [`fc1024_delta`] -> `dropout` (0.5) ->
    `fc101` (Dense `classes`, softmax). The per-frame probabilities are
    averaged over time (`temporal_mean`), giving one `(B, classes)` output
    trained with categorical cross-entropy.

    Time handling: the clip is folded into the batch (`FoldTime`, `(B*T,
    ...)`) once at the input, so BatchNormalization uses statistics over
    batch x time like the original Keras-2 `TimeDistributed` wrappers, and is
    unfolded (`UnfoldTime`, T read from the model input, which has a free
    time axis) only around each sparsity slot (`<slot>_unfold`,
    `<slot>_fold`). Any clip length works (`T >= 2` with delta slots).

    Sparsity slots (`sparsity='delta'` or `'l1'`, 51 of them): one on the
    raw input (`inp_delta`), one after `conv1_relu` (`conv1_delta`), three
    per bottleneck block after `_1_relu`, `_2_relu` and `_out`
    (`<stage>_block<i>_{1,2,out}_delta`), and `fc1024_delta` after `fc1024`.
    `'delta'` puts a `DeltaActivation` in each (quantized activations,
    temporal-delta loss); `'l1'` an `L1ActivityRegularizer` (identity,
    activation L1 loss). Each slot's loss is scaled by its fan-out
    `n_outputs` (spec table): input 3136 (64*7*7), conv1 320, `_1` 9f,
    `_2` 4f, `_out` f, last block of a stage 640 / 1280 / 2560 / 1024, fc
    `classes` (counted as in the original: strides and the identity
    shortcut are ignored). Identity shortcuts and the residual adds consume
    the slot outputs (quantized activations for delta). Groups for the metrics:
    `in`, `conv1`, `conv2` ... `conv5`, `fc`.

    Metrics: a `SparsityMetrics` layer reports, in `fit` history and
    `evaluate` logs, `delta_density_<group>` (delta models) or
    `act_density_<group>` (L1 models) for every group and `all`,
    `op_ratio_counted`, `macs_dense_counted` and `macs_effective_counted`
    (see `deltasparse.metrics.sparsity`). The baseline (`sparsity=None`) has
    no slots and no metrics: it is the plain network, fastest to run. To
    measure the baseline's activation densities (the original TD baseline
    did), build `sparsity='l1', sp_rate=0.0`: same weights, no penalty.

    Differences from the original code:

    - Keras 3 `TimeDistributed` loops over frames and gives BatchNorm
      per-frame statistics; folding reproduces the Keras 2 behaviour.
    - The original L1 model named its input slot `inp__delta` (double
      underscore); here it is `inp_delta` in every variant, so per-layer
      results line up. Slot layers of the L1 model keep the `_delta` suffix
      as in the original. The input slot of the L1 model has `sp_rate=0`
      ("just for metrics"), as in the original.
    - `thr_init=None` means the training script's `[3, 3, 3, 4, 4, 4, 3]`
      (the original builder failed on `None`). A single number is accepted
      for all 7 entries. It is ignored without delta slots.
    - `avg_pool` adapts to small frames: its window is
      `(min(7, h), min(7, w))` for the conv5 feature map `h x w`. At 224x224
      (7x7) it is exactly the original 7x7 pool; below 224 it becomes a
      global average (32x32 frames give 1x1 maps); above, the original's
      stride-7 valid pool is kept, so `flatten` (and `fc1024`'s kernel) grows
      with the frame size as it would have in the original.
    - The output Dense keeps the name `fc101` whatever `classes` is, for
      checkpoint compatibility.
    - Model-level metrics are Keras 3 `Mean` metrics weighted to give ratios
      of sums (see `SparsityMetrics`); the original ResNet had only the
      unweighted densities, the fan-out-weighted op ratio comes from its
      MobileNet code.

    Args:
        input_shape: tuple, frame shape `(height, width)` or
            `(height, width, channels)`, height and width >= 32; channels
            default to 3. Defaults to `(224, 224)`.
        classes: int, number of classes. Defaults to `101`.
        sparsity: `None` (baseline), `'l1'` or `'delta'`. Defaults to `None`.
        sp_rate: float >= 0, weight of every slot's sparsity loss.
            Defaults to `1e-5`.
        thr_init: `None`, a number, or a list of 7 numbers
            `[in, conv1, conv2, conv3, conv4, conv5, fc]`: initial
            quantization step of the delta slots of each stage. Defaults to
            `None` (`[3, 3, 3, 4, 4, 4, 3]`).
        thr_trainable: bool, whether the delta thresholds are trainable.
            Defaults to `True`.
        name: str, model name. Defaults to `'td_resnet50'`, with `'_l1'` or
            `'_delta'` appended for sparse variants.
        dtype: dtype or `keras.DTypePolicy` of every layer. Defaults to
            `None` (the global policy).
        **kwargs: Base model keyword arguments, such as `trainable`.

    Call arguments:
        inputs: clips `(batch, time, height, width, channels)`, preprocessed
            like `keras.applications.resnet50.preprocess_input` (caffe mode).
        training: bool, training mode for BatchNormalization and Dropout.

    Returns:
        `(batch, classes)` class probabilities averaged over time.

    Example:
    >>> model = TDResNet50(input_shape=(32, 32), classes=5, sparsity="delta")
    >>> model(np.zeros((1, 2, 32, 32, 3), "float32")).shape
    TensorShape([1, 5])
    >>> len(model.sparsity_slots["names"])
    51
    """

    def __init__(
        self,
        input_shape=(224, 224),
        classes=101,
        sparsity=None,
        sp_rate=1e-5,
        thr_init=None,
        thr_trainable=True,
        name=None,
        dtype=None,
        **kwargs,
    ):
        frame_shape = _check_frame_shape(input_shape)
        classes = _check_positive_int("classes", classes)
        sparsity = _check_sparsity(sparsity)
        sp_rate = _check_non_negative("sp_rate", sp_rate)
        thr_trainable = _check_bool("thr_trainable", thr_trainable)
        thr = _check_thr_init(thr_init, 7, RESNET50_DEFAULT_THR_INIT)
        if name is None:
            name = "td_resnet50" + (f"_{sparsity}" if sparsity else "")

        # === Functional Model ===
        clips = keras.Input(shape=(None,) + frame_shape, name="frames")
        slots = _SparsitySlots(clips, sparsity, sp_rate, thr_trainable, dtype)
        if sparsity is None:
            x = FoldTime(name="fold_time", dtype=dtype)(clips)
        else:
            x = slots.apply_unfolded(
                clips,
                "inp_delta",
                64 * 7 * 7,
                "in",
                thr[RESNET50_THR_INDEX["in"]],
                sp_rate=0.0 if sparsity == "l1" else None,
            )
            x = FoldTime(name="inp_delta_fold", dtype=dtype)(x)

        x = layers.ZeroPadding2D(3, name="conv1_pad", dtype=dtype)(x)
        x = layers.Conv2D(
            64, 7, strides=2, use_bias=True, name="conv1_conv", dtype=dtype
        )(x)
        x = layers.BatchNormalization(
            epsilon=1.001e-5, name="conv1_bn", dtype=dtype
        )(x)
        x = layers.Activation("relu", name="conv1_relu", dtype=dtype)(x)
        x = slots(
            x, "conv1_delta", 64 * 5, "conv1", thr[RESNET50_THR_INDEX["conv1"]]
        )
        x = layers.ZeroPadding2D(1, name="pool1_pad", dtype=dtype)(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool", dtype=dtype)(
            x
        )

        for s, (stage, filters, blocks, stride) in enumerate(RESNET50_STAGES):
            if s + 1 < len(RESNET50_STAGES):
                last_fanout = 5 * RESNET50_STAGES[s + 1][1]
            else:
                last_fanout = FC_UNITS
            for i in range(1, blocks + 1):
                x = _bottleneck_block(
                    x,
                    slots,
                    filters,
                    stride=stride if i == 1 else 1,
                    conv_shortcut=i == 1,
                    out_fanout=last_fanout if i == blocks else filters,
                    thr=thr[RESNET50_THR_INDEX[stage]],
                    group=stage,
                    name=f"{stage}_block{i}",
                    dtype=dtype,
                )

        h, w = x.shape[1], x.shape[2]
        pool = (min(7, h), min(7, w))
        x = layers.AveragePooling2D(pool, name="avg_pool", dtype=dtype)(x)
        x = layers.Flatten(name="flatten", dtype=dtype)(x)
        x = layers.Dense(
            FC_UNITS, activation="relu", name="fc1024", dtype=dtype
        )(x)
        x = slots(
            x, "fc1024_delta", classes, "fc", thr[RESNET50_THR_INDEX["fc"]]
        )
        x = slots.report(x)
        x = layers.Dropout(0.5, name="dropout", dtype=dtype)(x)
        x = layers.Dense(
            classes, activation="softmax", name="fc101", dtype=dtype
        )(x)
        outputs = _temporal_mean(x, clips, dtype)

        super().__init__(
            inputs=clips, outputs=outputs, name=name, dtype=dtype, **kwargs
        )

        # === Config ===
        self.frame_shape = frame_shape
        self.classes = classes
        self.sparsity = sparsity
        self.sp_rate = sp_rate
        self.thr_init = None if thr_init is None else tuple(thr)
        self.thr_trainable = thr_trainable
        self.avg_pool_size = pool

    @property
    def sparsity_slots(self):
        """Slot `names`, `groups`, `n_outputs` and `kind` (empty for the
        baseline); see `deltasparse.metrics.sparsity.sparsity_slots`."""
        return _slot_info(self)

    def get_config(self):
        config = _base_config(self)
        config.update(
            {
                "input_shape": list(self.frame_shape),
                "classes": self.classes,
                "sparsity": self.sparsity,
                "sp_rate": self.sp_rate,
                "thr_init": (
                    None if self.thr_init is None else list(self.thr_init)
                ),
                "thr_trainable": self.thr_trainable,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**_revive_dtype(config))


def _slot_info(model):
    for layer in model.layers:
        if isinstance(layer, SparsityMetrics):
            return {
                "names": list(layer.slot_names),
                "groups": list(layer.groups),
                "n_outputs": list(layer.n_outputs),
                "kind": layer.kind,
            }
    return {"names": [], "groups": [], "n_outputs": [], "kind": None}
