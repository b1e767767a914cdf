"""A synthetic "small object in a large frame" video set for AdaFocusV2.

AdaFocusV2's claim is that a learned patch beats a random one when the
class is decided by a small region of a large frame. This module makes a
dataset where exactly that holds, with no download:

- frames of `size x size` pixels (128 by default) showing a smooth,
  cluttered colour background (low-frequency colour noise plus a few soft
  rectangles), a few plain-coloured distractor squares, and ONE object of
  `object_size` pixels (12 by default), all drifting (slowly by default,
  `speed`) and bouncing off the frame edges;
- the object is a square with a 2-pixel ring of one fixed saturated colour
  (`RING_COLOUR`, the same for every class unless `ring_groups > 1`,
  never used by distractors) and a grey interior whose fine pattern is
  the class (`CLASS_NAMES`):

| class        | interior pattern (pixel `(y, x)`, random phase) |
|--------------|-------------------------------------------------|
| `horizontal` | stripes along x, period 2 (`y % 2`)              |
| `vertical`   | stripes along y, period 2 (`x % 2`)              |
| `checker`    | 1-pixel checkerboard (`(x + y) % 2`)             |
| `dots`       | one bright pixel per 2x2 cell                   |
| `flat`       | uniform grey                                     |

With `cell_size=c` every pattern is drawn on c x c pixel cells (stripes
2 pixels wide for c = 2): a bilinear patch at a sub-pixel position keeps a
2-pixel pattern but averages a 1-pixel one away, so with c >= 2 the
patch's content no longer flips with the sub-pixel phase of its position.

Three options make the set learnable from scratch in minutes (the
AdaFocusV2 demo uses all three; the defaults keep the original set):

- `matched_scenes=True`: video `k` of every class shows the same scene
  (background, distractors, tracks, phase, noise), so only the object
  tells the class. With a scene per video a model memorises the training
  videos by their backgrounds, and the patch position's gradient then
  follows the background instead of the object.
- `ring_groups=g`: the classes are split into `g` groups with their own
  ring colours (`RING_COLOURS`), so a glance can tell the group (for 5
  classes in groups of 3 and 2, a glance-only model reaches 40 %, chance
  20 %) and its feature maps learn where the object is; the class inside
  a group still needs the object's full-resolution pixels.
- `speed=(low, high)`: faster objects (3 to 6 pixels per frame) visit
  many places in each video, so where the object is no longer follows
  from which video it is.

Every pattern has the same mean grey level (128) over any 2c x 2c block
(for c = 1 any 2x2, hence any 4x4), so a frame area-downsampled by a
multiple of 2c (4x for c = 1 or 2) shows the same blob for every class:
a low-resolution glance can tell WHERE the object is (its ring colour),
not WHICH class it is; only full-resolution pixels of the object can. A
random 32-pixel patch of a 128-pixel frame rarely holds the whole
object. Backgrounds, distractors, motion and noise are drawn the same
way for every class (the pattern is the only class-dependent draw), and
every class is invariant under the horizontal flip of TSN's
augmentation.

Layout (frames are PNG, lossless: JPEG would smear the 1-pixel patterns)::

    <root>/synthetic_focus.json         generation arguments (marker)
    <root>/classInd.txt                 "1 horizontal" ... (1-based)
    <root>/train.txt, <root>/test.txt   "frames/<class>/<video> 16 <label>"
    <root>/objects.json                 object top-left (y, x) per frame
    <root>/frames/<class>/<video>/img_00001.png ...

The list files are the `<path> <num_frames> <label>` lists of
`deltasparse.data.video.read_list_file`; `synthetic_focus_videos(root,
"train")` reads one as a `VideoList`, `object_boxes` gives the object's
pixel box in every frame (to measure whether a patch covers it).

Run: python -m deltasparse.data.datasets.synthetic_focus --root /tmp/focus
"""

import argparse
import dataclasses
import json
import os
import shutil
import sys

import cv2
import numpy as np
import tqdm

