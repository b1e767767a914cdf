"""Sparsity schedules: how much of a weight is pruned, and when its mask is
recomputed.

Every schedule answers two questions for a training step (the optimizer's
global step, counted from 0 over the whole run) and an epoch (0-based):

- `target(step, epoch)` -> the fraction of zeros wanted then (a float);
- `should_update(step, epoch)` -> whether the mask is recomputed then.

`deltasparse.compression.MagnitudePruning` asks both at the start of every
training batch (through `PruningCallback`).

- `ConstantSparsity(sparsity)`: the target at every step (masks recomputed
  at every step, as TFMOT's `ConstantSparsity` with `frequency=1`).
- `OneShotSparsity(sparsity, epoch=0)`: masks computed once, at the first
  step of `epoch`, then frozen (the seed's `ep` policy: epoch 0 -> 1).
- `PolynomialSparsity(...)`: Zhu & Gupta's automated gradual pruner (AGP).
"""

import numbers

import keras


def _check_fraction(name, value):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not 0.0 <= value <= 1.0):
        raise ValueError(
            f"`{name}` must be a fraction of zeros in [0, 1]. Received: "
            f"{name}={value!r}")
    return float(value)


def _check_int(name, value, minimum):
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or value < minimum):
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. Received: "
            f"{name}={value!r}")
    return int(value)


class SparsitySchedule:
    """Base class of the sparsity schedules (see the module docstring).

    Subclasses implement `target(step, epoch)`, `should_update(step,
    epoch)` and `get_config()`; `from_config(config)` is `cls(**config)`.
    `one_shot` is `True` for schedules whose masks, once computed, stay
    frozen: `MagnitudePruning` then never asks them again.
    """

    one_shot = False

    def target(self, step, epoch):
        raise NotImplementedError

    def should_update(self, step, epoch):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return (type(self) is type(other)
                and self.get_config() == other.get_config())

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}"
                              for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


@keras.saving.register_keras_serializable(package="deltasparse")
class ConstantSparsity(SparsitySchedule):
    """The same target sparsity at every step; masks recomputed every step.

    Because pruned weights are zero after every step, recomputing the
    mask of the same target keeps it where it was unless a kept weight
    shrinks below a pruned one's magnitude (zero): in practice the mask
    is frozen from the first step on.

    Args:
        sparsity: float in [0, 1], the fraction of zeros.

    Raises:
        ValueError: `sparsity` outside [0, 1].

    Example:
    >>> schedule = ConstantSparsity(0.4)
    >>> schedule.target(step=0, epoch=0), schedule.should_update(7, 2)
    (0.4, True)
    """

    def __init__(self, sparsity):
        self.sparsity = _check_fraction("sparsity", sparsity)

    def target(self, step, epoch):
        return self.sparsity

    def should_update(self, step, epoch):
        return True

    def get_config(self):
        return {"sparsity": self.sparsity}


@keras.saving.register_keras_serializable(package="deltasparse")
class OneShotSparsity(SparsitySchedule):
    """Masks computed once, at the start of `epoch`, then frozen.

    `should_update` is `True` from `epoch` on; `MagnitudePruning` computes
    a one-shot mask at the first step it is due and never again (the mask
    and this fact are saved by `MagnitudePruning.save`). So a run resumed
    after `epoch` without saved masks still prunes at its first step.
    Before `epoch` the target is 0 (nothing pruned).

    This is the seed's element-wise pruning (Distiller policy on epochs
    0 -> 1, `new-prune.py`'s one-shot `SparsityLevelParameterPruner` +
    `mask_all_weights`), followed by fine-tuning with the masks held.

    Args:
        sparsity: float in [0, 1], the fraction of zeros.
        epoch: int >= 0, the epoch at whose first step the mask is taken.
            Defaults to `0`.

    Raises:
        ValueError: `sparsity` outside [0, 1] or a negative `epoch`.

    Example:
    >>> schedule = OneShotSparsity(0.2, epoch=1)
    >>> schedule.target(0, 0), schedule.target(10, 1)
    (0.0, 0.2)
    >>> schedule.should_update(0, 0), schedule.should_update(10, 1)
    (False, True)
    """

    one_shot = True

    def __init__(self, sparsity, epoch=0):
        self.sparsity = _check_fraction("sparsity", sparsity)
        self.epoch = _check_int("epoch", epoch, 0)

    def target(self, step, epoch):
        return self.sparsity if epoch >= self.epoch else 0.0

    def should_update(self, step, epoch):
        return epoch >= self.epoch

    def get_config(self):
        return {"sparsity": self.sparsity, "epoch": self.epoch}


