"""Sparsity layers: temporal deltas, activation L1, k-sparse winners."""

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.group_ksparse import GroupKSparse
from deltasparse.layers.sparsity.ksparse import KSparse
from deltasparse.layers.sparsity.l1_activity_regularizer import (
    L1ActivityRegularizer,
)

__all__ = [
    "DeltaActivation",
    "GroupKSparse",
    "KSparse",
    "L1ActivityRegularizer",
]
