"""Recurrent layers."""

from deltasparse.layers.rnn.conv_minimal_rnn import ConvMinimalRNN2D
from deltasparse.layers.rnn.conv_minimal_rnn import ConvMinimalRNN2DCell

__all__ = ["ConvMinimalRNN2D", "ConvMinimalRNN2DCell"]
