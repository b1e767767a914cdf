"""The ten group k-sparse temporal CNN algorithms and their training protocol.

Milacski, Poczos, Lorincz, "Group k-Sparse Temporal Convolutional Neural
Networks: Pre-training for Video Classification", IJCNN 2019. A video
autoencoder with a sparse bottleneck is pre-trained on unlabelled clips; a
linear per-frame classifier with mean-over-time logits is then trained on the
frozen encoder ("stacked") and fine-tuned together with it ("end-to-end").

`TemporalAutoencoder(config)` is the protocol object of the original
`KerasWTACNN` family, selected by `config["mode"]`:

| mode | encoder | sparsity | pre-training loss |
|---|---|---|---|
| `wtacnn` | 3 per-frame ReLU convs | k-sparse | reconstruction |
| `wtacrnn` | + ConvMinimalRNN2D | k-sparse | next frame |
| `groupwtacnn` | 3 convs | group k-sparse | reconstruction |
| `groupwtacrnn` | + ConvMinimalRNN2D | group k-sparse | next frame |
| `slowgroupwtacnn` | 3 convs | group k-sparse + slowness | reconstruction |
| `denoisingcnn` | dropout + 3 convs | none | reconstruction |
| `denoisingcrnn` | input dropout + convs + RNN | none | next frame |
| `randominitcnn` | 3 convs | none | no pre-training |
| `randominitcrnn` | 3 convs + RNN | none | no pre-training |
| `vgg19` | ImageNet VGG19 per frame | none | no pre-training |

The pieces come from `deltasparse.models.temporal_autoencoder.components` (`ALGORITHMS` holds
the table). Differences from the original code, all deliberate:

- Every part runs on time folded into the batch instead of `TimeDistributed`.
- Keras 3 does not freeze the trainable set at compile time, so the encoder's
  `trainable` flag is set before every fit and evaluation (spec 9.3); each of
  the three composite models is compiled once, with its own optimizer, under
  the flag it is always used with.
- Weight files use the Keras 3 format: `autoencoder.weights.h5`,
  `supervised_True.weights.h5`, `supervised_False.weights.h5` (layer weights
  of the whole model, no optimizer state, also for vgg19 instead of the
  `supervised_True._encoder.hdf5` / `._classifier.hdf5` pairs).
- `build()` does not call `keras.backend.clear_session()`; rebuilding creates
  new models with new weights and optimizers all the same. Call
  `clear_session()` yourself to free memory between runs.
- The classifiers use Keras 2.2.4 categorical cross-entropy (renormalise,
  clip, `-sum y log p`), with no class weights: the original's class weights
  were an array that Keras 2.2.4 silently ignored (spec 9.2).
- With `l2 > 0`, Keras 3 counts weight regularisers of trainable variables
  only, so the stacked loss omits the frozen encoder's (constant) L2 term that
  Keras 2.2.4 added; gradients are unchanged, and every paper config has
  `l2 = 0`.
- Multi-GPU (`gpus > 1`, `multi_gpu_model`) is not supported: it would split
  the lifetime competition over per-device sub-batches.

Protocol of the MNIST / CIFAR runs (spec 6.2; `carry_over=True`, built once):

    alg = TemporalAutoencoder(algo_config, results_dir).build()
    alg.train(x_train)                       # 50 epochs, last epoch kept
    alg.plot_predictions(x_train[:8], f"{results_dir}/videos_train.png", "")
    result = [[alg.test(x_train), alg.test(x_test)]]
    for n in num_labeled:
        x_l, y_l, x_v, y_v = ...             # the dataset's labelled split
        alg.load_pretrained()                # reset the encoder only
        for stacked in (True, False):
            alg.train_classifier(x_l, y_l, x_v, y_v, stacked=stacked)
            result.append([alg.test_classifier(x, y, stacked)
                           for x, y in ((x_l, y_l), (x_v, y_v),
                                        (x_test, y_test))])

COIL-100 / NEC Animal (spec 6.4, 6.5) rebuild per labelled size, so each size
starts from a fresh head and fresh optimizers; `with_time_steps(n)` gives a
copy at another clip length with the same weights (`load_pretrained` /
`load_classifier` read the files at any length):

    alg = TemporalAutoencoder({**algo_config, "shape1": n}, results_dir)
    alg.build().load_pretrained()
    alg.train_classifier(x_l, y_l, x_v, y_v, stacked=True)
    test_metrics = alg.with_time_steps(x_test.shape[1]).test_classifier(
        x_test, y_test)
    alg.train_classifier(x_l, y_l, x_v, y_v, stacked=False)  # from best head
"""

