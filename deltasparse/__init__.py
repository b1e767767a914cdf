"""deltasparse: faithful Keras 3 sparsity layers and experiments for video.

`import deltasparse` is cheap and side-effect free: the sub-packages
`deltasparse.layers`, `deltasparse.ops`, `deltasparse.models`, ... are loaded
on first attribute access (or by importing them directly). Layers and ops
import only Keras; OpenCV, Sacred and dataset code load only with
`deltasparse.data` / `deltasparse.experiment`. (Keras itself imports OpenCV
when it is installed; that is outside deltasparse's control.)
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "compression",
    "data",
    "evaluation",
    "experiment",
    "export",
    "inference",
    "layers",
    "models",
    "ops",
    "reporting",
    "training",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"deltasparse.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'deltasparse' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
