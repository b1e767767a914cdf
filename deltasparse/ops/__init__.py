"""Pure tensor functions written with `keras.ops` only (any Keras backend)."""

from deltasparse.ops.adafocus_loss import adafocus_loss
from deltasparse.ops.adafocus_loss import frame_cross_entropy
from deltasparse.ops.adafocus_loss import label_distribution
from deltasparse.ops.distillation import distillation_loss
from deltasparse.ops.distillation import log_probabilities
from deltasparse.ops.distillation import soft_target_divergence
from deltasparse.ops.fake_quantization import ema_update
from deltasparse.ops.fake_quantization import fake_quantize
from deltasparse.ops.fake_quantization import quantization_range
from deltasparse.ops.ksparse import group_ksparse
from deltasparse.ops.ksparse import ksparse
from deltasparse.ops.norms import group_norms
from deltasparse.ops.norms import n_p
from deltasparse.ops.numeric import cumsum
from deltasparse.ops.numeric import diff
from deltasparse.ops.numeric import kron
from deltasparse.ops.pruning import filter_mask
from deltasparse.ops.pruning import magnitude_mask
from deltasparse.ops.pruning import num_pruned
from deltasparse.ops.quantize import quantize

__all__ = [
    "adafocus_loss",
    "frame_cross_entropy",
    "label_distribution",
    "cumsum",
    "diff",
    "distillation_loss",
    "ema_update",
    "fake_quantize",
    "filter_mask",
    "group_ksparse",
    "group_norms",
    "ksparse",
    "kron",
    "log_probabilities",
    "magnitude_mask",
    "n_p",
    "num_pruned",
    "quantization_range",
    "quantize",
    "soft_target_divergence",
]
