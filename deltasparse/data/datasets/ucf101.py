"""UCF101: official split lists and the train/test preparation step.

UCF101 (Soomro, Zamir & Shah, 2012, arXiv 1212.0402) ships as `UCF101.rar`
(unpacked: `UCF-101/<Class>/v_<Class>_gXX_cYY.avi`) plus the zip
"UCF101TrainTestSplits-RecognitionTask" (unpacked: `ucfTrainTestlist/` with
`classInd.txt`, `trainlist0N.txt`, `testlist0N.txt`, N = 1, 2, 3).

`prepare_ucf101` turns those into the layout the clip pipeline
(`deltasparse.data.video`) reads::

    <output_dir>/split<N>/
        train/<Class>/<video>.avi              hard link (or symlink / copy)
        train_frames/<Class>/<video>.avi_<k>.jpg   every frame, k from 0
        test/...  test_frames/...
        train_index.json  test_index.json      classes + frames per video
        corrupt_videos.txt                     videos that could not be read
        .markers/<subset>/<Class>/<video>.json per-video "done" markers
        .prepare.lock  .prepare.workers.lock   held while a preparation runs

This is the job of the original `dataset_preparation/split.py` (spec §6.1),
with these differences: any of the three splits, frames written in parallel
by a process pool, resumable (a video whose marker says it is complete is
skipped; every file is written to a temporary name and renamed), unreadable
videos skipped and listed instead of crashing the run, hard links instead of
copies where possible, one preparation at a time per split folder (a lock
file), and worker processes that die with the preparation (a killed run
leaves nothing writing behind it).

Class order: the models index classes by the Python-sorted (case-sensitive)
class names, not by `classInd.txt` numbering (spec §6.3, §10 item 14). The
two orders differ by two swaps: `HammerThrow`/`Hammering` and
`JumpRope`/`JumpingJack` (uppercase letters sort before lowercase ones).
"""

import concurrent.futures
import contextlib
import ctypes
import dataclasses
import fcntl
import glob
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time

import cv2
import tqdm

logger = logging.getLogger(__name__)

UCF101_URL = "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar"
UCF101_SPLITS_URL = (
    "https://www.crcv.ucf.edu/data/UCF101/"
    "UCF101TrainTestSplits-RecognitionTask.zip"
)
SUBSETS = ("train", "test")
INDEX_FORMAT = "deltasparse-ucf101-index/1"
MARKER_FORMAT = "deltasparse-ucf101-video/1"
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg")
_LIST_PREFIXES = ("", "UCF_", "ucf_")


def download_instructions(source_dir="<data>/UCF-101",
                          lists_dir="<data>/ucfTrainTestlist",
                          output_dir="<data>/ucf101_prepared", split=1):
    """Returns the message that says what to download and what to run.

    Args:
        source_dir: str, where `UCF-101/` is (or will be) unpacked.
        lists_dir: str, where the split lists are (or will be) unpacked.
        output_dir: str, where the prepared layout goes.
        split: int, the official split, 1, 2 or 3.

    Returns:
        A multi-line string.

    Example:
    >>> print(download_instructions().splitlines()[0])
    UCF101 must be downloaded by hand (deltasparse never downloads):
    """
    return (
        "UCF101 must be downloaded by hand (deltasparse never downloads):\n"
        f"  1. {UCF101_URL}\n"
        "     unpack it (e.g. `unrar x UCF101.rar`) so that "
        "UCF-101/<Class>/v_<Class>_gXX_cYY.avi exist;\n"
        f"  2. {UCF101_SPLITS_URL}\n"
        "     unzip it to get ucfTrainTestlist/ with classInd.txt, "
        "trainlist01..03.txt, testlist01..03.txt.\n"
        "Then run:\n"
        f"  deltasparse-prepare-ucf101 --source {source_dir} "
        f"--lists {lists_dir} --output {output_dir} --split {split}\n"
        "(or `python -m deltasparse.data.datasets.ucf101_prepare ...`). For a small "
        "dataset that needs no download, use "
        "`deltasparse.data.datasets.synthetic_actions.ensure_synthetic_ucf()`."
    )


