"""One preparation engine for every video dataset: probe, list, extract.

Every dataset parser (HMDB51, Kinetics, Something-Something V2, a user's own
videos) turns its official annotation files into `PreparationEntry` rows
(video id, source file, labels) and hands them to `prepare_videos`, which
writes one prepared subset::

    <output_dir>/<name>.txt          list file `<path> <num_frames> <label>...`
    <output_dir>/<name>.json         how to read it (frame template, counts)
    <output_dir>/classes.txt         `<index> <class name>`, 0-based
    <output_dir>/unreadable.txt      `<name>\\t<video id>\\t<source>\\t<reason>`
    <output_dir>/missing_<name>.txt  annotated but absent videos (Kinetics,
                                     Something-Something V2)
    <output_dir>/frames/<video id>/img_00001.jpg   with `extract_frames`
    <output_dir>/videos/<video id>   links, only for sources with spaces
    <output_dir>/.preparation.jsonl  per-video results (resumption cache)

Every video is probed in a thread pool (OpenCV releases the GIL while it
decodes) with `deltasparse.data.video.index.probe_video`, behind a tqdm bar.
Each finished video is appended to `.preparation.jsonl` at once, so a run
that is killed continues where it stopped: a video whose record matches its
source (same size and modification time) is not probed again. The folder is
locked (`ucf101.preparation_lock`) so two preparations cannot write to it at
the same time. `read_prepared_videos` reads a prepared subset back as a
`deltasparse.data.video.VideoList`.

Unlike the originals' preparation scripts (AR-Net's `video_jpg.py`, DLAC's
`hmdb51.py`, spec §A1.4, §A3.1), frames are optional (OpenCV decodes most
videos on the fly), nothing is resized, and unreadable videos are listed
instead of stopping the run or silently giving empty folders.
"""

import concurrent.futures
import dataclasses
import json
import logging
import os
import shutil
import sys
import warnings

import cv2
import tqdm

from deltasparse.data.datasets import ucf101
from deltasparse.data.video import index as video_index
from deltasparse.data.video.video_list import VideoList
from deltasparse.data.video.video_list import read_list_file
from deltasparse.data.video.video_list import write_list_file

logger = logging.getLogger(__name__)

LIST_FORMAT = "deltasparse-video-list/1"
CACHE_NAME = ".preparation.jsonl"
CLASS_FILE = "classes.txt"
UNREADABLE_FILE = "unreadable.txt"
FRAMES_FOLDER = "frames"
LINKS_FOLDER = "videos"
#: Frame files written by `extract_frames` (the MMAction2 / TSN naming).
FRAME_TEMPLATE = "{path}/img_{index:05d}.jpg"
FRAME_OFFSET = 1
VIDEO_EXTENSIONS = ucf101.VIDEO_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class PreparationEntry:
    """One video to prepare.

    Attributes:
        video_id: str without whitespace, unique in the subset, e.g.
            `"brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi"`; it
            names the frame folder and the reports' rows.
        source: str, the video file.
        labels: tuple of int, indices into the class names (empty for an
            unlabeled test set).
    """

    video_id: str
    source: str
    labels: tuple = ()


# --------------------------------------------------------------------------
# Checks and small helpers
# --------------------------------------------------------------------------


def check_name(name, argument="name"):
    """Checks a subset name used as a file name (`train_split1`, `val`)."""
    if not isinstance(name, str) or not name or not all(
            c.isalnum() or c in "_-." for c in name) or name.startswith("."):
        raise ValueError(
            f"`{argument}` must be a non-empty file name of letters, digits, "
            f"'_', '-' or '.', e.g. 'train_split1'. Received: "
            f"{argument}={name!r}")
    return name


def safe_video_id(text):
    """`text` with every whitespace run replaced by `_` (list files split
    on whitespace).

    Example:
    >>> safe_video_id("air drumming/abc_000010_000020")
    'air_drumming/abc_000010_000020'
    """
    return "_".join(str(text).split())


