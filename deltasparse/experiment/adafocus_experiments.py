"""Sacred glue of the AdaFocusV2 experiments (spec `video_systems.md` §A1).

The scripts `experiments/adafocus_{activitynet,fcvid,minikinetics}.py`
hold what differs between them (dataset, metric, learning rate); this
module gives them the shared config (`adafocus_config`: the original's
`opts.py` / `scripts/train.sh` values), the named configs of the README's
configurations (`mobilenetv2_patch96` ... `resnet50_patch160`), the
`demo`, and three commands: `main` (train, then evaluate), `evaluate`
and `early_exit`.

Protocol (Wang et al., CVPR 2022, as `main_v2.py` runs it):

- 16 TSN segments per video (one random frame per segment in training,
  the segment centres at test), reordered by `frame_order`
  (`"prefix_covering"`: the original's `--sample`, middle, first, last,
  then bisections, so every prefix of frames covers the video);
- training crops: TSN `GroupMultiScaleCrop(224, [1, .875, .75, .66])` and
  horizontal flips; test: resize 256, centre crop 224; ImageNet mean/std;
- one end-to-end stage: the paper's loss (per-frame cross-entropy of the
  fused logits plus the glance and local auxiliary losses, with the learned
  patches and again with uniformly random ones, averaged:
  `deltasparse.ops.adafocus_loss`); `GroupedSGD` (PyTorch SGD, momentum
  0.9, weight decay 1e-4 on every parameter) with the per-module learning
  rate multipliers glance 0.5, policy 0.1, classifier 5.0, local 1.0;
  learning rate 0.002 (Mini-Kinetics 0.003) with the per-epoch cosine
  (`EpochCosineDecay`); 50 epochs, batch 32, dropout 0.2;
- evaluation every 5 epochs and at each of the last 10 (mAP for
  ActivityNet and FCVID, top-1 for Mini-Kinetics, on the last step's
  prediction), keeping the best (`best.weights.h5`); after training, the
  final evaluation of the `eval_weights` weights (default `"best"`, what
  the original reports).

Differences from the original: its loop runs `epochs + 1` epochs, the last
one at learning rate 0 (only BatchNorm statistics move); here `epochs`
epochs run (pass `epochs=51` for the same count). Its ResNet-50 glance
starts from a special 96x96 checkpoint that has no Keras counterpart: any
Keras ResNet-50 no-top weights file loads (`glance_weights`).

The `early_exit` command (AdaFocusV2+, `test_early_exit.py`): the
per-step logits of `exit_train_videos` training videos (test transform;
Mini-Kinetics: a random 20 000) and of every validation video, exit
thresholds fitted on the first for q_k ∝ p^k, applied to the second
(`deltasparse.evaluation.early_exit_curve`), with the per-frame GFLOPs
counted from the model: `early_exit.csv` and `early_exit.png` in the run
folder.

What a run records (`results/<experiment>/<run id>/`): per-epoch scalars
(`loss`, `accuracy` on the last step, `val_map` or `val_top1` at the
evaluated epochs, `learning_rate`, timings), the final figures as
`test.<figure>`; artifacts `last.weights.h5`, `best.weights.h5`,
`evaluation/` (`evaluation.json` with GFLOPs per video, `per_class.csv`,
...), and for the demo `focus.json` (learned against random patches).
"""

import math
import os
import time

import numpy as np

from deltasparse.experiment.config import add_runtime_config
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.experiment.observers import plain
from deltasparse.experiment.observers import run_directory
from deltasparse.experiment.runtime import set_global_seed
from deltasparse.experiment.video_experiments import _timed
from deltasparse.experiment.video_experiments import check_choice
from deltasparse.experiment.video_experiments import check_positive
from deltasparse.experiment.video_experiments import checkpoint_directory
from deltasparse.training.checkpoints import load_weights_quietly
from deltasparse.training.checkpoints import write_json_atomic

DATASETS = {
    "activitynet": {"train_list": "actnet_train_split.txt",
                    "val_list": "actnet_val_split.txt",
                    "frame_template": "{path}/image_{index:05d}.jpg",
                    "metric": "map", "multilabel": True},
    "fcvid": {"train_list": "fcvid_train_split.txt",
              "val_list": "fcvid_val_split.txt",
              "frame_template": "{path}/image_{index:05d}.jpg",
              "metric": "map", "multilabel": True},
    "mini_kinetics": {"train_list": "mini_train_videofolder.txt",
                      "val_list": "mini_val_videofolder.txt",
                      "frame_template": "{path}/img_{index:05d}.jpg",
                      "metric": "top1", "multilabel": False},
    "synthetic_focus": {"metric": "top1", "multilabel": False},
}
"""The datasets of the scripts: list files and frame names (AR-Net's
preparation, spec §A1.4) and the reported metric."""

