"""Pre-train -> classify protocol of the group k-sparse temporal autoencoders.

Milacski et al. 2019 (spec §6): a `TemporalAutoencoder` is pre-trained on
unlabelled clips; then, for each labelled-set size, a classifier on the
frozen encoder ("stacked", Adam) and the fine-tuned whole ("end-to-end",
SGD at lr / 10) are trained with early stopping on the validation loss and
the best epoch restored.

- `AutoencoderTrainingConfig`: the training settings (batch size, epochs,
  patience, learning rate, momentum, global-norm clipping, carry-over).
- `AutoencoderProtocol`: compiles the three training views of one model
  (autoencoder, stacked, end-to-end) and runs the stages; writes
  `autoencoder.weights.h5`, `supervised_True.weights.h5` and
  `supervised_False.weights.h5` (layer weights only, no optimizer state).
- `train_test_protocol` (Rotated MNIST, Scanned CIFAR-10; §6.2, §6.3),
  `coil100_protocol` (§6.4), `necanimal_protocol` (§6.5): whole runs with
  explicit arguments, returning a `ProtocolResult`; Sacred is not needed
  (the experiment glue in `deltasparse.experiment.autoencoder_experiments`
  records the result in a run).

Every fit goes through `fit_phase`, which runs the resumable
`deltasparse.training.Trainer`: one checkpoint folder per phase
(`<checkpoint_dir>/pretrain`, `<checkpoint_dir>/nl300.stacked`, ...), so a
killed run started again with the same `checkpoint_dir` and `resume=True`
skips the finished phases (their best weights are reloaded) and continues
the unfinished one after its last finished epoch; every epoch logs
`data_time`, `step_time` and `clips_per_second` too. Batches come from
`ArrayBatches`, a per-epoch permutation derived from (seed, phase, epoch).

Differences from the original code, all deliberate:

- Keras 3 does not freeze the trainable set at compile time, so the encoder's
  `trainable` flag is set before every fit and evaluation (spec 9.3); each of
  the three views is compiled once, with its own optimizer, under the flag it
  is always used with.
- Weight files use the Keras 3 format (layer weights of the whole view, no
  optimizer state, also for vgg19 instead of the `supervised_True._encoder.hdf5`
  / `._classifier.hdf5` pairs).
- With `l2 > 0`, Keras 3 counts weight regularisers of trainable variables
  only, so the stacked loss omits the frozen encoder's (constant) L2 term that
  Keras 2.2.4 added; gradients are unchanged, and every paper config has
  `l2 = 0`.
- Multi-GPU (`multi_gpu_model`) is not supported: it would split the
  lifetime competition over per-device sub-batches.
- TensorFlow randomness is seeded by the caller; files go to `output_dir`.
- The Trainer re-seeds the global random state at every epoch from
  (seed, phase, epoch) and logs epoch figures with the 1-based epoch number
  as step (the original had no logging). After a resume, early stopping's
  patience counter restarts (the best value of the restored weights is carried over).
"""

import csv
import dataclasses
import logging
import numbers
import os
import shutil
import time
import zlib

import keras
import numpy as np

from deltasparse.models.temporal_autoencoder.encoders import set_encoder_trainable
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.reporting import autoencoder_plots
from deltasparse.training.trainer import Trainer
from deltasparse.training.trainer import epoch_seed

logger = logging.getLogger(__name__)

STAGES = ("stacked", "endtoend")
"""Classification stages, in the order they run for each labelled-set size."""

RESULT_COLUMNS = (
    "num_labeled", "stage", "epochs", "train_loss", "train_accuracy",
    "val_loss", "val_accuracy", "test_loss", "test_accuracy",
)
"""Columns of the result table (`ProtocolResult.rows`, `result_table.csv`)."""

DEFAULT_PLOT = {"n_videos": 8, "figsize": (30, 90), "dpi": 160}
"""Reconstruction plots of the original: 8 videos, figure 30x90 in, 160 dpi."""

AUTOENCODER_WEIGHTS = "autoencoder.weights.h5"