from deltasparse.data.datasets import ucf101
from deltasparse.data.datasets.synthetic_actions import _check_int
from deltasparse.data.datasets.synthetic_actions import check_dataset_marker
from deltasparse.data.datasets.synthetic_actions import dataset_cache_folder
from deltasparse.data.datasets.synthetic_actions import select_classes
from deltasparse.data.video.video_list import read_list_file

CLASS_NAMES = ("horizontal", "vertical", "checker", "dots", "flat")
FORMAT = "deltasparse-synthetic-focus/1"
#: RGB colour of every object's ring (distractors keep away from it).
RING_COLOUR = (255, 210, 0)
#: Ring colours of the class groups when `ring_groups > 1` (group 0 keeps
#: `RING_COLOUR`): yellow, cyan, magenta.
RING_COLOURS = (RING_COLOUR, (0, 200, 255), (230, 0, 230))
#: Default object and distractor speed range, pixels per frame.
SPEED = (0.25, 1.0)
#: `frame_template` of the frame folders (`frame_offset=1`).
FRAME_TEMPLATE = "{path}/img_{index:05d}.png"
SUBSETS = ("train", "test")
_MARKER = "synthetic_focus.json"
_RING = 2  # ring width in pixels
_MEAN = 128.0  # mean grey level of every interior pattern


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _pattern(name, height, width, phase, contrast, cell_size=1):
    """float32 `(height, width)` grey interior of class `name`, mean 128.

    The pattern is drawn on cells of `cell_size` x `cell_size` pixels
    (`phase` in cells). The levels are whole grey levels, so the stored
    8-bit pixels keep the mean exactly over every `2 * cell_size` square
    block."""
    contrast = float(np.rint(contrast))
    yy, xx = np.mgrid[0:height, 0:width]
    yy, xx = yy // cell_size + phase[0], xx // cell_size + phase[1]
    if name == "horizontal":
        on = yy % 2 == 0
    elif name == "vertical":
        on = xx % 2 == 0
    elif name == "checker":
        on = (xx + yy) % 2 == 0
    elif name == "dots":  # 1 of 4 pixels bright: mean kept by the levels
        on = (xx % 2 == 0) & (yy % 2 == 0)
        low = float(np.rint(contrast / np.sqrt(3.0)))
        return np.where(on, _MEAN + 3.0 * low, _MEAN - low).astype(np.float32)
    else:
        return np.full((height, width), _MEAN, np.float32)
    return np.where(on, _MEAN + contrast, _MEAN - contrast).astype(np.float32)


def _bounce(start, velocity, frames, limit):
    """Integer positions `(frames,)` moving at `velocity`, reflected in
    `[0, limit]` (a triangle wave)."""
    raw = start + velocity * np.arange(frames)
    if limit <= 0:
        return np.zeros(frames, np.int64)
    m = np.mod(raw, 2 * limit)
    return np.rint(np.where(m <= limit, m, 2 * limit - m)).astype(np.int64)


