"""`SparsityLogger`: the callback that puts sparsity figures in epoch logs."""

import keras

from deltasparse.layers.sparsity.sparsity_statistics import SparsityStatsLayer
from deltasparse.layers.sparsity.sparsity_statistics import show_metric_figures
from deltasparse.models.sparsity_figures import sparsity_figures
from deltasparse.models.sparsity_slots import find_accumulator


def _show_metric_layers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, SparsityStatsLayer)
        and layer.sparsity_totals is not None
    ]


def totals_sources(model):
    """The model's `SparsityAccumulator` (or None) and its layers built with
    `show_metric=True`."""
    return find_accumulator(model), _show_metric_layers(model)


def reset_sparsity_totals(model):
    """Zeroes every sparsity total of `model` (accumulator and
    `show_metric` layers)."""
    accumulator, layers = totals_sources(model)
    if accumulator is not None:
        accumulator.reset()
    for layer in layers:
        layer.sparsity_totals.reset()


def accumulated_figures(model):
    """The sparsity figures of the statistics summed since the last reset.

    Args:
        model: a Keras model with a `SparsityAccumulator` (a video model
            with slots) and/or sparsity layers built with `show_metric`.

    Returns:
        dict name -> float: the `sparsity_figures` of the accumulator
        (`delta_density_<group>` or `act_density_<group>`, `..._all`,
        `op_ratio_counted`, `macs_dense_counted`,
        `macs_effective_counted`) and the `show_metric` figures
        (`n_spikes_<name>`, `n_neurons_<name>`, `n_outputs_<name>`). Empty
        for a model without either.
    """
    accumulator, layers = totals_sources(model)
    figures = {}
    if accumulator is not None:
        totals = accumulator.read()
        slots = accumulator.slots
        values = sparsity_figures(
            totals["l0"],
            totals["n"],
            [s.n_outputs for s in slots],
            totals["frames"],
            [s.group for s in slots],
            kind=accumulator.kind,
        )
        figures.update(
            {k: float(keras.ops.convert_to_numpy(v)) for k, v in values.items()}
        )
    for layer in layers:
        figures.update(show_metric_figures(layer))
    return figures


@keras.saving.register_keras_serializable(package="deltasparse")
class SparsityLogger(keras.callbacks.Callback):
    """Puts a model's sparsity figures into the epoch logs.

    The model's sparsity slots (and any sparsity layer built with
    `show_metric=True`) sum their statistics into non-trainable float32
    variables during every train, test and predict step. This callback
    resets the sums at the start of each epoch and each evaluation and turns
    them into figures (`accumulated_figures`): at the end of an epoch they
    go into the epoch logs (so into `fit` history, `ModelCheckpoint`
    monitors and loggers listed after this callback), and the figures of the
    validation pass of `fit` are added as `val_<figure>`. The training
    figures are taken before the validation pass starts. It works the same
    on TensorFlow, JAX (the JAX trainer writes the stepped variables back
    before `on_test_begin`, `on_test_end` and `on_epoch_end`) and PyTorch,
    and under `tf.distribute` (the sums aggregate over replicas).

    Put it first in the callback list so loggers and checkpoints see the
    figures. `Model.evaluate` builds its return value before callbacks run,
    so a standalone `evaluate` does not return the figures: read
    `logger.test_figures` after it, or use
    `deltasparse.evaluation.evaluate_clips`.

    Attributes:
        train_figures: dict, the figures of the last training epoch.
        test_figures: dict, the figures of the last evaluation.

    Example:
    >>> from deltasparse.models import VideoClassifier
    >>> model = VideoClassifier.from_preset("mobilenet_delta", num_classes=2,
    ...     image_size=(32, 32), alpha=0.25)
    >>> model.compile("sgd", "categorical_crossentropy", run_eagerly=True)
    >>> clips = np.random.rand(2, 2, 32, 32, 3).astype("float32")
    >>> labels = np.eye(2, dtype="float32")
    >>> history = model.fit(clips, labels, validation_data=(clips, labels),
    ...     callbacks=[SparsityLogger()], verbose=0)
    >>> 0.0 < history.history["val_delta_density_all"][0] <= 1.0
    True
    """

    def __init__(self):
        super().__init__()
        self.train_figures = {}
        self.test_figures = {}
        self._in_fit = False
        self._taken = False

    def _reset(self):
        reset_sparsity_totals(self.model)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._taken = False
        self.test_figures = {}

    def on_test_begin(self, logs=None):
        if self._in_fit and not self._taken:
            self.train_figures = accumulated_figures(self.model)
            self._taken = True
        self._reset()

    def on_test_end(self, logs=None):
        self.test_figures = accumulated_figures(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if not self._taken:
            self.train_figures = accumulated_figures(self.model)
        if logs is None:
            return
        logs.update(self.train_figures)
        logs.update({f"val_{k}": v for k, v in self.test_figures.items()})

    def get_config(self):
        return {}