PAPER_CONFIGURATIONS = {
    f"{glance}_patch{patch}": f"adafocus_v2_{glance}_patch{patch}"
    for glance, patches in (("mobilenetv2", (96, 128, 160, 192)),
                            ("resnet50", (96, 128, 160)))
    for patch in patches
}
"""Named config -> model preset (the README's glance network and patch)."""

METRIC_FIGURES = {"map": "video_map", "top1": "video_top1"}


def adafocus_config():
    """The shared config (ActivityNet, MobileNetV2 glance, patch 128)."""
    dataset = "activitynet"  # 'activitynet', 'fcvid', 'mini_kinetics' or 'synthetic_focus'
    data_root = None  # folder of the list files and frame folders; None = data/<dataset>
    train_list = None  # None = the dataset's usual name (DATASETS)
    val_list = None  # None = the dataset's usual name
    class_file = "classInd.txt"  # class names, in data_root (None: from the labels)
    frame_template = None  # None = the dataset's frame names
    synthetic = {}  # synthetic_focus: make_synthetic_focus arguments
    preset = "adafocus_v2_mobilenetv2_patch128"  # model preset, or 'small' (demo networks)
    glance_weights = None  # Keras ImageNet no-top weights of the glance network (path)
    local_weights = None  # Keras ImageNet no-top weights of ResNet-50 (path)
    small_networks = {}  # preset 'small': build_small_adafocus arguments
    num_segments = 16  # frames per video (TSN segments)
    image_size = 224  # frame side after the crop
    frame_order = "prefix_covering"  # the original's --sample; None = time order
    scales = [1.0, 0.875, 0.75, 0.66]  # GroupMultiScaleCrop scales
    horizontal_flip = True  # random flips in training
    full_frame = False  # test: resize whole frames instead of resize + centre crop
    preprocessing = "torch"  # frames' normalisation: 'torch' (ImageNet mean/std), 'tf', 'caffe'
    policy_hidden = 2048  # stn_hidden_dim
    classifier_hidden = 4096  # fusion MLP width
    dropout = 0.2  # dropout and fc_dropout
    random_patch_loss = True  # the diversity branch of the loss
    lr = 0.002  # base learning rate
    momentum = 0.9  # SGD momentum
    weight_decay = 1e-4  # coupled L2 on every parameter (PyTorch SGD)
    glance_lr_ratio = 0.5  # learning-rate multiplier of the glance network and head
    policy_lr_ratio = 0.1  # of the policy network (stn_lr_ratio)
    classifier_lr_ratio = 5.0  # of the fusion classifier
    epochs = 50  # training epochs
    batch_size = 32  # videos per batch
    eval_every = 5  # evaluate every N epochs ...
    eval_last = 10  # ... and at each of the last N
    eval_weights = "best"  # final evaluation: 'best' (evaluated epochs) or 'last'
    eval_batch_size = 8  # test videos per batch
    steps_per_epoch = None  # batches per epoch; None = every training video
    resume = False  # continue from this configuration's last epoch checkpoint
    run_name = None  # checkpoint folder name; None = hash of the training config
    checkpoint_keep = 2  # epoch checkpoints kept for resuming
    run_eagerly = False  # eager Keras (debugging)
    jit_compile = False  # XLA compilation of the train step
    final_evaluation = True  # evaluate after training
    weights = None  # evaluate / early_exit: weights file or run folder; None = latest checkpoint
    exit_criterion = "confidence"  # early exit: 'confidence' (max logit) or 'entropy'
    exit_train_videos = None  # early exit: training videos the thresholds are fitted on (None = all; Mini-Kinetics 20000)
    random_patch_evaluation = False  # also evaluate with uniformly random patches
    preload = False  # decode every frame into memory once (small sets)


