"""One resumable `fit` for every model family.

`Trainer(checkpoint_dir, ...).fit(model, train_data, epochs, ...)` runs
Keras' `model.fit` ONE EPOCH AT A TIME (`initial_epoch=e, epochs=e + 1`) so
that every epoch gets its own dataset (`train_data(epoch)`) and its own
random state, and after every epoch writes, atomically, to the checkpoint
folder:

- `epoch-NNN.state.npz` (NNN counted from 1): every model variable
  (weights, BatchNorm statistics, `SeedGenerator` states) and every
  optimizer variable (`iterations`, momenta): the exact training state. The
  newest `keep` are kept.
- `last.weights.h5` and, when `monitor` improved, `best.weights.h5`
  (the model's weights without the optimizer state, for `load_weights` /
  `transfer_weights`; see `checkpoints.save_weights_atomic`).
- `history.json`, written last (the commit point of the epoch): the figures
  of every finished epoch, the best value/epoch, the seed, the checkpoint
  file to resume from.

**Exact resume.** At the start of epoch `e` (from 0) the trainer calls
`keras.utils.set_random_seed(epoch_seed(seed, e))`, so the Python, NumPy,
TensorFlow and Keras global random states are functions of `(seed, e)`;
layer `SeedGenerator`s (Dropout) are restored from the checkpoint. With
`train_data` a callable `epoch -> dataset` whose order and augmentation
derive from `(seed, epoch)`, a run resumed after epoch `k` sees exactly the
batches and state of an uninterrupted run: on CPU the metrics and weights
are bit for bit equal (tested). A fixed dataset (not a callable) is
re-iterated each epoch; it resumes exactly only if its order is a function
of TensorFlow's global seed (a `shuffle` without its own seed, created
inside `train_data`) or fixed. Under a distribution strategy TensorFlow
re-seeds `tf.data` shuffles and random maps when it distributes the
dataset (the order then differs from the one-device order), so draw the
order and augmentation parameters in NumPy from `(seed, epoch)`, as
`clip_dataset(seed=..., epoch=...)` does.

**Locking.** `fit` holds an exclusive `fcntl.flock` on `<dir>/.lock` for its
whole run (the OS drops it when the process dies); a second run on the same
folder stops at once with `CheckpointLockedError` naming the folder and the
holder's pid/host. `resume=False` with old checkpoints moves them to
`<dir>.replaced-<time>` only after taking the lock, so a live run's folder is
never moved. Temporary files are per process (`.tmp-<host>-<pid>-<name>`).

**Distribution.** Pass the strategy from `distribution_strategy(...)` (build
and compile the model in its scope). Only the chief writes the checkpoint
folder; other workers write to a private temporary folder (see
`deltasparse.training.distribution` for the cluster launch recipe).

**Logging.** Every epoch's figures (Keras' train and `val_` logs, the
`TimingCallback` figures `data_time`, `step_time`, `clips_per_second`, and
whatever user callbacks put in the logs) go to `log_scalar(name, value,
epoch_number)` with the 1-based epoch number Keras prints, and one INFO line
per epoch to the `deltasparse.training` logger; `verbose` is passed to
Keras. Epochs finished before a resume are not re-logged (use
`Trainer.replay_history`).

Differences from a plain `model.fit`: user callbacks get `on_train_begin`
once, at the first epoch run, and `on_train_end` once, when the run ends
normally (not per one-epoch `fit` call); `model.stop_training` set by a
callback (e.g. `EarlyStopping`) ends the run.
"""

import dataclasses
import logging
import math
import os
import random
import shutil
import tempfile

import keras
import numpy as np

from deltasparse.data.video.pipeline import epoch_seed as data_epoch_seed
from deltasparse.training import checkpoints as ckpt
from deltasparse.training.callbacks import TimingCallback
from deltasparse.training.callbacks import numeric_figures
from deltasparse.training.distribution import is_chief
from deltasparse.training.distribution import prepare_for_strategy

logger = logging.getLogger("deltasparse.training")

HISTORY_NAME = "history.json"
BEST_NAME = "best.weights.h5"
LAST_NAME = "last.weights.h5"
STATE_FORMAT = "epoch-{:03d}.state.npz"
FORMAT_VERSION = 1


