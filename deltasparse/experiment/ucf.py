"""Training and evaluation of the UCF101 temporal-sparsity experiments.

The six Sacred scripts `experiments/ucf_{resnet50,mobilenet}_{baseline,l1,
delta}.py` hold only their configuration (the hyper-parameters of spec
`delta_activation.md` §5 and §9); the work is done here, so that they stay
thin and share one tested implementation:

- `train_clips` (L1 and delta variants): time-distributed model on clips,
  optional initial weights by layer name, resumable training with the paper
  optimizer, then the evaluation of spec §7 on the test split.
- `train_frames` (baselines): the 2-D fine-tune of the backbone and its new
  head on single frames (ResNet-50: head only, then `conv5_*` and the head;
  MobileNet: every layer), then the same evaluation with the
  time-distributed model, weights transferred by name.
- `evaluate` (the `evaluate` command of every script): loads a weights file
  (or the latest checkpoint of the configuration) and runs the evaluation.

Every function takes the script's whole Sacred config (`_config`) plus the
script's architecture (`'resnet50'` or `'mobilenet'`) and variant
(`'baseline'`, `'l1'` or `'delta'`).

What a run records (in its own folder, `run_directory(_run)`, i.e.
`results/<experiment>/<run id>/`):

- per-epoch `log_scalar` of every Keras figure, train and validation:
  `loss`, `accuracy`, `val_loss`, `val_accuracy` and every sparsity figure
  of `deltasparse.models.sparsity_figures` (`delta_density_<group>` for delta
  models, `act_density_<group>` for L1 models, `op_ratio_counted`,
  `macs_dense_counted`, `macs_effective_counted`, and their `val_` twins);
  the final evaluation as `test.<figure>` at the last epoch;
- artifacts: `last.weights.h5` (weights after the last epoch; the 2-D
  model's for the baselines), `best.weights.h5` (best `val_accuracy` of
  this run), `layer_sparsity.png` (per-layer densities of `plot_clips` test
  clips; absent for a plain baseline without slots) and
  `layer_sparsity.json` (the numbers behind it);
- `_run.info`: `data` (dataset, root, class count, clip counts),
  `model`, `initial_weights` (the transfer report), `resume`,
  `checkpoint_dir`, `timings` (seconds per stage) and `final` (the
  evaluation figures);
- `_run.result`: the dict returned by the command: test `accuracy`,
  `loss`, `clips`, `steps` and every sparsity figure, plus (training
  commands) `last_epoch.{loss,accuracy,val_loss,val_accuracy}`, `epochs`
  and `resumed_from_epoch`.

Resuming: every epoch is also written, atomically, to
`results/<experiment>/checkpoints/<key>/epoch-NNN.weights.h5`, where `<key>`
is `run_name` or a hash of the configuration keys that change training
(not `epochs`, `resume`, devices, verbosity or evaluation settings). A run
started again with the same configuration and `resume=True` continues after
the last finished epoch (learning-rate schedule included); with
`resume=False` older checkpoints of the same key are moved aside
(`<key>.replaced-<time>`), never deleted.

Differences from the original scripts (spec §5-§7, §10), all deliberate:

- Validation during training reads the TEST split (`<data_root>/test`): the
  original `5ac0224` and its MobileNet generator did so, but HEAD's ResNet
  generator read the training videos (spec §10 item 1), which made its
  "val" figures training figures. There is no separate validation split in
  UCF101's official lists.
- The final evaluation uses the inference settings of spec §7 (T = 32,
  sequence stride 16, batch 1 by default) and the model rebuilt with
  `sp_rate=0`, as the original inference scripts did, so `loss` is the
  plain cross-entropy (the original TD ResNet-50 baseline inference kept
  its builder's L1 `sp_rate` 1e-5 in the loss; the accuracy is unaffected). `eval_steps=None` evaluates every test clip; the
  original sometimes used 1000 steps of an unshuffled set, i.e. only the
  first classes (§10 item 10): set `eval_steps=1000`, and `eval_shuffle=True`
  for a random subset instead.
- Weights move between the 2-D, baseline, L1 and delta models by layer
  name (`deltasparse.models.weight_transfer`), not by layer index (§10 item
  11). Checkpoints are Keras 3 `.weights.h5` files.
- On resume the optimizer continues its learning-rate schedule (the
  original created a fresh optimizer, resetting the inverse-time decay, each
  time a script was started from a checkpoint; that is still what
  `initial_weights` + `start_epoch` does).
- `bn_momentum` can lower the BatchNormalization momentum (Keras default
  0.99, the original's). Only the `demo` configurations use it: they train
  from scratch for a few hundred steps, too few for moving statistics with
  momentum 0.99 to forget their initial values (inference then collapses to
  one class).
- `optimizer='adam'` exists for the `demo` configurations only (training
  from scratch in minutes); the paper configurations use SGD with momentum
  0.9 and the legacy inverse-time `decay`
  (`InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`, per step).
"""

import hashlib
import json
import logging
import math
import os
import time

import keras
import numpy as np

from deltasparse.data.video import clip_dataset
from deltasparse.data.video import frame_dataset
from deltasparse.data.datasets.synthetic_actions import ensure_synthetic_ucf
from deltasparse.data.datasets.ucf101 import UCF101_SPLITS_URL
from deltasparse.data.datasets.ucf101 import UCF101_URL
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.experiment.runtime import configure_devices
from deltasparse.experiment.runtime import set_global_seed
from deltasparse.experiment.sacred_utils import EpochCheckpoint
from deltasparse.experiment.sacred_utils import SacredMetricsLogger
from deltasparse.experiment.sacred_utils import latest_checkpoint
from deltasparse.experiment.sacred_utils import results_root
from deltasparse.experiment.sacred_utils import run_directory
from deltasparse.experiment.sacred_utils import write_json_atomic
from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.evaluation import evaluate_clips
from deltasparse.evaluation import layer_sparsity
from deltasparse.models.sparsity_logger import SparsityLogger
from deltasparse.models.video_classifier import VideoClassifier
from deltasparse.models.weight_transfer import transfer_weights

