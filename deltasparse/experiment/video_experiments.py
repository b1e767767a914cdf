"""Sacred glue of the UCF101 temporal-sparsity experiments.

The six scripts `experiments/ucf_{resnet50,mobilenet}_{baseline,l1,delta}.py`
hold only what differs between them (the hyper-parameters of spec
`delta_activation.md` §5 and §9); `add_video_experiment(ex, architecture,
sparsity)` gives a script everything else: the shared config scopes (the
`runtime` keys, `video_config`, and `clip_config` or `frame_config`), the
`demo` named config (`add_demo`), the main command (train, then evaluate)
and the `evaluate` command. The work is done by
`deltasparse.training.video_protocol` (optimizer, model from its preset,
clip datasets, one resumable `Trainer` fit per phase, final evaluation) and
`deltasparse.reporting.sparsity_plots` (density table, per-layer plot).

Every model is a `VideoClassifier` from its preset (`<architecture>_<
sparsity>`): the L1 and delta models train on clips; the frame baselines
train the same classifier on 1-frame clips (ResNet-50: head only, then
`conv5_*` and the head; MobileNet: every layer) and are evaluated on clips,
as one model (with zero-weight L1 slots when `measure_activations`, so their
activation densities are reported like the original TD inference).

What a run records (in its own folder, `results/<experiment>/<run id>/`):

- per-epoch `log_scalar` of every epoch figure, train and validation:
  `loss`, `accuracy`, `val_loss`, `val_accuracy`, the sparsity figures of
  `deltasparse.models.SparsityLogger` (`delta_density_<group>` for delta
  models, `act_density_<group>` for L1 models, `op_ratio_counted`,
  `macs_dense_counted`, `macs_effective_counted`, and their `val_` twins)
  and the trainer's `data_time`, `step_time`, `clips_per_second`; on
  resume the epochs finished before are logged again, so the metrics hold
  every epoch; the final evaluation as `test.<figure>` at the last epoch;
- artifacts: `last.weights.h5` (after the last epoch), `best.weights.h5`
  (best `val_accuracy`, across resumes and phases), `layer_sparsity.png`
  (per-layer densities of the first `plot_clips` evaluation clips; absent
  for a model without slots) and `layer_sparsity.json` (its numbers);
  `model.keras` + `model_info.json` (the evaluated model, its class names,
  frame size, clip length and preprocessing: what `deltasparse-export` and
  `deltasparse-demo` read); `evaluation/sliding/` and
  `evaluation/<N>clips_<K>crops/` per `eval_views` entry (`evaluation.json`
  with the views, clip length, input size, counted GFLOPs per view and per
  video and every figure; `per_class.csv`, `confusion_matrix.png`,
  `misclassified.csv`);
- `_run.info`: `data` (dataset, root, class count, clip counts), `model`,
  `initial_weights` (the transfer report), `resume`, `checkpoint_dir`,
  `timings` (seconds per stage) and `final` (the evaluation figures);
- `_run.result`: the dict returned by the command: test `accuracy` (clip),
  `video_accuracy` (the clips of each video averaged, `eval_aggregate`),
  `clip_top5`, `video_top5`, mean-class accuracies, `loss`, `clips`,
  `videos`, `steps`, `gflops_per_view`, every sparsity figure and
  `<N>clips_<K>crops.<figure>` per `eval_views` entry, plus (training)
  `last_epoch.{loss,accuracy,val_loss,val_accuracy}`, `epochs` and
  `resumed_from_epoch`.

Resuming: checkpoints (weights and optimizer state, history, best weights)
go to `results/<experiment>/checkpoints/<key>/<phase>/`, where `<key>` is
`run_name` or a hash of the configuration keys that change training (not
`epochs`, `resume`, devices, verbosity or evaluation settings). Started
again with the same configuration and `resume=True`, a run continues after
the last finished epoch exactly (data order and augmentation derive from
`(seed, epoch)`); with `resume=False` older checkpoints are moved aside
(`<phase>.replaced-<time>`), never deleted. The folder is locked while a run
uses it: a second run of the same configuration stops with one line.

Differences from the original scripts (spec §5-§7, §10), all deliberate:

- Validation during training reads the TEST split (`<data_root>/test`): the
  original `5ac0224` and its MobileNet generator did so, but HEAD's ResNet
  generator read the training videos (spec §10 item 1). UCF101's official
  lists have no separate validation split.
- The final evaluation uses the inference settings of spec §7 (T = 32,
  sequence stride 16, batch 1 by default) on the trained model itself,
  and adds video accuracy (the original reported clip accuracy only); a
  test video shorter than one evaluation clip now gives one looped clip
  instead of none;
  `loss` is the plain cross-entropy without the sparsity terms (the
  original inference scripts rebuilt the model with `sp_rate=0`; its TD
  ResNet-50 baseline inference kept an L1 `sp_rate` 1e-5 in the loss, the
  accuracy is unaffected). `eval_steps=None` evaluates every test clip; the
  original sometimes used 1000 steps of an unshuffled set, i.e. only the
  first classes (§10 item 10): set `eval_steps=1000`, and
  `eval_shuffle=True` for a random subset instead. The per-layer plot uses
  the first `plot_clips` clips of the evaluation (the original a random
  batch), so its numbers are a subset of the evaluation's.
- The 2-D baselines are the video model on 1-frame clips (same layers,
  names and head as the original 2-D models), so their weights need no
  transfer to be evaluated on clips.
- Weights move between the baseline, L1 and delta models by layer name
  (`deltasparse.models.transfer_weights`), not by layer index (§10 item
  11). Checkpoints are Keras 3 `.weights.h5` files.
- On resume the optimizer state and learning-rate schedule continue (the
  original created a fresh optimizer, resetting the inverse-time decay,
  each time a script was started from a checkpoint; that is still what
  `initial_weights` + `start_epoch` does).
- `bn_momentum` can lower the BatchNormalization momentum (Keras default
  0.99, the original's). Only the `demo` configurations use it: they train
  from scratch for a few hundred steps, too few for moving statistics with
  momentum 0.99 to forget their initial values.
- `optimizer='adam'` exists for the `demo` configurations only; the paper
  configurations use SGD with momentum 0.9 and the legacy inverse-time
  `decay` (`InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`).
- `distribution` (None, `"mirrored"`, `"multi_worker"`) trains on several
  devices or workers (`deltasparse.training.distribution_strategy`); the
  original used one GPU.
"""