DEMO = {
    "dataset": "synthetic_focus",  # a 5-class "small object in a large frame" set
    "synthetic": {"size": 96, "object_size": 16, "frames": 16,
                  "cell_size": 2,  # 2-pixel patterns survive sub-pixel patches
                  "speed": [3.0, 6.0],  # objects visit many places per video
                  "ring_groups": 2,  # the glance can tell the group, not the class
                  "matched_scenes": True,  # no background to memorise
                  "test_per_class": 20},
    "preset": "small",  # small CNNs built here (no ImageNet weights needed)
    "small_networks": {"glance_input_size": 24, "patch_size": 32,
                       "glance_widths": [16, 32, 64]},
    "num_segments": 8,  # frames per video
    "image_size": 96,  # whole frames: the object must stay in view
    "scales": [1.0],  # no crop
    "full_frame": True,  # test frames resized whole (no centre crop)
    "preprocessing": "tf",  # x / 127.5 - 1
    "policy_hidden": 64,
    "classifier_hidden": 128,
    "lr": 0.05,  # from scratch: 25x the paper's fine-tuning rate
    "epochs": 45,
    "batch_size": 16,
    "eval_every": 5,
    "eval_last": 1,
    "eval_batch_size": 25,
    "random_patch_evaluation": True,
    "preload": True,
}
"""The `demo` named config: trains from scratch on the synthetic focus set
(matched scenes, two ring colours, fast objects: see `synthetic_focus`) in
7.1 min on 2 CPU cores and compares the learned patches with random ones
(`focus.json`). Measured: top-1 100 % learned against 87 % random (chance
20 %, 100 videos), object coverage 57.5 % against 14.2 %."""

_CHOICES = {"dataset": tuple(DATASETS),
            "frame_order": (None, "prefix_covering"),
            "preprocessing": ("torch", "tf", "caffe"),
            "eval_weights": ("best", "last"),
            "exit_criterion": ("confidence", "entropy")}
_POSITIVE = ("num_segments", "image_size", "policy_hidden",
             "classifier_hidden", "epochs", "batch_size", "eval_every",
             "eval_batch_size", "checkpoint_keep")
_OPTIONAL_POSITIVE = ("steps_per_epoch", "exit_train_videos")


def add_adafocus_experiment(ex, **values):
    """Adds the shared config, named configs and commands to `ex`.

    Args:
        ex: the `sacred.Experiment` (from `make_experiment`).
        **values: the script's own config values (e.g. `dataset`, `lr`).

    Returns:
        The experiment.
    """
    add_runtime_config(ex)
    ex.config(adafocus_config)
    if values:
        ex.add_config(**values)
    for name, preset in PAPER_CONFIGURATIONS.items():
        ex.add_named_config(name, {"preset": preset})
    ex.add_named_config("demo", dict(DEMO))
    name = ex.path

    def main(_config, _run, _log):
        """Trains AdaFocusV2, then evaluates the last-step prediction."""
        return train(_config, _run, _log, name)

    def evaluate(_config, _run, _log):
        """mAP / top-1 of `weights` (file or run folder) on the validation list."""
        return evaluate_weights(_config, _run, _log, name)

    def early_exit(_config, _run, _log):
        """AdaFocusV2+'s budget curve of `weights` (no retraining)."""
        return early_exit_curve_command(_config, _run, _log, name)

    ex.main(main)
    ex.command(evaluate)
    ex.command(early_exit)
    return ex


# --------------------------------------------------------------------------
# Config, data and model
# --------------------------------------------------------------------------


def check_adafocus_config(config):
    """Checks a script's config; returns it as a plain dict.

    Raises:
        ConfigurationError: naming the first wrong key.
    """
    config = plain(dict(config))
    for key, choices in _CHOICES.items():
        check_choice(key, config[key], choices)
    for key in _POSITIVE:
        check_positive(key, config[key])
    for key in _OPTIONAL_POSITIVE:
        check_positive(key, config[key], allow_none=True)
    check_positive("eval_last", config["eval_last"] + 1)
    for key in ("lr", "glance_lr_ratio", "policy_lr_ratio",
                "classifier_lr_ratio"):
        check_positive(key, config[key], integer=False)
    for key in ("momentum", "dropout"):
        if not 0 <= float(config[key]) < 1:
            raise ConfigurationError(f"`{key}` must be in [0, 1). "
                                     f"Received: {key}={config[key]!r}")
    if config["weight_decay"] < 0:
        raise ConfigurationError("`weight_decay` must be >= 0. Received: "
                                 f"weight_decay={config['weight_decay']!r}")
    scales = config["scales"]
    if not isinstance(scales, (list, tuple)) or not scales or any(
            not isinstance(s, (int, float)) or not 0 < s <= 1 for s in scales):
        raise ConfigurationError(
            "`scales` must be a list of crop scales in (0, 1], e.g. "
            f"[1.0, 0.875, 0.75, 0.66]. Received: scales={scales!r}")
    if config["preset"] != "small":
        from deltasparse.models.adafocus import ADAFOCUS_V2_PRESETS

        check_choice("preset", config["preset"],
                     tuple(ADAFOCUS_V2_PRESETS) + ("small",))
    return config


