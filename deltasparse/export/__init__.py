"""Exporting trained video models: model bundles (`.keras` + class names),
SavedModel and TFLite with parity checks against the Keras model."""

from deltasparse.export.model_files import ModelBundle
from deltasparse.export.model_files import load_model_bundle
from deltasparse.export.model_files import save_model_bundle

__all__ = ["ModelBundle", "load_model_bundle", "save_model_bundle"]
