"""`TemporalAutoencoder`: the group k-sparse temporal CNN as one Keras model.

Milacski, Poczos, Lorincz, "Group k-Sparse Temporal Convolutional Neural
Networks: Pre-training for Video Classification", IJCNN 2019. A video
autoencoder with a sparse bottleneck is pre-trained on unlabelled clips; a
linear per-frame classifier with mean-over-time logits then reads the dense
encoder output. The ten algorithms of the paper are presets
(`temporal_autoencoder_presets.py`); training (pre-training, stacked and
end-to-end classification) lives in
`deltasparse.training.autoencoder_protocol`, plots in
`deltasparse.reporting.autoencoder_plots`.

Differences from the original `KerasWTACNN` family, all deliberate:

- One Functional model with two outputs (`"reconstruction"`,
  `"probabilities"`) holds every weight (encoder, decoder, head); the
  original kept three compiled models over shared layers. The protocol
  compiles views of it (`autoencoder_view`, `classifier_view`).
- Every part runs on time folded into the batch instead of `TimeDistributed`.
- The model checks the clip length it was built for and names it
  (`clip_length`), instead of failing deep inside a reshape.
"""

import keras
import numpy as np

from deltasparse.models.temporal_autoencoder import blocks
from deltasparse.models.temporal_autoencoder import decoders
from deltasparse.models.temporal_autoencoder import encoders
from deltasparse.models.temporal_autoencoder import losses
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import ALGORITHMS
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import get_algorithm


def _is_positive_int(value):
    return (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            and value >= 1)


