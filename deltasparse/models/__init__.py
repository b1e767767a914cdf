"""Model builders: time-distributed video backbones and temporal autoencoders."""

from deltasparse.models.temporal_autoencoder.blocks import GroupSlownessPenalty
from deltasparse.models.temporal_autoencoder.losses import FrameReconstructionLoss
from deltasparse.models.temporal_autoencoder.losses import Keras2CategoricalCrossentropy
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import ALGORITHMS
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import TEMPORAL_AUTOENCODER_PRESETS
from deltasparse.models.mobilenet.td_mobilenet import TDMobileNet
from deltasparse.models.resnet50.td_resnet50 import TDResNet50
from deltasparse.models.weight_transfer import TransferReport
from deltasparse.models.weight_transfer import imagenet_weights_path
from deltasparse.models.weight_transfer import read_weights
from deltasparse.models.weight_transfer import transfer_weights

__all__ = [
    "ALGORITHMS",
    "FrameReconstructionLoss",
    "GroupSlownessPenalty",
    "Keras2CategoricalCrossentropy",
    "TDMobileNet",
    "TDResNet50",
    "TEMPORAL_AUTOENCODER_PRESETS",
    "TemporalAutoencoder",
    "TransferReport",
    "imagenet_weights_path",
    "read_weights",
    "transfer_weights",
]
