"""3-D ResNet presets: the configurations of Hara et al. (CVPR 2018) and
of the compressed-3d-cnn seed (ResNet-18 with shortcut A, ResNet-50 and
ResNet-101 with B)."""


def _preset(depth, shortcut, note):
    return {
        "metadata": {
            "description": f"3-D ResNet-{depth}, shortcut {shortcut} "
            f"({note}).",
            "path": "resnet3d",
        },
        "backbone": {"depth": depth, "shortcut": shortcut},
    }


backbone_presets = {
    "resnet3d_10": _preset(10, "A", "Hara et al., basic blocks"),
    "resnet3d_18": _preset(18, "A", "Hara et al., basic blocks; the seed's "
                           "ResNet-18"),
    "resnet3d_34": _preset(34, "A", "Hara et al., basic blocks"),
    "resnet3d_50": _preset(50, "B", "Hara et al.'s Kinetics model, "
                           "bottlenecks; the seed's ResNet-50"),
    "resnet3d_101": _preset(101, "B", "Hara et al.'s Kinetics model, "
                            "bottlenecks; the seed's ResNet-101"),
    "resnet3d_152": _preset(152, "B", "Hara et al.'s Kinetics model, "
                            "bottlenecks"),
    "resnet3d_200": _preset(200, "B", "Hara et al.'s Kinetics model, "
                            "bottlenecks"),
}