def _check_entries(entries, num_classes):
    entries = [e if isinstance(e, PreparationEntry) else PreparationEntry(
        e[0], os.fspath(e[1]), (int(e[2]),) if isinstance(e[2], int) else (
            tuple(int(v) for v in e[2]))) for e in entries]
    seen = set()
    for e in entries:
        if not e.video_id or e.video_id != safe_video_id(e.video_id) or (
                e.video_id.startswith(("/", "."))):
            raise ValueError(
                "Every `video_id` must be a non-empty relative name without "
                "whitespace (see `safe_video_id`). Received: "
                f"video_id={e.video_id!r}")
        if e.video_id in seen:
            raise ValueError(
                "`entries` must not repeat a video id. Received: "
                f"video_id={e.video_id!r} twice")
        seen.add(e.video_id)
        if any(not 0 <= lab < num_classes for lab in e.labels):
            raise ValueError(
                f"Every label must be in [0, {num_classes}) ({num_classes} "
                f"class names). Received: labels={e.labels} for "
                f"{e.video_id!r}")
    return entries


def _check_workers(workers):
    if workers is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if isinstance(workers, bool) or not isinstance(workers, int) or (
            workers < 0):
        raise ValueError(
            "`workers` must be None or an int >= 0 (0 or 1: one thread). "
            f"Received: workers={workers!r}")
    return max(1, workers)


def _signature(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [int(st.st_size), int(st.st_mtime_ns)]


def list_video_files(folder):
    """`{stem: path}` of every video file below `folder` (recursive).

    Hidden files and folders are skipped; when two files share a stem, the
    first in sorted path order wins.

    Example:
    >>> list_video_files("/nonexistent")
    {}
    """
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            stem, ext = os.path.splitext(name)
            if not name.startswith(".") and ext.lower() in VIDEO_EXTENSIONS:
                found.setdefault(stem, os.path.join(dirpath, name))
    return found


# --------------------------------------------------------------------------
# Classes, unreadable list, cache
# --------------------------------------------------------------------------


def write_class_names(output_dir, class_names):
    """Writes (or checks) `<output_dir>/classes.txt` (`<index> <name>`).

    Raises:
        ValueError: if the folder already holds other class names (the
            labels of its list files would change meaning).
    """
    path = os.path.join(output_dir, CLASS_FILE)
    class_names = [str(c) for c in class_names]
    if os.path.isfile(path):
        old = read_class_names(output_dir)
        if old != class_names:
            raise ValueError(
                f"`output_dir` already holds {len(old)} other class names "
                f"in {path!r} (first: {old[:3]}); prepare this set into a "
                "new folder. Received: class_names="
                f"{class_names[:3]}... ({len(class_names)} names)")
        return path
    ucf101.atomic_write_text(path, "".join(
        f"{j} {name}\n" for j, name in enumerate(class_names)))
    return path


def read_class_names(output_dir):
    """Class names of a prepared folder (`classes.txt`), in label order."""
    path = os.path.join(output_dir, CLASS_FILE)
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split(" ", 1) for line in f if line.strip()]
    return [row[1] if len(row) > 1 else "" for row in rows]


def read_unreadable(output_dir, name=None):
    """Rows `(name, video_id, source, reason)` of `unreadable.txt`.

    Args:
        output_dir: str, a prepared folder.
        name: str or None, keep only the rows of this subset.

    Example:
    >>> read_unreadable("/nonexistent")
    []
    """
    path = os.path.join(output_dir, UNREADABLE_FILE)
    if not os.path.isfile(path):
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if line.startswith("#") or len(parts) != 4:
                continue
            if name is None or parts[0] == name:
                rows.append(tuple(parts))
    return rows


