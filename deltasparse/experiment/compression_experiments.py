"""Sacred glue of the compression experiments (`experiments/ucf_compress.py`).

One script compresses a trained video classifier with one of the seed's five
methods (spec `video_systems.md` §A2.3), each a named config mirroring the
seed's schedule file:

- `prune`: element-wise magnitude pruning, the seed's `ep` schedule (20 % of
  every conv kernel and BatchNorm gamma, 80 % of the classifier, one-shot
  at epoch 0; `pruning_schedule='uniform'` = the per-layer CSV, `sparsity`
  0.4 everywhere), fine-tuned with `PruningCallback`, then `strip`ped.
- `filter_prune`: L1-ranked filter pruning of `fraction` 0.5 of every conv
  whose shapes allow it, physically thinned (`thin_model`), fine-tuned.
- `qat`: quantization-aware training, 4-bit weights and activations,
  asymmetric unsigned, per-channel, EMA decay 0.999, 3 epochs (0-2).
- `ptq`: post-training quantization as the seed's code path ran it
  (8-bit weights only; `activation_bits=8` or 6 emulates activations too,
  `tflite=True` adds the int8 TFLite file and the ops that stay float).
- `kd`: knowledge distillation of the trained model (`architecture` +
  `weights`: the TEACHER, the seed's is `resnet3d_101`) into a `student`
  preset (default `resnet3d_18`), temperature 5, weights 0.7 / 0.3, a
  random `num_training_clips`=1000 subset of training clips per epoch.

Every run records the model before and after: video accuracy (every
non-overlapping clip of every test video, as `clip3d_experiments`), bytes
of the `.keras` file, parameters and non-zero parameters, counted MACs of
one clip and the measured CPU milliseconds per clip (median of
`timing_repeats` batch-1 `predict_on_batch` calls after warm-up), as
`before.<figure>` / `after.<figure>` scalars, in `compression.json` and,
when `deltasparse.compression.report` is there, as its side-by-side
markdown (`compression.md`). The compressed model is `model.keras`; the
evaluation artifacts (`val.json`, `evaluation/all_clips/`) are the
compressed model's.

`weights` (the trained model) is required, except in the `demo` configs
(`with demo prune`, ...): they first train a base `resnet3d_18` on the
embedded synthetic dataset at 4 x 32 x 32 (Adam, the 3-D `DEMO` settings),
cached under `<results>/<experiment>/base/` by the base configuration (the
second demo reuses it), then compress and fine-tune it for a few epochs.

Data, config checks, optimizer, fine-tuning (a resumable `Trainer` fit),
evaluation and the saved model are those of
`deltasparse.experiment.clip3d_experiments` (the seed's protocol); a 2-D
video preset (`mobilenet_baseline`, `resnet50_baseline`, ...) reads the same
clips. Fine-tuning runs `finetune_epochs[method]` epochs with the clip3d
optimizer keys (`lr`, `optimizer`, ...); `epochs` is the base training of
the demos. Differences from the seed: its `main.py` never fired the `qat`
and `ep` epoch hooks (a one-string `active` list); here they run.
"""

import os
import time

import numpy as np

from deltasparse.compression import post_training as post_training_module
from deltasparse.compression import pruning as pruning_module
from deltasparse.compression import quantization as quantization_module
from deltasparse.compression import thinning as thinning_module
from deltasparse.compression.report import compression_report
from deltasparse.experiment import clip3d_experiments as clip3d
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.observers import plain
from deltasparse.experiment.observers import run_directory
from deltasparse.experiment.runtime import set_global_seed
from deltasparse.experiment.video_experiments import _timed
from deltasparse.experiment.video_experiments import check_choice
from deltasparse.experiment.video_experiments import check_positive
from deltasparse.experiment.video_experiments import checkpoint_directory
from deltasparse.experiment.video_experiments import class_names
from deltasparse.experiment.video_experiments import load_weights_by_name
from deltasparse.experiment.video_experiments import record_fit
from deltasparse.experiment.video_experiments import resolve_data_root
from deltasparse.training import clip3d_protocol as protocol
from deltasparse.training.checkpoints import write_json_atomic

METHODS = ("prune", "filter_prune", "qat", "ptq", "kd")
PRUNING_SCHEDULES = ("seed", "uniform")
FIGURES = ("video_accuracy", "video_top5", "bytes_keras",
           "bytes_gzip_weights", "parameters", "nonzero_parameters", "macs",
           "nonzero_macs", "ms_per_clip")
