"""Generic list-file datasets: ActivityNet, FCVID, Mini-Kinetics, your own.

AR-Net (Meng et al., ECCV 2020) and AdaFocusV2 (spec §A1.3, §A1.4)
distribute their splits as list files over extracted frame folders, one
video per line, `<path> <num_frames> <label> [label ...]`:

- ActivityNet v1.3 (`actnet_{train,val}_split.txt`, 200 classes) and FCVID
  (`fcvid_{train,val}_split.txt`, 239 classes; AdaFocusV2 asserts the
  count), frames `image_00001.jpg`; both are evaluated with mAP, so they are
  read as multi-label sets;
- Mini-Kinetics (`mini_{train,val}_videofolder.txt`, 200 Kinetics-400
  classes), frames `img_00001.jpg`, top-1/top-5;

plus `classInd.txt`. `list_file_videos` reads such a list as a `VideoList`
and checks that the first video's frames exist (a wrong `root` or
`frame_template` fails at once, not mid-epoch). `prepare_video_list`
writes a list for a user's own video files (class folders, or an
annotation file without frame counts) through the shared preparation
engine; `prepared_video_list` reads it back.

Run: python -m deltasparse.data.datasets.list_files --source my_videos
         --output my_set --name train
"""

import argparse
import os
import sys

from deltasparse.data.datasets import video_preparation as preparation
from deltasparse.data.video.video_list import read_class_file
from deltasparse.data.video.video_list import read_list_file

ARNET_URL = "https://github.com/mengyuest/AR-Net"
ACTIVITYNET_NUM_CLASSES = 200
FCVID_NUM_CLASSES = 239
MINI_KINETICS_NUM_CLASSES = 200
#: Class counts of the known list-file datasets (`num_classes=` checks).
NUM_CLASSES = {"activitynet": ACTIVITYNET_NUM_CLASSES,
               "fcvid": FCVID_NUM_CLASSES,
               "mini_kinetics": MINI_KINETICS_NUM_CLASSES}
#: Frame names of AR-Net's lists.
ARNET_FRAME_TEMPLATE = "{path}/image_{index:05d}.jpg"
MINI_KINETICS_FRAME_TEMPLATE = "{path}/img_{index:05d}.jpg"


def download_instructions(output_dir="<data>/my_set", name="train"):
    """What to download (the list files) and how to list your own videos.

    Example:
    >>> print(download_instructions().splitlines()[0])
    List-file datasets must be downloaded by hand (deltasparse never downloads):
    """
    return preparation.missing_data_message("List-file datasets", [
        f"ActivityNet / FCVID / Mini-Kinetics lists and frames: see {ARNET_URL}"
        " (its README links the split lists and classInd.txt; frames via "
        "ffmpeg as `image_%05d.jpg` / `img_%05d.jpg`);",
        "or your own videos, in <source>/<class>/<video>.mp4 folders."],
        "python dataset_preparation/prepare_video_list.py --source "
        f"<source> --output {output_dir} --name {name}")


def _check_classes(class_names, num_classes, argument, value):
    if isinstance(num_classes, str):
        if num_classes not in NUM_CLASSES:
            raise ValueError(
                f"`num_classes` must be an int or one of {sorted(NUM_CLASSES)}"
                f". Received: num_classes={num_classes!r}")
        num_classes = NUM_CLASSES[num_classes]
    return preparation.check_num_classes(class_names, num_classes, argument,
                                         value)