# --------------------------------------------------------------------------
# Split lists
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SplitEntry:
    """One line of an official `trainlist0N.txt` / `testlist0N.txt`.

    Attributes:
        class_name: str, the folder name, e.g. `"ApplyEyeMakeup"`.
        filename: str, the video file name, e.g. `"v_ApplyEyeMakeup_g08_c01.avi"`.
        label: int or None, the 1-based `classInd.txt` label (train lists
            only; test lists carry none).
    """

    class_name: str
    filename: str
    label: int = None

    @property
    def relpath(self):
        """`"<Class>/<file>"`, the path relative to `UCF-101/`."""
        return f"{self.class_name}/{self.filename}"


def _read_lines(path, what):
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"`{what}` file not found; expected an official UCF101 list "
            f"from the ucfTrainTestlist zip.\n"
            f"{download_instructions()}\nReceived: {what}={path!r}"
        )
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8-sig", errors="replace")
    # splitlines() accepts \n, \r\n and \r: the official files mix them.
    return [line.strip() for line in text.splitlines()]


def read_class_index(path):
    """Reads `classInd.txt` ("<index> <ClassName>" lines, 1-based).

    Line endings may be LF or CRLF; blank lines are ignored.

    Args:
        path: str, path to `classInd.txt`.

    Returns:
        List of class names in `classInd` numbering order: element `i` has
        label `i + 1`.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if a line is malformed or labels are not 1..N.

    Example:
    >>> names = read_class_index("ucfTrainTestlist/classInd.txt")  # doctest: +SKIP
    >>> names[:2]  # doctest: +SKIP
    ['ApplyEyeMakeup', 'ApplyLipstick']
    """
    by_label = {}
    for lineno, line in enumerate(_read_lines(path, "classInd"), 1):
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(
                f"`classInd` line {lineno} must read '<index> <ClassName>'. "
                f"Received: line={line!r} in {path!r}"
            )
        label = int(parts[0])
        if label in by_label:
            raise ValueError(
                f"`classInd` repeats label {label} (line {lineno}). "
                f"Received: path={path!r}"
            )
        by_label[label] = parts[1]
    if sorted(by_label) != list(range(1, len(by_label) + 1)):
        raise ValueError(
            "`classInd` labels must be exactly 1..N. "
            f"Received: labels={sorted(by_label)} in {path!r}"
        )
    names = [by_label[i] for i in range(1, len(by_label) + 1)]
    if len(set(names)) != len(names):
        raise ValueError(
            f"`classInd` repeats a class name. Received: path={path!r}"
        )
    return names


def sorted_class_names(class_names):
    """Returns the class names in the order the models index them.

    That is Python's case-sensitive `sorted`, as in the original generators
    and Keras' `flow_from_directory`. For UCF101 it differs from the
    `classInd.txt` numbering in two swaps: `HammerThrow` < `Hammering` and
    `JumpRope` < `JumpingJack` (uppercase sorts before lowercase).

    Args:
        class_names: iterable of str.

    Returns:
        A new sorted list.

    Example:
    >>> sorted_class_names(["Hammering", "HammerThrow", "JumpingJack", "JumpRope"])
    ['HammerThrow', 'Hammering', 'JumpRope', 'JumpingJack']
    """
    return sorted(class_names)


def read_split_list(path):
    """Reads an official `trainlist0N.txt` or `testlist0N.txt`.

    Train lines read `"Class/v_Class_gXX_cYY.avi <label>"`, test lines
    `"Class/v_Class_gXX_cYY.avi"`. CRLF/LF endings and blank lines are
    accepted; so are backslashes as separators.

    Args:
        path: str, path to the list file.

    Returns:
        List of `SplitEntry`, in file order.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if a line is not `Class/file [label]`.

    Example:
    >>> entries = read_split_list("ucfTrainTestlist/testlist01.txt")  # doctest: +SKIP
    >>> entries[0].relpath  # doctest: +SKIP
    'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi'
    """
    entries = []
    for lineno, line in enumerate(_read_lines(path, "split_list"), 1):
        if not line:
            continue
        parts = line.split()
        rel = parts[0].replace("\\", "/")
        pieces = rel.split("/")
        bad_label = len(parts) == 2 and not parts[1].isdigit()
        if len(parts) > 2 or len(pieces) != 2 or not all(pieces) or bad_label:
            raise ValueError(
                f"Split list line {lineno} must read 'Class/video.avi' or "
                f"'Class/video.avi <label>'. Received: line={line!r} in "
                f"{path!r}"
            )
        label = int(parts[1]) if len(parts) == 2 else None
        entries.append(SplitEntry(pieces[0], pieces[1], label))
    return entries


