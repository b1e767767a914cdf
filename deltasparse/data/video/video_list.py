"""`VideoList`: the videos of one dataset subset, the form every dataset takes.

Every dataset parser (UCF101, HMDB51, Kinetics, Something-Something V2, a
user's list file) produces a `VideoList`; every sampler and the multi-view
pipelines (`deltasparse.data.video.views`) consume one. A video is either a
file that OpenCV decodes (`frame_template=None`) or a folder of extracted
JPEG frames named by `frame_template`.

List files hold one video per line, `<path> <num_frames> <label> [label
...]`, the format of the ActivityNet, FCVID and Mini-Kinetics lists of
AR-Net and AdaFocus (more than one label makes the set multi-label). Paths
with spaces are not allowed there (the format is whitespace-separated).
"""

import dataclasses
import os

import numpy as np


def _check_template(frame_template):
    if frame_template is None:
        return None
    if not isinstance(frame_template, str) or "{path}" not in frame_template \
            or "{index" not in frame_template:
        raise ValueError(
            "`frame_template` must be None (decode video files) or a format "
            "string with `{path}` and `{index}` (or `{index:05d}`), e.g. "
            "'{path}/img_{index:05d}.jpg'. "
            f"Received: frame_template={frame_template!r}")
    return frame_template


@dataclasses.dataclass
class VideoList:
    """The videos of one subset of a dataset, with frame counts and labels.

    Attributes:
        paths: list of str, one per video: the video file
            (`frame_template=None`) or the `{path}` of `frame_template`
            (the frame folder, or the common prefix of its frame files).
        num_frames: int64 array `(V,)`, frames per video.
        labels: list of tuples of int, the label(s) of every video (one for
            single-label sets; empty for an unlabeled test set).
        class_names: list of str; label `j` is `class_names[j]`.
        video_ids: list of str, a stable name per video for reports (e.g.
            `"Fencing/v_Fencing_g01_c01.avi"`).
        frame_template: None (decode `paths` with OpenCV) or a format string
            giving frame `k` of video `i` as `frame_template.format(
            path=paths[i], index=k + frame_offset)`, e.g.
            `"{path}/img_{index:05d}.jpg"` or UCF101's prepared
            `"{path}_{index}.jpg"`.
        frame_offset: int, the number of the first frame in the file names
            (1 for `img_00001.jpg` folders, 0 for UCF101's prepared frames).
        multilabel: bool, whether a video may carry several labels (then
            accuracy is replaced by mAP).
        name: str, the dataset and subset, e.g. `"hmdb51/split1/test"`.
        unreadable: list of `(video_id, reason)` left out by preparation.
    """

    paths: list
    num_frames: np.ndarray
    labels: list
    class_names: list
    video_ids: list = None
    frame_template: str = None
    frame_offset: int = 0
    multilabel: bool = False
    name: str = ""
    unreadable: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.paths = [os.fspath(p) for p in self.paths]
        self.num_frames = np.asarray(self.num_frames, np.int64).reshape(-1)
        self.labels = [tuple(int(v) for v in (
            (lab,) if isinstance(lab, (int, np.integer)) else lab))
            for lab in self.labels]
        self.class_names = [str(c) for c in self.class_names]
        if self.video_ids is None:
            self.video_ids = list(self.paths)
        self.frame_template = _check_template(self.frame_template)
        n = len(self.paths)
        if not (len(self.num_frames) == len(self.labels) == len(
                self.video_ids) == n):
            raise ValueError(
                "`paths`, `num_frames`, `labels` and `video_ids` must have "
                "one entry per video. Received: "
                f"{n}, {len(self.num_frames)}, {len(self.labels)}, "
                f"{len(self.video_ids)} entries")
        k = len(self.class_names)
        bad = [(i, lab) for i, lab in enumerate(self.labels)
               if any(v < 0 or v >= k for v in lab)]
        if bad:
            raise ValueError(
                f"Every label must be in [0, {k}) ({k} class names). "
                f"Received: labels[{bad[0][0]}]={bad[0][1]}")
        if np.any(self.num_frames < 0):
            raise ValueError("`num_frames` must be >= 0. Received: "
                             f"num_frames.min()={int(self.num_frames.min())}")
        if not self.multilabel and any(len(lab) > 1 for lab in self.labels):
            self.multilabel = True

    def __len__(self):
        return len(self.paths)

    @property
    def num_classes(self):
        return len(self.class_names)

    def label_matrix(self):
        """`(V, num_classes)` float32 0/1 matrix of the labels."""
        out = np.zeros((len(self), self.num_classes), np.float32)
        for i, lab in enumerate(self.labels):
            out[i, list(lab)] = 1.0
        return out

    def single_labels(self):
        """`(V,)` int32 labels of a single-label set.

        Raises:
            ValueError: if a video has no label or several.
        """
        counts = [len(lab) for lab in self.labels]
        if any(c != 1 for c in counts):
            i = next(i for i, c in enumerate(counts) if c != 1)
            raise ValueError(
                "Single labels need exactly one label per video (use "
                "`label_matrix()` for multi-label sets). Received: "
                f"labels[{i}]={self.labels[i]} for {self.video_ids[i]!r}")
        return np.asarray([lab[0] for lab in self.labels], np.int32)

    def frame_path(self, i, k):
        """Path of frame `k` (0-based) of video `i` (frame folders only)."""
        if self.frame_template is None:
            raise ValueError(
                "This list decodes video files (`frame_template=None`); it "
                f"has no frame files. Received: i={i}, k={k}")
        return self.frame_template.format(path=self.paths[i],
                                          index=int(k) + self.frame_offset)

    def subset(self, indices):
        """A `VideoList` of the videos at `indices` (in that order)."""
        indices = [int(i) for i in indices]
        return dataclasses.replace(
            self, paths=[self.paths[i] for i in indices],
            num_frames=self.num_frames[indices],
            labels=[self.labels[i] for i in indices],
            video_ids=[self.video_ids[i] for i in indices],
            unreadable=list(self.unreadable))


