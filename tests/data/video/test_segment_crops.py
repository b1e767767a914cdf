"""TSN's segment crops and the AdaFocusV2 pipelines (`segment_crops`).

The box arithmetic is checked against hand computations from the rules of
TSN's `GroupMultiScaleCrop`, `GroupScale` and `GroupCenterCrop`; the
pipelines by value on tiny PNG frames whose pixels encode the frame number
(red), the row (green) and the column (blue).
"""

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from deltasparse.data.video import VideoList
from deltasparse.data.video.augment import preprocess
from deltasparse.data.video.sampling import prefix_covering_order
from deltasparse.data.video.segment_crops import TSN_SCALES
from deltasparse.data.video.segment_crops import GroupMultiScaleCrop
from deltasparse.data.video.segment_crops import default_scale_size
from deltasparse.data.video.segment_crops import fixed_crop_offsets
from deltasparse.data.video.segment_crops import multiscale_crop_sizes
from deltasparse.data.video.segment_crops import preload_frames
from deltasparse.data.video.segment_crops import resize_center_crop
from deltasparse.data.video.segment_crops import resize_center_crop_geometry
from deltasparse.data.video.segment_crops import segment_training_dataset
from deltasparse.data.video.segment_crops import segment_view_dataset
from deltasparse.evaluation.videos import evaluate_videos

HEIGHT, WIDTH, FRAMES = 24, 32, 24


