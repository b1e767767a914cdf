"""Pure tensor functions written with `keras.ops` only (any Keras backend)."""

from deltasparse.ops.ksparse import group_ksparse
from deltasparse.ops.ksparse import ksparse
from deltasparse.ops.norms import group_norms
from deltasparse.ops.norms import n_p
from deltasparse.ops.numeric import cumsum
from deltasparse.ops.numeric import diff
from deltasparse.ops.numeric import kron
from deltasparse.ops.quantize import quantize

__all__ = [
    "cumsum",
    "diff",
    "group_ksparse",
    "group_norms",
    "ksparse",
    "kron",
    "n_p",
    "quantize",
]