logger = logging.getLogger(__name__)

ARCHITECTURES = {
    "resnet50": {"preprocessing": "caffe"},
    "mobilenet": {"preprocessing": "tf"},
}
"""Per architecture: the input preprocessing of spec §6.2."""

VARIANTS = ("baseline", "l1", "delta")
"""Model variants: dense baseline, spatial L1 sparsity, temporal delta."""

PREPARE_COMMAND = (
    "python dataset_preparation/prepare_ucf101.py --source <UCF-101> "
    "--lists <ucfTrainTestlist> --output data/ucf101 --split 1"
)
"""The command that prepares UCF101 split 1 under `data/ucf101/split1`."""

# Config keys that do not change what training computes: left out of the
# checkpoint key, so a run can be resumed with another epoch count, device
# or evaluation setting.
_NOT_TRAINING = frozenset({
    "epochs", "resume", "run_name", "gpus", "memory_growth", "verbose",
    "weights", "checkpoint_keep", "final_evaluation", "eval_weights",
    "plot_clips", "run_eagerly", "jit_compile", "measure_activations",
})


# --------------------------------------------------------------------------
# Configuration helpers
# --------------------------------------------------------------------------


def plain(value):
    """Sacred's read-only containers (and NumPy scalars) to plain Python."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_choice(name, value, choices):
    if value not in choices:
        raise ConfigurationError(
            f"`{name}` must be one of {list(choices)}. "
            f"Received: {name}={value!r}"
        )
    return value


def _check_positive(name, value, integer=True, allow_none=False):
    if value is None and allow_none:
        return None
    kinds = (int, np.integer) if integer else (int, float, np.number)
    if (isinstance(value, bool) or not isinstance(value, kinds)
            or not math.isfinite(value) or value <= 0):
        what = "a positive int" if integer else "a positive number"
        extra = " or None" if allow_none else ""
        raise ConfigurationError(
            f"`{name}` must be {what}{extra}. Received: {name}={value!r}"
        )
    return int(value) if integer else float(value)


def config_key(config):
    """Checkpoint folder name of a configuration.

    Args:
        config: mapping, the script's Sacred config.

    Returns:
        str, `run_name` when set, else `"cfg-"` plus 12 hex digits of a hash
        of every key that changes training (see `_NOT_TRAINING`).

    Example:
    >>> config_key({"run_name": "paper"})
    'paper'
    """
    config = plain(dict(config))
    name = config.get("run_name")
    if name:
        name = str(name)
        if os.sep in name or name.startswith("."):
            raise ConfigurationError(
                "`run_name` must be a plain folder name. "
                f"Received: run_name={name!r}"
            )
        return name
    relevant = {k: v for k, v in config.items()
                if k not in _NOT_TRAINING and not k.startswith("eval_")}
    digest = hashlib.sha1(
        json.dumps(relevant, sort_keys=True, default=str).encode()
    ).hexdigest()
    return "cfg-" + digest[:12]


def checkpoint_directory(experiment, config, root=None):
    """`<results root>/<experiment>/checkpoints/<config_key(config)>`."""
    return os.path.join(results_root(root), experiment, "checkpoints",
                        config_key(config))


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def missing_data_message(data_root, missing):
    """The one message printed when the prepared UCF101 split is absent."""
    return (
        f"Prepared UCF101 split not found: {missing} is missing under "
        f"data_root={data_root!r}. Download {UCF101_URL} (unpack to "
        f"UCF-101/) and {UCF101_SPLITS_URL} (unzip to ucfTrainTestlist/), "
        f"prepare split 1 once with `{PREPARE_COMMAND}` and run with "
        "`data_root=data/ucf101/split1` (the default). No download needed: "
        "`with demo` trains on the embedded synthetic action dataset."
    )


def resolve_data_root(dataset="ucf101", data_root="data/ucf101/split1",
                      source="frames", synthetic=None):
    """Returns the prepared split folder, or stops with one clear message.

    Args:
        dataset: `'ucf101'` (a split prepared by
            `dataset_preparation/prepare_ucf101.py` at `data_root`) or
            `'synthetic'` (the embedded synthetic action dataset, generated
            and prepared on first use by `ensure_synthetic_ucf`).
        data_root: str, the prepared split folder (`<output>/split1`).
        source: `'frames'` (extracted JPEGs) or `'video'` (decode videos).
        synthetic: dict of `ensure_synthetic_ucf` arguments (`cache_dir`,
            `videos_per_class`, `frames`, `size`, ...), or None.

    Returns:
        str, absolute path of the split folder (with `train/` and `test/`).

    Raises:
        DataNotFoundError: the prepared split is missing (the message names
            the preparation command).
        ConfigurationError: unknown `dataset` or `source`.
    """
    _check_choice("dataset", dataset, ("ucf101", "synthetic"))
    _check_choice("source", source, ("frames", "video"))
    if dataset == "synthetic":
        kwargs = {k: v for k, v in plain(dict(synthetic or {})).items()
                  if v is not None}
        try:
            return os.path.abspath(ensure_synthetic_ucf(**kwargs))
        except (TypeError, ValueError) as err:
            raise ConfigurationError(
                f"Invalid `synthetic` settings: {err}. "
                f"Received: synthetic={kwargs!r}"
            ) from None
    if not data_root:
        raise DataNotFoundError(missing_data_message(data_root, "the folder"))
    root = os.path.abspath(os.path.expanduser(str(data_root)))
    needed = ["train", "test"]
    if source == "frames":
        needed += ["train_frames", "test_frames"]
    for name in needed:
        if not os.path.isdir(os.path.join(root, name)):
            raise DataNotFoundError(missing_data_message(data_root, name + "/"))
    return root


def class_names(root, source="frames", classes=None, class_limit=None):
    """Sorted class folder names of the training subset, checked.

    Args:
        root: str, the prepared split folder.
        source: `'frames'` or `'video'`.
        classes: int or None, the expected number of classes (after
            `class_limit`); None accepts any.
        class_limit: int or None, keep only the first N sorted classes (the
            original generators' `class_limit`).

    Returns:
        list of str, the class names; label `j` is `names[j]`.

    Raises:
        ConfigurationError: when the count differs from `classes`.
    """
    folder = os.path.join(root, "train_frames" if source == "frames"
                          else "train")
    names = sorted(
        e.name for e in os.scandir(folder)
        if e.is_dir() and not e.name.startswith(".")
    )
    limit = _check_positive("class_limit", class_limit, allow_none=True)
    if limit is not None:
        names = names[:limit]
    if not names:
        raise DataNotFoundError(
            missing_data_message(root, "every class folder of train/"))
    if classes is not None and len(names) != classes:
        raise ConfigurationError(
            f"The data at {root!r} has {len(names)} classes but the config "
            f"expects `classes`={classes}; set `classes=None` to take the "
            "count from the data (or `class_limit` to use fewer). "
            f"Received: classes={classes!r}"
        )
    return names


def _limit(ds, steps):
    """(dataset, steps) for Keras: `take(steps)` of a finite dataset."""
    if steps is None:
        return ds, None
    steps = _check_positive("steps", steps)
    return ds.take(steps), None


def _train_stream(ds, steps_per_epoch):
    """A repeated dataset when `steps_per_epoch` is set (Keras keeps one
    iterator across epochs then), else the finite dataset."""
    if steps_per_epoch is None:
        return ds, None
    return ds.repeat(), _check_positive("steps_per_epoch", steps_per_epoch)


def _clip_kwargs(config, names, architecture):
    return dict(
        frame_stride=config.get("frame_stride", 1),
        image_size=tuple(config["image_size"]),
        preprocessing=ARCHITECTURES[architecture]["preprocessing"],
        source=config.get("source", "frames"),
        classes=names,
        progress=False,
    )


def training_clips(config, root, names, architecture):
    """Training and validation (TEST split) clip datasets of a config."""
    common = _clip_kwargs(config, names, architecture)
    train = clip_dataset(
        root, config["nb_frames"], subset="train",
        sequence_stride=config["sequence_stride"],
        batch_size=config["batch_size"], augment=config.get("augment", True),
        shuffle=True, seed=config.get("seed"), drop_remainder=True, **common)
    if len(train) == 0:
        raise ConfigurationError(
            f"Only {train.num_clips} training clips, fewer than one batch; "
            "lower `batch_size`. "
            f"Received: batch_size={config['batch_size']}"
        )
    val_stride = config.get("val_sequence_stride")
    val = clip_dataset(
        root, config["nb_frames"], subset="test",
        sequence_stride=val_stride or config["sequence_stride"],
        batch_size=config["batch_size"], augment=False, shuffle=False,
        **common)
    return train, val


def evaluation_clips(config, root, names, architecture, batch_size=None,
                     shuffle=None):
    """Test clips with the inference settings of spec §7 (`eval_*` keys)."""
    common = _clip_kwargs(config, names, architecture)
    shuffle = config.get("eval_shuffle", False) if shuffle is None else shuffle
    return clip_dataset(
        root, config["eval_nb_frames"], subset="test",
        sequence_stride=config["eval_sequence_stride"],
        batch_size=batch_size or config["eval_batch_size"], augment=False,
        shuffle=shuffle, seed=config.get("seed"), **common)


# --------------------------------------------------------------------------
# Models and optimizer
# --------------------------------------------------------------------------


def _set_bn_momentum(model, momentum):
    if momentum is None:
        return
    momentum = float(momentum)
    if not 0.0 <= momentum < 1.0:
        raise ConfigurationError(
            "`bn_momentum` must be None or in [0, 1). "
            f"Received: bn_momentum={momentum!r}"
        )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def build_td_model(architecture, sparsity, config, classes, sp_rate=None):
    """The time-distributed model of a script.

    Args:
        architecture: `'resnet50'` or `'mobilenet'`.
        sparsity: `None`, `'l1'` or `'delta'`.
        config: mapping with `image_size` and, as needed, `sp_rate`,
            `thr_init`, `thr_trainable`, `alpha`, `bn_momentum`.
        classes: int, number of classes.
        sp_rate: float or None, overrides `config['sp_rate']` (0 for
            evaluation models).

    Returns:
        A `VideoClassifier` (preset `<architecture>_<sparsity>`).
    """
    _check_choice("architecture", architecture, ARCHITECTURES)
    kwargs = dict(
        image_size=tuple(config["image_size"]),
        thr_trainable=bool(config.get("thr_trainable", True)),
    )
    if sparsity is not None:
        rate = config.get("sp_rate") if sp_rate is None else sp_rate
        if rate is not None:
            kwargs["sp_rate"] = float(rate)
        thr = config.get("thr_init")
        if thr is not None and sparsity == "delta":
            kwargs["thr_init"] = plain(thr)
    try:
        if architecture == "mobilenet":
            kwargs["alpha"] = float(config.get("alpha", 1.0))
        model = VideoClassifier.from_preset(
            f"{architecture}_{sparsity or 'baseline'}", num_classes=classes,
            **kwargs)
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    _set_bn_momentum(model, config.get("bn_momentum"))
    return model


def build_frame_model(architecture, config, classes):
    """The 2-D baseline: `keras.applications` backbone plus the original head.

    ResNet-50: `ResNet50(include_top=False)` -> `avg_pool` (7x7, or the whole
    map for small frames, like the `resnet50` VideoClassifier) -> `flatten` -> `fc1024` (ReLU)
    -> `dropout` (0.5) -> `fc101` (softmax). MobileNet:
    `MobileNet(include_top=False, alpha)` -> `global_pool` -> `reshape_1` ->
    `dropout` (0.001) -> `conv_preds` -> `reshape_2` -> `predictions`.
    Layer names equal those of the time-distributed models, so the weights
    transfer by name. Built with `weights=None` (never downloads);
    ImageNet weights come from a file (`imagenet_weights`).

    Args:
        architecture: `'resnet50'` or `'mobilenet'`.
        config: mapping with `image_size`, `alpha` (MobileNet),
            `bn_momentum`.
        classes: int.

    Returns:
        `(model, backbone_layer_names)`.
    """
    _check_choice("architecture", architecture, ARCHITECTURES)
    height, width = (int(v) for v in config["image_size"])
    inputs = keras.Input((height, width, 3), name="frames")
    layers = keras.layers
    if architecture == "resnet50":
        base = keras.applications.ResNet50(
            include_top=False, weights=None, input_tensor=inputs)
        x = base.output
        pool = (min(7, x.shape[1]), min(7, x.shape[2]))
        x = layers.AveragePooling2D(pool, name="avg_pool")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(1024, activation="relu", name="fc1024")(x)
        x = layers.Dropout(0.5, name="dropout")(x)
        outputs = layers.Dense(classes, activation="softmax", name="fc101")(x)
        name = "resnet50_frames"
    else:
        alpha = float(config.get("alpha", 1.0))
        base = keras.applications.MobileNet(
            include_top=False, weights=None, alpha=alpha,
            input_tensor=inputs)
        channels = int(1024 * alpha)
        x = layers.GlobalAveragePooling2D(name="global_pool")(base.output)
        x = layers.Reshape((1, 1, channels), name="reshape_1")(x)
        x = layers.Dropout(1e-3, name="dropout")(x)
        x = layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        outputs = layers.Activation("softmax", name="predictions")(x)
        name = "mobilenet_frames"
    model = keras.Model(inputs, outputs, name=name)
    _set_bn_momentum(model, config.get("bn_momentum"))
    backbone = {layer.name for layer in base.layers}
    return model, backbone


def make_optimizer(lr, momentum=0.9, decay=5e-4, optimizer="sgd"):
    """The paper optimizer: SGD with momentum and legacy inverse-time decay.

    `decay` is the TF-2.3 `SGD(decay=...)` learning-rate decay per step,
    `lr_t = lr / (1 + decay * t)`, i.e.
    `InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`; it is not
    weight decay (spec §5, §10 item 7).

    Args:
        lr: float, initial learning rate.
        momentum: float, classic (not Nesterov) momentum.
        decay: float >= 0, inverse-time decay per step; 0 = constant.
        optimizer: `'sgd'` (the paper's) or `'adam'` (demos only; `momentum`
            is then ignored, `decay` still applies).

    Returns:
        A `keras.optimizers.Optimizer`.

    Example:
    >>> opt = make_optimizer(1e-3, 0.9, 5e-4)
    >>> opt.iterations.assign(1000)
    >>> round(float(opt.learning_rate), 8)
    0.00066667
    """
    _check_choice("optimizer", optimizer, ("sgd", "adam"))
    lr = _check_positive("lr", lr, integer=False)
    if decay is None or decay == 0:
        schedule = lr
    elif isinstance(decay, bool) or not isinstance(decay, (int, float)) or (
            decay < 0):
        raise ConfigurationError(
            f"`decay` must be a number >= 0. Received: decay={decay!r}")
    else:
        schedule = keras.optimizers.schedules.InverseTimeDecay(
            lr, decay_steps=1, decay_rate=float(decay))
    if optimizer == "adam":
        return keras.optimizers.Adam(schedule)
    return keras.optimizers.SGD(schedule, momentum=float(momentum))


def compile_model(model, config, lr=None, skip_resume_steps=0):
    """Compiles with the config's optimizer, CE loss and accuracy.

    Args:
        model: the Keras model.
        config: mapping with `lr`, `momentum`, `decay`, optionally
            `optimizer`, `run_eagerly`, `jit_compile`.
        lr: float or None, overrides `config['lr']`.
        skip_resume_steps: int, optimizer steps already done (resume): the
            learning-rate schedule continues from there.

    Returns:
        The model.
    """
    optimizer = make_optimizer(
        config["lr"] if lr is None else lr, config.get("momentum", 0.9),
        config.get("decay", 0.0), config.get("optimizer", "sgd"))
    if skip_resume_steps:
        optimizer.iterations.assign(int(skip_resume_steps))
    model.compile(
        optimizer=optimizer, loss="categorical_crossentropy",
        metrics=["accuracy"],
        run_eagerly=bool(config.get("run_eagerly", False)),
        jit_compile=config.get("jit_compile", False))
    return model


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


def report_dict(report):
    """A JSON-able summary of a `TransferReport`."""
    return {
        "source": report.source,
        "target": report.target,
        "matched": len(report.matched),
        "mismatched": [list(m) for m in report.mismatched],
        "skipped_no_weights": list(report.skipped_no_weights),
        "skipped_absent": list(report.skipped_absent),
        "unused": list(report.unused),
        "summary": report.summary(),
    }


def load_weights_by_name(model, source, what="initial_weights", log=None):
    """Copies weights into `model` by layer name and reports it.

    Args:
        model: the target model.
        source: a weights file path (2-D `keras.applications` ImageNet file,
            a baseline, L1 or delta checkpoint, `.weights.h5` / `.h5` /
            `.keras`) or a Keras model.
        what: str, the config key, for messages.
        log: logger.

    Returns:
        The `TransferReport`.

    Raises:
        DataNotFoundError: the file does not exist.
        ConfigurationError: nothing matched (wrong architecture?).
    """
    log = log or logger
    if not isinstance(source, keras.Model):
        source = os.path.expanduser(str(source))
        if not os.path.isfile(source):
            raise DataNotFoundError(
                f"`{what}` file not found: {source!r}. Pass a weights file "
                "(a checkpoint of another run, e.g. results/<experiment>/"
                "<id>/last.weights.h5, or a keras.applications ImageNet "
                "file; nothing is downloaded)."
            )
    try:
        report = transfer_weights(source, model)
    except ValueError as err:
        raise ConfigurationError(f"`{what}`: {err}") from None
    if not report.matched:
        raise ConfigurationError(
            f"`{what}` shares no layer (name and shapes) with "
            f"{model.name!r}: wrong architecture, alpha or class count?\n"
            f"{report.summary()}"
        )
    print(report.summary())
    return report


# --------------------------------------------------------------------------
# Checkpoints and resume
# --------------------------------------------------------------------------


def prepare_checkpoints(directory, resume, log=None):
    """Finds the epoch to resume from, or sets the folder aside for a new run.

    Args:
        directory: the configuration's checkpoint folder.
        resume: bool.
        log: logger.

    Returns:
        `(epoch, path)` of the checkpoint to continue from, `(0, None)` for
        a fresh start.
    """
    log = log or logger
    epoch, path = latest_checkpoint(directory)
    if resume:
        if path is None:
            log.info("resume=True but no checkpoint in %s: starting fresh",
                     directory)
        return epoch, path
    if path is not None:
        aside = f"{directory}.replaced-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(directory, aside)
        log.warning("resume=False: moved the previous checkpoints of this "
                    "configuration to %s", aside)
    return 0, None


def _timed(run, key, start):
    timings = run.info.setdefault("timings", {})
    timings[key] = round(time.time() - start, 3)
    run.info["timings"] = timings


def _callbacks(run, ckpt_dir, keep, best_path, has_val):
    callbacks = [SparsityLogger(), SacredMetricsLogger(run),
                 EpochCheckpoint(ckpt_dir, keep=keep)]
    if has_val:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            best_path, monitor="val_accuracy", mode="max",
            save_best_only=True, save_weights_only=True))
    return callbacks


def _history_last(history):
    return {k: float(v[-1]) for k, v in (history or {}).items() if v}


def _finish_weights(run, model, run_dir, best_path):
    last = os.path.join(run_dir, "last.weights.h5")
    model.save_weights(last)
    run.add_artifact(last, name="last.weights.h5")
    if os.path.isfile(best_path):
        run.add_artifact(best_path, name="best.weights.h5")
    return last


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def sparsity_table(figures):
    """A short text table of the per-group densities in `figures`.

    Args:
        figures: dict with `delta_density_<group>` or `act_density_<group>`
            entries and optionally `op_ratio_counted`,
            `macs_dense_counted`, `macs_effective_counted`.

    Returns:
        str (empty when `figures` holds no density).

    Example:
    >>> print(sparsity_table({"delta_density_conv1": 0.25,
    ...                       "delta_density_all": 0.25}))  # doctest: +SKIP
    """
    for prefix, label in (("delta_density_", "temporal delta"),
                          ("act_density_", "activation")):
        rows = [(k[len(prefix):], float(v)) for k, v in figures.items()
                if k.startswith(prefix)]
        if rows:
            break
    else:
        return ""
    rows.sort(key=lambda r: (r[0] == "all", _group_sort_key(r[0])))
    lines = [
        f"Per-group {label} density (nonzero fraction; sparsity = 1 - "
        "density):",
        f"  {'group':<10}{'density':>10}{'sparsity':>10}",
    ]
    lines += [f"  {g:<10}{d:>10.4f}{1 - d:>10.4f}" for g, d in rows]
    ratio = figures.get("op_ratio_counted")
    if ratio is not None:
        factor = f" ({1 / ratio:.1f}x fewer)" if ratio > 0 else ""
        lines.append(
            f"  counted MACs: {float(ratio):.4f} of dense{factor}; per frame "
            f"{float(figures.get('macs_effective_counted', 0)):.4g} of "
            f"{float(figures.get('macs_dense_counted', 0)):.4g}")
    return "\n".join(lines)


def _group_sort_key(group):
    digits = "".join(c for c in group if c.isdigit())
    stem = group.rstrip("0123456789")
    order = {"in": 0, "conv": 1, "block": 2, "fc": 3}
    return (order.get(stem, 4), stem, int(digits) if digits else -1)


def plot_layer_sparsity(stats, path, title):
    """Bar plot of the per-layer densities from `layer_sparsity`.

    Args:
        stats: dict from `deltasparse.evaluation.layer_sparsity`.
        path: str, the PNG to write.
        title: str, figure title.

    Returns:
        `path`.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(stats["names"])
    density = np.asarray(stats["density"], "float64")
    groups = list(stats["groups"])
    order = list(dict.fromkeys(groups))
    cmap = matplotlib.colormaps["tab20" if len(order) > 10 else "tab10"]
    palette = [cmap(i % cmap.N) for i in range(len(order))]
    colours = [palette[order.index(g)] for g in groups]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.22 * len(names)) + 1.5, 4.5))
    ax.bar(range(len(names)), density, color=colours)
    overall = float(np.sum(stats["l0"]) / max(np.sum(stats["n"]), 1.0))
    ax.axhline(overall, color="black", linestyle="--", linewidth=1,
               label=f"all slots: {overall:.3f}")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    kind = "temporal delta" if stats["kind"] == "delta" else "activation"
    ax.set_ylabel(f"{kind} density (nonzero fraction)")
    ax.set_ylim(0, max(1e-3, float(density.max(initial=0)) * 1.1))
    ax.set_title(title)
    handles = [matplotlib.patches.Patch(color=palette[i], label=g)
               for i, g in enumerate(order)]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              ncol=1 if len(order) <= 16 else 2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _has_slots(model):
    return bool(getattr(model, "sparsity_slots", ()))


