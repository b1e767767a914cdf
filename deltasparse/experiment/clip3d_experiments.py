"""Sacred glue of the 3-D CNN experiments (the compressed-3d-cnn seed).

The five scripts `experiments/ucf_{resnet3d18,resnet3d50,resnet3d101,
mobilenetv2_3d,csn50}.py` call `add_clip3d_experiment(ex, architecture)`
(a 3-D backbone preset) and `add_clip3d_demo(ex, ...)`; this module gives
them the shared config (`clip3d_config`: the seed's `opts.py` defaults as
run, spec `video_systems.md` §A2.2), the main command (train, then test)
and the `evaluate` command. The work is done by
`deltasparse.training.clip3d_protocol`; data resolution, config checks,
checkpoint keys and weight loading are those of
`deltasparse.experiment.video_experiments`.

Protocol (Hara et al. / Efficient-3DCNNs, as the seed ran them): 16-frame
clips at 112 x 112; training clips `TemporalRandomCrop` +
`MultiScaleCornerCrop` (5 scales, step 2^(-1/4)) + horizontal flip;
normalisation by the ActivityNet mean (`mean_dataset`, `mean_norm`,
`std_norm`, `norm_value`); SGD lr 0.1, momentum 0.9, dampening 0.9, weight
decay 1e-3, batch 32, 20 epochs, learning rate x 0.1 after 10 epochs
without a lower validation loss; clip accuracy of the centre clip of every
validation video each epoch (`val_accuracy`, `val_top5`); after training,
video accuracy over every non-overlapping 16-frame clip of every test video
(softmax per clip, mean per video, top-1 / top-5).

What a run records (`results/<experiment>/<run id>/`): per-epoch scalars
(`loss`, `accuracy`, `top5`, `val_loss`, `val_accuracy`, `val_top5`,
`learning_rate` when the plateau callback logs it, timings), the final
figures as `test.<figure>`; artifacts `last.weights.h5`, `best.weights.h5`
(best `val_accuracy`), `model.keras` + `model_info.json` (class names,
input size, clip length, normalisation), `val.json` (top-10 classes and
scores of every test video, Hara's layout) and `evaluation/all_clips/`
(`evaluation.json`, `per_class.csv`, `confusion_matrix.png`,
`misclassified.csv`); `_run.result`: `video_accuracy`, `video_top5`,
`clip_accuracy` / `clip_top5` (every test clip on its own), `videos`,
`clips`, `gflops_per_clip`, `last_epoch.*`, `epochs`.

Differences from the seed: validation reads the TEST split (UCF101 has no
validation split; the seed's `val` subset was the test list too); the
trainer resumes exactly (`resume=True`); `optimizer='adam'` exists for the
`demo` configurations, which train from scratch in minutes;
`zero_init_residual=True` starts every residual block as the identity
(Goyal et al. 2017): the deep demos (ResNet-50/101, CSN-50) use it with
Adam 1e-3, which took them from chance to 27-48 % in minutes; on ResNet-18
it trained more slowly and MobileNetV2-3D it stalled (loss fixed at ln 8),
so those two demos keep it off. The 3-D ResNets' convolutions start as
Hara's (`kaiming_normal_`, fan out), the classifier as PyTorch's
`nn.Linear` (Efficient-3DCNNs' MobileNetV2: N(0, 0.01)).
"""

import os
import time

from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.experiment.config import add_runtime_config
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
from deltasparse.experiment.video_experiments import report_dict
from deltasparse.experiment.video_experiments import resolve_data_root
from deltasparse.training import clip3d_protocol as protocol
from deltasparse.training.checkpoints import write_json_atomic

PLATEAU_STATE = "plateau_state.json"
"""The learning-rate plateau state in `<checkpoints>/train/`."""

EVALUATION_TAG = "all_clips"
"""Sub-folder of `evaluation/` holding the video-accuracy artifacts."""