def find_split_lists(lists_dir, split=1):
    """Finds `classInd.txt`, `trainlist0N.txt` and `testlist0N.txt`.

    Accepts the official names and the original repo's `UCF_` prefixed
    copies (`UCF_classInd.txt`, `UCF_trainlist01.txt`, ...).

    Args:
        lists_dir: str, the unpacked `ucfTrainTestlist/` folder.
        split: int, 1, 2 or 3.

    Returns:
        Tuple `(class_index_path, train_list_path, test_list_path)`.

    Raises:
        FileNotFoundError: if a list is missing (the message says what to
            download).
        ValueError: if `split` is not 1, 2 or 3.

    Example:
    >>> find_split_lists("ucfTrainTestlist", 1)  # doctest: +SKIP
    ('ucfTrainTestlist/classInd.txt', ..., 'ucfTrainTestlist/testlist01.txt')
    """
    split = _check_split(split)
    found = []
    for stem in ("classInd", f"trainlist0{split}", f"testlist0{split}"):
        candidates = [
            os.path.join(lists_dir, f"{p}{stem}.txt") for p in _LIST_PREFIXES
        ]
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None:
            raise FileNotFoundError(
                f"`lists_dir` must contain {stem}.txt (the official UCF101 "
                f"split lists).\n{download_instructions(lists_dir=lists_dir, split=split)}\n"
                f"Received: lists_dir={lists_dir!r}"
            )
        found.append(path)
    return tuple(found)


def _check_split(split):
    if isinstance(split, str) and split.isdigit():
        split = int(split)
    if isinstance(split, bool) or split not in (1, 2, 3):
        raise ValueError(
            f"`split` must be 1, 2 or 3 (the official UCF101 splits). "
            f"Received: split={split!r}"
        )
    return int(split)


def _looks_like_class_root(path):
    """True if `path` has sub-folders holding video files."""
    try:
        with os.scandir(path) as it:
            subdirs = [e.path for e in it if e.is_dir()]
    except OSError:
        return False
    for sub in subdirs[:5]:
        try:
            names = os.listdir(sub)
        except OSError:
            continue
        if any(n.lower().endswith(VIDEO_EXTENSIONS) for n in names):
            return True
    return False


def resolve_source_dir(source_dir):
    """Finds the folder whose sub-folders are the class folders.

    Accepts `UCF-101/` itself or a folder containing `UCF-101/`.

    Args:
        source_dir: str.

    Returns:
        str, the path of the `UCF-101`-like folder.

    Raises:
        FileNotFoundError: if no class folders with videos are found.

    Example:
    >>> resolve_source_dir("/data")  # doctest: +SKIP
    '/data/UCF-101'
    """
    for candidate in (source_dir, os.path.join(source_dir, "UCF-101")):
        if os.path.isdir(candidate) and _looks_like_class_root(candidate):
            return candidate
    raise FileNotFoundError(
        "`source_dir` must be the unpacked UCF101 video folder "
        "(`UCF-101/<Class>/*.avi`) or a folder containing `UCF-101/`.\n"
        f"{download_instructions(source_dir=source_dir)}\n"
        f"Received: source_dir={source_dir!r}"
    )


def _resolve_lists_dir(lists_dir, source_dir):
    if lists_dir is not None:
        return lists_dir
    parent = os.path.dirname(os.path.abspath(source_dir))
    for candidate in (
        os.path.join(source_dir, "ucfTrainTestlist"),
        os.path.join(parent, "ucfTrainTestlist"),
        source_dir,
        parent,
    ):
        if os.path.isfile(os.path.join(candidate, "classInd.txt")):
            return candidate
    raise FileNotFoundError(
        "`lists_dir` was not given and no `ucfTrainTestlist/classInd.txt` "
        "was found next to the videos.\n"
        f"{download_instructions(source_dir=source_dir)}\n"
        f"Received: lists_dir=None, source_dir={source_dir!r}"
    )


# --------------------------------------------------------------------------
# Atomic file helpers (used by the worker processes too)
# --------------------------------------------------------------------------


