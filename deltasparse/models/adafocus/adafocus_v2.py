"""`AdaFocusV2`: glance, learned differentiable patch focus, per-step logits.

Wang, Chen, Song, Huang et al., "AdaFocus V2: End-to-End Training of
Spatial Dynamic Networks for Video Recognition", CVPR 2022
(arXiv 2112.14238), as implemented in `models/adafocus_v2.py` and
`main_v2.py` of `LeapLabTHU/AdaFocusV2` (spec `video_systems.md` A1).

Per frame, a cheap glance network sees the whole frame (or a downsample),
a policy network picks where to look on the glance features with their
gradient stopped, `deltasparse.layers.PatchCrop` cuts a differentiable P x P
patch there from the full-resolution frame, and an expensive local network
sees the patch. The fusion classifier turns the concatenated features into
per-step logits (step t sees frames 0..t), so a video can stop early.

Differences from the original, all deliberate:

- Frames are channels-last `(B, T, H, W, 3)`; time is folded into the batch
  for the CNNs and every BatchNorm (as the original's `view(-1, ...)`).
- Patch positions outside [0, 1] sample border pixels (PyTorch pads with
  zeros); the sigmoid never produces them.
- The 96x96 glance downsample is bilinear with `align_corners=True` as the
  original's `F.interpolate`, written as two constant interpolation
  matrices (exact, differentiable, every backend).
- The model accepts clips of T' <= `num_segments` frames (the first T'
  heads answer), which the original's fixed `view` did not.
"""

import re

import keras
import numpy as np
from keras import ops

from deltasparse.layers.spatial.patch_crop import PatchCrop
from deltasparse.models.adafocus import adafocus_presets
from deltasparse.models.adafocus.focus_classifier import FocusClassifier
from deltasparse.models.adafocus.policy_network import check_positive_int
from deltasparse.models.adafocus.policy_network import PolicyNetwork
from deltasparse.ops.adafocus_loss import adafocus_loss

PAPER_LEARNING_RATE_MULTIPLIERS = {"glance": 0.5, "policy": 0.1,
                                   "classifier": 5.0, "local": 1.0}
"""The original's `global_lr_ratio`, `stn_lr_ratio`, `classifier_lr_ratio`
and the local network's 1.0 (the auxiliary heads follow their network)."""


def _resize_matrix(size_in, size_out):
    """`(size_out, size_in)` bilinear weights, `align_corners=True`."""
    matrix = np.zeros((size_out, size_in), "float32")
    if size_out == 1 or size_in == 1:
        matrix[:, 0] = 1.0
        return matrix
    coordinates = np.arange(size_out) * (size_in - 1) / (size_out - 1)
    lower = np.minimum(np.floor(coordinates).astype(int), size_in - 2)
    weight = coordinates - lower
    matrix[np.arange(size_out), lower] = 1.0 - weight
    matrix[np.arange(size_out), lower + 1] += weight
    return matrix


def _pair(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value,
                                                                  value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(
            v, (int, np.integer)) or v < 1 for v in pair):
        raise ValueError(
            f"`{name}` must be an int >= 1 or (height, width)"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}")
    return tuple(int(v) for v in pair)