def clip3d_config():
    dataset = "ucf101"  # 'ucf101' (prepared split at data_root) or 'synthetic'
    split = 1  # UCF101 split (the seed used split 1 only)
    data_root = f"data/ucf101/split{split}"  # prepared split: train/, test/, *_frames/
    source = "frames"  # read 'frames' (extracted JPEGs) or decode 'video'
    # dataset='synthetic' only: arguments of ensure_synthetic_ucf
    synthetic = dict(cache_dir=None, classes=None, videos_per_class=24,
                     clips_per_group=3, test_groups=2, frames=32, size=64)
    num_classes = 101  # expected number of classes (None = from the data)
    class_limit = None  # use only the first N classes (sorted names)
    image_size = 112  # square input side (Hara's sample_size)
    clip_length = 16  # frames per clip (sample_duration)
    num_scales = 5  # MultiScaleCornerCrop scales (n_scales)
    scale_step = 2 ** -0.25  # ratio of successive scales (scale_step)
    initial_scale = 1.0  # largest crop, a fraction of the shorter side
    train_crop = "corner"  # 'corner' (4 corners + centre) or 'center'
    horizontal_flip = True  # flip p=0.5 per training clip
    mean_dataset = "activitynet"  # mean of mean.py: 'activitynet' or 'kinetics'
    mean_norm = True  # subtract the mean (False = --no_mean_norm)
    std_norm = False  # divide by the Kinetics std (--std_norm)
    norm_value = 1  # pixel scale: 1 (0-255 input) or 255 (0-1 input)
    bn_momentum = None  # BatchNorm momentum; None = the backbone's (PyTorch 0.1)
    dropout = None  # classifier dropout; None = the backbone family's
    zero_init_residual = False  # start every residual block as the identity (Goyal et al.; not the seed's)
    optimizer = "sgd"  # 'sgd' (seed: PyTorch SGD) or 'adam' (demo only)
    lr = 0.1  # initial learning rate
    momentum = 0.9  # SGD momentum
    dampening = 0.9  # SGD dampening (PyTorch semantics)
    weight_decay = 1e-3  # coupled L2 on every trainable variable
    nesterov = False  # Nesterov momentum (requires dampening 0)
    lr_patience = 10  # epochs without a lower val_loss before lr x lr_factor
    lr_factor = 0.1  # ReduceLROnPlateau factor
    batch_size = 32  # clips per training batch
    epochs = 20  # last epoch
    steps_per_epoch = None  # batches per epoch; None = every training video
    validation_steps = None  # validation batches per epoch; None = all
    val_clips = 1  # centre clips per validation video (n_val_samples)
    pretrain_path = None  # same-architecture weights (.weights.h5/.keras), all but the classifier
    ft_portion = "complete"  # with pretrain_path: 'complete' or 'last_layer'
    inflate_from = None  # 2-D keras.applications weights file, I3D-inflated
    inflate_time_kernel = "mean"  # inflation rule: 'mean' (I3D) or 'centre'
    resume = False  # continue from this configuration's last epoch checkpoint
    run_name = None  # checkpoint folder name; None = hash of the training config
    checkpoint_keep = 2  # epoch checkpoints kept for resuming
    run_eagerly = False  # eager Keras (debugging, tiny tests)
    jit_compile = False  # XLA compilation of the train/predict steps
    final_evaluation = True  # video accuracy on the test split after training
    eval_weights = "last"  # weights of the final evaluation: 'last' or 'best'
    weights = None  # evaluate command: weights file or run folder; None = latest checkpoint
    eval_batch_size = 8  # test clips per batch
    eval_steps = None  # test batches; None = every clip of every test video
    top_predictions = 10  # classes per video written to val.json


DEMO = {
    "dataset": "synthetic",  # embedded synthetic action dataset, no download
    "num_classes": None,  # 8 synthetic classes
    "image_size": 32,  # 64-pixel synthetic frames, cropped and resized
    "clip_length": 4,  # 8 non-overlapping test clips per 32-frame video
    "train_crop": "center",  # corner crops at half the side miss the actor
    "num_scales": 2,  # crops of 1 and 2^(-1/4) of the shorter side
    "std_norm": True,  # standardised inputs (mean and std of mean.py)
    "norm_value": 255,  # with std_norm: the same values as norm_value 1
    "batch_size": 8,  # 18 batches per epoch (144 training videos)
    "bn_momentum": 0.9,  # PyTorch's 0.1: moving statistics follow in few steps
    "optimizer": "adam",  # from scratch in minutes (the seed: SGD, pretrained)
    "lr": 2e-4,  # Adam learning rate (1e-3 diverges at first from scratch)
    "eval_batch_size": 16,  # 384 test clips
}
"""What every `demo` named config shares (see `add_clip3d_demo`)."""

_CHOICES = {
    "train_crop": ("corner", "center"),
    "mean_dataset": ("activitynet", "kinetics"),
    "norm_value": (1, 255),
    "optimizer": protocol.OPTIMIZERS,
    "ft_portion": protocol.FT_PORTIONS,
    "eval_weights": ("last", "best"),
    "inflate_time_kernel": ("mean", "centre"),
    "zero_init_residual": (False, True),
}
_POSITIVE = ("image_size", "clip_length", "num_scales", "batch_size",
             "epochs", "val_clips", "eval_batch_size", "top_predictions")
