"""The ten group k-sparse temporal CNN algorithms, as presets.

Milacski, Poczos, Lorincz, "Group k-Sparse Temporal Convolutional Neural
Networks: Pre-training for Video Classification", IJCNN 2019. The ten
algorithms differ in four choices: the encoder, the sparsity between encoder
and decoder, the pre-training loss and whether there is a pre-training stage
at all. The original code expressed them with a diamond of subclasses
(`KerasWTACNN`, `KerasGroupWTACRNN(KerasGroupWTACNN, KerasWTACRNN)`, ...);
here each is one row of `TEMPORAL_AUTOENCODER_PRESETS`:

| algorithm | encoder | sparsity | pre-training loss | clipnorm |
|---|---|---|---|---|
| `wtacnn` | 3 per-frame ReLU convs | k-sparse | reconstruction | 0 |
| `wtacrnn` | + ConvMinimalRNN2D | k-sparse | next frame | 1 |
| `groupwtacnn` | 3 convs | group k-sparse | reconstruction | 0 |
| `groupwtacrnn` | + ConvMinimalRNN2D | group k-sparse | next frame | 1 |
| `slowgroupwtacnn` | 3 convs | group k-sparse + slowness | reconstruction | 0 |
| `denoisingcnn` | dropout + 3 convs | none | reconstruction | 0 |
| `denoisingcrnn` | dropout + convs + RNN | none | next frame | 0 |
| `randominitcnn` | 3 convs | none | no pre-training | 0 |
| `randominitcrnn` | 3 convs + RNN | none | no pre-training | 1 |
| `vgg19` | ImageNet VGG19 per frame | none | no pre-training | 0 |

`clipnorm` is the global gradient-norm clipping of the paper's configs, a
training setting (`deltasparse.training.autoencoder_protocol`), kept here so
the experiment scripts and the protocol read it from one place.
"""

import collections

AlgorithmSpec = collections.namedtuple(
    "AlgorithmSpec",
    ["encoder", "recurrent", "input_dropout", "sparsity", "next_frame",
     "pretrains"],
)
AlgorithmSpec.__doc__ = """What distinguishes one algorithm from another.

Fields:
    encoder: `"cnn"` (three per-frame ReLU convolutions) or `"vgg19"`
        (per-frame ImageNet VGG19 without top).
    recurrent: bool, whether a `ConvMinimalRNN2D` follows the convolutions.
    input_dropout: bool, whether the encoder starts with `Dropout(dropout)`
        on the raw frames (denoising autoencoders).
    sparsity: `"identity"`, `"ksparse"` (per-channel spatial then lifetime
        k-sparse), `"group_ksparse"` (the same over channel groups) or
        `"slow_group_ksparse"` (group k-sparse plus the L1 slowness penalty on
        the group norms of the sparse code).
    next_frame: bool, whether the pre-training loss compares output `t` with
        input `t + 1` (all recurrent algorithms) instead of input `t`.
    pretrains: bool, whether the protocol fits the autoencoder (False: it
        only saves the initial weights).
"""


def _preset(description, spec, clipnorm=0.0):
    return {"description": description, "architecture": spec,
            "training": {"clipnorm": clipnorm}}


TEMPORAL_AUTOENCODER_PRESETS = {
    "wtacnn": _preset(
        "Winner-take-all CNN autoencoder: per-channel k-sparse code.",
        AlgorithmSpec("cnn", False, False, "ksparse", False, True)),
    "wtacrnn": _preset(
        "WTA CNN with a ConvMinimalRNN2D encoder and next-frame loss.",
        AlgorithmSpec("cnn", True, False, "ksparse", True, True), 1.0),
    "randominitcnn": _preset(
        "Randomly initialised CNN encoder, no pre-training.",
        AlgorithmSpec("cnn", False, False, "identity", False, False)),
    "randominitcrnn": _preset(
        "Randomly initialised recurrent CNN encoder, no pre-training.",
        AlgorithmSpec("cnn", True, False, "identity", True, False), 1.0),
    "denoisingcnn": _preset(
        "Denoising CNN autoencoder (input dropout), no sparsity.",
        AlgorithmSpec("cnn", False, True, "identity", False, True)),
    "denoisingcrnn": _preset(
        "Denoising recurrent CNN autoencoder with next-frame loss.",
        AlgorithmSpec("cnn", True, True, "identity", True, True)),
    "vgg19": _preset(
        "ImageNet VGG19 per frame (last two layers trainable), no "
        "pre-training.",
        AlgorithmSpec("vgg19", False, False, "identity", False, False)),
    "groupwtacnn": _preset(
        "Group k-sparse CNN autoencoder.",
        AlgorithmSpec("cnn", False, False, "group_ksparse", False, True)),
    "groupwtacrnn": _preset(
        "Group k-sparse recurrent CNN autoencoder with next-frame loss (the "
        "paper's main method).",
        AlgorithmSpec("cnn", True, False, "group_ksparse", True, True), 1.0),
    "slowgroupwtacnn": _preset(
        "Group k-sparse CNN autoencoder with an L1 temporal-slowness "
        "penalty on the group norms.",
        AlgorithmSpec("cnn", False, False, "slow_group_ksparse", False,
                      True)),
}
"""Algorithm name to `{"description", "architecture", "training"}`."""

ALGORITHMS = tuple(TEMPORAL_AUTOENCODER_PRESETS)
"""The ten algorithm names (the original `_algo['mode']` values)."""


def get_algorithm(algorithm):
    """Returns the `AlgorithmSpec` of an algorithm name.

    Args:
        algorithm: str, one of `ALGORITHMS`.

    Returns:
        The `AlgorithmSpec`.

    Raises:
        ValueError: for an unknown name.

    Example:
    >>> get_algorithm("groupwtacrnn").next_frame
    True
    """
    if algorithm not in TEMPORAL_AUTOENCODER_PRESETS:
        raise ValueError(
            f"`algorithm` must be one of {sorted(ALGORITHMS)}. "
            f"Received: algorithm={algorithm!r}"
        )
    return TEMPORAL_AUTOENCODER_PRESETS[algorithm]["architecture"]


def preset_clipnorm(algorithm):
    """The paper's global gradient-norm clipping of an algorithm (0 = off).

    Example:
    >>> preset_clipnorm("groupwtacrnn")
    1.0
    """
    get_algorithm(algorithm)
    return TEMPORAL_AUTOENCODER_PRESETS[algorithm]["training"]["clipnorm"]
