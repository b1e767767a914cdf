"""The training protocol of the video classification experiments (UCF101).

Plain Python (no Sacred): the experiment glue
(`deltasparse.experiment.video_experiments`) turns a script's config into
calls of these functions, and library users can call them directly.

- `build_video_classifier`: a `VideoClassifier` from its preset
  (`"<architecture>_<sparsity>"`, the paper values) with the script's
  overrides; the frame baselines use the same model on 1-frame clips.
- `VideoClips`: the clip datasets of one prepared split: training data per
  epoch (order and augmentation from `(seed, epoch)`, so a resumed run sees
  the batches an uninterrupted one would) and test clips, each test index
  built once per settings and reused (validation, final evaluation, plot).
- `Phase` / `train_phases`: one resumable `Trainer` fit per phase (the
  ResNet-50 baseline has two: head only, then `conv5_*` and the head).
- `evaluate_with_layers`: the final evaluation (spec §7) plus the
  per-layer figures of its first clips.
"""

import dataclasses
import os

import keras
import numpy as np

from deltasparse.training.checkpoints import load_weights_quietly

PREPROCESSING = {"resnet50": "caffe", "mobilenet": "tf"}
"""Input preprocessing of each architecture (spec §6.2)."""

ARCHITECTURES = tuple(PREPROCESSING)
SPARSITIES = (None, "l1", "delta")


