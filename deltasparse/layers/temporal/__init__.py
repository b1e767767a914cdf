"""Layers that handle the time axis of `(batch, time, ...)` video tensors."""

from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime

__all__ = ["FoldTime", "UnfoldTime"]