"""What `before.*` / `after.*` hold (see `measure_model`)."""

#: The keys of the compression step: the base model does not depend on
#: them, so every method's demo shares one cached base.
COMPRESSION_KEYS = ("method", "weights", "train_base", "base_cache",
                    "finetune_epochs", "pruning_schedule", "sparsity",
                    "fraction", "weight_bits", "activation_bits",
                    "per_channel", "symmetric", "decay", "calibration_steps",
                    "tflite", "student", "student_weights", "temperature",
                    "distill_weight", "student_weight", "num_training_clips",
                    "timing_repeats", "resume", "run_name", "final_evaluation",
                    "sensitivity_sparsities", "sensitivity_weights",
                    "sensitivity_kind",
                    "eval_weights", "verbose", "run_eagerly")


def compression_config():
    method = None  # set by a named config: prune, filter_prune, qat, ptq, kd
    weights = None  # trained weights of `architecture` (required unless train_base)
    train_base = False  # demo: train `architecture` first for `epochs` (cached)
    base_cache = None  # folder of cached base models; None = <results>/<experiment>/base
    finetune_epochs = {"prune": 20, "filter_prune": 20, "qat": 3, "ptq": 0,
                       "kd": 20}  # fine-tuning epochs after each method
    pruning_schedule = "seed"  # prune: 'seed' (ep yaml) or 'uniform' (sparsity CSV)
    sparsity = 0.4  # prune, pruning_schedule='uniform': every prunable weight
    fraction = 0.5  # filter_prune: fraction of filters removed per conv
    weight_bits = 8  # qat / ptq: bits of the weights
    activation_bits = 8  # qat / ptq: bits of the activations (ptq: None = weights only)
    per_channel = True  # qat / ptq: per-output-channel weight ranges
    symmetric = False  # qat / ptq: symmetric ranges (False = asymmetric unsigned)
    decay = 0.999  # qat: EMA decay of the activation ranges
    calibration_steps = 8  # ptq: training batches of the representative set
    tflite = False  # ptq: also the int8 TFLite path (ops that stay float)
    student = "resnet3d_18"  # kd: student preset (`architecture` is the teacher)
    student_weights = None  # kd: initial student weights; None = from scratch
    temperature = 5.0  # kd: T (the seed's grid search; its --kd_temp default 0.3)
    distill_weight = 0.7  # kd: soft-target weight (--kd_distill_wt)
    student_weight = 0.3  # kd: hard-label weight (--kd_student_wt)
    num_training_clips = 1000  # kd: random training clips per epoch; None = all
    timing_repeats = 10  # batch-1 forward passes timed (median)
    # `sensitivity` command (the seed's model-sensitivity.py): prune one weight at a time
    sensitivity_sparsities = [round(0.1 * i, 1) for i in range(10)]  # the grid
    sensitivity_weights = None  # weight paths / layer names / fnmatch patterns; None = all
    sensitivity_kind = "element"  # 'element' (magnitude) or 'filter' (L1-ranked filters)


def prune():
    method = "prune"  # the seed's `ep`: SensitivityPruner yaml, one-shot at epoch 0


def filter_prune():
    method = "filter_prune"  # the seed's `fp`: L1RankedStructureParameterPruner + thinning
    fraction = 0.5  # desired_sparsity 0.5 of the filters


def qat():
    method = "qat"  # QuantAwareTrainRangeLinearQuantizer
    weight_bits = 4  # the yaml's 4 bits (its comment says 8)
    activation_bits = 4
    per_channel = True
    symmetric = False  # ASYMMETRIC_UNSIGNED
    decay = 0.999


def ptq():
    method = "ptq"  # PostTrainLinearQuantizer as main.py ran it
    weight_bits = 8  # bits_weights=8
    activation_bits = None  # bits_activations=None: weight-only (the yaml: 6)


def kd():
    method = "kd"  # KnowledgeDistillationPolicy; `architecture` = the teacher
    temperature = 5.0
    distill_weight = 0.7
    student_weight = 0.3
    num_training_clips = 1000


DEMO = dict(clip3d.DEMO, architecture="resnet3d_18", train_base=True,
            epochs=6, student="resnet3d_10", timing_repeats=5,
            finetune_epochs={"prune": 2, "filter_prune": 2, "qat": 1,
                             "ptq": 0, "kd": 3},
            sensitivity_sparsities=[0.0, 0.3, 0.6, 0.9],
            sensitivity_weights=["conv1_conv", "conv3_block1_1_conv",
                                 "conv5_block2_2_conv", "classifier"])