def evaluate_model(model, config, root, names, architecture, run, log,
                   step=0):
    """The evaluation of spec §7 on the test split, plus the per-layer plot.

    Logs `test.<figure>` scalars at `step`, writes `layer_sparsity.png` and
    `.json` (models with sparsity slots only), prints the density table and
    fills `_run.info['final']`.

    Args:
        model: the compiled evaluation model.
        config: the script config (`eval_*`, `plot_clips`, `verbose`).
        root: str, the prepared split.
        names: list of class names.
        architecture: `'resnet50'` or `'mobilenet'`.
        run: the Sacred run.
        log: logger.
        step: int, the step of the logged scalars (the last epoch).

    Returns:
        dict: `accuracy`, `loss`, `clips`, `steps` and every sparsity figure.
    """
    start = time.time()
    ds = evaluation_clips(config, root, names, architecture)
    eval_ds, _ = _limit(ds, config.get("eval_steps"))
    steps = len(ds) if config.get("eval_steps") is None else min(
        len(ds), int(config["eval_steps"]))
    clips = min(ds.num_clips, steps * int(config["eval_batch_size"]))
    log.info("evaluating on %d test clips (T=%d, sequence stride %s, batch "
             "%d, %d steps)", clips, config["eval_nb_frames"],
             config["eval_sequence_stride"], config["eval_batch_size"], steps)
    logs = evaluate_clips(model, eval_ds,
                          progress=config.get("verbose") == 1)
    result = {k: float(v) for k, v in logs.items()}
    result["clips"] = int(clips)
    result["steps"] = int(steps)
    _timed(run, "evaluate", start)
    for key, value in result.items():
        run.log_scalar(f"test.{key}", value, step)
    if _has_slots(model) and config.get("plot_clips"):
        start = time.time()
        plot_ds = evaluation_clips(config, root, names, architecture,
                                   batch_size=int(config["plot_clips"]),
                                   shuffle=True)
        x, _ = next(iter(plot_ds))
        stats = layer_sparsity(model, x)
        run_dir = run_directory(run)
        png = plot_layer_sparsity(
            stats, os.path.join(run_dir, "layer_sparsity.png"),
            f"{model.name}: per-layer density on {int(x.shape[0])} test "
            f"clips of {int(x.shape[1])} frames")
        data = {k: plain(np.asarray(v).tolist()) if isinstance(
            v, np.ndarray) else plain(v) for k, v in stats.items()}
        js = os.path.join(run_dir, "layer_sparsity.json")
        write_json_atomic(js, data)
        run.add_artifact(png, name="layer_sparsity.png")
        run.add_artifact(js, name="layer_sparsity.json")
        _timed(run, "plot", start)
    table = sparsity_table(result)
    print(f"Test: accuracy {result.get('accuracy', float('nan')):.4f}, loss "
          f"{result.get('loss', float('nan')):.4f} on {clips} clips "
          f"(T={config['eval_nb_frames']}).")
    if table:
        print(table)
    run.info["final"] = dict(result)
    return result


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def _start(config, run, log, architecture, variant):
    """Common start: checks, data root (fails fast), devices, seed, info."""
    _check_choice("architecture", architecture, ARCHITECTURES)
    _check_choice("variant", variant, VARIANTS)
    root = resolve_data_root(config.get("dataset", "ucf101"),
                             config.get("data_root"),
                             config.get("source", "frames"),
                             config.get("synthetic"))
    names = class_names(root, config.get("source", "frames"),
                        config.get("classes"), config.get("class_limit"))
    configure_devices(config.get("gpus"), config.get("memory_growth", True))
    if config.get("seed") is not None:
        set_global_seed(config["seed"])
    run.info["data"] = {
        "dataset": config.get("dataset", "ucf101"),
        "root": root,
        "source": config.get("source", "frames"),
        "num_classes": len(names),
        "class_names": names if len(names) <= 20 else names[:20] + ["..."],
    }
    run.info["model"] = {"architecture": architecture, "variant": variant}
    log.info("data: %s (%d classes) at %s", run.info["data"]["dataset"],
             len(names), root)
    return root, names