@keras.saving.register_keras_serializable(package="deltasparse")
class PolynomialSparsity(SparsitySchedule):
    """Automated gradual pruning (AGP, Zhu & Gupta 2017), cubic ramp.

    `s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3` for
    `t0 <= t <= t0 + n * dt`, with `s_i = initial_sparsity`,
    `s_f = final_sparsity`, `t0 = start_step`, `n = num_steps` (the number
    of pruning steps, the paper's n) and `dt = frequency`. The masks are
    updated every `dt` steps from `t0` to `t0 + n * dt` inclusive (n + 1
    updates, the first at `s_i`, the last at `s_f`) and frozen after.
    Before `t0` the target is `s_i` but no mask is computed (nothing is
    pruned yet); after the ramp it is `s_f`. The epoch is ignored.

    Args:
        initial_sparsity: float in [0, 1], `s_i`.
        final_sparsity: float in [0, 1], `s_f`.
        start_step: int >= 0, `t0`, the first pruning step.
        num_steps: int >= 1, `n`, the number of pruning steps of the ramp.
        frequency: int >= 1, `dt`, training steps between mask updates.
            Defaults to `1`.

    Raises:
        ValueError: a sparsity outside [0, 1] or an invalid step count.

    Reference:
        M. Zhu, S. Gupta, "To prune, or not to prune: exploring the
        efficacy of pruning for model compression", arXiv:1710.01878.

    Example:
    >>> schedule = PolynomialSparsity(0.0, 0.8, start_step=10, num_steps=4,
    ...                               frequency=5)
    >>> [round(schedule.target(t, 0), 4) for t in (0, 10, 20, 30, 40)]
    [0.0, 0.0, 0.7, 0.8, 0.8]
    >>> [schedule.should_update(t, 0) for t in (5, 10, 12, 15, 30, 35)]
    [False, True, False, True, True, False]
    """

    def __init__(self, initial_sparsity, final_sparsity, start_step,
                 num_steps, frequency=1):
        self.initial_sparsity = _check_fraction("initial_sparsity",
                                                initial_sparsity)
        self.final_sparsity = _check_fraction("final_sparsity",
                                              final_sparsity)
        self.start_step = _check_int("start_step", start_step, 0)
        self.num_steps = _check_int("num_steps", num_steps, 1)
        self.frequency = _check_int("frequency", frequency, 1)

    @property
    def end_step(self):
        """The step of the last mask update, `t0 + n * dt`."""
        return self.start_step + self.num_steps * self.frequency

    def target(self, step, epoch):
        if step <= self.start_step:
            return self.initial_sparsity
        if step >= self.end_step:
            return self.final_sparsity
        progress = (step - self.start_step) / (self.num_steps * self.frequency)
        return (self.final_sparsity + (self.initial_sparsity
                                       - self.final_sparsity)
                * (1.0 - progress) ** 3)

    def should_update(self, step, epoch):
        return (self.start_step <= step <= self.end_step
                and (step - self.start_step) % self.frequency == 0)

    def get_config(self):
        return {"initial_sparsity": self.initial_sparsity,
                "final_sparsity": self.final_sparsity,
                "start_step": self.start_step,
                "num_steps": self.num_steps,
                "frequency": self.frequency}


def get(identifier):
    """A schedule from a float (constant), a schedule, or its serialization.

    Args:
        identifier: a float in [0, 1] (`ConstantSparsity`), a
            `SparsitySchedule`, or a dict from
            `keras.saving.serialize_keras_object(schedule)`.

    Returns:
        A `SparsitySchedule`.

    Raises:
        ValueError: anything else.

    Example:
    >>> get(0.5)
    ConstantSparsity(sparsity=0.5)
    """
    if isinstance(identifier, SparsitySchedule):
        return identifier
    if isinstance(identifier, numbers.Real) and not isinstance(identifier,
                                                               bool):
        return ConstantSparsity(identifier)
    if isinstance(identifier, dict):
        schedule = keras.saving.deserialize_keras_object(identifier)
        if isinstance(schedule, SparsitySchedule):
            return schedule
    raise ValueError(
        "A sparsity must be a float in [0, 1] or a SparsitySchedule "
        "(ConstantSparsity, OneShotSparsity, PolynomialSparsity). "
        f"Received: sparsity={identifier!r}")