"""The `demo` named config: the 3-D `DEMO` plus a cached 6-epoch base."""

NAMED_CONFIGS = {"prune": prune, "filter_prune": filter_prune, "qat": qat,
                 "ptq": ptq, "kd": kd}


def add_compression_experiment(ex, architecture="resnet3d_18", **demo):
    """The shared config, the five method configs, `demo` and `main`.

    Args:
        ex: the `sacred.Experiment` (from `make_experiment`).
        architecture: the default preset of the model to compress.
        **demo: values that update `DEMO` in the `demo` named config.

    Returns:
        The experiment.
    """
    clip3d.add_clip3d_experiment(ex, architecture)
    ex.config(compression_config)
    for name, scope in NAMED_CONFIGS.items():
        ex.named_config(scope)
    ex.add_named_config("demo", dict(DEMO, **demo))
    name = ex.path

    def main(_config, _run, _log):
        """Compresses the model, fine-tunes it, records before/after."""
        return compress(_config, _run, _log, name)

    def sensitivity(_config, _run, _log):
        """Top-1/top-5/loss with each weight alone pruned: sensitivity.csv
        and one PNG per layer group in the run folder."""
        return sensitivity_sweep(_config, _run, _log, name)

    ex.main(main)
    ex.command(sensitivity)
    return ex


# --------------------------------------------------------------------------
# Config checks
# --------------------------------------------------------------------------


def _check_fraction(name, value, allow_zero=True, allow_one=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        (0 <= value if allow_zero else 0 < value)
        and (value <= 1 if allow_one else value < 1))
    if not ok:
        raise ConfigurationError(
            f"`{name}` must be a fraction in [0, 1). Received: "
            f"{name}={value!r}")


def _check_bits(name, value, allow_none):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not (
            2 <= value <= 16):
        expected = "None or an int" if allow_none else "an int"
        raise ConfigurationError(
            f"`{name}` must be {expected} in 2..16. Received: "
            f"{name}={value!r}")


def check_compression_config(config, command="main"):
    """Checks the compression keys (and the clip3d ones); a plain dict.

    `command="sensitivity"` needs no `method`.

    Raises:
        ConfigurationError: naming the first wrong key.
    """
    config = clip3d.check_clip3d_config(config)
    method = config["method"]
    if command == "sensitivity":
        check_choice("sensitivity_kind", config["sensitivity_kind"],
                     ("element", "filter"))
        grid = config["sensitivity_sparsities"]
        if (not isinstance(grid, (list, tuple)) or not grid or not all(
                isinstance(v, (int, float)) and 0 <= v <= 1 for v in grid)):
            raise ConfigurationError(
                "`sensitivity_sparsities` must be a non-empty list of "
                f"fractions in [0, 1]. Received: sensitivity_sparsities="
                f"{grid!r}")
        method = "prune"  # the remaining checks as for a pruning run
    if method not in METHODS:
        raise ConfigurationError(
            f"`method` must be one of {list(METHODS)}: pick one with a named "
            f"config (`with prune`, `with demo kd`, ...). "
            f"Received: method={method!r}")
    if not config["weights"] and not config["train_base"]:
        what = "teacher's" if method == "kd" else "model's"
        raise ConfigurationError(
            f"`weights` (the trained {what} weights file) is required "
            "outside the demos (`with demo <method>` trains a base model). "
            f"Received: weights={config['weights']!r}")
    epochs = config["finetune_epochs"]
    if not isinstance(epochs, dict) or method not in epochs:
        raise ConfigurationError(
            f"`finetune_epochs` must map every method to an epoch count. "
            f"Received: finetune_epochs={epochs!r}")
    value = epochs[method]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"`finetune_epochs[{method!r}]` must be an int >= 0. "
            f"Received: finetune_epochs={epochs!r}")
    check_choice("pruning_schedule", config["pruning_schedule"],
                 PRUNING_SCHEDULES)
    _check_fraction("sparsity", config["sparsity"], allow_one=True)
    _check_fraction("fraction", config["fraction"], allow_zero=False)
    _check_bits("weight_bits", config["weight_bits"], allow_none=False)
    _check_bits("activation_bits", config["activation_bits"],
                allow_none=method == "ptq")
    _check_fraction("decay", config["decay"])
    for key in ("calibration_steps", "timing_repeats"):
        check_positive(key, config[key])
    check_positive("num_training_clips", config["num_training_clips"],
                   allow_none=True)
    check_positive("temperature", config["temperature"], integer=False)
    for key in ("distill_weight", "student_weight"):
        if not isinstance(config[key], (int, float)) or config[key] < 0:
            raise ConfigurationError(
                f"`{key}` must be a number >= 0. Received: "
                f"{key}={config[key]!r}")
    if method == "kd":
        check_choice("student", config["student"], list_architectures())
    check_choice("architecture", config["architecture"],
                 list_architectures())
    return config


