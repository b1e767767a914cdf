"""Filter pruning with thinning: L1-ranked filters removed for real.

Distiller's `fp` schedule of the compressed-3d-cnn seed ranks the output
filters of every convolution by their L1 norm
(`L1RankedStructureParameterPruner`, `group_type=Filters`,
`desired_sparsity=0.5`) and then "thins" the network (`FilterRemover`): the
removed filters disappear, and with them the channels of the following
BatchNormalization and the input channels of the next layers. Here:

- `plan_filter_pruning(model, fraction, layers)` finds, on the flattened
  graph of `model`, every convolution whose output channels may shrink,
  the layers whose channels shrink with it, and ranks its filters; a
  `ThinningPlan` holds the kept filter indices and, in `skipped`, the
  convolutions that shapes forbid, with the reason;
- `thin_model(model, plan)` builds the physically smaller plain Functional
  model (layers rebuilt with fewer filters through
  `keras.models.clone_model`, surviving weight slices copied);
- `zero_filters(model, plan)` builds the same-architecture model whose
  removed channels are exactly zero (kernel slice, bias and the
  BatchNormalization `gamma` and `beta` of the channel), i.e. the
  "masked" model the thinned one must reproduce.

Channel dependencies. A convolution's output channel `c` flows through
channel-preserving layers (BatchNormalization, ReLU and other activations
with `f(0) = 0`, pooling, zero padding, cropping, dropout, global pooling,
and depthwise convolutions: `DepthwiseConv2D` with depth multiplier 1 and
`Conv3D`/`DepthwiseConv3D` with `groups == filters == input channels`)
until it reaches consumers that mix channels: a convolution (its kernel
loses input channel `c`) or a `Dense` layer (its kernel loses row `c`). All
those layers shrink together. A convolution is skipped when its channels
reach anything else: a residual `Add` (the other branch would need the same
channels), `Concatenate`, the parameter-free shortcut's
`ChannelZeroPadding`, `Flatten` or `Reshape`, a model output, a grouped
convolution, a shared layer, an activation with `f(0) != 0`, or a layer
this module does not know. So in a ResNet only the convolutions inside a
block shrink (the first of a basic block; the first two of a bottleneck),
as with Distiller's thinning of ResNets, where the block outputs are tied
by the additions.

Differences from Distiller: the number of filters removed is
`floor(fraction * filters)` (Distiller truncates too) but at least one
filter is always kept; ties of equal L1 norm are broken deterministically
(the lower filter index is removed first; the order of ties in
Distiller's `torch.topk` ranking is not specified); the thinned model is
a new plain Functional model, the input model is never changed.
"""

import fnmatch
import math

import keras
import numpy as np

from deltasparse.models.resnet3d.resnet3d_blocks import ChannelZeroPadding

# Layers whose output keeps the input's channel axis, channel for channel.
CHANNEL_PRESERVING = (
    keras.layers.BatchNormalization,
    keras.layers.ReLU,
    keras.layers.Activation,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.GaussianDropout,
    keras.layers.GaussianNoise,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
    keras.layers.Cropping1D,
    keras.layers.Cropping2D,
    keras.layers.Cropping3D,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
    keras.layers.UpSampling1D,
    keras.layers.UpSampling2D,
    keras.layers.UpSampling3D,
    keras.layers.Identity,
)
CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
# Hints for the layers that most often stop a convolution from shrinking.
BLOCKER_HINTS = (
    (keras.layers.Add, "a residual addition: its other input would need the "
     "same channels"),
    (keras.layers.Concatenate, "a concatenation"),
    (ChannelZeroPadding, "the zero-padded shortcut A: the block output "
     "would need the same channels"),
    (keras.layers.Flatten, "a Flatten: channels are mixed with positions"),
    (keras.layers.Reshape, "a Reshape"),
)