def _data_root(config):
    root = config["data_root"] or os.path.join("data", config["dataset"])
    return os.path.abspath(os.path.expanduser(str(root)))


def missing_data_message(config, missing):
    """The one message printed when a list-file dataset is absent."""
    from deltasparse.data.datasets.list_files import ARNET_URL

    dataset = config["dataset"]
    return (
        f"{dataset} not found: {missing} is missing under "
        f"data_root={_data_root(config)!r}. Get the list files "
        f"({DATASETS[dataset]['train_list']}, "
        f"{DATASETS[dataset]['val_list']}, classInd.txt) from AR-Net's "
        f"preparation ({ARNET_URL}), with the frames of every video in "
        "<data_root>/<path>/ (ffmpeg -vf scale=-1:360, image_00001.jpg ...; "
        "Mini-Kinetics img_00001.jpg), and run with `data_root=<folder>`. "
        "For your own videos: `python dataset_preparation/"
        "prepare_video_list.py --help`, then `train_list`, `val_list` and "
        "`frame_template`. No download needed: `with demo` trains on the "
        "embedded synthetic focus dataset.")


def load_videos(config):
    """`(train VideoList, validation VideoList, class names, dataset root)`.

    Raises:
        DataNotFoundError: a list file or its frames are missing.
    """
    dataset = config["dataset"]
    if dataset == "synthetic_focus":
        from deltasparse.data.datasets.synthetic_focus import (
            ensure_synthetic_focus, synthetic_focus_videos)

        try:
            root = ensure_synthetic_focus(progress=config["verbose"] == 1,
                                          **dict(config["synthetic"]))
        except (TypeError, ValueError) as err:
            raise ConfigurationError(
                f"Invalid `synthetic` settings: {err}. "
                f"Received: synthetic={config['synthetic']!r}") from None
        train = synthetic_focus_videos(root, "train")
        return train, synthetic_focus_videos(root, "test"), list(
            train.class_names), root
    from deltasparse.data.datasets.list_files import list_file_videos

    spec = DATASETS[dataset]
    root = _data_root(config)
    class_file = config["class_file"]
    if class_file:
        class_file = os.path.join(root, class_file)
        if not os.path.isfile(class_file):
            raise DataNotFoundError(missing_data_message(
                config, os.path.basename(class_file)))
    lists = []
    for key in ("train_list", "val_list"):
        path = os.path.join(root, config[key] or spec[key])
        if not os.path.isfile(path):
            raise DataNotFoundError(missing_data_message(
                config, os.path.basename(path)))
        try:
            lists.append(list_file_videos(
                path, root, class_file=class_file,
                frame_template=(config["frame_template"]
                                or spec["frame_template"]),
                num_classes=dataset, multilabel=spec["multilabel"],
                name=key.split("_")[0]))
        except FileNotFoundError as err:
            raise DataNotFoundError(
                f"{err} {missing_data_message(config, 'a frame')}") from None
        except ValueError as err:
            raise ConfigurationError(str(err)) from None
    train, val = lists
    return train, val, list(train.class_names), root


def build_model(config, num_classes):
    """The configured `AdaFocusV2`, built for its frames."""
    from deltasparse.models.adafocus import AdaFocusV2
    from deltasparse.models.adafocus import build_small_adafocus

    size = (config["image_size"], config["image_size"])
    common = dict(num_segments=config["num_segments"],
                  policy_hidden=config["policy_hidden"],
                  classifier_hidden=config["classifier_hidden"],
                  dropout=config["dropout"],
                  random_patch_loss=config["random_patch_loss"],
                  seed=config.get("seed"))
    try:
        if config["preset"] == "small":
            return build_small_adafocus(num_classes, size,
                                        **dict(config["small_networks"]),
                                        **common)
        return AdaFocusV2.from_preset(
            config["preset"], num_classes,
            glance_weights=config["glance_weights"],
            local_weights=config["local_weights"], image_size=size,
            frames_preprocessing=config["preprocessing"], **common)
    except FileNotFoundError as err:
        raise DataNotFoundError(str(err)) from None
    except (TypeError, ValueError) as err:
        raise ConfigurationError(str(err)) from None