def _track(rng, frames, limit, speed):
    """`(frames, 2)` integer top-left (y, x) of a slowly drifting square."""
    start = rng.uniform(0, limit, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    v = rng.uniform(*speed) * np.array([np.sin(angle), np.cos(angle)])
    return np.stack([_bounce(start[0], v[0], frames, limit),
                     _bounce(start[1], v[1], frames, limit)], axis=1)


def _background(rng, size):
    """Smooth colour noise plus soft rectangles, float32 `(size, size, 3)`."""
    grid = int(rng.integers(3, 7))
    low = rng.uniform(70, 170, size=(grid, grid, 3)).astype(np.float32)
    bg = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(4, 9))):  # clutter
        h, w = rng.integers(size // 10, size // 3, size=2)
        y, x = rng.integers(0, size - min(h, w), size=2)
        mask = np.zeros((size, size), np.float32)
        mask[y:y + h, x:x + w] = 1.0
        mask = cv2.GaussianBlur(mask, (0, 0), 1.5)[..., None]
        colour = rng.uniform(60, 180, size=3).astype(np.float32)
        bg = bg * (1 - 0.6 * mask) + colour * 0.6 * mask
    return np.clip(bg, 0, 255).astype(np.float32)


def _distractor_colour(rng, ring_groups=1):
    """A plain colour at least 150 (RGB distance) from every ring colour of
    the `ring_groups` groups (`RING_COLOUR` alone by default)."""
    rings = np.array(RING_COLOURS[:ring_groups], np.float64)
    while True:
        colour = rng.uniform(30, 230, size=3)
        if np.all(np.linalg.norm(colour - rings, axis=1) > 150):
            return colour.astype(np.float32)


def render_focus_video(class_name, frames=16, size=128, object_size=12,
                       num_distractors=3, contrast=48.0, noise=2.0, seed=0,
                       index=0, cell_size=1, speed=SPEED, ring_group=0,
                       ring_groups=1):
    """Renders one video of the focus dataset as an array (no file written).

    Every random draw (background, distractors, tracks, pattern phase,
    noise) comes from one generator seeded with `(seed, index)` in the same
    order for every class, so two classes rendered with the same `seed`
    and `index` differ only inside the object's ring.

    Args:
        class_name: str, one of `CLASS_NAMES`.
        frames: int >= 1, frames in the video. Defaults to 16.
        size: int, frame height and width in pixels. Defaults to 128.
        object_size: int >= 6, the object's side (ring included).
            Defaults to 12.
        num_distractors: int >= 0, plain squares. Defaults to 3.
        contrast: number in [1, 73], half the grey-level swing of the
            stripes and checkerboard (rounded to a whole grey level).
            Defaults to 48.
        noise: float >= 0, std of the per-frame Gaussian pixel noise.
            Defaults to 2.
        seed: int >= 0, the dataset seed. Defaults to 0.
        index: int >= 0, the video's number. Defaults to 0.
        cell_size: int >= 1, the side in pixels of the pattern's cells:
            1 gives 1-pixel stripes, dots and checks; 2 gives 2-pixel ones,
            which a bilinear patch at a sub-pixel position keeps (a 1-pixel
            pattern is averaged away at half-pixel offsets, so what a
            patch shows flips with the sub-pixel phase of its position).
            Every pattern keeps its mean over any `2 * cell_size` square
            block. Defaults to 1.
        speed: `(low, high)` pixels per frame, the range the object's and
            distractors' speeds are drawn from. Defaults to `SPEED`
            (0.25 to 1).
        ring_group: int in `[0, ring_groups)`, the group whose ring colour
            (`RING_COLOURS[ring_group]`) the object wears. Defaults to 0
            (`RING_COLOUR`).
        ring_groups: int, the number of ring colours in the dataset: the
            distractors keep away from all of them, so that every random
            draw is the same whatever the group. Defaults to 1.

    Returns:
        `(video, positions)`: uint8 `(frames, size, size, 3)` RGB frames and
        int64 `(frames, 2)` top-left `(y, x)` of the object in every frame
        (its box is `[y, x, y + object_size, x + object_size)`).

    Raises:
        ValueError: for an unknown `class_name` or sizes out of range.

    Example:
    >>> video, positions = render_focus_video("checker", frames=4, size=48)
    >>> video.shape, positions.shape
    ((4, 48, 48, 3), (4, 2))
    >>> bool(np.all(positions >= 0) and np.all(positions <= 48 - 12))
    True
    """
    if class_name not in CLASS_NAMES:
        raise ValueError(
            f"`class_name` must be one of {CLASS_NAMES}. "
            f"Received: class_name={class_name!r}")
    _check_geometry(frames, size, object_size, num_distractors, contrast,
                    noise, cell_size)
    speed = _check_speed(speed)
    ring_groups = _check_ring_groups(ring_groups)
    if isinstance(ring_group, bool) or not isinstance(
            ring_group, (int, np.integer)) or not 0 <= ring_group < ring_groups:
        raise ValueError(
            f"`ring_group` must be an int in [0, {ring_groups}) (one of the "
            f"`ring_groups`). Received: ring_group={ring_group!r}")
    rng = np.random.default_rng([int(seed), int(index)])
    background = _background(rng, size)
    limit = size - object_size
    sides = rng.integers(object_size - 2, object_size + 5,
                         size=num_distractors)
    colours = [_distractor_colour(rng, ring_groups)
               for _ in range(num_distractors)]
    tracks = [_track(rng, frames, size - int(s), speed) for s in sides]
    positions = _track(rng, frames, limit, speed)
    phase = rng.integers(0, 2, size=2)
    inner = object_size - 2 * _RING
    interior = _pattern(class_name, inner, inner, phase, float(contrast),
                        int(cell_size))
    out = np.empty((frames, size, size, 3), np.uint8)
    ring = np.array(RING_COLOURS[int(ring_group)], np.float32)
    for t in range(frames):
        canvas = background.copy()
        for side, colour, track in zip(sides, colours, tracks):
            y, x = track[t]
            canvas[y:y + side, x:x + side] = colour
        y, x = positions[t]
        canvas[y:y + object_size, x:x + object_size] = ring
        canvas[y + _RING:y + _RING + inner, x + _RING:x + _RING + inner] = (
            interior[..., None])
        if noise > 0:
            canvas += rng.normal(0.0, noise, canvas.shape).astype(np.float32)
        out[t] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return out, positions


def _check_speed(speed):
    """`(low, high)` floats with 0 <= low <= high, or a ValueError."""
    try:
        low, high = (float(v) for v in speed)
    except (TypeError, ValueError):
        low = high = float("nan")
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low <= high):
        raise ValueError(
            "`speed` must be (low, high) pixels per frame with 0 <= low <= "
            f"high. Received: speed={speed!r}")
    return (low, high)


