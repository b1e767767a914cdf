"""NEC Animal sequences, padded to a common clip length (spec §5.4, §9 item 9).

The NEC Animal data (Mobahi, Collobert & Weston, ICML 2009; folder
`animalclean`) are short clips of toy animals on a turntable, used here only
for unsupervised pre-training. Layout read (never downloaded):

- `<path>/seq_ref_clean.txt`, latin-1: 4 header lines, then one
  "start end" line per sequence (inclusive frame numbers); the end of the
  last sequence is forced to 4371, as the original did;
- `<path>/img_clean/img%04d.jpg`, the frames.

Each sequence is resized to 32x32 (PIL bilinear) and written at the front of
an array filled with `pad_value` (-1); the whole array is then divided by
255, so the pad frames hold `-1 / 255`, not -1, exactly as in the original.
ZCA (epsilon `1e-3`) is fitted on all frames, pad frames included.
"""

import os

import numpy as np
from tqdm.auto import tqdm

from deltasparse.data.datasets.video_arrays import check_count
from deltasparse.data.datasets.video_arrays import check_dtype
from deltasparse.data.datasets.video_arrays import one_hot
from deltasparse.data.datasets.video_arrays import prepare_videos
from deltasparse.data.datasets.video_arrays import progress_disabled
from deltasparse.data.datasets.video_arrays import read_rgb_frame

SEQUENCE_FILE = "seq_ref_clean.txt"
FRAME_PATTERN = os.path.join("img_clean", "img%04d.jpg")
HEADER_LINES = 4
LAST_END = 4371

_HOW_TO_GET = (
    "Get the NEC Animal data set ('animalclean', Mobahi et al., ICML 2009) "
    "and put it so that <path>/seq_ref_clean.txt and "
    "<path>/img_clean/img0001.jpg ... exist (e.g. datasets/animalclean)."
)