def _model_info(run, model):
    info = dict(run.info.get("model", {}))
    info.update({"name": model.name, "params": int(model.count_params())})
    if _has_slots(model):
        info["slots"] = len(model.sparsity_slots)
    run.info["model"] = info


def _eval_sparsity(config, variant):
    if variant == "baseline":
        return "l1" if config.get("measure_activations", True) else None
    return variant


def _final_result(result, history_last, resumed_epoch, epochs):
    out = dict(result)
    for key in ("val_accuracy", "val_loss", "accuracy", "loss"):
        if key in history_last:
            out[f"last_epoch.{key}"] = history_last[key]
    out["epochs"] = int(epochs)
    out["resumed_from_epoch"] = int(resumed_epoch)
    return out


def _evaluation_model(config, architecture, variant, classes, source_model):
    sparsity = _eval_sparsity(config, variant)
    model = build_td_model(architecture, sparsity, config, classes,
                           sp_rate=0.0)
    report = transfer_weights(source_model, model)
    return model, report


def train_clips(config, run, log, experiment, architecture, variant):
    """Main of the L1 and delta scripts: train on clips, then evaluate.

    Args:
        config: the script's Sacred config (`_config`).
        run: the Sacred `_run`.
        log: the Sacred `_log`.
        experiment: str, the experiment name (checkpoint folder).
        architecture: `'resnet50'` or `'mobilenet'`.
        variant: `'l1'` or `'delta'`.

    Returns:
        dict, see the module docstring.
    """
    config = plain(dict(config))
    if variant not in ("l1", "delta"):
        raise ConfigurationError(
            "`train_clips` trains the 'l1' and 'delta' variants; baselines "
            f"use `train_frames`. Received: variant={variant!r}")
    epochs = _check_positive("epochs", config["epochs"])
    start_epoch = int(config.get("start_epoch") or 0)
    t0 = time.time()
    root, names = _start(config, run, log, architecture, variant)
    train_ds, val_ds = training_clips(config, root, names, architecture)
    train_stream, steps = _train_stream(train_ds, config.get("steps_per_epoch"))
    val_stream, _ = _limit(val_ds, config.get("validation_steps"))
    steps_per_epoch = steps or len(train_ds)
    run.info["data"].update({
        "train_clips": int(train_ds.num_clips),
        "val_clips": int(val_ds.num_clips),
        "train_batches_per_epoch": int(steps_per_epoch),
        "val_split": "test",
    })
    log.info("%d training clips (%d batches per epoch), %d validation clips "
             "(test split)", train_ds.num_clips, steps_per_epoch,
             val_ds.num_clips)
    _timed(run, "data", t0)

    t0 = time.time()
    model = build_td_model(architecture, variant, config, len(names))
    _model_info(run, model)
    ckpt_dir = checkpoint_directory(experiment, config)
    run.info["checkpoint_dir"] = ckpt_dir
    resumed, path = prepare_checkpoints(ckpt_dir, config.get("resume", False),
                                        log)
    if path is not None:
        model.load_weights(path)
        log.info("resumed from %s (epoch %d)", path, resumed)
        print(f"Resuming after epoch {resumed} from {path}")
        run.info["resume"] = {"epoch": resumed, "path": path}
    elif config.get("initial_weights"):
        report = load_weights_by_name(model, config["initial_weights"],
                                      log=log)
        run.info["initial_weights"] = report_dict(report)
    else:
        log.warning("no `initial_weights`: training from random "
                    "initialisation (the paper started from the fine-tuned "
                    "baseline)")
        run.info["initial_weights"] = None
    initial_epoch = max(resumed, start_epoch)
    done_steps = (initial_epoch - start_epoch) * steps_per_epoch
    compile_model(model, config, skip_resume_steps=done_steps)
    _timed(run, "build", t0)

    run_dir = run_directory(run)
    best_path = os.path.join(run_dir, "best.weights.h5")
    history = {}
    if initial_epoch < epochs:
        t0 = time.time()
        os.makedirs(ckpt_dir, exist_ok=True)
        write_json_atomic(os.path.join(ckpt_dir, "config.json"), config)
        fit = model.fit(
            train_stream, epochs=epochs, initial_epoch=initial_epoch,
            steps_per_epoch=steps, validation_data=val_stream, shuffle=False,
            verbose=config.get("verbose", 2),
            callbacks=_callbacks(run, ckpt_dir,
                                 config.get("checkpoint_keep", 2), best_path,
                                 True))
        history = fit.history
        _timed(run, "train", t0)
    else:
        log.info("all %d epochs already done; evaluating", epochs)
    _finish_weights(run, model, run_dir, best_path)
    last = _history_last(history)
    if not config.get("final_evaluation", True):
        return _final_result({}, last, resumed, epochs)
    t0 = time.time()
    if config.get("eval_weights", "last") == "best" and os.path.isfile(
            best_path):
        model.load_weights(best_path)
    eval_model, _ = _evaluation_model(config, architecture, variant,
                                      len(names), model)
    compile_model(eval_model, config)
    _timed(run, "build_eval", t0)
    result = evaluate_model(eval_model, config, root, names, architecture,
                            run, log, step=max(epochs - 1, 0))
    return _final_result(result, last, resumed, epochs)


