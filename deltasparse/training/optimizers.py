"""Optimizers: the Delta Activation paper SGD (`make_optimizer`) and PyTorch
`torch.optim.SGD` with dampening and coupled weight decay
(`SGDWithDampening`, the 3-D CNN trainings of Hara et al. and
Efficient-3DCNNs)."""

import math
import numbers

import keras
from keras import ops


def make_optimizer(lr, momentum=0.9, decay=5e-4, optimizer="sgd"):
    """The paper optimizer: SGD with momentum and legacy inverse-time decay.

    `decay` is the TF-2.3 `SGD(decay=...)` learning-rate decay per step,
    `lr_t = lr / (1 + decay * t)` with `t = optimizer.iterations`, i.e.
    `InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`; it is not
    weight decay (spec §5, §10 item 7). Because the schedule reads
    `optimizer.iterations`, a run resumed by `Trainer` (which restores the
    optimizer variables, `iterations` included) continues the schedule
    exactly where it stopped.

    Args:
        lr: float > 0, initial learning rate.
        momentum: float, classic (not Nesterov) momentum. Defaults to `0.9`.
        decay: float >= 0, inverse-time decay per step; `0`/`None` means a
            constant learning rate. Defaults to `5e-4`.
        optimizer: `"sgd"` (the paper's) or `"adam"` (demos only; `momentum`
            is then ignored, `decay` still applies). Defaults to `"sgd"`.

    Returns:
        A `keras.optimizers.Optimizer`.

    Raises:
        ValueError: an argument is out of range.

    Example:
    >>> opt = make_optimizer(1e-3, 0.9, 5e-4)
    >>> _ = opt.iterations.assign(1000)
    >>> round(float(opt.learning_rate), 8)
    0.00066667
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(
            "`optimizer` must be one of 'sgd', 'adam'. "
            f"Received: optimizer={optimizer!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise ValueError(
            f"`lr` must be a number > 0. Received: lr={lr!r}")
    if isinstance(momentum, bool) or not isinstance(
            momentum, (int, float)) or momentum < 0:
        raise ValueError(
            f"`momentum` must be a number >= 0. Received: momentum={momentum!r}")
    if decay is None or (not isinstance(decay, bool) and decay == 0):
        schedule = float(lr)
    elif isinstance(decay, bool) or not isinstance(decay, (int, float)) or (
            decay < 0):
        raise ValueError(
            f"`decay` must be a number >= 0. Received: decay={decay!r}")
    else:
        schedule = keras.optimizers.schedules.InverseTimeDecay(
            float(lr), decay_steps=1, decay_rate=float(decay))
    if optimizer == "adam":
        return keras.optimizers.Adam(schedule)
    return keras.optimizers.SGD(schedule, momentum=float(momentum))


def _check_number(name, value, low, high=math.inf):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or not low <= value <= high):
        raise ValueError(
            f"`{name}` must be a number in [{low}, {high}]. "
            f"Received: {name}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="deltasparse")
class SGDWithDampening(keras.optimizers.Optimizer):
    """SGD with the exact semantics of PyTorch's `torch.optim.SGD`.

    For every trainable variable `w` with gradient `grad`, per step:

    - `g = grad + weight_decay * w` (coupled L2 decay, added to the
      gradient, as PyTorch's `weight_decay`; not the decoupled decay of
      Keras' `weight_decay` argument);
    - `buf = g` on the first step, else `buf = momentum * buf +
      (1 - dampening) * g`;
    - `step = g + momentum * buf` with `nesterov`, else `step = buf`;
    - `w -= learning_rate * step`.

    With `momentum=0` there is no buffer: `w -= learning_rate * g`. The
    first step is `optimizer.iterations == 0` (PyTorch: the step that
    creates the buffer), so a run resumed from a checkpoint that restores
    the optimizer variables (`deltasparse.training.Trainer`) continues
    exactly. Hara et al.'s and Efficient-3DCNNs' trainings pass
    `model.parameters()` to `torch.optim.SGD`, so the decay applies to EVERY
    trainable variable, BatchNorm gamma and beta and biases included; so
    does this optimizer (no exclusion list).

    Differences from `keras.optimizers.SGD`: Keras' momentum is
    `buf = momentum * buf - lr * g; w += buf` (no dampening, the learning
    rate inside the buffer; equal to PyTorch only for a constant learning
    rate and dampening 0) and Keras' `weight_decay` is decoupled.

    Args:
        learning_rate: float, a `keras.optimizers.schedules.
            LearningRateSchedule` or a callable. A float becomes a settable
            variable (`optimizer.learning_rate = 0.01`), which
            `ReduceLearningRateOnPlateau` needs. Defaults to `0.1`.
        momentum: float >= 0. Defaults to `0.9`.
        dampening: float in [0, 1]. Defaults to `0.9` (Hara et al.'s
            `--dampening`).
        weight_decay: float >= 0, the coupled L2 coefficient. Defaults to
            `1e-3`.
        nesterov: bool, Nesterov momentum; needs `momentum > 0` and
            `dampening == 0` (PyTorch raises otherwise, so do we). Defaults
            to `False`.
        name: str. Defaults to `"SGDWithDampening"`.
        **kwargs: Base optimizer keyword arguments, such as `clipnorm`
            (not `weight_decay`'s decoupled form, which this replaces).

    Raises:
        ValueError: an argument out of range, or Nesterov with dampening.

    Example:
    >>> optimizer = SGDWithDampening(0.1, momentum=0.9, dampening=0.9,
    ...                              weight_decay=0.0)
    >>> w = keras.Variable([1.0])
    >>> optimizer.apply([keras.ops.array([1.0])], [w])
    >>> round(float(w.numpy()[0]), 4)  # first step: buf = g
    0.9
    >>> optimizer.apply([keras.ops.array([1.0])], [w])
    >>> round(float(w.numpy()[0]), 4)  # buf = 0.9 * 1 + 0.1 * 1 = 1.0
    0.8
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, dampening=0.9,
                 weight_decay=1e-3, nesterov=False, name="SGDWithDampening",
                 **kwargs):
        momentum = _check_number("momentum", momentum, 0.0)
        dampening = _check_number("dampening", dampening, 0.0, 1.0)
        weight_decay = _check_number("weight_decay", weight_decay, 0.0)
        if not isinstance(nesterov, bool):
            raise ValueError(
                f"`nesterov` must be a bool. Received: nesterov={nesterov!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "`nesterov=True` requires a momentum > 0 and zero dampening "
                "(as torch.optim.SGD). Received: "
                f"momentum={momentum}, dampening={dampening}")
        if isinstance(learning_rate, numbers.Real):
            _check_number("learning_rate", learning_rate, 0.0)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum
        self.dampening = dampening
        self.coupled_weight_decay = weight_decay
        self.nesterov = nesterov

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentum_buffers = []
        if self.momentum > 0:
            self.momentum_buffers = [
                self.add_variable_from_reference(variable, "momentum_buffer")
                for variable in variables
            ]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        learning_rate = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        if self.coupled_weight_decay:
            gradient = gradient + ops.cast(
                self.coupled_weight_decay, dtype) * variable
        if self.momentum == 0:
            self.assign_sub(variable, learning_rate * gradient)
            return
        momentum = ops.cast(self.momentum, dtype)
        buffer = self.momentum_buffers[self._get_variable_index(variable)]
        updated = ops.where(
            ops.equal(self.iterations, 0), gradient,
            momentum * buffer + ops.cast(1.0 - self.dampening, dtype)
            * gradient)
        self.assign(buffer, updated)
        step = gradient + momentum * updated if self.nesterov else updated
        self.assign_sub(variable, learning_rate * step)

    def get_config(self):
        config = super().get_config()
        config.update({
            "momentum": self.momentum,
            "dampening": self.dampening,
            "weight_decay": self.coupled_weight_decay,
            "nesterov": self.nesterov,
        })
        return config
