"""Element-wise magnitude pruning of Keras 3 models (any backend).

- `prunable_weights(model)`: the kernels of Conv1D/2D/3D (grouped and
  `DepthwiseConv3D` too), DepthwiseConv2D and Dense layers and the gamma of
  BatchNormalization layers (Distiller's "BN weights"), also inside nested
  models and wrappers (`TimeDistributed`, ...).
- `MagnitudePruning(model, sparsity)`: one non-trainable 0/1 mask
  `keras.Variable` per selected weight; `update(step, epoch)` recomputes
  the masks their schedules ask for (`deltasparse.ops.magnitude_mask`),
  `apply()` multiplies the weights by their masks; `save`/`load` for
  resuming; `strip()` returns a plain Keras copy with the zeros baked in.
- `PruningCallback(pruning)`: drives it from `model.fit`.
- Presets of the seed (the compressed-3d-cnn thesis code):
  `seed_element_pruning()` and `uniform_element_pruning(0.4)`, and
  `read_sparsity_csv(path)` for its per-layer `model_summary/*.csv` tables.

How this differs from Distiller: Distiller multiplies the weights by the
masks after each optimizer step (`on_minibatch_end`) and also before the
forward pass; `PruningCallback` does the same (`apply` at batch end, and
right after every mask update at batch begin), so each forward pass sees
the pruned weights and pruned weights are exactly zero between steps, with
any optimizer (momentum and Adam keep their own state for the pruned
weights, but the weights are reset to zero after every step). The masks
live beside the model, not inside it, so the model itself stays a plain
Keras model that saves and loads as before.
"""

import collections
import collections.abc
import csv
import fnmatch
import io
import os

import keras
import numpy as np

from deltasparse.compression import schedules as schedules_module
from deltasparse.compression.schedules import OneShotSparsity
from deltasparse.ops.pruning import magnitude_mask
from deltasparse.training.checkpoints import write_bytes_atomic

#: Weight kinds a `sparsity` mapping may name instead of layer patterns.
KINDS = ("conv", "dense", "batch_norm")

_CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
               keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)

PrunableWeight = collections.namedtuple(
    "PrunableWeight", ["path", "layer", "variable", "kind"])
PrunableWeight.__doc__ = """One prunable weight of a model.

Fields:
    path: str, the variable's Keras path (e.g. `"conv1_conv/kernel"` in a
        Functional model, `"sequential/dense/kernel"` in a Sequential one).
    layer: the `keras.layers.Layer` holding it.
    variable: the `keras.Variable`.
    kind: `"conv"`, `"dense"` or `"batch_norm"`.
"""


def _weight_of(layer):
    """(variable, kind) of a prunable layer, or `None`."""
    if isinstance(layer, _CONV_TYPES):
        return layer.kernel, "conv"
    if isinstance(layer, keras.layers.Dense):
        return layer.kernel, "dense"
    if isinstance(layer, keras.layers.BatchNormalization):
        return (layer.gamma, "batch_norm") if layer.scale else None
    return None