import hashlib
import json
import logging
import math
import os
import time

import numpy as np

from deltasparse.data.datasets.ucf101 import UCF101_SPLITS_URL
from deltasparse.data.datasets.ucf101 import UCF101_URL
from deltasparse.experiment.config import add_runtime_config
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.experiment.observers import plain
from deltasparse.experiment.observers import run_directory
from deltasparse.experiment.runtime import configure_devices
from deltasparse.experiment.runtime import set_global_seed
from deltasparse.training import video_protocol as protocol
from deltasparse.training.checkpoints import load_weights_quietly
from deltasparse.training.checkpoints import write_json_atomic

logger = logging.getLogger(__name__)

PREPARE_COMMAND = (
    "python dataset_preparation/prepare_ucf101.py --source <UCF-101> "
    "--lists <ucfTrainTestlist> --output data/ucf101 --split {split}"
)
"""The command that prepares UCF101 split N under `data/ucf101/splitN`
(format it with `split=N`)."""

RENAMED_KEYS = {
    "nb_frames": "clip_length",
    "eval_nb_frames": "eval_clip_length",
    "classes": "num_classes",
}
"""Config keys renamed by the one-vocabulary refactor (old -> new)."""

MIN_IMAGE_SIZE = 32
"""Smallest frame side of both backbones (ResNet-50: 1x1 conv5 maps)."""

# Config keys that do not change what training computes: left out of the
# checkpoint key, so a run can be resumed with another epoch count, device
# or evaluation setting.
_NOT_TRAINING = frozenset({
    "epochs", "resume", "run_name", "gpus", "memory_growth", "verbose",
    "weights", "checkpoint_keep", "final_evaluation", "plot_clips",
    "run_eagerly", "jit_compile", "distribution",
})


# --------------------------------------------------------------------------
# Shared configuration (Sacred config scopes; comments show in print_config)
# --------------------------------------------------------------------------


def video_config():
    dataset = "ucf101"  # 'ucf101' (prepared split at data_root) or 'synthetic'
    split = 1  # official UCF101 split 1, 2 or 3 (the protocol averages all 3)
    data_root = f"data/ucf101/split{split}"  # prepared split: train/, test/, *_frames/
    source = "frames"  # read 'frames' (extracted JPEGs) or decode 'video'
    # dataset='synthetic' only: arguments of ensure_synthetic_ucf
    synthetic = dict(
        cache_dir=None,  # None = $DELTASPARSE_HOME or ~/.deltasparse
        classes=None,  # None = all 8 action classes; n = the first n
        videos_per_class=24,  # videos per class
        clips_per_group=3,  # videos per group (a group shares a background)
        test_groups=2,  # the first groups of every class form the test set
        frames=32,  # frames per video
        size=64,  # frame side in pixels
    )
    num_classes = 101  # expected number of classes (None = take it from the data)
    class_limit = None  # use only the first N classes (sorted names); None = all
    image_size = [224, 224]  # frame height and width fed to the network
    distribution = None  # None = one device, "mirrored" (local GPUs), "multi_worker" (TF_CONFIG)
    augment = True  # random affine augmentation, one transform per clip (§6.2, §6.3)
    bn_momentum = None  # BatchNorm momentum; None = Keras 0.99 (the original)
    optimizer = "sgd"  # 'sgd' (paper) or 'adam' (demo only)
    momentum = 0.9  # SGD momentum (classic)
    decay = 5e-4  # legacy inverse-time decay per step: lr / (1 + decay * t)
    steps_per_epoch = None  # batches per epoch; None = every training clip
    validation_steps = None  # validation batches per epoch; None = all
    initial_weights = None  # weights file loaded by layer name; None = random
    resume = False  # continue from this configuration's last epoch checkpoint
    run_name = None  # checkpoint folder name; None = hash of the training config
    checkpoint_keep = 2  # epoch checkpoints kept for resuming
    run_eagerly = False  # eager Keras (debugging, tiny tests)
    jit_compile = False  # XLA compilation; "auto" = on GPU only
    final_evaluation = True  # evaluate on the test split after training
    eval_weights = "last"  # weights of the final evaluation: 'last' or 'best'
    weights = None  # evaluate command: weights file; None = latest checkpoint
    eval_clip_length = 32  # clip length T of the evaluation (§7)
    eval_sequence_stride = 16  # step between evaluation clip starts (§7)
    eval_batch_size = 1  # evaluation clips per batch (§7)
    eval_steps = None  # evaluation batches; None = every test clip (orig. all)
    eval_shuffle = False  # shuffle test clips (random subset with eval_steps; clip accuracy only)
    eval_aggregate = "prob"  # video score: mean of softmax 'prob'abilities or raw 'score's of its views
    eval_views = []  # extra multi-view evaluations: [[num_clips, num_crops], ...], crops 1, 3 or 10
    eval_view_clip_length = None  # clip length of eval_views; None = eval_clip_length
    eval_crop_fraction = None  # crop side / short side; None = 0.875 (1, 10 crops), 1.0 (3)
    plot_clips = 4  # evaluation clips of the per-layer sparsity plot; 0 = no plot