def make_optimizer(config, model, steps_per_epoch):
    """`GroupedSGD` with the per-epoch cosine and the module multipliers."""
    from deltasparse.training import EpochCosineDecay
    from deltasparse.training import GroupedSGD

    schedule = EpochCosineDecay(config["lr"], config["epochs"],
                                steps_per_epoch)
    multipliers = model.learning_rate_multipliers(
        glance=config["glance_lr_ratio"], policy=config["policy_lr_ratio"],
        classifier=config["classifier_lr_ratio"])
    optimizer = GroupedSGD(schedule, multipliers,
                           momentum=config["momentum"],
                           weight_decay=config["weight_decay"])
    return optimizer.use_layer_paths(model)


def compile_model(config, model, steps_per_epoch):
    """Compiles with the paper's loss (the model's own) and last-step
    accuracy."""
    import keras

    model.compile(optimizer=make_optimizer(config, model, steps_per_epoch),
                  metrics=[keras.metrics.CategoricalAccuracy(
                      name="accuracy")],
                  run_eagerly=config["run_eagerly"],
                  jit_compile=config["jit_compile"])


class AdaFocusData:
    """The pipelines of one configuration (training, test views)."""

    def __init__(self, config, train_videos, val_videos, root):
        from deltasparse.data.video.segment_crops import preload_frames

        self.config = config
        self.root = root
        self.videos = {"train": train_videos, "val": val_videos}
        self.frames = {"train": None, "val": None}
        if config["preload"]:
            for subset, videos in self.videos.items():
                self.frames[subset] = preload_frames(
                    videos, progress=config["verbose"] == 1)

    def steps_per_epoch(self):
        batches = len(self.videos["train"]) // self.config["batch_size"]
        return self.config["steps_per_epoch"] or max(1, batches)

    def train(self, seed):
        """`epoch -> dataset` of training batches (resumable)."""
        from deltasparse.data.video.segment_crops import (
            segment_training_dataset)

        config = self.config

        def for_epoch(epoch):
            return segment_training_dataset(
                self.videos["train"], config["num_segments"],
                config["image_size"], scales=tuple(config["scales"]),
                horizontal_flip=config["horizontal_flip"],
                frame_order=config["frame_order"],
                preprocessing=config["preprocessing"],
                batch_size=config["batch_size"], seed=seed, epoch=epoch,
                frames=self.frames["train"])
        return for_epoch

    def views(self, subset="val", indices=None):
        """Test-transform batches `(frames, labels, video_index)`."""
        from deltasparse.data.video.segment_crops import segment_view_dataset

        config = self.config
        videos, frames = self.videos[subset], self.frames[subset]
        if indices is not None:
            videos = videos.subset(indices)
            frames = None if frames is None else [frames[i] for i in indices]
        return segment_view_dataset(
            videos, config["num_segments"], config["image_size"],
            full_frame=config["full_frame"],
            frame_order=config["frame_order"],
            preprocessing=config["preprocessing"],
            batch_size=config["eval_batch_size"], frames=frames)


def _start(config, run, log):
    """Checks, data (fails fast), seed, model."""
    config = check_adafocus_config(config)
    start = time.time()
    train_videos, val_videos, names, root = load_videos(config)
    if config.get("seed") is not None:
        set_global_seed(config["seed"])
    data = AdaFocusData(config, train_videos, val_videos, root)
    run.info["data"] = {"dataset": config["dataset"], "root": root,
                        "num_classes": len(names),
                        "train_videos": len(train_videos),
                        "val_videos": len(val_videos)}
    log.info("data: %s (%d classes, %d/%d videos) at %s", config["dataset"],
             len(names), len(train_videos), len(val_videos), root)
    _timed(run, "data", start)
    start = time.time()
    model = build_model(config, len(names))
    run.info["model"] = {"preset": config["preset"], "name": model.name,
                         "params": int(model.count_params()),
                         "gflops_per_frame": model.gflops_per_frame()}
    _timed(run, "build", start)
    return config, data, model


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


def metric_name(config):
    """`"map"` or `"top1"`: what the dataset reports."""
    return DATASETS[config["dataset"]]["metric"]


