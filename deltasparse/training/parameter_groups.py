"""Parameter groups for Keras 3: `GroupedSGD` and `EpochCosineDecay`.

Keras optimizers have one learning rate for every variable. PyTorch
trainings give groups of parameters their own learning rate and weight
decay (`torch.optim.SGD([{"params": ..., "lr": ...}, ...])`): AdaFocusV2
trains its glance network at 0.5x, its policy at 0.1x and its classifier at
5x the base rate; TSN trains BatchNorm and biases without weight decay.
`GroupedSGD` is `torch.optim.SGD` with such groups, the groups given by
patterns over variable paths; `EpochCosineDecay` is the per-epoch cosine
schedule of AdaFocusV2's `adjust_learning_rate` (`--lr_type cos`).
"""

import math
import numbers
import re
import warnings

import keras
from keras import ops

from deltasparse.training.optimizers import SGDWithDampening
from deltasparse.training.optimizers import _check_number

__all__ = ["EpochCosineDecay", "GroupedSGD", "layer_variable_paths"]


def _check_patterns(name, rules):
    """`rules` (dict or pairs) -> list of `(pattern, compiled, multiplier)`."""
    if rules is None:
        return []
    if isinstance(rules, dict):
        items = list(rules.items())
    elif isinstance(rules, (list, tuple)):
        items = list(rules)
    else:
        raise ValueError(
            f"`{name}` must be a dict or a list of (pattern, multiplier) "
            f"pairs. Received: {name}={rules!r}")
    checked = []
    for item in items:
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and isinstance(item[0], str) and item[0]):
            raise ValueError(
                f"`{name}` must hold (pattern, multiplier) pairs whose pattern "
                f"is a non-empty string. Received: {name}={rules!r}")
        pattern, multiplier = item
        try:
            compiled = re.compile(rf"(?:^|/)(?:{pattern})(?:/|$)")
        except re.error as error:
            raise ValueError(
                f"`{name}` pattern {pattern!r} is not a regular expression "
                f"({error}). Received: {name}={rules!r}") from None
        multiplier = _check_number(f"{name}[{pattern!r}]", multiplier, 0.0)
        checked.append((pattern, compiled, multiplier))
    return checked


def _match(rules, path, default):
    """The multiplier of the first rule matching `path`, else `default`."""
    for pattern, compiled, multiplier in rules:
        if compiled.search(path):
            return pattern, multiplier
    return None, default


def layer_variable_paths(model):
    """Paths of a model's variables built from layer names, not `path`.

    Keras 3 fixes `variable.path` when the variable is created: a network
    built on its own (every `keras.applications` model, a `Sequential` with
    an `Input`) has paths without its own name (`Conv1/kernel`), while one
    built inside its parent's first call gets the parent's name in front
    (`adafocus_v2/local_network/conv1/kernel`). This function walks the
    layer tree instead: the path of a variable is the names of the layers
    that hold it, from the child of `model` down, then the variable's name
    (`glance_network/Conv1/kernel`), whenever and however it was built, and
    the same after a `.keras` round trip. A variable shared by two layers
    gets the first path found (depth first, in layer order); one the walk
    does not reach keeps its `variable.path`.

    Args:
        model: a `keras.layers.Layer` (usually a `keras.Model`).

    Returns:
        A list of strings, one per variable of `model.trainable_variables`,
        in that order.

    Example:
    >>> glance = keras.Sequential(
    ...     [keras.Input((4,)), keras.layers.Dense(2, name="fc")],
    ...     name="glance_network")
    >>> model = keras.Sequential([keras.Input((4,)), glance,
    ...                           keras.layers.Dense(3, name="classifier")])
    >>> layer_variable_paths(model)
    ['glance_network/fc/kernel', 'glance_network/fc/bias', \
'classifier/kernel', 'classifier/bias']
    """
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(
            f"`model` must be a keras.Model or keras.layers.Layer. "
            f"Received: model={model!r}")
    found = {}

    def walk(layer, prefix):
        children = list(layer._flatten_layers(include_self=False,
                                              recursive=False))
        inner = {id(v) for child in children for v in child.weights}
        for variable in layer.weights:
            if id(variable) not in inner and id(variable) not in found:
                found[id(variable)] = prefix + variable.name
        for child in children:
            walk(child, f"{prefix}{child.name}/")

    walk(model, "")
    return [found.get(id(v), v.path) for v in model.trainable_variables]