def clip_config():
    batch_size = 16  # clips per training batch
    clip_length = 2  # clip length T during training (and validation)
    frame_stride = 1  # step between the frames of a clip
    sequence_stride = 1.0  # step between clip starts (ceil(T / 2))
    val_sequence_stride = None  # clip step of the validation clips; None = same
    thr_trainable = True  # learn the quantization steps (delta models)
    lr = 1e-3  # initial learning rate
    epochs = 30  # last epoch (training runs start_epoch+1 .. epochs)
    start_epoch = 0  # epochs already done by initial_weights (numbering only)


def frame_config():
    batch_size = 32  # frames per training batch (1-frame clips)
    frame_step = 1  # train on every frame_step-th frame (original: every one)
    val_frame_step = None  # frame step of the validation frames; None = same
    imagenet_weights = None  # keras.applications no-top .h5 (a path), by name
    measure_activations = True  # zero-weight L1 slots report activation densities
    head_lr = None  # learning rate of a head-only phase (none: MobileNet)
    head_epochs = 0  # epochs of a head-only phase before the fine-tune
    finetune_prefix = None  # fine-tune these backbone layers + head; None = all


def mobilenet_config():
    alpha = 1.0  # MobileNet width multiplier


DEMO = {
    "dataset": "synthetic",  # embedded synthetic action dataset, no download
    "num_classes": None,  # 8 synthetic classes
    "bn_momentum": 0.9,  # few hundred steps: let moving statistics converge
    "optimizer": "adam",  # from scratch in minutes (the paper fine-tuned SGD)
    "decay": 0.0,  # constant learning rate
    "eval_batch_size": 4,  # 48 test videos, one 32-frame clip each
    "eval_views": [[1, 1], [3, 1], [1, 3], [3, 3]],  # clips x crops per video
    "eval_view_clip_length": 8,  # 8-frame views: 3 clips cover a 32-frame video
}
"""What every `demo` named config shares (see `add_demo`)."""


def add_demo(ex, **values):
    """Registers the `demo` named config: `DEMO` updated with `values`.

    Args:
        ex: the `sacred.Experiment`.
        **values: the script's own demo values.

    Returns:
        dict, the named config.
    """
    demo = dict(DEMO, **values)
    ex.add_named_config("demo", demo)
    return demo


def add_video_experiment(ex, architecture, sparsity):
    """Adds the shared config and the two commands to a UCF101 script.

    The script's own `@ex.config` (added after this call) then holds only
    what differs: its paper values override the shared defaults.

    Args:
        ex: the `sacred.Experiment` (from `make_experiment`).
        architecture: `"resnet50"` or `"mobilenet"`.
        sparsity: `None` (the frame baseline), `"l1"` or `"delta"`.

    Returns:
        The experiment.
    """
    protocol.preset_name(architecture, sparsity)  # checks both
    add_runtime_config(ex)
    ex.config(video_config)
    ex.config(frame_config if sparsity is None else clip_config)
    if architecture == "mobilenet":
        ex.config(mobilenet_config)
    name = ex.path

    def main(_config, _run, _log):
        """Trains the model (§5), then evaluates it on test clips (§7)."""
        return train(_config, _run, _log, name, architecture, sparsity)

    def evaluate(_config, _run, _log):
        """Evaluates `weights` (or the latest checkpoint) on test clips."""
        return evaluate_weights(_config, _run, _log, name, architecture,
                                sparsity)

    ex.main(main)
    ex.command(evaluate)
    return ex


# --------------------------------------------------------------------------
# Config checks
# --------------------------------------------------------------------------


def check_choice(name, value, choices):
    if value not in choices:
        raise ConfigurationError(
            f"`{name}` must be one of {list(choices)}. "
            f"Received: {name}={value!r}")
    return value


def check_positive(name, value, integer=True, allow_none=False):
    if value is None and allow_none:
        return None
    kinds = (int, np.integer) if integer else (int, float, np.number)
    if (isinstance(value, bool) or not isinstance(value, kinds)
            or not math.isfinite(value) or value <= 0):
        what = "a positive int" if integer else "a positive number"
        extra = " or None" if allow_none else ""
        raise ConfigurationError(
            f"`{name}` must be {what}{extra}. Received: {name}={value!r}")
    return int(value) if integer else float(value)


def check_image_size(value):
    """`image_size` as `(height, width)`, each an int >= 32."""
    ok = (isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool)
        and v >= MIN_IMAGE_SIZE for v in value))
    if not ok:
        raise ConfigurationError(
            "`image_size` must be [height, width], two ints >= "
            f"{MIN_IMAGE_SIZE}. Received: image_size={value!r}")
    return tuple(int(v) for v in value)


