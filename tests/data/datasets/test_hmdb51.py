"""HMDB51 parser and preparation on a fixture in the official format."""

import os
import warnings

import pytest

from deltasparse.data.datasets import hmdb51
from tests.data.datasets.video_fixtures import write_corrupt
from tests.data.datasets.video_fixtures import write_video

# class -> video -> its tag in splits 1, 2, 3 (1 train, 2 test, 0 unused)
TAGS = {
    "brush_hair": {"April_09_brush_hair_u_nm_np1_ba_goo_0.avi": (1, 2, 1),
                   "Blonde_brush_hair_f_cm_np2_le_goo_1.avi": (2, 1, 0)},
    "cartwheel": {"#20_Rhythm_cartwheel_f_nm_np1_fr_med_0.avi": (1, 1, 2),
                  "Bodenturnen_cartwheel_f_cm_np1_le_med_1.avi": (0, 2, 1)},
    "shoot_ball": {"ballin_shoot_ball_f_cm_np1_ri_goo_2.avi": (2, 0, 1),
                   "broken_shoot_ball_u_cm_np1_fr_bad_0.avi": (1, 1, 1)},
}
CORRUPT = "shoot_ball/broken_shoot_ball_u_cm_np1_fr_bad_0.avi"
CLASSES = sorted(TAGS)


def _expected(split, tag):
    return sorted(f"{c}/{v}" for c, videos in TAGS.items()
                  for v, tags in videos.items()
                  if tags[split - 1] == tag and f"{c}/{v}" != CORRUPT)


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    base = tmp_path_factory.mktemp("hmdb")
    src, splits = base / "hmdb51_org", base / "testTrainMulti_7030_splits"
    splits.mkdir()
    for c, videos in TAGS.items():
        for i, v in enumerate(videos):
            if f"{c}/{v}" == CORRUPT:
                write_corrupt(src / c / v)
            else:
                write_video(src / c / v, 3 + i)
        for split in (1, 2, 3):  # trailing spaces and CRLF, as shipped
            (splits / f"{c}_test_split{split}.txt").write_bytes("".join(
                f"{v} {tags[split - 1]} \r\n"
                for v, tags in videos.items()).encode())
    return base, src, splits


def _prepare(official, out, split, **kwargs):
    base, _, splits = official
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = hmdb51.prepare_hmdb51(
            str(base), str(splits), str(out), split=split,
            check_num_classes=False, progress=False, workers=2, **kwargs)
    return result, [str(w.message) for w in caught]


def test_read_split_file(official):
    _, _, splits = official
    rows = hmdb51.read_split_file(splits / "cartwheel_test_split3.txt")
    assert rows == [("#20_Rhythm_cartwheel_f_nm_np1_fr_med_0.avi", 2),
                    ("Bodenturnen_cartwheel_f_cm_np1_le_med_1.avi", 1)]
    assert list(hmdb51.split_files(str(splits), 2)) == CLASSES


@pytest.mark.parametrize("split", [1, 2, 3])
def test_each_split_selects_its_videos(official, tmp_path, split):
    out = tmp_path / "hmdb51"
    result, messages = _prepare(official, out, split)
    for subset, tag in (("train", 1), ("test", 2)):
        videos = result[subset]
        assert sorted(videos.video_ids) == _expected(split, tag)
        assert videos.name == f"hmdb51/{subset}_split{split}"
        assert videos.class_names == CLASSES
        for vid, label in zip(videos.video_ids, videos.single_labels()):
            assert CLASSES[label] == vid.split("/")[0]
        read = hmdb51.hmdb51_videos(out, split, subset)
        assert read.video_ids == videos.video_ids
        assert read.num_frames.tolist() == videos.num_frames.tolist()
    if TAGS["shoot_ball"][CORRUPT.split("/")[1]][split - 1] in (1, 2):
        assert any(CORRUPT in m for m in messages)
        assert CORRUPT in (out / "unreadable.txt").read_text()


def test_unused_subset_and_frames(official, tmp_path):
    result, _ = _prepare(official, tmp_path / "h", 1, subsets=("unused",),
                         extract_frames=True)
    videos = result["unused"]
    assert videos.video_ids == _expected(1, 0)
    assert os.path.isfile(videos.frame_path(0, 0))
    assert videos.frame_path(0, 0).endswith(
        "frames/cartwheel/Bodenturnen_cartwheel_f_cm_np1_le_med_1.avi/"
        "img_00001.jpg")


def test_official_class_count_is_checked(official, tmp_path):
    base, _, splits = official
    with pytest.raises(ValueError, match="must give 51 classes"):
        hmdb51.prepare_hmdb51(str(base), str(splits), str(tmp_path))


def test_missing_data_messages(official, tmp_path):
    base, _, splits = official
    with pytest.raises(FileNotFoundError) as info:
        hmdb51.hmdb51_videos(tmp_path, split=2, subset="test")
    message = str(info.value)
    assert hmdb51.HMDB51_URL in message
    assert "prepare_hmdb51.py" in message and "--split 2" in message
    with pytest.raises(FileNotFoundError, match="_test_split1.txt"):
        hmdb51.prepare_hmdb51(str(base), str(tmp_path), str(tmp_path / "o"))
    with pytest.raises(FileNotFoundError, match="hmdb51_org.rar"):
        hmdb51.prepare_hmdb51(str(tmp_path), str(splits), str(tmp_path / "o"),
                              check_num_classes=False)
    with pytest.raises(ValueError, match="`split` must be 1, 2 or 3"):
        hmdb51.hmdb51_videos(tmp_path, split=4)


def test_cli(official, tmp_path, capsys, monkeypatch):
    base, _, splits = official
    monkeypatch.setattr(hmdb51, "NUM_CLASSES", len(CLASSES))
    out = tmp_path / "cli"
    with pytest.warns(UserWarning, match="unreadable"):
        code = hmdb51.main(["--source", str(base / "hmdb51_org"), "--splits",
                            str(splits), "--output", str(out), "--split",
                            "1", "3", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"hmdb51/train_split3: {len(_expected(3, 1))} videos" in printed
    assert (out / "test_split1.txt").is_file()
    code = hmdb51.main(["--source", str(tmp_path / "none"), "--splits",
                        str(splits), "--output", str(out)])
    assert code == 1
    assert capsys.readouterr().err.startswith("error: `source_dir`")