@keras.saving.register_keras_serializable(package="deltasparse")
class GroupedSGD(SGDWithDampening):
    """`torch.optim.SGD` with parameter groups chosen by variable paths.

    For every trainable variable `w` with gradient `g`, per step (PyTorch's
    equations, one group per variable):

    - `d = g + weight_decay * decay_multiplier * w` (coupled L2 decay);
    - `b = d` on the first step, else `b = momentum * b + (1 - dampening)
      * d`; with `nesterov`, `step = d + momentum * b`, else `step = b`
      (`momentum=0`: `step = d`, no buffer);
    - `w -= learning_rate * multiplier * step`.

    `learning_rate` may be a `LearningRateSchedule` (read once per step, as
    PyTorch's per-group `lr = base_lr * lr_mult`); the multipliers scale it.
    Because the buffer holds no learning rate, a group's update equals plain
    SGD on the gradient `multiplier * d`; a multiplier of 0 keeps the
    group's variables fixed (its buffer still moves, as in PyTorch).

    Matching: `learning_rate_multipliers` is an ordered dict or a list of
    `(pattern, multiplier)` pairs. A pattern is a regular expression that
    must match one or more WHOLE components of the variable's path,
    anywhere in it: `"glance_network"` matches `glance_network/conv1/kernel`
    and `adafocus_v2/glance_network/conv1/kernel` but not
    `glance_network_2/...`; `"glance_network/.*bias"` and `".*/gamma"` work
    as expected; start a pattern with `^` to anchor it at the path's start.
    The first matching pattern wins; unmatched variables get
    `default_multiplier`. `weight_decay_multipliers` works the same way
    (unmatched: 1.0). A pattern that matches no variable when the optimizer
    is built gives a warning (a typo would otherwise train silently at the
    wrong rate).

    Paths: by default `variable.path`, which in Keras 3 depends on how the
    variable's network was built (see `layer_variable_paths`): a
    `keras.applications` network passed in prebuilt has paths like
    `Conv1/kernel`, WITHOUT its own name, unless it was built under
    `keras.name_scope(<its name>)` (as the AdaFocusV2 presets do); layers
    built in the model's first call get the model's name in front
    (`ada_focus_v2/policy_network/...`), and a `.keras` load may add or drop
    such prefixes. Unanchored patterns (`"policy_network"`, not
    `"^policy_network"`) match all these forms. Alternatively call
    `optimizer.use_layer_paths(model)` before the first `fit` to match
    against layer-name paths (`glance_network/Conv1/kernel` for a glance
    network named `glance_network`), whatever the build; `load_model`
    rebuilds the optimizer on `variable.path`, so call it again on the
    loaded model's optimizer. `optimizer.variable_multipliers()` lists what
    each variable got.

    AdaFocusV2 (`main_v2.py`, `get_optim_policies`): six groups, glance CNN
    and its auxiliary head 0.5x (`--global_lr_ratio`), policy 0.1x
    (`--stn_lr_ratio`), fusion classifier 5x (`--classifier_lr_ratio`),
    local CNN and its head 1x; `decay_mult` is 1 in every group (weight
    decay 1e-4 on every parameter, BatchNorm and biases included), plain
    `torch.optim.SGD(momentum=0.9)`, so dampening 0 and no Nesterov. TSN
    instead sets decay 0 for BatchNorm and biases: `weight_decay_multipliers=
    {".*/(gamma|beta|bias)": 0.0}`.

    Resuming: the multipliers are Python constants of the config, the state
    is `iterations` and one buffer per variable (`optimizer.variables`),
    which `deltasparse.training.Trainer` saves and restores; matching is
    deterministic, so a rebuilt optimizer assigns the same groups.

    Args:
        learning_rate: float, a `LearningRateSchedule` (e.g.
            `EpochCosineDecay`) or a callable; the base rate. Defaults to
            `0.01`.
        learning_rate_multipliers: dict or list of `(pattern, multiplier)`
            pairs, multipliers >= 0. Defaults to `None` (all 1).
        default_multiplier: float >= 0, for unmatched variables. Defaults to
            `1.0`.
        weight_decay_multipliers: dict or list of `(pattern, multiplier)`
            pairs for the decay. Defaults to `None` (all 1).
        momentum: float >= 0. Defaults to `0.9`.
        dampening: float in [0, 1]. Defaults to `0.0` (PyTorch's).
        weight_decay: float >= 0, coupled L2 coefficient. Defaults to
            `1e-4` (AdaFocusV2's).
        nesterov: bool; needs `momentum > 0` and `dampening == 0`. Defaults
            to `False`.
        name: str. Defaults to `"GroupedSGD"`.
        **kwargs: Base optimizer keyword arguments, such as `clipnorm`.

    Raises:
        ValueError: a bad pattern or multiplier, or an argument out of
            range.

    Example:
    >>> optimizer = GroupedSGD(0.1, {"slow": 0.5}, momentum=0.0,
    ...                        weight_decay=0.0)
    >>> slow = keras.Variable([1.0], name="kernel")
    >>> fast = keras.Variable([1.0], name="bias")
    >>> optimizer.use_variable_paths([slow, fast], ["slow/kernel", "bias"])
    >>> optimizer.apply([keras.ops.array([1.0])] * 2, [slow, fast])
    >>> [round(float(v.numpy()[0]), 4) for v in (slow, fast)]
    [0.95, 0.9]
    >>> optimizer.variable_multipliers()
    [('slow/kernel', 0.5, 1.0), ('bias', 1.0, 1.0)]
    """

    def __init__(self, learning_rate=0.01, learning_rate_multipliers=None,
                 default_multiplier=1.0, weight_decay_multipliers=None,
                 momentum=0.9, dampening=0.0, weight_decay=1e-4,
                 nesterov=False, name="GroupedSGD", **kwargs):
        lr_rules = _check_patterns("learning_rate_multipliers",
                                   learning_rate_multipliers)
        decay_rules = _check_patterns("weight_decay_multipliers",
                                      weight_decay_multipliers)
        default_multiplier = _check_number(
            "default_multiplier", default_multiplier, 0.0)
        group_decay = _check_number("weight_decay", weight_decay, 0.0)
        # The parent's own decay stays 0: `update_step` adds the per-group
        # decay to the gradient before the parent's momentum update.
        super().__init__(learning_rate=learning_rate, momentum=momentum,
                         dampening=dampening, weight_decay=0.0,
                         nesterov=nesterov, name=name, **kwargs)
        self._lr_rules = lr_rules
        self._decay_rules = decay_rules
        self.default_multiplier = default_multiplier
        self.group_weight_decay = group_decay
        self._path_overrides = None
        self._multipliers = []

    # -- groups ------------------------------------------------------------
    def use_variable_paths(self, variables, paths):
        """Matches `variables[i]` by `paths[i]` instead of `variable.path`.

        May be called after the optimizer is built (e.g. on the optimizer of
        a loaded `.keras` model) to reassign the groups, but only before the
        model's first `fit` in this process: a traced train step keeps the
        multipliers it was traced with.

        Args:
            variables: list of variables.
            paths: list of str, as long as `variables`.

        Raises:
            ValueError: the lengths differ or a path is not a string.
        """
        variables, paths = list(variables), list(paths)
        if len(variables) != len(paths) or not all(
                isinstance(p, str) for p in paths):
            raise ValueError(
                "`paths` must be a list of strings, one per variable. "
                f"Received: {len(variables)} variables, paths={paths!r}")
        self._path_overrides = {id(v): p for v, p in zip(variables, paths)}
        if self.built:
            self._assign_groups(self._trainable_variables)

    def use_layer_paths(self, model):
        """Matches `model`'s variables by `layer_variable_paths(model)`.

        Args:
            model: the `keras.Model` this optimizer will train.

        Returns:
            The optimizer itself, for `model.compile(optimizer=GroupedSGD(
            ...).use_layer_paths(model))`.

        Raises:
            ValueError: `model` is not a layer.
        """
        paths = layer_variable_paths(model)
        self.use_variable_paths(model.trainable_variables, paths)
        return self

    def _path(self, variable):
        if self._path_overrides and id(variable) in self._path_overrides:
            return self._path_overrides[id(variable)]
        return variable.path

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._assign_groups(variables)

    def _assign_groups(self, variables):
        used = set()
        self._multipliers = []
        for variable in variables:
            path = self._path(variable)
            lr_pattern, lr_multiplier = _match(
                self._lr_rules, path, self.default_multiplier)
            decay_pattern, decay_multiplier = _match(
                self._decay_rules, path, 1.0)
            used.update({("learning_rate_multipliers", lr_pattern),
                         ("weight_decay_multipliers", decay_pattern)})
            self._multipliers.append((path, lr_multiplier, decay_multiplier))
        for name, rules in (("learning_rate_multipliers", self._lr_rules),
                            ("weight_decay_multipliers", self._decay_rules)):
            unused = [p for p, _, _ in rules if (name, p) not in used]
            if unused:
                warnings.warn(
                    f"GroupedSGD: `{name}` patterns {unused} match no variable "
                    f"(first match wins; paths look like "
                    f"{[m[0] for m in self._multipliers[:3]]}). Check the "
                    "patterns, or call `use_layer_paths(model)` before `fit`.",
                    stacklevel=3)

    def variable_multipliers(self):
        """`(path, learning-rate multiplier, decay multiplier)` per variable.

        Returns:
            A list in the order the optimizer was built with (empty before
            it is built).
        """
        return list(self._multipliers)

    def update_step(self, gradient, variable, learning_rate):
        _, multiplier, decay_multiplier = self._multipliers[
            self._get_variable_index(variable)]
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        decay = self.group_weight_decay * decay_multiplier
        if decay:
            gradient = gradient + ops.cast(decay, dtype) * variable
        super().update_step(gradient, variable,
                            ops.cast(learning_rate, dtype) * multiplier)

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate_multipliers": [
                [p, m] for p, _, m in self._lr_rules],
            "default_multiplier": self.default_multiplier,
            "weight_decay_multipliers": [
                [p, m] for p, _, m in self._decay_rules],
            "weight_decay": self.group_weight_decay,
        })
        return config


