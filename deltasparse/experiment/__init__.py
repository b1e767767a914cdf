"""Sacred glue for the scripts in `experiments/` (nothing else lives here).

- `observers`: `make_experiment` (runs stored under `results/<name>/`),
  `run_directory`, `results_root`.
- `errors`: `DataNotFoundError`, `ConfigurationError` (one-line CLI errors).
- `runtime`: `configure_devices`, `set_global_seed`.
- `config`: the shared `runtime` config scope (`add_runtime_config`).
- `video_experiments` / `autoencoder_experiments`: each family's shared
  configuration, named configs and commands.
"""

from deltasparse.experiment.config import add_runtime_config
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.experiment.observers import make_experiment
from deltasparse.experiment.observers import results_root
from deltasparse.experiment.observers import run_directory
from deltasparse.experiment.runtime import configure_devices
from deltasparse.experiment.runtime import set_global_seed

__all__ = [
    "ConfigurationError",
    "DataNotFoundError",
    "add_runtime_config",
    "configure_devices",
    "make_experiment",
    "results_root",
    "run_directory",
    "set_global_seed",
]
