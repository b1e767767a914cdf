"""Pure tensor functions written with `keras.ops` only (any Keras backend)."""

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
    "cumsum",
    "diff",
    "ema_update",
    "fake_quantize",
    "filter_mask",
    "group_ksparse",
    "group_norms",
    "ksparse",
    "kron",
    "magnitude_mask",
    "n_p",
    "num_pruned",
    "quantization_range",
    "quantize",
]