def read_sequence_ranges(path, header_lines=HEADER_LINES, last_end=LAST_END):
    """Parses `seq_ref_clean.txt` into inclusive `(start, end)` frame ranges.

    Args:
        path: the sequence file.
        header_lines: lines skipped at the top. Defaults to `4`.
        last_end: value forced as the end of the last sequence (the
            original's fix-up), or `None` to keep the file's. Defaults to
            `4371`.

    Returns:
        List of `(start, end)` int pairs, `end` inclusive.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if a line is not two integers, a range is empty, or the
            file holds no sequence.

    Example:
    >>> path = "datasets/animalclean/seq_ref_clean.txt"
    >>> read_sequence_ranges(path)  # doctest: +SKIP
    [(1, 60), ...]
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"NEC Animal sequence file not found. {_HOW_TO_GET} "
            f"Received: path={path!r}"
        )
    with open(path, encoding="latin-1") as f:
        lines = f.read().splitlines()[header_lines:]
    ranges = []
    for number, line in enumerate(lines, start=header_lines + 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            start, end = int(parts[0]), int(parts[1])
        except (IndexError, ValueError) as err:
            raise ValueError(
                f"Line {number} of the NEC Animal sequence file must read "
                f"'start end' (two integers). Received: line={line!r} in "
                f"path={path!r}"
            ) from err
        ranges.append((start, end))
    if not ranges:
        raise ValueError(
            f"The NEC Animal sequence file holds no 'start end' line after "
            f"its {header_lines} header lines. Received: path={path!r}"
        )
    if last_end is not None:
        ranges[-1] = (ranges[-1][0], int(last_end))
    for start, end in ranges:
        if end < start:
            raise ValueError(
                f"NEC Animal sequence ranges must have end >= start. "
                f"Received: (start, end)=({start}, {end}) in path={path!r}"
            )
    return ranges


def load_nec_animal_videos(path, clip_length=None, size=32, pad_value=-1.0,
                           n_videos=None, dtype="float32",
                           header_lines=HEADER_LINES, last_end=LAST_END,
                           frame_pattern=FRAME_PATTERN, progress=None):
    """Reads the NEC Animal sequences into a padded video array.

    The array is filled with `pad_value`, each sequence's frames (resized to
    `size x size`, RGB) are written at the front of its row, and everything
    is divided by 255 (pad frames become `pad_value / 255`).

    Args:
        path: the `animalclean` folder.
        clip_length: frames per video (`T`). Defaults to the longest sequence
            (the experiments use 79).
        size: frame side. Defaults to `32`.
        pad_value: fill value before the division by 255. Defaults to `-1`.
        n_videos: read only the first `n_videos` sequences. Defaults to all.
        dtype: float dtype. Defaults to `"float32"`.
        header_lines: see `read_sequence_ranges`. Defaults to `4`.
        last_end: see `read_sequence_ranges`. Defaults to `4371`.
        frame_pattern: frame file relative to `path`, `%`-formatted with the
            frame number. Defaults to `"img_clean/img%04d.jpg"`.
        progress: tqdm progress bar (`None`: only on a terminal).

    Returns:
        `(videos, lengths)`: `(N, clip_length, size, size, 3)` array and the
        `(N,)` int number of real frames per video.

    Raises:
        FileNotFoundError: if the sequence file or a frame is missing.
        ValueError: if `clip_length` is shorter than a sequence.

    Example:
    >>> path = "datasets/animalclean"
    >>> x, lengths = load_nec_animal_videos(path)  # doctest: +SKIP
    """
    path = os.path.expanduser(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"NEC Animal folder not found. {_HOW_TO_GET} "
            f"Received: path={path!r}"
        )
    dtype = check_dtype(dtype)
    size = check_count(size, "size", allow_none=False)
    ranges = read_sequence_ranges(os.path.join(path, SEQUENCE_FILE),
                                  header_lines, last_end)
    n_videos = check_count(n_videos, "n_videos")
    if n_videos is not None:
        if n_videos > len(ranges):
            raise ValueError(
                f"`n_videos` must be at most {len(ranges)} (the number of "
                f"sequences). Received: n_videos={n_videos}"
            )
        ranges = ranges[:n_videos]
    lengths = np.array([end - start + 1 for start, end in ranges])
    longest = int(lengths.max())
    clip_length = check_count(clip_length, "clip_length")
    if clip_length is None:
        clip_length = longest
    elif clip_length < longest:
        raise ValueError(
            f"`clip_length` must be at least the longest sequence ({longest} "
            f"frames). Received: clip_length={clip_length}"
        )
    files = [[os.path.join(path, frame_pattern % q)
              for q in range(start, end + 1)] for start, end in ranges]
    missing = [f for row in files for f in row if not os.path.isfile(f)]
    if missing:
        raise FileNotFoundError(
            f"NEC Animal frames missing: {len(missing)} file(s), e.g. "
            f"{missing[0]}. {_HOW_TO_GET} Received: path={path!r}"
        )
    out = np.full((len(ranges), clip_length, size, size, 3), pad_value,
                  dtype=np.float64)
    for i in tqdm(range(len(files)), desc="NEC Animal",
                  disable=progress_disabled(progress)):
        for t, fpath in enumerate(files[i]):
            out[i, t] = read_rgb_frame(fpath, size)
    out /= 255.0
    return out.astype(dtype, copy=False), lengths


class NECAnimalDataset:
    """NEC Animal: padded turntable clips for unsupervised pre-training.

    Builds `X` `(N, T, 32, 32, 3)` as the original `NECAnimalDataset` (spec
    §5.4): the real frames at the front of each video, pad frames equal to
    `pad_value / 255` (the original divided *after* padding), then ZCA
    (epsilon `1e-3`) fitted on all frames including the pad frames.

    Faithful quirk (spec §9 item 9): because of the division and the ZCA,
    the pad frames no longer equal `pad_value`, so a loss mask
    `y_true != pad_value` (the original's `pad_value` option) does not
    mask them. `pad_mask` (True on real frames) is provided for code that
    wants to mask the padding as intended.

    Differences from the original: `clip_length` defaults to the longest
    sequence and can be set (the experiment uses 79); frames are converted
    to RGB on reading; the original's `generate_labeled_data` (inherited
    from COIL-100, never used on NEC) is not provided: classification runs
    on COIL-100.

    Args:
        path: the `animalclean` folder. Defaults to
            `"datasets/animalclean"`.
        size: frame side. Defaults to `32`.
        zca_epsilon: ZCA epsilon (fit on all frames), or `None`. Defaults
            to `1e-3`.
        pad_value: pad value before the division by 255. Defaults to `-1`.
        clip_length: frames per (padded) video, T; defaults to the longest
            sequence. `lengths` (below) is the number of real frames.
        imagenet_preprocessing: VGG19 input path
            (`imagenet_preprocess_videos`), before ZCA when both are set.
            Defaults to `False`.
        dtype: float dtype. Defaults to `"float32"`.
        n_videos: use the first `n_videos` sequences only.
        header_lines: header lines of `seq_ref_clean.txt`. Defaults to `4`.
        last_end: forced end of the last sequence, or `None`. Defaults to
            `4371`.
        progress: tqdm progress bar (`None`: only on a terminal).

    Attributes:
        X, Y (identity one-hot, `y[i] = i`, unused by the experiments),
        lengths, pad_mask `(N, T)` bool, num_classes (`N`), pad_value,
        source (`'nec_animal'`), zca.

    Raises:
        FileNotFoundError: if the folder, the sequence file or a frame is
            missing.

    Example:
    >>> nec = NECAnimalDataset(clip_length=79)  # doctest: +SKIP
    >>> nec.X.shape  # doctest: +SKIP
    (60, 79, 32, 32, 3)
    """

    def __init__(self, path="datasets/animalclean", size=32, zca_epsilon=1e-3,
                 pad_value=-1, clip_length=None,
                 imagenet_preprocessing=False,
                 dtype="float32", n_videos=None, header_lines=HEADER_LINES,
                 last_end=LAST_END, progress=None):
        self.path = path
        self.size = check_count(size, "size", allow_none=False)
        self.dtype = check_dtype(dtype)
        self.pad_value = pad_value
        self.zca_epsilon = zca_epsilon
        self.imagenet_preprocessing = bool(imagenet_preprocessing)
        self.source = "nec_animal"
        x, self.lengths = load_nec_animal_videos(
            path, clip_length=clip_length, size=self.size,
            pad_value=pad_value,
            n_videos=n_videos, dtype=self.dtype, header_lines=header_lines,
            last_end=last_end, progress=progress)
        self.pad_mask = np.arange(x.shape[1])[None, :] < self.lengths[:, None]
        (x,), self.zca = prepare_videos(
            [x], self.imagenet_preprocessing, zca_epsilon, self.dtype)
        self.X = x
        self.num_classes = len(x)
        self.y = np.arange(self.num_classes, dtype=np.int64)
        self.Y = one_hot(self.y, self.num_classes, self.dtype)

    @property
    def info(self):
        """Dict describing the data (for Sacred's `_run.info`)."""
        return {"source": self.source, "path": str(self.path),
                "num_videos": len(self.X), "shape": list(self.X.shape),
                "lengths": [int(v) for v in self.lengths],
                "dtype": str(self.dtype)}
