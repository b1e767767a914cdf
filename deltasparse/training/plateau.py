"""`ReduceLearningRateOnPlateau`: PyTorch's `ReduceLROnPlateau`, resumable."""

import math
import numbers
import os
import warnings

import keras

from deltasparse.training.checkpoints import read_json
from deltasparse.training.checkpoints import write_json_atomic

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


def _check_real(name, value, low, high=math.inf, low_open=False):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < low or value > high
            or (low_open and value == low)):
        bracket = "(" if low_open else "["
        raise ValueError(
            f"`{name}` must be a number in {bracket}{low}, {high}]. "
            f"Received: {name}={value!r}")
    return float(value)


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(
            value, numbers.Integral) or value < 0:
        raise ValueError(
            f"`{name}` must be an int >= 0. Received: {name}={value!r}")
    return int(value)


class ReduceLearningRateOnPlateau(keras.callbacks.Callback):
    """Multiplies the learning rate by `factor` when a metric stops improving.

    The rule of PyTorch's `torch.optim.lr_scheduler.ReduceLROnPlateau`,
    stepped once per epoch on `monitor` (Hara et al.'s and Efficient-3DCNNs'
    `main.py` call `scheduler.step(validation_loss)` after every epoch's
    validation). At the end of every epoch, with `current = logs[monitor]`:

    1. `current` is better than `best` when (mode `"min"`) `current < best *
       (1 - threshold)` (`threshold_mode="rel"`) or `current < best -
       threshold` (`"abs"`); mode `"max"` mirrors it (`best * (1 +
       threshold)`, `best + threshold`). `best` starts at +inf (-inf). A
       better value sets `best = current` and `bad_epochs = 0`, otherwise
       `bad_epochs += 1` (a NaN is never better).
    2. In cooldown (`cooldown_counter > 0`): `cooldown_counter -= 1` and
       `bad_epochs = 0`.
    3. When `bad_epochs > patience`: `learning_rate = max(learning_rate *
       factor, min_learning_rate)` (changed only when that lowers it by
       more than `eps`), `cooldown_counter = cooldown`, `bad_epochs = 0`.

    Resuming. The learning rate lives in the optimizer: a float learning
    rate is an optimizer variable (`SGDWithDampening`, every Keras
    optimizer), which `deltasparse.training.Trainer` saves and restores with
    the training state. The callback's own state (`best`, `bad_epochs`,
    `cooldown_counter`, and the learning rate again) is written after every
    epoch to `state_path`, one entry per finished epoch (JSON, atomic), when
    `state_path` is given; put it in the trainer's checkpoint folder. At the
    first epoch it runs, `epoch > 0`, the callback loads the entry of the
    epoch before it, so a run resumed after epoch k continues exactly as the
    uninterrupted run (an entry written by an epoch whose checkpoint was
    never committed is simply overwritten). `Trainer(resume=False)` moves
    the folder's old files, this one included, aside.

    Differences from Keras' `ReduceLROnPlateau`: Keras's `min_delta` is
    absolute only, it counts `wait` from its own `best` with a different
    cooldown order and reduces when `wait >= patience` (PyTorch: `>
    patience`); this callback follows PyTorch.

    Args:
        monitor: str, the epoch log to watch. Defaults to `"val_loss"`.
        mode: `"min"` or `"max"`. Defaults to `"min"`.
        factor: float in (0, 1), the reduction factor. Defaults to `0.1`.
        patience: int >= 0, bad epochs tolerated before reducing. Defaults
            to `10`.
        threshold: float >= 0, the significance threshold. Defaults to
            `1e-4`.
        threshold_mode: `"rel"` or `"abs"`. Defaults to `"rel"`.
        cooldown: int >= 0, epochs without counting after a reduction.
            Defaults to `0`.
        min_learning_rate: float >= 0, the lower bound. Defaults to `0.0`.
        eps: float >= 0, smallest change applied. Defaults to `1e-8`.
        state_path: str or `None`, the JSON file of the per-epoch states
            (e.g. `<checkpoint_dir>/plateau_state.json`). Defaults to `None`
            (no persistence).
        verbose: int, 1 prints a line at every reduction. Defaults to `0`.

    Raises:
        ValueError: an argument out of range; at training start, an
            optimizer whose learning rate is a schedule (not settable).

    Example:
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(1.0), "mse")
    >>> plateau = ReduceLearningRateOnPlateau(patience=1)
    >>> plateau.set_model(model)
    >>> for epoch, loss in enumerate([1.0, 1.0, 1.0, 0.5]):
    ...     plateau.on_epoch_end(epoch, {"val_loss": loss})
    >>> round(float(model.optimizer.learning_rate), 6), plateau.best
    (0.1, 0.5)
    """

    def __init__(self, monitor="val_loss", mode="min", factor=0.1,
                 patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_learning_rate=0.0, eps=1e-8,
                 state_path=None, verbose=0):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "`monitor` must be an epoch log name such as 'val_loss'. "
                f"Received: monitor={monitor!r}")
        if mode not in MODES:
            raise ValueError(
                f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        if threshold_mode not in THRESHOLD_MODES:
            raise ValueError(
                f"`threshold_mode` must be one of {THRESHOLD_MODES}. "
                f"Received: threshold_mode={threshold_mode!r}")
        factor = _check_real("factor", factor, 0.0, 1.0, low_open=True)
        if factor == 1.0:
            raise ValueError(
                f"`factor` must be < 1. Received: factor={factor!r}")
        if state_path is not None and not isinstance(
                state_path, (str, os.PathLike)):
            raise ValueError(
                "`state_path` must be None or a file path. "
                f"Received: state_path={state_path!r}")
        self.monitor = monitor
        self.mode = mode
        self.factor = factor
        self.patience = _check_count("patience", patience)
        self.threshold = _check_real("threshold", threshold, 0.0)
        self.threshold_mode = threshold_mode
        self.cooldown = _check_count("cooldown", cooldown)
        self.min_learning_rate = _check_real(
            "min_learning_rate", min_learning_rate, 0.0)
        self.eps = _check_real("eps", eps, 0.0)
        self.state_path = None if state_path is None else os.fspath(
            state_path)
        self.verbose = verbose
        self.reset()

    def reset(self):
        """Back to the initial state (`best` = +-inf, no bad epochs)."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.bad_epochs = 0
        self.cooldown_counter = 0
        self._loaded = False

    # -- the PyTorch rule --------------------------------------------------
    def is_better(self, current, best):
        """PyTorch's `is_better` for this mode and threshold mode."""
        if self.mode == "min":
            bound = best * (1 - self.threshold) if (
                self.threshold_mode == "rel") else best - self.threshold
            return current < bound
        bound = best * (1 + self.threshold) if (
            self.threshold_mode == "rel") else best + self.threshold
        return current > bound

    def step(self, current, learning_rate):
        """One epoch of the rule.

        Args:
            current: float, the monitored value.
            learning_rate: float, the current learning rate.

        Returns:
            float, the learning rate for the next epoch.
        """
        current = float(current)
        if self.is_better(current, self.best):
            self.best = current
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            reduced = max(learning_rate * self.factor, self.min_learning_rate)
            if learning_rate - reduced > self.eps:
                learning_rate = reduced
            self.cooldown_counter = self.cooldown
            self.bad_epochs = 0
        return learning_rate

    # -- state ------------------------------------------------------------
    def get_state(self):
        """dict of the rule's state (JSON-able; +-inf as strings)."""
        return {"best": repr(self.best) if math.isinf(self.best) else (
                    self.best),
                "bad_epochs": self.bad_epochs,
                "cooldown_counter": self.cooldown_counter}

    def set_state(self, state):
        """Restores what `get_state` returned."""
        self.best = float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])

    def _optimizer(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "`ReduceLearningRateOnPlateau` needs a compiled model. "
                f"Received: model={getattr(self.model, 'name', None)!r}")
        if isinstance(optimizer._learning_rate,
                      keras.optimizers.schedules.LearningRateSchedule) or (
                callable(optimizer._learning_rate)):
            raise ValueError(
                "`ReduceLearningRateOnPlateau` needs an optimizer with a "
                "settable (float) learning rate, not a schedule. Received: "
                f"learning_rate={optimizer._learning_rate!r}")
        return optimizer

    def _read_states(self):
        if self.state_path is None:
            return {}
        try:
            return read_json(self.state_path, default={})
        except (OSError, ValueError) as error:
            raise ValueError(
                f"`state_path` {self.state_path!r} is not a plateau state "
                f"file ({error}). Received: state_path={self.state_path!r}"
            ) from None

    # -- callback hooks ---------------------------------------------------
    def on_train_begin(self, logs=None):
        self._optimizer()

    def on_epoch_begin(self, epoch, logs=None):
        if self._loaded:
            return
        self._loaded = True
        if epoch == 0 or self.state_path is None:
            return
        entry = self._read_states().get(str(epoch))
        if entry is None:
            warnings.warn(
                f"ReduceLearningRateOnPlateau: no state for epoch {epoch} in "
                f"{self.state_path}; starting the rule afresh.")
            return
        self.set_state(entry)
        self._optimizer().learning_rate = entry["learning_rate"]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self._loaded = True
        optimizer = self._optimizer()
        learning_rate = float(keras.ops.convert_to_numpy(
            optimizer.learning_rate))
        logs.setdefault("learning_rate", learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"ReduceLearningRateOnPlateau: `monitor`={self.monitor!r} is "
                f"not in the epoch logs ({', '.join(sorted(logs))}).")
            return
        reduced = self.step(current, learning_rate)
        if reduced != learning_rate:
            optimizer.learning_rate = reduced
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLearningRateOnPlateau "
                      f"learning rate {learning_rate:.4g} -> {reduced:.4g}.")
        if self.state_path is not None:
            states = self._read_states()
            states = {k: v for k, v in states.items() if int(k) <= epoch}
            states[str(epoch + 1)] = {**self.get_state(),
                                      "learning_rate": reduced}
            write_json_atomic(self.state_path, states)

