"""Exporting trained video models: model bundles (`.keras` + class names),
SavedModel and TFLite with parity checks against the Keras model.

- `model_files`: `save_model_bundle` / `load_model_bundle`.
- `formats`: `export_model` (every format, checked, `export_report.json`).
- `parity`: `check_parity` of any two callables on the same clips.
- `tflite_inspection`: ops of a TFLite model, Flex ops, ops that stay float
  after int8 quantization, `TFLiteRunner`.
- `cli`: the `deltasparse-export` command (`main`).
"""

from deltasparse.export.model_files import ModelBundle
from deltasparse.export.model_files import load_model_bundle
from deltasparse.export.model_files import save_model_bundle

_LAZY = {
    "DEFAULT_INT8_TOLERANCE": "formats",
    "DEFAULT_TOLERANCE": "formats",
    "ExportReport": "formats",
    "FLOAT_FORMATS": "formats",
    "FORMATS": "formats",
    "FormatResult": "formats",
    "QUANTIZED_FORMATS": "formats",
    "export_model": "formats",
    "write_saved_model": "formats",
    "ParityResult": "parity",
    "check_parity": "parity",
    "compare_outputs": "parity",
    "TFLiteRunner": "tflite_inspection",
    "flex_ops": "tflite_inspection",
    "float_ops": "tflite_inspection",
    "tflite_ops": "tflite_inspection",
}

__all__ = ["ModelBundle", "load_model_bundle", "save_model_bundle",
           *sorted(_LAZY)]


def __getattr__(name):
    # The export modules import deltasparse.models (Keras) and, when used,
    # TensorFlow: loaded on first use so `deltasparse.export.model_files`
    # stays as light as it was.
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"deltasparse.export.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(
        f"module 'deltasparse.export' has no attribute {name!r}")