_OPTIONAL_POSITIVE = ("steps_per_epoch", "validation_steps", "eval_steps")


def add_clip3d_demo(ex, **values):
    """Registers the `demo` named config: `DEMO` updated with `values`."""
    demo = dict(DEMO, **values)
    ex.add_named_config("demo", demo)
    return demo


def add_clip3d_experiment(ex, architecture):
    """Adds the shared config and the `main` / `evaluate` commands.

    Args:
        ex: the `sacred.Experiment` (from `make_experiment`).
        architecture: a 3-D backbone preset, e.g. `"resnet3d_18"` (stored
            as the config key `architecture`).

    Returns:
        The experiment.
    """
    add_runtime_config(ex)
    ex.config(clip3d_config)
    ex.add_config(architecture=architecture)
    name = ex.path

    def main(_config, _run, _log):
        """Trains on clips, then tests video accuracy (all clips)."""
        return train(_config, _run, _log, name)

    def evaluate(_config, _run, _log):
        """Video accuracy of `weights` (file or run folder) on the test split."""
        return evaluate_weights(_config, _run, _log, name)

    ex.main(main)
    ex.command(evaluate)
    return ex


# --------------------------------------------------------------------------
# Config checks
# --------------------------------------------------------------------------


def check_clip3d_config(config):
    """Checks a script's config; returns it as a plain dict.

    Raises:
        ConfigurationError: naming the first wrong key.
    """
    config = plain(dict(config))
    for key in _POSITIVE:
        check_positive(key, config[key])
    for key in _OPTIONAL_POSITIVE:
        check_positive(key, config[key], allow_none=True)
    for key, choices in _CHOICES.items():
        check_choice(key, config[key], choices)
    for key in ("lr", "scale_step", "initial_scale", "lr_factor"):
        check_positive(key, config[key], integer=False)
    for key in ("scale_step", "initial_scale", "lr_factor"):
        if config[key] > 1:
            raise ConfigurationError(
                f"`{key}` must be in (0, 1]. Received: {key}={config[key]!r}")
    check_positive("lr_patience", config["lr_patience"])
    if config.get("bn_momentum") is not None and not (
            0.0 <= float(config["bn_momentum"]) < 1.0):
        raise ConfigurationError(
            "`bn_momentum` must be None or in [0, 1). "
            f"Received: bn_momentum={config['bn_momentum']!r}")
    if config["nesterov"] and config["dampening"] != 0:
        raise ConfigurationError(
            "`nesterov=True` requires `dampening=0` (as PyTorch). "
            f"Received: dampening={config['dampening']!r}")
    if config["ft_portion"] != "complete" and not (
            config["pretrain_path"] or config["inflate_from"]):
        raise ConfigurationError(
            "`ft_portion='last_layer'` trains the classifier only: it needs "
            "`pretrain_path` (or `inflate_from`). "
            f"Received: ft_portion={config['ft_portion']!r}")
    if config["pretrain_path"] and config["inflate_from"]:
        raise ConfigurationError(
            "Pass `pretrain_path` or `inflate_from`, not both. Received: "
            f"pretrain_path={config['pretrain_path']!r}, "
            f"inflate_from={config['inflate_from']!r}")
    return config


# --------------------------------------------------------------------------
# Run helpers
# --------------------------------------------------------------------------


def _normalization(config):
    from deltasparse.data.video.clip_crops import ClipNormalization

    return ClipNormalization(config["mean_dataset"], config["mean_norm"],
                             config["std_norm"], config["norm_value"])


def _start(config, run, log):
    """Checks, data (fails fast), seed, model."""
    config = check_clip3d_config(config)
    root = resolve_data_root(config["dataset"], config.get("data_root"),
                             config["source"], config.get("synthetic"),
                             config.get("split", 1))
    names = class_names(root, config["source"], config["num_classes"],
                        config.get("class_limit"))
    if config.get("seed") is not None:
        set_global_seed(config["seed"])
    data = protocol.Clip3DData(root, names, config["image_size"],
                               config["clip_length"], _normalization(config),
                               config["source"])
    run.info["data"] = {"dataset": config["dataset"], "root": root,
                        "num_classes": len(names),
                        "train_videos": len(data.videos("train")),
                        "test_videos": len(data.videos("test"))}
    log.info("data: %s (%d classes) at %s", config["dataset"], len(names),
             root)
    start = time.time()
    size = config["image_size"]
    try:
        model = protocol.build_clip3d_classifier(
            config["architecture"], len(names), (size, size),
            bn_momentum=config.get("bn_momentum"),
            dropout=config.get("dropout"))
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    if config.get("zero_init_residual"):
        protocol.zero_init_residual_branches(model)
    run.info["model"] = {"architecture": config["architecture"],
                         "name": model.name,
                         "params": int(model.count_params())}
    _timed(run, "build", start)
    return config, data, model


