"""Streaming delta inference: run a delta video model frame by frame and
compute only what changed (`StreamingDeltaModel`)."""

from deltasparse.inference.streaming.engine import StreamingDeltaModel
from deltasparse.inference.streaming.engine import StreamingState
from deltasparse.inference.streaming.graph import build_program

__all__ = ["StreamingDeltaModel", "StreamingState", "build_program"]