def epoch_seed(seed, epoch):
    """The data pipeline's epoch seed, reduced to 31 bits.

    The same stateless hash of `(seed, epoch)` as
    `deltasparse.data.video.epoch_seed` (which orders and augments the clips
    of that epoch), cut to `[0, 2**31)` for the RNGs that need a small int
    (`keras.utils.set_random_seed`, `np.random.RandomState`).

    Args:
        seed: int, the run seed.
        epoch: int, the epoch counted from 0.

    Returns:
        int in `[0, 2**31)`.

    Example:
    >>> epoch_seed(123, 0) == epoch_seed(123, 0) != epoch_seed(123, 1)
    True
    """
    return data_epoch_seed(seed, epoch) & 0x7FFFFFFF


@dataclasses.dataclass
class TrainingResult:
    """What `Trainer.fit` returns.

    Attributes:
        history: dict name -> list of floats over ALL finished epochs (those
            before a resume included), aligned with `epochs`.
        epochs: list of the finished epoch numbers (1-based).
        resumed_from_epoch: int, the last finished epoch (1-based) the run
            resumed after, or `None` for a fresh start.
        best_weights_path: str or `None` (no `monitor` value seen).
        last_weights_path: str or `None` (no epoch finished).
        best_epoch: int (1-based) or `None`.
        best_value: float or `None`.
        checkpoint_dir: str, the folder written by this process.
    """

    history: dict
    epochs: list
    resumed_from_epoch: object = None
    best_weights_path: object = None
    last_weights_path: object = None
    best_epoch: object = None
    best_value: object = None
    checkpoint_dir: object = None


_HOOKS = (
    "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
    "on_train_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin",
    "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


class _RunScoped(keras.callbacks.Callback):
    """Gives a user callback one `on_train_begin`/`on_train_end` per run."""

    def __init__(self, callback):
        super().__init__()
        self.callback = callback
        self.began = False
        self.async_safe = getattr(callback, "async_safe", False)
        for hook in _HOOKS:
            setattr(self, hook, getattr(callback, hook))

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)

    def on_train_begin(self, logs=None):
        if not self.began:
            self.began = True
            self.callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        pass

    def finish(self, logs=None):
        if self.began:
            self.callback.on_train_end(logs)