def _tmp_name(path):
    d, name = os.path.split(path)
    return os.path.join(d, f".{name}.{os.getpid()}.tmp")


def atomic_write_bytes(path, data):
    """Writes `data` to `path` via a temporary file and a rename."""
    tmp = _tmp_name(path)
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def atomic_write_text(path, text):
    """Writes `text` (UTF-8) to `path` via a temporary file and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    """Writes `obj` as JSON to `path` via a temporary file and a rename."""
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def frame_path(frames_dir, video_filename, k):
    """Path of frame `k` (0-based) of a video in an extracted-frames folder.

    Follows the original naming `<video file name>_<k>.jpg`, e.g.
    `v_ApplyEyeMakeup_g08_c01.avi_0.jpg`.
    """
    return os.path.join(frames_dir, f"{video_filename}_{k}.jpg")


def _remove_frames(frames_dir, video_filename):
    pattern = os.path.join(glob.escape(frames_dir),
                           glob.escape(video_filename) + "_*.jpg")
    prefix = video_filename + "_"
    for p in glob.glob(pattern):
        suffix = os.path.basename(p)[len(prefix):-4]
        if suffix.isdigit():
            os.remove(p)


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _place_video(src, dst, link):
    """Hard-links, symlinks or copies `src` to `dst` atomically."""
    tmp = _tmp_name(dst)
    _remove_quietly(tmp)
    if link == "hardlink":
        try:
            os.link(src, tmp)
        except OSError:  # other file system, or links not supported
            shutil.copyfile(src, tmp)
    elif link == "symlink":
        os.symlink(os.path.abspath(src), tmp)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


class PreparationLockedError(RuntimeError):
    """Another preparation (or its workers) is writing to the same folder."""


def check_output_dir(path, name="output_dir"):
    """Creates the folder `path` if needed and checks that it is writable.

    Args:
        path: str.
        name: str, the argument name used in the error message.

    Returns:
        str, `path`.

    Raises:
        ValueError: if `path` is a file, cannot be created, or cannot be
            written to; one line naming the argument and the path.

    Example:
    >>> check_output_dir(tempfile.mkdtemp()) != ""
    True
    """
    expected = (f"`{name}` must be a folder that can be created and written "
                "to")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{expected}; it is a file. Received: {name}={path!r}")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(
            f"{expected}; {e.strerror or e}"
            f"{f' ({e.filename})' if e.filename else ''}. "
            f"Received: {name}={path!r}") from None
    return path


LOCK_NAME = ".prepare.lock"
WORKERS_LOCK_NAME = ".prepare.workers.lock"
#: Seconds a new run waits for the workers of a killed run to exit.
SURVIVOR_WAIT_S = 30.0


def _read_lock_pid(fd):
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "?"
    return text or "?"


@contextlib.contextmanager
def preparation_lock(root):
    """Holds the exclusive lock of a split folder while a preparation runs.

    `<root>/.prepare.lock` is locked with `fcntl.flock` (released by the
    kernel when the process dies, even by SIGKILL). Then the new run waits
    (up to `SURVIVOR_WAIT_S`) until no worker of an earlier run holds
    `<root>/.prepare.workers.lock` (workers hold it shared while they work,
    and die with their parent, so this only waits for a moment).

    Args:
        root: str, an existing split folder.

    Yields:
        None.

    Raises:
        PreparationLockedError: if another preparation is running on `root`,
            or workers of a killed one keep writing.

    Example:
    >>> with preparation_lock(tempfile.mkdtemp()):
    ...     pass
    """
    fd = os.open(os.path.join(root, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PreparationLockedError(
                f"another preparation (pid {_read_lock_pid(fd)}) is writing "
                f"to {root!r}; wait for it to finish (or stop it), then run "
                "the same command again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _wait_for_old_workers(os.path.join(root, WORKERS_LOCK_NAME), root)
        yield
    finally:
        os.close(fd)


def _wait_for_old_workers(path, root):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + SURVIVOR_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PreparationLockedError(
                        "worker processes of an earlier preparation are "
                        f"still writing to {root!r}; stop them, then run the "
                        "same command again") from None
                time.sleep(0.1)
    finally:
        os.close(fd)  # unlocks


_PARENT_PID = None
_WORKER_LOCK_FD = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """Linux: the kernel sends SIGKILL to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the getppid check remains
        pass


