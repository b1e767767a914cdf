"""Evaluation of trained video models: clip accuracy, the plain loss and
sparsity figures from the model itself."""

from deltasparse.evaluation.clips import evaluate_clips
from deltasparse.evaluation.clips import layer_sparsity
from deltasparse.evaluation.clips import plain_crossentropy

__all__ = ["evaluate_clips", "layer_sparsity", "plain_crossentropy"]