def collect_step_logits(model, dataset, positions="policy", seed=0):
    """Per-step logits, labels, video indices and patch positions.

    Args:
        model: an `AdaFocusV2`.
        dataset: batches `(frames, labels, video_index)`.
        positions: `"policy"` (the learned patches) or `"random"`
            (uniform positions drawn from `seed`).
        seed: int, for `"random"`.

    Returns:
        dict of NumPy arrays: `step_logits` (N, T, K), `labels` (N, K),
        `video_index` (N,), `positions` (N, T, 2).
    """
    rng = np.random.default_rng(seed)
    out = {"step_logits": [], "labels": [], "video_index": [],
           "positions": []}
    for frames, labels, index in dataset:
        frames = np.asarray(frames)
        given = None
        if positions == "random":
            given = rng.uniform(size=(*frames.shape[:2], 2)).astype("float32")
        result = model({"frames": frames, "positions": given}
                       if given is not None else frames, training=False)
        out["step_logits"].append(np.asarray(result["step_logits"]))
        out["positions"].append(np.asarray(result["positions"]))
        out["labels"].append(np.asarray(labels))
        out["video_index"].append(np.asarray(index).reshape(-1))
    return {k: np.concatenate(v) for k, v in out.items()}


def last_step_figures(step_logits, labels, metric):
    """mAP or top-1 / top-5 of the last step's logits."""
    from deltasparse.evaluation import mean_average_precision
    from deltasparse.evaluation import top_k_accuracy

    scores = step_logits[:, -1]
    if metric == "map":
        return {"map": float(mean_average_precision(labels, scores))}
    figures = {"top1": float(top_k_accuracy(labels, scores, 1))}
    if scores.shape[1] > 5:
        figures["top5"] = float(top_k_accuracy(labels, scores, 5))
    return figures


def evaluate_model(config, run, model, data, step=0):
    """The final evaluation through the shared protocol (`evaluate_videos`
    on the last-step logits), with counted GFLOPs per video.

    Returns:
        dict: `map` or `top1`/`top5`, `videos`, `gflops_per_video`,
        `gflops_per_frame`, and every figure of the evaluation.
    """
    from deltasparse.evaluation import evaluate_videos
    from deltasparse.evaluation import format_evaluation
    from deltasparse.evaluation import write_evaluation_artifacts

    start = time.time()
    evaluation = evaluate_videos(model, data.views("val"), mode="score",
                                 outputs="logits",
                                 progress=config["verbose"] == 1)
    _timed(run, "evaluate", start)
    per_frame = run.info["model"]["gflops_per_frame"]  # counted once
    per_video = per_frame * config["num_segments"]
    folder = os.path.join(run_directory(run), "evaluation")
    paths = write_evaluation_artifacts(
        evaluation, folder, gflops_per_view=per_video,
        extra={"protocol": "adafocus_v2_last_step",
               "num_segments": config["num_segments"],
               "frame_order": config["frame_order"],
               "gflops_per_frame": per_frame})
    for path in paths.values():
        run.add_artifact(path, name=f"evaluation/{os.path.basename(path)}")
    figures = {k: plain(v) for k, v in evaluation.figures.items()}
    result = {"gflops_per_video": per_video, "gflops_per_frame": per_frame}
    for key in ("video_map", "video_top1", "video_top5", "videos"):
        if key in figures:
            result[key.replace("video_", "")] = figures[key]
    result.update({f"evaluation.{k}": v for k, v in figures.items()})
    if config["random_patch_evaluation"]:
        result.update(focus_comparison(config, run, model, data))
    for key, value in result.items():
        if isinstance(value, (int, float)):
            run.log_scalar(f"test.{key}", float(value), step)
    print(format_evaluation({"last step": evaluation},
                            gflops_per_view={"last step": per_video}))
    headline = METRIC_FIGURES[metric_name(config)]
    print(f"Test: {headline.replace('video_', '')} "
          f"{figures.get(headline, float('nan')):.4f} on "
          f"{figures.get('videos')} videos at {per_video:.2f} GFLOPs per "
          f"video ({per_frame:.3f} per frame, counted).")
    run.info["final"] = dict(result)
    return result


def focus_comparison(config, run, model, data):
    """Learned patches against uniformly random ones, on the validation
    videos: the metric of each and, on the synthetic focus set, the share
    of the object inside the patch. Writes `focus.json`."""
    metric = metric_name(config)
    learned = collect_step_logits(model, data.views("val"), "policy")
    random = collect_step_logits(model, data.views("val"), "random",
                                 seed=config.get("seed") or 0)
    report = {}
    for name, outputs in (("learned", learned), ("random", random)):
        figures = last_step_figures(outputs["step_logits"],
                                    outputs["labels"], metric)
        for key, value in figures.items():
            report[f"{name}_patch.{key}"] = value
    if config["dataset"] == "synthetic_focus":
        report.update(_object_coverage(config, model, data, learned, random))
    path = os.path.join(run_directory(run), "focus.json")
    write_json_atomic(path, report)
    run.add_artifact(path, name="focus.json")
    lines = [f"  {k}: {v:.4f}" for k, v in report.items()]
    print("Learned against random patches (validation):\n" + "\n".join(
        lines))
    return report