def check_views(views):
    """`eval_views` as a list of `(num_clips, num_crops)` int pairs."""
    ok = isinstance(views, (list, tuple)) and all(
        isinstance(v, (list, tuple)) and len(v) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in v)
        and v[0] >= 1 and v[1] in (1, 3, 10) for v in views)
    if not ok:
        raise ConfigurationError(
            "`eval_views` must be a list of [num_clips, num_crops] pairs, "
            "num_clips >= 1 and num_crops 1, 3 or 10, e.g. "
            f"[[1, 1], [10, 3]]. Received: eval_views={views!r}")
    return [tuple(v) for v in views]


def check_config(config, sparsity):
    """Checks a script's config; returns it as a plain dict.

    Raises:
        ConfigurationError: naming the first wrong key as the user typed it.
    """
    config = plain(dict(config))
    check_image_size(config["image_size"])
    check_positive("epochs", config["epochs"])
    check_positive("batch_size", config["batch_size"])
    check_positive("eval_batch_size", config["eval_batch_size"])
    check_positive("eval_clip_length", config["eval_clip_length"])
    check_positive("eval_steps", config["eval_steps"], allow_none=True)
    check_positive("steps_per_epoch", config["steps_per_epoch"],
                   allow_none=True)
    check_positive("validation_steps", config["validation_steps"],
                   allow_none=True)
    check_choice("eval_weights", config["eval_weights"], ("last", "best"))
    check_choice("split", config.get("split", 1), (1, 2, 3))
    check_choice("eval_aggregate", config.get("eval_aggregate", "prob"),
                 ("prob", "score"))
    check_views(config.get("eval_views") or [])
    check_positive("eval_view_clip_length",
                   config.get("eval_view_clip_length"), allow_none=True)
    fraction = config.get("eval_crop_fraction")
    if fraction is not None and (isinstance(fraction, bool) or not isinstance(
            fraction, (int, float)) or not 0 < fraction <= 1):
        raise ConfigurationError(
            "`eval_crop_fraction` must be None or a number in (0, 1]. "
            f"Received: eval_crop_fraction={fraction!r}")
    check_choice("distribution", config.get("distribution"),
                 (None, "none", "mirrored", "multi_worker"))
    if config.get("bn_momentum") is not None and not (
            0.0 <= float(config["bn_momentum"]) < 1.0):
        raise ConfigurationError(
            "`bn_momentum` must be None or in [0, 1). "
            f"Received: bn_momentum={config['bn_momentum']!r}")
    if sparsity is None:
        check_positive("frame_step", config["frame_step"])
        head = int(config.get("head_epochs") or 0)
        if head > config["epochs"]:
            raise ConfigurationError(
                "`head_epochs` must not exceed `epochs` (phase 2 runs epochs "
                f"head_epochs+1..epochs). Received: head_epochs={head}, "
                f"epochs={config['epochs']}")
        if head and not config.get("head_lr"):
            raise ConfigurationError(
                "`head_lr` must be a positive number when `head_epochs` > 0."
                f" Received: head_lr={config.get('head_lr')!r}")
    else:
        check_positive("clip_length", config["clip_length"])
        if sparsity == "delta" and config["clip_length"] < 2:
            raise ConfigurationError(
                "`clip_length` must be >= 2 for a delta model (temporal "
                f"deltas). Received: clip_length={config['clip_length']!r}")
    return config


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
                f"Received: run_name={name!r}")
        return name
    relevant = {k: v for k, v in config.items()
                if k not in _NOT_TRAINING and not k.startswith("eval_")}
    digest = hashlib.sha1(
        json.dumps(relevant, sort_keys=True, default=str).encode()
    ).hexdigest()
    return "cfg-" + digest[:12]


def checkpoint_directory(experiment, config, root=None):
    """`<results root>/<experiment>/checkpoints/<config_key(config)>`."""
    from deltasparse.experiment.observers import results_root

    return os.path.join(results_root(root), experiment, "checkpoints",
                        config_key(config))


# --------------------------------------------------------------------------
# Data resolution
# --------------------------------------------------------------------------


def missing_data_message(data_root, missing, split=1):
    """The one message printed when the prepared UCF101 split is absent."""
    return (
        f"Prepared UCF101 split not found: {missing} is missing under "
        f"data_root={data_root!r}. Download {UCF101_URL} (unpack to "
        f"UCF-101/) and {UCF101_SPLITS_URL} (unzip to ucfTrainTestlist/), "
        f"prepare split {split} once with "
        f"`{PREPARE_COMMAND.format(split=split)}` and run with "
        f"`split={split}` (data_root=data/ucf101/split{split}, the "
        "default). No download needed: `with demo` trains on the embedded "
        "synthetic action dataset."
    )