def _init_worker(parent_pid, workers_lock):
    """Pool initializer: die with the parent, hold the workers' lock."""
    global _PARENT_PID, _WORKER_LOCK_FD
    _PARENT_PID = parent_pid
    _die_with_parent()
    _exit_if_orphaned()  # the parent may have died before prctl
    _WORKER_LOCK_FD = os.open(workers_lock, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(_WORKER_LOCK_FD, fcntl.LOCK_SH)


def _exit_if_orphaned():
    """Fallback of `_die_with_parent`: stop at once when the parent is gone."""
    if _PARENT_PID is not None and os.getppid() != _PARENT_PID:
        os._exit(1)


# --------------------------------------------------------------------------
# Per-video work (runs in worker processes)
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _VideoTask:
    subset: str
    relpath: str
    src: str
    video_out: str
    frames_dir: str
    marker: str
    link: str
    extract_frames: bool
    jpeg_quality: int
    retry_corrupt: bool


def _is_complete(task, marker, src_size):
    if marker is None or marker.get("format") != MARKER_FORMAT:
        return False
    if marker.get("source_size") != src_size:
        return False
    if marker.get("status") == "corrupt":
        return not task.retry_corrupt
    if marker.get("status") != "ok" or not os.path.lexists(task.video_out):
        return False
    if task.extract_frames:
        n = marker.get("frames", 0)
        name = os.path.basename(task.relpath)
        if not marker.get("frames_extracted") or n <= 0:
            return False
        return os.path.exists(frame_path(task.frames_dir, name, 0)) and (
            os.path.exists(frame_path(task.frames_dir, name, n - 1))
        )
    return True


def _process_video(task):
    """Prepares one video. Returns a result dict (never raises for bad data)."""
    cv2.setNumThreads(1)
    _exit_if_orphaned()
    name = os.path.basename(task.relpath)
    result = {"subset": task.subset, "relpath": task.relpath}
    try:
        src_size = os.path.getsize(task.src)
    except OSError:
        return {**result, "status": "corrupt", "frames": 0,
                "reason": "missing from the source folder"}
    marker = _read_json(task.marker)
    if _is_complete(task, marker, src_size):
        status = marker["status"]
        return {**result, "status": "skipped_" + status,
                "frames": marker.get("frames", 0),
                "reason": marker.get("reason", "")}

    # Anything left from an interrupted or older run is redone from scratch.
    # Frames are written in order, so if frame 0 is absent there are none
    # (this avoids listing big class folders once per video).
    _remove_quietly(task.marker)
    if os.path.exists(frame_path(task.frames_dir, name, 0)):
        _remove_frames(task.frames_dir, name)
    if os.path.lexists(task.video_out):
        os.remove(task.video_out)

    n, height, width, reason = 0, 0, 0, ""
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(task.jpeg_quality)]
    # Only decoding problems mark a video corrupt; write errors (a full
    # disk, permissions) propagate and stop the run.
    cap = cv2.VideoCapture(task.src)
    try:
        if not cap.isOpened():
            reason = "OpenCV cannot open the file"
        while not reason:
            try:
                ok, frame = cap.read()
            except cv2.error as e:  # corrupt streams can make OpenCV raise
                reason = f"decoding failed after {n} frames: {e}"
                break
            if not ok or frame is None:
                break
            _exit_if_orphaned()
            if n == 0:
                height, width = frame.shape[:2]
            if task.extract_frames:
                ok, buf = cv2.imencode(".jpg", frame, params)
                if not ok:
                    raise RuntimeError(
                        f"JPEG encoding failed at frame {n} of {task.src!r}")
                atomic_write_bytes(
                    frame_path(task.frames_dir, name, n), buf.tobytes())
            n += 1
        if not reason and n == 0:
            reason = "no decodable frame"
    finally:
        cap.release()

    if reason:
        _remove_frames(task.frames_dir, name)
        atomic_write_json(task.marker, {
            "format": MARKER_FORMAT, "status": "corrupt", "reason": reason,
            "frames": 0, "source_size": src_size})
        return {**result, "status": "corrupt", "frames": 0, "reason": reason}

    _place_video(task.src, task.video_out, task.link)
    atomic_write_json(task.marker, {
        "format": MARKER_FORMAT, "status": "ok", "frames": n,
        "height": int(height), "width": int(width),
        "frames_extracted": bool(task.extract_frames),
        "source_size": src_size})
    return {**result, "status": "ok", "frames": n, "reason": ""}


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