def classifier_weights_name(stacked):
    """`supervised_True.weights.h5` (stacked) / `supervised_False...`."""
    return f"supervised_{bool(stacked)}.weights.h5"


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class AutoencoderTrainingConfig:
    """Training settings of the pre-train -> classify protocol.

    Args:
        batch_size: videos per batch (also the lifetime competition).
            Defaults to `30`.
        epochs: pre-training epochs; classifier epochs at most. Defaults to
            `50`.
        patience: early-stopping patience of the classifiers (`val_loss`).
            Defaults to `5`.
        lr: Adam learning rate; end-to-end SGD uses `lr / 10`. Defaults to
            `1e-4`.
        momentum: end-to-end SGD momentum. Defaults to `0.9`.
        clipnorm: global gradient-norm clipping of every optimizer; `0` =
            off. Defaults to `0.0` (the paper: 1.0 for wtacrnn, groupwtacrnn,
            randominitcrnn, see `preset_clipnorm`).
        carry_over: bool, the paper's MNIST / CIFAR state carry-over (the head
            and both optimizers carry over stages and sizes). Defaults to
            `True`.
        jit_compile: passed to `compile`. Defaults to `"auto"`.
        run_eagerly: passed to `compile`. Defaults to `False`.
        verbose: Keras `fit` verbosity. Defaults to `1`.

    Example:
    >>> AutoencoderTrainingConfig(epochs=2).batch_size
    30
    """

    batch_size: int = 30
    epochs: int = 50
    patience: int = 5
    lr: float = 1e-4
    momentum: float = 0.9
    clipnorm: float = 0.0
    carry_over: bool = True
    jit_compile: object = "auto"
    run_eagerly: bool = False
    verbose: int = 1

    def __post_init__(self):
        checks = (
            ("batch_size", _is_int(self.batch_size) and self.batch_size >= 1,
             "a positive int"),
            ("epochs", _is_int(self.epochs) and self.epochs >= 0, "an int >= 0"),
            ("patience", _is_int(self.patience) and self.patience >= 0,
             "an int >= 0"),
            ("lr", self.lr > 0, "> 0"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("clipnorm", self.clipnorm >= 0, ">= 0"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"`{name}` must be {expected}. "
                                 f"Received: {name}={getattr(self, name)!r}")


class ArrayBatches(keras.utils.PyDataset):
    """Batches of in-memory arrays, in a fresh permutation per epoch.

    Keras 2's `fit(shuffle=True)`: samples permuted, consecutive batches of
    `batch_size`, the last partial batch kept. The permutation comes from
    `seed`, so an epoch's batches are a function of (seed, epoch) and a
    resumed run sees the batches of an uninterrupted one.

    Args:
        x: array `(N, ...)`.
        y: array `(N, ...)`.
        batch_size: int.
        seed: int, or `None` for the original order (no shuffle).
    """

    def __init__(self, x, y, batch_size, seed=None):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        n = len(x)
        self.order = (np.arange(n) if seed is None
                      else np.random.RandomState(seed).permutation(n))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]


def phase_seed(seed, phase):
    """A seed for one phase of a run: a function of `(seed, phase)`."""
    return (int(seed) * 1_000_003 + zlib.crc32(phase.encode())) % (2**31)


def fit_phase(model, target, x, y, settings, *, phase, checkpoint_dir,
              validation_data=None, callbacks=(), log_scalar=None,
              resume=False, seed=0):
    """Runs one training phase through the resumable `Trainer`.

    The single place every fit of the protocol goes through. Batches of
    `settings.batch_size` in a per-epoch permutation (`ArrayBatches`), at
    most `settings.epochs` epochs, `TerminateOnNaN`; with validation data
    `EarlyStopping(patience, min_delta=0)` on `val_loss` and the layer
    weights of the best `val_loss` epoch kept, else those of the last epoch.

    Args:
        model: the compiled view to fit.
        target: the uncompiled view whose layer weights are kept (written to
            `<checkpoint_dir>/<phase>/layers.weights.h5`).
        x: inputs.
        y: targets.
        settings: `AutoencoderTrainingConfig`.
        phase: str, name of the phase (sub-folder and metric prefix).
        checkpoint_dir: folder holding one sub-folder per phase.
        validation_data: `(x_val, y_val)` or `None`.
        callbacks: extra Keras callbacks.
        log_scalar: callable `(name, value, step)` for every epoch figure
            (named `<phase>.<figure>`), or `None`.
        resume: bool, continue the phase from its checkpoint folder.
        seed: int, run seed (the phase's seed derives from it).

    Returns:
        `(result, weights_path)`: the `TrainingResult` and the kept layer
        weights file (`None` when no epoch wrote one).
    """
    folder = os.path.join(os.fspath(checkpoint_dir), phase)
    has_val = validation_data is not None
    monitor = "val_loss" if has_val else "loss"
    run_seed = phase_seed(seed, phase)
    prefixed = None if log_scalar is None else (
        lambda name, value, step: log_scalar(f"{phase}.{name}", value, step))
    trainer = Trainer(folder, resume=resume, seed=run_seed, monitor=monitor,
                      mode="min", keep=1, log_scalar=prefixed,
                      verbose=settings.verbose)
    previous = [v for v in trainer.history.get(monitor, []) if v is not None]
    path = os.path.join(folder, "layers.weights.h5")
    fit_callbacks = [
        WeightsCheckpoint(target, path, monitor=monitor,
                          save_best_only=has_val,
                          initial_best=min(previous) if previous else None),
        keras.callbacks.TerminateOnNaN(),
    ]
    if has_val:
        fit_callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=settings.patience, min_delta=0,
            mode="min"))
    val = None if not has_val else ArrayBatches(
        validation_data[0], validation_data[1], settings.batch_size)
    result = trainer.fit(
        model,
        lambda epoch: ArrayBatches(x, y, settings.batch_size,
                                   epoch_seed(run_seed, epoch)),
        settings.epochs, validation_data=val,
        callbacks=fit_callbacks + list(callbacks))
    return result, (path if os.path.isfile(path) else None)


