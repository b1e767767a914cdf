"""Distributed training on `tf.distribute`: one device, mirrored, multi-worker.

`distribution_strategy(distribution)` turns the `distribution` config key
into a `tf.distribute.Strategy`:

- `None` / `"none"`: TensorFlow's default strategy (one device).
- `"mirrored"`: `tf.distribute.MirroredStrategy` over all local GPUs; on a
  machine without GPUs, over all logical CPU devices when more than one is
  configured (`tf.config.set_logical_device_configuration`, used by the
  tests), else over the one CPU.
- `"multi_worker"`: `tf.distribute.MultiWorkerMirroredStrategy` configured
  from the `TF_CONFIG` environment variable (synchronous data parallelism
  across machines, all-reduce over gRPC).

Build AND compile the model inside `with strategy.scope():`, then hand the
strategy to `Trainer(..., strategy=strategy)`.

**Losses added by layers.** Keras 3 on TensorFlow divides every loss by the
number of replicas in sync before summing gradients across replicas: the
compiled loss (a per-replica mean over the local batch) and each entry of
`model.losses` (`Trainer._aggregate_additional_loss` ->
`scale_loss_for_distribution`). The reported `loss` is unscaled again. So a
layer loss is correct under any strategy when it is a per-sample mean
(batch-size independent): Keras' `activity_regularizer` is divided by the
local batch size, and the `DeltaActivation` / `L1ActivityRegularizer`
losses are means. A layer that `add_loss`es a SUM over the batch would be
scaled by `1 / num_replicas` relative to one device. The tests check that a
model with an activity regularizer gives the same per-epoch losses with two
replicas as with one. BatchNormalization statistics are per replica (as in
the original single-GPU runs per device); use `synchronized=True` for
cross-replica statistics.

**Launching on a cluster (multi_worker).** Start the same command on every
machine, each with its own `TF_CONFIG` (same `cluster`, its own `task`):

    # machine 0 (the chief: writes checkpoints, history.json, best/last)
    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                "task": {"type": "worker", "index": 0}}' \
        python experiments/ucf_resnet50_delta.py with distribution=multi_worker
    # machine 1
    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                "task": {"type": "worker", "index": 1}}' \
        python experiments/ucf_resnet50_delta.py with distribution=multi_worker

- Create the strategy first, before any other TensorFlow op (TF requires
  this for collective ops), then build and compile under its scope.
- The dataset's batch size is the GLOBAL batch; Keras splits it across
  workers (auto-sharding) and replicas. All workers must use the same seed
  so their per-epoch data order agrees.
- Worker 0 (or the `chief` task, if the cluster has one) is the chief: only
  it locks and writes the checkpoint folder. The other workers write their
  (identical) checkpoints to a private temporary folder, as TensorFlow's
  multi-worker guide recommends, deleted when the run ends.
- Resuming (`resume=True`) needs the checkpoint folder on a file system
  every worker can read (all workers restore the chief's last checkpoint).

**Keras workaround (Keras 3.12-3.16, TF 2.16+):** `model.fit` under
`MultiWorkerMirroredStrategy` fails inside Keras in two places
(tensorflow/tensorflow#72388): its symbolic build reduces the whole
`(x, y)` batch structure with `strategy.reduce`, which the collective
strategy cannot do for a nested value, and its train/test steps reduce the
scalar logs with `strategy.reduce("MEAN", v, axis=0)` ("Invalid reduction
dimension 0 for input with 0 dimensions"). `prepare_for_strategy(model,
strategy)` (called by `Trainer.fit`) fixes both on the model instance
only: the build uses this worker's first local batch, and the steps return
their logs as shape-`(1,)` tensors, which Keras reduces to the same scalar.
Nothing else changes; without a multi-worker strategy it does nothing.
"""

import json
import logging
import os

logger = logging.getLogger(__name__)

DISTRIBUTIONS = ("none", "mirrored", "multi_worker")


def _tf():
    import tensorflow as tf

    return tf


def distribution_strategy(distribution=None):
    """The `tf.distribute.Strategy` for a `distribution` config value.

    Args:
        distribution: `None`/`"none"` (one device), `"mirrored"` (all local
            GPUs, else all logical CPUs when more than one is configured) or
            `"multi_worker"` (`MultiWorkerMirroredStrategy` from
            `TF_CONFIG`). A `tf.distribute.Strategy` is returned unchanged.
            Defaults to `None`.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: unknown name, or a distributed strategy requested on a
            Keras backend other than TensorFlow.

    Example:
    >>> strategy = distribution_strategy(None)
    >>> strategy.num_replicas_in_sync
    1
    """
    tf = _tf()
    if isinstance(distribution, tf.distribute.Strategy):
        return distribution
    name = "none" if distribution is None else distribution
    if not isinstance(name, str) or name.lower() not in DISTRIBUTIONS:
        raise ValueError(
            "`distribution` must be None, 'none', 'mirrored' or "
            f"'multi_worker'. Received: distribution={distribution!r}")
    name = name.lower()
    if name == "none":
        return tf.distribute.get_strategy()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "`distribution` other than None needs the TensorFlow backend "
            f"(KERAS_BACKEND=tensorflow); this process uses "
            f"{keras.backend.backend()!r}. Received: "
            f"distribution={distribution!r}")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus or None)
    if "TF_CONFIG" not in os.environ:
        logger.warning("distribution='multi_worker' without TF_CONFIG: "
                       "running as a single worker")
    else:
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError:
            raise ValueError(
                "`TF_CONFIG` must be JSON with 'cluster' and 'task' keys. "
                f"Received: TF_CONFIG={os.environ['TF_CONFIG']!r}") from None
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy=None):
    """Whether this process writes the checkpoints (TensorFlow's rule).

    True without a cluster, for the `chief` task, and for worker 0 of a
    cluster that has no `chief` task.

    Args:
        strategy: a `tf.distribute.Strategy` or `None`.

    Returns:
        bool.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None)
    if task_type is None or task_type == "chief":
        return True
    try:
        cluster = resolver.cluster_spec().as_dict()
    except Exception:  # pragma: no cover
        cluster = {}
    if not cluster:
        return True
    return task_type == "worker" and (task_id or 0) == 0 and (
        "chief" not in cluster)


def is_multi_worker(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` of 2+ workers.

    Args:
        strategy: a `tf.distribute.Strategy` or `None`.

    Returns:
        bool.
    """
    if strategy is None:
        return False
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


def prepare_for_strategy(model, strategy):
    """Works around Keras' `fit` bugs under a multi-worker strategy.

    See the module docstring. Idempotent; a no-op unless `strategy` is a
    multi-worker `MultiWorkerMirroredStrategy`.

    Args:
        model: a compiled `keras.Model` built under `strategy.scope()`.
        strategy: a `tf.distribute.Strategy` or `None`.

    Returns:
        The model.
    """
    if not is_multi_worker(strategy) or getattr(
            model, "_deltasparse_multi_worker_ready", False):
        return model
    tf = _tf()
    import keras

    def first_local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(first_local,
                                                      next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def rank_one_logs(step):
        def wrapped(data):
            return {name: tf.reshape(value, [1])
                    for name, value in step(data).items()}
        return wrapped

    model._maybe_symbolic_build = maybe_symbolic_build
    model.train_step = rank_one_logs(model.train_step)
    model.test_step = rank_one_logs(model.test_step)
    model._deltasparse_multi_worker_ready = True
    return model