@dataclasses.dataclass
class PreparationResult:
    """What `prepare_ucf101` did.

    Attributes:
        root: str, the prepared split folder `<output_dir>/split<N>`.
        classes: list of str, class names in sorted (model) order.
        prepared: dict subset -> number of videos processed in this run.
        skipped: dict subset -> number of videos already complete.
        corrupt: list of `(subset, "Class/video.avi", reason)` for the
            videos that could not be read (also in `corrupt_videos.txt`).
        frames: dict subset -> dict `"Class/video.avi"` -> frame count.
    """

    root: str
    classes: list
    prepared: dict
    skipped: dict
    corrupt: list
    frames: dict

    def __fspath__(self):
        return self.root


def index_path(split_root, subset):
    """Path of the `<subset>_index.json` written by `prepare_ucf101`."""
    return os.path.join(split_root, f"{subset}_index.json")


def read_index(split_root, subset):
    """Reads `<split_root>/<subset>_index.json` if present.

    Args:
        split_root: str, a folder prepared by `prepare_ucf101`.
        subset: str, `"train"` or `"test"`.

    Returns:
        The index dict (`classes`, `videos` = {"Class/v.avi": frames},
        `frames_extracted`, ...) or None if there is no index.

    Example:
    >>> index = read_index("ucf101/split1", "test")  # doctest: +SKIP
    >>> index["videos"]["Fencing/v_Fencing_g01_c01.avi"]  # doctest: +SKIP
    112
    """
    data = _read_json(index_path(split_root, subset))
    if data is None or data.get("format") != INDEX_FORMAT:
        return None
    return data


def _check_link(link):
    if link not in ("hardlink", "symlink", "copy"):
        raise ValueError(
            "`link` must be 'hardlink', 'symlink' or 'copy'. "
            f"Received: link={link!r}"
        )


def _check_workers(workers):
    if workers is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(
            "`workers` must be None or an int >= 0 (0 or 1 runs in this "
            f"process). Received: workers={workers!r}"
        )
    return max(1, workers)


def _run_tasks(tasks, workers, progress, desc, root):
    bar = tqdm.tqdm(total=len(tasks), desc=desc, unit="video",
                    disable=not progress, dynamic_ncols=True)
    results = []
    try:
        if workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                results.append(_process_video(task))
                bar.update()
        else:
            # "spawn": forked children of a process that already runs
            # TensorFlow or OpenCV thread pools can deadlock.
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=ctx,
                initializer=_init_worker,
                initargs=(os.getpid(), os.path.join(root, WORKERS_LOCK_NAME)),
            ) as pool:
                futures = [pool.submit(_process_video, t) for t in tasks]
                try:
                    for fut in concurrent.futures.as_completed(futures):
                        results.append(fut.result())
                        bar.update()
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        bar.close()
    return results


