"""Tests of the UCF101 list parsing and class ordering (no video work)."""

import os

import pytest

from deltasparse.data.datasets import ucf101

# The 101 UCF101 class names in official classInd.txt numbering (1..101).
UCF101_CLASSES = """
ApplyEyeMakeup ApplyLipstick Archery BabyCrawling BalanceBeam BandMarching
BaseballPitch Basketball BasketballDunk BenchPress Biking Billiards BlowDryHair
BlowingCandles BodyWeightSquats Bowling BoxingPunchingBag BoxingSpeedBag
BreastStroke BrushingTeeth CleanAndJerk CliffDiving CricketBowling CricketShot
CuttingInKitchen Diving Drumming Fencing FieldHockeyPenalty FloorGymnastics
FrisbeeCatch FrontCrawl GolfSwing Haircut Hammering HammerThrow
HandstandPushups HandstandWalking HeadMassage HighJump HorseRace HorseRiding
HulaHoop IceDancing JavelinThrow JugglingBalls JumpingJack JumpRope Kayaking
Knitting LongJump Lunges MilitaryParade Mixing MoppingFloor Nunchucks
ParallelBars PizzaTossing PlayingCello PlayingDaf PlayingDhol PlayingFlute
PlayingGuitar PlayingPiano PlayingSitar PlayingTabla PlayingViolin PoleVault
PommelHorse PullUps Punch PushUps Rafting RockClimbingIndoor RopeClimbing
Rowing SalsaSpin ShavingBeard Shotput SkateBoarding Skiing Skijet SkyDiving
SoccerJuggling SoccerPenalty StillRings SumoWrestling Surfing Swing
TableTennisShot TaiChi TennisSwing ThrowDiscus TrampolineJumping Typing
UnevenBars VolleyballSpiking WalkingWithDog WallPushups WritingOnBoard YoYo
""".split()


def _write(path, text, newline="\r\n"):
    with open(path, "w", newline="") as f:
        f.write(text.replace("\n", newline))
    return str(path)


@pytest.fixture
def class_ind(tmp_path):
    text = "".join(f"{i} {c}\n" for i, c in enumerate(UCF101_CLASSES, 1))
    return _write(tmp_path / "classInd.txt", text)


def test_class_index_crlf_and_order(class_ind):
    names = ucf101.read_class_index(class_ind)
    assert len(names) == 101
    assert names == UCF101_CLASSES
    assert names[34] == "Hammering" and names[35] == "HammerThrow"


def test_sorted_order_differs_from_class_ind_by_two_swaps(class_ind):
    names = ucf101.read_class_index(class_ind)
    order = ucf101.sorted_class_names(names)
    assert order == sorted(UCF101_CLASSES)
    diff = [i for i, (a, b) in enumerate(zip(names, order)) if a != b]
    assert diff == [34, 35, 46, 47]
    assert order[34:36] == ["HammerThrow", "Hammering"]
    assert order[46:48] == ["JumpRope", "JumpingJack"]


def test_class_index_lf_blank_lines_and_bom(tmp_path):
    path = _write(tmp_path / "c.txt", "\ufeff1 B\n\n2 a\n3 A\n\n", "\n")
    assert ucf101.read_class_index(path) == ["B", "a", "A"]
    assert ucf101.sorted_class_names(["B", "a", "A"]) == ["A", "B", "a"]


@pytest.mark.parametrize("text, match", [
    ("1 A\n1 B\n", "repeats label"),
    ("1 A\n3 B\n", "1..N"),
    ("A 1\n", "<index> <ClassName>"),
    ("1 A B\n", "<index> <ClassName>"),
    ("1 A\n2 A\n", "repeats a class name"),
])
def test_class_index_malformed(tmp_path, text, match):
    path = _write(tmp_path / "c.txt", text)
    with pytest.raises(ValueError, match=match):
        ucf101.read_class_index(path)


def test_class_index_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="UCF101.rar"):
        ucf101.read_class_index(str(tmp_path / "nope.txt"))