def _write_unreadable(output_dir, name, rows):
    kept = [r for r in read_unreadable(output_dir) if r[0] != name]
    kept += [(name, *r) for r in rows]
    lines = ["# name\tvideo id\tsource\treason (left out by preparation)"]
    lines += ["\t".join(r) for r in sorted(kept)]
    ucf101.atomic_write_text(os.path.join(output_dir, UNREADABLE_FILE),
                             "\n".join(lines) + "\n")


def _read_cache(output_dir):
    """{video_id: record}; the last record of a video wins. A line cut off
    by a killed run is ignored."""
    records = {}
    path = os.path.join(output_dir, CACHE_NAME)
    if not os.path.isfile(path):
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
                records[record["video_id"]] = record
            except (ValueError, KeyError, TypeError):
                continue
    return records


def _ends_with_newline(path):
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _compact_cache(output_dir, records):
    ucf101.atomic_write_text(
        os.path.join(output_dir, CACHE_NAME),
        "".join(json.dumps(r, sort_keys=True) + "\n"
                for _, r in sorted(records.items())))


def _frames_dir(output_dir, video_id):
    return os.path.join(output_dir, FRAMES_FOLDER, video_id)


def _frame_file(folder, k):
    return FRAME_TEMPLATE.format(path=folder, index=k + FRAME_OFFSET)


def _is_done(record, entry, output_dir, extract_frames, retry_unreadable,
             decode):
    if record is None or record.get("source") != os.path.abspath(
            entry.source) or record.get("signature") != _signature(
            entry.source):
        return False
    if decode and not record.get("decoded") and not record.get(
            "frames_extracted"):
        return False  # counted from the header; a decoded count is wanted
    if record.get("reason"):
        return not retry_unreadable
    if extract_frames:
        folder = _frames_dir(output_dir, entry.video_id)
        n = record.get("frames", 0)
        return bool(record.get("frames_extracted")) and n > 0 and (
            os.path.isfile(_frame_file(folder, 0))) and os.path.isfile(
            _frame_file(folder, n - 1))
    return True


# --------------------------------------------------------------------------
# Per-video work (runs in the worker threads)
# --------------------------------------------------------------------------


def _decoded_frames(source, failures):
    """Yields the frames OpenCV decodes from `source`; a decoder error
    (corrupt streams can make OpenCV raise) ends it and goes to
    `failures`."""
    capture = cv2.VideoCapture(source)
    try:
        while True:
            try:
                ok, frame = capture.read()
            except cv2.error as e:
                failures.append(str(e))
                return
            if not ok or frame is None:
                return
            yield frame
    finally:
        capture.release()


def _extract_frames(source, folder, jpeg_quality):
    """Writes every frame of `source` to `folder`; returns (frames, reason).

    Frames go to a temporary folder that is renamed when complete, so a
    killed run never leaves a folder that looks finished. Write errors (a
    full disk) raise and stop the run; only decoding problems make a video
    unreadable.
    """
    tmp = f"{folder}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
    failures = []
    n = 0
    for n, frame in enumerate(_decoded_frames(source, failures), 1):
        ok, buf = cv2.imencode(".jpg", frame, params)
        if not ok:
            raise RuntimeError(
                f"JPEG encoding failed at frame {n - 1} of {source!r}")
        with open(_frame_file(tmp, n - 1), "wb") as f:
            f.write(buf.tobytes())
    reason = (f"decoding failed after {n} frames: {failures[0]}" if failures
              else "" if n else "no decodable frame")
    if reason:
        shutil.rmtree(tmp, ignore_errors=True)
        return 0, reason
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return n, ""


