"""The preparation CLIs under bad conditions (issue 7, item 5).

An output folder that is a file, a second run on a folder in use, and a
preparation killed with SIGKILL: one `error: ...` line and exit 1 instead
of a traceback; no worker left writing after its parent died; a restart
that completes the folder consistently.
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from deltasparse.data.datasets import synthetic_actions
from deltasparse.data.datasets import ucf101
from deltasparse.data.datasets import ucf101_prepare

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["Alpha", "Beta"]
VIDEOS = {f"{c}/v_{c}_g{g:02d}_c01.avi": 3 + g for c in CLASSES
          for g in range(1, 5)}  # g01 is the test group


def _mini(base):
    src, lists = base / "UCF-101", base / "ucfTrainTestlist"
    for c in CLASSES:
        (src / c).mkdir(parents=True)
    lists.mkdir()
    for rel, n in VIDEOS.items():
        w = cv2.VideoWriter(str(src / rel), cv2.VideoWriter_fourcc(*"MJPG"),
                            25, (16, 16))
        for k in range(n):
            w.write(np.full((16, 16, 3), 30 * k, np.uint8))
        w.release()
    (src / "Beta" / "v_Beta_g05_c01.avi").write_bytes(b"")  # zero bytes
    (src / "Beta" / "v_Beta_g06_c01.avi").write_text("not a video\n" * 30)
    bad = ["Beta/v_Beta_g05_c01.avi", "Beta/v_Beta_g06_c01.avi"]
    (lists / "classInd.txt").write_text("1 Alpha\n2 Beta\n")
    (lists / "trainlist01.txt").write_text("".join(
        f"{r} {CLASSES.index(r.split('/')[0]) + 1}\n"
        for r in list(VIDEOS) + bad if "_g01_" not in r))
    (lists / "testlist01.txt").write_text(
        "".join(f"{r}\n" for r in VIDEOS if "_g01_" in r))
    return str(src), str(lists)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    return _mini(tmp_path_factory.mktemp("mini"))


def _args(mini, out, *extra):
    return ["--source", mini[0], "--lists", mini[1], "--output", str(out),
            "--quiet", *extra]


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "Traceback" not in err
    return err


def test_output_is_a_file(mini, tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("I am a file")
    assert ucf101_prepare.main(_args(mini, out, "--workers", "1")) == 1
    err = _one_error_line(capsys)
    assert "`output_dir`" in err and "is a file" in err and str(out) in err
    # make_synthetic_ucf: --root and --prepare
    assert synthetic_actions.main(["--root", str(out)]) == 1
    assert "`root`" in _one_error_line(capsys)
    nested = tmp_path / "out" / "below"  # a folder below a file
    assert synthetic_actions.main(["--root", str(nested)]) == 1
    assert str(nested) in _one_error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0,
                    reason="root writes to read-only folders anyway")
def test_output_is_read_only(mini, tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert ucf101_prepare.main(_args(mini, out, "--workers", "1")) == 1
        assert "`output_dir`" in _one_error_line(capsys)
    finally:
        out.chmod(0o700)


def test_unreadable_videos_are_listed(mini, tmp_path):
    res = ucf101.prepare_ucf101(mini[0], mini[1], str(tmp_path), workers=1,
                                progress=False)
    listed = {rel: why for _, rel, why in ucf101.read_corrupt_list(res.root)}
    assert sorted(listed) == ["Beta/v_Beta_g05_c01.avi",
                              "Beta/v_Beta_g06_c01.avi"]
    assert all("cannot open" in why for why in listed.values())
    assert len(res.frames["train"]) == 6 and len(res.frames["test"]) == 2


def test_second_run_on_a_locked_folder(mini, tmp_path, capsys):
    split = tmp_path / "split1"
    split.mkdir()
    with ucf101.preparation_lock(str(split)):
        assert ucf101_prepare.main(_args(mini, tmp_path, "--workers", "1")) == 1
        err = _one_error_line(capsys)
        assert "another preparation" in err and f"pid {os.getpid()}" in err
    # Workers of an earlier run still holding the workers' lock are waited
    # for, then reported.
    fd = os.open(split / ucf101.WORKERS_LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_SH)
    old, ucf101.SURVIVOR_WAIT_S = ucf101.SURVIVOR_WAIT_S, 0.3
    try:
        assert ucf101_prepare.main(_args(mini, tmp_path, "--workers", "1")) == 1
        assert "still writing" in _one_error_line(capsys)
    finally:
        ucf101.SURVIVOR_WAIT_S = old
        os.close(fd)
    assert ucf101_prepare.main(_args(mini, tmp_path, "--workers", "1")) == 0


def _descendants(pid):
    """pids of all live descendants of `pid`, from /proc (no psutil)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_sigkill_leaves_no_worker_and_a_restart_completes(mini, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "SLOW_PREPARE_S": "20"}
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "slow_prepare.py"),
         *_args(mini, out, "--workers", "2")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = [p for p in _descendants(proc.pid)
                       if "spawn_main" in _cmdline(p)]
        assert len(workers) == 2, "the pool did not start"
        time.sleep(1.5)  # the workers are inside their (slow) first videos
        everyone = _descendants(proc.pid)
        assert not os.path.exists(out / "split1" / "train_index.json")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    while any(map(_alive, everyone)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in everyone if _alive(p)] == []
    # The restart takes the lock at once and completes the folder.
    t0 = time.monotonic()
    assert ucf101_prepare.main(_args(mini, out, "--workers", "2")) == 0
    assert time.monotonic() - t0 < ucf101.SURVIVOR_WAIT_S
    root = out / "split1"
    for subset in ("train", "test"):
        with open(root / f"{subset}_index.json") as f:
            videos = json.load(f)["videos"]
        want = {r: n for r, n in VIDEOS.items()
                if ("_g01_" in r) == (subset == "test")}
        assert videos == want
        for rel, n in want.items():
            d = root / f"{subset}_frames" / rel.split("/")[0]
            name = os.path.basename(rel)
            assert sorted(f for f in os.listdir(d) if f.startswith(name)) == \
                sorted(f"{name}_{k}.jpg" for k in range(n))
            assert os.path.exists(root / subset / rel)
    leftovers = [f for _, _, files in os.walk(root) for f in files
                 if f.endswith(".tmp")]
    assert leftovers == []