def _compile(config, model):
    try:
        optimizer = protocol.make_clip3d_optimizer(
            config["lr"], config["momentum"], config["dampening"],
            config["weight_decay"], config["nesterov"], config["optimizer"])
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    protocol.compile_clip3d(model, optimizer, config["run_eagerly"],
                            config["jit_compile"])


def _initial_weights(config, model):
    """`pretrain_path` / `inflate_from`, then `ft_portion`; the report."""
    report = None
    try:
        if config["pretrain_path"]:
            report = report_dict(protocol.load_pretrained(
                model, config["pretrain_path"]))
        elif config["inflate_from"]:
            report = report_dict(protocol.inflate_pretrained(
                model, config["inflate_from"], config["inflate_time_kernel"]))
    except FileNotFoundError as err:
        raise DataNotFoundError(str(err)) from None
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    return report


def _save_model(config, run, model, data):
    """`model.keras` and `model_info.json` in the run folder: the bundle
    `deltasparse-export` and `deltasparse-demo` read (class names, frame
    size, clip length, the clip normalization)."""
    from deltasparse.export import save_model_bundle

    model_path, info_path = save_model_bundle(
        model, run_directory(run), data.class_names,
        (data.image_size, data.image_size), data.clip_length,
        data.normalization, architecture=config["architecture"],
        experiment=run.experiment_info["name"])
    run.add_artifact(model_path, name="model.keras")
    run.add_artifact(info_path, name="model_info.json")


def evaluate_model(config, run, model, data, step=0):
    """Video accuracy over every non-overlapping clip of every test video.

    Writes `val.json` (top-`top_predictions` per video) and
    `evaluation/all_clips/`, logs `test.<figure>` at `step`, fills
    `_run.info['final']`.

    Returns:
        dict: `video_accuracy`, `video_top5`, `clip_accuracy`, `clip_top5`,
        `videos`, `clips`, `gflops_per_clip`, and the other figures.
    """
    from deltasparse.evaluation import count_macs
    from deltasparse.evaluation import format_evaluation
    from deltasparse.evaluation import write_evaluation_artifacts

    dataset = data.views(0, config["eval_batch_size"])
    start = time.time()
    evaluation = protocol.evaluate_video_accuracy(
        model, dataset, steps=config["eval_steps"],
        progress=config["verbose"] == 1)
    _timed(run, "evaluate", start)
    size = data.image_size
    gflops = count_macs(model, (1, data.clip_length, size, size, 3)).total
    gflops *= 1e-9
    folder = run_directory(run)
    paths = write_evaluation_artifacts(
        evaluation, os.path.join(folder, "evaluation", EVALUATION_TAG),
        gflops_per_view=gflops, extra={"aggregate": "prob",
                                       "temporal": "hara_all_clips",
                                       "spatial": "scale_center_crop"})
    paths["val"] = protocol.write_top_predictions(
        evaluation, os.path.join(folder, "val.json"),
        config["top_predictions"])
    for key, path in paths.items():
        name = "val.json" if key == "val" else (
            f"evaluation/{EVALUATION_TAG}/{os.path.basename(path)}")
        run.add_artifact(path, name=name)
    figures = dict(evaluation.figures)
    result = {"video_accuracy": figures.pop("video_top1"),
              "clip_accuracy": figures.pop("clip_top1"),
              "clips": figures.pop("views"), "gflops_per_clip": gflops}
    result.update(figures)
    result = {k: plain(v) for k, v in result.items()}
    for key, value in result.items():
        if isinstance(value, (int, float)):
            run.log_scalar(f"test.{key}", float(value), step)
    print(format_evaluation({"all non-overlapping clips": evaluation},
                            gflops_per_view={
                                "all non-overlapping clips": gflops}))
    print(f"Test: video accuracy {result['video_accuracy']:.4f} "
          f"(top-5 {result.get('video_top5', float('nan')):.4f}) on "
          f"{result['videos']} videos, clip accuracy "
          f"{result['clip_accuracy']:.4f} on {result['clips']} clips.")
    run.info["final"] = dict(result)
    return result