def _prepare_one(entry, output_dir, extract_frames, jpeg_quality, decode):
    """Probes (and extracts) one video; returns its cache record."""
    cv2.setNumThreads(1)
    record = {"video_id": entry.video_id,
              "source": os.path.abspath(entry.source),
              "signature": _signature(entry.source),
              "frames_extracted": False, "decoded": bool(decode)}
    if record["signature"] is None:
        return {**record, "frames": 0, "reason": "missing from the source "
                "folder"}
    frames, reason = video_index.probe_video(entry.source, decode=decode)
    if not reason and extract_frames:
        folder = _frames_dir(output_dir, entry.video_id)
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        frames, reason = _extract_frames(entry.source, folder, jpeg_quality)
        record["frames_extracted"] = not reason
    return {**record, "frames": int(frames), "reason": reason}


def _check_frame_folders(entries, cache):
    """A video id must not name the frames of another (existing) source."""
    for e in entries:
        record = cache.get(e.video_id)
        if record and record.get("frames_extracted") and record[
                "source"] != os.path.abspath(e.source) and os.path.exists(
                record["source"]):
            raise ValueError(
                f"The video id {e.video_id!r} already names the extracted "
                f"frames of {record['source']!r} in this folder; video ids "
                "must be unique across the subsets of one prepared folder "
                "(or prepare into another folder). Received: "
                f"source={e.source!r}")


def _run_pool(todo, work, workers, progress, desc, on_result):
    bar = tqdm.tqdm(total=len(todo), desc=desc, unit="video",
                    disable=not progress, dynamic_ncols=True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(work, entry) for entry in todo]
        for future in concurrent.futures.as_completed(futures):
            on_result(future.result())
            bar.update()
    finally:
        # On an interruption, drop the queued videos; the running ones end.
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def _linked_source(entry, output_dir):
    """The path the list file names for a decoded (not extracted) video.

    List files are whitespace-separated: a source path with whitespace is
    replaced by a symlink `<output_dir>/videos/<video_id>[.ext]`.
    """
    source = os.path.abspath(entry.source)
    if not any(c.isspace() for c in source):
        return source
    ext = os.path.splitext(source)[1]
    link = os.path.join(output_dir, LINKS_FOLDER, entry.video_id)
    if ext and not link.endswith(ext):
        link += ext
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.realpath(link) != os.path.realpath(source):
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(source, link)
    return link


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------


