"""AdaFocusV2 (Wang et al., CVPR 2022): glance, learned patch, early exit."""

from deltasparse.models.adafocus.adafocus_presets import ADAFOCUS_V2_PRESETS
from deltasparse.models.adafocus.adafocus_presets import build_glance_network
from deltasparse.models.adafocus.adafocus_presets import build_local_network
from deltasparse.models.adafocus.adafocus_v2 import AdaFocusV2
from deltasparse.models.adafocus.adafocus_v2 import PAPER_LEARNING_RATE_MULTIPLIERS
from deltasparse.models.adafocus.focus_classifier import FocusClassifier
from deltasparse.models.adafocus.input_conversion import InputConversion
from deltasparse.models.adafocus.input_conversion import PIXEL_CONVENTIONS
from deltasparse.models.adafocus.policy_network import PolicyNetwork
from deltasparse.models.adafocus.small_networks import build_small_adafocus
from deltasparse.models.adafocus.small_networks import small_convnet

__all__ = [
    "ADAFOCUS_V2_PRESETS",
    "AdaFocusV2",
    "FocusClassifier",
    "InputConversion",
    "PIXEL_CONVENTIONS",
    "PAPER_LEARNING_RATE_MULTIPLIERS",
    "PolicyNetwork",
    "build_glance_network",
    "build_local_network",
    "build_small_adafocus",
    "small_convnet",
]
