"""One resumable trainer for every model family.

- `Trainer` / `TrainingResult`: per-epoch `model.fit` with exact resume
  (weights, optimizer state and random state), `history.json`, best/last
  weights, a folder lock, timing figures and `log_scalar`.
- `distribution_strategy`, `is_chief`: `tf.distribute` strategies from the
  `distribution` config key (none, mirrored, multi_worker).
- `TimingCallback`, `ScalarLogger`: callbacks also usable with a plain
  `model.fit`.
- `make_optimizer`: the paper SGD with legacy inverse-time decay.
- `GroupedSGD`, `EpochCosineDecay`, `layer_variable_paths`: PyTorch SGD
  with parameter groups (per-module learning-rate and weight-decay
  multipliers) and a per-epoch cosine schedule.
- `CheckpointLockedError`, `CheckpointLock`, `write_json_atomic`,
  `save_weights_atomic`: the checkpoint-folder primitives.
"""

from deltasparse.training.callbacks import ScalarLogger
from deltasparse.training.callbacks import TimingCallback
from deltasparse.training.checkpoints import CheckpointLock
from deltasparse.training.checkpoints import CheckpointLockedError
from deltasparse.training.checkpoints import restore_training_state
from deltasparse.training.checkpoints import save_training_state
from deltasparse.training.checkpoints import save_weights_atomic
from deltasparse.training.checkpoints import write_json_atomic
from deltasparse.training.distribution import distribution_strategy
from deltasparse.training.distribution import is_chief
from deltasparse.training.distribution import prepare_for_strategy
from deltasparse.training.optimizers import SGDWithDampening
from deltasparse.training.parameter_groups import EpochCosineDecay
from deltasparse.training.parameter_groups import GroupedSGD
from deltasparse.training.parameter_groups import layer_variable_paths
from deltasparse.training.optimizers import make_optimizer
from deltasparse.training.plateau import ReduceLearningRateOnPlateau
from deltasparse.training.trainer import Trainer
from deltasparse.training.trainer import TrainingResult
from deltasparse.training.trainer import epoch_seed

__all__ = [
    "CheckpointLock",
    "CheckpointLockedError",
    "EpochCosineDecay",
    "GroupedSGD",
    "ScalarLogger",
    "TimingCallback",
    "Trainer",
    "TrainingResult",
    "distribution_strategy",
    "epoch_seed",
    "is_chief",
    "layer_variable_paths",
    "prepare_for_strategy",
    "SGDWithDampening",
    "ReduceLearningRateOnPlateau",
    "make_optimizer",
    "restore_training_state",
    "save_training_state",
    "save_weights_atomic",
    "write_json_atomic",
]