@keras.saving.register_keras_serializable(package="deltasparse")
class EpochCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine decay by whole epochs, as AdaFocusV2's `adjust_learning_rate`.

    `lr = 0.5 * initial_learning_rate * (1 + cos(pi * epoch / epochs))` with
    `epoch = min(step // steps_per_epoch, epochs)`: constant within an epoch
    (the original sets the rate once per epoch), `initial_learning_rate` in
    epoch 0, no warm-up, and 0 from epoch `epochs` on. Keras'
    `CosineDecay` changes the rate every step instead.

    The original (`main_v2.py`) loops `for epoch in range(0, epochs + 1)`:
    it trains `epochs + 1` epochs, the last one at learning rate 0 (weights
    unchanged, BatchNorm statistics still updated). Training this schedule
    for `epochs` epochs reproduces its first `epochs` epochs; train
    `epochs + 1` to reproduce the last one too.

    Args:
        initial_learning_rate: float > 0 (AdaFocusV2: 0.002; 0.003 on
            Mini-Kinetics).
        epochs: int >= 1 (AdaFocusV2: 50).
        steps_per_epoch: int >= 1, optimizer steps per epoch (the original
            drops the last incomplete batch: `num_videos // batch_size`).
        name: str. Defaults to `"EpochCosineDecay"`.

    Raises:
        ValueError: an argument out of range.

    Example:
    >>> schedule = EpochCosineDecay(0.002, epochs=50, steps_per_epoch=10)
    >>> [round(float(schedule(step)), 7) for step in (0, 9, 10, 250, 600)]
    [0.002, 0.002, 0.001998, 0.001, 0.0]
    """

    def __init__(self, initial_learning_rate, epochs, steps_per_epoch,
                 name="EpochCosineDecay"):
        if isinstance(initial_learning_rate, bool) or not isinstance(
                initial_learning_rate, numbers.Real) or not (
                math.isfinite(initial_learning_rate)
                and initial_learning_rate > 0):
            raise ValueError(
                "`initial_learning_rate` must be a number > 0. Received: "
                f"initial_learning_rate={initial_learning_rate!r}")
        for argument, value in (("epochs", epochs),
                                ("steps_per_epoch", steps_per_epoch)):
            if isinstance(value, bool) or not isinstance(
                    value, numbers.Integral) or value < 1:
                raise ValueError(
                    f"`{argument}` must be an int >= 1. "
                    f"Received: {argument}={value!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.epochs = int(epochs)
        self.steps_per_epoch = int(steps_per_epoch)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        epoch = ops.minimum(ops.floor(step / self.steps_per_epoch),
                            float(self.epochs))
        return 0.5 * self.initial_learning_rate * (
            1.0 + ops.cos(math.pi * epoch / self.epochs))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "name": self.name,
        }