@keras.saving.register_keras_serializable(package="deltasparse")
class AdaFocusV2(keras.Model):
    """AdaFocusV2: a glance, a learned patch and per-step fused logits.

    Calling the model returns a dict:

    - `"logits"`: `(B, K)`, the last step's fused logits (the prediction);
    - `"step_logits"`: `(B, T, K)`, the fused logits of every step (step t
      sees frames 0..t: running max over time, then head t);
    - `"glance_logits"`, `"local_logits"`: `(B, T, K)`, the auxiliary
      heads on each frame's glance and local features;
    - `"positions"`: `(B, T, 2)`, the patch positions used, `(y, x)` in
      [0, 1] (the policy's sigmoid, or the `positions` passed in).

    In training (`training=True`) with `random_patch_loss`, the local
    network runs a second time at uniformly random positions and the dict
    also holds `"random_step_logits"`, `"random_local_logits"` and
    `"random_positions"`; `compute_loss` averages the two branches' losses
    as the paper (`deltasparse.ops.adafocus_loss`). Compile without a
    `loss` (training raises otherwise): the loss is the paper's. Compiled
    metrics see `"logits"`.
    `predict` / `predict_on_batch` return the last-step logits only, so
    `deltasparse.evaluation.evaluate_videos` works unchanged;
    `predict_step_logits` returns every step's.

    Args:
        glance_network: `keras.Model`, frame `(h, w, 3)` -> feature map
            `(h', w', c)` (its input: the full frame, or the
            `glance_input_size` downsample).
        local_network: `keras.Model`, patch `(P, P, 3)` -> feature map
            (average-pooled here) or feature vector.
        num_classes: int K.
        num_segments: int T, frames per clip (one classifier head each).
            Defaults to `16`.
        patch_size: int P or `(height, width)`. Defaults to `128`.
        glance_input_size: `None` (the glance sees the full frame), or an
            int / `(height, width)` the frames are downsampled to first
            (bilinear, `align_corners=True`; 96 for the ResNet-50 glance).
            Defaults to `None`.
        policy_hidden: int, the policy's dense and GRU width. Defaults to
            `2048`.
        policy_channels: int, the policy's 1x1 convolution channels.
            Defaults to `64`.
        classifier_hidden: int, the fusion MLP width. Defaults to `4096`.
        dropout: float in [0, 1), before every classifier head (the
            original's `dropout`). Defaults to `0.2`.
        auxiliary_dropout: float in [0, 1) or `None` (= `dropout`), before
            the glance and local heads (the original's `fc_dropout`).
            Defaults to `None`.
        random_patch_loss: bool, add the random-position branch in
            training. Defaults to `True`.
        seed: int or `None`, seed of the random positions. Defaults to
            `None`.
        **kwargs: `keras.Model` keyword arguments such as `name`.

    Call arguments:
        frames: float `(B, T', H, W, 3)`, T' <= `num_segments`, already
            preprocessed (or a dict `{"frames", "positions"}`).
        positions: optional `(B, T', 2)` positions to use instead of the
            policy's (e.g. random patches at evaluation).
        training: bool.
        random_positions: optional `(B, T', 2)` positions for the training
            branch instead of `keras.random.uniform` (for tests).

    Example:
    >>> def tiny(name, shape):
    ...     inputs = keras.Input(shape)
    ...     x = keras.layers.Conv2D(4, 3, strides=2, name="conv")(inputs)
    ...     return keras.Model(inputs, x, name=name)
    >>> with keras.name_scope("glance_network"):
    ...     glance = tiny("glance_network", (32, 32, 3))
    >>> with keras.name_scope("local_network"):
    ...     local = tiny("local_network", (16, 16, 3))
    >>> model = AdaFocusV2(glance, local, num_classes=5, num_segments=4,
    ...     patch_size=16, policy_hidden=8, classifier_hidden=8)
    >>> out = model(np.zeros((2, 4, 32, 32, 3), "float32"))
    >>> tuple(out["step_logits"].shape), tuple(out["positions"].shape)
    ((2, 4, 5), (2, 4, 2))
    >>> model.predict_on_batch(np.zeros((2, 4, 32, 32, 3), "float32")).shape
    (2, 5)
    """

    def __init__(self, glance_network, local_network, num_classes,
                 num_segments=16, patch_size=128, glance_input_size=None,
                 policy_hidden=2048, policy_channels=64,
                 classifier_hidden=4096, dropout=0.2, auxiliary_dropout=None,
                 random_patch_loss=True, seed=None, **kwargs):
        for name, network in (("glance_network", glance_network),
                              ("local_network", local_network)):
            if not isinstance(network, keras.Model):
                raise ValueError(
                    f"`{name}` must be a keras.Model (frame or patch -> "
                    f"features). Received: {name}={network!r}")
        check_positive_int("num_classes", num_classes)
        check_positive_int("num_segments", num_segments)
        patch_size = _pair("patch_size", patch_size)
        glance_input_size = _pair("glance_input_size", glance_input_size,
                                  allow_none=True)
        if auxiliary_dropout is None:
            auxiliary_dropout = dropout
        for name, value in (("dropout", dropout),
                            ("auxiliary_dropout", auxiliary_dropout)):
            if isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"`{name}` must be a float in [0, 1). "
                                 f"Received: {name}={value!r}")
        super().__init__(**kwargs)

        # === Layers ===
        self.glance_network = glance_network
        self.local_network = local_network
        self.policy_network = PolicyNetwork(
            hidden=policy_hidden, channels=policy_channels,
            name="policy_network")
        self.patch_crop = PatchCrop(patch_size, name="patch_crop")
        self.classifier = FocusClassifier(
            num_classes=num_classes, num_segments=num_segments,
            hidden=classifier_hidden, dropout=dropout, name="classifier")
        self.glance_dropout = keras.layers.Dropout(auxiliary_dropout,
                                                   name="glance_dropout")
        self.glance_head = keras.layers.Dense(num_classes, name="glance_head")
        self.local_dropout = keras.layers.Dropout(auxiliary_dropout,
                                                  name="local_dropout")
        self.local_head = keras.layers.Dense(num_classes, name="local_head")
        self.seed_generator = keras.random.SeedGenerator(
            seed, name="random_positions")

        # === Config ===
        self.num_classes = num_classes
        self.num_segments = num_segments
        self.patch_size = patch_size
        self.glance_input_size = glance_input_size
        self.policy_hidden = policy_hidden
        self.policy_channels = policy_channels
        self.classifier_hidden = classifier_hidden
        self.dropout = dropout
        self.auxiliary_dropout = auxiliary_dropout
        self.random_patch_loss = bool(random_patch_loss)
        self.seed = seed
        self._predict_output = "logits"
        self._step_logits_function = None

    # --- presets -----------------------------------------------------------

    @classmethod
    def from_preset(cls, preset, num_classes, glance_weights=None,
                    local_weights=None, image_size=(224, 224),
                    frames_preprocessing=None, **kwargs):
        """Builds a paper configuration (`ADAFOCUS_V2_PRESETS`).

        Args:
            preset: str, e.g. `"adafocus_v2_mobilenetv2_patch128"`.
            num_classes: int K (200 ActivityNet / Mini-Kinetics, 239 FCVID).
            glance_weights: path of the glance network's Keras ImageNet
                no-top weights (`.h5` / `.weights.h5`), or `None` (random).
                Defaults to `None`.
            local_weights: path of ResNet-50's no-top weights, or `None`.
                Defaults to `None`.
            image_size: `(height, width)` of the frames. Defaults to
                `(224, 224)`.
            frames_preprocessing: `None` (frames already in each network's
                own convention) or the frames' pixel convention (`"raw"`,
                `"tf"`, `"caffe"`, `"torch"`): each network then converts
                to the one of its Keras ImageNet weights (MobileNetV2 "tf",
                ResNet-50 "caffe"), which one input cannot satisfy for both.
                Defaults to `None`.
            **kwargs: the other constructor arguments (`num_segments`,
                `policy_hidden`, `dropout`, ...).

        Returns:
            An `AdaFocusV2`, built for `image_size` frames.

        Raises:
            ValueError: unknown preset.
            FileNotFoundError: a weights path that is not a file; the
                message says where to get it (nothing is downloaded).

        Example:
        >>> model = AdaFocusV2.from_preset(  # doctest: +SKIP
        ...     "adafocus_v2_mobilenetv2_patch128", num_classes=200,
        ...     glance_weights="weights/mobilenet_v2_notop.h5",
        ...     local_weights="weights/resnet50_notop.h5")
        """
        spec = adafocus_presets.get_preset(preset)
        image_size = _pair("image_size", image_size)
        glance = adafocus_presets.build_glance_network(
            spec["glance"], image_size, glance_weights, frames_preprocessing)
        local = adafocus_presets.build_local_network(
            spec["patch_size"], local_weights, frames_preprocessing)
        glance_input_size = adafocus_presets.GLANCE_ARCHITECTURES[
            spec["glance"]]["glance_input_size"]
        kwargs.setdefault("name", preset)
        model = cls(glance, local, num_classes, patch_size=spec["patch_size"],
                    glance_input_size=glance_input_size, **kwargs)
        model.build((None, model.num_segments, *image_size, 3))
        return model

    # --- building and calling ------------------------------------------------

    def _check_frames_shape(self, shape):
        shape = tuple(shape)
        if len(shape) != 5 or any(d is None for d in shape[2:]):
            raise ValueError(
                "`frames` must be (batch, time, height, width, channels) with "
                f"static frame sizes. Received: frames.shape={shape}")
        if shape[1] is not None and shape[1] > self.num_segments:
            raise ValueError(
                f"`frames` may have at most num_segments={self.num_segments} "
                f"frames. Received: frames.shape={shape}")
        if shape[2] < self.patch_size[0] or shape[3] < self.patch_size[1]:
            raise ValueError(
                f"`patch_size` {self.patch_size} must fit in the frames. "
                f"Received: frames.shape={shape}")
        built = getattr(self, "_frame_shape", None)
        if built is not None and tuple(shape[2:]) != built:
            raise ValueError(
                f"The model was built for {built} frames (the policy's "
                "flattened glance map fixes the size). "
                f"Received: frames.shape={shape}")

    def build(self, frames_shape):
        self._check_frames_shape(frames_shape)
        height, width, channels = frames_shape[2:]
        time = frames_shape[1]
        glance_shape = (None, *(self.glance_input_size or (height, width)),
                        channels)
        if self.glance_input_size:
            self._resize_rows = _resize_matrix(height,
                                               self.glance_input_size[0])
            self._resize_columns = _resize_matrix(width,
                                                  self.glance_input_size[1])
        glance_map = tuple(self.glance_network.compute_output_shape(
            glance_shape))
        if len(glance_map) != 4:
            raise ValueError(
                "`glance_network` must return a feature map (batch, height, "
                f"width, channels). Received: its output shape {glance_map}")
        local = tuple(self.local_network.compute_output_shape(
            (None, *self.patch_size, channels)))
        if len(local) not in (2, 4):
            raise ValueError(
                "`local_network` must return a feature map or a vector. "
                f"Received: its output shape {local}")
        self.policy_network.build((None, time, *glance_map[1:]))
        self.glance_head.build((None, glance_map[-1]))
        self.local_head.build((None, local[-1]))
        self.classifier.build((None, time, glance_map[-1] + local[-1]))
        self._frame_shape = (height, width, channels)
        self.built = True

    def _glance(self, frames, training):
        if self.glance_input_size:
            frames = ops.einsum("ph,nhwc->npwc", ops.convert_to_tensor(
                self._resize_rows, frames.dtype), frames)
            frames = ops.einsum("qw,npwc->npqc", ops.convert_to_tensor(
                self._resize_columns, frames.dtype), frames)
        return self.glance_network(frames, training=training)

    def _focus(self, frames, glance_features, positions, time, training):
        """Local features, local logits and step logits at `positions`."""
        patches = self.patch_crop(frames, ops.reshape(positions, (-1, 2)))
        local = self.local_network(patches, training=training)
        if len(local.shape) == 4:
            local = ops.mean(local, axis=(1, 2))
        local_logits = self.local_head(
            self.local_dropout(local, training=training))
        fused = ops.concatenate([glance_features, local], axis=-1)
        step_logits = self.classifier(
            ops.reshape(fused, (-1, time, fused.shape[-1])),
            training=training)
        return (ops.reshape(local_logits, (-1, time, self.num_classes)),
                step_logits)

    def call(self, frames, positions=None, training=None,
             random_positions=None):
        if isinstance(frames, dict):  # what `predict_step_logits` feeds
            positions = frames.get("positions", positions)
            frames = frames["frames"]
        self._check_frames_shape(frames.shape)
        time = frames.shape[1]
        frames = ops.reshape(frames, (-1, *frames.shape[2:]))
        glance_map = self._glance(frames, training)
        glance_features = ops.mean(glance_map, axis=(1, 2))
        glance_logits = self.glance_head(
            self.glance_dropout(glance_features, training=training))
        learned = self.policy_network(
            ops.reshape(glance_map, (-1, time, *glance_map.shape[1:])),
            training=training)
        if positions is None:
            positions = learned
        else:
            if tuple(positions.shape[1:]) != (time, 2):
                raise ValueError(
                    f"`positions` must be (batch, {time}, 2): (y, x) in "
                    "[0, 1] per frame. Received: positions.shape="
                    f"{tuple(positions.shape)}")
            positions = ops.cast(positions, learned.dtype)
        local_logits, step_logits = self._focus(
            frames, glance_features, positions, time, training)
        outputs = {
            "logits": step_logits[:, -1],
            "step_logits": step_logits,
            "glance_logits": ops.reshape(glance_logits,
                                         (-1, time, self.num_classes)),
            "local_logits": local_logits,
            "positions": positions,
        }
        if training and self.random_patch_loss:
            if random_positions is None:
                random_positions = keras.random.uniform(
                    ops.shape(positions), seed=self.seed_generator,
                    dtype=positions.dtype)
            random_positions = ops.cast(random_positions, positions.dtype)
            random_local, random_steps = self._focus(
                frames, glance_features, random_positions, time, training)
            outputs.update(random_step_logits=random_steps,
                           random_local_logits=random_local,
                           random_positions=random_positions)
        return outputs

    # --- training ----------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        """The paper's loss: `adafocus_loss(y, learned, random)` plus the
        model's added losses (regularizers). `y`: one-hot `(B, K)` or int
        `(B,)` labels. The random branch exists only in training."""
        del x, training
        if getattr(self, "_compile_loss", None) is not None:
            raise ValueError(
                "AdaFocusV2 trains with the paper's loss (compute_loss: "
                "deltasparse.ops.adafocus_loss); compile it without `loss`. "
                "Received: a `loss` in compile()")
        if y is None:
            raise ValueError("AdaFocusV2 needs labels to compute its loss: "
                             "one-hot (batch, classes) or (batch,) ints. "
                             "Received: y=None")
        random = None
        if "random_step_logits" in y_pred:
            random = {"step_logits": y_pred["random_step_logits"],
                      "glance_logits": y_pred["glance_logits"],
                      "local_logits": y_pred["random_local_logits"]}
        loss = adafocus_loss(y, y_pred, random, sample_weight)
        for extra in self.losses:
            loss = loss + ops.sum(ops.cast(extra, loss.dtype))
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, y_pred["logits"],
                                       sample_weight=sample_weight)

    def learning_rate_multipliers(self, glance=0.5, policy=0.1,
                                  classifier=5.0, local=1.0):
        """Per-module learning-rate multipliers for `GroupedSGD`.

        The original's parameter groups: the glance network and its head,
        the policy, the fusion classifier (MLP and every step head), the
        local network and its head. Keys are anchored layer-name patterns
        (`^glance_network`, ...), so bind them with `use_layer_paths`:
        variable paths (`variable.path`) depend on how and where a network
        was built and change across a `.keras` round trip; layer paths do
        not.

        Args:
            glance, policy, classifier, local: floats. Default to the
                paper's 0.5, 0.1, 5.0 and 1.0.

        Returns:
            dict pattern -> multiplier.

        Example:
        >>> optimizer = GroupedSGD(  # doctest: +SKIP
        ...     0.002, model.learning_rate_multipliers(), momentum=0.9,
        ...     weight_decay=1e-4).use_layer_paths(model)
        """
        parts = ((self.glance_network, glance), (self.glance_head, glance),
                 (self.policy_network, policy), (self.classifier, classifier),
                 (self.local_network, local), (self.local_head, local))
        names = [part.name for part, _ in parts]
        if len(set(names)) != len(names):
            raise ValueError(
                "The parts of AdaFocusV2 must have distinct layer names for "
                "per-module learning rates (name the glance and local "
                f"networks apart). Received: names={names}")
        return {f"^{re.escape(part.name)}": float(multiplier)
                for part, multiplier in parts}

    # --- inference -----------------------------------------------------------

    def predict_step(self, *args):
        # Keras' step returns the whole dict; keep one entry. The JAX
        # trainer's step is `(state, data) -> (outputs, state)`.
        result = super().predict_step(*args)
        if keras.backend.backend() == "jax":
            outputs, state = result
            return outputs[self._predict_output], state
        return result[self._predict_output]

    def predict_step_logits(self, frames, positions=None, batch_size=32,
                            verbose=0):
        """Every step's fused logits, for early exit.

        Args:
            frames: array `(N, T, H, W, 3)`, or a dataset / generator of
                `frames` or `(frames, labels, ...)` batches.
            positions: optional array `(N, T, 2)` (arrays only) used instead
                of the policy's positions.
            batch_size: int, for arrays. Defaults to `32`.
            verbose: `keras.Model.predict` verbosity. Defaults to `0`.

        Returns:
            NumPy float32 `(N, T, K)`.
        """
        inputs = frames
        if positions is not None:
            if not hasattr(frames, "shape"):
                raise ValueError(
                    "`positions` needs `frames` as an array (N, T, H, W, 3). "
                    f"Received: frames={type(frames).__name__}")
            inputs = {"frames": frames, "positions": positions}
        # A second compiled predict function, kept beside Keras' own.
        saved = self.predict_function
        self.predict_function = self._step_logits_function
        self._predict_output = "step_logits"
        try:
            logits = self.predict(inputs, batch_size=batch_size,
                                  verbose=verbose)
            self._step_logits_function = self.predict_function
        finally:
            self._predict_output = "logits"
            self.predict_function = saved
        return np.asarray(logits, "float32")

    def gflops_per_frame(self):
        """GFLOPs (MACs x 1e-9) of one frame through every part.

        Counted by `deltasparse.evaluation.count_macs` on a one-frame clip
        (glance network, policy, patch, local network, the classifier MLP,
        one step head and the two auxiliary heads), plus the policy GRU's
        step, which `count_macs` does not see (3 gates x units x (inputs +
        units)). The crop and the downsample are not counted (the paper's
        counter does not either).

        Returns:
            float.
        """
        if not self.built:
            raise ValueError("Build the model (call it on frames) before "
                             "`gflops_per_frame()`. Received: built=False")
        # Imported here: the evaluation package pulls in data code, which
        # models must not import at import time.
        from deltasparse.evaluation.flops import count_macs

        count = count_macs(self, (1, 1, *self._frame_shape))
        return (count.total + self.policy_network.recurrent_macs_per_frame()
                ) * 1e-9

    # --- serialization -------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "glance_network": keras.saving.serialize_keras_object(
                self.glance_network),
            "local_network": keras.saving.serialize_keras_object(
                self.local_network),
            "num_classes": self.num_classes,
            "num_segments": self.num_segments,
            "patch_size": list(self.patch_size),
            "glance_input_size": (list(self.glance_input_size)
                                  if self.glance_input_size else None),
            "policy_hidden": self.policy_hidden,
            "policy_channels": self.policy_channels,
            "classifier_hidden": self.classifier_hidden,
            "dropout": self.dropout,
            "auxiliary_dropout": self.auxiliary_dropout,
            "random_patch_loss": self.random_patch_loss,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("glance_network", "local_network"):
            with keras.name_scope(name):
                config[name] = keras.saving.deserialize_keras_object(
                    config[name])
        return cls(**config)


__all__ = ["AdaFocusV2", "PAPER_LEARNING_RATE_MULTIPLIERS"]