def test_split_lists_train_and_test(tmp_path):
    train = _write(tmp_path / "trainlist01.txt",
                   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
                   "\nYoYo/v_YoYo_g25_c05.avi 101\n")
    test = _write(tmp_path / "testlist01.txt",
                  "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n"
                  "YoYo\\v_YoYo_g07_c04.avi\n", "\r\n")
    tr = ucf101.read_split_list(train)
    assert [(e.class_name, e.filename, e.label) for e in tr] == [
        ("ApplyEyeMakeup", "v_ApplyEyeMakeup_g08_c01.avi", 1),
        ("YoYo", "v_YoYo_g25_c05.avi", 101),
    ]
    te = ucf101.read_split_list(test)
    assert [e.label for e in te] == [None, None]
    assert te[1].relpath == "YoYo/v_YoYo_g07_c04.avi"


@pytest.mark.parametrize("line", [
    "v_no_class.avi", "A/b/c.avi", "A/v.avi x", "A/v.avi 1 2", "/v.avi"])
def test_split_list_malformed(tmp_path, line):
    path = _write(tmp_path / "l.txt", line + "\n")
    with pytest.raises(ValueError, match="Split list line 1"):
        ucf101.read_split_list(path)


def test_find_split_lists_official_and_prefixed(tmp_path):
    for name in ("classInd.txt", "trainlist02.txt", "testlist02.txt"):
        _write(tmp_path / name, "")
    found = ucf101.find_split_lists(str(tmp_path), 2)
    assert [os.path.basename(p) for p in found] == [
        "classInd.txt", "trainlist02.txt", "testlist02.txt"]
    other = tmp_path / "orig"
    other.mkdir()
    for name in ("UCF_classInd.txt", "UCF_trainlist01.txt",
                 "UCF_testlist01.txt"):
        _write(other / name, "")
    found = ucf101.find_split_lists(str(other), "1")
    assert os.path.basename(found[2]) == "UCF_testlist01.txt"


def test_find_split_lists_missing_says_what_to_download(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        ucf101.find_split_lists(str(tmp_path), 3)
    msg = str(e.value)
    assert "UCF101TrainTestSplits-RecognitionTask" in msg
    assert "deltasparse-prepare-ucf101" in msg
    assert msg.endswith(f"Received: lists_dir={str(tmp_path)!r}")


@pytest.mark.parametrize("split", [0, 4, "x", True, None])
def test_invalid_split(tmp_path, split):
    with pytest.raises(ValueError, match="`split` must be 1, 2 or 3"):
        ucf101.find_split_lists(str(tmp_path), split)


def test_prepare_missing_source_says_what_to_download(tmp_path):
    missing = str(tmp_path / "UCF-101")
    with pytest.raises(FileNotFoundError) as e:
        ucf101.prepare_ucf101(missing, None, str(tmp_path / "out"))
    msg = str(e.value)
    for needle in ("UCF101.rar", "UCF-101/",
                   "UCF101TrainTestSplits-RecognitionTask",
                   "deltasparse-prepare-ucf101 --source", "ensure_synthetic_ucf"):
        assert needle in msg
    assert msg.endswith(f"Received: source_dir={missing!r}")


def test_prepare_source_without_videos(tmp_path):
    (tmp_path / "UCF-101" / "A").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="`source_dir` must be the"):
        ucf101.prepare_ucf101(str(tmp_path), None, str(tmp_path / "out"))


@pytest.mark.parametrize("kwargs, match", [
    ({"link": "move"}, "`link`"),
    ({"workers": -1}, "`workers`"),
    ({"jpeg_quality": 0}, "`jpeg_quality`"),
    ({"subsets": ("val",)}, "`subsets`"),
    ({"split": 5}, "`split`"),
])
def test_prepare_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ucf101.prepare_ucf101(str(tmp_path), None, str(tmp_path / "o"),
                              **kwargs)


def test_frame_path_naming():
    assert ucf101.frame_path("d", "v_A_g01_c01.avi", 7) == os.path.join(
        "d", "v_A_g01_c01.avi_7.jpg")