def resolve_data_root(dataset="ucf101", data_root="data/ucf101/split1",
                      source="frames", synthetic=None, split=1):
    """Returns the prepared split folder, or stops with one clear message.

    Args:
        dataset: `'ucf101'` (a split prepared by
            `dataset_preparation/prepare_ucf101.py` at `data_root`) or
            `'synthetic'` (the embedded synthetic action dataset, generated
            and prepared on first use by `ensure_synthetic_ucf`).
        data_root: str, the prepared split folder (`<output>/split1`).
        source: `'frames'` (extracted JPEGs) or `'video'` (decode videos).
        synthetic: dict of `ensure_synthetic_ucf` arguments, or None.
        split: int, the official split `data_root` holds (for the message).

    Returns:
        str, absolute path of the split folder (with `train/` and `test/`).

    Raises:
        DataNotFoundError: the prepared split is missing (the message names
            the preparation command).
        ConfigurationError: unknown `dataset` or `source`.
    """
    check_choice("dataset", dataset, ("ucf101", "synthetic"))
    check_choice("source", source, ("frames", "video"))
    if dataset == "synthetic":
        from deltasparse.data.datasets.synthetic_actions import (
            ensure_synthetic_ucf)

        kwargs = {k: v for k, v in plain(dict(synthetic or {})).items()
                  if v is not None}
        try:
            return os.path.abspath(ensure_synthetic_ucf(**kwargs))
        except (TypeError, ValueError) as err:
            raise ConfigurationError(
                f"Invalid `synthetic` settings: {err}. "
                f"Received: synthetic={kwargs!r}") from None
    if not data_root:
        raise DataNotFoundError(
            missing_data_message(data_root, "the folder", split))
    root = os.path.abspath(os.path.expanduser(str(data_root)))
    needed = ["train", "test"]
    if source == "frames":
        needed += ["train_frames", "test_frames"]
    for name in needed:
        if not os.path.isdir(os.path.join(root, name)):
            raise DataNotFoundError(
                missing_data_message(data_root, name + "/", split))
    return root


def class_names(root, source="frames", num_classes=None, class_limit=None):
    """Sorted class folder names of the training subset, checked.

    Python-sorted (case-sensitive) names, like the original (§10 item 14).

    Args:
        root: str, the prepared split folder.
        source: `'frames'` or `'video'`.
        num_classes: int or None, the expected number of classes (after
            `class_limit`); None accepts any.
        class_limit: int or None, keep only the first N sorted classes.

    Returns:
        list of str, the class names; label `j` is `names[j]`.

    Raises:
        ConfigurationError: when the count differs from `num_classes`.
    """
    folder = os.path.join(root, "train_frames" if source == "frames"
                          else "train")
    names = sorted(e.name for e in os.scandir(folder)
                   if e.is_dir() and not e.name.startswith("."))
    limit = check_positive("class_limit", class_limit, allow_none=True)
    if limit is not None:
        names = names[:limit]
    if not names:
        raise DataNotFoundError(
            missing_data_message(root, "every class folder of train/"))
    if num_classes is not None and len(names) != num_classes:
        raise ConfigurationError(
            f"The data at {root!r} has {len(names)} classes but the config "
            f"expects `num_classes`={num_classes}; set `num_classes=None` to "
            "take the count from the data (or `class_limit` to use fewer). "
            f"Received: num_classes={num_classes!r}")
    return names


# --------------------------------------------------------------------------
# Run helpers
# --------------------------------------------------------------------------


def _timed(run, key, start):
    timings = dict(run.info.get("timings", {}))
    timings[key] = round(time.time() - start, 3)
    run.info["timings"] = timings


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


def load_weights_by_name(model, source, what="initial_weights"):
    """Copies weights into `model` by layer name; returns the report dict.

    Raises:
        DataNotFoundError: the file does not exist.
        ConfigurationError: nothing matched (wrong architecture?).
    """
    from deltasparse.models import transfer_weights

    source = os.path.expanduser(str(source))
    if not os.path.isfile(source):
        raise DataNotFoundError(
            f"`{what}` file not found: {source!r}. Pass a weights file "
            "(a checkpoint of another run, e.g. results/<experiment>/"
            "<id>/last.weights.h5, or a keras.applications ImageNet "
            "file; nothing is downloaded).")
    try:
        report = transfer_weights(source, model)
    except ValueError as err:
        raise ConfigurationError(f"`{what}`: {err}") from None
    if not report.matched:
        raise ConfigurationError(
            f"`{what}` shares no layer (name and shapes) with "
            f"{model.name!r}: wrong architecture, alpha or class count?\n"
            f"{report.summary()}")
    print(report.summary())
    return report_dict(report)


def _model_sparsity(config, sparsity):
    """The slot kind of the model a script trains and evaluates."""
    if sparsity is None and config.get("measure_activations", True):
        return "l1"
    return sparsity


def _start(config, run, log, architecture, sparsity):
    """Common start: checks, data (fails fast), devices, seed, model."""
    config = check_config(config, sparsity)
    root = resolve_data_root(config["dataset"], config.get("data_root"),
                             config["source"], config.get("synthetic"),
                             config.get("split", 1))
    names = class_names(root, config["source"], config["num_classes"],
                        config.get("class_limit"))
    configure_devices(config.get("gpus"), config.get("memory_growth", True))
    if config.get("seed") is not None:
        set_global_seed(config["seed"])
    run.info["data"] = {
        "dataset": config["dataset"], "root": root,
        "source": config["source"], "num_classes": len(names),
        "class_names": names if len(names) <= 20 else names[:20] + ["..."],
    }
    log.info("data: %s (%d classes) at %s", config["dataset"], len(names),
             root)
    clips = protocol.VideoClips(root, names, architecture,
                                config["image_size"], config["source"])
    from deltasparse.training import distribution_strategy

    try:
        strategy = distribution_strategy(config.get("distribution"))
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    slots = _model_sparsity(config, sparsity)
    overrides = dict(bn_momentum=config.get("bn_momentum"),
                     alpha=config.get("alpha"))
    if slots is not None:
        overrides["sp_rate"] = 0.0 if sparsity is None else config.get(
            "sp_rate")
    if slots == "delta":
        overrides.update(thr_init=config.get("thr_init"),
                         thr_trainable=config.get("thr_trainable", True))
    start = time.time()
    with strategy.scope():
        try:
            model = protocol.build_video_classifier(
                architecture, slots, len(names), config["image_size"],
                **overrides)
        except ValueError as err:
            raise ConfigurationError(str(err)) from None
    run.info["model"] = {
        "architecture": architecture, "sparsity": sparsity,
        "name": model.name, "params": int(model.count_params()),
        "slots": len(getattr(model, "sparsity_slots", ()))}
    _timed(run, "build", start)
    return config, clips, model, strategy