# --------------------------------------------------------------------------
# Models and figures
# --------------------------------------------------------------------------


def list_architectures():
    """Every `VideoClassifier` preset (3-D and per-frame 2-D)."""
    from deltasparse.models.video_classifier import PRESETS

    return sorted(PRESETS)


def build_model(config, architecture, num_classes):
    """A classifier of `architecture` at the config's clip size."""
    size = (config["image_size"], config["image_size"])
    extra = {"bn_momentum": config.get("bn_momentum"),
             "dropout": config.get("dropout")}
    if architecture in protocol.list_clip3d_presets():
        return protocol.build_clip3d_classifier(architecture, num_classes,
                                                size, **extra)
    from deltasparse.models import VideoClassifier

    extra = {k: v for k, v in extra.items() if v is not None}
    return VideoClassifier.from_preset(
        architecture, num_classes, image_size=size,
        clip_length=config["clip_length"], **extra)


def measure_model(model, input_shape, repeats=10):
    """Size, counted MACs and measured speed of one model
    (`deltasparse.compression.compression_report`, batch 1 timed).

    Args:
        model: a built Keras model.
        input_shape: `(1, clip_length, height, width, 3)`.
        repeats: int, timed batch-1 calls (after warm-up).

    Returns:
        `(figures, report)`: figures is a dict of `parameters`,
        `nonzero_parameters` (every weight tensor), `macs` (counted, zeros
        included), `nonzero_macs` (scaled by kernel density, counted),
        `bytes_keras`, `bytes_gzip_weights`, `ms_per_clip` (median);
        report the `CompressionReport`.
    """
    report = compression_report(model, tuple(input_shape[1:]),
                                timing_repeats=int(repeats),
                                batch_sizes=(1,))
    return {"parameters": int(report.parameters),
            "nonzero_parameters": int(report.non_zero),
            "macs": int(report.macs),
            "nonzero_macs": int(report.non_zero_macs),
            "bytes_keras": int(report.keras_bytes),
            "bytes_gzip_weights": int(report.gzip_weights_bytes),
            "ms_per_clip": float(report.milliseconds_per_clip(1))}, report


def _video_figures(model, data, config):
    evaluation = protocol.evaluate_video_accuracy(
        model, data.views(0, config["eval_batch_size"]),
        steps=config["eval_steps"])
    return {"video_accuracy": float(evaluation.figures["video_top1"]),
            "video_top5": float(evaluation.figures.get("video_top5",
                                                       float("nan")))}


# --------------------------------------------------------------------------
# The five methods: model -> (model to fine-tune, callbacks, finish)
# --------------------------------------------------------------------------


class Compression:
    """What a method hands to the fine-tuning step.

    Attributes:
        model: the model to fine-tune (and evaluate, unless `finish`).
        callbacks: Keras callbacks of the fine-tuning fit.
        finish: callable `model -> model`, the final model (e.g. `strip`).
        info: dict recorded in `run.info['compression']`.
        steps_per_epoch: None or int, fine-tuning batches per epoch.
    """

    def __init__(self, model, callbacks=(), finish=None, info=None,
                 steps_per_epoch=None):
        self.model = model
        self.callbacks = list(callbacks)
        self.finish = finish or (lambda m: m)
        self.info = dict(info or {})
        self.steps_per_epoch = steps_per_epoch


def apply_prune(config, model, data, folder):
    if config["pruning_schedule"] == "seed":
        sparsity = pruning_module.seed_element_pruning()
    else:
        sparsity = pruning_module.uniform_element_pruning(config["sparsity"])
    masks = pruning_module.MagnitudePruning(model, sparsity)
    masks.update(0, 0)  # one-shot at epoch 0, also with 0 fine-tune epochs
    masks.apply()
    return Compression(model, [pruning_module.PruningCallback(masks)],
                       finish=lambda m: masks.strip(),
                       info={"sparsity_by_weight": masks.sparsity_by_weight()})


