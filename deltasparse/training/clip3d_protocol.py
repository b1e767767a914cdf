"""The training and evaluation protocol of the 3-D CNNs (Hara et al.).

Plain Python (no Sacred), what `deltasparse.experiment.clip3d_experiments`
runs for the compressed-3d-cnn configurations (spec `video_systems.md`
§A2.2, §A2.4) and what a library user can call directly:

- `build_clip3d_classifier`: a `VideoClassifier` on a 3-D backbone preset
  (`"resnet3d_18"`, `"resnet3d_50"`, `"resnet3d_101"`,
  `"mobilenetv2_3d_1.0x"`, `"csn_ir_50"`, ...), from
  `VideoClassifier.from_preset` once the preset is registered there, else
  from the family's own presets module.
- `make_clip3d_optimizer`: PyTorch SGD (momentum 0.9, dampening 0.9,
  coupled weight decay 1e-3; `SGDWithDampening`) or Adam for the demos;
  `plateau_callback`: `ReduceLearningRateOnPlateau` on the validation loss
  (patience 10, factor 0.1), stepped once per epoch.
- `load_pretrained` (`pretrain_path` + `ft_portion` "complete" |
  "last_layer"), `inflate_pretrained` (`inflate_from`: a 2-D
  keras.applications weights file, I3D inflation).
- `Clip3DData`: the datasets of one prepared split (training clips per
  epoch, centre validation clips, every non-overlapping test clip), see
  `deltasparse.data.video.clip_crops`.
- `fit_clip3d`: one resumable `deltasparse.training.Trainer` fit.
- `evaluate_video_accuracy` (softmax per clip averaged per video, top-1 /
  top-5) and `top_predictions` / `write_top_predictions` (the per-video
  top-10 of Hara's `val.json`).

Differences from the originals are stated where they occur: with
`ft_portion="last_layer"` the frozen BatchNorm layers run in inference mode
(Keras freezes their statistics too; PyTorch's `model.train()` kept
updating the running statistics of the layers it did not optimise).
"""

import json
import logging
import os

import keras
import numpy as np

logger = logging.getLogger(__name__)

#: The seed system's five configurations (spec §A2.1).
SEED_PRESETS = ("resnet3d_18", "resnet3d_50", "resnet3d_101",
                "mobilenetv2_3d_1.0x", "csn_ir_50")
FT_PORTIONS = ("complete", "last_layer")
OPTIMIZERS = ("sgd", "adam")
TOP_PREDICTIONS = 10


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def list_clip3d_presets():
    """Names of the `VideoClassifier` presets with a 3-D backbone."""
    from deltasparse.models.video_classifier import PRESET_FAMILIES
    from deltasparse.models.video_classifier import PRESETS

    return sorted(name for name, entry in PRESETS.items()
                  if PRESET_FAMILIES[entry["metadata"]["path"]].spatiotemporal)


def build_clip3d_classifier(preset, num_classes, image_size=(112, 112),
                            clip_length=None, **overrides):
    """A `VideoClassifier` on a 3-D backbone preset.

    Args:
        preset: str, a 3-D preset (`list_clip3d_presets()`), e.g.
            `"resnet3d_18"`.
        num_classes: int >= 1.
        image_size: `(height, width)`. Defaults to `(112, 112)`.
        clip_length: None (any) or int, frames per clip of the input.
        **overrides: backbone arguments (`bn_momentum`, ...) and classifier
            arguments (`dropout`, ...); None values keep the preset's.

    Returns:
        An uncompiled `VideoClassifier`.

    Raises:
        ValueError: an unknown preset (the message lists the known ones).

    Example:
    >>> model = build_clip3d_classifier("resnet3d_18", 8, (32, 32), 8)  # doctest: +SKIP
    """
    from deltasparse.models import VideoClassifier

    kwargs = {k: v for k, v in overrides.items() if v is not None}
    kwargs.update(image_size=tuple(int(v) for v in image_size),
                  clip_length=clip_length)
    if preset not in list_clip3d_presets():
        raise ValueError(
            f"`architecture` must be a 3-D backbone preset, one of "
            f"{list_clip3d_presets()}. Received: architecture={preset!r}")
    return VideoClassifier.from_preset(preset, int(num_classes), **kwargs)


def set_ft_portion(model, ft_portion="complete"):
    """Which layers train: every layer, or the classifier only.

    `"last_layer"` is Efficient-3DCNNs' `--ft_portion last_layer` (only the
    `classifier` parameters go to the optimizer). Frozen Keras
    BatchNormalization layers also stop updating their statistics (they
    run in inference mode), unlike PyTorch's.

    Returns:
        int, the number of trainable weight tensors.
    """
    if ft_portion not in FT_PORTIONS:
        raise ValueError(f"`ft_portion` must be one of {FT_PORTIONS}. "
                         f"Received: ft_portion={ft_portion!r}")
    model.trainable = True
    for layer in model.layers:
        layer.trainable = (ft_portion == "complete"
                           or layer.name == "classifier")
    return len(model.trainable_weights)


