"""Evaluation of trained video models: clip and video accuracy over several
views, mean-class accuracy, mAP, counted MACs, the sparsity figures from the
model itself, and the artifacts of an evaluation."""

from deltasparse.evaluation.clips import evaluate_clips
from deltasparse.evaluation.clips import layer_sparsity
from deltasparse.evaluation.clips import plain_crossentropy
from deltasparse.evaluation.early_exit import apply_early_exit
from deltasparse.evaluation.early_exit import early_exit_curve
from deltasparse.evaluation.early_exit import exit_distribution
from deltasparse.evaluation.early_exit import exit_scores
from deltasparse.evaluation.early_exit import fit_exit_thresholds
from deltasparse.evaluation.early_exit import format_early_exit_curve
from deltasparse.evaluation.early_exit import write_early_exit_curve
from deltasparse.evaluation.flops import MacCount
from deltasparse.evaluation.flops import count_macs
from deltasparse.evaluation.metrics import aggregate_video_scores
from deltasparse.evaluation.metrics import average_precision_per_class
from deltasparse.evaluation.metrics import confusion_matrix
from deltasparse.evaluation.metrics import label_ranks
from deltasparse.evaluation.metrics import mean_average_precision
from deltasparse.evaluation.metrics import mean_class_accuracy
from deltasparse.evaluation.metrics import softmax
from deltasparse.evaluation.metrics import top_k_accuracy
from deltasparse.evaluation.report import evaluation_summary
from deltasparse.evaluation.report import format_evaluation
from deltasparse.evaluation.report import plot_confusion_matrix
from deltasparse.evaluation.report import write_evaluation_artifacts
from deltasparse.evaluation.videos import VideoEvaluation
from deltasparse.evaluation.videos import evaluate_videos

__all__ = [
    "apply_early_exit",
    "early_exit_curve",
    "exit_distribution",
    "exit_scores",
    "fit_exit_thresholds",
    "format_early_exit_curve",
    "write_early_exit_curve",
    "MacCount",
    "VideoEvaluation",
    "aggregate_video_scores",
    "average_precision_per_class",
    "confusion_matrix",
    "count_macs",
    "evaluate_clips",
    "evaluate_videos",
    "evaluation_summary",
    "format_evaluation",
    "label_ranks",
    "layer_sparsity",
    "mean_average_precision",
    "mean_class_accuracy",
    "plain_crossentropy",
    "plot_confusion_matrix",
    "softmax",
    "top_k_accuracy",
    "write_evaluation_artifacts",
]