import logging
import numbers
import os
import tempfile

import keras

from deltasparse.models.temporal_autoencoder import components
from deltasparse.models.temporal_autoencoder import plotting

logger = logging.getLogger(__name__)

MODES = tuple(components.ALGORITHMS)
"""The ten mode names accepted as `config["mode"]`."""

DEFAULT_CONFIG = {
    "batch_size": 30,
    "k_spatial": 1,
    "k_lifetime": 1,
    "groups": None,
    "pool_size": 2,
    "dropout": 0.3,
    "l2": 0.0,
    "epochs": 50,
    "patience": 5,
    "lr": 1e-4,
    "momentum": 0.9,
    "clipnorm": 0.0,
    "gpus": 1,
    "pad_value": None,
    "l1_slow": 1e-4,
    "norm_epsilon": None,
    "filters": None,
    "filter_size_enc": None,
    "filter_size_dec": None,
    "carry_over": True,
    "vgg19_weights": None,
    "jit_compile": "auto",
    "run_eagerly": False,
}
"""Defaults of the optional config keys (the paper's values where shared).

`mode`, `shape1` (T, or `None` for any length), `shape2` (H), `shape3` (W),
`shape4` (C_in) and `classes` are required; `filters`, `filter_size_enc` and
`filter_size_dec` too, except for vgg19; `groups` for the group modes.
`clipnorm` is 1.0 in the paper for wtacrnn, groupwtacrnn and randominitcrnn.
Keys that are not in the original `_algo`: `norm_epsilon` (epsilon of the
group norms, `None` = 1e-7), `carry_over` (see `TemporalAutoencoder`),
`vgg19_weights` (path of the ImageNet file), `jit_compile` and `run_eagerly`
(passed to `compile`).
"""

_REQUIRED = ("mode", "shape1", "shape2", "shape3", "shape4", "classes")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check(condition, key, value, expected):
    if not condition:
        raise ValueError(
            f"config[{key!r}] must be {expected}. Received: {key}={value!r}"
        )


def validate_config(config):
    """Checks a protocol config and fills in the defaults.

    Args:
        config: mapping with the original `_algo` keys (see `DEFAULT_CONFIG`).

    Returns:
        A new `dict` with every key of `DEFAULT_CONFIG` and the required keys.

    Raises:
        ValueError: for a missing or unknown key or an invalid value.

    Example:
    >>> cfg = validate_config({"mode": "wtacnn", "shape1": 3, "shape2": 8,
    ...     "shape3": 8, "shape4": 1, "classes": 10, "filters": 8,
    ...     "filter_size_enc": 3, "filter_size_dec": 5})
    >>> cfg["batch_size"]
    30
    """
    config = dict(config)
    unknown = sorted(set(config) - set(_REQUIRED) - set(DEFAULT_CONFIG))
    if unknown:
        raise ValueError(
            f"Unknown config keys {unknown}; allowed are "
            f"{sorted(set(_REQUIRED) | set(DEFAULT_CONFIG))}. "
            f"Received: keys={sorted(config)}"
        )
    missing = [key for key in _REQUIRED if key not in config]
    if missing:
        raise ValueError(
            f"config is missing the required keys {missing}. "
            f"Received: keys={sorted(config)}"
        )
    full = dict(DEFAULT_CONFIG)
    full.update(config)
    spec = components.get_algorithm(full["mode"])

    t = full["shape1"]
    _check(t is None or (_is_int(t) and t >= 1), "shape1", t,
           "a positive int or None")
    for key in ("shape2", "shape3", "shape4", "classes", "batch_size"):
        _check(_is_int(full[key]) and full[key] >= 1, key, full[key],
               "a positive int")
    for key in ("epochs", "patience"):
        _check(_is_int(full[key]) and full[key] >= 0, key, full[key],
               "an int >= 0")
    _check(full["gpus"] == 1, "gpus", full["gpus"],
           "1 (multi-GPU would split the lifetime competition over devices)")
    _check(full["lr"] > 0, "lr", full["lr"], "> 0")
    _check(0 <= full["momentum"] < 1, "momentum", full["momentum"], "in [0, 1)")
    _check(full["clipnorm"] >= 0, "clipnorm", full["clipnorm"], ">= 0")
    _check(0 <= full["dropout"] < 1, "dropout", full["dropout"], "in [0, 1)")
    _check(full["l2"] >= 0, "l2", full["l2"], ">= 0")
    pool = full["pool_size"]
    _check(pool is None or (_is_int(pool) and pool >= 1), "pool_size", pool,
           "a positive int or None")

    if spec.encoder == "vgg19":
        shape = (full["shape2"], full["shape3"], full["shape4"])
        _check(shape == components.VGG19_FRAME_SHAPE, "shape2..shape4",
               shape, f"{components.VGG19_FRAME_SHAPE} for mode vgg19")
    else:
        for key in ("filters", "filter_size_enc", "filter_size_dec"):
            _check(_is_int(full[key]) and full[key] >= 1, key, full[key],
                   f"a positive int for mode {full['mode']}")
    if spec.sparsity != "identity":
        for key in ("k_spatial", "k_lifetime"):
            _check(_is_int(full[key]) and full[key] >= 1, key, full[key],
                   "a positive int")
    if spec.sparsity in ("group_ksparse", "slow_group_ksparse"):
        g = full["groups"]
        _check(_is_int(g) and g >= 1 and full["filters"] % g == 0, "groups",
               g, f"a positive int dividing filters={full['filters']}")
    if spec.sparsity == "slow_group_ksparse":
        _check(full["l1_slow"] >= 0, "l1_slow", full["l1_slow"], ">= 0")
    return full