def zero_init_residual_branches(model):
    """Zeroes the scale (`gamma`) of the last BatchNorm of every residual
    branch, so that each residual block starts as the identity.

    Goyal et al. 2017 ("Accurate, Large Minibatch SGD", §5.1; torchvision's
    `zero_init_residual`). Not in the seed (Hara's BN scales start at 1):
    the `demo` configurations use it to train deep 3-D networks from
    scratch in minutes. A branch's last BatchNorm is a `BatchNormalization`
    input of an `Add` layer whose name does not end with `_0_bn` (the
    projection shortcut B keeps its scale).

    Args:
        model: a built Keras model (nested models are searched too).

    Returns:
        list of str, the names of the BatchNorm layers zeroed.
    """
    zeroed = []
    for layer in _all_layers(model):
        if not isinstance(layer, keras.layers.Add):
            continue
        for tensor in keras.tree.flatten(layer.input):
            source = tensor._keras_history.operation
            if (isinstance(source, keras.layers.BatchNormalization)
                    and source.scale and not source.name.endswith("_0_bn")):
                source.gamma.assign(keras.ops.zeros_like(source.gamma))
                zeroed.append(source.name)
    return zeroed


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def load_pretrained(model, path):
    """Loads every layer but the classifier from a same-architecture file.

    `path` is a `.weights.h5` or `.keras` file of the same architecture,
    usually with another class count (Hara's `--pretrain_path` with
    `--n_finetune_classes`): layers are matched by name and shape
    (`deltasparse.models.transfer_weights`); `classifier` is never copied.

    Returns:
        `TransferReport`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: no layer matched (another architecture?).
    """
    from deltasparse.models import transfer_weights

    path = os.fspath(os.path.expanduser(str(path)))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "`pretrain_path` must be a `.weights.h5` or `.keras` file of "
            "the same architecture (e.g. a Kinetics run's "
            f"last.weights.h5). Received: pretrain_path={path!r}")
    report = transfer_weights(path, model, exclude=["classifier"])
    if not report.matched:
        raise ValueError(
            f"`pretrain_path` shares no layer (name and shapes) with "
            f"{model.name!r}: another architecture? {report.summary()} "
            f"Received: pretrain_path={path!r}")
    return report


def inflate_pretrained(model, source, time_kernel="mean"):
    """I3D inflation of a 2-D keras.applications weights file into `model`.

    Calls `deltasparse.models.weight_inflation.inflate_2d_weights(model,
    source, time_kernel=...)` (matched by layer name, classifier not
    copied).

    Raises:
        FileNotFoundError: no such file.
        ValueError: nothing matched.
    """
    source = os.fspath(os.path.expanduser(str(source)))
    if not os.path.isfile(source):
        raise FileNotFoundError(
            "`inflate_from` must be a keras.applications ResNet50 or "
            "MobileNetV2 weights file (`.h5`; nothing is downloaded). "
            f"Received: inflate_from={source!r}")
    from deltasparse.models.weight_inflation import inflate_2d_weights
    return inflate_2d_weights(model, source, time_kernel=time_kernel)


# --------------------------------------------------------------------------
# Optimizer and learning-rate plateau
# --------------------------------------------------------------------------


