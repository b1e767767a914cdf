"""Model builders: time-distributed video backbones and temporal autoencoders."""

from deltasparse.models.gks_components import ALGORITHMS
from deltasparse.models.gks_components import FrameReconstructionLoss
from deltasparse.models.gks_components import GroupSlownessPenalty
from deltasparse.models.gks_components import Keras2CategoricalCrossentropy
from deltasparse.models.gks_components import ScalarLogger
from deltasparse.models.td_mobilenet import TDMobileNet
from deltasparse.models.td_resnet50 import TDResNet50
from deltasparse.models.temporal_autoencoders import DEFAULT_CONFIG
from deltasparse.models.temporal_autoencoders import MODES
from deltasparse.models.temporal_autoencoders import TemporalAutoencoder
from deltasparse.models.temporal_autoencoders import validate_config
from deltasparse.models.weight_transfer import TransferReport
from deltasparse.models.weight_transfer import imagenet_weights_path
from deltasparse.models.weight_transfer import read_weights
from deltasparse.models.weight_transfer import transfer_weights

__all__ = [
    "ALGORITHMS",
    "DEFAULT_CONFIG",
    "FrameReconstructionLoss",
    "GroupSlownessPenalty",
    "Keras2CategoricalCrossentropy",
    "MODES",
    "ScalarLogger",
    "TDMobileNet",
    "TDResNet50",
    "TemporalAutoencoder",
    "TransferReport",
    "imagenet_weights_path",
    "read_weights",
    "transfer_weights",
    "validate_config",
]
