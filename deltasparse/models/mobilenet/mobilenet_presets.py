"""MobileNet v1 video model presets: the configurations of the Delta
Activation Layer paper code (spec `delta_activation.md` §4.4-4.6, §9).

The `thr_init` table has 14 entries: `[conv1, block1, ..., block13]`.
"""

MOBILENET_THR_INIT_NAMES = ("conv1",) + tuple(
    f"block{k}" for k in range(1, 14)
)
MOBILENET_DEFAULT_THR_INIT = (1.0,) * 14

backbone_presets = {
    "mobilenet_baseline": {
        "metadata": {
            "description": "Folded-time MobileNet v1 (alpha 1.0), no "
            "sparsity slots (`TD_MobileNet`).",
            "path": "mobilenet",
        },
        "backbone": {"sparsity": None, "alpha": 1.0},
    },
    "mobilenet_l1": {
        "metadata": {
            "description": "MobileNet v1 with `L1ActivityRegularizer` slots, "
            "sp_rate 4e-4 (the missing `MobileNet_L1`, rebuilt; the rate "
            "is assumed from the ResNet L1 run).",
            "path": "mobilenet",
        },
        "backbone": {"sparsity": "l1", "alpha": 1.0, "sp_rate": 4e-4},
    },
    "mobilenet_delta": {
        "metadata": {
            "description": "MobileNet v1 with `DeltaActivation` slots, "
            "sp_rate 1e-3, thr_init 14 x 1.0 (`MobileNet_delta` training).",
            "path": "mobilenet",
        },
        "backbone": {
            "sparsity": "delta",
            "alpha": 1.0,
            "sp_rate": 1e-3,
            "thr_init": list(MOBILENET_DEFAULT_THR_INIT),
        },
    },
}