def _check(condition, name, value, expected):
    if not condition:
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="deltasparse")
class TemporalAutoencoder(keras.Model):
    """Group k-sparse temporal (recurrent) convolutional autoencoder.

    Input `(batch, clip_length, height, width, channels)`; outputs a dict:

    - `"reconstruction"`: decoder(sparsity(encoder(x))), `(B, T, H, W, C)`
      (vgg19: the encoder features, it has no decoder);
    - `"probabilities"`: head(encoder(x)), `(B, num_classes)`; the head never
      sees the sparsity (it only exists for pre-training).

    Sub-models: `encoder`, `bottleneck` (weightless sparsity), `decoder`,
    `head`. Sparsity is active whenever the reconstruction is computed,
    training or not (alpha = 1, as in the original); the lifetime
    competition runs over the current batch.

    Args:
        algorithm: str, one of the ten presets (`ALGORITHMS`).
        clip_length: int or `None`, frames per clip T the model is built for
            (`None`: any length).
        image_size: `(height, width)` of the frames.
        channels: int, input channels C.
        num_classes: int, classes of the head.
        filters: int, feature maps F (not for vgg19).
        encoder_kernel_size: int, kernel of the encoder convolutions and of
            the ConvMinimalRNN2D (original `filter_size_enc`).
        decoder_kernel_size: int, kernel of the decoder deconvolution
            (original `filter_size_dec`).
        k_spatial: int, winners per frame. Defaults to `1`.
        k_lifetime: int, winners per position over batch x time. Defaults to
            `1`.
        groups: int, channel groups of the group algorithms. Defaults to
            `None`.
        pool_size: int or `None`, head max-pooling (vgg19: none). Defaults
            to `2`.
        dropout: float, head dropout (and input dropout of denoising*).
            Defaults to `0.3`.
        l2: float, L2 weight on every kernel. Defaults to `0.0`.
        l1_slow: float, slowness weight (slowgroupwtacnn). Defaults to `1e-4`.
        norm_epsilon: float or `None`, group-norm epsilon (`None`: 1e-7).
            Defaults to `None`.
        pad_value: float or `None`, target value masked out of the
            reconstruction loss. Defaults to `None`.
        vgg19_weights: path of the ImageNet VGG19 no-top file (vgg19 only;
            never downloaded). Defaults to `None`.
        **kwargs: `keras.Model` keyword arguments such as `name`.

    Example:
    >>> model = TemporalAutoencoder.from_preset(
    ...     "groupwtacrnn", clip_length=4, image_size=(8, 8), channels=1,
    ...     num_classes=10, filters=8, encoder_kernel_size=3,
    ...     decoder_kernel_size=5, groups=2)
    >>> out = model(np.zeros((2, 4, 8, 8, 1), "float32"))
    >>> tuple(out["reconstruction"].shape), tuple(out["probabilities"].shape)
    ((2, 4, 8, 8, 1), (2, 10))
    """

    def __init__(
        self,
        algorithm,
        clip_length,
        image_size,
        channels,
        num_classes,
        filters=None,
        encoder_kernel_size=None,
        decoder_kernel_size=None,
        k_spatial=1,
        k_lifetime=1,
        groups=None,
        pool_size=2,
        dropout=0.3,
        l2=0.0,
        l1_slow=1e-4,
        norm_epsilon=None,
        pad_value=None,
        vgg19_weights=None,
        **kwargs,
    ):
        unknown = sorted(set(kwargs) - {"name", "dtype", "trainable"})
        if unknown:
            raise ValueError(
                f"Unknown keyword arguments {unknown} for TemporalAutoencoder. "
                f"Received: {', '.join(f'{k}={kwargs[k]!r}' for k in unknown)}")
        spec = get_algorithm(algorithm)
        image_size = tuple(image_size)
        _check(clip_length is None or _is_positive_int(clip_length),
               "clip_length", clip_length, "a positive int or None")
        _check(len(image_size) == 2 and all(map(_is_positive_int, image_size)),
               "image_size", image_size, "(height, width), positive ints")
        _check(_is_positive_int(channels), "channels", channels, "a positive int")
        _check(_is_positive_int(num_classes), "num_classes", num_classes,
               "a positive int")
        _check(0 <= dropout < 1, "dropout", dropout, "in [0, 1)")
        _check(l2 >= 0, "l2", l2, ">= 0")
        _check(pool_size is None or _is_positive_int(pool_size), "pool_size",
               pool_size, "a positive int or None")
        frame_shape = image_size + (channels,)
        if spec.encoder == "vgg19":
            _check(frame_shape == encoders.VGG19_FRAME_SHAPE,
                   "image_size, channels", frame_shape,
                   f"{encoders.VGG19_FRAME_SHAPE} for the vgg19 algorithm")
        else:
            for name, value in (("filters", filters),
                                ("encoder_kernel_size", encoder_kernel_size),
                                ("decoder_kernel_size", decoder_kernel_size)):
                _check(_is_positive_int(value), name, value,
                       f"a positive int for algorithm {algorithm}")
        if spec.sparsity != "identity":
            _check(_is_positive_int(k_spatial), "k_spatial", k_spatial,
                   "a positive int")
            _check(_is_positive_int(k_lifetime), "k_lifetime", k_lifetime,
                   "a positive int")
        if spec.sparsity in blocks.GROUP_SPARSITY_KINDS:
            _check(_is_positive_int(groups) and filters % groups == 0,
                   "groups", groups, f"a positive int dividing filters={filters}")
        if spec.sparsity == "slow_group_ksparse":
            _check(l1_slow >= 0, "l1_slow", l1_slow, ">= 0")

        # === Layers ===
        input_shape = (clip_length,) + frame_shape
        if spec.encoder == "vgg19":
            encoder = encoders.build_vgg19_encoder(clip_length, vgg19_weights)
        else:
            encoder = encoders.build_cnn_encoder(
                input_shape, filters, encoder_kernel_size, l2=l2,
                recurrent=spec.recurrent,
                input_dropout=dropout if spec.input_dropout else None)
        feature_shape = tuple(encoder.output.shape[1:])
        if spec.encoder == "vgg19":
            bottleneck = blocks.build_identity(feature_shape, "sparsity")
            decoder = blocks.build_identity(feature_shape, "decoder")
        else:
            bottleneck = blocks.build_sparsity(
                spec.sparsity, feature_shape, k_spatial=k_spatial,
                k_lifetime=k_lifetime, groups=groups, l1_slow=l1_slow,
                epsilon=norm_epsilon)
            decoder = decoders.build_decoder(
                feature_shape, channels, decoder_kernel_size, l2=l2)
        head = decoders.build_classifier_head(
            feature_shape, num_classes,
            pool_size=None if spec.encoder == "vgg19" else pool_size,
            dropout=dropout, l2=l2)

        # === Functional Model ===
        frames = keras.Input(shape=input_shape, name="frames")
        features = encoder(frames)
        outputs = {
            "reconstruction": decoder(bottleneck(features)),
            "probabilities": head(features),
        }
        super().__init__(inputs=frames, outputs=outputs, **kwargs)

        # === Config ===
        self.algorithm = algorithm
        self.spec = spec
        self.clip_length = clip_length
        self.image_size = image_size
        self.channels = channels
        self.num_classes = num_classes
        self.filters = filters
        self.encoder_kernel_size = encoder_kernel_size
        self.decoder_kernel_size = decoder_kernel_size
        self.k_spatial = k_spatial
        self.k_lifetime = k_lifetime
        self.groups = groups
        self.pool_size = pool_size
        self.dropout = dropout
        self.l2 = l2
        self.l1_slow = l1_slow
        self.norm_epsilon = norm_epsilon
        self.pad_value = pad_value
        self.vgg19_weights = vgg19_weights
        self.encoder = encoder
        self.bottleneck = bottleneck
        self.decoder = decoder
        self.head = head

    @classmethod
    def from_preset(cls, algorithm, **kwargs):
        """Builds one of the ten algorithms of the paper.

        The preset fixes the architecture (encoder, sparsity, loss); the
        sizes come from `kwargs` (the paper's per-dataset values live in the
        experiment scripts).

        Args:
            algorithm: str, one of `ALGORITHMS`.
            **kwargs: the other constructor arguments.

        Returns:
            A `TemporalAutoencoder`.
        """
        return cls(algorithm=algorithm, **kwargs)

    @property
    def has_decoder(self):
        """False for vgg19 (no decoder: nothing to reconstruct or plot)."""
        return self.spec.encoder != "vgg19"

    @property
    def group_count(self):
        """Channel groups of the sparsity (F for plain k-sparse), for plots."""
        if self.spec.sparsity in blocks.GROUP_SPARSITY_KINDS:
            return self.groups
        return None

    def reconstruction_loss(self):
        """The pre-training loss of this algorithm.

        Returns:
            `FrameReconstructionLoss(next_frame, pad_value)`: next-frame for
            the recurrent algorithms, masked where the target is `pad_value`.
        """
        return losses.FrameReconstructionLoss(
            next_frame=self.spec.next_frame, pad_value=self.pad_value)

    def classification_loss(self):
        """The classification loss: Keras 2.2.4 categorical cross-entropy."""
        return losses.Keras2CategoricalCrossentropy()

    def autoencoder_view(self, name="autoencoder"):
        """An uncompiled model frames -> reconstruction over these layers."""
        return keras.Model(self.input, self._output("reconstruction"), name=name)

    def classifier_view(self, name="classifier"):
        """An uncompiled model frames -> probabilities over these layers."""
        return keras.Model(self.input, self._output("probabilities"), name=name)

    def sparse_encoder_view(self, name="sparse_encoder"):
        """An uncompiled model frames -> sparse code (for inspection)."""
        frames = self.input
        return keras.Model(frames, self.bottleneck(self.encoder(frames)),
                           name=name)

    def _output(self, key):
        return self._outputs_struct[key]

    def check_clips(self, x, what="x"):
        """Checks that clips have the frame count and frame shape built for.

        Args:
            x: array or tensor `(N, T, H, W, C)`.
            what: name of the argument in the message. Defaults to `"x"`.

        Raises:
            ValueError: naming `clip_length` (expected vs received frames) or
                the frame shape.
        """
        shape = tuple(x.shape)
        frame = tuple(self.image_size) + (self.channels,)
        if len(shape) != 5 or tuple(shape[2:]) != frame:
            raise ValueError(
                f"`{what}` must be clips (batch, clip_length, {frame[0]}, "
                f"{frame[1]}, {frame[2]}). Received: {what}.shape={shape}")
        if self.clip_length is not None and shape[1] != self.clip_length:
            raise ValueError(
                f"The model was built for `clip_length`={self.clip_length} "
                f"frames; use `with_clip_length({shape[1]})` for clips of "
                f"another length. Received: clip_length={shape[1]} "
                f"({what}.shape={shape})")
        if self.spec.next_frame and shape[1] is not None and shape[1] < 2:
            raise ValueError(
                "The next-frame loss needs clips of at least 2 frames. "
                f"Received: clip_length={shape[1]} ({what}.shape={shape})")

    def __call__(self, inputs, *args, **kwargs):
        # Before Keras' own input check, whose message names an internal
        # shape instead of the clip length.
        if hasattr(inputs, "shape"):
            self.check_clips(inputs, "inputs")
        return super().__call__(inputs, *args, **kwargs)

    def with_clip_length(self, clip_length):
        """A copy built for clips of `clip_length` frames, with these weights.

        Every weight is per frame or averaged over time, so one set of
        weights serves every clip length.

        Args:
            clip_length: positive int, or `None` for any length.

        Returns:
            A new `TemporalAutoencoder`.
        """
        config = self.get_config()
        config["clip_length"] = clip_length
        config.pop("name", None)
        other = type(self).from_config(config)
        other.set_weights(self.get_weights())
        return other

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "algorithm": self.algorithm,
            "clip_length": self.clip_length,
            "image_size": list(self.image_size),
            "channels": self.channels,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "encoder_kernel_size": self.encoder_kernel_size,
            "decoder_kernel_size": self.decoder_kernel_size,
            "k_spatial": self.k_spatial,
            "k_lifetime": self.k_lifetime,
            "groups": self.groups,
            "pool_size": self.pool_size,
            "dropout": self.dropout,
            "l2": self.l2,
            "l1_slow": self.l1_slow,
            "norm_epsilon": self.norm_epsilon,
            "pad_value": self.pad_value,
            "vgg19_weights": self.vgg19_weights,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


__all__ = ["ALGORITHMS", "TemporalAutoencoder"]