def prepare_videos(entries, output_dir, name, class_names, workers=None,
                   progress=True, extract_frames=False, jpeg_quality=95,
                   decode=False, retry_unreadable=False, multilabel=False,
                   dataset=None):
    """Prepares one subset of a video dataset and returns its `VideoList`.

    Every entry is probed for its frame count and readability (in
    parallel, resumably, see the module docstring); the readable ones are
    written to the list file `<output_dir>/<name>.txt`, the unreadable ones
    (file, reason) to `unreadable.txt` with a warning. With
    `extract_frames`, every frame is also written as
    `<output_dir>/frames/<video_id>/img_00001.jpg, ...` (native size, JPEG)
    and the list names those folders (`frame_template
    "{path}/img_{index:05d}.jpg"`, `frame_offset` 1); the frame count is
    then the number of decoded frames.

    Args:
        entries: iterable of `PreparationEntry` or `(video_id, source,
            labels)` tuples.
        output_dir: str, the prepared folder (created; shared by the
            subsets of one dataset, so a video id names one source in all
            of them).
        name: str, the subset's file name, e.g. `"train_split1"`.
        class_names: list of str, label `j` is `class_names[j]`; written to
            `classes.txt` (which must agree with an existing one).
        workers: int or None, probing threads (None: CPU count, at most 8).
        progress: bool, show a tqdm bar. Defaults to `True`.
        extract_frames: bool, also write JPEG frames. Defaults to `False`.
        jpeg_quality: int in [1, 100]. Defaults to `95` (OpenCV's).
        decode: bool, count frames by decoding every video through instead
            of trusting a header whose last frame decodes. Defaults to
            `False`.
        retry_unreadable: bool, probe again the videos an earlier run found
            unreadable. Defaults to `False`.
        multilabel: bool, mark the list multi-label. Defaults to `False`
            (also set when a video has several labels).
        dataset: str or None, prefix of the list's name and the progress
            bar's label (`"hmdb51"` gives `"hmdb51/train_split1"`).

    Returns:
        The prepared subset as a `VideoList` (`unreadable` filled).

    Raises:
        ValueError: for invalid arguments or an `output_dir` that is a file,
            cannot be written, or holds other class names.
        PreparationLockedError: if another preparation writes to
            `output_dir`.

    Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> entries = [("a/missing.avi", "/nonexistent.avi", (0,))]
    >>> with warnings.catch_warnings(record=True):
    ...     videos = prepare_videos(entries, out, "train", ["walk"],
    ...                             progress=False)
    >>> len(videos), videos.unreadable
    (0, [('a/missing.avi', 'missing from the source folder')])
    """
    name = check_name(name)
    class_names = [str(c) for c in class_names]
    entries = _check_entries(entries, len(class_names))
    workers = _check_workers(workers)
    if isinstance(jpeg_quality, bool) or not isinstance(
            jpeg_quality, int) or not 1 <= jpeg_quality <= 100:
        raise ValueError("`jpeg_quality` must be an int in [1, 100]. "
                         f"Received: jpeg_quality={jpeg_quality!r}")
    output_dir = os.fspath(output_dir)
    ucf101.check_output_dir(output_dir)
    with ucf101.preparation_lock(output_dir):
        write_class_names(output_dir, class_names)
        cache = _read_cache(output_dir)
        _check_frame_folders(entries, cache)
        todo = [e for e in entries if not _is_done(
            cache.get(e.video_id), e, output_dir, extract_frames,
            retry_unreadable, decode)]
        cache_path = os.path.join(output_dir, CACHE_NAME)
        with open(cache_path, "a+", encoding="utf-8") as log:
            if log.tell() and not _ends_with_newline(cache_path):
                log.write("\n")  # end the line a killed run cut off

            def on_result(record):
                cache[record["video_id"]] = record
                log.write(json.dumps(record, sort_keys=True) + "\n")
                log.flush()  # a killed run keeps every finished video

            _run_pool(todo, lambda e: _prepare_one(
                e, output_dir, extract_frames, jpeg_quality, decode),
                workers, progress, f"{dataset}/{name}" if dataset else name,
                on_result)
        _compact_cache(output_dir, cache)
        videos = _write_subset(entries, cache, output_dir, name,
                               class_names, extract_frames, multilabel)
    if dataset:
        videos.name = f"{dataset}/{name}"
    return videos


def _write_subset(entries, cache, output_dir, name, class_names,
                  extract_frames, multilabel):
    good, bad = [], []
    for e in entries:
        record = cache[e.video_id]
        if record["reason"]:
            bad.append((e.video_id, os.path.abspath(e.source),
                        record["reason"]))
        else:
            good.append((e, record["frames"]))
    if extract_frames:
        paths = [_frames_dir(output_dir, e.video_id) for e, _ in good]
    else:
        paths = [_linked_source(e, output_dir) for e, _ in good]
    videos = VideoList(
        paths=paths, num_frames=[n for _, n in good],
        labels=[e.labels for e, _ in good], class_names=class_names,
        video_ids=[e.video_id for e, _ in good],
        frame_template=FRAME_TEMPLATE if extract_frames else None,
        frame_offset=FRAME_OFFSET if extract_frames else 0,
        multilabel=multilabel, name=name,
        unreadable=[(vid, why) for vid, _, why in bad])
    write_list_file(videos, os.path.join(output_dir, f"{name}.txt"))
    _write_unreadable(output_dir, name, bad)
    ucf101.atomic_write_json(os.path.join(output_dir, f"{name}.json"), {
        "format": LIST_FORMAT, "name": name,
        "frame_template": videos.frame_template,
        "frame_offset": videos.frame_offset,
        "multilabel": bool(videos.multilabel), "videos": len(videos),
        "unreadable": len(bad), "video_ids": videos.video_ids})
    if bad:
        shown = "; ".join(f"{vid} ({why})" for vid, _, why in bad[:5])
        warnings.warn(
            f"{len(bad)} of {len(entries)} videos of {name!r} are unreadable "
            f"and left out (listed in "
            f"{os.path.join(output_dir, UNREADABLE_FILE)}): {shown}"
            + (" ..." if len(bad) > 5 else ""), stacklevel=3)
    return videos