def apply_filter_prune(config, model, data, folder):
    plan = thinning_module.plan_filter_pruning(model, fraction=config["fraction"])
    thinned = thinning_module.thin_model(model, plan)
    return Compression(thinned, info={"skipped": dict(plan.skipped)})


def _quantization_config(config):
    return quantization_module.QuantizationConfig(
        weight_bits=config["weight_bits"],
        activation_bits=config["activation_bits"],
        weight_symmetric=config["symmetric"],
        activation_symmetric=config["symmetric"],
        per_channel=config["per_channel"], decay=config["decay"])


def apply_qat(config, model, data, folder):
    return Compression(quantization_module.quantize_model(
        model, _quantization_config(config)))


def representative_clips(config, data):
    """`calibration_steps` batches of centre test-time crops of TRAINING
    videos (no labels): the representative set of `ptq`."""
    train = data.train(config["batch_size"], seed=config["seed"],
                       crop_positions=("c",), horizontal_flip=False)(0)
    clips = []
    for number, (x, _) in enumerate(train):
        if number >= config["calibration_steps"]:
            break
        clips.append(np.asarray(x))
    return np.concatenate(clips)


def apply_ptq(config, model, data, folder):
    clips = representative_clips(config, data)
    info = {}
    if config["tflite"]:
        path = os.path.join(folder, "model_int8.tflite")
        import dataclasses

        result = post_training_module.tflite_int8(model, clips, path)
        info["tflite"] = plain(dataclasses.asdict(result)
                               if dataclasses.is_dataclass(result) else result)
    quantized = post_training_module.post_training_quantize(
        model, clips, weight_bits=config["weight_bits"],
        activation_bits=config["activation_bits"])
    # Weight-only: stock layers holding the quantized kernels (the same
    # outputs, without re-quantizing the kernels in every forward pass).
    finish = (quantization_module.export_float
              if config["activation_bits"] is None else None)
    return Compression(quantized, finish=finish, info=info)


def apply_kd(config, model, data, folder):
    from deltasparse.compression.distillation import DistillationModel

    student = build_model(config, config["student"], len(data.class_names))
    info = {"teacher": config["architecture"], "student": config["student"]}
    if config["student_weights"]:
        info["student_weights"] = load_weights_by_name(
            student, config["student_weights"], "student_weights")
    wrapper = DistillationModel(
        student, model, temperature=config["temperature"],
        distill_weight=config["distill_weight"],
        student_weight=config["student_weight"])
    steps = config["steps_per_epoch"]
    if config["num_training_clips"] and steps is None:
        available = len(data.videos("train")) // config["batch_size"]
        steps = max(1, min(available,
                           config["num_training_clips"] //
                           config["batch_size"]))
    return Compression(wrapper, finish=lambda m: m.student, info=info,
                       steps_per_epoch=steps)


APPLY = {"prune": apply_prune, "filter_prune": apply_filter_prune,
         "qat": apply_qat, "ptq": apply_ptq, "kd": apply_kd}


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------


def sensitivity_sweep(config, run, log, experiment):
    """The `sensitivity` command: the base model (`weights`, or the demo's
    cached base) with each prunable weight alone pruned to every sparsity
    of `sensitivity_sparsities`, evaluated on the centre clip of every test
    video (`deltasparse.compression.sensitivity_analysis`); resumable: a
    rerun with `run_name` skips the rows already in its CSV.

    Returns:
        dict: `rows`, `weights`, `sparsities`, `kind`, `csv`.
    """
    from deltasparse.compression.sensitivity import keras_evaluate
    from deltasparse.compression.sensitivity import sensitivity_analysis

    config = check_compression_config(config, command="sensitivity")
    if config.get("seed") is not None:
        set_global_seed(config["seed"])
    data = _data(config, run, log)
    model = _base_model(config, run, log, experiment, data)
    output_dir = run_directory(run)
    if config.get("run_name"):
        output_dir = os.path.join(checkpoint_directory(experiment, config),
                                  "sensitivity")
    try:
        rows = sensitivity_analysis(
            model, keras_evaluate(data.validation(
                config["val_clips"], config["eval_batch_size"])),
            sparsities=tuple(float(v) for v in
                             config["sensitivity_sparsities"]),
            weights=config["sensitivity_weights"],
            kind=config["sensitivity_kind"], output_dir=output_dir)
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    for name in sorted(os.listdir(output_dir)):
        if name == "sensitivity.csv" or (name.startswith("sensitivity_")
                                         and name.endswith(".png")):
            run.add_artifact(os.path.join(output_dir, name), name=name)
    return {"rows": len(rows), "kind": config["sensitivity_kind"],
            "weights": len({row["parameter"] for row in rows}),
            "sparsities": len(config["sensitivity_sparsities"]),
            "csv": os.path.join(output_dir, "sensitivity.csv")}