def _object_coverage(config, model, data, learned, random):
    """Mean share of the object's box inside the patch, per patch kind."""
    from deltasparse.data.datasets.synthetic_focus import object_boxes
    from deltasparse.data.datasets.synthetic_focus import object_coverage

    frame_indices = np.asarray(data.views("val").frame_indices)
    boxes = object_boxes(data.root, data.videos["val"])
    frame_side = int(config["synthetic"].get("size", 128))
    scale = config["image_size"] / frame_side
    report = {}
    for name, outputs in (("learned", learned), ("random", random)):
        rows = outputs["video_index"]
        box = boxes[rows[:, None], frame_indices[rows]] * scale
        share = object_coverage(outputs["positions"], box,
                                model.patch_size[0], config["image_size"])
        report[f"{name}_patch.object_coverage"] = float(np.mean(share))
    return report


def _periodic_evaluation(config, data):
    """The callback that evaluates every `eval_every` epochs and at the
    last `eval_last` (the original's schedule)."""
    from deltasparse.training.callbacks import PeriodicEvaluation
    from deltasparse.training.callbacks import periodic_epochs

    metric = metric_name(config)
    dataset = data.views("val")

    def evaluate(model):
        outputs = collect_step_logits(model, dataset)
        return last_step_figures(outputs["step_logits"], outputs["labels"],
                                 metric)
    epochs = periodic_epochs(config["epochs"], config["eval_every"],
                             config["eval_last"])
    return PeriodicEvaluation(evaluate, epochs, [metric]), f"val_{metric}"


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def train(config, run, log, experiment):
    """Main of every AdaFocusV2 script: train, then evaluate.

    Returns:
        dict, see `evaluate_model`, plus `last_epoch.*`, `epochs`,
        `resumed_from_epoch` and `best_epoch`.
    """
    from deltasparse.training import CheckpointLockedError
    from deltasparse.training import Trainer

    config, data, model = _start(config, run, log)
    ckpt_dir = checkpoint_directory(experiment, config)
    run.info["checkpoint_dir"] = ckpt_dir
    os.makedirs(ckpt_dir, exist_ok=True)
    write_json_atomic(os.path.join(ckpt_dir, "config.json"), config)
    steps = data.steps_per_epoch()
    compile_model(config, model, steps)
    callback, monitor = _periodic_evaluation(config, data)
    trainer = Trainer(os.path.join(ckpt_dir, "train"),
                      resume=config["resume"], seed=config["seed"],
                      monitor=monitor, mode="max",
                      keep=config["checkpoint_keep"],
                      log_scalar=run.log_scalar, verbose=config["verbose"])
    start = time.time()
    try:
        fit = trainer.fit(model, data.train(config["seed"]), config["epochs"],
                          steps_per_epoch=steps, callbacks=[callback])
    except CheckpointLockedError as err:
        raise ConfigurationError(
            f"{err} Set another `run_name` to train a second copy. "
            f"Received: run_name={config.get('run_name')!r}") from None
    _timed(run, "train", start)
    out = {f"last_epoch.{k}": float(v[-1]) for k, v in fit.history.items()
           if k in ("loss", "accuracy", monitor) and v and v[-1] is not None}
    out.update(epochs=int(config["epochs"]),
               resumed_from_epoch=int(fit.resumed_from_epoch or 0),
               best_epoch=getattr(fit, "best_epoch", None))
    for name, path in (("last.weights.h5", fit.last_weights_path),
                       ("best.weights.h5", fit.best_weights_path)):
        if path and os.path.isfile(path):
            run.add_artifact(path, name=name)
    if config["eval_weights"] == "best" and fit.best_weights_path:
        load_weights_quietly(model, fit.best_weights_path)
    if not config["final_evaluation"]:
        return out
    result = evaluate_model(config, run, model, data,
                            step=int(config["epochs"]))
    return {**result, **out}