def list_file_videos(list_file, root, class_file=None,
                     frame_template=ARNET_FRAME_TEMPLATE, frame_offset=1,
                     num_classes=None, multilabel=None, check_files=True,
                     name=None):
    """Reads a `<path> <num_frames> <label> [label ...]` list as a VideoList.

    Args:
        list_file: str, e.g. `fcvid_val_split.txt`.
        root: str, the folder the list's paths are relative to (the frame
            folders' parent).
        class_file: None, a class file (`classInd.txt`: `<index> <name>` or
            one name per line) or a list of names.
        frame_template: str or None, see `VideoList`; None decodes the
            paths as video files. Defaults to AR-Net's
            `"{path}/image_{index:05d}.jpg"` (Mini-Kinetics:
            `MINI_KINETICS_FRAME_TEMPLATE`).
        frame_offset: int, the number of the first frame file. Defaults
            to 1.
        num_classes: None, an int, or `"activitynet"` (200), `"fcvid"`
            (239), `"mini_kinetics"` (200): check the class count.
        multilabel: None (multi-label if some line has several labels) or
            bool (ActivityNet and FCVID are evaluated with mAP: pass True).
        check_files: bool, check that the first video's first and last
            frames (or its video file) exist. Defaults to `True`.
        name: str or None, the list's name.

    Returns:
        A `VideoList`.

    Raises:
        FileNotFoundError: if the list, the class file or the first video's
            frames are missing (the message says where the lists come
            from and how to list your own videos).
        ValueError: for a malformed line or a wrong class count.

    Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "val.txt"), "w").write("v1 2 1 3\\n")
    >>> videos = list_file_videos(os.path.join(folder, "val.txt"), folder,
    ...                           check_files=False)
    >>> videos.labels, videos.multilabel, videos.num_classes
    ([(1, 3)], True, 4)
    """
    if not os.path.isfile(list_file):
        raise FileNotFoundError(
            "`list_file` must be a list file (`<path> <num_frames> <label> "
            f"...` lines).\n{download_instructions()}\n"
            f"Received: list_file={list_file!r}")
    videos = read_list_file(list_file, root=root, class_names=class_file,
                            frame_template=frame_template,
                            frame_offset=frame_offset, name=name)
    _check_classes(videos.class_names, num_classes, "class_file",
                   class_file)
    if multilabel is not None:
        videos.multilabel = bool(multilabel) or videos.multilabel
    if check_files and len(videos):
        if frame_template is None:
            needed = [videos.paths[0]]
        else:
            last = max(int(videos.num_frames[0]) - 1, 0)
            needed = [videos.frame_path(0, 0), videos.frame_path(0, last)]
        absent = [p for p in needed if not os.path.isfile(p)]
        if absent:
            raise FileNotFoundError(
                f"The first video of `list_file` is not on disk ({absent[0]!r}"
                " not found): check `root` and `frame_template`.\n"
                f"{download_instructions()}\n"
                f"Received: list_file={list_file!r}, root={root!r}, "
                f"frame_template={frame_template!r}")
    return videos


def _class_folder_entries(source_dir):
    classes = sorted(d for d in os.listdir(source_dir) if not d.startswith(
        ".") and os.path.isdir(os.path.join(source_dir, d)))
    entries = []
    for label, name in enumerate(classes):
        folder = os.path.join(source_dir, name)
        for stem, path in sorted(preparation.list_video_files(folder).items(),
                                 key=lambda item: item[1]):
            rel = os.path.relpath(path, source_dir)
            entries.append(preparation.PreparationEntry(
                preparation.safe_video_id(rel), path, (label,)))
    return classes, entries