def _check_ring_groups(ring_groups):
    _check_int("ring_groups", ring_groups, 1)
    if ring_groups > len(RING_COLOURS):
        raise ValueError(
            f"`ring_groups` must be at most {len(RING_COLOURS)} (the ring "
            f"colours of `RING_COLOURS`). Received: ring_groups="
            f"{ring_groups!r}")
    return int(ring_groups)


def _check_geometry(frames, size, object_size, num_distractors, contrast,
                    noise, cell_size=1):
    _check_int("frames", frames, 1)
    _check_int("size", size, 16)
    _check_int("object_size", object_size, 6)
    _check_int("num_distractors", num_distractors, 0)
    _check_int("cell_size", cell_size, 1)
    if 2 * int(cell_size) > object_size - 2 * _RING:
        raise ValueError(
            "`cell_size` must leave at least one pattern period inside the "
            f"ring: at most {(object_size - 2 * _RING) // 2} for "
            f"object_size={object_size}. Received: cell_size={cell_size!r}")
    if object_size + 4 > size:
        raise ValueError(
            "`object_size` must leave room to move: at most `size - 4` "
            f"({size - 4}). Received: object_size={object_size}")
    if not 1 <= float(contrast) <= 73:
        raise ValueError(
            "`contrast` must be in [1, 73] so that every pattern stays in "
            f"[0, 255]. Received: contrast={contrast!r}")
    if float(noise) < 0:
        raise ValueError(f"`noise` must be >= 0. Received: noise={noise!r}")


# --------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Spec:
    classes: tuple
    train_per_class: int
    test_per_class: int
    frames: int
    size: int
    object_size: int
    num_distractors: int
    contrast: float
    noise: float
    seed: int
    cell_size: int = 1
    speed: tuple = SPEED
    ring_groups: int = 1
    matched_scenes: bool = False

    def videos(self):
        """Yields `(class, subset, number, relpath)`; the number is the
        `index` of `render_focus_video`: unique over the dataset, or with
        `matched_scenes` the video's number within its class (every scene
        then appears once in every class)."""
        per_class = self.train_per_class + self.test_per_class
        for c, name in enumerate(self.classes):
            for k in range(per_class):
                subset = "test" if k < self.test_per_class else "train"
                number = k if self.matched_scenes else c * per_class + k
                yield (name, subset, number,
                       f"frames/{name}/{name}_{k:03d}")

    def ring_group(self, class_name):
        """The ring group of `class_name`: the classes, in label order,
        split into `ring_groups` consecutive groups of (nearly) equal
        size (`np.array_split`)."""
        groups = np.array_split(np.arange(len(self.classes)),
                                self.ring_groups)
        c = self.classes.index(class_name)
        return next(g for g, members in enumerate(groups) if c in members)

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        d["speed"] = list(self.speed)
        # Options at their defaults are left out, so datasets made before
        # they existed keep their marker and cache folder.
        for key, default in (("cell_size", 1), ("speed", list(SPEED)),
                             ("ring_groups", 1), ("matched_scenes", False)):
            if d[key] == default:
                del d[key]
        return d


