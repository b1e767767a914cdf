"""Model builders: time-distributed video backbones and temporal autoencoders."""

from deltasparse.models.temporal_autoencoder.components import ALGORITHMS
from deltasparse.models.temporal_autoencoder.components import FrameReconstructionLoss
from deltasparse.models.temporal_autoencoder.components import GroupSlownessPenalty
from deltasparse.models.temporal_autoencoder.components import Keras2CategoricalCrossentropy
from deltasparse.models.temporal_autoencoder.components import ScalarLogger
from deltasparse.models.mobilenet.td_mobilenet import TDMobileNet
from deltasparse.models.resnet50.td_resnet50 import TDResNet50
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import DEFAULT_CONFIG
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import MODES
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import validate_config
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
