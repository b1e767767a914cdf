"""`VideoClassifier`: a video backbone, a per-frame head and temporal
consensus (the mean of per-frame probabilities over time)."""

import inspect

import keras
from keras import layers

from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.models.csn import csn_presets
from deltasparse.models.csn.csn_backbone import CSNBackbone
from deltasparse.models.mobilenet import mobilenet_presets
from deltasparse.models.mobilenet.mobilenet_video_backbone import MobileNetVideoBackbone
from deltasparse.models.mobilenetv2_3d import mobilenetv2_3d_presets
from deltasparse.models.mobilenetv2_3d.mobilenetv2_3d_backbone import MobileNetV2_3DBackbone
from deltasparse.models.resnet50 import resnet50_presets
from deltasparse.models.resnet50.resnet50_video_backbone import ResNet50VideoBackbone
from deltasparse.models.resnet3d import resnet3d_presets
from deltasparse.models.resnet3d.resnet3d_backbone import ResNet3DBackbone
from deltasparse.models.sparsity_slots import model_sparsity_slots
from deltasparse.models.video_backbone import ClipInputCheck
from deltasparse.models.video_backbone import VideoBackbone
from deltasparse.models.video_backbone import check_bool
from deltasparse.models.video_backbone import check_positive_int
from deltasparse.models.video_backbone import check_rate

# Preset name -> {"metadata", "backbone" (config overrides)}; the backbone
# class is picked from the metadata's family path.
PRESET_FAMILIES = {
    "resnet50": ResNet50VideoBackbone,
    "mobilenet": MobileNetVideoBackbone,
    "resnet3d": ResNet3DBackbone,
    "csn": CSNBackbone,
    "mobilenetv2_3d": MobileNetV2_3DBackbone,
}
PRESETS = {
    **resnet50_presets.backbone_presets,
    **mobilenet_presets.backbone_presets,
    **resnet3d_presets.backbone_presets,
    **csn_presets.backbone_presets,
    **mobilenetv2_3d_presets.backbone_presets,
}
POOLINGS = ("avg", "max", "avg_7x7")
OUTPUT_LAYERS = ("dense", "conv")


def list_presets():
    """Names of the `VideoClassifier` presets, with their descriptions.

    Returns:
        dict name -> description, e.g. `"mobilenet_delta"` -> `"MobileNet v1
        with DeltaActivation slots, sp_rate 1e-3, ..."`.
    """
    return {k: v["metadata"]["description"] for k, v in PRESETS.items()}


def _spatiotemporal_head(backbone, num_classes, pooling, dropout,
                         head_units, activation, dtype):
    """Head of a 3-D backbone: global pool over (t, h, w), optional hidden
    layer, dropout, one `classifier` layer (Hara et al.'s `fc`, initialized
    by `backbone.classifier_initializers`)."""
    x = backbone.output
    pool = (layers.GlobalAveragePooling3D if pooling == "avg"
            else layers.GlobalMaxPooling3D)
    x = pool(name="global_pool", dtype=dtype)(x)
    if head_units:
        x = layers.Dense(head_units, activation="relu",
                         name=f"fc{head_units}", dtype=dtype)(x)
    x = layers.Dropout(dropout, name="dropout", dtype=dtype)(x)
    kernel, bias = backbone.classifier_initializers(int(x.shape[-1]))
    return layers.Dense(num_classes, activation=activation,
                        kernel_initializer=kernel, bias_initializer=bias,
                        name="classifier", dtype=dtype)(x)


def _apply_pooling(x, pooling, dtype):
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="global_pool",
                                             dtype=dtype)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="global_pool", dtype=dtype)(x)
    # "avg_7x7": the ResNet-50 head's 7x7 average pool + flatten. The window
    # is (min(7, h), min(7, w)): exactly 7x7 at 224x224, a global average on
    # smaller frames, the original's stride-7 valid pool on larger ones.
    pool = (min(7, x.shape[1]), min(7, x.shape[2]))
    x = layers.AveragePooling2D(pool, name="avg_pool", dtype=dtype)(x)
    return layers.Flatten(name="flatten", dtype=dtype)(x)