_DEFAULTS = dict(classes=None, train_per_class=40, test_per_class=10,
                 frames=16, size=128, object_size=12, num_distractors=3,
                 contrast=48.0, noise=2.0, seed=0, cell_size=1, speed=SPEED,
                 ring_groups=1, matched_scenes=False)


def _make_spec(classes, train_per_class, test_per_class, frames, size,
               object_size, num_distractors, contrast, noise, seed,
               cell_size=1, speed=SPEED, ring_groups=1,
               matched_scenes=False):
    classes = select_classes(classes, CLASS_NAMES)
    _check_geometry(frames, size, object_size, num_distractors, contrast,
                    noise, cell_size)
    ring_groups = _check_ring_groups(ring_groups)
    if ring_groups > len(classes):
        raise ValueError(
            "`ring_groups` must be at most the number of classes "
            f"({len(classes)}). Received: ring_groups={ring_groups!r}")
    if not isinstance(matched_scenes, (bool, np.bool_)):
        raise ValueError("`matched_scenes` must be True or False. "
                         f"Received: matched_scenes={matched_scenes!r}")
    return _Spec(classes=classes,
                 train_per_class=_check_int("train_per_class",
                                            train_per_class, 1),
                 test_per_class=_check_int("test_per_class", test_per_class,
                                           1),
                 frames=int(frames), size=int(size),
                 object_size=int(object_size),
                 num_distractors=int(num_distractors),
                 contrast=float(contrast), noise=float(noise),
                 seed=_check_int("seed", seed, 0),
                 cell_size=int(cell_size), speed=_check_speed(speed),
                 ring_groups=ring_groups,
                 matched_scenes=bool(matched_scenes))


