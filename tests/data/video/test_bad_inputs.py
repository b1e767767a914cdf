"""Bad video inputs are answered at index time (issue 7, item 5).

Every case here failed (or gave a wrong result) before: frames read in the
wrong order, unreadable files reported as "shorter than one clip", classes
left with a label and no clip, truncated videos and corrupt JPEG frames
failing mid-epoch without a file name.
"""

import os
import warnings

import cv2
import numpy as np
import pytest

from deltasparse.data import video

H, W = 16, 16


def _value(k):
    return (10 + 20 * k) % 240


def _write_video(path, n):
    """MJPG video whose frame k is a flat grey of `_value(k)`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (W, H))
    assert writer.isOpened()
    for k in range(n):
        writer.write(np.full((H, W, 3), _value(k), np.uint8))
    writer.release()
    return str(path)


def _tree(base, videos, frames=True):
    """`base/train/<C>/<v>` (+ `train_frames`) from {"C/v.avi": n or bytes}."""
    for rel, n in videos.items():
        cls = rel.split("/")[0]
        os.makedirs(base / "train" / cls, exist_ok=True)
        os.makedirs(base / "train_frames" / cls, exist_ok=True)
        path = base / "train" / rel
        if isinstance(n, bytes):
            path.write_bytes(n)
            continue
        _write_video(path, n)
        if frames:
            for k in range(n):
                cv2.imwrite(str(base / "train_frames" / f"{rel}_{k}.jpg"),
                            np.full((H, W, 3), _value(k), np.uint8))
    return str(base / "train")


def _index(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idx = video.index_clips(*args, progress=False, **kwargs)
    return idx, " | ".join(str(w.message) for w in caught)


def test_read_video_frames_returns_the_order_asked(tmp_path):
    path = _write_video(tmp_path / "v.avi", 8)
    for seek in (False, True):
        for ask in ([5, 2], [3, 3, 1], [0, 7, 4, 6]):
            got = video.read_video_frames(path, ask, seek=seek)
            assert got.shape == (len(ask), H, W, 3)
            means = got.reshape(len(ask), -1).mean(1)
            np.testing.assert_allclose(means, [_value(k) for k in ask],
                                       atol=3)
    with pytest.raises(ValueError, match="`frame_indices`"):
        video.read_video_frames(path, [1, -1])


def test_empty_and_text_avi_are_unreadable_not_short(tmp_path):
    root = _tree(tmp_path, {"A/v_ok.avi": 4, "A/v_empty.avi": b"",
                            "B/v_ok.avi": 4,
                            "B/v_text.avi": b"this is no video\n" * 40})
    idx, said = _index(root, 2, source="video")
    assert idx.videos == ["A/v_ok.avi", "B/v_ok.avi"]
    assert [rel for rel, _ in idx.unreadable] == ["A/v_empty.avi",
                                                  "B/v_text.avi"]
    assert all("cannot open" in why for _, why in idx.unreadable)
    assert "unreadable" in said and "A/v_empty.avi" in said
    assert "B/v_text.avi" in said and "shorter than one clip" not in said
    assert len(idx) == 2 * 3
    frames, why = video.probe_video(os.path.join(root, "A", "v_empty.avi"))
    assert frames == 0 and "cannot open" in why


def test_class_without_a_readable_video_is_refused(tmp_path):
    root = _tree(tmp_path, {"A/v_ok.avi": 4, "B/v_ok.avi": 4,
                            "C/v_empty.avi": b""})
    with pytest.raises(ValueError, match=r"\['C'\].*Received: root="):
        _index(root, 2, source="video")
    with pytest.raises(ValueError, match=r"\['C'\].*Received: classes=\['C', "
                                         r"'A'\]"):
        _index(root, 2, source="video", classes=["C", "A"])
    idx, said = _index(root, 2, source="video", allow_empty_classes=True)
    assert idx.class_names == ["A", "B", "C"] and idx.empty_classes == ["C"]
    assert idx.num_classes == 3 and "['C']" in said
    # The dataset keeps the 3-way one-hot labels.
    ds = video.clip_dataset(root, 2, source="video", batch_size=8,
                            image_size=(8, 8), allow_empty_classes=True,
                            progress=False)
    _, y = next(iter(ds))
    assert y.shape[1] == 3 and float(y[:, 2].numpy().sum()) == 0.0


def test_truncated_video_is_found_at_index_time(tmp_path):
    root = _tree(tmp_path, {"A/v_ok.avi": 4, "A/v_cut.avi": 40,
                            "B/v_ok.avi": 4}, frames=False)
    path = os.path.join(root, "A", "v_cut.avi")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    assert cv2.VideoCapture(path).get(cv2.CAP_PROP_FRAME_COUNT) == 40
    frames, why = video.probe_video(path)
    assert 0 < frames < 38 and "header says 40 frames" in why
    idx, said = _index(root, 2, source="video")
    assert idx.videos == ["A/v_ok.avi", "B/v_ok.avi"]
    assert idx.unreadable[0][0] == "A/v_cut.avi" and "truncated" in said
    # Every clip left decodes (no mid-epoch failure).
    ds = video.clip_dataset(root, 2, source="video", batch_size=16,
                            image_size=(8, 8), preprocessing=None,
                            progress=False)
    assert sum(int(x.shape[0]) for x, _ in ds) == len(idx) == 6


def test_corrupt_or_empty_jpeg_frames_are_found_at_index_time(tmp_path):
    root = _tree(tmp_path, {"A/v_ok.avi": 4, "A/v_empty.avi": 4,
                            "A/v_garbage.avi": 4, "B/v_ok.avi": 4,
                            "B/v_cut.avi": 4, "B/v_inner.avi": 4})
    frames = tmp_path / "train_frames"
    (frames / "A" / "v_empty.avi_2.jpg").write_bytes(b"")
    (frames / "A" / "v_garbage.avi_1.jpg").write_bytes(b"not a jpeg" * 9)
    cut = frames / "B" / "v_cut.avi_3.jpg"
    cut.write_bytes(cut.read_bytes()[:60])
    inner = frames / "B" / "v_inner.avi_0.jpg"  # valid markers, bad inside
    inner.write_bytes(b"\xff\xd8" + b"\x00\x13" * 40 + b"\xff\xd9")
    idx, said = _index(root, 2)
    bad = dict(idx.unreadable)
    assert sorted(bad) == ["A/v_empty.avi", "A/v_garbage.avi", "B/v_cut.avi"]
    assert "v_empty.avi_2.jpg" in bad["A/v_empty.avi"]
    assert "empty file" in bad["A/v_empty.avi"]
    assert "no start-of-image" in bad["A/v_garbage.avi"]
    assert "no end-of-image" in bad["B/v_cut.avi"]
    assert "v_garbage.avi_1.jpg" in said
    # Only a full decode sees the bad inside.
    strict, _ = _index(root, 2, verify_frames=True)
    assert "B/v_inner.avi" in dict(strict.unreadable)
    assert "v_inner.avi_0.jpg" in dict(strict.unreadable)["B/v_inner.avi"]
    ds = video.clip_dataset(root, 2, batch_size=32, image_size=(8, 8),
                            verify_frames=True, progress=False)
    assert sum(int(x.shape[0]) for x, _ in ds) == 2 * 3
    # A frame a clip never uses is not checked (frame_stride 3, T=2 uses 0, 3).
    (frames / "A" / "v_ok.avi_1.jpg").write_bytes(b"")
    idx, _ = _index(root, 2, frame_stride=3)
    assert "A/v_ok.avi" in idx.videos