def read_list_file(path, root=None, class_names=None, frame_template=None,
                   frame_offset=0, name=None):
    """Reads a `<path> <num_frames> <label> [label ...]` list file.

    Blank lines and lines starting with `#` are skipped.

    Args:
        path: str, the list file.
        root: str or None, folder that relative video paths are joined to
            (None: relative to the list file's folder).
        class_names: None (classes named `"0"`, `"1"`, ... up to the
            largest label), a list of str, or the path of a class file (one
            name per line, or `<index> <name>` per line as UCF101's
            `classInd.txt`; a 1-based numbering there is shifted to 0).
        frame_template: see `VideoList`; None decodes the paths as videos.
        frame_offset: int, see `VideoList`.
        name: str or None, the list's name (defaults to the file name).

    Returns:
        A `VideoList`.

    Raises:
        FileNotFoundError: if `path` (or the class file) does not exist.
        ValueError: naming the line of a malformed entry.

    Example:
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "val.txt"), "w") as f:
    ...     _ = f.write("a/v1 40 3\\nb/v2 12 0 2\\n")
    >>> videos = read_list_file(os.path.join(folder, "val.txt"))
    >>> videos.num_frames.tolist(), videos.labels, videos.multilabel
    ([40, 12], [(3,), (0, 2)], True)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "`path` must be an existing list file with lines `<path> "
            f"<num_frames> <label> [label ...]`. Received: path={path!r}")
    base = os.path.dirname(os.path.abspath(path)) if root is None else (
        os.fspath(root))
    paths, frames, labels = [], [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            try:
                if len(parts) < 2:
                    raise ValueError
                n = int(parts[1])
                lab = tuple(int(v) for v in parts[2:])
                if n < 0 or any(v < 0 for v in lab):
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"Line {number} of {path!r} must be `<path> <num_frames>"
                    " <label> [label ...]` with integers >= 0. "
                    f"Received: {line!r}") from None
            paths.append(os.path.join(base, parts[0]))
            frames.append(n)
            labels.append(lab)
    if isinstance(class_names, (str, os.PathLike)):
        class_names = read_class_file(class_names)
    if class_names is None:
        top = max((max(lab) for lab in labels if lab), default=-1)
        class_names = [str(j) for j in range(top + 1)]
    ids = [os.path.relpath(p, base) for p in paths]
    return VideoList(paths=paths, num_frames=frames, labels=labels,
                     class_names=list(class_names), video_ids=ids,
                     frame_template=frame_template, frame_offset=frame_offset,
                     name=name or os.path.basename(path))


def read_class_file(path):
    """Class names from a file: one name per line, or `<index> <name>`.

    A 1-based numbering (UCF101's `classInd.txt`) is shifted to 0-based;
    names are returned in index order.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: for duplicate or missing indices.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "`class_names` must be a list of names or an existing class file "
            f"(one name per line, or `<index> <name>`). Received: {path!r}")
    with open(path, encoding="utf-8") as f:
        rows = [ln.split() for ln in f if ln.strip() and not
                ln.startswith("#")]
    if rows and all(len(r) >= 2 and r[0].isdigit() for r in rows):
        numbered = {int(r[0]): " ".join(r[1:]) for r in rows}
        first = min(numbered)
        if len(numbered) != len(rows) or sorted(numbered) != list(
                range(first, first + len(rows))):
            raise ValueError(
                f"The indices of class file {path!r} must be distinct and "
                f"consecutive. Received: {sorted(numbered)[:10]}...")
        return [numbered[j] for j in sorted(numbered)]
    return [" ".join(r) for r in rows]


def write_list_file(videos, path, root=None):
    """Writes `videos` as a `<path> <num_frames> <label> ...` list file.

    Paths are written relative to `root` (default: the list file's folder)
    when they lie below it. The file is written atomically.

    Args:
        videos: a `VideoList`.
        path: str, the list file.
        root: str or None.

    Returns:
        str, `path`.
    """
    path = os.fspath(path)
    base = os.path.dirname(os.path.abspath(path)) if root is None else (
        os.fspath(root))
    lines = []
    for p, n, lab in zip(videos.paths, videos.num_frames, videos.labels):
        rel = os.path.relpath(p, base) if os.path.abspath(p).startswith(
            os.path.abspath(base) + os.sep) else p
        if any(c.isspace() for c in rel):
            raise ValueError(
                "List files are whitespace-separated: a video path must not "
                f"contain spaces. Received: path={rel!r}")
        lines.append(" ".join([rel, str(int(n)), *map(str, lab)]))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + ("\n" if lines else ""))
    os.replace(tmp, path)
    return path


__all__ = ["VideoList", "read_class_file", "read_list_file",
           "write_list_file"]
