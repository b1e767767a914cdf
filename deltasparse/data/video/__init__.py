"""Video I/O: clip indexing, frame decoding, augmentation, tf.data pipelines.

- `index`: sliding-window clip arithmetic and folder scanning (`index_clips`).
- `decode`: frames from video files (`read_video_frames`).
- `augment`: one affine transform per clip, backbone preprocessing.
- `pipeline`: `clip_dataset` / `frame_dataset` (`tf.data`).
- `video_list`: `VideoList`, the videos of one dataset subset, list files.
- `sampling`: seeded frame samplers (TSN segments, dense and uniform
  clips) and test-time crop boxes (pure NumPy).
- `views`: `view_dataset` (every clip x crop view, for video-level
  testing) and `video_dataset` (one sampled clip per video, training).
- `segment_crops`: TSN segments with `GroupMultiScaleCrop` (training) and
  resize + centre crop (test), AdaFocusV2's pipelines, `preload_frames`.
- `clip_crops`: the clips and crops of the 3-D CNN papers (Hara et al.):
  temporal random / centre crops, multi-scale corner crops, their
  normalisation, `clip3d_training_dataset` and `clip3d_view_dataset`.

Importing this package imports TensorFlow (through `pipeline`).
"""

from deltasparse.data.video.augment import AUGMENTATION
from deltasparse.data.video.augment import CAFFE_MEAN_BGR
from deltasparse.data.video.augment import IMAGENET_MEAN
from deltasparse.data.video.augment import IMAGENET_STD
from deltasparse.data.video.augment import affine_transform_matrix
from deltasparse.data.video.augment import augment_clip
from deltasparse.data.video.augment import preprocess
from deltasparse.data.video.augment import random_affine_params
from deltasparse.data.video.augment import resize_and_augment_clip
from deltasparse.data.video.clip_crops import ClipNormalization
from deltasparse.data.video.clip_crops import clip3d_training_dataset
from deltasparse.data.video.clip_crops import clip3d_view_dataset
from deltasparse.data.video.clip_crops import corner_crop_box
from deltasparse.data.video.clip_crops import hara_clip_indices
from deltasparse.data.video.clip_crops import temporal_center_crop
from deltasparse.data.video.clip_crops import temporal_random_crop
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
from deltasparse.data.video.sampling import CROP_FRACTIONS
from deltasparse.data.video.sampling import crop_boxes
from deltasparse.data.video.sampling import dense_clip_indices
from deltasparse.data.video.sampling import prefix_covering_order
from deltasparse.data.video.sampling import segment_frame_indices
from deltasparse.data.video.sampling import uniform_clip_indices
from deltasparse.data.video.segment_crops import FRAME_ORDERS
from deltasparse.data.video.segment_crops import GroupMultiScaleCrop
from deltasparse.data.video.segment_crops import TSN_SCALES
from deltasparse.data.video.segment_crops import default_scale_size
from deltasparse.data.video.segment_crops import fixed_crop_offsets
from deltasparse.data.video.segment_crops import multiscale_crop_sizes
from deltasparse.data.video.segment_crops import preload_frames
from deltasparse.data.video.segment_crops import resize_center_crop
from deltasparse.data.video.segment_crops import resize_center_crop_geometry
from deltasparse.data.video.segment_crops import segment_training_dataset
from deltasparse.data.video.segment_crops import segment_view_dataset
from deltasparse.data.video.video_list import VideoList
from deltasparse.data.video.video_list import read_class_file
from deltasparse.data.video.video_list import read_list_file
from deltasparse.data.video.video_list import write_list_file
from deltasparse.data.video.views import TRAIN_SAMPLINGS
from deltasparse.data.video.views import VIEW_SAMPLINGS
from deltasparse.data.video.views import crop_and_resize_boxes
from deltasparse.data.video.views import video_dataset
from deltasparse.data.video.views import view_dataset

__all__ = [
    "AUGMENTATION",
    "CAFFE_MEAN_BGR",
    "CROP_FRACTIONS",
    "ClipIndex",
    "ClipNormalization",
    "FRAME_ORDERS",
    "GroupMultiScaleCrop",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TRAIN_SAMPLINGS",
    "TSN_SCALES",
    "VIEW_SAMPLINGS",
    "VideoList",
    "affine_transform_matrix",
    "augment_clip",
    "check_jpeg",
    "clip3d_training_dataset",
    "clip3d_view_dataset",
    "clip_dataset",
    "clip_frame_indices",
    "corner_crop_box",
    "count_video_frames",
    "crop_and_resize_boxes",
    "crop_boxes",
    "default_scale_size",
    "dense_clip_indices",
    "epoch_seed",
    "fixed_crop_offsets",
    "frame_dataset",
    "hara_clip_indices",
    "index_clips",
    "multiscale_crop_sizes",
    "num_clips",
    "prefix_covering_order",
    "preload_frames",
    "preprocess",
    "probe_video",
    "random_affine_params",
    "read_class_file",
    "read_list_file",
    "read_video_frames",
    "resize_and_augment_clip",
    "resize_center_crop",
    "resize_center_crop_geometry",
    "segment_frame_indices",
    "segment_training_dataset",
    "segment_view_dataset",
    "temporal_center_crop",
    "temporal_random_crop",
    "uniform_clip_indices",
    "video_dataset",
    "view_dataset",
    "write_list_file",
]