def read_prepared_videos(output_dir, name, missing_message, dataset=None):
    """Reads a subset written by `prepare_videos` as a `VideoList`.

    Args:
        output_dir: str, the prepared folder.
        name: str, the subset's file name (e.g. `"train_split1"`).
        missing_message: str, what to download and which command prepares
            it; the `FileNotFoundError` of a missing subset carries it.
        dataset: str or None, prefix of the list's name (`"hmdb51"` gives
            `"hmdb51/train_split1"`).

    Returns:
        A `VideoList` with `unreadable` from `unreadable.txt`.

    Raises:
        FileNotFoundError: with `missing_message`, if the subset is not
            prepared.

    Example:
    >>> read_prepared_videos("/nonexistent", "train", "Prepare it first.")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...Prepare it first...
    """
    output_dir = os.fspath(output_dir)
    name = check_name(name)
    meta_path = os.path.join(output_dir, f"{name}.json")
    meta = ucf101._read_json(meta_path)
    list_path = os.path.join(output_dir, f"{name}.txt")
    if meta is None or meta.get("format") != LIST_FORMAT or not (
            os.path.isfile(list_path)) or not os.path.isfile(
            os.path.join(output_dir, CLASS_FILE)):
        raise FileNotFoundError(
            f"`output_dir` holds no prepared subset {name!r} (no {name}.txt "
            f"/ {name}.json / {CLASS_FILE}).\n{missing_message}\n"
            f"Received: output_dir={output_dir!r}, name={name!r}")
    videos = read_list_file(
        list_path, root=output_dir, class_names=read_class_names(output_dir),
        frame_template=meta["frame_template"],
        frame_offset=meta["frame_offset"],
        name=f"{dataset}/{name}" if dataset else name)
    if len(meta.get("video_ids", ())) == len(videos):
        videos.video_ids = list(meta["video_ids"])
    videos.multilabel = bool(meta["multilabel"]) or videos.multilabel
    videos.unreadable = [(vid, why) for _, vid, _, why in read_unreadable(
        output_dir, name)]
    return videos


def check_num_classes(class_names, expected, argument, value, hint=""):
    """Checks that there are `expected` class names (None: any number).

    Args:
        class_names: list of str.
        expected: int or None.
        argument, value: the argument the classes came from, for the
            message.
        hint: str, how to allow another count (appended to the message).

    Raises:
        ValueError: naming `argument` when the count differs.

    Example:
    >>> check_num_classes(["a", "b"], 2, "classes_csv", "train.csv")
    ['a', 'b']
    """
    if expected is not None and len(class_names) != expected:
        raise ValueError(
            f"`{argument}` must give {expected} classes; it gives "
            f"{len(class_names)} (first: {list(class_names)[:3]}).{hint} "
            f"Received: {argument}={value!r}")
    return class_names


def missing_data_message(title, downloads, command):
    """The one message of a missing dataset: what to download, what to run.

    Args:
        title: str, the dataset, e.g. `"HMDB51"`.
        downloads: list of str, one line per download step (page first).
        command: str, the preparation command.

    Example:
    >>> print(missing_data_message("X", ["https://x.org"], "prepare-x"))
    X must be downloaded by hand (deltasparse never downloads):
      1. https://x.org
    Then run:
      prepare-x
    """
    steps = "".join(f"  {i}. {line}\n" for i, line in enumerate(downloads, 1))
    return (f"{title} must be downloaded by hand (deltasparse never "
            f"downloads):\n{steps}Then run:\n  {command}")