def _test_clips(config, clips, sparsity, evaluation):
    """Validation (`evaluation=False`) or evaluation clips (§7)."""
    if evaluation and config["eval_shuffle"]:
        return clips.test(config["eval_clip_length"],
                          config["eval_sequence_stride"],
                          config["eval_batch_size"],
                          shuffle=True, seed=config["seed"])
    if evaluation:  # every sliding clip of every test video, full frames
        return clips.views(config["eval_clip_length"],
                           config["eval_batch_size"], sampling="sliding",
                           sequence_stride=config["eval_sequence_stride"],
                           full_frame=True)
    if sparsity is None:
        step = config.get("val_frame_step") or config["frame_step"]
        return clips.test(1, step, config["batch_size"])
    return clips.test(config["clip_length"],
                      config.get("val_sequence_stride")
                      or config["sequence_stride"], config["batch_size"],
                      frame_stride=config["frame_stride"])


def _phases(config, sparsity):
    if sparsity is not None:
        return [protocol.Phase("train", config["epochs"], config["lr"])]
    phases = []
    if config.get("head_epochs"):
        phases.append(protocol.Phase("head", config["head_epochs"],
                                     config["head_lr"], trainable_prefix=""))
    phases.append(protocol.Phase("finetune", config["epochs"], config["lr"],
                                 config.get("finetune_prefix")))
    return phases


def _initial_weights(config, model, sparsity):
    reports = {}
    for key in ("imagenet_weights", "initial_weights"):
        if config.get(key):
            reports[key] = load_weights_by_name(model, config[key], key)
    if not reports:
        logger.warning("no initial weights: training from random "
                       "initialisation (the paper fine-tuned)")
        return None
    return reports if sparsity is None else reports["initial_weights"]


_SPARSITY_PREFIXES = ("delta_density", "act_density", "op_ratio", "macs_")


def _gflops_per_view(model, clip_length, image_size):
    """Counted GMACs of one view (`deltasparse.evaluation.count_macs`)."""
    from deltasparse.evaluation import count_macs

    count = count_macs(model, (1, int(clip_length), *image_size, 3))
    return count.total * 1e-9


def _write_evaluation(run, model, evaluation, tag, clip_length, config,
                      extra=None):
    """The artifacts of one evaluation under `<run>/evaluation/<tag>/`."""
    from deltasparse.evaluation import write_evaluation_artifacts

    folder = os.path.join(run_directory(run), "evaluation", tag)
    gflops = _gflops_per_view(model, clip_length, config["image_size"])
    paths = write_evaluation_artifacts(
        evaluation, folder, gflops_per_view=gflops,
        extra=dict(extra or {}, aggregate=config["eval_aggregate"]))
    for path in paths.values():
        run.add_artifact(path, name=f"evaluation/{tag}/"
                         f"{os.path.basename(path)}")
    return gflops


def evaluate_views(config, run, model, clips, step=0):
    """The multi-view evaluations of `eval_views` (clip and video figures).

    Every `[num_clips, num_crops]` pair gives `num_clips` uniformly spaced
    clips of `eval_view_clip_length` frames x `num_crops` crops per test
    video; its figures are logged as `test.<N>clips_<K>crops.<figure>` and
    returned under the same keys; its artifacts go to
    `evaluation/<N>clips_<K>crops/`.

    Returns:
        `(figures, evaluations)`: the flat dict and `{label:
        (VideoEvaluation, GFLOPs per view)}` for the summary table.
    """
    from deltasparse.evaluation import evaluate_videos

    length = config.get("eval_view_clip_length") or config["eval_clip_length"]
    figures, evaluations = {}, {}
    for num_clips, num_crops in config.get("eval_views") or []:
        tag = f"{num_clips}clips_{num_crops}crops"
        dataset = clips.views(length, config["eval_batch_size"], num_clips,
                              num_crops,
                              crop_fraction=config.get("eval_crop_fraction"))
        start = time.time()
        evaluation = evaluate_videos(model, dataset,
                                     mode=config["eval_aggregate"],
                                     progress=config["verbose"] == 1)
        _timed(run, f"evaluate_{tag}", start)
        gflops = _write_evaluation(run, model, evaluation, tag, length,
                                   config)
        values = dict(evaluation.figures, gflops_per_view=gflops,
                      gflops_per_video=gflops * evaluation.figures["views"]
                      / evaluation.figures["videos"])
        for key, value in values.items():
            # The sparsity figures of every view setting stay in its
            # evaluation.json; the §7 evaluation reports them once.
            if isinstance(value, (int, float)) and not key.startswith(
                    _SPARSITY_PREFIXES):
                figures[f"{tag}.{key}"] = plain(value)
                run.log_scalar(f"test.{tag}.{key}", float(value), step)
        label = (f"{num_clips} clip{'s' * (num_clips != 1)} x {num_crops} "
                 f"crop{'s' * (num_crops != 1)}")
        evaluations[label] = (evaluation, gflops)
    return figures, evaluations


