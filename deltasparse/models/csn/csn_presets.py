"""Channel-separated network presets (Tran et al. 2019): ir-CSN and ip-CSN
of depths 50, 101 and 152 (the seed trains ir-CSN-50)."""

BLOCK_NAMES = {
    "ir": "interaction-reduced: depthwise 3x3x3",
    "ip": "interaction-preserved: 1x1x1 + depthwise 3x3x3",
}

backbone_presets = {
    f"csn_{block}_{depth}": {
        "metadata": {
            "description": f"{block}-CSN-{depth} ({BLOCK_NAMES[block]}), "
            "projection shortcuts.",
            "path": "csn",
        },
        "backbone": {"depth": depth, "block": block},
    }
    for depth in (50, 101, 152)
    for block in ("ir", "ip")
}
