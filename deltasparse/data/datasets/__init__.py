"""The datasets of the papers and their preparation.

Modules: `ucf101` (+ `ucf101_prepare`), `hmdb51`, `kinetics`,
`something_something`, `list_files` (ActivityNet / FCVID / Mini-Kinetics
lists and your own videos), `video_preparation` (the shared engine),
`synthetic_actions`, `synthetic_focus` (AdaFocusV2's demo set),
`mnist_rotated`, `cifar10_scanned`, `coil100`, `nec_animal`.

This package module imports nothing itself (importing a video module pulls
in OpenCV and TensorFlow); the video-dataset names below are loaded on
first access, e.g. `deltasparse.data.datasets.prepare_hmdb51`.
"""

import importlib

_LAZY = {
    "make_synthetic_focus": "synthetic_focus",
    "ensure_synthetic_focus": "synthetic_focus",
    "synthetic_focus_videos": "synthetic_focus",
    "object_boxes": "synthetic_focus",
    "object_coverage": "synthetic_focus",
    "PreparationEntry": "video_preparation",
    "prepare_videos": "video_preparation",
    "read_prepared_videos": "video_preparation",
    "prepare_hmdb51": "hmdb51",
    "hmdb51_videos": "hmdb51",
    "prepare_kinetics": "kinetics",
    "kinetics_videos": "kinetics",
    "prepare_something_something": "something_something",
    "something_something_videos": "something_something",
    "list_file_videos": "list_files",
    "prepare_video_list": "list_files",
    "prepared_video_list": "list_files",
    "ACTIVITYNET_NUM_CLASSES": "list_files",
    "FCVID_NUM_CLASSES": "list_files",
    "MINI_KINETICS_NUM_CLASSES": "list_files",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    return getattr(module, name)


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = sorted(_LAZY)