@keras.saving.register_keras_serializable(package="deltasparse")
class ThinningPlan:
    """Which filters of which convolutions survive a filter pruning.

    Made by `plan_filter_pruning`; read by `thin_model` and
    `zero_filters`. Layer names are those of the flattened model
    (`flatten_model`), which keeps the names of the original layers.

    Args:
        kept: dict convolution name -> sorted list of the kept output
            filter indices.
        num_filters: dict convolution name -> its original number of
            filters.
        skipped: dict layer name -> str, why that convolution keeps all its
            filters. Defaults to `{}`.
        dependents: dict convolution name -> list of the names of the
            layers whose channels shrink with it (BatchNormalization,
            activations, pooling, depthwise convolutions, ...). Defaults to
            `{}`.
        consumers: dict convolution name -> list of the names of the layers
            that lose input channels (the next convolutions, a `Dense`).
            Defaults to `{}`.
        fraction: float, the fraction of filters asked to be removed.
            Defaults to `None`.

    Example:
    >>> plan = ThinningPlan(kept={"conv": [0, 2]}, num_filters={"conv": 4})
    >>> plan.removed("conv"), plan.fraction_removed()
    ([1, 3], 0.5)
    """

    def __init__(self, kept, num_filters, skipped=None, dependents=None,
                 consumers=None, fraction=None):
        missing = sorted(set(kept) - set(num_filters))
        if missing:
            raise ValueError(
                "`num_filters` must give the original filter count of every "
                f"layer in `kept`. Received: missing={missing}")
        self.kept = {name: sorted(int(i) for i in indices)
                     for name, indices in kept.items()}
        for name, indices in self.kept.items():
            count = int(num_filters[name])
            if not indices or indices[0] < 0 or indices[-1] >= count or len(
                    set(indices)) != len(indices):
                raise ValueError(
                    f"`kept[{name!r}]` must hold distinct filter indices in "
                    f"[0, {count}), at least one. Received: kept={indices}")
        self.num_filters = {name: int(n) for name, n in num_filters.items()}
        self.skipped = dict(skipped or {})
        self.dependents = {k: list(v) for k, v in (dependents or {}).items()}
        self.consumers = {k: list(v) for k, v in (consumers or {}).items()}
        self.fraction = fraction

    def removed(self, name):
        """Sorted list of the removed filter indices of layer `name`."""
        kept = set(self.kept[name])
        return [i for i in range(self.num_filters[name]) if i not in kept]

    def fraction_removed(self):
        """float, removed filters / filters over the planned layers."""
        total = sum(self.num_filters[name] for name in self.kept)
        kept = sum(len(indices) for indices in self.kept.values())
        return 0.0 if total == 0 else (total - kept) / total

    def __repr__(self):
        return (f"ThinningPlan({len(self.kept)} convolutions thinned, "
                f"{self.fraction_removed():.0%} of their filters removed, "
                f"{len(self.skipped)} skipped)")

    def get_config(self):
        return {"kept": self.kept, "num_filters": self.num_filters,
                "skipped": self.skipped, "dependents": self.dependents,
                "consumers": self.consumers, "fraction": self.fraction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _zero_initialized(layer, config, restore):
    """`layer.__class__.from_config(config)` whose weights will be built as
    zeros: every copy's weights are overwritten right after the clone, so
    drawing random initial values is wasted work (on JAX, one compilation
    per shape). `restore` collects what `_restore_initializers` sets back
    once the copies are built, so their configs are the originals'."""
    keys = [key for key in config
            if key.endswith("_initializer") and hasattr(layer, key)]
    copy = layer.__class__.from_config(
        dict(config, **{key: "zeros" for key in keys}))
    restore.append((copy, {key: getattr(layer, key) for key in keys}))
    return copy


def _restore_initializers(restore):
    for copy, initializers in restore:
        for key, initializer in initializers.items():
            setattr(copy, key, initializer)


def _has_graph(model):
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def flatten_model(model):
    """A plain Functional copy of `model`, every layer rebuilt with copied
    weights.

    `keras.models.clone_model(model, recursive=True)` rebuilds each layer
    from its config (same name) and the copy gets the original weights; the
    input model is not changed. A `VideoClassifier` comes out as ONE graph
    of plain layers: its head is built on `backbone.input` /
    `backbone.output`, so the backbone's layers are already part of the
    classifier's graph. A model called as a layer inside another one stays
    one (cloned) layer: thinning treats it as a layer it cannot change.

    Args:
        model: a Functional or Sequential Keras model.

    Returns:
        A `keras.Model` (Functional) computing the same outputs.

    Raises:
        ValueError: for a subclassed model without a functional graph.

    Example:
    >>> model = keras.Sequential([keras.Input((4, 8, 8, 3)),
    ...                           keras.layers.Conv3D(2, 1, name="conv"),
    ...                           keras.layers.ReLU(name="relu")])
    >>> flat = flatten_model(model)
    >>> type(flat).__name__, [layer.name for layer in flat.layers][1:]
    ('Functional', ['conv', 'relu'])
    """
    if not isinstance(model, keras.Model) or not (
            isinstance(model, keras.Sequential) or _has_graph(model)):
        raise ValueError(
            "`model` must be a Functional or Sequential Keras model (a "
            "graph of layers). Received: "
            f"model={type(model).__name__}")
    originals, restore = [], []

    def clone(layer):
        copy = _zero_initialized(layer, layer.get_config(), restore)
        originals.append((layer, copy))
        return copy

    flat = keras.models.clone_model(model, clone_function=clone,
                                    recursive=True)
    _restore_initializers(restore)
    for layer, copy in originals:
        copy.set_weights(layer.get_weights())
    if isinstance(flat, keras.Sequential):
        flat = keras.Model(flat.inputs, flat.outputs, name=flat.name)
    return flat


_ZERO_AT_ZERO = {}


def _output_is_zero_at_zero(activation):
    """Whether `activation(0) == 0` (evaluated once per function)."""
    if activation is None:
        return True
    function = keras.activations.get(activation)
    if function not in _ZERO_AT_ZERO:
        value = function(np.zeros((1, 1), "float32"))
        _ZERO_AT_ZERO[function] = float(np.abs(
            keras.ops.convert_to_numpy(value)).max()) == 0.0
    return _ZERO_AT_ZERO[function]


def _is_depthwise(layer):
    """Whether `layer` maps channel c to channel c only (multiplier 1)."""
    if isinstance(layer, DEPTHWISE):
        return layer.depth_multiplier == 1
    if isinstance(layer, CONVOLUTIONS):
        channels = layer.kernel.shape[-2] * layer.groups
        return layer.groups > 1 and layer.groups == layer.filters == channels
    return False


def _channel_preserving_problem(layer):
    """None if `layer` passes channels through one to one, else why not."""
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return f"`{layer.name}` is channels_first"
    if isinstance(layer, keras.layers.BatchNormalization):
        rank = len(layer.input.shape)
        if layer.axis not in (-1, rank - 1):
            return f"`{layer.name}` normalizes axis {layer.axis}"
    activation = getattr(layer, "activation", None)
    if isinstance(layer, keras.layers.Activation) or _is_depthwise(layer):
        if not _output_is_zero_at_zero(activation):
            return (f"`{layer.name}`'s activation does not map 0 to 0, so a "
                    "removed channel would not be zero")
    return None


def _classify(layer):
    """`("filters" | "depthwise" | "dense" | "through" | None, problem)`."""
    if _is_depthwise(layer):
        return "depthwise", _channel_preserving_problem(layer)
    if isinstance(layer, CONVOLUTIONS):
        if layer.groups != 1:
            return None, (f"`{layer.name}` is a grouped convolution (groups="
                          f"{layer.groups}), whose filters follow its input "
                          "groups")
        if layer.data_format != "channels_last":
            return None, f"`{layer.name}` is channels_first"
        if not _output_is_zero_at_zero(layer.activation):
            return None, (f"`{layer.name}`'s activation does not map 0 to "
                          "0, so a removed channel would not be zero")
        return "filters", None
    if isinstance(layer, keras.layers.Dense):
        return "dense", None
    if isinstance(layer, CHANNEL_PRESERVING):
        return "through", _channel_preserving_problem(layer)
    if isinstance(layer, keras.Model):
        return None, (f"its channels reach `{layer.name}`, a nested model "
                      "called as one layer (not inlined)")
    for classes, hint in BLOCKER_HINTS:
        if isinstance(layer, classes):
            return None, f"its channels reach `{layer.name}`, {hint}"
    return None, (f"its channels reach `{layer.name}` "
                  f"({type(layer).__name__}), which cannot drop channels")


class _Graph:
    """Consumers of every tensor of a (flattened) Functional model."""

    def __init__(self, model):
        self.model = model
        self.consumers = {}
        for layer in model.layers:
            for node in layer._inbound_nodes:
                for tensor in node.input_tensors:
                    self.consumers.setdefault(id(tensor), []).append(
                        (layer, node))
        self.outputs = {id(tensor) for tensor in model.outputs}

    def channel_group(self, conv):
        """`(dependents, consumers, None)` or `(.., .., reason)` for `conv`.

        Follows `conv`'s output through channel-preserving layers up to the
        layers that mix channels.
        """
        dependents, consumers, seen = [], [], {id(conv)}
        frontier = list(conv._inbound_nodes[0].output_tensors)
        while frontier:
            tensor = frontier.pop()
            if id(tensor) in self.outputs:
                return dependents, consumers, (
                    "its channels reach a model output")
            for layer, node in self.consumers.get(id(tensor), []):
                if id(layer) in seen:
                    continue
                seen.add(id(layer))
                role, problem = _classify(layer)
                if role is not None and len(layer._inbound_nodes) > 1:
                    problem = f"`{layer.name}` is a shared layer"
                if role is not None and len(node.input_tensors) > 1:
                    problem = (f"its channels reach `{layer.name}`, which "
                               "takes several inputs")
                if problem is not None:
                    return dependents, consumers, problem
                if role in ("filters", "dense"):
                    consumers.append(layer)
                else:
                    dependents.append(layer)
                    frontier.extend(node.output_tensors)
        return dependents, consumers, None


def _l1_ranked_kept(kernel, fraction):
    """Kept filter indices: the `floor(fraction * n)` smallest-L1 filters
    are removed (at least one filter stays), ties removing lower indices
    first."""
    norms = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    count = kernel.shape[-1]
    remove = min(int(math.floor(fraction * count + 1e-9)), count - 1)
    order = np.lexsort((np.arange(count), norms))
    return sorted(int(i) for i in order[remove:])


def _check_fraction(fraction):
    if isinstance(fraction, bool) or not isinstance(
            fraction, (int, float, np.floating)) or not 0 <= fraction < 1:
        raise ValueError(
            "`fraction` must be a float in [0, 1), the fraction of each "
            "convolution's filters to remove. "
            f"Received: fraction={fraction!r}")
    return float(fraction)


def _check_patterns(layers):
    if layers is None:
        return None
    if isinstance(layers, str):
        return [layers]
    patterns = list(layers)
    if not patterns or not all(isinstance(p, str) for p in patterns):
        raise ValueError(
            "`layers` must be None, a layer name or fnmatch pattern, or a "
            f"non-empty list of them. Received: layers={layers!r}")
    return patterns


def plan_filter_pruning(model, fraction=0.5, layers=None):
    """Plans an L1-ranked filter pruning of every convolution that may shrink.

    For every `Conv1D`/`Conv2D`/`Conv3D` with `groups=1` of the flattened
    `model` (see `flatten_model`; depthwise and grouped convolutions are
    not ranked: their filters follow their input), the output filters are
    ranked by their L1 norm (`sum |kernel[..., f]|`, Distiller's
    `L1RankedStructureParameterPruner` with `group_type=Filters`) and the
    `floor(fraction * filters)` smallest are removed (at least one filter
    is kept; equal norms remove the lower index first). Convolutions whose
    channels cannot shrink (see the module docstring) go to
    `plan.skipped` with the reason.

    Args:
        model: a Functional or Sequential Keras model, e.g. a
            `VideoClassifier` (its backbone is inlined).
        fraction: float in `[0, 1)`, the fraction of filters removed from
            each planned convolution. Defaults to `0.5` (the seed's `fp`
            schedule).
        layers: `None` (every convolution), or a layer name / fnmatch
            pattern or a list of them selecting the convolutions to prune.
            Defaults to `None`.

    Returns:
        A `ThinningPlan`.

    Raises:
        ValueError: for a bad `fraction`, a bad `layers` argument or a
            pattern that matches no convolution of the model.

    Example:
    >>> inputs = keras.Input((4, 8, 8, 3))
    >>> x = keras.layers.Conv3D(8, 3, padding="same", name="conv")(inputs)
    >>> x = keras.layers.BatchNormalization(name="bn")(x)
    >>> x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="fc")(x))
    >>> plan = plan_filter_pruning(model, fraction=0.5)
    >>> len(plan.kept["conv"]), plan.dependents["conv"], plan.consumers
    (4, ['bn', 'pool'], {'conv': ['fc']})
    """
    fraction = _check_fraction(fraction)
    patterns = _check_patterns(layers)
    flat = flatten_model(model)
    graph = _Graph(flat)
    kept, num_filters, skipped, dependents, consumers = {}, {}, {}, {}, {}
    matched = set()
    for layer in flat.layers:
        if not isinstance(layer, CONVOLUTIONS) or _is_depthwise(layer):
            continue
        hits = [p for p in patterns or ["*"]
                if fnmatch.fnmatchcase(layer.name, p)]
        if not hits:
            continue
        matched.update(hits)
        _, problem = _classify(layer)
        if problem is None and len(layer._inbound_nodes) > 1:
            problem = "it is a shared layer"
        if problem is None:
            members, users, problem = graph.channel_group(layer)
        if problem is not None:
            skipped[layer.name] = problem
            continue
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        num_filters[layer.name] = int(kernel.shape[-1])
        kept[layer.name] = _l1_ranked_kept(kernel, fraction)
        dependents[layer.name] = [m.name for m in members]
        consumers[layer.name] = [c.name for c in users]
    unmatched = [p for p in patterns or [] if p not in matched]
    if unmatched:
        names = [layer.name for layer in flat.layers
                 if isinstance(layer, CONVOLUTIONS)]
        raise ValueError(
            "Every entry of `layers` must match a convolution of the model "
            f"(e.g. {names[:4]}). Received: unmatched={unmatched}")
    return ThinningPlan(kept, num_filters, skipped, dependents, consumers,
                        fraction)


def _channel_maps(flat, plan):
    """`(outputs, inputs, owners)`: layer name -> kept output / input
    channels, and -> the planned convolution whose channels it carries.

    Re-derives every planned convolution's channel group on `flat`, so a
    plan that no longer fits the model fails here with a clear message.
    """
    graph = _Graph(flat)
    names = {layer.name: layer for layer in flat.layers}
    outputs, inputs, owners = {}, {}, {}
    for name, kept in plan.kept.items():
        layer = names.get(name)
        if layer is None or not isinstance(layer, CONVOLUTIONS) or (
                _is_depthwise(layer)):
            raise ValueError(
                f"`plan` thins `{name}`, which is not a convolution of the "
                f"model. Received: plan={plan!r}")
        if layer.filters != plan.num_filters[name]:
            raise ValueError(
                f"`plan` expects {plan.num_filters[name]} filters in "
                f"`{name}`, the model has {layer.filters}. "
                f"Received: plan={plan!r}")
        members, users, problem = graph.channel_group(layer)
        if problem is not None:
            raise ValueError(
                f"`plan` thins `{name}`, which cannot shrink: {problem}. "
                f"Received: plan={plan!r}")
        outputs[name] = kept
        owners[name] = name
        for member in members:
            outputs[member.name] = inputs[member.name] = kept
            owners[member.name] = name
        for user in users:
            inputs[user.name] = kept
    return outputs, inputs, owners


def _flatten_for(model, plan):
    """`(flattened model, _channel_maps(...))` after checking `plan`."""
    if not isinstance(plan, ThinningPlan):
        raise ValueError(
            "`plan` must be a ThinningPlan (from `plan_filter_pruning`). "
            f"Received: plan={plan!r}")
    flat = flatten_model(model)
    return flat, _channel_maps(flat, plan)


def _sliced_value(layer, variable, value, outputs, inputs):
    """`value` of `layer`'s `variable` restricted to the kept channels."""
    name = variable.name
    out_kept = outputs.get(layer.name)
    in_kept = inputs.get(layer.name)
    if isinstance(layer, keras.layers.Dense):
        return value[in_kept] if name == "kernel" and in_kept else value
    if isinstance(layer, DEPTHWISE):
        if out_kept is None:
            return value
        return value[..., out_kept, :] if name == "kernel" else value[
            out_kept]
    if isinstance(layer, CONVOLUTIONS):
        if name == "kernel":
            if in_kept is not None and not _is_depthwise(layer):
                value = value[..., in_kept, :]
            return value if out_kept is None else value[..., out_kept]
        return value if out_kept is None else value[out_kept]
    if out_kept is not None and value.ndim == 1:  # BatchNormalization
        return value[out_kept]
    return value


def thin_model(model, plan):
    """Builds the physically smaller model that `plan` describes.

    The flattened `model` (see `flatten_model`) is cloned with every planned
    convolution rebuilt with `len(plan.kept[name])` filters, the depthwise
    convolutions of its channel group with as many groups, and every weight
    sliced to the surviving channels: the convolution's kernel and bias,
    the BatchNormalization `gamma`, `beta` and moving statistics, depthwise
    kernels, and the input channels (kernel rows) of the next convolutions
    and `Dense` layers. Its outputs equal those of
    `zero_filters(model, plan)` (up to float rounding), in inference and in
    training mode.

    Args:
        model: the model the plan was made for (the original, e.g. a
            `VideoClassifier`, or its flattened copy).
        plan: a `ThinningPlan` from `plan_filter_pruning`.

    Returns:
        A plain Functional `keras.Model` with the original layer names;
        the input model is not changed.

    Raises:
        ValueError: if `plan` does not fit `model`.

    Example:
    >>> inputs = keras.Input((4, 8, 8, 3))
    >>> x = keras.layers.Conv3D(8, 3, padding="same", name="conv")(inputs)
    >>> x = keras.layers.GlobalAveragePooling3D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="fc")(x))
    >>> thinned = thin_model(model, plan_filter_pruning(model, 0.75))
    >>> thinned.get_layer("conv").filters, thinned.count_params()
    (2, 170)
    """
    flat, (outputs, inputs, _) = _flatten_for(model, plan)
    sources, restore = {}, []

    def rebuild(layer):
        config = layer.get_config()
        kept = outputs.get(layer.name)
        if kept is not None and isinstance(layer, CONVOLUTIONS):
            config["filters"] = len(kept)
            if _is_depthwise(layer):
                config["groups"] = len(kept)
        copy = _zero_initialized(layer, config, restore)
        sources[copy.name] = layer
        return copy

    thinned = keras.models.clone_model(flat, clone_function=rebuild)
    _restore_initializers(restore)
    for copy in thinned.layers:
        layer = sources.get(copy.name)
        if layer is None or not layer.weights:
            continue
        copy.set_weights([
            _sliced_value(layer, variable,
                          keras.ops.convert_to_numpy(variable), outputs,
                          inputs)
            for variable in layer.weights])
    return thinned


def zero_filters(model, plan):
    """The same-architecture model whose removed channels are exactly zero.

    In a copy of the flattened `model` (see `flatten_model`), for every
    planned convolution the removed filters' kernel slice and bias are set
    to 0, and so are, for those channels, `gamma` and `beta` of every
    BatchNormalization of the channel group (`moving_mean` too where there
    is no `gamma`) and the depthwise kernels and biases: each removed
    channel's activation is then exactly zero in inference and training
    mode, so the next layers see what the thinned model computes. This is
    the masked model of Distiller's filter pruner before its "net thinner"
    runs.

    Args:
        model: the model the plan was made for.
        plan: a `ThinningPlan`.

    Returns:
        A plain Functional `keras.Model` with the architecture and layer
        names of the flattened `model`; the input model is not changed.

    Raises:
        ValueError: if `plan` does not fit `model`.

    Example:
    >>> inputs = keras.Input((4, 8, 8, 3))
    >>> x = keras.layers.Conv3D(4, 1, name="conv")(inputs)
    >>> model = keras.Model(inputs, keras.layers.Conv3D(2, 1)(x))
    >>> plan = ThinningPlan(kept={"conv": [1, 2]}, num_filters={"conv": 4})
    >>> zeroed = zero_filters(model, plan)
    >>> kernel = keras.ops.convert_to_numpy(zeroed.get_layer("conv").kernel)
    >>> np.abs(kernel).sum(axis=(0, 1, 2, 3)).round(6).tolist()[0::3]
    [0.0, 0.0]
    """
    flat, (_, _, owners) = _flatten_for(model, plan)
    for name, owner in owners.items():
        layer = flat.get_layer(name)
        removed = plan.removed(owner)
        has_gamma = any(v.name == "gamma" for v in layer.weights)
        for variable in layer.weights:
            value = keras.ops.convert_to_numpy(variable).copy()
            if variable.name in ("gamma", "beta", "bias") or (
                    variable.name == "moving_mean" and not has_gamma):
                value[removed] = 0
            elif variable.name == "kernel":
                axis = -2 if isinstance(layer, DEPTHWISE) else -1
                index = [slice(None)] * value.ndim
                index[axis] = removed
                value[tuple(index)] = 0
            else:
                continue
            variable.assign(value)
    return flat


__all__ = ["ThinningPlan", "flatten_model", "plan_filter_pruning",
           "thin_model", "zero_filters"]