def _check_int(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(
            value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"`{name}` must be an int >= {minimum}"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}")
    return int(value)


def _split_xy(data):
    """`(x, y)` for `model.fit` from a dataset or an `(x, y)` array tuple."""
    if isinstance(data, tuple) and len(data) == 2:
        return data
    return data, None


def _static_batch_size(x):
    """The static batch dimension of a `tf.data.Dataset`, or `None`."""
    spec = getattr(x, "element_spec", None)
    while isinstance(spec, (tuple, list)) and spec:
        spec = spec[0]
    if isinstance(spec, dict) and spec:
        spec = next(iter(spec.values()))
    shape = getattr(spec, "shape", None)
    if shape is None or len(shape) == 0 or shape[0] is None:
        return None
    return int(shape[0])


def _for_epoch(data, epoch):
    if data is not None and callable(data) and not hasattr(data, "element_spec"):
        return data(epoch)
    return data


class Trainer:
    """Resumable, locked, timed `model.fit` with per-epoch checkpoints.

    Args:
        checkpoint_dir: str, folder for this configuration's checkpoints
            (created). See the module docstring for its files.
        resume: bool, continue after the last finished epoch found in
            `checkpoint_dir` (a fresh start when there is none). `False`
            with existing checkpoints starts over and moves the old files
            to `<checkpoint_dir>.replaced-<time>`. Defaults to `False`.
        seed: int or `None`, the run seed; per-epoch random state is
            `epoch_seed(seed, epoch)`. `None` draws one on a fresh start
            (stored in `history.json`, reused on resume). Defaults to
            `None`.
        monitor: str, epoch log key that selects `best.weights.h5`.
            Defaults to `"val_accuracy"`.
        mode: `"max"` or `"min"`, whether larger `monitor` is better.
            Defaults to `"max"`.
        keep: int >= 1, how many `epoch-NNN.state.npz` files to keep.
            Defaults to `2`.
        log_scalar: callable `(name, value, step)` or `None`; called for
            every epoch figure with `step` = epoch number counted from 1.
            Defaults to `None`.
        verbose: Keras `fit` verbosity (0, 1, 2 or `"auto"`). Defaults to
            `2` (one line per epoch).
        strategy: a `tf.distribute.Strategy` (see `distribution_strategy`)
            or `None` (the current one). Defaults to `None`.

    Example:
    >>> import tempfile, numpy as np, keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> model.compile("sgd", "mse")
    >>> data = lambda epoch: (np.ones((4, 3)), np.zeros((4, 2)))
    >>> trainer = Trainer(tempfile.mkdtemp(), seed=1, monitor="loss",
    ...                   mode="min", verbose=0)
    >>> result = trainer.fit(model, data, epochs=2)
    >>> result.epochs, sorted(result.history)[:2]
    ([1, 2], ['clips_per_second', 'data_time'])
    """

    def __init__(self, checkpoint_dir, *, resume=False, seed=None,
                 monitor="val_accuracy", mode="max", keep=2, log_scalar=None,
                 verbose=2, strategy=None):
        if not checkpoint_dir or not isinstance(
                checkpoint_dir, (str, os.PathLike)):
            raise ValueError(
                "`checkpoint_dir` must be a folder path. "
                f"Received: checkpoint_dir={checkpoint_dir!r}")
        if os.path.exists(checkpoint_dir) and not os.path.isdir(
                checkpoint_dir):
            raise ValueError(
                "`checkpoint_dir` must be a folder, not a file. "
                f"Received: checkpoint_dir={os.fspath(checkpoint_dir)!r}")
        if mode not in ("min", "max"):
            raise ValueError(
                f"`mode` must be 'min' or 'max'. Received: mode={mode!r}")
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "`monitor` must be an epoch log name such as 'val_accuracy'. "
                f"Received: monitor={monitor!r}")
        if log_scalar is not None and not callable(log_scalar):
            raise ValueError(
                "`log_scalar` must be None or a callable (name, value, step). "
                f"Received: log_scalar={log_scalar!r}")
        self.checkpoint_dir = os.path.abspath(os.fspath(checkpoint_dir))
        self.resume = bool(resume)
        self.seed = _check_int("seed", seed, 0, allow_none=True)
        self.monitor = monitor
        self.mode = mode
        self.keep = _check_int("keep", keep, 1)
        self.log_scalar = log_scalar
        self.verbose = verbose
        self.strategy = strategy
        self._state = self._read_state() if self.resume else None

    # -- state -------------------------------------------------------------
    def _read_state(self, directory=None):
        path = os.path.join(directory or self.checkpoint_dir, HISTORY_NAME)
        state = ckpt.read_json(path)
        if state is None:
            return None
        if not isinstance(state, dict) or "epochs" not in state:
            raise ValueError(
                f"{path} is not a deltasparse training history; move it away "
                "or use resume=False.")
        return state

    @property
    def history(self):
        """dict name -> list over the finished epochs stored so far."""
        state = self._state or {}
        return {k: list(v) for k, v in state.get("history", {}).items()}

    @property
    def epochs_done(self):
        """The last finished epoch (1-based) known to this trainer, or 0."""
        state = self._state or {}
        return int(state["epochs"][-1]) if state.get("epochs") else 0

    def replay_history(self, log_scalar):
        """Calls `log_scalar(name, value, epoch)` for every stored figure.

        For a caller that wants the epochs finished before a resume in a new
        run's log (the trainer does not re-log them).

        Args:
            log_scalar: callable `(name, value, step)`.
        """
        state = self._state or {}
        for i, epoch in enumerate(state.get("epochs", [])):
            for name in sorted(state.get("history", {})):
                values = state["history"][name]
                if i < len(values) and values[i] is not None:
                    log_scalar(name, float(values[i]), int(epoch))

    def _improved(self, value, best):
        if value is None or math.isnan(value):
            return False
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best

    # -- fit ---------------------------------------------------------------
    def fit(self, model, train_data, epochs, *, validation_data=None,
            steps_per_epoch=None, validation_steps=None, callbacks=(),
            initial_epoch=0):
        """Trains `model` up to `epochs`, resuming and checkpointing.

        Args:
            model: a built, compiled `keras.Model` (under the strategy's
                scope when distributed).
            train_data: a dataset (anything `model.fit` takes as `x`, e.g. a
                `tf.data.Dataset` of `(x, y)` or an `(x, y)` tuple) or a
                callable `epoch -> dataset` (epoch from 0).
            epochs: int >= 1, the total number of epochs (finished ones
                included).
            validation_data: like `train_data` (dataset or callable) or
                `None`. Defaults to `None`.
            steps_per_epoch: int or `None`. Defaults to `None`.
            validation_steps: int or `None`. Defaults to `None`.
            callbacks: extra Keras callbacks. Defaults to `()`.
            initial_epoch: int, the epoch (from 0) a fresh run starts at;
                a resume starts at `max(initial_epoch, last finished)`.
                Defaults to `0`.

        Returns:
            A `TrainingResult`.

        Raises:
            CheckpointLockedError: another live run holds the folder.
            ValueError: bad arguments, or a checkpoint that does not match
                the model.
        """
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"`model` must be a keras.Model. Received: model={model!r}")
        if getattr(model, "optimizer", None) is None:
            raise ValueError(
                "`model` must be compiled (optimizer and loss) before "
                f"`Trainer.fit`. Received: model={model.name!r} (not compiled)")
        if not model.built:
            raise ValueError(
                "`model` must be built (call it once or build it from an "
                f"`Input`) before `Trainer.fit`. Received: model={model.name!r}"
                " (not built)")
        epochs = _check_int("epochs", epochs, 1)
        initial_epoch = _check_int("initial_epoch", initial_epoch, 0)
        steps_per_epoch = _check_int("steps_per_epoch", steps_per_epoch, 1,
                                     allow_none=True)
        validation_steps = _check_int("validation_steps", validation_steps, 1,
                                      allow_none=True)
        if train_data is None:
            raise ValueError("`train_data` must be a dataset or a callable "
                             "epoch -> dataset. Received: train_data=None")
        strategy = self.strategy
        if strategy is None:
            strategy = getattr(model, "distribute_strategy", None)
        chief = is_chief(strategy)
        prepare_for_strategy(model, strategy)
        lock = ckpt.CheckpointLock(self.checkpoint_dir) if chief else None
        scratch = None
        if lock is not None:
            lock.acquire()
        try:
            if chief:
                write_dir = self.checkpoint_dir
                ckpt.remove_stale_temp_files(write_dir)
            else:
                scratch = write_dir = tempfile.mkdtemp(
                    prefix="deltasparse-worker-ckpt-")
            return self._fit_locked(
                model, train_data, epochs, validation_data, steps_per_epoch,
                validation_steps, list(callbacks), initial_epoch, strategy,
                chief, write_dir)
        finally:
            if lock is not None:
                lock.release()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _start_state(self, chief, model, strategy):
        """Reads (resume) or clears (fresh start) the checkpoint folder."""
        state = self._read_state() if self.resume else None
        if not self.resume and chief:
            aside = ckpt.move_aside(self.checkpoint_dir)
            if aside:
                logger.warning("resume=False: moved the previous files of %s "
                               "to %s", self.checkpoint_dir, aside)
        if state is None and self.resume:
            logger.info("resume=True but no history in %s: starting fresh",
                        self.checkpoint_dir)
        if state and state.get("epochs"):
            path = os.path.join(self.checkpoint_dir, state["checkpoint"])
            if not os.path.isfile(path):
                raise ValueError(
                    f"{self.checkpoint_dir}/{HISTORY_NAME} names the "
                    f"checkpoint {state['checkpoint']!r}, which is missing; "
                    "use resume=False to start over.")
            scope = strategy.scope() if strategy is not None else None
            if scope is not None:
                with scope:
                    ckpt.restore_training_state(model, path)
            else:
                ckpt.restore_training_state(model, path)
            logger.info("resumed after epoch %d from %s", state["epochs"][-1],
                        path)
        return state

    def _fit_locked(self, model, train_data, epochs, validation_data,
                    steps_per_epoch, validation_steps, callbacks,
                    initial_epoch, strategy, chief, write_dir):
        state = self._start_state(chief, model, strategy)
        resumed_from = None
        if state and state.get("epochs"):
            resumed_from = int(state["epochs"][-1])
        else:
            seed = self.seed
            if seed is None:
                seed = random.SystemRandom().randrange(2**31)
            state = {
                "format": FORMAT_VERSION, "seed": seed, "epochs": [],
                "history": {}, "checkpoint": None, "monitor": self.monitor,
                "mode": self.mode, "best_value": None, "best_epoch": None,
            }
        if self.seed is not None and state["seed"] != self.seed:
            logger.warning("resuming a run with seed %s under seed=%s: the "
                           "stored seed is kept", state["seed"], self.seed)
        self._state = state
        seed = int(state["seed"])
        best_path = os.path.join(write_dir, BEST_NAME)
        last_path = os.path.join(write_dir, LAST_NAME)
        if state.get("best_epoch") is not None and write_dir != (
                self.checkpoint_dir):
            src = os.path.join(self.checkpoint_dir, BEST_NAME)
            if os.path.isfile(src):
                shutil.copyfile(src, best_path)
        wrapped = [_RunScoped(cb) for cb in callbacks]
        start = max(initial_epoch, resumed_from or 0)
        warned_monitor = False
        last_logs = {}
        for epoch in range(start, epochs):
            keras.utils.set_random_seed(epoch_seed(seed, epoch))
            x, y = _split_xy(_for_epoch(train_data, epoch))
            timing = TimingCallback(batch_size=_static_batch_size(x))
            extra = {"shuffle": False} if hasattr(x, "element_spec") else {}
            fit_history = model.fit(
                x, y, **extra,
                validation_data=_for_epoch(validation_data, epoch),
                initial_epoch=epoch, epochs=epoch + 1,
                steps_per_epoch=steps_per_epoch,
                validation_steps=validation_steps,
                callbacks=[timing, *wrapped], verbose=self.verbose)
            logs = {k: v[-1] for k, v in fit_history.history.items() if v}
            for key, value in timing.epoch_figures.items():
                logs.setdefault(key, value)
            logs = numeric_figures(logs)
            last_logs = logs
            number = epoch + 1
            self._record(state, number, logs)
            value = logs.get(self.monitor)
            if value is None and not warned_monitor:
                warned_monitor = True
                logger.warning("`monitor`=%r is not in the epoch logs (%s): "
                               "no best.weights.h5", self.monitor,
                               ", ".join(sorted(logs)))
            if self._improved(value, state["best_value"]):
                state["best_value"], state["best_epoch"] = value, number
                ckpt.save_weights_atomic(model, best_path)
            ckpt.save_weights_atomic(model, last_path)
            name = STATE_FORMAT.format(number)
            ckpt.save_training_state(model, os.path.join(write_dir, name),
                                     extra={"epoch": number, "seed": seed})
            state["checkpoint"] = name
            ckpt.write_json_atomic(os.path.join(write_dir, HISTORY_NAME),
                                   state)
            self._prune(write_dir)
            self._log_epoch(number, epochs, logs)
            if model.stop_training:
                logger.info("stopped by a callback after epoch %d", number)
                break
        for callback in wrapped:
            callback.finish(last_logs)
        has_best = state.get("best_epoch") is not None and os.path.isfile(
            best_path)
        return TrainingResult(
            history=self.history, epochs=list(state["epochs"]),
            resumed_from_epoch=resumed_from,
            best_weights_path=best_path if has_best else None,
            last_weights_path=last_path if os.path.isfile(last_path) else None,
            best_epoch=state.get("best_epoch"),
            best_value=state.get("best_value"), checkpoint_dir=write_dir)

    @staticmethod
    def _record(state, number, logs):
        history = state["history"]
        done = len(state["epochs"])
        for key in logs:
            history.setdefault(key, [None] * done)
        for key, values in history.items():
            values.append(logs.get(key))
        state["epochs"].append(number)

    def _prune(self, directory):
        names = sorted(n for n in os.listdir(directory)
                       if n.startswith("epoch-") and n.endswith(".state.npz"))
        for name in names[: max(0, len(names) - self.keep)]:
            try:
                os.remove(os.path.join(directory, name))
            except OSError:  # pragma: no cover
                pass

    def _log_epoch(self, number, epochs, logs):
        if self.log_scalar is not None:
            for key, value in sorted(logs.items()):
                self.log_scalar(key, value, number)
        text = " - ".join(f"{k}: {v:.4g}" for k, v in sorted(logs.items()))
        logger.info("epoch %d/%d - %s", number, epochs, text)