def train(config, run, log, experiment):
    """Main of every 3-D script: train on clips, then video accuracy.

    Returns:
        dict, see the module docstring.
    """
    from deltasparse.training import CheckpointLockedError

    start = time.time()
    config, data, model = _start(config, run, log)
    positions = ("c",) if config["train_crop"] == "center" else None
    from deltasparse.data.video.clip_crops import multiscale_scales

    scales = multiscale_scales(config["num_scales"], config["scale_step"],
                               config["initial_scale"])
    try:
        train_data = data.train(config["batch_size"], seed=config["seed"],
                                scales=scales, crop_positions=positions,
                                horizontal_flip=config["horizontal_flip"])
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    val_data = data.validation(config["val_clips"], config["batch_size"])
    run.info["data"].update(train_batches_per_epoch=int(
        config["steps_per_epoch"] or train_data.batches),
        val_clips=int(val_data.num_views), val_split="test")
    _timed(run, "data", start)
    ckpt_dir = checkpoint_directory(experiment, config)
    run.info["checkpoint_dir"] = ckpt_dir
    run.info["initial_weights"] = None
    if not (config["resume"] and os.path.isdir(ckpt_dir)):
        run.info["initial_weights"] = _initial_weights(config, model)
    protocol.set_ft_portion(model, config["ft_portion"])
    os.makedirs(ckpt_dir, exist_ok=True)
    write_json_atomic(os.path.join(ckpt_dir, "config.json"), config)
    callbacks = [protocol.plateau_callback(
        config["lr_patience"], config["lr_factor"],
        os.path.join(ckpt_dir, "train", PLATEAU_STATE))]
    start = time.time()
    try:
        fit = protocol.fit_clip3d(
            model, ckpt_dir, train_data, config["epochs"],
            lambda m: _compile(config, m), validation_data=val_data,
            steps_per_epoch=config["steps_per_epoch"],
            validation_steps=config["validation_steps"],
            resume=config["resume"], seed=config["seed"],
            keep=config["checkpoint_keep"], log_scalar=run.log_scalar,
            verbose=config["verbose"], callbacks=callbacks)
    except CheckpointLockedError as err:
        raise ConfigurationError(
            f"{err} Set another `run_name` to train a second copy. "
            f"Received: run_name={config.get('run_name')!r}") from None
    _timed(run, "train", start)
    out = record_fit(config, run, model, fit, ckpt_dir,
                     figures=("loss", "accuracy", "val_loss", "val_accuracy",
                              "val_top5"))
    _save_model(config, run, model, data)
    if not config["final_evaluation"]:
        return out
    result = evaluate_model(config, run, model, data,
                            step=int(config["epochs"]))
    return {**result, **out}


def resolve_weights(weights, experiment, config):
    """The weights file of the `evaluate` command.

    `weights` may be a file, a run folder (its `last.weights.h5`, else
    `model.keras`) or None (this configuration's latest checkpoint).

    Raises:
        DataNotFoundError: nothing to evaluate.
    """
    if weights:
        weights = os.path.expanduser(str(weights))
        if os.path.isdir(weights):
            for name in ("last.weights.h5", "model.keras"):
                if os.path.isfile(os.path.join(weights, name)):
                    return os.path.join(weights, name)
            raise DataNotFoundError(
                f"`weights` folder {weights!r} holds no last.weights.h5 or "
                "model.keras (pass a run folder or a weights file).")
        return weights
    path = os.path.join(checkpoint_directory(experiment, config), "train",
                        "last.weights.h5")
    if os.path.isfile(path):
        return path
    raise DataNotFoundError(
        "No weights to evaluate: pass `weights=<file or run folder>` (e.g. "
        f"results/{experiment}/<run id>) or train this configuration first "
        f"(no checkpoint at {path!r}).")


def evaluate_weights(config, run, log, experiment):
    """The `evaluate` command: video accuracy of `weights` on the test split.

    Returns:
        dict, as `evaluate_model`.
    """
    config, data, model = _start(config, run, log)
    weights = resolve_weights(config.get("weights"), experiment, config)
    run.info["weights"] = str(weights)
    run.info["initial_weights"] = load_weights_by_name(model, weights,
                                                       "weights")
    _compile(config, model)
    _save_model(config, run, model, data)
    return evaluate_model(config, run, model, data)


__all__ = [
    "DEMO",
    "EVALUATION_TAG",
    "add_clip3d_demo",
    "add_clip3d_experiment",
    "check_clip3d_config",
    "clip3d_config",
    "evaluate_model",
    "evaluate_weights",
    "resolve_weights",
    "train",
]
