"""A small synthetic action dataset in the UCF101 layout, made on the fly.

UCF101 needs a 6.5 GB download and hours of preparation. This module makes a
tiny stand-in with no download at all, so every example, test and the
experiments' `demo` configuration run anywhere. It writes REAL video files
(Motion-JPEG `.avi`, by OpenCV) and the official list files, so the very same
preparation (`deltasparse.data.datasets.ucf101.prepare_ucf101`) and clip pipeline
(`deltasparse.data.video`) code paths run on it::

    <root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi
    <root>/ucfTrainTestlist/classInd.txt       "1 MoveUp" (CRLF, like UCF)
    <root>/ucfTrainTestlist/trainlist01.txt    "MoveUp/v_MoveUp_g03_c01.avi 1"
    <root>/ucfTrainTestlist/testlist01.txt     "MoveUp/v_MoveUp_g01_c01.avi"

Each video shows one object acting on a static textured background (stripes,
checkerboard or smooth colour noise), with per-video random colours,
positions, sizes and speeds, light sensor noise and MJPG compression:

| class       | object                         | action                          |
|-------------|--------------------------------|---------------------------------|
| `MoveUp`    | triangle pointing up           | translates up                   |
| `MoveDown`  | triangle pointing down         | translates down                 |
| `Slide`     | diamond                        | slides left and right           |
| `Rotate`    | bar                            | spins about its centre          |
| `Pulse`     | disc                           | grows and shrinks periodically  |
| `Blink`     | square                         | switches on and off             |
| `Orbit`     | plus sign                      | moves along a circle            |
| `Swing`     | pendulum (rod and bob)         | swings from a fixed pivot       |

As in real action datasets, the actor's appearance is a per-frame cue (a
frame-wise model such as the time-distributed MobileNet can learn it: the
direction a triangle points is the direction it moves), while the motion
gives the temporal structure that delta/sparsity layers exploit. Every class
is invariant under the horizontal flip of the training augmentation (hence
no left/right pair: a flip would turn one into the other). Like UCF101,
videos come in groups (`gXX`) whose clips (`cYY`) share a background, and
the test list holds whole groups (the first `test_groups`), so test
backgrounds are never seen in training. Backgrounds depend on the group
only, so every class shows the same ones and they carry no class cue.
`classInd.txt` numbers the classes in the table order above, which differs
from the sorted order the models use, as in UCF101.
"""

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys

import cv2
import numpy as np
import tqdm

from deltasparse.data.datasets import ucf101

CLASS_NAMES = (
    "MoveUp",
    "MoveDown",
    "Slide",
    "Rotate",
    "Pulse",
    "Blink",
    "Orbit",
    "Swing",
)
FORMAT = "deltasparse-synthetic-ucf/1"
_MARKER = "synthetic_ucf.json"
_DIRECTIONS = {  # unit motion vector (x right, y down)
    "MoveUp": (0.0, -1.0),
    "MoveDown": (0.0, 1.0),
}
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_SCALE = 1 << _SHIFT


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _random_colour(rng, low=40, high=210):
    return rng.uniform(low, high, size=3)


def _background(rng, size):
    """A static textured background, float32 (size, size, 3) in [0, 255].

    Two colours at most ~40 grey levels apart, so the texture is visible but
    weaker than the object's contrast.
    """
    c1 = _random_colour(rng, 60, 190)
    c2 = np.clip(c1 + rng.uniform(-40, 40, size=3), 0, 255)
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == 0:  # stripes
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(0.12, 0.35) * size
        phase = rng.uniform(0, 2 * np.pi)
        u = xx * np.cos(theta) + yy * np.sin(theta)
        w = 0.5 + 0.5 * np.sin(2 * np.pi * u / period + phase)
    elif kind == 1:  # checkerboard
        cell = rng.uniform(0.08, 0.25) * size
        w = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(np.float32)
        w = 0.25 + 0.5 * w
    else:  # smooth colour noise
        grid = int(rng.integers(3, 7))
        low = rng.uniform(0, 1, size=(grid, grid)).astype(np.float32)
        w = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
        w = np.clip(w, 0.0, 1.0)
    bg = c1[None, None, :] * (1 - w[..., None]) + c2[None, None, :] * w[..., None]
    return bg.astype(np.float32)


