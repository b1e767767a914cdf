"""ResNet-50 video model presets: the configurations of the Delta
Activation Layer paper code (spec `delta_activation.md` §4.1-4.2, §5, §9).

Each preset names a `ResNet50VideoBackbone` configuration (the `thr_init`
table has 7 entries: `[in, conv1, conv2, conv3, conv4, conv5, fc]`) and the
paper head (`VideoClassifier` defaults for this backbone).
"""

# Index of each stage in the 7-entry `thr_init` table.
RESNET50_THR_INIT_NAMES = ("in", "conv1", "conv2", "conv3", "conv4", "conv5",
                           "fc")
# The delta training script's thresholds (stage B).
RESNET50_DEFAULT_THR_INIT = (3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 3.0)

backbone_presets = {
    "resnet50_baseline": {
        "metadata": {
            "description": "Folded-time ResNet-50 v1, no sparsity slots "
            "(the TD baseline `UCF_TD_ResNet50`).",
            "path": "resnet50",
        },
        "backbone": {"sparsity": None},
    },
    "resnet50_l1": {
        "metadata": {
            "description": "ResNet-50 with `L1ActivityRegularizer` slots, "
            "sp_rate 4e-4 (`UCF_ResNet50_L1`; the input slot has sp_rate 0).",
            "path": "resnet50",
        },
        "backbone": {"sparsity": "l1", "sp_rate": 4e-4},
    },
    "resnet50_delta": {
        "metadata": {
            "description": "ResNet-50 with `DeltaActivation` slots, "
            "sp_rate 1e-6, thr_init [3, 3, 3, 4, 4, 4, 3] "
            "(`UCF_ResNet50_delta`, training stage B).",
            "path": "resnet50",
        },
        "backbone": {
            "sparsity": "delta",
            "sp_rate": 1e-6,
            "thr_init": list(RESNET50_DEFAULT_THR_INIT),
        },
    },
}
