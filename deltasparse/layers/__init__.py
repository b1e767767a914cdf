"""Keras layers of deltasparse (all registered under package "deltasparse")."""

from deltasparse.layers.conv_minimal_rnn import ConvMinimalRNN2D
from deltasparse.layers.conv_minimal_rnn import ConvMinimalRNN2DCell
from deltasparse.layers.delta_activation import DeltaActivation
from deltasparse.layers.group_ksparse import GroupKSparse
from deltasparse.layers.ksparse import KSparse
from deltasparse.layers.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.layers.time_folding import FoldTime
from deltasparse.layers.time_folding import UnfoldTime

__all__ = [
    "ConvMinimalRNN2D",
    "ConvMinimalRNN2DCell",
    "DeltaActivation",
    "FoldTime",
    "GroupKSparse",
    "KSparse",
    "L1ActivityRegularizer",
    "UnfoldTime",
]