class WeightsCheckpoint(keras.callbacks.Callback):
    """Saves a model's layer weights at epoch ends, without optimizer state.

    The Keras 2.2.4 `ModelCheckpoint(save_weights_only=True)` of the original:
    every epoch, or (`save_best_only`) only when `logs[monitor]` is strictly
    below the best value so far (a missing or NaN value never saves). Keras
    3's `ModelCheckpoint` would also store the optimizer variables of the
    compiled model, and reloading the best epoch would roll the optimizer back
    to that epoch; here `target` is an uncompiled view sharing the trained
    layers, so the files hold layer weights only.

    Args:
        target: `keras.Model` whose weights are saved (usually uncompiled).
        filepath: str ending in `.weights.h5`.
        monitor: str, log key to minimise. Defaults to `"val_loss"`.
        save_best_only: bool. Defaults to `False`.
        initial_best: float or `None`, best value so far (a resumed
            phase). Defaults to `None` (+inf).

    Example:
    >>> cb = WeightsCheckpoint(model, "/tmp/best.weights.h5",
    ...                        save_best_only=True)  # doctest: +SKIP
    """

    def __init__(self, target, filepath, monitor="val_loss",
                 save_best_only=False, initial_best=None):
        if not os.fspath(filepath).endswith(".weights.h5"):
            raise ValueError(
                "`filepath` must end in `.weights.h5`. "
                f"Received: filepath={filepath!r}")
        super().__init__()
        self.target = target
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.initial_best = np.inf if initial_best is None else initial_best
        self.best = self.initial_best

    def on_train_begin(self, logs=None):
        self.best = self.initial_best

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            current = (logs or {}).get(self.monitor)
            if current is None:
                logger.warning("Can save the best weights only with %s "
                               "available; skipping.", self.monitor)
                return
            if not np.less(current, self.best):
                return
            self.best = float(current)
        self.target.save_weights(self.filepath, overwrite=True)