def evaluate_model(config, run, model, clips, step=0):
    """The evaluation of spec §7, the density table and per-layer plot,
    then the multi-view evaluations of `eval_views`.

    The §7 evaluation takes every sliding clip (`eval_clip_length` frames,
    `eval_sequence_stride` apart, whole frames resized) of every test
    video: clip accuracy as before, and video accuracy by averaging the
    clips of each video (`eval_aggregate`). Logs `test.<figure>` scalars at
    `step`, writes `evaluation/sliding/` (report JSON, per-class CSV,
    confusion matrix, misclassified videos), `layer_sparsity.png` and
    `.json` (models with sparsity slots only), prints the tables and fills
    `_run.info['final']`.

    Returns:
        dict: `accuracy` (clip), `video_accuracy`, `loss`, `clips`,
        `videos`, `steps`, every other figure and every sparsity figure,
        plus `<N>clips_<K>crops.<figure>` per `eval_views` entry.
    """
    from deltasparse.evaluation import format_evaluation
    from deltasparse.reporting.sparsity_plots import layer_table
    from deltasparse.reporting.sparsity_plots import plot_layer_sparsity
    from deltasparse.reporting.sparsity_plots import sparsity_table

    dataset = _test_clips(config, clips, None, evaluation=True)
    start = time.time()
    result, layers, evaluation = protocol.evaluate_with_layers(
        model, dataset, steps=config["eval_steps"],
        layer_clips=config["plot_clips"], progress=config["verbose"] == 1,
        mode=config["eval_aggregate"])
    result = {k: plain(v) for k, v in result.items()}
    _timed(run, "evaluate", start)
    evaluations = {}
    if evaluation is not None:
        gflops = _write_evaluation(
            run, model, evaluation, "sliding", config["eval_clip_length"],
            config, extra={"sequence_stride": config["eval_sequence_stride"]})
        result["gflops_per_view"] = gflops
        evaluations[f"sliding, stride {config['eval_sequence_stride']}"] = (
            evaluation, gflops)
    for key, value in result.items():
        if isinstance(value, (int, float)):
            run.log_scalar(f"test.{key}", float(value), step)
    if layers is not None:
        folder = run_directory(run)
        x_clips = int(config["plot_clips"])
        png = plot_layer_sparsity(
            layers, os.path.join(folder, "layer_sparsity.png"),
            f"{model.name}: per-layer density on {x_clips} test clips of "
            f"{config['eval_clip_length']} frames")
        data = {k: plain(np.asarray(v).tolist() if isinstance(v, np.ndarray)
                         else v) for k, v in layers.items()}
        js = os.path.join(folder, "layer_sparsity.json")
        write_json_atomic(js, data)
        run.add_artifact(png, name="layer_sparsity.png")
        run.add_artifact(js, name="layer_sparsity.json")
        print(layer_table(layers).replace(
            "density:", f"density ({x_clips} clips, plot {png}):", 1))
    video = result.get("video_accuracy")
    video = "" if video is None else (
        f", video accuracy {video:.4f} on {result.get('videos')} videos")
    print(f"Test: clip accuracy {result.get('accuracy', float('nan')):.4f}, "
          f"loss {result.get('loss', float('nan')):.4f} on "
          f"{result.get('clips')} clips (T={config['eval_clip_length']})"
          f"{video}.")
    table = sparsity_table(result)
    if table:
        print(table)
    views, more = evaluate_views(config, run, model, clips, step)
    result.update(views)
    evaluations.update(more)
    if evaluations:
        print(format_evaluation(
            {k: e for k, (e, _) in evaluations.items()},
            gflops_per_view={k: g for k, (_, g) in evaluations.items()}))
    run.info["final"] = dict(result)
    return result


def save_run_model(config, run, model, clips, architecture, sparsity):
    """Writes `model.keras` and `model_info.json` into the run folder.

    `deltasparse-export` and `deltasparse-demo` take the run folder (or the
    `.keras` file) and read the class names, frame size, clip length and
    preprocessing from `model_info.json`.

    Returns:
        str, the path of `model.keras`.
    """
    from deltasparse.export import save_model_bundle

    model_path, info_path = save_model_bundle(
        model, run_directory(run), clips.class_names, clips.image_size,
        config["eval_clip_length"], clips.preprocessing,
        architecture=architecture, sparsity=sparsity,
        experiment=run.experiment_info["name"], data_root=clips.root,
        source=clips.source)
    run.add_artifact(model_path, name="model.keras")
    run.add_artifact(info_path, name="model_info.json")
    return model_path


def _compiler(config):
    def compile_phase(model, phase):
        try:
            protocol.compile_video_classifier(
                model, phase.lr, config["momentum"], config["decay"],
                config["optimizer"], config["run_eagerly"],
                config["jit_compile"])
        except ValueError as err:
            raise ConfigurationError(str(err)) from None
    return compile_phase


