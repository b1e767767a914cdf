"""Sparsity and counted-operation accounting (counts, not measured time)."""

from deltasparse.metrics.sparsity import SparsityMetrics
from deltasparse.metrics.sparsity import collect_sparsity_stats
from deltasparse.metrics.sparsity import group_density
from deltasparse.metrics.sparsity import layer_sparsity
from deltasparse.metrics.sparsity import op_ratio
from deltasparse.metrics.sparsity import per_layer_figures
from deltasparse.metrics.sparsity import sparsity_figures
from deltasparse.metrics.sparsity import sparsity_slots

__all__ = [
    "SparsityMetrics",
    "collect_sparsity_stats",
    "group_density",
    "layer_sparsity",
    "op_ratio",
    "per_layer_figures",
    "sparsity_figures",
    "sparsity_slots",
]
