"""The paper optimizer (SGD with momentum and legacy inverse-time decay)."""

import keras


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
