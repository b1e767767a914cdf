"""Streaming delta inference: run a delta video model frame by frame and
compute only what changed (`StreamingDeltaModel`), on incremental linear
kernels (`kernels`) with measured dense fallbacks (`calibration`)."""

from deltasparse.inference.streaming.calibration import default_thresholds
from deltasparse.inference.streaming.calibration import measure_break_even
from deltasparse.inference.streaming.engine import StreamingDeltaModel
from deltasparse.inference.streaming.engine import StreamingState
from deltasparse.inference.streaming.graph import build_program
from deltasparse.inference.streaming.kernels import Conv2DKernel
from deltasparse.inference.streaming.kernels import DenseKernel
from deltasparse.inference.streaming.kernels import DepthwiseConv2DKernel

__all__ = ["Conv2DKernel", "DenseKernel", "DepthwiseConv2DKernel",
           "StreamingDeltaModel", "StreamingState", "build_program",
           "default_thresholds", "measure_break_even"]