def _set_trainable(model, backbone, prefix, head_only):
    """Phase 1: head only; phase 2: `prefix*` layers and the head."""
    count = 0
    for layer in model.layers:
        if layer.name in backbone and layer.name != "frames":
            trainable = (not head_only) and (
                prefix is None or layer.name.startswith(prefix))
        else:
            trainable = True
        layer.trainable = trainable
        count += int(trainable and bool(layer.weights))
    return count


def train_frames(config, run, log, experiment, architecture):
    """Main of the baseline scripts: 2-D fine-tune on frames, TD evaluation.

    Phase 1 (`head_epochs` epochs at `head_lr`) trains only the new head on
    a frozen backbone; phase 2 (up to `epochs`, at `lr`) trains the
    backbone layers whose names start with `finetune_prefix` (every layer
    when None) and the head, with a fresh optimizer (the original
    recompiled). Then the time-distributed `VideoClassifier` (`resnet50_*` /
    `mobilenet_*` preset, with zero-weight L1 slots when `measure_activations`, so
    its activation densities are reported like the original TD inference)
    receives the weights by name and is evaluated on test clips.

    Args:
        config: the script's Sacred config.
        run: the Sacred `_run`.
        log: the Sacred `_log`.
        experiment: str, the experiment name.
        architecture: `'resnet50'` or `'mobilenet'`.

    Returns:
        dict, see the module docstring.
    """
    config = plain(dict(config))
    epochs = _check_positive("epochs", config["epochs"])
    head_epochs = int(config.get("head_epochs") or 0)
    if head_epochs > epochs:
        raise ConfigurationError(
            "`head_epochs` must not exceed `epochs` (phase 2 runs epochs "
            f"head_epochs+1..epochs). Received: head_epochs={head_epochs}, "
            f"epochs={epochs}")
    t0 = time.time()
    root, names = _start(config, run, log, architecture, "baseline")
    common = dict(
        image_size=tuple(config["image_size"]),
        preprocessing=ARCHITECTURES[architecture]["preprocessing"],
        classes=names, source=config.get("source", "frames"))
    train_ds = frame_dataset(
        root, subset="train", batch_size=config["batch_size"],
        augment=config.get("augment", True), shuffle=True,
        seed=config.get("seed"), frame_step=config.get("frame_step", 1),
        **common)
    val_ds = frame_dataset(
        root, subset="test", batch_size=config["batch_size"],
        frame_step=config.get("val_frame_step") or config.get(
            "frame_step", 1), **common)
    train_stream, steps = _train_stream(train_ds, config.get("steps_per_epoch"))
    val_stream, _ = _limit(val_ds, config.get("validation_steps"))
    steps_per_epoch = steps or len(train_ds)
    run.info["data"].update({
        "train_frames": int(train_ds.num_clips),
        "val_frames": int(val_ds.num_clips),
        "train_batches_per_epoch": int(steps_per_epoch),
        "val_split": "test",
    })
    log.info("%d training frames (%d batches per epoch), %d validation "
             "frames (test split)", train_ds.num_clips, steps_per_epoch,
             val_ds.num_clips)
    _timed(run, "data", t0)

    t0 = time.time()
    model, backbone = build_frame_model(architecture, config, len(names))
    _model_info(run, model)
    ckpt_dir = checkpoint_directory(experiment, config)
    run.info["checkpoint_dir"] = ckpt_dir
    resumed, path = prepare_checkpoints(ckpt_dir, config.get("resume", False),
                                        log)
    if path is not None:
        model.load_weights(path)
        log.info("resumed from %s (epoch %d)", path, resumed)
        print(f"Resuming after epoch {resumed} from {path}")
        run.info["resume"] = {"epoch": resumed, "path": path}
    else:
        reports = {}
        for key in ("imagenet_weights", "initial_weights"):
            if config.get(key):
                reports[key] = report_dict(
                    load_weights_by_name(model, config[key], key, log))
        if not reports:
            log.warning("no `imagenet_weights`: the backbone starts from "
                        "random initialisation (the paper fine-tuned "
                        "ImageNet weights)")
        run.info["initial_weights"] = reports or None
    _timed(run, "build", t0)

    run_dir = run_directory(run)
    best_path = os.path.join(run_dir, "best.weights.h5")
    os.makedirs(ckpt_dir, exist_ok=True)
    write_json_atomic(os.path.join(ckpt_dir, "config.json"), config)
    phases = [
        ("head", 0, head_epochs, config.get("head_lr"), True),
        ("finetune", head_epochs, epochs, config["lr"], False),
    ]
    history = {}
    t0 = time.time()
    for name, first, last, lr, head_only in phases:
        if last <= max(first, resumed):
            continue
        initial = max(first, resumed)
        trainable = _set_trainable(model, backbone,
                                   config.get("finetune_prefix"), head_only)
        log.info("phase %s: epochs %d-%d, lr %s, %d trainable layers", name,
                 initial + 1, last, lr, trainable)
        compile_model(model, config, lr=lr,
                      skip_resume_steps=(initial - first) * steps_per_epoch)
        fit = model.fit(
            train_stream, epochs=last, initial_epoch=initial,
            steps_per_epoch=steps, validation_data=val_stream, shuffle=False,
            verbose=config.get("verbose", 2),
            callbacks=_callbacks(run, ckpt_dir,
                                 config.get("checkpoint_keep", 2), best_path,
                                 True))
        history = fit.history
    _timed(run, "train", t0)
    _finish_weights(run, model, run_dir, best_path)
    last = _history_last(history)
    if not config.get("final_evaluation", True):
        return _final_result({}, last, resumed, epochs)

    t0 = time.time()
    if config.get("eval_weights", "last") == "best" and os.path.isfile(
            best_path):
        model.load_weights(best_path)
    eval_model, report = _evaluation_model(config, architecture, "baseline",
                                           len(names), model)
    run.info["td_transfer"] = report_dict(report)
    log.info("%s", report.summary())
    compile_model(eval_model, config)
    _timed(run, "build_eval", t0)
    result = evaluate_model(eval_model, config, root, names, architecture,
                            run, log, step=max(epochs - 1, 0))
    return _final_result(result, last, resumed, epochs)


