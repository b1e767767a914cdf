"""Video models (backbones, the `VideoClassifier` task, sparsity slots and
their logger) and the group k-sparse temporal autoencoders."""

from deltasparse.models.adafocus import ADAFOCUS_V2_PRESETS
from deltasparse.models.adafocus import AdaFocusV2
from deltasparse.models.adafocus import FocusClassifier
from deltasparse.models.adafocus import PolicyNetwork
from deltasparse.models.adafocus import build_small_adafocus
from deltasparse.models.csn import CSNBackbone
from deltasparse.models.mobilenet.mobilenet_video_backbone import MobileNetVideoBackbone
from deltasparse.models.mobilenetv2_3d import MobileNetV2_3DBackbone
from deltasparse.models.resnet3d import ChannelZeroPadding
from deltasparse.models.resnet3d import ResNet3DBackbone
from deltasparse.models.resnet50.resnet50_video_backbone import ResNet50VideoBackbone
from deltasparse.models.sparsity_figures import group_density
from deltasparse.models.sparsity_figures import op_ratio
from deltasparse.models.sparsity_figures import per_layer_figures
from deltasparse.models.sparsity_figures import sparsity_figures
from deltasparse.models.sparsity_logger import SparsityLogger
from deltasparse.models.sparsity_logger import accumulated_figures
from deltasparse.models.sparsity_logger import reset_sparsity_totals
from deltasparse.models.sparsity_slots import SparsityAccumulator
from deltasparse.models.sparsity_slots import SparsitySlot
from deltasparse.models.sparsity_slots import sparsity_statistics_disabled
from deltasparse.models.temporal_autoencoder.blocks import GroupSlownessPenalty
from deltasparse.models.temporal_autoencoder.losses import FrameReconstructionLoss
from deltasparse.models.temporal_autoencoder.losses import Keras2CategoricalCrossentropy
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import ALGORITHMS
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import TEMPORAL_AUTOENCODER_PRESETS
from deltasparse.models.video_backbone import SpatiotemporalBackbone
from deltasparse.models.video_backbone import VideoBackbone
from deltasparse.models.video_classifier import VideoClassifier
from deltasparse.models.video_classifier import list_presets
from deltasparse.models.weight_inflation import inflate_2d_weights
from deltasparse.models.weight_transfer import TransferReport
from deltasparse.models.weight_transfer import imagenet_weights_path
from deltasparse.models.weight_transfer import read_weights
from deltasparse.models.weight_transfer import transfer_weights

__all__ = [
    "ADAFOCUS_V2_PRESETS",
    "AdaFocusV2",
    "FocusClassifier",
    "PolicyNetwork",
    "build_small_adafocus",
    "ALGORITHMS",
    "CSNBackbone",
    "ChannelZeroPadding",
    "FrameReconstructionLoss",
    "GroupSlownessPenalty",
    "Keras2CategoricalCrossentropy",
    "MobileNetV2_3DBackbone",
    "MobileNetVideoBackbone",
    "ResNet3DBackbone",
    "ResNet50VideoBackbone",
    "SparsityAccumulator",
    "SparsityLogger",
    "SparsitySlot",
    "SpatiotemporalBackbone",
    "TEMPORAL_AUTOENCODER_PRESETS",
    "TemporalAutoencoder",
    "TransferReport",
    "VideoBackbone",
    "VideoClassifier",
    "accumulated_figures",
    "group_density",
    "imagenet_weights_path",
    "inflate_2d_weights",
    "list_presets",
    "op_ratio",
    "per_layer_figures",
    "read_weights",
    "reset_sparsity_totals",
    "sparsity_figures",
    "sparsity_statistics_disabled",
    "transfer_weights",
]