class AutoencoderProtocol:
    """Pre-training and classification stages of one `TemporalAutoencoder`.

    Compiles three views over the model's layers:

    - `autoencoder` = decoder(sparsity(encoder(x))), Adam(lr), the
      algorithm's `reconstruction_loss()`;
    - `stacked_classifier` = head(encoder(x)) with the encoder frozen,
      Adam(lr);
    - `endtoend_classifier` = the same function with the encoder trainable,
      SGD(lr / 10, momentum);

    plus the uncompiled twins `autoencoder_base` / `classifier_base` that
    read and write the weight files. All optimizers clip by the global
    gradient norm when `clipnorm > 0`. The classifiers use Keras 2.2.4
    categorical cross-entropy and an accuracy metric, no class weights (the
    original's were silently ignored, spec 9.2).

    State carry-over (`settings.carry_over`, default True as in the paper's
    MNIST/CIFAR runs): the head is shared between the stacked and end-to-end
    views, so end-to-end fine-tuning starts from the best stacked head, the
    next labelled size's stacked training starts from the previous end-to-end
    head, and both optimizers keep their state across calls. With
    `carry_over=False` every `train_classifier` call starts with fresh
    optimizers, a stacked stage also with a freshly initialised head, while
    an end-to-end stage still starts from the best stacked head (spec 9.4;
    the encoder is left as it is: call `load_pretrained()` to reset it).

    Args:
        model: a `TemporalAutoencoder`.
        settings: `AutoencoderTrainingConfig`. Defaults to the paper's.
        output_dir: folder of the weight files (created).
        callbacks: callbacks added to every fit. Defaults to none.
        checkpoint_dir: folder of the per-phase Trainer checkpoints.
            Defaults to `<output_dir>/checkpoints`.
        resume: bool, continue phases found in `checkpoint_dir`. Defaults
            to `False`.
        seed: int, run seed of the per-phase random state; `None` draws one
            from NumPy's global RNG (seed it first). Defaults to `None`.
        log_scalar: callable `(name, value, step)` receiving every epoch
            figure as `<phase>.<figure>`. Defaults to `None`.

    Example:
    >>> protocol = AutoencoderProtocol(model, AutoencoderTrainingConfig(),
    ...                                "/tmp/run")            # doctest: +SKIP
    >>> protocol.pretrain(x_unlabelled)                      # doctest: +SKIP
    >>> protocol.train_classifier(x, y, x_val, y_val)        # doctest: +SKIP
    >>> protocol.evaluate_classifier(x_test, y_test)         # doctest: +SKIP
    [0.71, 0.84]
    """

    def __init__(self, model, settings=None, output_dir=".", callbacks=(), *,
                 checkpoint_dir=None, resume=False, seed=None,
                 log_scalar=None):
        if not isinstance(model, TemporalAutoencoder):
            raise ValueError("`model` must be a TemporalAutoencoder. "
                             f"Received: model={type(model).__name__}")
        self.model = model
        self.settings = settings or AutoencoderTrainingConfig()
        self.output_dir = os.fspath(output_dir)
        os.makedirs(self.output_dir, exist_ok=True)
        self.callbacks = list(callbacks)
        self.checkpoint_dir = os.fspath(
            checkpoint_dir or os.path.join(self.output_dir, "checkpoints"))
        self.resume = bool(resume)
        self.seed = (int(np.random.randint(2**31)) if seed is None
                     else int(seed))
        self.log_scalar = log_scalar
        self.autoencoder_base = model.autoencoder_view("autoencoder_base")
        self.autoencoder = model.autoencoder_view("autoencoder")
        self.classifier_base = model.classifier_view("classifier_base")
        self.stacked_classifier = model.classifier_view("stacked_classifier")
        self.endtoend_classifier = model.classifier_view("endtoend_classifier")
        if model.has_decoder:
            self._set_trainable(True)
            self.autoencoder.compile(
                optimizer=self._adam(), loss=model.reconstruction_loss(),
                jit_compile=self.settings.jit_compile,
                run_eagerly=self.settings.run_eagerly)
        self._compile_classifiers()

    # ------------------------------------------------------------------
    # Set-up
    # ------------------------------------------------------------------

    @property
    def autoencoder_path(self):
        """Path of the pre-trained autoencoder weights."""
        return os.path.join(self.output_dir, AUTOENCODER_WEIGHTS)

    def classifier_path(self, stacked):
        """Path of the best stacked (`True`) or end-to-end classifier weights."""
        return os.path.join(self.output_dir, classifier_weights_name(stacked))

    def _adam(self):
        return keras.optimizers.Adam(
            learning_rate=self.settings.lr, beta_1=0.9, beta_2=0.999,
            epsilon=1e-7, amsgrad=False,
            global_clipnorm=self.settings.clipnorm or None)

    def _sgd(self):
        return keras.optimizers.SGD(
            learning_rate=self.settings.lr / 10.0,
            momentum=self.settings.momentum, nesterov=False,
            global_clipnorm=self.settings.clipnorm or None)

    def _compile_classifiers(self):
        for stacked, optimizer in ((False, self._sgd()), (True, self._adam())):
            self._set_trainable(not stacked)
            self._classifier_view(stacked).compile(
                optimizer=optimizer, loss=self.model.classification_loss(),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                jit_compile=self.settings.jit_compile,
                run_eagerly=self.settings.run_eagerly)

    def reset_classifier(self):
        """Gives the head fresh initial weights and both classifiers fresh
        optimizers (the encoder is kept).

        Returns:
            `self`.
        """
        for layer in self.model.head.layers:
            for attr in ("kernel", "bias"):
                variable = getattr(layer, attr, None)
                init = getattr(layer, f"{attr}_initializer", None)
                if variable is not None and init is not None:
                    variable.assign(init(variable.shape, variable.dtype))
        self._compile_classifiers()
        return self

    def _set_trainable(self, trainable):
        set_encoder_trainable(self.model.encoder, trainable)

    def _classifier_view(self, stacked):
        return self.stacked_classifier if stacked else self.endtoend_classifier

    def _fit(self, view, target, x, y, path, phase, validation_data,
             callbacks):
        """`fit_phase`, then the kept weights into `target` and `path`."""
        result, kept = fit_phase(
            view, target, x, y, self.settings, phase=phase,
            checkpoint_dir=self.checkpoint_dir,
            validation_data=validation_data,
            callbacks=self.callbacks + list(callbacks or []),
            log_scalar=self.log_scalar, resume=self.resume, seed=self.seed)
        if kept is not None:
            target.load_weights(kept)
            shutil.copyfile(kept, path)
        else:
            logger.warning("No weights were kept in phase %s (no finite "
                           "monitored value); keeping the last weights.",
                           phase)
            target.save_weights(path)
        return result

    # ------------------------------------------------------------------
    # Unsupervised pre-training
    # ------------------------------------------------------------------

    def pretrain(self, x, x_val=None, callbacks=None, phase="pretrain"):
        """Pre-trains the autoencoder (or saves the initial weights).

        Fits the autoencoder view on `(x, x)`, with `TerminateOnNaN` and a
        checkpoint to `autoencoder.weights.h5`. Without `x_val` the
        checkpoint is written every epoch and the last epoch is kept; with
        `x_val` only the best validation loss is kept and
        `EarlyStopping(patience)` is added. The checkpoint is reloaded at the
        end. Algorithms without pre-training (randominit*, vgg19) only save
        their initial weights and return `None`.

        Args:
            x: array `(N, clip_length, H, W, C)`.
            x_val: optional validation array. Defaults to `None`.
            callbacks: extra callbacks for this fit. Defaults to `None`.
            phase: str, checkpoint sub-folder and metric prefix. Defaults
                to `"pretrain"`.

        Returns:
            The `TrainingResult`, or `None` without pre-training.
        """
        path = self.autoencoder_path
        if os.path.exists(path):
            os.remove(path)
        if not self.model.spec.pretrains:
            self.autoencoder_base.save_weights(path)
            logger.info("Algorithm %s has no pre-training; saved the initial "
                        "weights to %s", self.model.algorithm, path)
            return None
        self.model.check_clips(x, "x")
        self._set_trainable(True)
        return self._fit(
            self.autoencoder, self.autoencoder_base, x, x, path, phase,
            None if x_val is None else (x_val, x_val), callbacks)

    def load_pretrained(self, path=None):
        """Loads pre-trained autoencoder weights (encoder and decoder).

        The protocol calls this before each stacked training, which resets
        the encoder to its pre-trained state.

        Args:
            path: weights file. Defaults to `autoencoder_path`.

        Returns:
            `self`.

        Raises:
            FileNotFoundError: if the file does not exist.
        """
        path = self.autoencoder_path if path is None else os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "No autoencoder weights file; run `pretrain()` first or pass "
                f"the path of one. Received: path={path!r}")
        self.autoencoder_base.load_weights(path)
        return self

    def evaluate_autoencoder(self, x):
        """Autoencoder loss on `x` (including regularisation losses).

        Returns:
            float, or `None` for vgg19 (no decoder), as the original.
        """
        if not self.model.has_decoder:
            return None
        self.model.check_clips(x, "x")
        self._set_trainable(True)
        return float(self.autoencoder.evaluate(
            x, x, batch_size=self.settings.batch_size, verbose=0))

    def predict(self, x):
        """Autoencoder outputs (reconstructions or next-frame predictions)."""
        return self.autoencoder.predict(
            x, batch_size=self.settings.batch_size, verbose=0)

    def encode(self, x, sparse=True):
        """Encoder features `(N, T, H, W, F)`, after the sparsity or before."""
        view = (self.model.sparse_encoder_view() if sparse
                else self.model.encoder)
        return view.predict(x, batch_size=self.settings.batch_size, verbose=0)

    # ------------------------------------------------------------------
    # Supervised training
    # ------------------------------------------------------------------

    def train_classifier(self, x, y, x_val=None, y_val=None, stacked=True,
                         callbacks=None, phase=None):
        """Trains the stacked (frozen encoder) or end-to-end classifier.

        Stacked: Adam(lr) on the head only. End-to-end: SGD(lr / 10,
        momentum) on encoder and head. With validation data:
        `EarlyStopping(patience, min_delta=0)` on `val_loss` and a
        best-`val_loss` checkpoint to `supervised_<stacked>.weights.h5`,
        restored at the end (without validation data every epoch is
        checkpointed and the last is kept). Unless `carry_over`, the
        optimizers are re-initialised first, and so is the head of a stacked
        stage.

        Args:
            x: array `(N, clip_length, H, W, C)`.
            y: one-hot labels `(N, num_classes)`.
            x_val: validation videos. Defaults to `None`.
            y_val: validation labels. Defaults to `None`.
            stacked: bool, freeze the encoder. Defaults to `True`.
            callbacks: extra callbacks for this fit. Defaults to `None`.
            phase: str, checkpoint sub-folder and metric prefix. Defaults
                to `"stacked"` / `"endtoend"`.

        Returns:
            The `TrainingResult`.
        """
        if (x_val is None) != (y_val is None):
            raise ValueError(
                "Pass both `x_val` and `y_val` or neither. Received: "
                f"x_val is None={x_val is None}, y_val is None={y_val is None}")
        self.model.check_clips(x, "x")
        if not self.settings.carry_over:
            # Fresh optimizers for every stage; a fresh head for the stacked
            # stage only: end-to-end always starts from the best stacked
            # head (spec 6.4 / 9.4).
            head = None if stacked else self.model.head.get_weights()
            self.reset_classifier()
            if head is not None:
                self.model.head.set_weights(head)
        path = self.classifier_path(stacked)
        if os.path.exists(path):
            os.remove(path)
        self._set_trainable(not stacked)
        if phase is None:
            phase = "stacked" if stacked else "endtoend"
        return self._fit(
            self._classifier_view(stacked), self.classifier_base, x, y, path,
            phase, None if x_val is None else (x_val, y_val), callbacks)

    def load_classifier(self, path=None, stacked=True):
        """Loads classifier weights (encoder and head) from a file.

        The stacked and end-to-end views have the same layers, so a file of
        either loads into either (the COIL protocol starts end-to-end
        training from `supervised_True`).

        Raises:
            FileNotFoundError: if the file does not exist.
        """
        path = self.classifier_path(stacked) if path is None else os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "No classifier weights file; run `train_classifier()` first "
                f"or pass the path of one. Received: path={path!r}")
        self.classifier_base.load_weights(path)
        return self

    def evaluate_classifier(self, x, y, stacked=True):
        """`[loss, accuracy]` of a classifier on labelled videos.

        The stacked and end-to-end views compute the same function (shared
        layers); `stacked` only selects which compiled view evaluates.
        """
        self.model.check_clips(x, "x")
        self._set_trainable(not stacked)
        logs = self._classifier_view(stacked).evaluate(
            x, y, batch_size=self.settings.batch_size, verbose=0,
            return_dict=True)
        return [float(logs["loss"]), float(logs["accuracy"])]

    def predict_classifier(self, x):
        """Class probabilities `(N, num_classes)`."""
        return self.stacked_classifier.predict(
            x, batch_size=self.settings.batch_size, verbose=0)

    def with_clip_length(self, clip_length):
        """A protocol on a copy of the model at another clip length.

        The copy has these weights, fresh optimizers, the same settings,
        output folder and callbacks.
        """
        return AutoencoderProtocol(
            self.model.with_clip_length(clip_length), self.settings,
            self.output_dir, self.callbacks,
            checkpoint_dir=self.checkpoint_dir, resume=self.resume,
            seed=self.seed, log_scalar=self.log_scalar)