class TemporalAutoencoder:
    """Pre-training and classification protocol of the group k-sparse CNNs.

    Built from a config dict like the original `_algo` (`mode`, `shape1..4`,
    `filters`, ...; see `DEFAULT_CONFIG`). `build()` creates four parts,
    shared between three compiled models:

    - `encoder` `(B, T, H, W, C_in)` to `(B, T, H, W, F)`, `sparsity`
      (weightless), `decoder` `(B, T, H, W, F)` to `(B, T, H, W, C_in)`,
      `classifier` (head) `(B, T, H, W, F)` to `(B, classes)`;
    - `autoencoder` = decoder(sparsity(encoder(x))), Adam;
    - `stacked_classifier` = classifier(encoder(x)) with the encoder frozen,
      Adam;
    - `endtoend_classifier` = the same function with the encoder trainable,
      SGD(lr / 10, momentum);
    - `sparse_encoder` = sparsity(encoder(x)), uncompiled, for inspection;
    - `autoencoder_base` and `classifier_base`: uncompiled twins of the
      autoencoder and classifiers (the original's `*_base` models) that read
      and write the weight files, so the files hold layer weights only and
      restoring a checkpoint never touches optimizer state (Keras 3's
      `ModelCheckpoint` and `save_weights` on a compiled model would include
      the optimizer).

    The classifier reads the dense encoder output: sparsity only exists for
    pre-training (and is active whenever the autoencoder runs, training or
    not; the lifetime competition runs over the current batch). All three
    optimizers clip by the global gradient norm (`global_clipnorm`) when
    `clipnorm > 0`.

    State carry-over (`config["carry_over"]`, default True as in the paper's
    MNIST/CIFAR runs): the head is shared between the stacked and end-to-end
    models, so end-to-end fine-tuning starts from the best stacked head, the
    next labelled size's stacked training starts from the previous end-to-end
    head, and both optimizers keep their state across calls. With
    `carry_over=False` every `train_classifier` call starts with fresh
    optimizers, a stacked stage also with a freshly initialised head, while
    an end-to-end stage still starts from the best stacked head (spec 9.4;
    the encoder is left as it is: call `load_pretrained()` to reset it).

    Files go to `results_dir`: `autoencoder.weights.h5` (pre-training,
    checkpointed every epoch, or only the initial weights for modes without
    pre-training), `supervised_True.weights.h5` / `supervised_False.weights.h5`
    (best validation loss of the stacked / end-to-end classifier) and
    `decoder_weights.png`.

    Args:
        config: mapping, see `DEFAULT_CONFIG` and `validate_config`.
        results_dir: directory for weights and plots; created if missing.
            Defaults to a new temporary directory.
        callbacks: list of `keras.callbacks.Callback` added to every fit
            (e.g. `components.ScalarLogger`). Defaults to `None`.
        verbose: Keras `fit` verbosity (0, 1 or 2). Defaults to `1`.

    Returns:
        The (unbuilt) protocol object; call `build()`.

    Example:
    >>> alg = TemporalAutoencoder({"mode": "groupwtacrnn", "shape1": 4,
    ...     "shape2": 8, "shape3": 8, "shape4": 1, "classes": 10,
    ...     "filters": 8, "filter_size_enc": 3, "filter_size_dec": 5,
    ...     "groups": 2, "epochs": 1, "batch_size": 4}).build()
    >>> alg.train(x_unlabelled)                             # doctest: +SKIP
    >>> alg.load_pretrained()                               # doctest: +SKIP
    >>> alg.train_classifier(x, y, x_v, y_v)                # doctest: +SKIP
    >>> alg.test_classifier(x_test, y_test, stacked=True)  # doctest: +SKIP
    [0.71, 0.84]
    """

    def __init__(self, config, results_dir=None, callbacks=None, verbose=1):
        self.config = validate_config(config)
        self.mode = self.config["mode"]
        self.algorithm = components.get_algorithm(self.mode)
        if results_dir is None:
            results_dir = tempfile.mkdtemp(prefix="deltasparse_gks_")
            logger.info("Writing weights and plots to %s", results_dir)
        os.makedirs(results_dir, exist_ok=True)
        self.results_dir = os.fspath(results_dir)
        self.callbacks = list(callbacks or [])
        self.verbose = verbose
        self.built = False

    # ------------------------------------------------------------------
    # Building
    # ------------------------------------------------------------------

    @property
    def time_steps(self):
        """Clip length T the models are built for (`None`: any length)."""
        return self.config["shape1"]

    @property
    def input_shape(self):
        """Model input shape `(T, H, W, C_in)` without the batch axis."""
        c = self.config
        return (c["shape1"], c["shape2"], c["shape3"], c["shape4"])

    @property
    def autoencoder_path(self):
        """Path of the pre-trained autoencoder weights."""
        return os.path.join(self.results_dir, "autoencoder.weights.h5")

    def classifier_path(self, stacked):
        """Path of the best stacked (`True`) or end-to-end classifier weights.

        Args:
            stacked: bool.

        Returns:
            `<results_dir>/supervised_<stacked>.weights.h5`.
        """
        return os.path.join(
            self.results_dir, f"supervised_{bool(stacked)}.weights.h5"
        )

    def build(self):
        """Builds and compiles all models with fresh weights and optimizers.

        Returns:
            `self`, for chaining.

        Raises:
            FileNotFoundError: for mode vgg19 without an existing
                `config["vgg19_weights"]` file.
        """
        c = self.config
        spec = self.algorithm
        if spec.encoder == "vgg19":
            encoder = components.build_vgg19_encoder(
                c["shape1"], c["vgg19_weights"]
            )
        else:
            encoder = components.build_cnn_encoder(
                self.input_shape,
                c["filters"],
                c["filter_size_enc"],
                l2=c["l2"],
                recurrent=spec.recurrent,
                input_dropout=c["dropout"] if spec.input_dropout else None,
            )
        feature_shape = tuple(encoder.output.shape[1:])
        if spec.encoder == "vgg19":
            sparsity = components.build_identity(feature_shape, "sparsity")
            decoder = components.build_identity(feature_shape, "decoder")
        else:
            sparsity = components.build_sparsity(
                spec.sparsity,
                feature_shape,
                k_spatial=c["k_spatial"],
                k_lifetime=c["k_lifetime"],
                groups=c["groups"],
                l1_slow=c["l1_slow"],
                epsilon=c["norm_epsilon"],
            )
            decoder = components.build_decoder(
                feature_shape, c["shape4"], c["filter_size_dec"], l2=c["l2"]
            )
        self.encoder = encoder
        self.sparsity = sparsity
        self.decoder = decoder
        self.feature_shape = feature_shape

        inputs = keras.Input(shape=self.input_shape, name="frames")
        code = sparsity(encoder(inputs))
        reconstruction = decoder(code)
        self.autoencoder = keras.Model(
            inputs, reconstruction, name="autoencoder"
        )
        # Uncompiled twin holding the same layers: weight files without
        # optimizer state, as Keras 2.2.4 `save_weights`.
        self.autoencoder_base = keras.Model(
            inputs, reconstruction, name="autoencoder_base"
        )
        self.sparse_encoder = keras.Model(inputs, code, name="sparse_encoder")
        if spec.encoder != "vgg19":
            self._set_trainable(True)
            self.autoencoder.compile(
                optimizer=self._adam(),
                loss=components.FrameReconstructionLoss(
                    next_frame=spec.next_frame, pad_value=c["pad_value"]
                ),
                jit_compile=c["jit_compile"],
                run_eagerly=c["run_eagerly"],
            )
        self.reset_classifier()
        self.built = True
        return self

    def reset_classifier(self):
        """Gives the classifiers a fresh head and fresh optimizers.

        Rebuilds `classifier`, `stacked_classifier` and `endtoend_classifier`
        around the existing encoder (whose weights are kept) and compiles
        them. Called by `build()`, and by `train_classifier` when
        `carry_over` is False.

        Returns:
            `self`.
        """
        c = self.config
        self.classifier = components.build_classifier(
            self.feature_shape,
            c["classes"],
            pool_size=None if self.algorithm.encoder == "vgg19"
            else c["pool_size"],
            dropout=c["dropout"],
            l2=c["l2"],
        )
        inputs = keras.Input(shape=self.input_shape, name="frames")
        probs = self.classifier(self.encoder(inputs))
        self.stacked_classifier = keras.Model(
            inputs, probs, name="stacked_classifier"
        )
        self.endtoend_classifier = keras.Model(
            inputs, probs, name="endtoend_classifier"
        )
        self.classifier_base = keras.Model(
            inputs, probs, name="classifier_base"
        )
        for stacked, optimizer in ((False, self._sgd()), (True, self._adam())):
            self._set_trainable(not stacked)
            self._classifier_model(stacked).compile(
                optimizer=optimizer,
                loss=components.Keras2CategoricalCrossentropy(),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                jit_compile=c["jit_compile"],
                run_eagerly=c["run_eagerly"],
            )
        return self

    def _clipnorm(self):
        return self.config["clipnorm"] or None

    def _adam(self):
        return keras.optimizers.Adam(
            learning_rate=self.config["lr"],
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-7,
            amsgrad=False,
            global_clipnorm=self._clipnorm(),
        )

    def _sgd(self):
        return keras.optimizers.SGD(
            learning_rate=self.config["lr"] / 10.0,
            momentum=self.config["momentum"],
            nesterov=False,
            global_clipnorm=self._clipnorm(),
        )

    def _set_trainable(self, trainable):
        components.set_encoder_trainable(self.encoder, trainable)

    def _classifier_model(self, stacked):
        return self.stacked_classifier if stacked else self.endtoend_classifier

    def _require_built(self):
        if not self.built:
            raise ValueError(
                "Call `build()` before using the models. Received: built=False"
            )

    def _require_autoencoder(self, what):
        if self.algorithm.encoder == "vgg19":
            logger.info("Mode vgg19 has no decoder; %s is skipped.", what)
            return False
        return True

    def _check_clip_length(self, x):
        if self.algorithm.next_frame and x.shape[1] < 2:
            raise ValueError(
                "The next-frame loss needs clips of at least 2 frames. "
                f"Received: x.shape={x.shape}"
            )

    def _verbose(self, verbose):
        return self.verbose if verbose is None else verbose

    # ------------------------------------------------------------------
    # Unsupervised pre-training
    # ------------------------------------------------------------------

    def train(self, X, X_val=None, callbacks=None, verbose=None, plot=True):
        """Pre-trains the autoencoder (or saves the initial weights).

        Fits `autoencoder` on `(X, X)` for `epochs` epochs (batches of
        `batch_size`, samples shuffled every epoch, the last partial batch
        kept), with `TerminateOnNaN` and a checkpoint to
        `autoencoder.weights.h5`. Without `X_val` the checkpoint is written
        every epoch and the last epoch is kept; with `X_val` only the best
        validation loss is kept and `EarlyStopping(patience)` is added. The
        checkpoint is reloaded at the end and, if `plot`, the decoder filters
        are drawn to `decoder_weights.png`.

        Modes without pre-training (randominit*, vgg19) only save their
        initial weights (vgg19: the ImageNet encoder) and return `None`.

        Args:
            X: array `(N, T, H, W, C_in)`.
            X_val: optional validation array. Defaults to `None`.
            callbacks: extra callbacks for this fit. Defaults to `None`.
            verbose: fit verbosity; `None` uses the object's. Defaults to
                `None`.
            plot: bool, draw the decoder filters. Defaults to `True`.

        Returns:
            The `keras.callbacks.History`, or `None` without pre-training.
        """
        self._require_built()
        c = self.config
        path = self.autoencoder_path
        if os.path.exists(path):
            os.remove(path)
        if not self.algorithm.pretrains:
            self.autoencoder_base.save_weights(path)
            logger.info("Mode %s has no pre-training; saved the initial "
                        "weights to %s", self.mode, path)
            return None
        self._check_clip_length(X)
        fit_callbacks = [
            components.WeightsCheckpoint(
                self.autoencoder_base,
                path,
                monitor="val_loss",
                save_best_only=X_val is not None,
            ),
            keras.callbacks.TerminateOnNaN(),
        ]
        if X_val is not None:
            fit_callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=c["patience"], min_delta=0
                )
            )
        fit_callbacks += self.callbacks + list(callbacks or [])
        self._set_trainable(True)
        history = self.autoencoder.fit(
            X,
            X,
            batch_size=c["batch_size"],
            epochs=c["epochs"],
            verbose=self._verbose(verbose),
            callbacks=fit_callbacks,
            validation_data=None if X_val is None else (X_val, X_val),
            shuffle=True,
        )
        if os.path.exists(path):
            self.autoencoder_base.load_weights(path)
        else:
            logger.warning("No autoencoder checkpoint was written; keeping "
                           "the current weights in %s", path)
            self.autoencoder_base.save_weights(path)
        if plot:
            self.plot_decoder_weights()
        return history

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
        self._require_built()
        path = self.autoencoder_path if path is None else os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "No autoencoder weights file; run `train()` first or pass the "
                f"path of one. Received: path={path!r}"
            )
        self.autoencoder_base.load_weights(path)
        return self

    def test(self, X, verbose=0):
        """Autoencoder loss on `X` (including regularisation losses).

        Args:
            X: array `(N, T, H, W, C_in)`.
            verbose: evaluate verbosity. Defaults to `0`.

        Returns:
            float, or `None` for mode vgg19 (no decoder), as the original.
        """
        self._require_built()
        if not self._require_autoencoder("test"):
            return None
        self._check_clip_length(X)
        self._set_trainable(True)
        loss = self.autoencoder.evaluate(
            X, X, batch_size=self.config["batch_size"], verbose=verbose
        )
        return float(loss)

    def predict(self, X, verbose=0):
        """Autoencoder outputs (reconstructions or next-frame predictions).

        Args:
            X: array `(N, T, H, W, C_in)`.
            verbose: predict verbosity. Defaults to `0`.

        Returns:
            Array `(N, T, H, W, C_in)` (vgg19: the encoder features).
        """
        self._require_built()
        return self.autoencoder.predict(
            X, batch_size=self.config["batch_size"], verbose=verbose
        )

    def encode(self, X, sparse=True, verbose=0):
        """Encoder features, after the sparsity (`sparse`) or before it.

        Args:
            X: array `(N, T, H, W, C_in)`.
            sparse: bool, apply the sparsity (batch-wise lifetime competition
                over `batch_size` chunks). Defaults to `True`.
            verbose: predict verbosity. Defaults to `0`.

        Returns:
            Array `(N, T, H, W, F)`.
        """
        self._require_built()
        model = self.sparse_encoder if sparse else self.encoder
        return model.predict(
            X, batch_size=self.config["batch_size"], verbose=verbose
        )

    # ------------------------------------------------------------------
    # Supervised training
    # ------------------------------------------------------------------

    def train_classifier(
        self, X, Y, X_val=None, Y_val=None, stacked=True, callbacks=None,
        verbose=None,
    ):
        """Trains the stacked (frozen encoder) or end-to-end classifier.

        Stacked: Adam(lr) on the head only. End-to-end: SGD(lr / 10,
        momentum) on encoder and head. Keras 2.2.4 categorical cross-entropy,
        accuracy metric, no class weights, shuffled batches, at most `epochs`
        epochs. With validation data: `EarlyStopping(patience, min_delta=0)`
        on `val_loss` and a best-`val_loss` checkpoint to
        `supervised_<stacked>.weights.h5`, restored at the end (without
        validation data every epoch is checkpointed and the last is kept).
        `TerminateOnNaN` always. Unless `carry_over`, the optimizers are
        re-initialised first, and so is the head of a stacked stage (an
        end-to-end stage always starts from the current, i.e. best stacked,
        head).

        Args:
            X: array `(N, T, H, W, C_in)`.
            Y: one-hot labels `(N, classes)`.
            X_val: validation videos. Defaults to `None`.
            Y_val: validation labels. Defaults to `None`.
            stacked: bool, freeze the encoder. Defaults to `True`.
            callbacks: extra callbacks for this fit. Defaults to `None`.
            verbose: fit verbosity; `None` uses the object's. Defaults to
                `None`.

        Returns:
            The `keras.callbacks.History`.
        """
        self._require_built()
        if (X_val is None) != (Y_val is None):
            raise ValueError(
                "Pass both `X_val` and `Y_val` or neither. Received: "
                f"X_val is None={X_val is None}, Y_val is None={Y_val is None}"
            )
        c = self.config
        if not c["carry_over"]:
            # Fresh optimizers for every stage; a fresh head for the stacked
            # stage only: end-to-end always starts from the best stacked
            # head (spec 6.4 / 9.4).
            head = None if stacked else self.classifier.get_weights()
            self.reset_classifier()
            if head is not None:
                self.classifier.set_weights(head)
        model = self._classifier_model(stacked)
        path = self.classifier_path(stacked)
        if os.path.exists(path):
            os.remove(path)
        has_val = X_val is not None
        fit_callbacks = [
            components.WeightsCheckpoint(
                self.classifier_base,
                path,
                monitor="val_loss",
                save_best_only=has_val,
            ),
            keras.callbacks.TerminateOnNaN(),
        ]
        if has_val:
            fit_callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss",
                    patience=c["patience"],
                    min_delta=0,
                    mode="min",
                )
            )
        fit_callbacks += self.callbacks + list(callbacks or [])
        self._set_trainable(not stacked)
        history = model.fit(
            X,
            Y,
            batch_size=c["batch_size"],
            epochs=c["epochs"],
            verbose=self._verbose(verbose),
            callbacks=fit_callbacks,
            validation_data=(X_val, Y_val) if has_val else None,
            shuffle=True,
        )
        if os.path.exists(path):
            self.classifier_base.load_weights(path)
        else:
            logger.warning("No classifier checkpoint was written (no finite "
                           "val_loss); keeping the last weights.")
        return history

    def load_classifier(self, path=None, stacked=True):
        """Loads classifier weights (encoder and head) from a file.

        The stacked and end-to-end models have the same layers, so a file of
        either loads into either (the COIL protocol starts end-to-end
        training from `supervised_True`).

        Args:
            path: weights file. Defaults to `classifier_path(stacked)`.
            stacked: bool, which default file to use. Defaults to `True`.

        Returns:
            `self`.

        Raises:
            FileNotFoundError: if the file does not exist.
        """
        self._require_built()
        if path is None:
            path = self.classifier_path(stacked)
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "No classifier weights file; run `train_classifier()` first "
                f"or pass the path of one. Received: path={path!r}"
            )
        self.classifier_base.load_weights(path)
        return self

    def test_classifier(self, X, Y, stacked=True, verbose=0):
        """Loss and accuracy of a classifier on labelled videos.

        The stacked and end-to-end models compute the same function (shared
        layers); `stacked` only selects which compiled model evaluates.

        Args:
            X: array `(N, T, H, W, C_in)`.
            Y: one-hot labels `(N, classes)`.
            stacked: bool. Defaults to `True`.
            verbose: evaluate verbosity. Defaults to `0`.

        Returns:
            `[loss, accuracy]` as floats (loss includes regularisation).
        """
        self._require_built()
        self._set_trainable(not stacked)
        logs = self._classifier_model(stacked).evaluate(
            X, Y, batch_size=self.config["batch_size"], verbose=verbose,
            return_dict=True,
        )
        return [float(logs["loss"]), float(logs["accuracy"])]

    def predict_classifier(self, X, verbose=0):
        """Class probabilities `(N, classes)` of the classifier.

        Args:
            X: array `(N, T, H, W, C_in)`.
            verbose: predict verbosity. Defaults to `0`.

        Returns:
            Array `(N, classes)`.
        """
        self._require_built()
        return self.stacked_classifier.predict(
            X, batch_size=self.config["batch_size"], verbose=verbose
        )

    # ------------------------------------------------------------------
    # Other clip lengths
    # ------------------------------------------------------------------

    def with_time_steps(self, time_steps):
        """A copy built for clips of `time_steps` frames, with these weights.

        The COIL-100 / NEC Animal protocol evaluates and trains at several
        clip lengths; the classifier averages per-frame logits over time, so
        the same weights serve every T. The copy shares `results_dir`,
        `callbacks` and `verbose`, has fresh optimizers, and receives the
        current encoder, decoder and head weights.

        Args:
            time_steps: positive int, or `None` for any length.

        Returns:
            A built `TemporalAutoencoder`.
        """
        self._require_built()
        config = dict(self.config)
        config["shape1"] = time_steps
        other = TemporalAutoencoder(
            config, self.results_dir, self.callbacks, self.verbose
        ).build()
        for name in ("encoder", "decoder", "classifier"):
            getattr(other, name).set_weights(getattr(self, name).get_weights())
        return other

    # ------------------------------------------------------------------
    # Plots and summaries
    # ------------------------------------------------------------------

    def plot_decoder_weights(self, path=None, figsize=(30, 90), dpi=160):
        """Draws the decoder filters as a mosaic PNG.

        The `(k, k, C_in, F)` kernel becomes F tiles, each min-max
        normalised, in 4 rows (group modes: `F // groups` rows, one column per
        group), filled column by column.

        Args:
            path: output file. Defaults to `<results_dir>/decoder_weights.png`.
            figsize: matplotlib figure size. Defaults to `(30, 90)`.
            dpi: int. Defaults to `160`.

        Returns:
            The path written, or `None` for mode vgg19 (no decoder).
        """
        self._require_built()
        if not self._require_autoencoder("plot_decoder_weights"):
            return None
        if path is None:
            path = os.path.join(self.results_dir, "decoder_weights.png")
        kernel = keras.ops.convert_to_numpy(
            self.decoder.get_layer("deconv").kernel
        )
        if self.algorithm.sparsity in ("group_ksparse", "slow_group_ksparse"):
            nrows = self.config["filters"] // self.config["groups"]
        else:
            nrows = min(4, kernel.shape[-1])
        mosaic = plotting.decoder_weights_mosaic(kernel, nrows)
        return plotting.save_image(
            mosaic, path, "decoder weights", figsize=figsize, dpi=dpi
        )

    def plot_predictions(self, X, path, title="", figsize=(30, 90), dpi=160):
        """Draws input frames next to the autoencoder outputs.

        One row per video: its T input frames, then the T outputs
        (reconstructions, or next-frame predictions for the recurrent modes),
        clipped to [0, 1]. The sparsity is active and its lifetime
        competition runs over `X` in chunks of `batch_size`.

        Args:
            X: array `(N, T, H, W, C_in)` (the original used 8 videos).
            path: output file.
            title: figure title. Defaults to `""`.
            figsize: matplotlib figure size. Defaults to `(30, 90)`.
            dpi: int. Defaults to `160`.

        Returns:
            The path written, or `None` for mode vgg19.
        """
        self._require_built()
        if not self._require_autoencoder("plot_predictions"):
            return None
        mosaic = plotting.predictions_mosaic(X, self.predict(X))
        return plotting.save_image(
            mosaic, path, title, figsize=figsize, dpi=dpi
        )

    def summary(self, print_fn=None):
        """Writes the summaries of the parts and composite models.

        Args:
            print_fn: callable taking one string. Defaults to the module
                logger's `info`.

        Returns:
            None.
        """
        self._require_built()
        print_fn = print_fn or logger.info
        for model in (
            self.encoder, self.sparsity, self.decoder, self.classifier,
            self.autoencoder, self.stacked_classifier,
            self.endtoend_classifier,
        ):
            model.summary(print_fn=lambda line, **kwargs: print_fn(line))

    def __repr__(self):
        return (
            f"TemporalAutoencoder(mode={self.mode!r}, "
            f"input_shape={self.input_shape}, built={self.built}, "
            f"results_dir={self.results_dir!r})"
        )
