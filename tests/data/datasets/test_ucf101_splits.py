"""UCF101's three official splits: each selects the videos of its lists.

The fixture follows the official lists: split N tests on groups of its own
(here g0(2N-1) and g0(2N); officially 7 groups each) and trains on the rest;
`classInd.txt` numbers classes from 1 in an order that is not sorted.
"""

import json

import pytest

from deltasparse.data.datasets import ucf101
from tests.data.datasets.video_fixtures import write_video

CLASS_IND = ["JumpingJack", "JumpRope", "Archery"]  # not sorted
GROUPS = range(1, 7)


def _video(c, g):
    return f"{c}/v_{c}_g{g:02d}_c01.avi"


def _test_groups(split):
    return {2 * split - 1, 2 * split}


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    base = tmp_path_factory.mktemp("ucf")
    src, lists = base / "UCF-101", base / "ucfTrainTestlist"
    lists.mkdir()
    for c in CLASS_IND:
        for g in GROUPS:
            write_video(src / _video(c, g), 2 + g % 3)
    crlf = "\r\n"
    (lists / "classInd.txt").write_bytes("".join(
        f"{i} {c}{crlf}" for i, c in enumerate(CLASS_IND, 1)).encode())
    for split in (1, 2, 3):
        test = [_video(c, g) for c in CLASS_IND for g in GROUPS
                if g in _test_groups(split)]
        train = [f"{_video(c, g)} {i}" for i, c in enumerate(CLASS_IND, 1)
                 for g in GROUPS if g not in _test_groups(split)]
        (lists / f"trainlist0{split}.txt").write_bytes(
            crlf.join(train).encode() + crlf.encode())
        (lists / f"testlist0{split}.txt").write_bytes(
            crlf.join(test).encode() + crlf.encode())
    result = {split: ucf101.prepare_ucf101(
        str(src), str(lists), str(base / "out"), split=split,
        extract_frames=False, workers=0, progress=False)
        for split in (1, 2, 3)}
    return base, result


@pytest.mark.parametrize("split", [1, 2, 3])
def test_each_split_selects_its_lists(official, split):
    base, results = official
    result = results[split]
    all_videos = {_video(c, g) for c in CLASS_IND for g in GROUPS}
    test = {_video(c, g) for c in CLASS_IND for g in _test_groups(split)}
    assert set(result.frames["test"]) == test
    assert set(result.frames["train"]) == all_videos - test
    assert result.root == str(base / "out" / f"split{split}")
    for subset in ("train", "test"):
        index = json.loads((base / "out" / f"split{split}" /
                            f"{subset}_index.json").read_text())
        assert index["split"] == split
        assert index["classes"] == sorted(CLASS_IND)
        assert set(index["videos"]) == set(result.frames[subset])
        for rel in index["videos"]:
            assert (base / "out" / f"split{split}" / subset / rel).is_file()


def test_splits_partition_the_videos(official):
    _, results = official
    tests = [set(results[s].frames["test"]) for s in (1, 2, 3)]
    assert not (tests[0] & tests[1]) and not (tests[1] & tests[2])
    assert len(set.union(*tests)) == len(CLASS_IND) * len(GROUPS)


def test_list_files_of_each_split_are_found(official):
    base, _ = official
    for split in (1, 2, 3):
        found = ucf101.find_split_lists(str(base / "ucfTrainTestlist"), split)
        assert found[1].endswith(f"trainlist0{split}.txt")
        assert found[2].endswith(f"testlist0{split}.txt")
    with pytest.raises(ValueError, match="`split` must be 1, 2 or 3"):
        ucf101.find_split_lists(str(base / "ucfTrainTestlist"), 4)