def train(config, run, log, experiment, architecture, sparsity):
    """Main of every UCF101 script: train, then evaluate on test clips.

    Args:
        config: the script's Sacred config (`_config`).
        run: the Sacred `_run`.
        log: the Sacred `_log`.
        experiment: str, the experiment name (checkpoint folder).
        architecture: `"resnet50"` or `"mobilenet"`.
        sparsity: `None` (frame baseline), `"l1"` or `"delta"`.

    Returns:
        dict, see the module docstring.
    """
    start = time.time()
    config, clips, model, strategy = _start(config, run, log, architecture,
                                            sparsity)
    from deltasparse.models.sparsity_logger import SparsityLogger
    from deltasparse.training import CheckpointLockedError

    if sparsity is None:
        train_data = clips.train(1, config["batch_size"], config["frame_step"],
                                 augment=config["augment"],
                                 seed=config["seed"])
    else:
        train_data = clips.train(
            config["clip_length"], config["batch_size"],
            config["sequence_stride"], frame_stride=config["frame_stride"],
            augment=config["augment"], seed=config["seed"])
    val_data = _test_clips(config, clips, sparsity, evaluation=False)
    run.info["data"].update({
        "train_clips": train_data.num_clips, "val_clips": int(val_data.num_clips),
        "train_batches_per_epoch": int(config["steps_per_epoch"]
                                       or train_data.batches),
        "val_split": "test"})
    _timed(run, "data", start)
    ckpt_dir = checkpoint_directory(experiment, config)
    run.info["checkpoint_dir"] = ckpt_dir
    run.info["initial_weights"] = None
    if not (config["resume"] and os.path.isdir(ckpt_dir)):
        run.info["initial_weights"] = _initial_weights(config, model, sparsity)
    callbacks = [SparsityLogger()] if run.info["model"]["slots"] else []
    start = time.time()
    os.makedirs(ckpt_dir, exist_ok=True)
    write_json_atomic(os.path.join(ckpt_dir, "config.json"), config)
    try:
        fit = protocol.train_phases(
            model, _phases(config, sparsity), ckpt_dir, train_data,
            compile_phase=_compiler(config), validation_data=val_data,
            steps_per_epoch=config["steps_per_epoch"],
            validation_steps=config["validation_steps"],
            initial_epoch=config.get("start_epoch", 0),
            resume=config["resume"], seed=config["seed"],
            keep=config["checkpoint_keep"], log_scalar=run.log_scalar,
            verbose=config["verbose"], strategy=strategy, callbacks=callbacks)
    except CheckpointLockedError as err:
        raise ConfigurationError(
            f"{err} Set another `run_name` to train a second copy. "
            f"Received: run_name={config.get('run_name')!r}") from None
    _timed(run, "train", start)
    out = record_fit(config, run, model, fit, ckpt_dir)
    save_run_model(config, run, model, clips, architecture, sparsity)
    if not config["final_evaluation"]:
        return out
    result = evaluate_model(config, run, model, clips,
                            step=int(config["epochs"]))
    return {**result, **out}


def record_fit(config, run, model, fit, ckpt_dir,
               figures=("loss", "accuracy", "val_loss", "val_accuracy"),
               weight_artifacts=True):
    """What every video training run records after its fit: the resume
    point, the last/best weights as artifacts (copies in the run folder;
    `weight_artifacts=False` leaves them in `ckpt_dir` only) and the last
    epoch's `figures`; loads the best weights when `eval_weights='best'`.

    Returns:
        dict of `last_epoch.<figure>`, `epochs` and `resumed_from_epoch`.
    """
    if fit.resumed_from_epoch:
        run.info["resume"] = {"epoch": fit.resumed_from_epoch,
                              "checkpoint_dir": ckpt_dir}
        print(f"Resumed after epoch {fit.resumed_from_epoch} from {ckpt_dir}")
    for name, path in (("last.weights.h5", fit.last_weights_path),
                       ("best.weights.h5", fit.best_weights_path)):
        if weight_artifacts and path and os.path.isfile(path):
            run.add_artifact(path, name=name)
    out = {f"last_epoch.{k}": float(v[-1]) for k, v in fit.history.items()
           if k in figures and v}
    out.update(epochs=int(config["epochs"]),
               resumed_from_epoch=int(fit.resumed_from_epoch or 0))
    if config["eval_weights"] == "best" and fit.best_weights_path:
        load_weights_quietly(model, fit.best_weights_path)
    return out


def latest_weights(experiment, config, sparsity):
    """The last weights of this configuration's checkpoints, or None."""
    ckpt_dir = checkpoint_directory(experiment, config)
    for phase in reversed(_phases(config, sparsity)):
        path = os.path.join(ckpt_dir, phase.name, "last.weights.h5")
        if os.path.isfile(path):
            return path
    return None


def evaluate_weights(config, run, log, experiment, architecture, sparsity):
    """The `evaluate` command: `weights` (or the latest checkpoint of this
    configuration) evaluated on the test split (spec §7).

    Returns:
        dict: `accuracy`, `loss`, `clips`, `steps` and the sparsity figures.
    """
    config, clips, model, strategy = _start(config, run, log, architecture,
                                            sparsity)
    weights = config.get("weights") or latest_weights(experiment, config,
                                                      sparsity)
    if not weights:
        raise DataNotFoundError(
            "No weights to evaluate: pass `weights=<file>` (e.g. "
            f"results/{experiment}/<run id>/last.weights.h5) or train this "
            "configuration first (no checkpoint in "
            f"{checkpoint_directory(experiment, config)!r}).")
    run.info["weights"] = str(weights)
    run.info["initial_weights"] = load_weights_by_name(model, weights,
                                                       "weights")
    with strategy.scope():
        _compiler(config)(model, protocol.Phase("evaluate", 1, 1.0))
    save_run_model(config, run, model, clips, architecture, sparsity)
    return evaluate_model(config, run, model, clips)


__all__ = [
    "DEMO",
    "PREPARE_COMMAND",
    "RENAMED_KEYS",
    "add_demo",
    "add_video_experiment",
    "check_config",
    "checkpoint_directory",
    "class_names",
    "config_key",
    "evaluate_model",
    "evaluate_weights",
    "latest_weights",
    "missing_data_message",
    "record_fit",
    "resolve_data_root",
    "train",
]