def prepare_ucf101(source_dir, lists_dir=None, output_dir="ucf101_prepared",
                   split=1, extract_frames=True, workers=None, link="hardlink",
                   jpeg_quality=95, subsets=SUBSETS, retry_corrupt=False,
                   progress=True):
    """Builds the train/test layout of an official UCF101 split.

    For every video of `trainlist0N.txt` / `testlist0N.txt` it places the
    video under `<output_dir>/split<N>/<subset>/<Class>/` (hard link, falling
    back to a copy across file systems) and, with `extract_frames`, writes
    every frame at native resolution as
    `<output_dir>/split<N>/<subset>_frames/<Class>/<video>.avi_<k>.jpg`
    (k from 0, OpenCV JPEG, quality 95 = OpenCV's default, like the
    original `split.py`).

    The run is resumable: each file is written under a temporary name and
    renamed, and a per-video marker is written last, so a video whose
    marker is present and whose outputs exist is skipped; anything partial
    is redone. Videos that cannot be opened or decoded are skipped, logged
    and listed in `<output_dir>/split<N>/corrupt_videos.txt` (their marker
    remembers it, so a rerun does not retry them unless `retry_corrupt`).
    At the end `<subset>_index.json` records the sorted class names and the
    decoded frame count of every video (used by the video clip source, since
    container headers can be wrong).

    Differences from the original `split.py`: the split is selectable (not
    only split 1), work is parallel and resumable, corrupt videos do not
    abort the run, and videos are linked instead of copied. The layout is
    `split<N>/{train,test}[_frames]` instead of `UCF_train`, `UCF_test`.

    Args:
        source_dir: str, the unpacked `UCF-101/` folder (or its parent).
        lists_dir: str or None, the unpacked `ucfTrainTestlist/` folder.
            None looks for `ucfTrainTestlist/` inside or next to
            `source_dir`.
        output_dir: str, where `split<N>/` is created.
        split: int, official split 1, 2 or 3. Defaults to `1`.
        extract_frames: bool, also write every frame as JPEG. Defaults to
            `True`.
        workers: int or None, worker processes; 0 or 1 works in this
            process; None uses up to 8 (the CPU count). Defaults to `None`.
        link: str, `"hardlink"`, `"symlink"` or `"copy"`. Defaults to
            `"hardlink"`.
        jpeg_quality: int in [1, 100]. Defaults to `95`.
        subsets: tuple of `"train"` / `"test"`. Defaults to both.
        retry_corrupt: bool, try again videos an earlier run found corrupt.
            Defaults to `False`.
        progress: bool, show a tqdm progress bar. Defaults to `True`.

    Returns:
        A `PreparationResult` (`result.root` is the split folder; the
        object is also path-like).

    Raises:
        FileNotFoundError: if the videos or the split lists are missing; the
            message says what to download and which command to run.
        ValueError: for invalid arguments, a list naming a class that
            `classInd.txt` lacks, or an `output_dir` that is a file or
            cannot be written to.
        PreparationLockedError: if another preparation is writing to the
            same split folder (a lock file; workers of a killed run, which
            die with it, are waited for a moment).

    Example:
    >>> res = prepare_ucf101("/data/UCF-101", "/data/ucfTrainTestlist",
    ...                      "/data/ucf101", split=1, workers=8)  # doctest: +SKIP
    >>> res.root  # doctest: +SKIP
    '/data/ucf101/split1'
    """
    split = _check_split(split)
    _check_link(link)
    workers = _check_workers(workers)
    if (isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, int)
            or not 1 <= jpeg_quality <= 100):
        raise ValueError(
            "`jpeg_quality` must be an int in [1, 100]. "
            f"Received: jpeg_quality={jpeg_quality!r}"
        )
    if isinstance(subsets, str):
        subsets = (subsets,)
    subsets = tuple(subsets)
    if not subsets or any(s not in SUBSETS for s in subsets):
        raise ValueError(
            "`subsets` must be a non-empty sequence of 'train' and/or 'test'. "
            f"Received: subsets={subsets!r}"
        )
    if not os.path.isdir(source_dir):
        raise FileNotFoundError(
            "`source_dir` does not exist.\n"
            f"{download_instructions(source_dir=source_dir, output_dir=output_dir, split=split)}\n"
            f"Received: source_dir={source_dir!r}"
        )
    source = resolve_source_dir(source_dir)
    lists_dir = _resolve_lists_dir(lists_dir, source)
    class_file, train_file, test_file = find_split_lists(lists_dir, split)
    class_names = read_class_index(class_file)
    classes = sorted_class_names(class_names)
    known = set(class_names)
    list_files = {"train": train_file, "test": test_file}

    root = os.path.join(output_dir, f"split{split}")
    entries = {}
    for subset in subsets:
        entries[subset] = read_split_list(list_files[subset])
        unknown = sorted({e.class_name for e in entries[subset]} - known)
        if unknown:
            raise ValueError(
                f"The {subset} list names classes missing from classInd.txt. "
                f"Received: classes={unknown[:5]} in {list_files[subset]!r}"
            )

    check_output_dir(output_dir)
    check_output_dir(root, "output_dir")
    with preparation_lock(root):
        return _prepare_locked(root, split, source, classes, entries,
                               extract_frames, workers, link, jpeg_quality,
                               retry_corrupt, progress)