@keras.saving.register_keras_serializable(package="deltasparse")
class VideoClassifier(ClipInputCheck, keras.Model):
    """Video classifier: backbone, per-frame head, mean over time.

    The backbone folds the clip `(B, T, H, W, C)` into frames; the head runs
    per frame: optional head slot on the features, `pooling`, an optional
    hidden `Dense(head_units, relu)` (named `fc<units>`) with an optional
    slot after it (`fc<units>_delta`), `dropout`, and the class layer
    (`output_layer="dense"`: `Dense` named `fc101`, the ResNet head;
    `"conv"`: `reshape_1` -> `dropout` -> 1x1 `conv_preds` -> `reshape_2`
    -> `predictions`, the MobileNet head). The per-frame probabilities are
    averaged over time (`unfold_time` -> `temporal_mean`): one `(B,
    num_classes)` output trained with categorical cross-entropy on the
    averaged probabilities, as in the paper. Arguments left at `None` take
    the backbone family's paper head (`backbone.default_head`); the layer
    names stay those of the original models (`fc101` whatever
    `num_classes`), so weights transfer by name.

    The model holds one `SparsityAccumulator` (after the last slot) fed by
    every slot; `sparsity_slots` lists them. Use the `SparsityLogger`
    callback for the figures in `fit`, `deltasparse.evaluation` for test
    figures. A one-frame clip `(B, 1, H, W, C)` of a model without delta
    slots is the 2-D frame model (BatchNormalization over the batch).

    Args:
        backbone: a `VideoBackbone` (`ResNet50VideoBackbone`,
            `MobileNetVideoBackbone`).
        num_classes: int, number of classes.
        pooling: `"avg"` (global average, `global_pool`), `"max"`, or
            `"avg_7x7"` (ResNet-50's `avg_pool` + `flatten`). Defaults to
            the backbone's.
        activation: activation of the class layer. Defaults to `"softmax"`.
        dropout: float in `[0, 1)`. Defaults to the backbone's (ResNet 0.5,
            MobileNet 0.001).
        head_units: int, units of the hidden `fc<units>` layer (0: none).
            Defaults to the backbone's (ResNet 1024, MobileNet none).
        head_sparsity_slot: bool, whether the head gets the backbone's
            head slots (ResNet `fc1024_delta` after the hidden layer;
            MobileNet `conv_dw_13_delta2` on the features), whose fan-out is
            `num_classes`. Defaults to `True` for a backbone with slots.
        output_layer: `"dense"` or `"conv"`. Defaults to the backbone's.
        head_dtype: dtype policy of the head layers. Defaults to the
            backbone's.
        name: str. Defaults to `"<family>_<sparsity>"`, e.g.
            `"mobilenet_delta"` (`..._baseline` without slots).
        **kwargs: Base model keyword arguments, such as `trainable`.

    Call arguments:
        inputs: clips `(batch, time, height, width, channels)` preprocessed
            for the backbone (ResNet: caffe mode; MobileNet: `x/127.5 - 1`).
        training: bool, training mode of BatchNormalization and Dropout.

    Returns:
        `(batch, num_classes)` probabilities averaged over time.

    Example:
    >>> model = VideoClassifier.from_preset("mobilenet_delta", num_classes=5,
    ...                                     image_size=(32, 32), alpha=0.25)
    >>> tuple(model(np.zeros((1, 2, 32, 32, 3), "float32")).shape)
    (1, 5)
    >>> len(model.sparsity_slots)
    27
    """

    def __init__(
        self,
        backbone,
        num_classes,
        pooling=None,
        activation="softmax",
        dropout=None,
        head_units=None,
        head_sparsity_slot=None,
        output_layer=None,
        head_dtype=None,
        name=None,
        **kwargs,
    ):
        if not isinstance(backbone, VideoBackbone):
            raise ValueError(
                "`backbone` must be a `VideoBackbone` (e.g. "
                "`ResNet50VideoBackbone`, `MobileNetVideoBackbone`). "
                f"Received: backbone={backbone!r}"
            )
        defaults = backbone.default_head
        num_classes = check_positive_int("num_classes", num_classes)
        pooling = defaults.get("pooling", "avg") if pooling is None else pooling
        if pooling not in POOLINGS:
            raise ValueError(
                f"`pooling` must be one of {POOLINGS}. "
                f"Received: pooling={pooling!r}"
            )
        dropout = check_rate(
            "dropout", defaults.get("dropout", 0.0) if dropout is None
            else dropout
        )
        if head_units is None:
            head_units = defaults.get("head_units") or 0
        if head_units != 0:
            head_units = check_positive_int("head_units", head_units)
        if head_sparsity_slot is None:
            head_sparsity_slot = backbone.slot_builder.enabled
        check_bool("head_sparsity_slot", head_sparsity_slot)
        if output_layer is None:
            output_layer = defaults.get("output_layer", "dense")
        if output_layer not in OUTPUT_LAYERS:
            raise ValueError(
                f"`output_layer` must be one of {OUTPUT_LAYERS}. "
                f"Received: output_layer={output_layer!r}"
            )
        keras.activations.get(activation)
        if name is None and not backbone.spatiotemporal:
            family = type(backbone).__name__.replace("VideoBackbone", "")
            name = f"{family.lower()}_{backbone.sparsity or 'baseline'}"
        dtype = head_dtype if head_dtype is not None else (
            backbone.dtype_policy
        )

        if backbone.spatiotemporal and output_layer != "dense":
            raise ValueError(
                "`output_layer` must be 'dense' for a spatiotemporal "
                f"backbone ({type(backbone).__name__}). "
                f"Received: output_layer={output_layer!r}"
            )
        if backbone.spatiotemporal and pooling == "avg_7x7":
            raise ValueError(
                "`pooling` must be 'avg' or 'max' for a spatiotemporal "
                f"backbone ({type(backbone).__name__}). "
                f"Received: pooling={pooling!r}"
            )

        # === Functional Model ===
        clips = backbone.input
        if backbone.spatiotemporal:
            outputs = _spatiotemporal_head(
                backbone, num_classes, pooling, dropout, head_units,
                activation, dtype)
            name = name if name is not None else type(
                backbone).__name__.replace("Backbone", "").lower()
        else:
            x = backbone.output
            slots = backbone.slot_builder.copy()
            head_slots = {}
            if head_sparsity_slot and slots.enabled:
                head_slots = {s["position"]: s for s in backbone.head_slots}

            def head_slot(x, position, units=None):
                spec = head_slots.get(position)
                if spec is None:
                    return x
                slot_name = spec["name"]
                if position == "units":
                    slot_name = f"fc{units}_delta"
                return slots(x, slot_name, num_classes, spec["group"],
                             backbone.thr_values[spec["thr_index"]])

            x = head_slot(x, "features")
            x = _apply_pooling(x, pooling, dtype)
            if head_units:
                x = layers.Dense(head_units, activation="relu",
                                 name=f"fc{head_units}", dtype=dtype)(x)
                x = head_slot(x, "units", head_units)
            x = slots.accumulate(x)
            if output_layer == "dense":
                x = layers.Dropout(dropout, name="dropout", dtype=dtype)(x)
                x = layers.Dense(num_classes, activation=activation,
                                 name="fc101", dtype=dtype)(x)
            else:
                x = layers.Reshape((1, 1, x.shape[-1]), name="reshape_1",
                                   dtype=dtype)(x)
                x = layers.Dropout(dropout, name="dropout", dtype=dtype)(x)
                x = layers.Conv2D(num_classes, 1, padding="same",
                                  name="conv_preds", dtype=dtype)(x)
                x = layers.Reshape((num_classes,), name="reshape_2",
                                   dtype=dtype)(x)
                x = layers.Activation(activation, name="predictions",
                                      dtype=dtype)(x)
            x = UnfoldTime(name="unfold_time", dtype=dtype)(x, reference=clips)
            outputs = layers.GlobalAveragePooling1D(name="temporal_mean",
                                                    dtype=dtype)(x)
        super().__init__(inputs=clips, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.num_classes = num_classes
        self.pooling = pooling
        self.activation = activation
        self.dropout = dropout
        self.head_units = head_units
        self.head_sparsity_slot = head_sparsity_slot
        self.output_layer = output_layer
        self.head_dtype = head_dtype
        self.frame_shape = tuple(clips.shape[2:])

    presets = PRESETS

    @classmethod
    def from_preset(cls, preset, num_classes, **overrides):
        """Builds a classifier from a paper configuration.

        Args:
            preset: str, one of `list_presets()`: the per-frame
                `"resnet50_baseline"`, `"resnet50_l1"`, `"resnet50_delta"`,
                `"mobilenet_baseline"`, `"mobilenet_l1"`,
                `"mobilenet_delta"`, and the 3-D `"resnet3d_<depth>"`
                (10, 18, 34 with shortcut A; 50, 101, 152, 200 with B),
                `"csn_ir_<depth>"`, `"csn_ip_<depth>"` (50, 101, 152) and
                `"mobilenetv2_3d_<width>x"`.
            num_classes: int, number of classes.
            **overrides: backbone arguments (`image_size`, `sp_rate`,
                `thr_init`, `alpha`, `bn_momentum`, `dtype`, ...) and
                classifier arguments (`dropout`, `pooling`, `name`, ...).

        Returns:
            A `VideoClassifier` (random weights; nothing is downloaded).
        """
        if preset not in PRESETS:
            raise ValueError(
                f"`preset` must be one of {sorted(PRESETS)}. "
                f"Received: preset={preset!r}"
            )
        entry = PRESETS[preset]
        backbone_cls = PRESET_FAMILIES[entry["metadata"]["path"]]
        task_args = set(inspect.signature(cls.__init__).parameters) - {
            "self", "backbone", "num_classes", "kwargs"}
        task_kwargs = {k: v for k, v in overrides.items() if k in task_args}
        backbone_kwargs = dict(entry["backbone"])
        backbone_kwargs.update(
            {k: v for k, v in overrides.items() if k not in task_args}
        )
        if "dtype" in backbone_kwargs and "head_dtype" not in task_kwargs:
            task_kwargs["head_dtype"] = backbone_kwargs["dtype"]
        backbone = backbone_cls(**backbone_kwargs)
        return cls(backbone, num_classes, **task_kwargs)

    @property
    def sparsity_slots(self):
        """Tuple of `SparsitySlot` of the backbone and head, in graph order
        (empty without slots)."""
        return model_sparsity_slots(self)

    @property
    def sparsity(self):
        return self.backbone.sparsity

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "pooling": self.pooling,
            "activation": keras.activations.serialize(
                keras.activations.get(self.activation)
            ) if not isinstance(self.activation, str) else self.activation,
            "dropout": self.dropout,
            "head_units": self.head_units,
            "head_sparsity_slot": self.head_sparsity_slot,
            "output_layer": self.output_layer,
            "head_dtype": None if self.head_dtype is None else (
                keras.dtype_policies.serialize(
                    keras.dtype_policies.get(self.head_dtype)
                )
            ),
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"], custom_objects=custom_objects
        )
        if isinstance(config.get("head_dtype"), dict):
            config["head_dtype"] = keras.dtype_policies.deserialize(
                config["head_dtype"]
            )
        if isinstance(config.get("activation"), dict):
            config["activation"] = keras.activations.deserialize(
                config["activation"]
            )
        return cls(**config)