def _data(config, run, log):
    root = resolve_data_root(config["dataset"], config.get("data_root"),
                             config["source"], config.get("synthetic"),
                             config.get("split", 1))
    names = class_names(root, config["source"], config["num_classes"],
                        config.get("class_limit"))
    data = protocol.Clip3DData(root, names, config["image_size"],
                               config["clip_length"],
                               clip3d._normalization(config),
                               config["source"])
    run.info["data"] = {"dataset": config["dataset"], "root": root,
                        "num_classes": len(names)}
    log.info("data: %s (%d classes) at %s", config["dataset"], len(names),
             root)
    return data


def _train_data(config, data):
    from deltasparse.data.video.clip_crops import multiscale_scales

    positions = ("c",) if config["train_crop"] == "center" else None
    scales = multiscale_scales(config["num_scales"], config["scale_step"],
                               config["initial_scale"])
    return data.train(config["batch_size"], seed=config["seed"],
                      scales=scales, crop_positions=positions,
                      horizontal_flip=config["horizontal_flip"])


def _fit(config, run, model, data, ckpt_dir, epochs, callbacks=(),
         steps_per_epoch=None, resume=None, prefix=""):
    """One resumable `Trainer` fit in `<ckpt_dir>/train/` (compiled here).

    The Trainer directly, not `fit_clip3d`: thinned and quantized models
    are plain Functional models and the distillation wrapper has no
    `backbone` to freeze layer by layer.
    """
    from deltasparse.training import CheckpointLockedError
    from deltasparse.training import Trainer

    clip3d._compile(config, model)
    trainer = Trainer(
        os.path.join(ckpt_dir, "train"),
        resume=config["resume"] if resume is None else resume,
        seed=config["seed"], keep=config["checkpoint_keep"],
        log_scalar=lambda name, value, step: run.log_scalar(
            prefix + name, value, step), verbose=config["verbose"])
    try:
        return trainer.fit(
            model, _train_data(config, data), int(epochs),
            validation_data=data.validation(config["val_clips"],
                                            config["batch_size"]),
            steps_per_epoch=steps_per_epoch or config["steps_per_epoch"],
            validation_steps=config["validation_steps"],
            callbacks=list(callbacks))
    except CheckpointLockedError as err:
        raise ConfigurationError(
            f"{err} Set another `run_name` to run a second copy. "
            f"Received: run_name={config.get('run_name')!r}") from None


def base_directory(experiment, config):
    """The cache folder of the demo's base model: keyed by every key that
    is not a compression key (see `COMPRESSION_KEYS`)."""
    base = {k: v for k, v in config.items() if k not in COMPRESSION_KEYS}
    folder = checkpoint_directory(f"{experiment}/base", base)
    if config.get("base_cache"):
        folder = os.path.join(os.path.expanduser(config["base_cache"]),
                              os.path.basename(folder))
    return folder


def _base_model(config, run, log, experiment, data):
    model = build_model(config, config["architecture"],
                        len(data.class_names))
    if config["weights"]:
        run.info["weights"] = load_weights_by_name(model, config["weights"],
                                                   "weights")
        return model
    folder = base_directory(experiment, config)
    log.info("base model: %s in %s (reused when trained)",
             config["architecture"], folder)
    start = time.time()
    fit = _fit(config, run, model, data, folder, config["epochs"],
               resume=True, prefix="base.")
    _timed(run, "base_training", start)
    run.info["base"] = {"checkpoint_dir": folder,
                        "epochs": int(config["epochs"]),
                        "resumed_from_epoch": int(fit.resumed_from_epoch
                                                  or 0)}
    return model


