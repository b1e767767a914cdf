"""Keras callbacks of the trainer: input/compute timing, scalar logging."""

import math
import time

import keras

TIMING_KEYS = ("data_time", "step_time", "clips_per_second")


def _batch_size(data):
    """`(samples, local replicas)` of a (possibly distributed) batch.

    `samples` is `None` when a batch dimension is unknown.
    """
    leaf = data
    while isinstance(leaf, (tuple, list)) and leaf:
        leaf = leaf[0]
    if isinstance(leaf, dict) and leaf:
        leaf = next(iter(leaf.values()))
    parts = getattr(leaf, "values", None)  # tf.distribute PerReplica
    parts = parts if isinstance(parts, tuple) else (leaf,)
    total = 0
    for part in parts:
        shape = getattr(part, "shape", None)
        if shape is None or len(shape) == 0 or shape[0] is None:
            return None, len(parts)
        total += int(shape[0])
    return total, len(parts)


class TimingCallback(keras.callbacks.Callback):
    """Puts `data_time`, `step_time` and `clips_per_second` in epoch logs.

    - `data_time`: seconds this epoch spent waiting for the next training
      batch from the input pipeline.
    - `step_time`: seconds spent in training steps (forward, backward,
      update), data fetch excluded.
    - `clips_per_second`: training samples (clips, or frames for a frame
      model) per second of `data_time + step_time`.

    How it is measured: with timestamps at `on_train_batch_begin` and
    `on_train_batch_end`; the gap between one batch's end and the next
    batch's begin counts as data wait. That is exact on the JAX and PyTorch
    backends, whose fit loops fetch the batch in Python between the two
    hooks. Keras' TensorFlow fit loop instead fetches the batch INSIDE the
    compiled train function, so on TensorFlow (with `steps_per_execution=1`)
    the callback also wraps `model.train_function` for the duration of the
    fit: the wrapper takes the next batch from the iterator eagerly (timed:
    that is the data wait) and hands it to Keras' own compiled one-step
    function, the same computation. With `steps_per_execution > 1` only the
    gaps are measured (the fetch then counts as step time). The batch size
    is read from each fetched batch; otherwise `batch_size` must be given
    for `clips_per_second` (it is NaN when unknown). Validation time is not
    included.

    Args:
        batch_size: int or `None`, samples per training batch; `None` reads
            it from the batches (TensorFlow) . Defaults to `None`.
        wrap_train_function: bool, install the timed fetch described above
            on TensorFlow. Defaults to `True`.

    Example:
    >>> timing = TimingCallback(batch_size=8)
    >>> timing.on_epoch_begin(0)
    >>> timing.on_train_batch_begin(0)
    >>> timing.on_train_batch_end(0)
    >>> logs = {}
    >>> timing.on_epoch_end(0, logs)
    >>> sorted(logs)
    ['clips_per_second', 'data_time', 'step_time']
    """

    def __init__(self, batch_size=None, wrap_train_function=True):
        super().__init__()
        if batch_size is not None and (
                isinstance(batch_size, bool) or not isinstance(batch_size, int)
                or batch_size < 1):
            raise ValueError(
                "`batch_size` must be None or an int >= 1. "
                f"Received: batch_size={batch_size!r}")
        self.batch_size = batch_size
        self.wrap_train_function = wrap_train_function
        self._reset()
        self.epoch_figures = {}

    def _reset(self):
        now = time.perf_counter()
        self._last_end = now
        self._batch_begin = now
        self._data = 0.0
        self._step = 0.0
        self._fetch = 0.0
        self._fetch_in_batch = 0.0
        self._samples = 0
        self._samples_known = True

    # -- the timed fetch (TensorFlow) ------------------------------------
    def _install(self):
        model = self.model
        if not self.wrap_train_function or model is None:
            return
        if keras.backend.backend() != "tensorflow":
            return
        function = getattr(model, "train_function", None)
        original = getattr(function, "_deltasparse_original", function)
        if original is None or getattr(model, "steps_per_execution", 1) != 1:
            return
        import tensorflow as tf

        iterator_types = (tf.data.Iterator, tf.distribute.DistributedIterator)
        strategy = model.distribute_strategy
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return  # Keras' one-step function rejects its eager PerReplica.

        def timed_train_function(iterator):
            if not isinstance(iterator, iterator_types):
                return original(iterator)
            start = time.perf_counter()
            try:
                data = next(iterator)
            except tf.errors.OutOfRangeError:
                raise StopIteration from None
            self._fetch_in_batch += time.perf_counter() - start
            self._count(data, strategy)
            # A plain Python iterator makes Keras run its compiled one-step
            # function on `data` (`TensorFlowTrainer._make_function`).
            return original(iter((data,)))

        timed_train_function._deltasparse_original = original
        model.train_function = timed_train_function
        self._installed = True

    def _uninstall(self):
        model = self.model
        function = getattr(model, "train_function", None)
        original = getattr(function, "_deltasparse_original", None)
        if original is not None:
            model.train_function = original

    def _count(self, data, strategy):
        size, local = _batch_size(data)
        if size is None:
            self._samples_known = False
            return
        replicas = strategy.num_replicas_in_sync
        # Multi-worker: this worker sees its share of the global batch.
        self._samples += size * max(1, replicas // max(1, local))

    # -- hooks -------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._installed = False
        self._install()

    def on_train_end(self, logs=None):
        self._uninstall()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()

    def on_train_batch_begin(self, batch, logs=None):
        now = time.perf_counter()
        self._data += now - self._last_end
        self._batch_begin = now
        self._fetch_in_batch = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        inside = now - self._batch_begin
        self._fetch += self._fetch_in_batch
        self._step += inside - self._fetch_in_batch
        self._last_end = now
        if not getattr(self, "_installed", False):
            if self.batch_size is None:
                self._samples_known = False
            else:
                self._samples += self.batch_size

    def on_epoch_end(self, epoch, logs=None):
        data_time = self._data + self._fetch
        total = data_time + self._step
        if self.batch_size is not None and not getattr(
                self, "_installed", False):
            samples_known = True
        else:
            samples_known = self._samples_known
        if samples_known and total > 0:
            rate = self._samples / total
        else:
            rate = math.nan
        self.epoch_figures = {
            "data_time": float(data_time), "step_time": float(self._step),
            "clips_per_second": float(rate),
        }
        if logs is not None:
            logs.update(self.epoch_figures)


class ScalarLogger(keras.callbacks.Callback):
    """Forwards every numeric epoch log value to `log_fn(name, value, step)`.

    Made for Sacred's `_run.log_scalar`; `step` is the epoch number counted
    from 1 (as Keras prints it) plus `step_offset`.

    Args:
        log_fn: callable `(name, value, step)`.
        prefix: str put before each key with a dot (`"pretrain"` ->
            `"pretrain.loss"`). Defaults to `""`.
        step_offset: int added to the 1-based epoch number. Defaults to `0`.

    Example:
    >>> seen = []
    >>> cb = ScalarLogger(lambda *a: seen.append(a), prefix="ae")
    >>> cb.on_epoch_end(0, {"loss": 0.5})
    >>> seen
    [('ae.loss', 0.5, 1)]
    """

    def __init__(self, log_fn, prefix="", step_offset=0):
        if not callable(log_fn):
            raise ValueError(
                f"`log_fn` must be callable. Received: log_fn={log_fn!r}")
        super().__init__()
        self.log_fn = log_fn
        self.prefix = prefix
        self.step_offset = step_offset

    def on_epoch_end(self, epoch, logs=None):
        log_figures(self.log_fn, logs or {}, epoch + 1 + self.step_offset,
                    self.prefix)


def numeric_figures(logs):
    """The entries of `logs` that convert to `float`, as floats."""
    figures = {}
    for key, value in (logs or {}).items():
        try:
            figures[key] = float(value)
        except (TypeError, ValueError):
            continue
    return figures


def log_figures(log_fn, logs, step, prefix=""):
    """Calls `log_fn(name, value, step)` for every numeric entry of `logs`."""
    for key, value in sorted(numeric_figures(logs).items()):
        name = f"{prefix}.{key}" if prefix else key
        log_fn(name, value, step)


def periodic_epochs(epochs, every=5, last=10):
    """The 1-based epochs a periodic evaluation runs at.

    AdaFocusV2 (and TSN, TSM) evaluate every `every` epochs and at each of
    the last `last` epochs: `{e : e % every == 0 or e > epochs - last}`.

    >>> periodic_epochs(20, every=5, last=3)
    [5, 10, 15, 18, 19, 20]
    """
    for name, value in (("epochs", epochs), ("every", every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. "
                             f"Received: {name}={value!r}")
    if isinstance(last, bool) or not isinstance(last, int) or last < 0:
        raise ValueError(f"`last` must be an int >= 0. Received: last={last!r}")
    return [e for e in range(1, epochs + 1)
            if e % every == 0 or e > epochs - last]


class PeriodicEvaluation(keras.callbacks.Callback):
    """Adds figures of an evaluation function to the logs of chosen epochs.

    Keras validates every `validation_freq` epochs on `model.evaluate`'s
    own metrics; protocols that select the best checkpoint by a video
    metric (mAP, video top-1) need a full evaluation instead, and only at
    some epochs. At each epoch of `epochs` (1-based, e.g.
    `periodic_epochs(50)`) this callback runs `evaluate(model)`, a function
    returning a dict of figures, and writes them into the epoch logs as
    `<prefix><name>`, before the `Trainer` reads them (so
    `Trainer(monitor="val_map")` keeps the best evaluated epoch). At the
    other epochs the same keys are NaN, which the `Trainer` never counts as
    an improvement.

    Args:
        evaluate: callable `model -> dict[str, float]`.
        epochs: iterable of 1-based epoch numbers.
        keys: the figure names `evaluate` returns (logged as NaN at the
            epochs without evaluation).
        prefix: str put before every name. Defaults to `"val_"`.

    Example:
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> callback = PeriodicEvaluation(lambda m: {"score": 1.0}, [2], ["score"])
    >>> history = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2,
    ...                     verbose=0, callbacks=[callback])
    >>> [round(v, 1) if v == v else "nan" for v in history.history["val_score"]]
    ['nan', 1.0]
    """

    def __init__(self, evaluate, epochs, keys, prefix="val_"):
        super().__init__()
        if not callable(evaluate):
            raise ValueError("`evaluate` must be a callable model -> dict. "
                             f"Received: evaluate={evaluate!r}")
        self.evaluate = evaluate
        self.epochs = {int(e) for e in epochs}
        self.keys = [str(k) for k in keys]
        self.prefix = str(prefix)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        figures = {}
        if epoch + 1 in self.epochs:
            figures = dict(self.evaluate(self.model))
        for key in dict.fromkeys(self.keys + list(figures)):
            logs[self.prefix + key] = float(figures.get(key, math.nan))