def preset_name(architecture, sparsity):
    """The `VideoClassifier` preset of an architecture and sparsity.

    Example:
    >>> preset_name("mobilenet", "delta")
    'mobilenet_delta'
    >>> preset_name("resnet50", None)
    'resnet50_baseline'
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"`architecture` must be one of {list(ARCHITECTURES)}"
                         f". Received: architecture={architecture!r}")
    if sparsity not in SPARSITIES:
        raise ValueError(f"`sparsity` must be one of {list(SPARSITIES)}. "
                         f"Received: sparsity={sparsity!r}")
    return f"{architecture}_{sparsity or 'baseline'}"


def build_video_classifier(architecture, sparsity, num_classes, image_size,
                           **overrides):
    """A `VideoClassifier` from its preset, with the given overrides.

    Args:
        architecture: `"resnet50"` or `"mobilenet"`.
        sparsity: `None`, `"l1"` or `"delta"`.
        num_classes: int.
        image_size: `(height, width)`.
        **overrides: preset arguments to change (`sp_rate`, `thr_init`,
            `thr_trainable`, `bn_momentum`, `alpha`); `None` values keep the
            preset's.

    Returns:
        A `deltasparse.models.VideoClassifier` (not compiled).
    """
    from deltasparse.models.video_classifier import VideoClassifier

    kwargs = {k: v for k, v in overrides.items() if v is not None}
    return VideoClassifier.from_preset(
        preset_name(architecture, sparsity), num_classes=int(num_classes),
        image_size=tuple(int(v) for v in image_size), **kwargs)


def compile_video_classifier(model, lr, momentum=0.9, decay=5e-4,
                             optimizer="sgd", run_eagerly=False,
                             jit_compile=False):
    """Compiles with the paper optimizer, cross-entropy and accuracy.

    The optimizer is `deltasparse.training.make_optimizer(lr, momentum,
    decay, optimizer)` (SGD with the legacy TF-2.3 inverse-time `decay` per
    step, spec §5); the layers' sparsity losses are added by the model.

    Returns:
        The model.
    """
    from deltasparse.training import make_optimizer

    optimizer = make_optimizer(lr, momentum, decay, optimizer)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy",
                  metrics=["accuracy"], run_eagerly=bool(run_eagerly),
                  jit_compile=jit_compile)
    return model


class VideoClips:
    """The clip datasets of one prepared split, test indexes built once.

    Args:
        root: str, the prepared split folder (`train/`, `test/`, ...).
        class_names: list of str, label `j` is `class_names[j]`.
        architecture: `"resnet50"` or `"mobilenet"` (the preprocessing).
        image_size: `(height, width)` of the frames fed to the model.
        source: `"frames"` (extracted JPEGs) or `"video"`. Defaults to
            `"frames"`.

    Example:
    >>> clips = VideoClips(root, names, "mobilenet", (64, 64))  # doctest: +SKIP
    >>> train = clips.train(2, batch_size=8, sequence_stride=1, seed=1)  # doctest: +SKIP
    >>> x, y = next(iter(train(0)))  # epoch 0  # doctest: +SKIP
    """

    def __init__(self, root, class_names, architecture, image_size,
                 source="frames"):
        self.root = root
        self.class_names = list(class_names)
        self.preprocessing = PREPROCESSING[architecture]
        self.image_size = tuple(int(v) for v in image_size)
        self.source = source
        self._test = {}
        self._test_videos = None

    def _common(self):
        return dict(image_size=self.image_size,
                    preprocessing=self.preprocessing, source=self.source,
                    classes=self.class_names, progress=False)

    def train(self, clip_length, batch_size, sequence_stride, frame_stride=1,
              augment=True, seed=None):
        """Training clips as `epoch -> dataset` (see `Trainer.fit`).

        Raises:
            ValueError: fewer training clips than one batch.
        """
        from deltasparse.data.video import clip_dataset

        def for_epoch(epoch):
            return clip_dataset(
                self.root, clip_length, frame_stride=frame_stride,
                sequence_stride=sequence_stride, batch_size=batch_size,
                augment=augment, shuffle=True, seed=seed, epoch=epoch,
                drop_remainder=True, subset="train", **self._common())

        first = for_epoch(0)
        if len(first) == 0:
            raise ValueError(
                f"Only {first.num_clips} training clips, fewer than one "
                f"batch; lower `batch_size`. Received: batch_size={batch_size}")
        for_epoch.num_clips = int(first.num_clips)
        for_epoch.batches = len(first)
        return for_epoch

    def test(self, clip_length, sequence_stride, batch_size, frame_stride=1,
             shuffle=False, seed=None):
        """Test clips, one dataset (and index) per distinct settings."""
        from deltasparse.data.video import clip_dataset

        key = (int(clip_length), float(sequence_stride), int(batch_size),
               int(frame_stride), bool(shuffle), seed if shuffle else None)
        if key not in self._test:
            self._test[key] = clip_dataset(
                self.root, clip_length, frame_stride=frame_stride,
                sequence_stride=sequence_stride, batch_size=batch_size,
                augment=False, shuffle=shuffle, seed=seed, subset="test",
                **self._common())
        return self._test[key]


    def test_videos(self):
        """The readable test videos as a `VideoList` (indexed once)."""
        if self._test_videos is None:
            from deltasparse.data.video import index_clips

            self._test_videos = index_clips(
                self.root, 1, subset="test", classes=self.class_names,
                source=self.source, progress=False).video_list()
        return self._test_videos

    def views(self, clip_length, batch_size, num_clips=1, num_crops=1,
              sampling="uniform", sequence_stride=None, full_frame=False,
              crop_fraction=None):
        """Multi-view test clips of every test video (`view_dataset`)."""
        from deltasparse.data.video import view_dataset

        return view_dataset(
            self.test_videos(), clip_length, num_clips=num_clips,
            num_crops=num_crops, sampling=sampling,
            sequence_stride=sequence_stride, image_size=self.image_size,
            preprocessing=self.preprocessing, crop_fraction=crop_fraction,
            batch_size=batch_size, full_frame=full_frame)


@dataclasses.dataclass(frozen=True)
class Phase:
    """One resumable fit of `train_phases`.

    Args:
        name: str, also the checkpoint sub-folder.
        epochs: int, the last epoch of the phase (counted from 1).
        lr: float, its learning rate (a fresh optimizer per phase, as the
            original recompiled).
        trainable_prefix: None (every layer trainable), `""` (the head
            only: the backbone is frozen) or a prefix (backbone layers whose
            names start with it, plus the head).
    """

    name: str
    epochs: int
    lr: float
    trainable_prefix: str = None


def set_trainable(model, trainable_prefix=None):
    """Freezes the backbone layers that do not match `trainable_prefix`.

    Args:
        model: a `VideoClassifier` (its `backbone` is frozen layer by layer).
        trainable_prefix: see `Phase`.

    Returns:
        int, the number of trainable layers that own weights.
    """
    backbone = model.backbone
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = trainable_prefix is None or (
            bool(trainable_prefix) and layer.name.startswith(trainable_prefix))
    return sum(1 for layer in model.layers
               if layer.trainable and layer.trainable_weights)


@dataclasses.dataclass
class PhasesResult:
    """What `train_phases` returns (the `TrainingResult` of every phase)."""

    history: dict
    epochs: list
    resumed_from_epoch: int
    best_weights_path: str
    last_weights_path: str
    best_epoch: int
    best_value: float
    checkpoint_dirs: list


def train_phases(model, phases, checkpoint_dir, train_data, *, compile_phase,
                 validation_data=None, steps_per_epoch=None,
                 validation_steps=None, initial_epoch=0, resume=False,
                 seed=None, keep=2, log_scalar=None, verbose=2, strategy=None,
                 callbacks=()):
    """Trains `model` through `phases`, each one resumable `Trainer` fit.

    Phase `i` runs epochs `phases[i-1].epochs + 1 .. phases[i].epochs` in
    `<checkpoint_dir>/<phase name>`; a phase whose epochs are all done (on
    resume) is skipped after loading its last weights. History, best
    weights (by `val_accuracy`) and epoch numbers span every phase; on
    resume the epochs finished earlier are logged again through
    `log_scalar` (once, in epoch order), so a resumed run's metrics hold
    every epoch.

    Args:
        model: the model to train.
        phases: list of `Phase`.
        checkpoint_dir: str, folder of this configuration's checkpoints.
        train_data: dataset or `epoch -> dataset`.
        compile_phase: callable `(model, phase)` that compiles the model
            for a phase (called inside the strategy scope).
        validation_data, steps_per_epoch, validation_steps, seed, keep,
        log_scalar, verbose, strategy, callbacks: see
            `deltasparse.training.Trainer`.
        initial_epoch: int, epochs done before the first phase (numbering
            only; e.g. the epochs of `initial_weights`). Defaults to `0`.
        resume: bool, continue from the checkpoints. Defaults to `False`.

    Returns:
        `PhasesResult`.
    """
    from deltasparse.training import Trainer

    history, epochs, dirs = {}, [], []
    best = (None, None, None)
    resumed, last_path = None, None
    start = int(initial_epoch)
    for phase in phases:
        if phase.epochs <= start:
            continue
        folder = os.path.join(checkpoint_dir, phase.name)
        dirs.append(folder)
        set_trainable(model, phase.trainable_prefix)
        scope = strategy.scope() if strategy is not None else _null_scope()
        with scope:
            compile_phase(model, phase)
        trainer = Trainer(folder, resume=resume, seed=seed,
                          monitor="val_accuracy", mode="max", keep=keep,
                          log_scalar=log_scalar, verbose=verbose,
                          strategy=strategy)
        if log_scalar is not None:
            trainer.replay_history(log_scalar)
        result = trainer.fit(
            model, train_data, phase.epochs, validation_data=validation_data,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps, callbacks=list(callbacks),
            initial_epoch=start)
        if resumed is None and result.resumed_from_epoch is not None:
            resumed = int(result.resumed_from_epoch)
        for name, values in result.history.items():
            history.setdefault(name, []).extend(values)
        epochs.extend(result.epochs)
        if result.best_value is not None and (
                best[1] is None or result.best_value > best[1]):
            best = (result.best_epoch, result.best_value,
                    result.best_weights_path)
        last_path = result.last_weights_path
        start = phase.epochs
    if last_path is not None and os.path.isfile(last_path):
        load_weights_quietly(model, last_path)
    return PhasesResult(history=history, epochs=epochs,
                        resumed_from_epoch=resumed, best_weights_path=best[2],
                        last_weights_path=last_path, best_epoch=best[0],
                        best_value=best[1], checkpoint_dirs=dirs)


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def protocol_figures(evaluation):
    """The figures of the UCF101 evaluation from a `VideoEvaluation`.

    `accuracy` (clip top-1, every view on its own, as `evaluate_clips`),
    `loss` (the plain cross-entropy of the views' probabilities, without
    the sparsity terms), `clips` (views), `video_accuracy` (video top-1
    after averaging the views of each video), then every figure of the
    evaluation (`clip_top5`, `video_top5`, mean-class accuracies, mAP,
    `videos`, `steps`, the sparsity figures).
    """
    import numpy as np

    from deltasparse.evaluation import plain_crossentropy
    from deltasparse.evaluation import softmax

    figures = dict(evaluation.figures)
    scores = np.asarray(evaluation.view_scores, "float64")
    if evaluation.outputs == "logits":
        scores = softmax(scores)
    index = np.asarray(evaluation.view_video_index)
    _, first = np.unique(index, return_index=True)
    order = index[np.sort(first)]  # videos in first-seen order, as scored
    row = {int(v): i for i, v in enumerate(order)}
    labels = evaluation.video_labels[[row[int(v)] for v in index]]
    out = {"accuracy": figures.pop("clip_top1"),
           "loss": float(np.mean(plain_crossentropy(labels, scores))),
           "clips": figures.pop("views"),
           "video_accuracy": figures.pop("video_top1")}
    out.update(figures)
    return out


def evaluate_with_layers(model, dataset, steps=None, layer_clips=0,
                         progress=False, mode="prob"):
    """The final evaluation, plus the per-layer figures of its first clips.

    Args:
        model: the compiled model.
        dataset: the test views (`VideoClips.views`: clip and video
            figures, see `protocol_figures`) or clips (`VideoClips.test`:
            clip figures of `evaluate_clips`).
        steps: int or None, evaluation batches (None = all).
        layer_clips: int, clips of the per-layer figures (the first clips
            of `dataset`, so no second index); 0 or a model without slots
            gives none.
        progress: bool, a progress bar.
        mode: `"prob"` or `"score"`, how views are averaged per video.

    Returns:
        `(figures, layers, evaluation)`: the figures dict, the dict of
        `layer_sparsity` (or None) and the `VideoEvaluation` (None for a
        clip dataset).
    """
    from deltasparse.evaluation import evaluate_clips
    from deltasparse.evaluation import evaluate_videos
    from deltasparse.evaluation import layer_sparsity
    from deltasparse.models.sparsity_slots import model_sparsity_slots

    evaluation = None
    if hasattr(dataset, "video_list"):
        evaluation = evaluate_videos(model, dataset, steps=steps, mode=mode,
                                     progress=progress)
        figures = protocol_figures(evaluation)
    else:
        figures = evaluate_clips(model, dataset, steps=steps,
                                 progress=progress)
    layers = None
    if layer_clips and model_sparsity_slots(model):
        batch = dataset.unbatch().take(int(layer_clips)).batch(
            int(layer_clips))
        layers = layer_sparsity(model, next(iter(batch))[0])
    return figures, layers, evaluation


__all__ = [
    "ARCHITECTURES",
    "PREPROCESSING",
    "Phase",
    "PhasesResult",
    "VideoClips",
    "build_video_classifier",
    "compile_video_classifier",
    "evaluate_with_layers",
    "preset_name",
    "protocol_figures",
    "set_trainable",
    "train_phases",
]