def _write_frames(folder, video):
    """Writes `video` (RGB) as PNG frames into `folder`, atomically: the
    frames go to a temporary folder that is renamed when complete."""
    parent, name = os.path.split(folder)
    tmp = os.path.join(parent, f".{name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for t, frame in enumerate(video):
        path = os.path.join(tmp, f"img_{t + 1:05d}.png")
        if not cv2.imwrite(path, np.ascontiguousarray(frame[..., ::-1])):
            raise OSError(f"OpenCV could not write {path!r}")
    os.replace(tmp, folder)


def make_synthetic_focus(root, classes=None, train_per_class=40,
                         test_per_class=10, frames=16, size=128,
                         object_size=12, num_distractors=3, contrast=48.0,
                         noise=2.0, seed=0, cell_size=1, speed=SPEED,
                         ring_groups=1, matched_scenes=False,
                         progress=False):
    """Writes the focus dataset (PNG frame folders and list files) to `root`.

    Deterministic for given arguments. Idempotent and resumable: a `root`
    holding a complete dataset made with the same arguments returns at
    once; an interrupted run resumes (each video's frames are written to a
    temporary folder and renamed, so every frame folder present is
    complete; lists and the marker are written atomically, last). The
    defaults (5 classes x 50 videos x 16 frames of 128 x 128) take a few
    seconds.

    Args:
        root: str, output folder.
        classes: None (all of `CLASS_NAMES`), an int (the first n), or a
            sequence of names from `CLASS_NAMES` (label order).
        train_per_class: int >= 1. Defaults to 40.
        test_per_class: int >= 1. Defaults to 10.
        frames: int, frames per video. Defaults to 16.
        size: int, frame side. Defaults to 128.
        object_size: int, the object's side. Defaults to 12.
        num_distractors: int, plain squares per video. Defaults to 3.
        contrast: float, see `render_focus_video`. Defaults to 48.
        noise: float, pixel noise std. Defaults to 2.
        seed: int. Defaults to 0.
        cell_size: int, pattern cell side in pixels, see
            `render_focus_video`. Defaults to 1.
        speed: `(low, high)` pixels per frame of the moving squares, see
            `render_focus_video`. Defaults to `SPEED` (0.25 to 1).
        ring_groups: int in [1, 3], the number of ring colours: the
            classes, in label order, are split into this many consecutive
            groups (`np.array_split`: 3 + 2 for 5 classes and 2 groups),
            each with its own ring colour (`RING_COLOURS`). With more than
            one, a low-resolution glance can tell the group but not the
            class. Defaults to 1 (every ring `RING_COLOUR`).
        matched_scenes: bool. If True, video `k` of every class shows the
            same scene (background, distractors, object track, pattern
            phase and noise): only the object's interior and ring differ
            between classes, so nothing else (a background a model could
            memorise) tells a video's class. Train and test scenes stay
            distinct. Defaults to False (every video its own scene).
        progress: bool, show a tqdm bar. Defaults to False.

    Returns:
        str, `root`.

    Raises:
        ValueError: for invalid arguments, a `root` that cannot be
            written, or a `root` holding a focus dataset made with other
            arguments.

    Example:
    >>> import tempfile
    >>> root = make_synthetic_focus(tempfile.mkdtemp(), classes=2,
    ...                             train_per_class=2, test_per_class=1,
    ...                             frames=3, size=32)
    >>> len(synthetic_focus_videos(root, "train")), len(
    ...     synthetic_focus_videos(root, "test"))
    (4, 2)
    """
    spec = _make_spec(classes, train_per_class, test_per_class, frames, size,
                      object_size, num_distractors, contrast, noise, seed,
                      cell_size, speed, ring_groups, matched_scenes)
    marker = os.path.join(root, _MARKER)
    wanted = {"format": FORMAT, **spec.as_dict()}
    if check_dataset_marker(root, marker, wanted,
                            "a synthetic focus dataset"):
        return root
    for name in spec.classes:
        os.makedirs(os.path.join(root, "frames", name), exist_ok=True)
    videos = list(spec.videos())
    objects = {}
    for name, _, number, rel in tqdm.tqdm(
            videos, desc="synthetic focus videos", unit="video",
            disable=not progress):
        folder = os.path.join(root, rel)
        video, positions = render_focus_video(
            name, spec.frames, spec.size, spec.object_size,
            spec.num_distractors, spec.contrast, spec.noise, spec.seed,
            number, spec.cell_size, spec.speed, spec.ring_group(name),
            spec.ring_groups)
        if not os.path.isdir(folder):
            _write_frames(folder, video)
        objects[rel] = positions.tolist()
    label = {c: i for i, c in enumerate(spec.classes)}
    for subset in SUBSETS:
        lines = "".join(f"{rel} {spec.frames} {label[c]}\n"
                        for c, s, _, rel in videos if s == subset)
        ucf101.atomic_write_text(os.path.join(root, f"{subset}.txt"), lines)
    ucf101.atomic_write_text(
        os.path.join(root, "classInd.txt"),
        "".join(f"{i + 1} {c}\n" for i, c in enumerate(spec.classes)))
    ucf101.atomic_write_json(os.path.join(root, "objects.json"), {
        "object_size": spec.object_size, "size": spec.size,
        "positions": objects})
    ucf101.atomic_write_json(marker, wanted)
    return root


def _check_root(root):
    if not os.path.isfile(os.path.join(os.fspath(root), _MARKER)):
        raise FileNotFoundError(
            "`root` must be a folder made by `make_synthetic_focus` (or "
            "`ensure_synthetic_focus`; nothing is downloaded). Make one with "
            "`python -m deltasparse.data.datasets.synthetic_focus --root "
            f"<folder>`. Received: root={root!r}")
    return os.fspath(root)


def synthetic_focus_videos(root, subset="train"):
    """The `train` or `test` videos of a focus dataset, as a `VideoList`.

    Args:
        root: str, a folder made by `make_synthetic_focus`.
        subset: `"train"` or `"test"`. Defaults to `"train"`.

    Returns:
        A `VideoList` of PNG frame folders (`FRAME_TEMPLATE`,
        `frame_offset=1`), single-label, named `"synthetic_focus/<subset>"`.

    Raises:
        FileNotFoundError: if `root` holds no focus dataset.
        ValueError: for an unknown `subset`.

    Example:
    >>> videos = synthetic_focus_videos(ensure_synthetic_focus())  # doctest: +SKIP
    >>> len(videos), videos.class_names[:2]  # doctest: +SKIP
    (200, ['horizontal', 'vertical'])
    """
    if subset not in SUBSETS:
        raise ValueError(f"`subset` must be one of {SUBSETS}. "
                         f"Received: subset={subset!r}")
    root = _check_root(root)
    return read_list_file(os.path.join(root, f"{subset}.txt"), root=root,
                          class_names=os.path.join(root, "classInd.txt"),
                          frame_template=FRAME_TEMPLATE, frame_offset=1,
                          name=f"synthetic_focus/{subset}")


def object_boxes(root, videos):
    """The object's pixel box in every frame of `videos`.

    Args:
        root: str, the dataset folder.
        videos: a `VideoList` of this dataset (e.g. `synthetic_focus_videos(
            root, "test")` or a subset of it).

    Returns:
        int64 `(V, frames, 4)` boxes `[y1, x1, y2, x2]` (`y2`, `x2`
        exclusive) in the pixels of the stored frames (`size x size`), in
        the order of `videos`.

    Raises:
        FileNotFoundError: if `root` holds no focus dataset.
        ValueError: if a video of `videos` is not in the dataset.

    Example:
    >>> boxes = object_boxes(root, synthetic_focus_videos(root, "test"))  # doctest: +SKIP
    >>> boxes.shape  # doctest: +SKIP
    (50, 16, 4)
    """
    root = _check_root(root)
    with open(os.path.join(root, "objects.json"), encoding="utf-8") as f:
        objects = json.load(f)
    side = objects["object_size"]
    out = []
    for vid in videos.video_ids:
        key = vid.replace(os.sep, "/")
        if key not in objects["positions"]:
            raise ValueError(
                "`videos` must come from this dataset's lists. Received: "
                f"video id {vid!r} not in {root!r}")
        p = np.asarray(objects["positions"][key], np.int64)
        out.append(np.concatenate([p, p + side], axis=1))
    return np.stack(out)


def object_coverage(positions, boxes, patch_size, frame_size):
    """The fraction of the object's box that a patch at `positions` covers.

    Uses `deltasparse.layers.PatchCrop`'s convention: a position `(y, x)`
    in [0, 1] puts the patch's top-left corner at `(y (H - P), x (W - P))`.
    The boxes must be in the pixels of the frames the model saw (for the
    stored frames fed whole, `frame_size = size`; a crop or resize in the
    pipeline moves them) and in its step order: with
    `segment_view_dataset(..., full_frame=True)` at the stored size, use
    `object_boxes(root, videos)[np.arange(V)[:, None], ds.frame_indices]`.

    Args:
        positions: float array `(..., 2)` of `(y, x)` in [0, 1].
        boxes: array `(..., 4)` of `[y1, x1, y2, x2]`, broadcastable.
        patch_size: int, the patch side P.
        frame_size: int or `(height, width)` of the model's frames.

    Returns:
        float64 array `(...)` in [0, 1]: 1 where the patch holds the whole
        object.

    Example:
    >>> object_coverage(np.array([[0.0, 0.0], [1.0, 1.0]]),
    ...                 np.array([0, 0, 4, 4]), 8, 32).tolist()
    [1.0, 0.0]
    """
    height, width = (frame_size, frame_size) if np.isscalar(frame_size) \
        else frame_size
    positions = np.asarray(positions, np.float64)
    boxes = np.asarray(boxes, np.float64)
    top = positions[..., 0] * (height - patch_size)
    left = positions[..., 1] * (width - patch_size)
    dy = np.clip(np.minimum(boxes[..., 2], top + patch_size)
                 - np.maximum(boxes[..., 0], top), 0, None)
    dx = np.clip(np.minimum(boxes[..., 3], left + patch_size)
                 - np.maximum(boxes[..., 1], left), 0, None)
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return dy * dx / area


def ensure_synthetic_focus(cache_dir=None, progress=False, **kwargs):
    """Makes the focus dataset once in the cache; returns its folder.

    The dataset goes to `<cache>/datasets/synthetic_focus[_<hash>]`, where
    `<cache>` is `cache_dir`, `$DELTASPARSE_HOME` or `~/.deltasparse`;
    non-default arguments get their own folder (`_<hash>`). Later calls
    find it done and return at once.

    Args:
        cache_dir: str or None. Defaults to None (see above).
        progress: bool, show a progress bar. Defaults to False.
        **kwargs: arguments of `make_synthetic_focus`.

    Returns:
        str, the dataset folder (for `synthetic_focus_videos`).

    Example:
    >>> root = ensure_synthetic_focus()  # doctest: +SKIP
    >>> train = synthetic_focus_videos(root, "train")  # doctest: +SKIP
    """
    arguments = {**_DEFAULTS, **kwargs}
    root = dataset_cache_folder(
        cache_dir, "synthetic_focus", _make_spec(**arguments).as_dict(),
        _make_spec(**_DEFAULTS).as_dict())
    return make_synthetic_focus(root, progress=progress, **arguments)


def main(argv=None):
    """Command line: write the focus dataset (to the cache by default).

    Args:
        argv: list of str or None (None reads `sys.argv[1:]`).

    Returns:
        int exit status.

    Example:
    >>> main(["--root", "/tmp/focus"])  # doctest: +SKIP
    0
    """
    p = argparse.ArgumentParser(
        prog="make_synthetic_focus",
        description="Write the synthetic small-object focus dataset (PNG "
                    "frame folders and list files) for AdaFocusV2 demos.")
    p.add_argument("--root", default=None,
                   help="output folder (default: the cache)")
    p.add_argument("--classes", type=int, default=len(CLASS_NAMES))
    p.add_argument("--train-per-class", type=int, default=40)
    p.add_argument("--test-per-class", type=int, default=10)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--object-size", type=int, default=12)
    p.add_argument("--cell-size", type=int, default=1,
                   help="pattern cell side in pixels (2: patterns a "
                        "sub-pixel patch position keeps)")
    p.add_argument("--speed", type=float, nargs=2, default=list(SPEED),
                   metavar=("LOW", "HIGH"),
                   help="range of the squares' speeds, pixels per frame")
    p.add_argument("--ring-groups", type=int, default=1,
                   help="ring colours (class groups a glance can tell)")
    p.add_argument("--matched-scenes", action="store_true",
                   help="video k of every class shows the same scene")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    kwargs = dict(classes=args.classes, train_per_class=args.train_per_class,
                  test_per_class=args.test_per_class, frames=args.frames,
                  size=args.size, object_size=args.object_size,
                  seed=args.seed, cell_size=args.cell_size,
                  speed=tuple(args.speed), ring_groups=args.ring_groups,
                  matched_scenes=args.matched_scenes)
    if args.classes == len(CLASS_NAMES):
        kwargs["classes"] = None
    try:
        if args.root is None:
            print(ensure_synthetic_focus(progress=True, **kwargs))
        else:
            print(make_synthetic_focus(args.root, progress=True, **kwargs))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)  # one line, no traceback
        return 1
    return 0


__all__ = [
    "CLASS_NAMES",
    "FRAME_TEMPLATE",
    "RING_COLOUR",
    "RING_COLOURS",
    "SPEED",
    "ensure_synthetic_focus",
    "make_synthetic_focus",
    "object_boxes",
    "object_coverage",
    "render_focus_video",
    "synthetic_focus_videos",
]

if __name__ == "__main__":
    sys.exit(main())