def _prepare_locked(root, split, source, classes, entries, extract_frames,
                    workers, link, jpeg_quality, retry_corrupt, progress):
    """The body of `prepare_ucf101`, run while holding the folder lock."""
    subsets = tuple(entries)
    for subset in subsets:
        for folder in (subset, f"{subset}_frames", f".markers/{subset}"):
            if folder.endswith("_frames") and not extract_frames:
                continue
            for c in classes:
                os.makedirs(os.path.join(root, folder, c), exist_ok=True)
    tasks = []
    for subset in subsets:
        for e in entries[subset]:
            tasks.append(_VideoTask(
                subset=subset,
                relpath=e.relpath,
                src=os.path.join(source, e.class_name, e.filename),
                video_out=os.path.join(root, subset, e.class_name, e.filename),
                frames_dir=os.path.join(root, f"{subset}_frames", e.class_name),
                marker=os.path.join(root, ".markers", subset, e.class_name,
                                    e.filename + ".json"),
                link=link,
                extract_frames=bool(extract_frames),
                jpeg_quality=jpeg_quality,
                retry_corrupt=bool(retry_corrupt),
            ))

    results = []
    try:
        results = _run_tasks(tasks, workers, progress,
                             desc=f"UCF101 split{split}", root=root)
    finally:
        # Even after an interruption, record what is known so far.
        _write_corrupt_list(root, results)
    corrupt = sorted(
        (r["subset"], r["relpath"], r["reason"]) for r in results
        if r["status"] in ("corrupt", "skipped_corrupt")
    )
    for subset, rel, reason in corrupt:
        logger.warning("Skipped unreadable UCF101 video %s/%s: %s",
                       subset, rel, reason)
    frames = {s: {} for s in subsets}
    prepared = {s: 0 for s in subsets}
    skipped = {s: 0 for s in subsets}
    for r in results:
        if r["status"] == "ok":
            prepared[r["subset"]] += 1
        elif r["status"].startswith("skipped"):
            skipped[r["subset"]] += 1
        if r["status"] in ("ok", "skipped_ok"):
            frames[r["subset"]][r["relpath"]] = r["frames"]
    for subset in subsets:
        atomic_write_json(index_path(root, subset), {
            "format": INDEX_FORMAT,
            "split": split,
            "subset": subset,
            "classes": classes,
            "frames_extracted": bool(extract_frames),
            "videos": dict(sorted(frames[subset].items())),
        })
    return PreparationResult(root=root, classes=classes, prepared=prepared,
                             skipped=skipped, corrupt=corrupt, frames=frames)


def _write_corrupt_list(root, results):
    if not os.path.isdir(root):
        return
    path = os.path.join(root, "corrupt_videos.txt")
    previous = []
    if os.path.isfile(path):  # keep entries of subsets not in this run
        with open(path, encoding="utf-8") as f:
            previous = [ln.rstrip("\n").split("\t") for ln in f
                        if ln.strip() and not ln.startswith("#")]
    seen = {r["subset"] for r in results}
    rows = {(p[0], p[1]): p[2] if len(p) > 2 else ""
            for p in previous if len(p) >= 2 and p[0] not in seen}
    for r in results:
        if r["status"] in ("corrupt", "skipped_corrupt"):
            rows[(r["subset"], r["relpath"])] = r["reason"]
    lines = ["# subset\tClass/video\treason (skipped by prepare_ucf101)"]
    lines += [f"{s}\t{rel}\t{why}" for (s, rel), why in sorted(rows.items())]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_corrupt_list(split_root):
    """Reads `corrupt_videos.txt` of a prepared split.

    Args:
        split_root: str, a folder prepared by `prepare_ucf101`.

    Returns:
        List of `(subset, "Class/video.avi", reason)`; empty if none.

    Example:
    >>> read_corrupt_list("ucf101/split1")  # doctest: +SKIP
    []
    """
    path = os.path.join(split_root, "corrupt_videos.txt")
    if not os.path.isfile(path):
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for ln in f:
            if ln.strip() and not ln.startswith("#"):
                parts = ln.rstrip("\n").split("\t")
                rows.append((parts[0], parts[1],
                             parts[2] if len(parts) > 2 else ""))
    return rows


__all__ = [
    "PreparationLockedError",
    "PreparationResult",
    "check_output_dir",
    "SplitEntry",
    "download_instructions",
    "find_split_lists",
    "frame_path",
    "preparation_lock",
    "prepare_ucf101",
    "read_class_index",
    "read_corrupt_list",
    "read_index",
    "read_split_list",
    "resolve_source_dir",
    "sorted_class_names",
]