def _record(run, stage, figures, step):
    for key, value in figures.items():
        if value is not None:
            run.log_scalar(f"{stage}.{key}", float(value), step)
    return {f"{stage}.{key}": value for key, value in figures.items()}


def compress(config, run, log, experiment):
    """Main of `ucf_compress`: base model, method, fine-tuning, figures.

    Returns:
        dict: `before.<figure>` and `after.<figure>` (`FIGURES`), the
        `last_epoch.*` figures of the fine-tuning, `epochs`, `method`.
    """
    config = check_compression_config(config)
    if config.get("seed") is not None:
        set_global_seed(config["seed"])
    folder = run_directory(run)
    data = _data(config, run, log)
    model = _base_model(config, run, log, experiment, data)
    clip3d._compile(config, model)
    shape = (1, config["clip_length"], config["image_size"],
             config["image_size"], 3)
    start = time.time()
    before, before_report = measure_model(model, shape,
                                          config["timing_repeats"])
    before.update(_video_figures(model, data, config))
    _timed(run, "before", start)
    result = _record(run, "before", before, 0)

    method = config["method"]
    compression = APPLY[method](config, model, data, folder)
    epochs = int(config["finetune_epochs"][method])
    ckpt_dir = checkpoint_directory(experiment, config)
    run.info["checkpoint_dir"] = ckpt_dir
    tuned = compression.model
    out = {"epochs": epochs, "method": method}
    if epochs:
        os.makedirs(ckpt_dir, exist_ok=True)
        write_json_atomic(os.path.join(ckpt_dir, "config.json"), config)
        start = time.time()
        fit = _fit(config, run, tuned, data, ckpt_dir, epochs,
                   compression.callbacks, compression.steps_per_epoch)
        _timed(run, "finetune", start)
        out.update(record_fit(
            dict(config, epochs=epochs), run, tuned, fit, ckpt_dir,
            figures=("loss", "accuracy", "val_loss", "val_accuracy"),
            # The compressed model is the run's model.keras; the fine-tuned
            # weights (with the teacher for kd) stay in the checkpoints.
            weight_artifacts=False))
    compressed = compression.finish(tuned)
    clip3d._compile(config, compressed)
    run.info["compression"] = plain(compression.info)
    start = time.time()
    evaluation = clip3d.evaluate_model(config, run, compressed, data,
                                       step=epochs)
    after = {"video_accuracy": float(evaluation["video_accuracy"]),
             "video_top5": float(evaluation.get("video_top5", float("nan")))}
    figures, after_report = measure_model(compressed, shape,
                                          config["timing_repeats"])
    after.update(figures)
    _timed(run, "after", start)
    clip3d._save_model(config, run, compressed, data)
    result.update(_record(run, "after", after, epochs))
    _write_comparison(run, folder, method, before, after, before_report,
                      after_report)
    print(format_comparison(method, before, after))
    return {**result, **out}


def format_comparison(method, before, after):
    """A markdown table of `before` / `after` figures with their ratio."""
    lines = [f"| {method} | before | after | after / before |",
             "|---|---:|---:|---:|"]
    for key in FIGURES:
        b, a = before.get(key), after.get(key)
        if b is None or a is None:
            lines.append(f"| {key} | {_cell(b)} | {_cell(a)} | - |")
            continue
        ratio = f"{a / b:.3f}" if b else "-"
        lines.append(f"| {key} | {b:.6g} | {a:.6g} | {ratio} |")
    return "\n".join(lines)


def _cell(value):
    return "-" if value is None else f"{value:.6g}"


def _write_comparison(run, folder, method, before, after, before_report,
                      after_report):
    path = os.path.join(folder, "compression.json")
    write_json_atomic(path, {"method": method, "before": before,
                             "after": after})
    run.add_artifact(path, name="compression.json")
    text = format_comparison(method, before, after) + "\n"
    if before_report is not None and after_report is not None:
        from deltasparse.compression.report import compare_reports

        text += "\n" + compare_reports(before_report, after_report) + "\n"
    path = os.path.join(folder, "compression.md")
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    run.add_artifact(path, name="compression.md")


__all__ = [
    "COMPRESSION_KEYS",
    "DEMO",
    "FIGURES",
    "METHODS",
    "add_compression_experiment",
    "base_directory",
    "build_model",
    "check_compression_config",
    "compress",
    "compression_config",
    "format_comparison",
    "list_architectures",
    "measure_model",
    "representative_clips",
]