def coded_frame(k, height=HEIGHT, width=WIDTH):
    """RGB uint8: red = 10 k, green = 8 row, blue = 8 column."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = 10 * k
    frame[..., 1] = 8 * np.arange(height)[:, None]
    frame[..., 2] = 8 * np.arange(width)[None, :]
    return frame


@pytest.fixture(scope="module")
def coded_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("coded")
    paths = []
    for v in range(6):
        folder = root / f"video{v}"
        folder.mkdir()
        for k in range(FRAMES):
            cv2.imwrite(str(folder / f"img_{k + 1:05d}.png"),
                        coded_frame(k)[..., ::-1])
        paths.append(str(folder))
    return VideoList(paths=paths, num_frames=[FRAMES] * 6,
                     labels=[v % 3 for v in range(6)],
                     class_names=["a", "b", "c"],
                     frame_template="{path}/img_{index:05d}.png",
                     frame_offset=1, name="coded")


def frame_ids(clips):
    """The frame number of every frame of float clips `(B, T, H, W, 3)`."""
    red = np.asarray(clips)[..., 0]
    ids = np.rint(red.mean(axis=(2, 3)) / 10).astype(int)
    np.testing.assert_allclose(
        red, np.broadcast_to(10 * ids[..., None, None], red.shape), atol=1e-3)
    return ids


# --------------------------------------------------------------------------
# Box arithmetic
# --------------------------------------------------------------------------


def test_multiscale_crop_sizes_by_hand():
    # 240 x 320, output 224: base 240, sides int(240 s) = 240, 210, 180,
    # 158 (none within 3 of 224), pairs with |i - j| <= 1, TSN's order.
    assert multiscale_crop_sizes(240, 320, 224) == [
        (240, 240), (240, 210),
        (210, 240), (210, 210), (210, 180),
        (180, 210), (180, 180), (180, 158),
        (158, 180), (158, 158)]
    # base 254: int(254 * .875) = 222 snaps to 224; 190, 167 stay.
    sides = [h for h, w in multiscale_crop_sizes(254, 300, 224, max_distort=0)]
    assert sides == [254, 224, 190, 167]
    # Non-square output: heights snap to 224, widths to 200 (201 -> 200).
    pairs = multiscale_crop_sizes(230, 300, (224, 200), max_distort=0)
    assert pairs == [(230, 230), (201, 200), (172, 172), (151, 151)]
    # A snapped side larger than the frame is clamped to it.
    assert multiscale_crop_sizes(126, 126, 128, max_distort=0)[0] == (126, 126)
    assert len(multiscale_crop_sizes(240, 320, 224, max_distort=3)) == 16
    assert multiscale_crop_sizes(100, 100, 50, scales=(0.5,)) == [(50, 50)]


def test_fixed_crop_offsets_by_hand():
    # 256 x 340 frame, 224 x 192 crop: hs = 32 // 4 = 8, ws = 148 // 4 = 37.
    assert fixed_crop_offsets(256, 340, 224, 192) == [
        (0, 0), (0, 148), (32, 0), (32, 148), (16, 74),
        (16, 0), (16, 148), (32, 74), (0, 74),
        (8, 37), (8, 111), (24, 37), (24, 111)]
    # The far corner is 4 * (free // 4): 2 pixels short of the edge here.
    assert fixed_crop_offsets(10, 10, 4, 4, more_fix_crop=False)[3] == (4, 4)
    with pytest.raises(ValueError, match="must fit"):
        fixed_crop_offsets(10, 10, 12, 4)


def test_sample_box_reaches_exactly_the_candidates():
    crop = GroupMultiScaleCrop(16)
    expected = {(t, left, t + h, left + w)
                for h, w in crop.crop_sizes(HEIGHT, WIDTH)
                for t, left in fixed_crop_offsets(HEIGHT, WIDTH, h, w)}
    drawn = {crop.sample_box(HEIGHT, WIDTH, seed=s) for s in range(3000)}
    assert drawn == expected
    assert crop.sample_box(HEIGHT, WIDTH, seed=5) == crop.sample_box(
        HEIGHT, WIDTH, seed=5)
    free = GroupMultiScaleCrop(16, fix_crop=False)
    boxes = np.array([free.sample_box(HEIGHT, WIDTH, seed=s)
                      for s in range(500)])
    assert boxes[:, :2].min() == 0 and np.all(boxes[:, 2] <= HEIGHT)
    assert np.all(boxes[:, 3] <= WIDTH)
    sizes = set(map(tuple, boxes[:, 2:] - boxes[:, :2]))
    assert sizes == set(free.crop_sizes(HEIGHT, WIDTH))
    fixed_tops = {t for t, _, _, _ in expected}
    assert len(set(boxes[:, 0]) - fixed_tops) > 0  # not only fixed ones
    assert "more_fix_crop=True" in repr(crop)


def test_crop_takes_the_box_pixels_and_resizes():
    clip = np.stack([coded_frame(k) for k in (3, 4)])
    crop = GroupMultiScaleCrop((8, 12))
    out = crop(clip, (5, 7, 13, 19)).numpy()  # an 8 x 12 box: no resize
    np.testing.assert_array_equal(out, clip[:, 5:13, 7:19].astype(float))
    half = GroupMultiScaleCrop(4)(clip, (0, 0, 8, 8)).numpy()
    # Antialiased 2x downsampling of a linear ramp: inside the frame the
    # (symmetric) filter keeps the ramp's value at the sample centres.
    np.testing.assert_allclose(half[0, 1:3, 0, 1], [20.0, 36.0], atol=1e-3)
    assert np.all(np.diff(half[0, :, 0, 1]) > 0)
    assert half.shape == (2, 4, 4, 3)


def test_resize_center_crop_geometry_by_hand():
    # 240 x 320 -> shorter side 256: 256 x int(256 * 320 / 240) = 341;
    # crop 224 at round(32 / 2) = 16 and round(117 / 2) = 58 (half to even).
    assert resize_center_crop_geometry(240, 320, 256, 224) == (
        (256, 341), (16, 58))
    assert resize_center_crop_geometry(320, 240, 256, 224) == (
        (341, 256), (58, 16))
    assert resize_center_crop_geometry(128, 128, 146, 128) == (
        (146, 146), (9, 9))
    with pytest.raises(ValueError, match="`image_size` must fit"):
        resize_center_crop_geometry(240, 320, 200, 224)
    assert default_scale_size(224) == 256 and default_scale_size(112) == 128
    assert default_scale_size((224, 200)) == 256
    # No resize when the shorter side already is `scale_size`.
    clip = np.stack([coded_frame(k) for k in (1, 2)])
    out = resize_center_crop(clip, 24, (24, 16)).numpy()
    np.testing.assert_array_equal(out, clip[:, :, 8:24].astype(float))


def test_torch_preprocessing_is_imagenet_mean_std():
    x = np.array([[0.0, 127.5, 255.0]], np.float32)
    expected = (x / 255 - np.array([0.485, 0.456, 0.406])) / np.array(
        [0.229, 0.224, 0.225])
    np.testing.assert_allclose(preprocess(tf.constant(x), "torch").numpy(),
                               expected, rtol=1e-6)


# --------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------


def test_training_segments_order_crop_and_flip(coded_videos):
    order = prefix_covering_order(4)  # [1, 0, 3, 2]
    ds = segment_training_dataset(
        coded_videos, 4, image_size=16, frame_order="prefix_covering",
        preprocessing=None, batch_size=3, seed=7, epoch=0)
    assert len(ds) == 2 and ds.frame_order == "prefix_covering"
    batches = list(ds)
    clips = np.concatenate([x.numpy() for x, _ in batches])
    assert clips.shape == (6, 4, 16, 16, 3)
    ids = frame_ids(clips)
    # One frame per 6-frame segment, segments in the prefix order.
    np.testing.assert_array_equal(ids // 6, np.tile(order, (6, 1)))
    # One crop per clip: every frame of a clip has the same green/blue.
    np.testing.assert_array_equal(clips[:, :, ..., 1:],
                                  np.repeat(clips[:, :1, ..., 1:], 4, 1))
    # Same (seed, epoch): the same batches; another epoch: other frames.
    again = np.concatenate([x.numpy() for x, _ in segment_training_dataset(
        coded_videos, 4, image_size=16, frame_order="prefix_covering",
        preprocessing=None, batch_size=3, seed=7, epoch=0)])
    np.testing.assert_array_equal(clips, again)
    other = np.concatenate([x.numpy() for x, _ in segment_training_dataset(
        coded_videos, 4, image_size=16, frame_order="prefix_covering",
        preprocessing=None, batch_size=3, seed=7, epoch=1)])
    assert not np.array_equal(frame_ids(other), ids)
    # Flips: the blue ramp runs right-to-left in about half of the clips.
    flips = []
    for epoch in range(8):
        for x, _ in segment_training_dataset(
                coded_videos, 2, image_size=8, scales=(1.0,),
                preprocessing=None, batch_size=6, seed=1, epoch=epoch):
            blue = x.numpy()[:, 0, 0, :, 2]
            flips += (blue[:, 0] > blue[:, -1]).tolist()
    assert 0.25 < np.mean(flips) < 0.75
    for x, _ in segment_training_dataset(
            coded_videos, 2, image_size=8, horizontal_flip=False,
            preprocessing=None, batch_size=6, seed=1, epoch=0):
        blue = x.numpy()[:, 0, 0, :, 2]
        assert np.all(blue[:, 0] < blue[:, -1])


def test_training_labels_shuffle_and_remainder(coded_videos):
    ds = segment_training_dataset(coded_videos, 2, image_size=8,
                                  batch_size=4, seed=3, epoch=0)
    batches = list(ds)
    assert len(batches) == 1  # drop_remainder=True, as the original
    ds = segment_training_dataset(coded_videos, 2, image_size=8,
                                  batch_size=4, seed=3, epoch=0,
                                  drop_remainder=False, shuffle=False,
                                  preprocessing=None)
    labels = np.concatenate([y.numpy() for _, y in ds])
    np.testing.assert_array_equal(labels, coded_videos.label_matrix())


def test_view_dataset_centres_crop_and_evaluates(coded_videos):
    ds = segment_view_dataset(coded_videos, 4, image_size=16,
                              frame_order="prefix_covering",
                              preprocessing=None, batch_size=4)
    assert ds.scale_size == 18 and ds.views_per_video == 1
    assert ds.num_views == 6 and ds.clip_length == 4
    batches = list(ds)
    clips = np.concatenate([x.numpy() for x, _, _ in batches])
    index = np.concatenate([i.numpy() for _, _, i in batches])
    labels = np.concatenate([y.numpy() for _, y, _ in batches])
    assert index.tolist() == list(range(6))
    np.testing.assert_array_equal(labels, coded_videos.label_matrix())
    # Segment centres int(3 + 6 i) = 3, 9, 15, 21, in the order [1, 0, 3, 2].
    np.testing.assert_array_equal(frame_ids(clips), [[9, 3, 21, 15]] * 6)
    np.testing.assert_array_equal(ds.frame_indices, [[9, 3, 21, 15]] * 6)
    # Shorter side 24 -> 18 (24 x 32 -> 18 x 24), centre crop 16 x 16 at
    # (1, 4): the same pixels as resizing ourselves and cropping.
    frame = tf.image.resize(coded_frame(9)[None].astype(np.float32),
                            (18, 24), antialias=True).numpy()[0]
    np.testing.assert_allclose(clips[0, 0], frame[1:17, 4:20], atol=1e-4)
    whole = segment_view_dataset(coded_videos, 4, image_size=(24, 32),
                                 full_frame=True, preprocessing=None)
    x, _, _ = next(iter(whole))
    np.testing.assert_array_equal(x.numpy()[0, 0], coded_frame(3))
    # evaluate_videos reads it as it is (B, K outputs).
    model = keras.Sequential([keras.Input((4, 16, 16, 3)),
                              keras.layers.GlobalAveragePooling3D(),
                              keras.layers.Dense(3)])
    result = evaluate_videos(model, ds)
    assert result.figures["videos"] == 6
    assert result.views["views_per_video"] == 1


def test_preloaded_frames_give_the_same_batches(coded_videos):
    frames = preload_frames(coded_videos)
    assert len(frames) == 6 and frames[0].shape == (FRAMES, HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(frames[2][5], coded_frame(5))
    kwargs = dict(image_size=16, frame_order="prefix_covering", seed=4,
                  epoch=2, batch_size=3)
    for files, memory in zip(
            segment_training_dataset(coded_videos, 4, **kwargs),
            segment_training_dataset(coded_videos, 4, frames=frames,
                                     **kwargs)):
        np.testing.assert_array_equal(files[0].numpy(), memory[0].numpy())
    for files, memory in zip(
            segment_view_dataset(coded_videos, 4, image_size=16),
            segment_view_dataset(coded_videos, 4, image_size=16,
                                 frames=frames)):
        np.testing.assert_array_equal(files[0].numpy(), memory[0].numpy())
        np.testing.assert_array_equal(files[2].numpy(), memory[2].numpy())
    with pytest.raises(ValueError, match="`frames` must hold one array"):
        segment_view_dataset(coded_videos, 4, frames=frames[:2])


def test_video_files_work_too(tmp_path):
    from deltasparse.data.datasets.synthetic_actions import render_video
    from deltasparse.data.datasets.synthetic_actions import write_video

    path = write_video(str(tmp_path / "v.avi"), render_video("Pulse", 8, 32))
    videos = VideoList(paths=[path], num_frames=[8], labels=[0],
                       class_names=["a"])
    train = segment_training_dataset(videos, 4, image_size=16, seed=0,
                                     epoch=0, batch_size=1)
    assert next(iter(train))[0].shape == (1, 4, 16, 16, 3)
    frames = preload_frames(videos)
    assert frames[0].shape == (8, 32, 32, 3)
    files, _, _ = next(iter(segment_view_dataset(videos, 4, image_size=16)))
    memory, _, _ = next(iter(segment_view_dataset(videos, 4, image_size=16,
                                                  frames=frames)))
    np.testing.assert_array_equal(files.numpy(), memory.numpy())


def test_errors_name_the_argument(coded_videos):
    with pytest.raises(ValueError, match="`frame_order`"):
        segment_training_dataset(coded_videos, 4, frame_order="bisect")
    with pytest.raises(ValueError, match="`scales`"):
        segment_training_dataset(coded_videos, 4, scales=(1.0, 1.5))
    with pytest.raises(ValueError, match="`max_distort`"):
        GroupMultiScaleCrop(224, max_distort=-1)
    with pytest.raises(ValueError, match="`image_size`"):
        GroupMultiScaleCrop((224,))
    with pytest.raises(ValueError, match="`num_segments`"):
        segment_view_dataset(coded_videos, 0)
    with pytest.raises(ValueError, match="`scale_size`"):
        segment_view_dataset(coded_videos, 4, image_size=16, scale_size=8)
    with pytest.raises(ValueError, match="`preprocessing`"):
        segment_view_dataset(coded_videos, 4, preprocessing="imagenet")
    with pytest.raises(ValueError, match="`videos`"):
        segment_training_dataset([], 4)
    assert TSN_SCALES == (1.0, 0.875, 0.75, 0.66)