def _walk(layer, seen):
    """`layer` and every layer nested in it (models, wrappers), in order."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield layer
    for child in getattr(layer, "layers", None) or ():
        yield from _walk(child, seen)
    inner = getattr(layer, "layer", None)  # keras.layers.Wrapper
    if isinstance(inner, keras.layers.Layer):
        yield from _walk(inner, seen)


def prunable_weights(model):
    """The weights element-wise pruning applies to, in model order.

    Kernels of `Conv1D`, `Conv2D`, `Conv3D` (grouped, `DepthwiseConv3D`
    and other subclasses such as quantized layers included),
    `DepthwiseConv1D`/`DepthwiseConv2D` and `Dense`, and the `gamma` of
    `BatchNormalization` (when `scale=True`). Biases, BatchNorm betas and
    moving statistics are never pruned (as in Distiller, which prunes the
    `weight` tensors). Nested models (a VideoClassifier's backbone) and
    wrappers (`TimeDistributed`, `Bidirectional`) are searched too; a
    weight shared by several layers is listed once.

    Args:
        model: a built `keras.Model` (or layer).

    Returns:
        A list of `PrunableWeight(path, layer, variable, kind)`.

    Raises:
        ValueError: `model` is not built (it has no weights yet).

    Example:
    >>> model = keras.Sequential([
    ...     keras.Input((4, 8, 8, 3)),
    ...     keras.layers.Conv3D(4, 3, name="conv"),
    ...     keras.layers.BatchNormalization(name="bn"),
    ...     keras.layers.GlobalAveragePooling3D(),
    ...     keras.layers.Dense(2, name="classifier")], name="net")
    >>> [(w.path, w.kind) for w in prunable_weights(model)]
    [('net/conv/kernel', 'conv'), ('net/bn/gamma', 'batch_norm'), \
('net/classifier/kernel', 'dense')]
    """
    if not model.weights and not getattr(model, "built", True):
        raise ValueError(
            "`model` must be built (call it once or give it an Input) before "
            f"its weights can be pruned. Received: model={model.name}")
    found, seen_variables = [], set()
    for layer in _walk(model, set()):
        weight = _weight_of(layer)
        if weight is None or id(weight[0]) in seen_variables:
            continue
        seen_variables.add(id(weight[0]))
        found.append(PrunableWeight(weight[0].path, layer, weight[0],
                                    weight[1]))
    return found


def _matches(weight, pattern):
    return (fnmatch.fnmatchcase(weight.layer.name, pattern)
            or fnmatch.fnmatchcase(weight.path, pattern))


def resolve_sparsity(model, sparsity):
    """{path: (PrunableWeight, schedule)} selected by a `sparsity` mapping.

    Kinds (`"conv"`, `"dense"`, `"batch_norm"`) are applied first, then the
    layer-name / weight-path patterns (`fnmatch`, case-sensitive) in the
    mapping's order, so a pattern overrides a kind and a later pattern an
    earlier one. A value of `None` leaves the matching weights unpruned.

    Args:
        model: a built Keras model.
        sparsity: a float or schedule (every prunable weight), or a mapping
            from kinds or patterns to a float, a `SparsitySchedule` or
            `None`.

    Returns:
        A dict from weight path to `(PrunableWeight, SparsitySchedule)`,
        in model order.

    Raises:
        ValueError: a pattern that matches no prunable weight, an invalid
            value, or a selection that is empty.

    Example:
    >>> model = keras.Sequential([
    ...     keras.Input((8,)), keras.layers.Dense(4, name="hidden"),
    ...     keras.layers.Dense(2, name="classifier")], name="net")
    >>> selected = resolve_sparsity(model, {"dense": 0.2, "classifier": 0.8})
    >>> {path: s.target(0, 0) for path, (_, s) in selected.items()}
    {'net/hidden/kernel': 0.2, 'net/classifier/kernel': 0.8}
    """
    if not isinstance(sparsity, collections.abc.Mapping):
        sparsity = {"*": sparsity}
    if not sparsity:
        raise ValueError(
            "`sparsity` must name at least one weight kind or layer pattern. "
            "Received: sparsity={}")
    weights = prunable_weights(model)
    chosen = {}
    ordered = ([(k, v) for k, v in sparsity.items() if k in KINDS]
               + [(k, v) for k, v in sparsity.items() if k not in KINDS])
    for key, value in ordered:
        if not isinstance(key, str):
            raise ValueError(
                "`sparsity` keys must be weight kinds "
                f"{KINDS} or layer-name patterns (str). Received: key={key!r}")
        schedule = None if value is None else schedules_module.get(value)
        if key in KINDS:
            hits = [w for w in weights if w.kind == key]
        else:
            hits = [w for w in weights if _matches(w, key)]
            if not hits:
                raise ValueError(
                    f"The pattern {key!r} of `sparsity` matches no prunable "
                    "weight (layer names and weight paths such as "
                    f"{[w.path for w in weights[:3]]}). Received: "
                    f"pattern={key!r}")
        for weight in hits:
            chosen[weight.path] = (weight, schedule)
    selected = {w.path: chosen[w.path] for w in weights
                if w.path in chosen and chosen[w.path][1] is not None}
    if not selected:
        raise ValueError(
            "`sparsity` selects no weight of the model (kinds found: "
            f"{sorted({w.kind for w in weights})}). Received: "
            f"sparsity={dict(sparsity)!r}")
    return selected


def _mask_name(path):
    # keras.Variable names may not contain "/".
    return path.replace("/", "__") + "__mask"


def _to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


class MagnitudePruning:
    """Element-wise magnitude pruning of a model's weights, with masks.

    For every weight `sparsity` selects (see `resolve_sparsity`), a 0/1
    mask is created once, as a non-trainable `keras.Variable` named after
    the weight path (`conv1_conv/kernel` -> `conv1_conv__kernel__mask`),
    all ones. `update(step, epoch)` recomputes the masks whose schedules
    ask for it (the smallest `|w|` removed, exactly `floor(s * size + 0.5)`
    zeros, ties to the lower flat index: `deltasparse.ops.magnitude_mask`),
    and `apply()` assigns `weight * mask` to every weight. A one-shot
    schedule's mask is computed once and then frozen.

    Use `PruningCallback(pruning)` with `model.fit`, or call `update` and
    `apply` yourself (e.g. `update(0, 0); apply()` prunes once, outside
    training).

    Args:
        model: a built Keras model (its weights are pruned in place).
        sparsity: a float or `SparsitySchedule` for every prunable weight,
            or a mapping from weight kinds (`"conv"`, `"dense"`,
            `"batch_norm"`) or layer-name / weight-path patterns (`fnmatch`)
            to a float (a `ConstantSparsity`), a schedule or `None`
            (not pruned); patterns override kinds, later patterns earlier
            ones. Presets: `seed_element_pruning()`,
            `uniform_element_pruning(0.4)`, `read_sparsity_csv(path)`.

    Attributes:
        model: the model.
        weights: dict path -> `PrunableWeight` of the pruned weights.
        schedules: dict path -> `SparsitySchedule`.
        masks: dict path -> mask `keras.Variable`.
        step, epoch: the arguments of the last `update` (0 before).

    Raises:
        ValueError: see `resolve_sparsity`.

    Example:
    >>> model = keras.Sequential([
    ...     keras.Input((10,)), keras.layers.Dense(4, name="hidden")],
    ...     name="net")
    >>> pruning = MagnitudePruning(model, {"hidden": 0.75})
    >>> pruning.update(step=0, epoch=0)
    ['net/hidden/kernel']
    >>> pruning.apply()
    >>> pruning.sparsity_by_weight()
    {'net/hidden/kernel': 0.75}
    """

    def __init__(self, model, sparsity):
        self.model = model
        selected = resolve_sparsity(model, sparsity)
        self.weights = {path: weight for path, (weight, _) in
                        selected.items()}
        self.schedules = {path: schedule for path, (_, schedule) in
                          selected.items()}
        self.masks = {}
        for path, weight in self.weights.items():
            self.masks[path] = keras.Variable(
                np.ones(tuple(weight.variable.shape),
                        keras.backend.standardize_dtype(
                            weight.variable.dtype)),
                trainable=False, name=_mask_name(path))
        self.step = 0
        self.epoch = 0
        self._computed = set()  # masks computed at least once
        self._frozen = set()    # one-shot masks, never recomputed

    def update(self, step, epoch):
        """Recomputes the masks whose schedules are due at `step`/`epoch`.

        The weights are not changed: call `apply()` afterwards.

        Args:
            step: int, the global training step (the optimizer's
                `iterations`).
            epoch: int, the 0-based epoch.

        Returns:
            The list of the weight paths whose masks were recomputed.
        """
        updated = []
        for path, schedule in self.schedules.items():
            if path in self._frozen or not schedule.should_update(step,
                                                                  epoch):
                continue
            target = schedule.target(step, epoch)
            variable = self.weights[path].variable
            self.masks[path].assign(magnitude_mask(variable.value, target))
            self._computed.add(path)
            if schedule.one_shot:
                self._frozen.add(path)
            updated.append(path)
        self.step, self.epoch = int(step), int(epoch)
        return updated

    def apply(self):
        """Multiplies every pruned weight by its mask (in place)."""
        for path in self._computed:
            variable = self.weights[path].variable
            variable.assign(keras.ops.multiply(variable.value,
                                               self.masks[path].value))

    def sparsity_by_weight(self):
        """{path: measured fraction of zeros} of the pruned weights."""
        return {path: float(np.mean(_to_numpy(w.variable.value) == 0))
                for path, w in self.weights.items()}

    def overall_sparsity(self):
        """Measured fraction of zeros over all pruned weights together."""
        zeros = size = 0
        for weight in self.weights.values():
            values = _to_numpy(weight.variable.value)
            zeros += int(np.count_nonzero(values == 0))
            size += values.size
        return zeros / size if size else 0.0

    def save(self, path):
        """Writes the masks, `step`, `epoch` and the frozen set atomically.

        Args:
            path: the `.npz` file to write (written as given, no suffix
                added).

        Returns:
            `path`.
        """
        arrays = {f"mask:{key}": _to_numpy(mask.value)
                  for key, mask in self.masks.items()}
        arrays["step"] = np.asarray(self.step)
        arrays["epoch"] = np.asarray(self.epoch)
        arrays["computed"] = np.asarray(sorted(self._computed), dtype=str)
        arrays["frozen"] = np.asarray(sorted(self._frozen), dtype=str)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return write_bytes_atomic(path, buffer.getvalue())

    def load(self, path):
        """Restores what `save` wrote and applies the masks.

        Args:
            path: a file written by `save` for the same model and selection.

        Raises:
            FileNotFoundError: `path` does not exist.
            ValueError: the file's masks do not match the pruned weights.
        """
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"No pruning state at `path` (MagnitudePruning.save writes "
                f"one). Received: path={os.fspath(path)!r}")
        with np.load(path) as data:
            stored = {key[len("mask:"):]: data[key] for key in data.files
                      if key.startswith("mask:")}
            if set(stored) != set(self.masks):
                raise ValueError(
                    "The saved masks are for other weights: missing "
                    f"{sorted(set(self.masks) - set(stored))}, unknown "
                    f"{sorted(set(stored) - set(self.masks))}. Received: "
                    f"path={os.fspath(path)!r}")
            for key, value in stored.items():
                if tuple(value.shape) != tuple(self.masks[key].shape):
                    raise ValueError(
                        f"The saved mask of {key!r} has shape {value.shape}, "
                        f"the weight {tuple(self.masks[key].shape)}. "
                        f"Received: path={os.fspath(path)!r}")
                self.masks[key].assign(value)
            self.step = int(data["step"])
            self.epoch = int(data["epoch"])
            self._computed = set(data["computed"].tolist())
            self._frozen = set(data["frozen"].tolist())
        self.apply()

    def strip(self):
        """A plain Keras copy of the model with the zeros baked in.

        The masks are applied, then the model is copied with
        `keras.models.clone_model` (a VideoClassifier becomes a plain
        Functional model with the same layers) and given the pruned
        weights. The copy has no masks and gives the same outputs.

        Returns:
            A new `keras.Model`.
        """
        self.apply()
        clone = keras.models.clone_model(self.model)
        if not clone.built and self.model.get_build_config():
            clone.build_from_config(self.model.get_build_config())
        clone.set_weights(self.model.get_weights())
        return clone


class PruningCallback(keras.callbacks.Callback):
    """Keras callback driving a `MagnitudePruning` during `fit`.

    At the start of every training batch it calls `pruning.update(step,
    epoch)` with the optimizer's global step (so a resumed run continues
    its schedule) and, when a mask changed, `pruning.apply()`; at the end
    of every batch it calls `pruning.apply()`, so pruned weights are zero
    again after each optimizer step (momentum and Adam included). At the
    end of every epoch it writes the measured `sparsity` of the pruned
    weights into the logs (and so into the `History`). On JAX it first
    syncs the trainer's state into the variables (`jax_state_sync`), as
    the JAX trainer otherwise keeps the weights outside them between
    steps. With `steps_per_execution > 1` Keras calls batch hooks once per
    execution, so masks are applied once per execution, not per step.

    Args:
        pruning: a `MagnitudePruning` of (part of) the model being fit.

    Example:
    >>> model = keras.Sequential([
    ...     keras.Input((6,)), keras.layers.Dense(3, name="classifier")])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> pruning = MagnitudePruning(model, seed_element_pruning())
    >>> history = model.fit(np.ones((4, 6)), np.ones((4, 3)), verbose=0,
    ...                     callbacks=[PruningCallback(pruning)])
    >>> round(history.history["sparsity"][-1], 4)  # 14 of 18 weights
    0.7778
    """

    def __init__(self, pruning):
        super().__init__()
        if not isinstance(pruning, MagnitudePruning):
            raise ValueError(
                "`pruning` must be a MagnitudePruning. Received: "
                f"pruning={pruning!r}")
        self.pruning = pruning
        self._epoch = 0

    def _sync(self):
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    def _step(self):
        return int(_to_numpy(self.model.optimizer.iterations.value))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self._sync()
        if self.pruning.update(self._step(), self._epoch):
            self.pruning.apply()

    def on_train_batch_end(self, batch, logs=None):
        self._sync()
        self.pruning.apply()

    def on_epoch_end(self, epoch, logs=None):
        self._sync()
        if logs is not None:
            logs["sparsity"] = self.pruning.overall_sparsity()


def seed_element_pruning(classifier="classifier", epoch=0):
    """The seed's `ep` schedule: 20 % conv and BatchNorm, 80 % classifier.

    Every convolution kernel and BatchNorm gamma is pruned to 20 % zeros
    and the final classifier's kernel to 80 %, one-shot at the start of
    `epoch` (Distiller policy on epochs 0 -> 1), then fine-tuned with the
    masks held. Other Dense layers are not pruned. The seed's YAML also
    gives 0.8 to one MobileNetV2 BatchNorm (`features.18.1`); that
    architecture-specific entry is left out (add `{"Conv_1_bn": 0.8}`).

    Args:
        classifier: layer-name pattern of the final classifier. Defaults to
            `"classifier"` (the VideoClassifier head).
        epoch: the epoch of the one-shot pruning. Defaults to `0`.

    Returns:
        A `sparsity` mapping for `MagnitudePruning`.

    Example:
    >>> sorted(seed_element_pruning().items())[0]
    ('batch_norm', OneShotSparsity(sparsity=0.2, epoch=0))
    """
    return {"conv": OneShotSparsity(0.2, epoch),
            "batch_norm": OneShotSparsity(0.2, epoch),
            classifier: OneShotSparsity(0.8, epoch)}


def uniform_element_pruning(sparsity=0.4, epoch=0):
    """The seed's per-layer CSV: one sparsity for every Conv, BN and Dense.

    `model_summary/mobilenetv2.csv` gives 0.4 to every Conv3d, BatchNorm3d
    and Linear weight; here the same `sparsity` goes to every prunable
    weight kind, one-shot at the start of `epoch`.

    Args:
        sparsity: float in [0, 1]. Defaults to `0.4`.
        epoch: the epoch of the one-shot pruning. Defaults to `0`.

    Returns:
        A `sparsity` mapping for `MagnitudePruning`.

    Example:
    >>> uniform_element_pruning()["dense"]
    OneShotSparsity(sparsity=0.4, epoch=0)
    """
    return {kind: OneShotSparsity(sparsity, epoch) for kind in KINDS}


def read_sparsity_csv(path, epoch=0):
    """A per-layer sparsity table (`name,sparsity`) as a `sparsity` mapping.

    The file has a header with a `name` and a `sparsity` column (any case;
    other columns such as the seed's `Type` are ignored), one row per
    weight: `name` is a Keras layer name, weight path or `fnmatch` pattern
    (or a kind), `sparsity` a fraction in [0, 1]. Each row becomes a
    one-shot schedule at `epoch`. The seed's `model_summary/*.csv` files
    name PyTorch modules (`module.features.0.0.weight`): rename them to the
    Keras layers first; `MagnitudePruning` rejects names that match
    nothing.

    Args:
        path: the CSV file.
        epoch: the epoch of the one-shot pruning. Defaults to `0`.

    Returns:
        A dict from name to `OneShotSparsity`, in file order.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: missing columns or an invalid sparsity.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "sparsity.csv")
    >>> _ = open(path, "w").write(
    ...     "Name,Type,Sparsity\\nconv1_conv,Conv3d,0.4\\n")
    >>> read_sparsity_csv(path)
    {'conv1_conv': OneShotSparsity(sparsity=0.4, epoch=0)}
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No per-layer sparsity CSV at `path`. Received: path={path!r}")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name
                   for name in reader.fieldnames or ()}
        if "name" not in columns or "sparsity" not in columns:
            raise ValueError(
                "A sparsity CSV needs a header with `name` and `sparsity` "
                f"columns. Received: columns={reader.fieldnames}")
        table = {}
        for row in reader:
            name = row[columns["name"]].strip()
            value = row[columns["sparsity"]].strip()
            try:
                fraction = float(value)
            except ValueError:
                raise ValueError(
                    f"The sparsity of {name!r} in {path} must be a number "
                    f"in [0, 1]. Received: sparsity={value!r}") from None
            if name:
                table[name] = OneShotSparsity(fraction, epoch)
    return table
