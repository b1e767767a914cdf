"""3-D MobileNetV2 presets: the four widths of Efficient-3DCNNs (Kopuklu et
al. 2019, Table of 3D-MobileNetV2 results: 0.2x, 0.45x, 0.7x, 1.0x)."""

MOBILENETV2_3D_WIDTHS = (0.2, 0.45, 0.7, 1.0)

backbone_presets = {
    f"mobilenetv2_3d_{width}x": {
        "metadata": {
            "description": f"3-D MobileNetV2, width {width}x "
            "(Efficient-3DCNNs), 16x112x112 clips, head Dropout(0.2) + "
            "classifier.",
            "path": "mobilenetv2_3d",
        },
        "backbone": {"width_multiplier": width},
    }
    for width in MOBILENETV2_3D_WIDTHS
}