def _annotated_entries(source_dir, annotations, class_names):
    if not os.path.isfile(annotations):
        raise FileNotFoundError(
            "`annotations` must be a file of `<video path> [label ...]` "
            f"lines. Received: annotations={annotations!r}")
    if isinstance(class_names, (str, os.PathLike)):
        class_names = read_class_file(class_names)
    if class_names is None:
        raise ValueError(
            "`class_names` (a list or a class file) is needed with "
            "`annotations`. Received: class_names=None")
    entries = []
    with open(annotations, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if not all(p.isdigit() for p in parts[1:]):
                raise ValueError(
                    f"Line {number} of {annotations!r} must read `<video "
                    f"path> [label ...]` with integer labels. Received: "
                    f"{line.strip()!r}")
            entries.append(preparation.PreparationEntry(
                preparation.safe_video_id(parts[0]),
                os.path.join(source_dir, parts[0]),
                tuple(int(p) for p in parts[1:])))
    return list(class_names), entries


def prepare_video_list(source_dir, output_dir, name="videos",
                       annotations=None, class_names=None, num_classes=None,
                       multilabel=False, **options):
    """Lists a user's own videos: probes counts, writes `<name>.txt`.

    Without `annotations`, `source_dir` holds one folder per class
    (`<source_dir>/<class>/<video>.<ext>`, any of `VIDEO_EXTENSIONS`, also
    in sub-folders); classes are the sorted folder names. With
    `annotations`, each line `<video path> [label ...]` (path relative to
    `source_dir`, integer labels into `class_names`; several labels make it
    multi-label) names one video.

    Args:
        source_dir: str, the videos.
        output_dir: str, the prepared folder.
        name: str, the list's name. Defaults to `"videos"`.
        annotations: str or None, see above.
        class_names: list of str or a class file, with `annotations`.
        num_classes: None or int, check the class count.
        multilabel: bool, mark the list multi-label (mAP).
        **options: `prepare_videos` options (`workers`, `progress`,
            `extract_frames`, `jpeg_quality`, `decode`, `retry_unreadable`).

    Returns:
        The `VideoList` of the readable videos.

    Raises:
        FileNotFoundError: if `source_dir` or `annotations` is missing.
        ValueError: for invalid arguments or an empty folder.

    Example:
    >>> videos = prepare_video_list("my_videos", "my_set")  # doctest: +SKIP
    """
    if not os.path.isdir(source_dir):
        raise FileNotFoundError(
            "`source_dir` must be a folder of videos (<class>/<video>).\n"
            f"{download_instructions(os.fspath(output_dir), name)}\n"
            f"Received: source_dir={source_dir!r}")
    if annotations is None:
        class_names, entries = _class_folder_entries(source_dir)
    else:
        class_names, entries = _annotated_entries(source_dir, annotations,
                                                  class_names)
    _check_classes(class_names, num_classes, "source_dir", source_dir)
    if not entries:
        raise ValueError(
            "`source_dir` holds no video file (extensions "
            f"{preparation.VIDEO_EXTENSIONS}) in class folders. Received: "
            f"source_dir={source_dir!r}")
    return preparation.prepare_videos(entries, output_dir, name, class_names,
                                      multilabel=multilabel, **options)


def prepared_video_list(output_dir, name="videos"):
    """Reads a list written by `prepare_video_list` as a `VideoList`.

    Raises:
        FileNotFoundError: naming the preparation command, if absent.

    Example:
    >>> len(prepared_video_list("my_set"))  # doctest: +SKIP
    120
    """
    return preparation.read_prepared_videos(
        output_dir, name, download_instructions(os.fspath(output_dir), name))


def main(argv=None):
    """`python -m deltasparse.data.datasets.list_files ...`; returns 0/1."""
    parser = argparse.ArgumentParser(
        prog="prepare_video_list",
        description="Write a `<path> <num_frames> <label>...` list of your "
                    "own videos, probing them in parallel and resumably.")
    parser.add_argument("--source", required=True,
                        help="folder of <class>/<video> files")
    parser.add_argument("--name", default="videos",
                        help="list name (default: videos)")
    parser.add_argument("--annotations", default=None,
                        help="optional `<video path> [label ...]` file")
    parser.add_argument("--classes", default=None,
                        help="class file, with --annotations")
    parser.add_argument("--multilabel", action="store_true",
                        help="mark the list multi-label (evaluated by mAP)")
    preparation.add_preparation_arguments(parser)
    args = parser.parse_args(argv)
    return preparation.run_command(lambda: prepare_video_list(
        args.source, args.output, args.name, annotations=args.annotations,
        class_names=args.classes, multilabel=args.multilabel,
        **preparation.preparation_options(args)), args.output)


__all__ = ["ACTIVITYNET_NUM_CLASSES", "ARNET_FRAME_TEMPLATE",
           "FCVID_NUM_CLASSES", "MINI_KINETICS_FRAME_TEMPLATE",
           "MINI_KINETICS_NUM_CLASSES", "NUM_CLASSES", "download_instructions",
           "list_file_videos", "prepare_video_list", "prepared_video_list"]

if __name__ == "__main__":
    sys.exit(main())
