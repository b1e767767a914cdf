"""Clip indexing and folder scanning (pure NumPy and OpenCV, no TensorFlow).

A prepared split (`deltasparse.data.datasets.ucf101.prepare_ucf101`) holds
`<split>/<subset>/<Class>/<video>.avi` and
`<split>/<subset>_frames/<Class>/<video>.avi_<k>.jpg`. `index_clips` scans
it once into a `ClipIndex` (one row per clip: file, first frame, label);
`clip_frame_indices` / `num_clips` give the sliding-window arithmetic of
the original `SlidingFrameGenerator` (spec §6.3), with its off-by-one
fixed. Classes are indexed by their Python-sorted names (spec §10 item 14).
"""

import concurrent.futures
import dataclasses
import math
import os
import warnings

import cv2
import numpy as np
import tqdm

from deltasparse.data.datasets import ucf101
from deltasparse.data.video.video_list import VideoList

#: Where clips are read from: extracted JPEG frames or the video files.
SOURCES = ("frames", "video")


# --------------------------------------------------------------------------
# Clip indexing (pure NumPy)
# --------------------------------------------------------------------------


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
            value < 1):
        raise ValueError(
            f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    return int(value)


def _check_stride(sequence_stride):
    if isinstance(sequence_stride, bool) or not isinstance(
            sequence_stride, (int, float, np.integer, np.floating)) or not (
            math.isfinite(sequence_stride) and sequence_stride > 0):
        raise ValueError(
            "`sequence_stride` must be a number > 0 (e.g. 1, 1.0 or 16). "
            f"Received: sequence_stride={sequence_stride!r}")
    return float(sequence_stride)


def num_clips(num_frames, clip_length, frame_stride=1, sequence_stride=1):
    """Number of clips `clip_frame_indices` gives for one video.

    Args:
        num_frames: int, frames in the video.
        clip_length: int, frames per clip (T).
        frame_stride: int, step between the frames of a clip.
        sequence_stride: number > 0, step between clip starts.

    Returns:
        int, `floor((F - 1 - (T - 1) * frame_stride) / s) + 1`, or 0 if the
        video is shorter than one clip span.

    Example:
    >>> num_clips(10, 2, 1, 1)
    9
    """
    return len(_clip_starts(int(num_frames), check_positive_int(
        "clip_length", clip_length), check_positive_int(
        "frame_stride", frame_stride), _check_stride(sequence_stride)))


def _clip_starts(num_frames, clip_length, frame_stride, sequence_stride):
    last = num_frames - 1 - (clip_length - 1) * frame_stride  # max start
    if last < 0:
        return np.zeros((0,), np.int64)
    m = np.arange(int(last / sequence_stride) + 2, dtype=np.float64)
    starts = m * sequence_stride
    starts = starts[starts + (clip_length - 1) * frame_stride < num_frames]
    return np.floor(starts).astype(np.int64)


def clip_frame_indices(num_frames, clip_length, frame_stride=1,
                       sequence_stride=1):
    """0-based frame indices of every sliding-window clip of one video.

    Clip starts are `i = 0, s, 2s, ...` (`s = sequence_stride`, a float is
    fine; non-integer starts are floored) for as long as the clip's last
    frame exists, i.e. `i + (clip_length - 1) * frame_stride < num_frames`;
    clip `i` holds frames `i, i + frame_stride, ..., i + (clip_length - 1) *
    frame_stride`.

    Difference from the original `SlidingFrameGenerator` (spec §6.3, §10
    item 4), which is fixed here: the original matched frames with a 1-based
    decoding counter against these 0-based indices. So every clip with
    `i >= 1` was shifted one frame earlier (frames `i-1, ..., i+clip_length-2`), and
    the first clip of every video (`i = 0`) never found frame "0" and fell
    back to the base class's uniform sampler (for T = 2: first and last
    frame of the video). Its bound `i <= F - clip_length * frame_stride` is
    also stricter than needed when `frame_stride > 1` (it drops the last
    `frame_stride - 1` possible starts). For `frame_stride = 1` both give
    `floor((F - clip_length) / s) + 1` clips per video.

    Args:
        num_frames: int >= 0, frames in the video (F).
        clip_length: int >= 1, frames per clip (T).
        frame_stride: int >= 1, step between frames of a clip. Defaults to 1.
        sequence_stride: number > 0, step between clip starts. Defaults
            to 1.

    Returns:
        int64 array of shape `(num_clips, clip_length)`.

    Example:
    >>> clip_frame_indices(6, 2, 1, 2).tolist()
    [[0, 1], [2, 3], [4, 5]]
    >>> clip_frame_indices(7, 3, 2, 1).tolist()
    [[0, 2, 4], [1, 3, 5], [2, 4, 6]]
    """
    clip_length = check_positive_int("clip_length", clip_length)
    frame_stride = check_positive_int("frame_stride", frame_stride)
    sequence_stride = _check_stride(sequence_stride)
    if isinstance(num_frames, bool) or int(num_frames) != num_frames or (
            num_frames < 0):
        raise ValueError(
            f"`num_frames` must be an int >= 0. Received: num_frames={num_frames!r}")
    starts = _clip_starts(int(num_frames), clip_length, frame_stride,
                          sequence_stride)
    return starts[:, None] + np.arange(clip_length, dtype=np.int64) * frame_stride


# --------------------------------------------------------------------------
# Folder scanning
# --------------------------------------------------------------------------


@dataclasses.dataclass
class ClipIndex:
    """Every clip of a folder tree, as flat arrays.

    Attributes:
        video_dir: str, `<split>/<subset>` (videos).
        frames_dir: str, `<split>/<subset>_frames` (JPEG frames).
        source: str, `"frames"` or `"video"`.
        class_names: list of str, sorted; label `j` is `class_names[j]`.
        videos: list of str, `"Class/video.avi"` per video (sorted).
        video_labels: int32 array `(V,)`.
        video_frames: int64 array `(V,)`, frames per video.
        clip_video: int32 array `(N,)`, the video of every clip.
        clip_start: int64 array `(N,)`, the first frame of every clip.
        clip_length, frame_stride, sequence_stride: the window parameters.
        unreadable: list of `("Class/video.avi", reason)`: the videos left
            out because they (or one of their JPEG frames) cannot be read.
        empty_classes: list of str, classes without any clip (only
            non-empty with `allow_empty_classes=True`).
    """

    video_dir: str
    frames_dir: str
    source: str
    class_names: list
    videos: list
    video_labels: np.ndarray
    video_frames: np.ndarray
    clip_video: np.ndarray
    clip_start: np.ndarray
    clip_length: int
    frame_stride: int
    sequence_stride: float
    unreadable: list = dataclasses.field(default_factory=list)
    empty_classes: list = dataclasses.field(default_factory=list)

    def __len__(self):
        return int(self.clip_video.shape[0])

    @property
    def num_classes(self):
        return len(self.class_names)

    def clip_frames(self, i):
        """0-based frame indices of clip `i`."""
        return self.clip_start[i] + np.arange(
            self.clip_length, dtype=np.int64) * self.frame_stride

    def clip_label(self, i):
        """Integer label of clip `i`."""
        return int(self.video_labels[self.clip_video[i]])

    def clip_video_path(self, i):
        """Video file path of clip `i`."""
        return os.path.join(self.video_dir, self.videos[self.clip_video[i]])

    def clip_frame_paths(self, i):
        """JPEG paths of the frames of clip `i` (`source="frames"` layout)."""
        rel = self.videos[self.clip_video[i]]
        return [os.path.join(self.frames_dir, f"{rel}_{k}.jpg")
                for k in self.clip_frames(i)]

    def video_list(self):
        """The readable videos of the folder as a `VideoList`.

        Every readable video is listed, also those shorter than one clip
        (they give no sliding-window clip, but a multi-view test set loops
        them). With `source="frames"` the paths are the frame prefixes
        `<frames_dir>/<Class>/<video>.avi` read through the frame template
        `"{path}_{index}.jpg"` (frames numbered from 0); with
        `source="video"` they are the video files. `video_ids` are
        `"Class/video.avi"`, labels single, and the unreadable videos are
        copied.

        Returns:
            A `deltasparse.data.video.VideoList`.

        Example:
        >>> videos = index_clips("ucf101/split1/test", 16).video_list()  # doctest: +SKIP
        >>> videos.video_ids[0], videos.frame_template  # doctest: +SKIP
        ('ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi', '{path}_{index}.jpg')
        """
        frames = self.source == "frames"
        folder = self.frames_dir if frames else self.video_dir
        split, subset = os.path.split(os.path.normpath(self.video_dir))
        return VideoList(
            paths=[os.path.join(folder, rel) for rel in self.videos],
            num_frames=self.video_frames,
            labels=[(int(j),) for j in self.video_labels],
            class_names=list(self.class_names), video_ids=list(self.videos),
            frame_template="{path}_{index}.jpg" if frames else None,
            frame_offset=0, multilabel=False,
            name=f"{os.path.basename(split)}/{subset}",
            unreadable=list(self.unreadable))


def _not_found(what, path):
    return FileNotFoundError(
        f"`root` must be a prepared UCF101-style folder: {what} not found. "
        "Prepare UCF101 with `deltasparse-prepare-ucf101` "
        "(deltasparse.data.datasets.ucf101.prepare_ucf101), or get the small "
        "built-in dataset with "
        "`deltasparse.data.datasets.synthetic_actions.ensure_synthetic_ucf()`, and "
        "pass `<split root>/train` (or the split root with `subset='train'`)"
        f".\n{ucf101.download_instructions()}\nReceived: root={path!r}"
    )


def _resolve_dirs(root, subset):
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(
            f"`root` must be a path (str). Received: root={root!r}")
    root = os.fspath(root)
    if subset is not None:
        if not isinstance(subset, str) or not subset:
            raise ValueError(
                "`subset` must be None or a folder name such as 'train'. "
                f"Received: subset={subset!r}")
        root = os.path.join(root, subset)
    root = os.path.normpath(root)
    if root.endswith("_frames"):
        return root[: -len("_frames")], root
    return root, root + "_frames"


def _subdirs(path):
    with os.scandir(path) as it:
        return sorted(e.name for e in it
                      if e.is_dir() and not e.name.startswith("."))


def _resolve_classes(folder, classes):
    found = _subdirs(folder)
    if classes is None:
        if not found:
            raise _not_found("class sub-folders", folder)
        return found
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
        raise ValueError(
            "`classes` must be None or a sequence of class folder names. "
            f"Received: classes={classes!r}")
    classes = list(classes)
    missing = [c for c in classes if c not in found]
    if missing or len(set(classes)) != len(classes) or not classes:
        raise ValueError(
            "`classes` must name distinct existing class folders of "
            f"{folder!r}. Received: classes={classes!r} (missing: {missing})")
    return classes


def _scan_frames(frames_dir, classes):
    """{"Class/video": frame count} from `<video>_<k>.jpg` file names."""
    counts = {}
    for c in classes:
        ks = {}
        with os.scandir(os.path.join(frames_dir, c)) as it:
            for e in it:
                name = e.name
                if name.startswith(".") or not name.endswith(".jpg"):
                    continue
                stem, _, k = name[:-4].rpartition("_")
                if stem and k.isdigit():
                    ks.setdefault(stem, set()).add(int(k))
        for stem, present in ks.items():
            n = 0
            while n in present:  # contiguous frames from 0
                n += 1
            if n:
                counts[f"{c}/{stem}"] = n
    return counts


def _scan_videos(video_dir, classes):
    found = []
    for c in classes:
        with os.scandir(os.path.join(video_dir, c)) as it:
            for e in it:
                if not e.name.startswith(".") and e.name.lower().endswith(
                        ucf101.VIDEO_EXTENSIONS):
                    found.append(f"{c}/{e.name}")
    return found


def _count_decodable(path):
    cap = cv2.VideoCapture(path)
    try:
        n = 0
        while cap.isOpened() and cap.grab():
            n += 1
        return n
    finally:
        cap.release()


#: Frames a header may overstate before a video counts as truncated.
_HEADER_SLACK = 2


def probe_video(path, decode=False):
    """Frame count of a video file and why it cannot be used, if it cannot.

    Reads the header count (`CAP_PROP_FRAME_COUNT`) and checks it cheaply
    by seeking to the last frame and decoding it. When the header gives no
    count, or its last frame cannot be read, the frames are counted by
    decoding the file through. A file that OpenCV cannot open (zero bytes,
    text renamed `.avi`, unknown codec) or that holds fewer decodable frames
    than its header says (a truncated download; more than 2 frames short:
    headers are often off by one or two, and then the decoded count is
    used) gets a reason.

    Args:
        path: str.
        decode: bool, always count by decoding the whole file.

    Returns:
        `(frames, reason)`: int, and `""` when the file is usable, else a
        short explanation (`frames` is then the decodable count, maybe 0).

    Example:
    >>> probe_video("v_Fencing_g01_c01.avi")  # doctest: +SKIP
    (112, '')
    """
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            return 0, ("OpenCV cannot open it (empty, not a video, or an "
                       "unsupported codec)")
        header = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if header > 0 and not decode and cap.set(
                cv2.CAP_PROP_POS_FRAMES, header - 1) and cap.read()[0]:
            return header, ""
    finally:
        cap.release()
    n = _count_decodable(path)
    if n == 0:
        return 0, "no decodable frame"
    if n < header - _HEADER_SLACK:
        return n, (f"truncated: its header says {header} frames, only {n} "
                   "decode")
    return n, ""  # headers can overstate by a frame or two: use the count


def count_video_frames(path, decode=False):
    """Frame count of a video file.

    Args:
        path: str.
        decode: bool, decode the whole file instead of trusting the header
            (`CAP_PROP_FRAME_COUNT`, which can be off by a few frames). The
            file is also decoded-through when the header gives no count or
            its last frame cannot be read (see `probe_video`).

    Returns:
        int, the decodable frames (0 if the file cannot be read).

    Example:
    >>> count_video_frames("v_Fencing_g01_c01.avi")  # doctest: +SKIP
    112
    """
    return probe_video(path, decode)[0]


JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"


def check_jpeg(path, decode=False):
    """Why a JPEG frame file cannot be used, or `""` if it looks fine.

    The cheap check reads 2 bytes at the start and at most 64 at the end:
    the file must be non-empty, start with the JPEG SOI marker and end with
    the EOI marker (trailing zero padding allowed). With `decode`, OpenCV
    also decodes it.

    Args:
        path: str.
        decode: bool, also decode the image with OpenCV.

    Returns:
        str, `""` or the reason.

    Example:
    >>> check_jpeg("/nonexistent.jpg").startswith("cannot open")
    True
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        return f"cannot open ({e.strerror})"
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return "empty file"
        head = os.pread(fd, 2, 0)
        tail = os.pread(fd, min(size, 64), max(0, size - 64))
    finally:
        os.close(fd)
    if head != JPEG_SOI:
        return "not a JPEG (no start-of-image marker)"
    if not tail.rstrip(b"\0").endswith(JPEG_EOI):
        return "truncated JPEG (no end-of-image marker)"
    if decode and cv2.imread(path, cv2.IMREAD_UNCHANGED) is None:
        return "OpenCV cannot decode it"
    return ""


def _frames_problem(frames_dir, rel, frame_ids, decode):
    for k in frame_ids:
        path = os.path.join(frames_dir, f"{rel}_{k}.jpg")
        why = check_jpeg(path, decode)
        if why:
            return f"frame {path!r}: {why}"
    return ""


def _parallel(fn, items, progress, desc):
    """`[fn(*item) for item in items]` on a thread pool, with a bar."""
    if len(items) < 8:
        return [fn(*item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(8, os.cpu_count() or 1)) as pool:
        it = pool.map(lambda item: fn(*item), items)
        return list(tqdm.tqdm(it, total=len(items), desc=desc, unit="video",
                              disable=not progress or len(items) < 200))


def _video_counts(video_dir, videos, index, progress):
    """{"Class/v.avi": (frames, reason)}; prepared (decoded) counts trusted."""
    counts = {}
    todo = []
    for rel in videos:
        if index is not None and rel in index:
            counts[rel] = (int(index[rel]), "")
        else:
            todo.append(rel)
    probed = _parallel(probe_video,
                       [(os.path.join(video_dir, rel),) for rel in todo],
                       progress, "checking videos")
    counts.update(zip(todo, probed))
    return counts


def _list_problems(problems, limit=10):
    shown = "; ".join(f"{rel} ({why})" for rel, why in problems[:limit])
    more = len(problems) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def index_clips(root, clip_length, frame_stride=1, sequence_stride=1,
                source="frames", classes=None, subset=None, progress=True,
                allow_empty_classes=False, verify_frames=False):
    """Lists the clips of a prepared folder (see `clip_frame_indices`).

    Videos are taken in sorted class order, then sorted file order (the
    original used unsorted `glob` order within a class). Frame counts come
    from the `<subset>_index.json` written by `prepare_ucf101` when present
    (decoded counts), else from the JPEG file names (`source="frames"`) or
    the video headers (`source="video"`).

    Bad inputs are found here, before training starts, never mid-epoch:

    - `source="video"`: a file OpenCV cannot open (zero bytes, a text file
      renamed `.avi`) or a truncated one (its header promises more frames
      than decode; checked cheaply by decoding the header's last frame,
      counting only when that fails, see `probe_video`) is skipped and
      listed in `index.unreadable` with the reason, and a warning names it.
    - `source="frames"`: every JPEG a clip uses is checked (non-empty, JPEG
      start and end markers; fully decoded with `verify_frames=True`); a
      video with a missing, empty or corrupt frame is skipped and listed the
      same way, naming the frame file.
    - A video that is readable but shorter than one clip gives no clip (a
      warning says how many).
    - A class left without any clip would keep a label that is never seen:
      that raises a `ValueError` naming the class folder(s), unless
      `allow_empty_classes=True` (then labels still follow the sorted class
      names, the classes are listed in `index.empty_classes` and a warning
      names them).

    Args:
        root: str, `<split root>/<subset>` (or its `_frames` twin), or the
            split root together with `subset`.
        clip_length: int, frames per clip (T).
        frame_stride: int, step between the frames of a clip. Defaults to 1.
        sequence_stride: number, step between clip starts. Defaults to 1.
        source: `"frames"` or `"video"`. Defaults to `"frames"`.
        classes: None (all sub-folders, sorted) or a list of class names
            (used in the given order; other classes are left out).
        subset: None or `"train"` / `"test"`. Defaults to None.
        progress: bool, progress bar when many videos are checked.
        allow_empty_classes: bool, keep classes without any clip instead of
            raising. Defaults to False.
        verify_frames: bool, `source="frames"`: decode every used JPEG with
            OpenCV instead of the cheap marker check. Defaults to False.

    Returns:
        A `ClipIndex`; `len(index)` is the number of clips.

    Raises:
        FileNotFoundError: if the folder is missing (the message says how
            to prepare it).
        ValueError: for invalid arguments, when no clip fits, or when a
            class has no usable clip (see above).

    Example:
    >>> idx = index_clips("ucf101/split1/train", clip_length=2)  # doctest: +SKIP
    >>> len(idx), idx.class_names[:2]  # doctest: +SKIP
    (1777280, ['ApplyEyeMakeup', 'ApplyLipstick'])
    """
    clip_length = check_positive_int("clip_length", clip_length)
    frame_stride = check_positive_int("frame_stride", frame_stride)
    sequence_stride = _check_stride(sequence_stride)
    if source not in SOURCES:
        raise ValueError(
            f"`source` must be 'frames' or 'video'. Received: source={source!r}")
    video_dir, frames_dir = _resolve_dirs(root, subset)
    folder = frames_dir if source == "frames" else video_dir
    if not os.path.isdir(folder):
        raise _not_found(f"{source} folder {folder!r}", os.fspath(root))
    class_names = _resolve_classes(folder, classes)

    split_root, subset_name = os.path.split(video_dir)
    prepared = ucf101.read_index(split_root, subset_name)
    index = prepared["videos"] if prepared is not None else None
    if source == "frames":
        if index is not None and prepared.get("frames_extracted"):
            wanted = set(class_names)
            counts = {rel: (n, "") for rel, n in index.items()
                      if rel.split("/", 1)[0] in wanted}
        else:
            counts = {rel: (n, "") for rel, n in
                      _scan_frames(frames_dir, class_names).items()}
    else:
        videos = _scan_videos(video_dir, class_names)
        counts = _video_counts(video_dir, videos, index, progress)

    label_of = {c: j for j, c in enumerate(class_names)}
    videos = sorted(counts, key=lambda r: (label_of[r.split("/", 1)[0]], r))
    starts = {r: _clip_starts(int(counts[r][0]), clip_length, frame_stride,
                              sequence_stride) for r in videos}
    problems = {r: counts[r][1] for r in videos if counts[r][1]}
    if source == "frames":
        offsets = np.arange(clip_length, dtype=np.int64) * frame_stride
        todo = [r for r in videos if len(starts[r])]
        found = _parallel(
            _frames_problem,
            [(frames_dir, r, np.unique(starts[r][:, None] + offsets).tolist(),
              verify_frames) for r in todo], progress, "checking frames")
        problems.update((r, why) for r, why in zip(todo, found) if why)
    unreadable = [(r, problems[r]) for r in videos if r in problems]
    if unreadable:
        warnings.warn(
            f"{len(unreadable)} of {len(videos)} videos under {folder!r} are "
            "unreadable and skipped (listed in `index.unreadable`): "
            f"{_list_problems(unreadable)}", stacklevel=2)
    videos = [r for r in videos if r not in problems]

    video_frames = np.array([counts[r][0] for r in videos], np.int64)
    video_labels = np.array([label_of[r.split("/", 1)[0]] for r in videos],
                            np.int32)
    per_video = [starts[r] for r in videos]
    lengths = np.array([len(st) for st in per_video], np.int64)
    too_short = int(np.sum(lengths == 0))
    if too_short:
        warnings.warn(
            f"{too_short} of {len(videos)} readable videos are shorter than "
            f"one clip ({clip_length} frames, frame_stride {frame_stride}) "
            "and give no clip.", stacklevel=2)
    if lengths.sum() == 0:
        raise ValueError(
            f"No clip of {clip_length} frames (frame_stride {frame_stride}) "
            f"fits in the readable videos under {folder!r}. Received: "
            f"clip_length={clip_length}, videos={len(videos)}, "
            f"unreadable={len(unreadable)}")
    per_class = np.bincount(video_labels, weights=lengths,
                            minlength=len(class_names))
    empty = [c for c, n in zip(class_names, per_class) if n == 0]
    if empty:
        given = (f"classes={list(classes)!r}" if classes is not None
                 else f"root={os.fspath(root)!r}")
        message = (
            f"Class folder(s) {empty} under {folder!r} have no usable clip "
            f"of {clip_length} frames (frame_stride {frame_stride}): their "
            "videos are missing, unreadable or too short, so their labels "
            "would never be seen. Remove the folders, leave them out of "
            "`classes`, or pass `allow_empty_classes=True` to keep the "
            "label numbering anyway.")
        if not allow_empty_classes:
            raise ValueError(f"{message} Received: {given}")
        warnings.warn(message, stacklevel=2)
    clip_video = np.repeat(np.arange(len(videos), dtype=np.int32), lengths)
    clip_start = np.concatenate(per_video).astype(np.int64)
    return ClipIndex(
        video_dir=video_dir, frames_dir=frames_dir, source=source,
        class_names=class_names, videos=videos, video_labels=video_labels,
        video_frames=video_frames, clip_video=clip_video,
        clip_start=clip_start, clip_length=clip_length,
        frame_stride=frame_stride, sequence_stride=sequence_stride,
        unreadable=unreadable, empty_classes=empty)
