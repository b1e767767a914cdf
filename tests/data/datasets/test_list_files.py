"""Generic list files (AR-Net's ActivityNet/FCVID/Mini-Kinetics format) and
`prepare_video_list` for a user's own videos."""

import os
import warnings

import cv2
import numpy as np
import pytest

from deltasparse.data.datasets import list_files
from tests.data.datasets.video_fixtures import write_corrupt
from tests.data.datasets.video_fixtures import write_video


def _frame_folder(folder, num_frames, template="image_{:05d}.jpg"):
    os.makedirs(folder, exist_ok=True)
    for k in range(1, num_frames + 1):
        cv2.imwrite(os.path.join(folder, template.format(k)),
                    np.full((8, 8, 3), k, np.uint8))


@pytest.fixture
def fcvid_like(tmp_path):
    root = tmp_path / "frames"
    _frame_folder(root / "v_a", 4)
    _frame_folder(root / "v_b", 2)
    (tmp_path / "classInd.txt").write_text("1 cooking\n2 dancing\n3 skiing\n")
    (tmp_path / "val_split.txt").write_text("v_a 4 0 2\nv_b 2 1\n")
    return tmp_path


def test_multilabel_list_with_class_file(fcvid_like):
    videos = list_files.list_file_videos(
        fcvid_like / "val_split.txt", fcvid_like / "frames",
        class_file=fcvid_like / "classInd.txt")
    assert videos.class_names == ["cooking", "dancing", "skiing"]
    assert videos.labels == [(0, 2), (1,)] and videos.multilabel
    np.testing.assert_array_equal(videos.label_matrix(),
                                  [[1, 0, 1], [0, 1, 0]])
    assert videos.frame_path(1, 1) == str(
        fcvid_like / "frames" / "v_b" / "image_00002.jpg")
    assert cv2.imread(videos.frame_path(0, 3))[0, 0, 0] == 4


def test_single_label_list_forced_multilabel(fcvid_like):
    (fcvid_like / "one.txt").write_text("v_b 2 1\n")
    videos = list_files.list_file_videos(
        fcvid_like / "one.txt", fcvid_like / "frames",
        class_file=fcvid_like / "classInd.txt", multilabel=True)
    assert videos.multilabel and videos.labels == [(1,)]


def test_class_count_and_missing_frames(fcvid_like):
    with pytest.raises(ValueError, match="must give 239 classes"):
        list_files.list_file_videos(
            fcvid_like / "val_split.txt", fcvid_like / "frames",
            class_file=fcvid_like / "classInd.txt", num_classes="fcvid")
    with pytest.raises(ValueError, match="`num_classes`"):
        list_files.list_file_videos(
            fcvid_like / "val_split.txt", fcvid_like / "frames",
            num_classes="kinetics")
    with pytest.raises(FileNotFoundError) as info:
        list_files.list_file_videos(
            fcvid_like / "val_split.txt", fcvid_like / "frames",
            frame_template=list_files.MINI_KINETICS_FRAME_TEMPLATE)
    message = str(info.value)
    assert "img_00001.jpg" in message and list_files.ARNET_URL in message
    assert "prepare_video_list.py" in message
    with pytest.raises(FileNotFoundError, match="`list_file`"):
        list_files.list_file_videos(fcvid_like / "absent.txt", fcvid_like)
    assert list_files.NUM_CLASSES == {"activitynet": 200, "fcvid": 239,
                                      "mini_kinetics": 200}


def test_prepare_own_videos_in_class_folders(tmp_path):
    src = tmp_path / "mine"
    write_video(src / "wave" / "w1.avi", 3)
    write_video(src / "wave" / "more" / "w2.avi", 4)
    write_video(src / "clap" / "c 1.mp4", 5, "mp4v")
    write_corrupt(src / "clap" / "bad.avi")
    (src / "clap" / "notes.txt").write_text("not a video")
    with pytest.warns(UserWarning, match="1 of 4 videos"):
        videos = list_files.prepare_video_list(
            str(src), str(tmp_path / "out"), "train", progress=False)
    assert videos.class_names == ["clap", "wave"]
    assert videos.video_ids == ["clap/c_1.mp4", "wave/more/w2.avi",
                                "wave/w1.avi"]
    assert videos.num_frames.tolist() == [5, 4, 3]
    assert videos.labels == [(0,), (1,), (1,)]
    read = list_files.prepared_video_list(tmp_path / "out", "train")
    assert read.video_ids == videos.video_ids
    assert read.unreadable == [("clap/bad.avi", videos.unreadable[0][1])]
    # the same list through the generic reader (decoding the files)
    again = list_files.list_file_videos(
        tmp_path / "out" / "train.txt", tmp_path / "out",
        class_file=tmp_path / "out" / "classes.txt", frame_template=None)
    assert again.num_frames.tolist() == [5, 4, 3]
    assert again.class_names == ["clap", "wave"]


def test_prepare_from_annotations_and_cli(tmp_path, capsys):
    src = tmp_path / "mine"
    write_video(src / "a.avi", 3)
    write_video(src / "b.avi", 2)
    (tmp_path / "ann.txt").write_text("a.avi 0 1\nb.avi 1\n")
    (tmp_path / "classes.txt").write_text("sport\nmusic\n")
    code = list_files.main([
        "--source", str(src), "--annotations", str(tmp_path / "ann.txt"),
        "--classes", str(tmp_path / "classes.txt"), "--output",
        str(tmp_path / "out"), "--name", "val", "--quiet"])
    assert code == 0
    assert "val: 2 videos, 2 classes, 0 unreadable" in capsys.readouterr().out
    videos = list_files.prepared_video_list(tmp_path / "out", "val")
    assert videos.labels == [(0, 1), (1,)] and videos.multilabel
    assert videos.class_names == ["sport", "music"]
    with pytest.raises(FileNotFoundError, match="prepare_video_list.py"):
        list_files.prepared_video_list(tmp_path / "out", "test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert list_files.main(["--source", str(tmp_path / "none"),
                                "--output", str(tmp_path / "o")]) == 1