def _object_colour(rng, background):
    """A saturated colour that contrasts with the background's luminance."""
    hue = rng.uniform(0, 180)
    hsv = np.uint8([[[hue, rng.uniform(150, 255), 255]]])
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    if background.mean() > 120:  # dark object on a light background
        colour = colour * rng.uniform(0.0, 0.25)
    return colour


def _poly(points):
    return [np.round(np.asarray(points) * _SCALE).astype(np.int32)]


def _triangle(cx, cy, r, direction):
    dx, dy = direction
    px, py = -dy, dx  # perpendicular
    tip = (cx + dx * r, cy + dy * r)
    b1 = (cx - dx * 0.8 * r + px * 0.75 * r, cy - dy * 0.8 * r + py * 0.75 * r)
    b2 = (cx - dx * 0.8 * r - px * 0.75 * r, cy - dy * 0.8 * r - py * 0.75 * r)
    return _poly([tip, b1, b2])


def _bar(cx, cy, length, width, angle):
    c, s = math.cos(angle), math.sin(angle)
    hl, hw = length / 2, width / 2
    corners = [(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)]
    return _poly([(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners])


def _plus(cx, cy, r, width):
    return [_bar(cx, cy, 2 * r, width, 0.0)[0],
            _bar(cx, cy, 2 * r, width, math.pi / 2)[0]]


def _action_plan(name, rng, size, frames):
    """Returns `draw(canvas, t, colour)` for one video of class `name`."""
    s = float(size)
    if name in _DIRECTIONS:
        d = _DIRECTIONS[name]
        r = rng.uniform(0.15, 0.22) * s
        travel_max = s - 2 * r - 4
        travel = rng.uniform(0.5, 1.0) * travel_max
        speed = travel / max(frames - 1, 1)
        start_along = rng.uniform(r + 2, s - r - 2 - travel)
        across = rng.uniform(r + 2, s - r - 2)
        if d[0] != 0:
            x0 = start_along if d[0] > 0 else s - start_along
            y0 = across
        else:
            y0 = start_along if d[1] > 0 else s - start_along
            x0 = across

        def draw(canvas, t, colour):
            cx, cy = x0 + d[0] * speed * t, y0 + d[1] * speed * t
            cv2.fillPoly(canvas, _triangle(cx, cy, r, d), colour.tolist(),
                         cv2.LINE_AA, _SHIFT)
        return draw
    if name == "Slide":
        r = rng.uniform(0.15, 0.21) * s
        amp = rng.uniform(0.2, 0.45) * (s / 2 - r - 2)
        cx0 = rng.uniform(r + 2 + amp, s - r - 2 - amp)
        cy = rng.uniform(r + 2, s - r - 2)
        period = rng.uniform(12, 24)
        phase = rng.uniform(0, 2 * math.pi)

        def draw(canvas, t, colour):
            cx = cx0 + amp * math.sin(2 * math.pi * t / period + phase)
            diamond = [(cx, cy - r), (cx + 0.7 * r, cy), (cx, cy + r),
                       (cx - 0.7 * r, cy)]
            cv2.fillPoly(canvas, _poly(diamond), colour.tolist(), cv2.LINE_AA,
                         _SHIFT)
        return draw
    if name == "Swing":
        length = rng.uniform(0.45, 0.6) * s
        bob = rng.uniform(0.1, 0.14) * s
        px = rng.uniform(0.35, 0.65) * s
        py = rng.uniform(0.05, 0.15) * s
        amp = math.radians(rng.uniform(20, 40))
        period = rng.uniform(14, 26)
        phase = rng.uniform(0, 2 * math.pi)
        thick = max(1, int(round(0.05 * s)))

        def draw(canvas, t, colour):
            a = amp * math.sin(2 * math.pi * t / period + phase)
            bx, by = px + length * math.sin(a), py + length * math.cos(a)
            p0 = (int(round(px * _SCALE)), int(round(py * _SCALE)))
            p1 = (int(round(bx * _SCALE)), int(round(by * _SCALE)))
            cv2.line(canvas, p0, p1, colour.tolist(), thick, cv2.LINE_AA,
                     _SHIFT)
            cv2.circle(canvas, p1, int(round(bob * _SCALE)), colour.tolist(),
                       -1, cv2.LINE_AA, _SHIFT)
        return draw
    if name == "Rotate":
        length = rng.uniform(0.5, 0.7) * s
        width = rng.uniform(0.1, 0.15) * s
        cx = rng.uniform(length / 2 + 1, s - length / 2 - 1)
        cy = rng.uniform(length / 2 + 1, s - length / 2 - 1)
        a0 = rng.uniform(0, math.pi)
        omega = rng.choice([-1, 1]) * math.radians(rng.uniform(5, 12))

        def draw(canvas, t, colour):
            cv2.fillPoly(canvas, _bar(cx, cy, length, width, a0 + omega * t),
                         colour.tolist(), cv2.LINE_AA, _SHIFT)
        return draw
    if name == "Pulse":
        r0 = rng.uniform(0.16, 0.22) * s
        amp = rng.uniform(0.25, 0.4)
        period = rng.uniform(10, 20)
        phase = rng.uniform(0, 2 * math.pi)
        rmax = r0 * (1 + amp)
        cx, cy = rng.uniform(rmax + 1, s - rmax - 1, size=2)

        def draw(canvas, t, colour):
            r = r0 * (1 + amp * math.sin(2 * math.pi * t / period + phase))
            cv2.circle(canvas, (int(round(cx * _SCALE)), int(round(cy * _SCALE))),
                       int(round(r * _SCALE)), colour.tolist(), -1,
                       cv2.LINE_AA, _SHIFT)
        return draw
    if name == "Blink":
        side = rng.uniform(0.26, 0.38) * s
        cx, cy = rng.uniform(side / 2 + 1, s - side / 2 - 1, size=2)
        half = int(rng.integers(3, 7))
        phase = int(rng.integers(0, 2 * half))

        def draw(canvas, t, colour):
            if ((t + phase) // half) % 2 == 0:
                cv2.fillPoly(canvas, _bar(cx, cy, side, side, 0.0),
                             colour.tolist(), cv2.LINE_AA, _SHIFT)
        return draw
    if name == "Orbit":
        radius = rng.uniform(0.12, 0.2) * s
        r = rng.uniform(0.15, 0.2) * s
        width = rng.uniform(0.06, 0.08) * s
        reach = radius + r + 1
        cx, cy = rng.uniform(reach, s - reach, size=2)
        a0 = rng.uniform(0, 2 * math.pi)
        omega = rng.choice([-1, 1]) * math.radians(rng.uniform(8, 16))

        def draw(canvas, t, colour):
            a = a0 + omega * t
            cv2.fillPoly(canvas, _plus(cx + radius * math.cos(a),
                                       cy + radius * math.sin(a), r, width),
                         colour.tolist(), cv2.LINE_AA, _SHIFT)
        return draw
    raise ValueError(
        f"`classes` entries must be among {CLASS_NAMES}. Received: {name!r}")


def render_video(class_name, frames=32, size=64, seed=0, group=1, clip=1,
                 noise=2.0):
    """Renders one synthetic video as an array (no file is written).

    Args:
        class_name: str, one of `CLASS_NAMES`.
        frames: int, number of frames.
        size: int, frame height and width in pixels.
        seed: int, dataset seed.
        group: int, group number; clips of a group share the background.
        clip: int, clip number within the group.
        noise: float, standard deviation of per-frame Gaussian pixel noise.

    Returns:
        uint8 array `(frames, size, size, 3)` in BGR order (OpenCV's).

    Example:
    >>> render_video("Pulse", frames=8, size=32).shape
    (8, 32, 32, 3)
    """
    cls = CLASS_NAMES.index(class_name) if class_name in CLASS_NAMES else -1
    if cls < 0:
        raise ValueError(
            f"`class_name` must be one of {CLASS_NAMES}. "
            f"Received: class_name={class_name!r}")
    # The background depends on (group, clip) only: every class shows the
    # same backgrounds, so they carry no class information to memorise.
    bg_rng = np.random.default_rng([seed, group, clip, 0])
    rng = np.random.default_rng([seed, cls, group, clip, 1])
    background = _background(bg_rng, size)
    colour = _object_colour(rng, background)
    draw = _action_plan(class_name, rng, size, frames)
    out = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        canvas = background.copy()
        draw(canvas, t, colour)
        if noise > 0:
            canvas += rng.normal(0.0, noise, canvas.shape).astype(np.float32)
        out[t] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return out


def write_video(path, frames, fps=25):
    """Writes BGR uint8 frames `(T, H, W, 3)` as MJPG `.avi`, atomically.

    Args:
        path: str, destination (`.avi`).
        frames: uint8 array `(T, H, W, 3)`, BGR.
        fps: int, frame rate in the header.

    Returns:
        `path`.

    Raises:
        RuntimeError: if OpenCV cannot open a video writer.

    Example:
    >>> write_video("/tmp/x.avi", render_video("Blink", 8, 32))  # doctest: +SKIP
    '/tmp/x.avi'
    """
    d, name = os.path.split(path)
    tmp = os.path.join(d, f".{os.path.splitext(name)[0]}.{os.getpid()}.tmp.avi")
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(
            f"OpenCV could not open an MJPG video writer for {tmp!r}")
    try:
        for f in frames:
            writer.write(np.ascontiguousarray(f))
    finally:
        writer.release()
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Spec:
    classes: tuple
    videos_per_class: int
    clips_per_group: int
    test_groups: int
    frames: int
    size: int
    fps: int
    noise: float
    seed: int

    def groups(self):
        return -(-self.videos_per_class // self.clips_per_group)

    def videos(self):
        """Yields (class, group, clip, relpath) in classInd order."""
        for c in self.classes:
            for i in range(self.videos_per_class):
                g, k = i // self.clips_per_group + 1, i % self.clips_per_group + 1
                yield c, g, k, f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi"

    def as_dict(self):
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        return d


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
            value < minimum):
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def select_classes(classes, class_names):
    """The `classes` argument of a synthetic generator as a tuple of names.

    Args:
        classes: None (all of `class_names`), an int (the first n, at
            least 2), or a sequence of >= 2 distinct names of
            `class_names`.
        class_names: tuple of str, the generator's classes.

    Returns:
        tuple of str.

    Raises:
        ValueError: for anything else.

    Example:
    >>> select_classes(2, ("a", "b", "c")), select_classes(["c", "a"], "abc")
    (('a', 'b'), ('c', 'a'))
    """
    if classes is None:
        classes = class_names
    elif isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        if not 2 <= classes <= len(class_names):
            raise ValueError(
                f"`classes` as an int must be in [2, {len(class_names)}]. "
                f"Received: classes={classes!r}")
        classes = class_names[: int(classes)]
    classes = tuple(classes)
    bad = [c for c in classes if c not in class_names]
    if bad or len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(
            f"`classes` must be None, an int, or >= 2 distinct names among "
            f"{tuple(class_names)}. Received: classes={classes!r}")
    return tuple(classes)


def _make_spec(classes, videos_per_class, clips_per_group, test_groups, frames,
               size, fps, noise, seed):
    classes = select_classes(classes, CLASS_NAMES)
    spec = _Spec(
        classes=classes,
        videos_per_class=_check_int("videos_per_class", videos_per_class, 2),
        clips_per_group=_check_int("clips_per_group", clips_per_group, 1),
        test_groups=_check_int("test_groups", test_groups, 1),
        frames=_check_int("frames", frames, 2),
        size=_check_int("size", size, 16),
        fps=_check_int("fps", fps, 1),
        noise=float(noise),
        seed=_check_int("seed", seed, 0),
    )
    if spec.test_groups >= spec.groups():
        raise ValueError(
            "`test_groups` must leave at least one training group: with "
            f"videos_per_class={spec.videos_per_class} and clips_per_group="
            f"{spec.clips_per_group} there are {spec.groups()} groups. "
            f"Received: test_groups={spec.test_groups}")
    if noise < 0:
        raise ValueError(f"`noise` must be >= 0. Received: noise={noise!r}")
    return spec


def make_synthetic_ucf(root, classes=None, videos_per_class=24,
                       clips_per_group=3, test_groups=2, frames=32, size=64,
                       fps=25, noise=2.0, seed=0, progress=False):
    """Writes the synthetic action dataset in the raw UCF101 layout.

    Deterministic for given arguments. Idempotent: when `root` already holds
    a complete dataset made with the same arguments it returns at once; a run
    that was interrupted resumes (videos are written to a temporary name and
    renamed, so every `.avi` present is complete).

    The defaults (8 classes x 24 videos x 32 frames of 64x64) take a few
    seconds and give 144 training and 48 test videos (groups 1-2 are test).

    Args:
        root: str, output folder (gets `UCF-101/` and `ucfTrainTestlist/`).
        classes: None (all of `CLASS_NAMES`), an int (the first n), or a
            sequence of names from `CLASS_NAMES` (in classInd order).
        videos_per_class: int >= 2. Defaults to `24`.
        clips_per_group: int, clips sharing a background (`cYY` per `gXX`).
            Defaults to `3`.
        test_groups: int, the first groups of every class go to the test
            list. Defaults to `2`.
        frames: int, frames per generated video (its full length, from
            which `clip_dataset` cuts clips of `clip_length`; hence not
            called `clip_length`). Defaults to `32`.
        size: int, frame height and width. Defaults to `64`.
        fps: int, frame rate in the file header. Defaults to `25`.
        noise: float, per-frame Gaussian pixel noise. Defaults to `2.0`.
        seed: int. Defaults to `0`.
        progress: bool, show a tqdm bar. Defaults to `False`.

    Returns:
        str, `root`.

    Raises:
        ValueError: for invalid arguments, if `root` is a file or cannot
            be written to, or if `root` holds a synthetic dataset made with
            different arguments.

    Example:
    >>> root = make_synthetic_ucf("/tmp/synth", videos_per_class=6)  # doctest: +SKIP
    >>> sorted(os.listdir(root))  # doctest: +SKIP
    ['UCF-101', 'synthetic_ucf.json', 'ucfTrainTestlist']
    """
    spec = _make_spec(classes, videos_per_class, clips_per_group, test_groups,
                      frames, size, fps, noise, seed)
    marker = os.path.join(root, _MARKER)
    wanted = {"format": FORMAT, **spec.as_dict()}
    if check_dataset_marker(root, marker, wanted, "a synthetic dataset"):
        return root
    video_root = os.path.join(root, "UCF-101")
    lists_root = os.path.join(root, "ucfTrainTestlist")
    for c in spec.classes:
        os.makedirs(os.path.join(video_root, c), exist_ok=True)
    os.makedirs(lists_root, exist_ok=True)

    videos = list(spec.videos())
    for c, g, k, rel in tqdm.tqdm(videos, desc="synthetic videos", unit="video",
                                  disable=not progress):
        path = os.path.join(video_root, rel)
        if not os.path.isfile(path):
            arr = render_video(c, spec.frames, spec.size, spec.seed, g, k,
                               spec.noise)
            write_video(path, arr, spec.fps)

    eol = "\r\n"  # the official lists use CRLF
    label = {c: i + 1 for i, c in enumerate(spec.classes)}
    class_ind = "".join(f"{label[c]} {c}{eol}" for c in spec.classes)
    train = "".join(f"{rel} {label[c]}{eol}" for c, g, _, rel in videos
                    if g > spec.test_groups)
    test = "".join(f"{rel}{eol}" for c, g, _, rel in videos
                   if g <= spec.test_groups)
    ucf101.atomic_write_text(os.path.join(lists_root, "classInd.txt"), class_ind)
    ucf101.atomic_write_text(os.path.join(lists_root, "trainlist01.txt"), train)
    ucf101.atomic_write_text(os.path.join(lists_root, "testlist01.txt"), test)
    ucf101.atomic_write_json(marker, wanted)
    return root


def default_cache_dir():
    """`$DELTASPARSE_HOME`, else `~/.deltasparse`."""
    home = os.environ.get("DELTASPARSE_HOME")
    return home or os.path.join(os.path.expanduser("~"), ".deltasparse")


def dataset_cache_folder(cache_dir, name, arguments, default_arguments):
    """`<cache>/datasets/<name>`, plus `_<hash>` for non-default arguments.

    Args:
        cache_dir: str or None (`default_cache_dir()`).
        name: str, the dataset's folder name.
        arguments: JSON-serialisable dict, the generation arguments.
        default_arguments: dict, the default ones (no hash suffix).

    Returns:
        str, the folder (not created).

    Example:
    >>> dataset_cache_folder("/c", "toy", {"a": 1}, {"a": 1})
    '/c/datasets/toy'
    >>> dataset_cache_folder("/c", "toy", {"a": 2}, {"a": 1})[:-10]
    '/c/datasets/toy_'
    """
    if arguments != default_arguments:
        digest = hashlib.sha1(json.dumps(
            arguments, sort_keys=True).encode()).hexdigest()
        name += "_" + digest[:10]
    return os.path.join(cache_dir or default_cache_dir(), "datasets", name)


def check_dataset_marker(root, marker, wanted, description):
    """Whether `root` already holds the dataset recorded by `marker`.

    Checks that `root` can be written (`ucf101.check_output_dir`), then
    reads the JSON `marker` file (written last by a generator).

    Args:
        root: str, the dataset folder.
        marker: str, the marker file's path.
        wanted: dict, what the marker must hold for the dataset asked.
        description: str, e.g. `"a synthetic dataset"`, for the message.

    Returns:
        True when the marker holds `wanted` (nothing left to do), False
        when there is no marker yet.

    Raises:
        ValueError: if `root` cannot be written, or its marker holds other
            arguments.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_dataset_marker(folder, os.path.join(folder, "m.json"), {},
    ...                      "a toy set")
    False
    """
    ucf101.check_output_dir(root, "root")
    if not os.path.isfile(marker):
        return False
    with open(marker, encoding="utf-8") as f:
        existing = json.load(f)
    if existing == wanted:
        return True
    raise ValueError(
        f"`root` already holds {description} made with other arguments; "
        "pass another folder or delete it. "
        f"Received: root={root!r} (existing: {existing})")


def ensure_synthetic_ucf(cache_dir=None, workers=1, progress=False, **kwargs):
    """Generates and prepares the synthetic dataset once; returns its split root.

    The raw dataset goes to `<cache>/datasets/synthetic_ucf[_<hash>]/raw`
    and the prepared split 1 (videos + extracted frames, the layout of
    `prepare_ucf101`) to `.../prepared/split1`, where `<cache>` is
    `cache_dir`, `$DELTASPARSE_HOME` or `~/.deltasparse`. Non-default
    generation arguments get their own folder (`_<hash>`). Later calls find
    everything done and return quickly.

    Args:
        cache_dir: str or None. Defaults to `None` (see above).
        workers: int, preparation worker processes (1 = in this process,
            fastest for this small set). Defaults to `1`.
        progress: bool, show progress bars. Defaults to `False`.
        **kwargs: arguments of `make_synthetic_ucf` (`videos_per_class`,
            `frames`, `size`, `seed`, ...).

    Returns:
        str, the prepared split folder; use
        `clip_dataset(root, subset="train", ...)`.

    Example:
    >>> root = ensure_synthetic_ucf()  # doctest: +SKIP
    >>> sorted(os.listdir(root))[:2]  # doctest: +SKIP
    ['corrupt_videos.txt', 'test']
    """
    spec = _make_spec(**{**_DEFAULTS, **kwargs})
    base = dataset_cache_folder(cache_dir, "synthetic_ucf", spec.as_dict(),
                                _make_spec(**_DEFAULTS).as_dict())
    raw = make_synthetic_ucf(os.path.join(base, "raw"), progress=progress,
                             **{**_DEFAULTS, **kwargs})
    result = ucf101.prepare_ucf101(
        os.path.join(raw, "UCF-101"), os.path.join(raw, "ucfTrainTestlist"),
        os.path.join(base, "prepared"), split=1, workers=workers,
        progress=progress)
    return result.root


_DEFAULTS = dict(classes=None, videos_per_class=24, clips_per_group=3,
                 test_groups=2, frames=32, size=64, fps=25, noise=2.0, seed=0)


def main(argv=None):
    """Command line: generate (and optionally prepare) the synthetic dataset.

    Args:
        argv: list of str or None (None reads `sys.argv[1:]`).

    Returns:
        int exit status.

    Example:
    >>> main(["--root", "/tmp/synth", "--prepare", "/tmp/synth_prepared"])  # doctest: +SKIP
    0
    """
    p = argparse.ArgumentParser(
        prog="make_synthetic_ucf",
        description="Write the synthetic action dataset in the UCF101 layout "
                    "(UCF-101/ + ucfTrainTestlist/), optionally prepared.")
    p.add_argument("--root", default=None,
                   help="output folder (default: the cache, prepared too)")
    p.add_argument("--prepare", default=None, metavar="OUT",
                   help="also run prepare_ucf101 into OUT")
    p.add_argument("--videos-per-class", type=int, default=24)
    p.add_argument("--clips-per-group", type=int, default=3)
    p.add_argument("--test-groups", type=int, default=2)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    kwargs = dict(videos_per_class=args.videos_per_class,
                  clips_per_group=args.clips_per_group,
                  test_groups=args.test_groups, frames=args.frames,
                  size=args.size, seed=args.seed)
    try:
        if args.root is None:
            print(ensure_synthetic_ucf(progress=True, **kwargs))
            return 0
        root = make_synthetic_ucf(args.root, progress=True, **kwargs)
        print(root)
        if args.prepare:
            res = ucf101.prepare_ucf101(
                os.path.join(root, "UCF-101"),
                os.path.join(root, "ucfTrainTestlist"), args.prepare,
                split=1, workers=1)
            print(res.root)
    except (OSError, ValueError, ucf101.PreparationLockedError) as e:
        print(f"error: {e}", file=sys.stderr)  # one line, no traceback
        return 1
    return 0


__all__ = [
    "CLASS_NAMES",
    "check_dataset_marker",
    "dataset_cache_folder",
    "select_classes",
    "default_cache_dir",
    "ensure_synthetic_ucf",
    "make_synthetic_ucf",
    "render_video",
    "write_video",
]

if __name__ == "__main__":
    sys.exit(main())