def write_missing_list(output_dir, name, missing, total):
    """Lists annotated videos that are not on disk: `missing_<name>.txt`.

    Missing clips are common (deleted YouTube videos), so they are listed
    with a warning, not an error.

    Args:
        output_dir: str, the prepared folder.
        name: str, the subset's file name.
        missing: list of `(video_id, expected file)`.
        total: int, videos in the annotations.

    Returns:
        str, the path of the list (written also when empty).
    """
    path = os.path.join(output_dir, f"missing_{check_name(name)}.txt")
    ucf101.check_output_dir(output_dir)
    ucf101.atomic_write_text(path, "".join(
        f"{vid}\t{where}\n" for vid, where in missing))
    if missing:
        warnings.warn(
            f"{len(missing)} of {total} annotated videos of {name!r} are not "
            f"in the videos folder; they are listed in {path} (first: "
            f"{missing[0][1]})", stacklevel=3)
    return path


# --------------------------------------------------------------------------
# Command line helpers shared by the dataset commands
# --------------------------------------------------------------------------


def add_preparation_arguments(parser):
    """Adds `--output`, `--frames`, `--workers`, `--jpeg-quality`,
    `--decode`, `--retry-unreadable` and `--quiet` to `parser`."""
    parser.add_argument("--output", required=True,
                        help="prepared folder (shared by the subsets)")
    parser.add_argument("--frames", action="store_true",
                        help="also extract every frame as "
                             "frames/<video id>/img_00001.jpg")
    parser.add_argument("--workers", type=int, default=None,
                        help="probing threads (default: CPU count, <= 8)")
    parser.add_argument("--jpeg-quality", type=int, default=95,
                        help="JPEG quality 1-100 (default: 95)")
    parser.add_argument("--decode", action="store_true",
                        help="count frames by decoding every video through")
    parser.add_argument("--retry-unreadable", action="store_true",
                        help="probe again videos an earlier run found "
                             "unreadable")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar")
    return parser


def preparation_options(args):
    """The `prepare_videos` keyword arguments of parsed command options."""
    return {"extract_frames": args.frames, "workers": args.workers,
            "jpeg_quality": args.jpeg_quality, "decode": args.decode,
            "retry_unreadable": args.retry_unreadable,
            "progress": not args.quiet}


def run_command(prepare, output_dir):
    """Runs `prepare()` for a command: prints a summary per subset.

    Args:
        prepare: callable returning a `VideoList` or a dict name ->
            `VideoList`.
        output_dir: str, the prepared folder (printed).

    Returns:
        int exit status: 0, or 1 after one `error: ...` line on stderr when
        inputs are missing or invalid or the folder is locked.
    """
    logging.basicConfig(level=logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = prepare()
    except (OSError, ValueError, ucf101.PreparationLockedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    subsets = result if isinstance(result, dict) else {result.name: result}
    for name, videos in subsets.items():
        stem = videos.name.split("/")[-1]
        missing = os.path.join(output_dir, f"missing_{stem}.txt")
        count = 0
        if os.path.isfile(missing):
            with open(missing, encoding="utf-8") as f:
                count = sum(1 for line in f if line.strip())
        print(f"{name}: {len(videos)} videos, {videos.num_classes} classes, "
              f"{len(videos.unreadable)} unreadable"
              + (f", {count} missing (listed in {missing})" if count else "")
              + f" -> {os.path.join(output_dir, stem)}.txt")
    return 0


__all__ = [
    "FRAME_TEMPLATE",
    "PreparationEntry",
    "add_preparation_arguments",
    "check_num_classes",
    "missing_data_message",
    "write_missing_list",
    "list_video_files",
    "prepare_videos",
    "read_class_names",
    "read_prepared_videos",
    "read_unreadable",
    "run_command",
    "safe_video_id",
    "write_class_names",
]