# --------------------------------------------------------------------------
# Whole runs
# --------------------------------------------------------------------------


@dataclasses.dataclass
class ProtocolResult:
    """What a protocol run produced.

    Attributes:
        result: the original's nested list: `[AE losses]` followed by one
            `[[loss, acc] train-labelled, [loss, acc] val-labelled,
            [loss, acc] test]` entry per labelled-set size and stage.
        rows: result-table rows (dicts with `RESULT_COLUMNS`).
        info: `num_labeled`, `autoencoder_loss`, `timings` (seconds).
        artifacts: paths of the files written (PNGs, weights, CSV).
    """

    result: list = dataclasses.field(default_factory=list)
    rows: list = dataclasses.field(default_factory=list)
    info: dict = dataclasses.field(default_factory=dict)
    artifacts: list = dataclasses.field(default_factory=list)


def write_result_table(rows, path):
    """Writes result-table rows (dicts) to a CSV file with `RESULT_COLUMNS`.

    Returns:
        `path`.
    """
    columns = list(RESULT_COLUMNS) + sorted(
        {k for row in rows for k in row} - set(RESULT_COLUMNS))
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c) for c in columns})
    os.replace(tmp, path)
    return path


class _Recorder:
    """Collects the results, timings, metrics and files of one run."""

    def __init__(self, output_dir, settings, log_scalar, plot, num_labeled,
                 checkpoint):
        self.dir = os.fspath(output_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.settings = settings
        self.log_scalar = log_scalar
        self.checkpoint = dict(checkpoint)
        self.plot = dict(DEFAULT_PLOT, **(plot or {}))
        self.plot["figsize"] = tuple(self.plot["figsize"])
        self.out = ProtocolResult(info={"num_labeled": list(num_labeled),
                                        "timings": {}})

    def path(self, name):
        return os.path.join(self.dir, name)

    def timed(self, key, start):
        self.out.info["timings"][key] = round(time.time() - start, 3)

    def scalar(self, name, value, step=0):
        if value is not None and self.log_scalar is not None:
            self.log_scalar(name, float(value), step)

    def add_file(self, path):
        if path and os.path.isfile(path) and path not in self.out.artifacts:
            self.out.artifacts.append(path)

    def model(self, template, clip_length=None):
        """A fresh model like `template` (new weights), optionally at T."""
        config = template.get_config()
        if clip_length is not None:
            config["clip_length"] = clip_length
        return type(template).from_config(config)

    def protocol(self, model, **overrides):
        settings = dataclasses.replace(self.settings, **overrides)
        return AutoencoderProtocol(model, settings, self.dir,
                                   log_scalar=self.log_scalar,
                                   **self.checkpoint)

    def pretrain(self, protocol, x):
        start = time.time()
        protocol.pretrain(x)
        self.timed("pretrain", start)
        if protocol.model.spec.pretrains:
            self.add_file(autoencoder_plots.plot_decoder_weights(
                protocol.model, self.path("decoder_weights.png"),
                figsize=self.plot["figsize"], dpi=self.plot["dpi"]))
        self.add_file(protocol.autoencoder_path)

    def plot_videos(self, protocol, x, name, title):
        n = self.plot["n_videos"]
        self.add_file(autoencoder_plots.plot_predictions(
            protocol.model, x if n is None else x[:n], self.path(name), title,
            batch_size=self.settings.batch_size,
            figsize=self.plot["figsize"], dpi=self.plot["dpi"]))

    def autoencoder_losses(self, named):
        """Logs `pretrain.eval.<name>` for each loss; returns the values."""
        for name, value in named.items():
            self.scalar(f"pretrain.eval.{name}", value)
        return list(named.values())

    def stage(self, protocol, num_labeled, stage, splits, test_protocol=None):
        """Trains one classification stage, evaluates and records it."""
        stacked = stage == "stacked"
        (xl, yl), (xv, yv), (xt, yt) = splits
        start = time.time()
        result = protocol.train_classifier(
            xl, yl, xv, yv, stacked=stacked, phase=f"nl{num_labeled}.{stage}")
        scores = [protocol.evaluate_classifier(xl, yl, stacked),
                  protocol.evaluate_classifier(xv, yv, stacked),
                  (test_protocol or protocol).evaluate_classifier(
                      xt, yt, stacked)]
        self.timed(f"nl{num_labeled}.{stage}", start)
        self.add_row(num_labeled, stage, len(result.epochs), scores)
        self.out.result.append(scores)

    def add_row(self, num_labeled, stage, epochs, scores):
        (tl, ta), (vl, va), (sl, sa) = scores
        row = {"num_labeled": int(num_labeled), "stage": stage,
               "epochs": int(epochs), "train_loss": tl,
               "train_accuracy": ta, "val_loss": vl, "val_accuracy": va,
               "test_loss": sl, "test_accuracy": sa}
        self.out.rows.append(row)
        for split, loss, acc in (("train", tl, ta), ("val", vl, va),
                                 ("test", sl, sa)):
            self.scalar(f"result.{stage}.{split}_loss", loss, num_labeled)
            self.scalar(f"result.{stage}.{split}_accuracy", acc, num_labeled)
        logger.info("num_labeled=%s %s: train %.4f/%.4f val %.4f/%.4f "
                    "test %.4f/%.4f (loss/acc)", num_labeled, stage, tl, ta,
                    vl, va, sl, sa)

    def finish(self, protocol):
        csv_path = write_result_table(self.out.rows,
                                      self.path("result_table.csv"))
        for name in (AUTOENCODER_WEIGHTS, classifier_weights_name(True),
                     classifier_weights_name(False)):
            self.add_file(os.path.join(protocol.output_dir, name))
        self.add_file(csv_path)
        return self.out


def _checkpointing(output_dir, checkpoint_dir, resume, seed):
    if seed is None:
        seed = int(np.random.randint(2**31))
    return {"checkpoint_dir": checkpoint_dir or os.path.join(
        os.fspath(output_dir), "checkpoints"), "resume": resume, "seed": seed}


def _pretrained(model, x, png, title, output_dir, settings, num_labeled,
                log_scalar, plot, checkpoint_dir, resume, seed, **overrides):
    """Recorder and protocol of a run, pre-trained on `x`, reconstructions
    drawn to `png`."""
    rec = _Recorder(output_dir, settings, log_scalar, plot, num_labeled,
                    _checkpointing(output_dir, checkpoint_dir, resume, seed))
    protocol = rec.protocol(model, **overrides)
    rec.pretrain(protocol, x)
    rec.plot_videos(protocol, x, png, title)
    return rec, protocol


def train_test_protocol(data, model, settings, output_dir, *, num_labeled,
                        log_scalar=None, plot=None, checkpoint_dir=None,
                        resume=False, seed=None):
    """Rotated MNIST / Scanned CIFAR-10 protocol (spec §6.2, §6.3).

    1. Pre-train `model` once on all training videos (`epochs` epochs, last
       epoch kept); draw the decoder filters and the reconstructions of the
       first `plot["n_videos"]` training and test videos
       (`videos_train.png`, `videos_test.png`).
    2. result[0] = [AE loss on the training set, on the test set].
    3. For each labelled-set size: draw the labelled subsets, reload the
       pre-trained encoder, train the stacked classifier, evaluate
       [loss, acc] on the labelled training, validation and full test sets;
       then train end-to-end from there and evaluate again.

    Args:
        data: a `MNISTRotatedDataset` / `CIFAR10ScannedDataset` (`X_train`,
            `X_test`, `Y_test`, `generate_labeled_data(n)`).
        model: a `TemporalAutoencoder` built for the data's clips.
        settings: `AutoencoderTrainingConfig`.
        output_dir: folder for weights, PNGs and `result_table.csv`.
        num_labeled: labelled-set sizes (total videos), already checked
            against the data.
        log_scalar: callable `(name, value, step)` for every metric, or
            `None`. Defaults to `None`.
        plot: dict `n_videos`, `figsize`, `dpi`. Defaults to `DEFAULT_PLOT`.
        checkpoint_dir: folder of the per-phase Trainer checkpoints.
            Defaults to `<output_dir>/checkpoints`.
        resume: bool, skip finished phases and continue the unfinished one
            from `checkpoint_dir`. Defaults to `False`.
        seed: int, run seed of the per-phase random state; `None` draws one
            from NumPy's global RNG. Defaults to `None`.

    Returns:
        A `ProtocolResult`.
    """
    rec, protocol = _pretrained(
        model, data.X_train, "videos_train.png", "train", output_dir,
        settings, num_labeled, log_scalar, plot, checkpoint_dir, resume, seed)
    rec.plot_videos(protocol, data.X_test, "videos_test.png", "test")
    start = time.time()
    losses = {"train": protocol.evaluate_autoencoder(data.X_train),
              "test": protocol.evaluate_autoencoder(data.X_test)}
    rec.timed("pretrain.eval", start)
    rec.out.result.append(rec.autoencoder_losses(
        {f"{k}_loss": v for k, v in losses.items()}))
    rec.out.info["autoencoder_loss"] = losses
    for n in num_labeled:
        splits = data.generate_labeled_data(n)
        protocol.load_pretrained()
        for stage in STAGES:
            rec.stage(protocol, n, stage, splits)
    return rec.finish(protocol)


def _classification_rounds(data, model, rec, num_labeled):
    """COIL-100 classification rounds (spec §6.4 step 2)."""
    protocol = None
    for n in num_labeled:
        splits = data.generate_labeled_data(n)
        test_length = splits[2][0].shape[1]
        for stage in STAGES:
            protocol = rec.protocol(rec.model(model, clip_length=n),
                                    carry_over=True)
            if stage == "stacked":
                protocol.load_pretrained()
            else:
                protocol.load_classifier(stacked=True)
            rec.stage(protocol, n, stage, splits,
                      test_protocol=protocol.with_clip_length(test_length))
    return protocol


def coil100_protocol(data, model, settings, output_dir, *, num_labeled,
                     log_scalar=None, plot=None, checkpoint_dir=None,
                     resume=False, seed=None):
    """COIL-100 protocol (spec §6.4).

    1. Pre-train at T = 72 on all videos; decoder filters and
       `videos_train.png` (the first `plot["n_videos"]` videos; `None`: all,
       as the original); result[0] = [AE loss on all videos].
    2. For each number of labelled frames per object `n`: split every video
       by frame index; build a fresh model at T = n and load the pre-trained
       autoencoder; train the stacked classifier; evaluate train / val at
       T = n and test at the test length (a copy at that clip length). Then
       build again at T = n, load the best stacked weights
       (`supervised_True.weights.h5`) and train end-to-end with a fresh SGD.
       No state carries over between sizes (`carry_over` has no effect).

    Args:
        data: a `COIL100Dataset` (`X`, `generate_labeled_data(n)`).
        model: a `TemporalAutoencoder` built at the videos' length.
        settings, output_dir, num_labeled, log_scalar, plot,
        checkpoint_dir, resume, seed: as in `train_test_protocol`.

    Returns:
        A `ProtocolResult`.
    """
    rec, protocol = _pretrained(
        model, data.X, "videos_train.png", "COIL-100", output_dir, settings,
        num_labeled, log_scalar, plot, checkpoint_dir, resume, seed,
        carry_over=True)
    loss = protocol.evaluate_autoencoder(data.X)
    rec.scalar("pretrain.eval.loss", loss)
    rec.out.info["autoencoder_loss"] = {"coil100": loss}
    rec.out.result.append([loss])
    last = _classification_rounds(data, model, rec, num_labeled)
    return rec.finish(last or protocol)


def necanimal_protocol(nec, coil, model, settings, output_dir, *, num_labeled,
                       log_scalar=None, plot=None, checkpoint_dir=None,
                       resume=False, seed=None):
    """NEC Animal -> COIL-100 transfer protocol (spec §6.5).

    1. Pre-train at the NEC clip length (79) on the NEC Animal videos;
       decoder filters and `videos_necanimal.png`.
    2. result[0] = [AE loss on NEC Animal, AE loss on COIL-100], the latter
       with a copy at T = 72 (`videos_coil100.png` too).
    3. The COIL-100 classification rounds of `coil100_protocol`, starting
       from the NEC-pre-trained autoencoder.

    Args:
        nec: a `NECAnimalDataset`.
        coil: a `COIL100Dataset` (its own ZCA).
        model: a `TemporalAutoencoder` built at the NEC clip length.
        settings, output_dir, num_labeled, log_scalar, plot,
        checkpoint_dir, resume, seed: as in `train_test_protocol`.

    Returns:
        A `ProtocolResult`.
    """
    rec, protocol = _pretrained(
        model, nec.X, "videos_necanimal.png", "NEC Animal", output_dir,
        settings, num_labeled, log_scalar, plot, checkpoint_dir, resume, seed,
        carry_over=True)
    nec_loss = protocol.evaluate_autoencoder(nec.X)
    coil_protocol = protocol.with_clip_length(coil.X.shape[1])
    rec.plot_videos(coil_protocol, coil.X, "videos_coil100.png", "COIL-100")
    coil_loss = coil_protocol.evaluate_autoencoder(coil.X)
    rec.out.result.append(rec.autoencoder_losses(
        {"necanimal_loss": nec_loss, "coil100_loss": coil_loss}))
    rec.out.info["autoencoder_loss"] = {"necanimal": nec_loss,
                                        "coil100": coil_loss}
    last = _classification_rounds(coil, model, rec, num_labeled)
    return rec.finish(last or protocol)
