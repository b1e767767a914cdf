"""Compressing Keras 3 video models (issue 11), on every Keras backend.

- `schedules`: sparsity schedules `ConstantSparsity`, `OneShotSparsity`,
  `PolynomialSparsity` (AGP, Zhu & Gupta 2017).
- `pruning`: element-wise magnitude pruning: `prunable_weights`,
  `MagnitudePruning` (masks, `update`, `apply`, `save`/`load`, `strip`),
  `PruningCallback`, the seed's presets `seed_element_pruning` /
  `uniform_element_pruning`, per-layer CSVs (`read_sparsity_csv`).
- `sensitivity`: per-weight sensitivity sweeps (`sensitivity_analysis`,
  `keras_evaluate`) -> `sensitivity.csv` and one PNG per layer group.
- `thinning`: L1-ranked filter pruning and physically smaller models
  (`plan_filter_pruning`, `ThinningPlan`, `thin_model`, `zero_filters`).
- `report`: size, sparsity, MACs and measured speed of a model
  (`compression_report`, `CompressionReport`, `compare_reports`).
- `quantization`: quantization-aware training (`QuantizationConfig`,
  `seed_qat_config`, `quantize_model`, `export_float`).
- `post_training`: post-training quantization (`calibrate`,
  `post_training_quantize`, `tflite_int8`).
- `distillation`: knowledge distillation (`DistillationModel`,
  `precompute_teacher_logits`, `seed_distillation`).

Every name is loaded on first use (`deltasparse.compression.X` imports only
its module). The numeric kernels live in `deltasparse.ops` (`keras.ops`
only); this package holds the model surgery, callbacks and analyses.
"""

import importlib
import importlib.util

_LAZY = {
    # schedules
    "ConstantSparsity": "schedules",
    "OneShotSparsity": "schedules",
    "PolynomialSparsity": "schedules",
    "SparsitySchedule": "schedules",
    # pruning
    "MagnitudePruning": "pruning",
    "PrunableWeight": "pruning",
    "PruningCallback": "pruning",
    "prunable_weights": "pruning",
    "read_sparsity_csv": "pruning",
    "seed_element_pruning": "pruning",
    "uniform_element_pruning": "pruning",
    # sensitivity
    "keras_evaluate": "sensitivity",
    "read_sensitivity_csv": "sensitivity",
    "sensitivity_analysis": "sensitivity",
    # thinning
    "ThinningPlan": "thinning",
    "flatten_model": "thinning",
    "plan_filter_pruning": "thinning",
    "thin_model": "thinning",
    "zero_filters": "thinning",
    # report
    "CompressionReport": "report",
    "compare_reports": "report",
    "compression_report": "report",
    "median_inference_milliseconds": "report",
    # quantization
    "QuantizationConfig": "quantization",
    "dequantize": "quantization",
    "export_float": "quantization",
    "quantization_summary": "quantization",
    "quantize_model": "quantization",
    "seed_qat_config": "quantization",
    # post_training
    "CALIBRATION_METHODS": "post_training",
    "TFLiteInt8Result": "post_training",
    "builtin_pooling": "post_training",
    "calibrate": "post_training",
    "post_training_quantize": "post_training",
    "tflite_int8": "post_training",
    # distillation
    "DistillationConfig": "distillation",
    "DistillationModel": "distillation",
    "precompute_teacher_logits": "distillation",
    "seed_distillation": "distillation",
    "teacher_logits_dataset": "distillation",
}


def _available(module):
    return importlib.util.find_spec(f"{__name__}.{module}") is not None


# Only the names whose module exists, so `from ... import *` always works
# while the package is assembled.
__all__ = sorted(name for name, module in _LAZY.items()
                 if _available(module))


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(
        f"module 'deltasparse.compression' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