def resolve_weights(config, experiment):
    """The weights of `evaluate` / `early_exit`: `weights` (a file or a run
    folder) or this configuration's latest checkpoint.

    Raises:
        DataNotFoundError: nothing to evaluate.
    """
    weights = config.get("weights")
    if weights:
        weights = os.path.expanduser(str(weights))
        if os.path.isdir(weights):
            for name in ("best.weights.h5", "last.weights.h5"):
                if os.path.isfile(os.path.join(weights, name)):
                    return os.path.join(weights, name)
            raise DataNotFoundError(
                f"`weights` folder {weights!r} holds no best.weights.h5 or "
                "last.weights.h5 (pass a run folder or a weights file).")
        if not os.path.isfile(weights):
            raise DataNotFoundError(f"`weights` file not found. Received: "
                                    f"weights={weights!r}")
        return weights
    folder = os.path.join(checkpoint_directory(experiment, config), "train")
    for name in ("best.weights.h5", "last.weights.h5"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    for name in ("best.weights.h5", "last.weights.h5"):
        path = os.path.join(checkpoint_directory(experiment, config), name)
        if os.path.isfile(path):
            return path
    raise DataNotFoundError(
        "No weights to evaluate: pass `weights=<file or run folder>` (e.g. "
        f"results/{experiment}/<run id>) or train this configuration first "
        f"(no checkpoint under {os.path.dirname(folder)!r}).")


def _load_trained(config, run, log, experiment):
    config, data, model = _start(config, run, log)
    weights = resolve_weights(config, experiment)
    try:
        model.load_weights(weights)
    except ValueError as err:
        raise ConfigurationError(
            f"`weights` does not fit the configured model ({err}). "
            f"Received: weights={weights!r}") from None
    run.info["weights"] = weights
    return config, data, model


def evaluate_weights(config, run, log, experiment):
    """The `evaluate` command: the final evaluation of `weights`."""
    config, data, model = _load_trained(config, run, log, experiment)
    return evaluate_model(config, run, model, data)


def early_exit_curve_command(config, run, log, experiment):
    """The `early_exit` command: the budget curve of `weights`.

    Returns:
        dict: `points` (rows of p, expected GFLOPs per video, metric),
        `full_video` (the 16-frame point), `criterion`, `metric`.
    """
    from deltasparse.evaluation import early_exit_curve
    from deltasparse.evaluation import format_early_exit_curve
    from deltasparse.evaluation import write_early_exit_curve

    config, data, model = _load_trained(config, run, log, experiment)
    num_train = len(data.videos["train"])
    limit = config["exit_train_videos"]
    indices = None
    if limit is not None and limit < num_train:
        rng = np.random.default_rng(config.get("seed") or 0)
        indices = np.sort(rng.choice(num_train, limit, replace=False))
    start = time.time()
    train_outputs = collect_step_logits(model, data.views("train", indices))
    val_outputs = collect_step_logits(model, data.views("val"))
    _timed(run, "collect_logits", start)
    metric = metric_name(config)
    rows = early_exit_curve(
        train_outputs["step_logits"], val_outputs["step_logits"],
        val_outputs["labels"], run.info["model"]["gflops_per_frame"],
        metric=metric, criterion=config["exit_criterion"])
    label = "mAP" if metric == "map" else "top-1"
    paths = write_early_exit_curve(
        rows, run_directory(run), metric_name=label,
        title=f"{experiment}: early exit ({config['exit_criterion']})")
    for path in paths.values():
        run.add_artifact(path, name=os.path.basename(path))
    print(format_early_exit_curve(rows, metric_name=label))
    points = [{"p": plain(r["p"]), "expected_gflops": float(
        r["expected_gflops"]), "metric": float(r["metric"])} for r in rows]
    for i, point in enumerate(points):
        if math.isfinite(point["p"]):
            run.log_scalar("early_exit.expected_gflops",
                           point["expected_gflops"], i)
            run.log_scalar(f"early_exit.{metric}", point["metric"], i)
    result = {"points": points, "full_video": points[-1],
              "criterion": config["exit_criterion"], "metric": metric,
              "train_videos": int(len(train_outputs["labels"]))}
    run.info["final"] = result
    return result


__all__ = [
    "DATASETS",
    "DEMO",
    "PAPER_CONFIGURATIONS",
    "AdaFocusData",
    "add_adafocus_experiment",
    "adafocus_config",
    "build_model",
    "check_adafocus_config",
    "collect_step_logits",
    "compile_model",
    "early_exit_curve_command",
    "evaluate_model",
    "evaluate_weights",
    "focus_comparison",
    "last_step_figures",
    "load_videos",
    "make_optimizer",
    "resolve_weights",
    "train",
]