def evaluate(config, run, log, experiment, architecture, variant):
    """The `evaluate` command: a weights file (or the latest checkpoint of
    this configuration) evaluated on the test split (spec §7).

    Args:
        config: the script's Sacred config; `weights` names the file (any
            checkpoint whose layer names match: this variant's, or for a
            baseline a 2-D or TD baseline file). None takes the latest
            `EpochCheckpoint` of the configuration.
        run: the Sacred `_run`.
        log: the Sacred `_log`.
        experiment: str, the experiment name.
        architecture: `'resnet50'` or `'mobilenet'`.
        variant: `'baseline'`, `'l1'` or `'delta'`.

    Returns:
        dict: `accuracy`, `loss`, `clips`, `steps` and the sparsity figures.
    """
    config = plain(dict(config))
    root, names = _start(config, run, log, architecture, variant)
    weights = config.get("weights")
    if not weights:
        ckpt_dir = checkpoint_directory(experiment, config)
        _, weights = latest_checkpoint(ckpt_dir)
        if weights is None:
            raise DataNotFoundError(
                "No weights to evaluate: pass `weights=<file>` (e.g. "
                f"results/{experiment}/<run id>/last.weights.h5) or train "
                f"this configuration first (no checkpoint in {ckpt_dir!r})."
            )
    t0 = time.time()
    model = build_td_model(architecture, _eval_sparsity(config, variant),
                           config, len(names), sp_rate=0.0)
    _model_info(run, model)
    # Layer names are shared by the 2-D, baseline, L1 and delta models, so
    # any of their checkpoints loads by name (a 2-D baseline file too).
    report = load_weights_by_name(model, weights, "weights", log)
    run.info["weights"] = str(weights)
    run.info["initial_weights"] = report_dict(report)
    if variant == "delta" and not any(
            isinstance(model.get_layer(n), DeltaActivation)
            and n in report.matched
            for n in [s.layer_name for s in model.sparsity_slots]):
        log.warning("the weights file has no delta thresholds: every slot "
                    "keeps thr_init")
    compile_model(model, config)
    _timed(run, "build", t0)
    return evaluate_model(model, config, root, names, architecture, run, log)


__all__ = [
    "ARCHITECTURES",
    "PREPARE_COMMAND",
    "VARIANTS",
    "build_frame_model",
    "build_td_model",
    "checkpoint_directory",
    "class_names",
    "compile_model",
    "config_key",
    "evaluate",
    "evaluate_model",
    "load_weights_by_name",
    "make_optimizer",
    "missing_data_message",
    "plain",
    "plot_layer_sparsity",
    "prepare_checkpoints",
    "report_dict",
    "resolve_data_root",
    "sparsity_table",
    "train_clips",
    "train_frames",
]
