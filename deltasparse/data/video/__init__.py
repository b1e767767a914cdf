"""Video I/O: clip indexing, frame decoding, augmentation, tf.data pipelines.

- `index`: sliding-window clip arithmetic and folder scanning (`index_clips`).
- `decode`: frames from video files (`read_video_frames`).
- `augment`: one affine transform per clip, backbone preprocessing.
- `pipeline`: `clip_dataset` / `frame_dataset` (`tf.data`).

Importing this package imports TensorFlow (through `pipeline`).
"""

from deltasparse.data.video.augment import AUGMENTATION
from deltasparse.data.video.augment import CAFFE_MEAN_BGR
from deltasparse.data.video.augment import affine_transform_matrix
from deltasparse.data.video.augment import augment_clip
from deltasparse.data.video.augment import preprocess
from deltasparse.data.video.augment import random_affine_params
from deltasparse.data.video.augment import resize_and_augment_clip
from deltasparse.data.video.decode import read_video_frames
from deltasparse.data.video.index import ClipIndex
from deltasparse.data.video.index import check_jpeg
from deltasparse.data.video.index import clip_frame_indices
from deltasparse.data.video.index import count_video_frames
from deltasparse.data.video.index import index_clips
from deltasparse.data.video.index import num_clips
from deltasparse.data.video.index import probe_video
from deltasparse.data.video.pipeline import clip_dataset
from deltasparse.data.video.pipeline import epoch_seed
from deltasparse.data.video.pipeline import frame_dataset

__all__ = [
    "AUGMENTATION",
    "CAFFE_MEAN_BGR",
    "ClipIndex",
    "affine_transform_matrix",
    "augment_clip",
    "check_jpeg",
    "clip_dataset",
    "clip_frame_indices",
    "count_video_frames",
    "frame_dataset",
    "index_clips",
    "num_clips",
    "epoch_seed",
    "preprocess",
    "probe_video",
    "random_affine_params",
    "read_video_frames",
    "resize_and_augment_clip",
]