def make_clip3d_optimizer(lr=0.1, momentum=0.9, dampening=0.9,
                          weight_decay=1e-3, nesterov=False, optimizer="sgd"):
    """The seed's optimizer: PyTorch SGD with dampening and weight decay.

    `"sgd"`: `deltasparse.training.optimizers.SGDWithDampening` (PyTorch
    `torch.optim.SGD` semantics: coupled L2 on every trainable variable,
    `buf = momentum * buf + (1 - dampening) * g`). `"adam"`: Keras Adam with `learning_rate=lr` (the demos:
    from scratch in minutes), `weight_decay` unused.

    Returns:
        A `keras.optimizers.Optimizer`.

    Raises:
        ValueError: an argument out of range.

    Example:
    >>> make_clip3d_optimizer(0.1).learning_rate.numpy().round(3)  # doctest: +SKIP
    0.1
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {OPTIMIZERS}. "
                         f"Received: optimizer={optimizer!r}")
    for name, value in (("lr", lr), ("momentum", momentum),
                        ("dampening", dampening),
                        ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(
                value, (int, float)) or value < 0 or (name == "lr"
                                                      and value == 0):
            raise ValueError(f"`{name}` must be a number >= 0 (lr > 0). "
                             f"Received: {name}={value!r}")
    if optimizer == "adam":
        return keras.optimizers.Adam(float(lr))
    from deltasparse.training.optimizers import SGDWithDampening

    return SGDWithDampening(float(lr), momentum=float(momentum),
                            dampening=float(dampening),
                            weight_decay=float(weight_decay),
                            nesterov=bool(nesterov))


def plateau_callback(patience=10, factor=0.1, state_path=None):
    """PyTorch `ReduceLROnPlateau` on `val_loss`, stepped every epoch.

    `deltasparse.training.plateau.ReduceLearningRateOnPlateau`, its state
    written to `state_path` after every epoch (put it in the trainer's
    folder: a resumed run continues it exactly).
    """
    from deltasparse.training.plateau import ReduceLearningRateOnPlateau

    return ReduceLearningRateOnPlateau(patience=patience, factor=factor,
                                       state_path=state_path)


def compile_clip3d(model, optimizer, run_eagerly=False, jit_compile=False):
    """Cross-entropy, clip top-1 `accuracy` and (K > 5) clip `top5`."""
    metrics = ["accuracy"]
    if model.output_shape[-1] > 5:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(5, name="top5"))
    model.compile(optimizer=optimizer, loss="categorical_crossentropy",
                  metrics=metrics, run_eagerly=bool(run_eagerly),
                  jit_compile=jit_compile)
    return model


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


class Clip3DData:
    """The clip datasets of one prepared split, as Hara samples them.

    Args:
        root: str, a prepared split folder (`train/`, `test/`, and the
            `*_frames/` twins for `source="frames"`).
        class_names: list of str (label `j` is `class_names[j]`).
        image_size: int or `(s, s)`, the square model input (112).
        clip_length: int, frames per clip (16).
        normalization: a `ClipNormalization` (or any callable on RGB
            0-255 clips).
        source: `"frames"` or `"video"`. Defaults to `"frames"`.

    Example:
    >>> data = Clip3DData(root, names, 112, 16, ClipNormalization())  # doctest: +SKIP
    >>> x, y = next(iter(data.train(32, seed=1)(0)))  # epoch 0  # doctest: +SKIP
    """

    def __init__(self, root, class_names, image_size, clip_length,
                 normalization, source="frames"):
        from deltasparse.data.video.clip_crops import check_square_size

        self.root = root
        self.class_names = list(class_names)
        self.image_size = check_square_size(image_size)
        self.clip_length = int(clip_length)
        self.normalization = normalization
        self.source = source
        self._videos = {}

    def videos(self, subset):
        """The readable videos of `"train"` or `"test"` (a `VideoList`)."""
        if subset not in self._videos:
            from deltasparse.data.video import index_clips

            self._videos[subset] = index_clips(
                self.root, 1, subset=subset, classes=self.class_names,
                source=self.source, progress=False).video_list()
        return self._videos[subset]

    def train(self, batch_size, seed=None, scales=None,
              crop_positions=None, horizontal_flip=True):
        """Training clips as `epoch -> dataset` (`Trainer.fit`).

        Raises:
            ValueError: fewer training videos than one batch.
        """
        from deltasparse.data.video.clip_crops import CROP_POSITIONS
        from deltasparse.data.video.clip_crops import clip3d_training_dataset

        videos = self.videos("train")
        if len(videos) < batch_size:
            raise ValueError(
                f"Only {len(videos)} training videos, fewer than one batch; "
                f"lower `batch_size`. Received: batch_size={batch_size}")

        def for_epoch(epoch):
            return clip3d_training_dataset(
                videos, self.clip_length, self.image_size, scales=scales,
                crop_positions=crop_positions or CROP_POSITIONS,
                horizontal_flip=horizontal_flip,
                preprocessing=self.normalization, batch_size=batch_size,
                shuffle=True, seed=seed, epoch=epoch, drop_remainder=True)

        for_epoch.num_clips = len(videos)
        for_epoch.batches = len(videos) // batch_size
        return for_epoch

    def views(self, num_clips, batch_size):
        """Test-video clips with their video index (`clip3d_view_dataset`):
        `num_clips=0` every non-overlapping clip, `1` the centre clip."""
        from deltasparse.data.video.clip_crops import clip3d_view_dataset

        return clip3d_view_dataset(
            self.videos("test"), self.clip_length, num_clips,
            self.image_size, self.normalization, batch_size)

    def validation(self, num_clips, batch_size):
        """`(clips, labels)` of the `num_clips` centre clip(s) of every test
        video: the clip accuracy of every epoch."""
        from deltasparse.data.video.clip_crops import without_video_index

        views = self.views(num_clips, batch_size)
        ds = without_video_index(views)
        ds.num_views = views.num_views
        return ds


# --------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------


def fit_clip3d(model, checkpoint_dir, train_data, epochs, compile_model, *,
               validation_data=None, steps_per_epoch=None,
               validation_steps=None, resume=False, seed=None, keep=2,
               log_scalar=None, verbose=2, callbacks=()):
    """One resumable `Trainer` fit (best weights by `val_accuracy`).

    Args:
        model: the classifier.
        checkpoint_dir: str, the configuration's checkpoint folder (the
            fit writes `<checkpoint_dir>/train/`).
        train_data: `epoch -> dataset` (`Clip3DData.train`).
        epochs: int, the last epoch.
        compile_model: callable `model -> None` that compiles it.
        validation_data, steps_per_epoch, validation_steps, resume, seed,
        keep, log_scalar, verbose, callbacks: see
            `deltasparse.training.Trainer`.

    Returns:
        `deltasparse.training.video_protocol.PhasesResult`.
    """
    from deltasparse.training.video_protocol import Phase
    from deltasparse.training.video_protocol import train_phases

    return train_phases(
        model, [Phase("train", int(epochs), 0.0, None)], checkpoint_dir,
        train_data, compile_phase=lambda m, phase: compile_model(m),
        validation_data=validation_data, steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps, resume=resume, seed=seed,
        keep=keep, log_scalar=log_scalar, verbose=verbose,
        callbacks=list(callbacks))


def evaluate_video_accuracy(model, dataset, steps=None, progress=False):
    """Video accuracy as Hara's test mode: softmax per clip, mean per video.

    `deltasparse.evaluation.evaluate_videos(mode="prob")` over
    `Clip3DData.views(0, ...)` (every non-overlapping clip): figures
    `video_top1`, `video_top5`, the clip figures of the same clips, etc.

    Returns:
        `VideoEvaluation`.
    """
    from deltasparse.evaluation import evaluate_videos

    return evaluate_videos(model, dataset, steps=steps, mode="prob",
                           progress=progress)


def top_predictions(evaluation, k=TOP_PREDICTIONS):
    """The top-`k` classes of every video, as Hara's `calculate_video_results`.

    Args:
        evaluation: a `VideoEvaluation` (its `video_scores` are the mean
            clip probabilities).
        k: int >= 1 (at most the class count). Defaults to 10.

    Returns:
        dict `video_id -> [{"label": class name, "score": float}, ...]`,
        best first (ties: the lower class index first).

    Example:
    >>> from deltasparse.evaluation import VideoEvaluation
    >>> e = VideoEvaluation(figures={}, video_ids=["a"],
    ...     video_scores=np.array([[0.2, 0.5, 0.3]]),
    ...     video_labels=np.eye(3)[[1]], class_names=["x", "y", "z"], views={})
    >>> top_predictions(e, 2)
    {'a': [{'label': 'y', 'score': 0.5}, {'label': 'z', 'score': 0.3}]}
    """
    scores = np.asarray(evaluation.video_scores, np.float64)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"`k` must be an int >= 1. Received: k={k!r}")
    k = min(int(k), scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    names = evaluation.class_names
    return {str(vid): [{"label": names[j], "score": float(scores[i, j])}
                       for j in order[i]]
            for i, vid in enumerate(evaluation.video_ids)}


def write_top_predictions(evaluation, path, k=TOP_PREDICTIONS):
    """Writes `{"results": top_predictions(...)}` to `path` atomically.

    The layout of Hara's `val.json` (read by his `eval_ucf101.py` and the
    seed's `utils/video_accuracy.py`).

    Returns:
        str, the path.
    """
    from deltasparse.training.checkpoints import write_json_atomic

    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_json_atomic(path, {"results": top_predictions(evaluation, k)})
    return path


def read_top_predictions(path):
    """The `video_id -> top-k list` of a `write_top_predictions` file."""
    with open(path) as handle:
        return json.load(handle)["results"]


__all__ = [
    "Clip3DData",
    "FT_PORTIONS",
    "SEED_PRESETS",
    "build_clip3d_classifier",
    "compile_clip3d",
    "evaluate_video_accuracy",
    "fit_clip3d",
    "inflate_pretrained",
    "list_clip3d_presets",
    "load_pretrained",
    "make_clip3d_optimizer",
    "plateau_callback",
    "read_top_predictions",
    "set_ft_portion",
    "top_predictions",
    "write_top_predictions",
    "zero_init_residual_branches",
]
