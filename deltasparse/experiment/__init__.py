"""Shared Sacred and runtime helpers for the scripts in `experiments/`."""

from deltasparse.experiment.runtime import configure_devices
from deltasparse.experiment.runtime import set_global_seed
from deltasparse.experiment.sacred_utils import EpochCheckpoint
from deltasparse.experiment.sacred_utils import SacredMetricsLogger
from deltasparse.experiment.sacred_utils import latest_checkpoint
from deltasparse.experiment.sacred_utils import make_experiment
from deltasparse.experiment.sacred_utils import results_root
from deltasparse.experiment.sacred_utils import run_directory
from deltasparse.experiment.sacred_utils import write_json_atomic

__all__ = [
    "EpochCheckpoint",
    "SacredMetricsLogger",
    "configure_devices",
    "latest_checkpoint",
    "make_experiment",
    "results_root",
    "run_directory",
    "set_global_seed",
    "write_json_atomic",
]
