"""Kinetics-400/600/700 from the CSV annotations over downloaded clips.

DeepMind's annotations (`kinetics400/{train,validate,test}.csv`, the same
for 600 and 700) have the header `label,youtube_id,time_start,time_end,split`
(some releases add `is_cc`; test files of the challenge years have no
`label`). deltasparse never downloads: the clips must already be on disk,
as the usual downloaders and the CVDF mirror name them,
`<youtube_id>_<time_start:06d>_<time_end:06d>.mp4` (any extension of
`VIDEO_EXTENSIONS`), either in `<label>/` folders or flat; a file named just
`<youtube_id>.<ext>` is accepted too.

Clips missing from disk are normal (YouTube videos disappear): they are
counted and listed in `<output_dir>/missing_<subset>.txt`, with a warning,
not an error. Classes are the sorted labels of the train CSV
(`classes_csv`), so that train, validation and test share one numbering.
Video ids are the clip stems (label folders can hold spaces; list files
cannot).

Run: python -m deltasparse.data.datasets.kinetics --annotations
         kinetics400/validate.csv --classes kinetics400/train.csv
         --videos k400/val --output k400 --subset val
"""

import argparse
import csv
import os
import sys

from deltasparse.data.datasets import video_preparation as preparation

KINETICS_URL = "https://github.com/cvdfoundation/kinetics-dataset"
ANNOTATIONS_URL = "https://www.deepmind.com/open-source/kinetics"
#: Classes of each release.
NUM_CLASSES = {400: 400, 600: 600, 700: 700}
REQUIRED_COLUMNS = ("youtube_id", "time_start", "time_end")


def download_instructions(output_dir="<data>/kinetics400", subset="train"):
    """What to download and which command prepares Kinetics.

    Example:
    >>> print(download_instructions().splitlines()[0])
    Kinetics must be downloaded by hand (deltasparse never downloads):
    """
    return preparation.missing_data_message("Kinetics", [
        f"the clips, e.g. from the CVDF mirror {KINETICS_URL} (tar files "
        "of <youtube_id>_<start:06d>_<end:06d>.mp4), unpacked to "
        "<data>/videos/<subset>/;",
        f"the annotations ({ANNOTATIONS_URL}): kinetics400/train.csv, "
        "validate.csv, test.csv."],
        "python dataset_preparation/prepare_kinetics.py --annotations "
        f"<data>/kinetics400/{subset}.csv --classes "
        "<data>/kinetics400/train.csv --videos <data>/videos/"
        f"{subset} --output {output_dir} --subset {subset}")


def clip_stem(youtube_id, time_start, time_end):
    """The usual file stem of a clip.

    Example:
    >>> clip_stem("abc-_12", 14, 24)
    'abc-_12_000014_000024'
    """
    return f"{youtube_id}_{int(time_start):06d}_{int(time_end):06d}"


def read_annotations(path):
    """Rows of a Kinetics CSV as dicts (`label` is None when absent).

    Args:
        path: str, e.g. `kinetics400/train.csv`.

    Returns:
        list of dict with `label`, `youtube_id`, `time_start`, `time_end`
        (ints), `split`.

    Raises:
        FileNotFoundError: with the download instructions, if `path` is
            missing.
        ValueError: if a column is missing or a time is not a number.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "val.csv")
    >>> _ = open(path, "w").write(
    ...     "label,youtube_id,time_start,time_end,split\\n"
    ...     "air drumming,abc,4,14,val\\n")
    >>> row = read_annotations(path)[0]
    >>> row["label"], row["time_start"], row["time_end"]
    ('air drumming', 4, 14)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "`annotations_csv` must be a Kinetics CSV file (header "
            "label,youtube_id,time_start,time_end,split).\n"
            f"{download_instructions()}\nReceived: annotations_csv={path!r}")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"A Kinetics CSV must have the columns {list(REQUIRED_COLUMNS)}"
                f" (and `label` except for test sets); {path!r} lacks "
                f"{missing}. Received: header={header}")
        rows = []
        for number, raw in enumerate(reader, 2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items()
                   if k is not None}
            try:
                start, end = (int(float(row[c])) for c in REQUIRED_COLUMNS[1:])
            except ValueError:
                raise ValueError(
                    f"Line {number} of {path!r} must give integer times. "
                    f"Received: {dict(raw)}") from None
            rows.append({"label": row.get("label") or None,
                         "youtube_id": row["youtube_id"],
                         "time_start": start, "time_end": end,
                         "split": row.get("split", "")})
    return rows


def class_names_from(path):
    """The sorted labels of a Kinetics CSV (the train CSV).

    Example:
    >>> class_names_from("kinetics400/train.csv")[:2]  # doctest: +SKIP
    ['abseiling', 'air drumming']
    """
    return sorted({r["label"] for r in read_annotations(path) if r["label"]})


def kinetics_entries(annotations_csv, videos_dir, class_names):
    """`(entries, missing)` of the clips of a CSV found under `videos_dir`.

    Args:
        annotations_csv: str, the subset's CSV.
        videos_dir: str, the downloaded clips (flat or in label folders).
        class_names: list of str, the label numbering.

    Returns:
        `entries`: list of `PreparationEntry` (CSV order; a repeated clip is
        kept once); `missing`: list of `(video_id, expected file name)`.

    Raises:
        ValueError: if a label is not in `class_names`.
    """
    label_of = {c: j for j, c in enumerate(class_names)}
    files = preparation.list_video_files(videos_dir)
    entries, missing, seen = [], [], set()
    for row in read_annotations(annotations_csv):
        stem = clip_stem(row["youtube_id"], row["time_start"],
                         row["time_end"])
        video_id = preparation.safe_video_id(stem)
        if video_id in seen:
            continue
        seen.add(video_id)
        if row["label"] is not None and row["label"] not in label_of:
            raise ValueError(
                f"`annotations_csv` names the class {row['label']!r}, which "
                "the classes CSV lacks (pass the train CSV as `classes_csv`)"
                f". Received: annotations_csv={annotations_csv!r}")
        labels = () if row["label"] is None else (label_of[row["label"]],)
        source = files.get(stem) or files.get(row["youtube_id"])
        if source is None:
            missing.append((video_id, f"{stem}.mp4"))
        else:
            entries.append(preparation.PreparationEntry(video_id, source,
                                                        labels))
    return entries, missing


def prepare_kinetics(annotations_csv, videos_dir, output_dir, subset,
                     classes_csv=None, num_classes=None, **options):
    """Prepares one Kinetics subset from its CSV and the downloaded clips.

    Args:
        annotations_csv: str, the subset's CSV (`train.csv`,
            `validate.csv`, `test.csv`).
        videos_dir: str, the clips (flat or in `<label>/` folders).
        output_dir: str, the prepared folder (the subsets share it).
        subset: str, the list's name, e.g. `"train"`, `"val"`.
        classes_csv: str or None, the CSV whose sorted labels are the
            classes (the train CSV); None uses `annotations_csv`.
        num_classes: int or None, check the class count (400, 600, 700).
        **options: `prepare_videos` options (`workers`, `progress`,
            `extract_frames`, `jpeg_quality`, `decode`, `retry_unreadable`).

    Returns:
        The `VideoList` (`"kinetics/<subset>"`) of the clips found and
        readable; missing ones are in `missing_<subset>.txt`.

    Raises:
        FileNotFoundError: with the download instructions, if the CSV or
            the videos folder is missing, or no annotated clip is there.
        ValueError: for invalid arguments or unknown labels.

    Example:
    >>> videos = prepare_kinetics("kinetics400/validate.csv", "k400/val",
    ...                           "k400", "val",
    ...                           classes_csv="kinetics400/train.csv")  # doctest: +SKIP
    """
    subset = preparation.check_name(subset, "subset")
    class_names = class_names_from(classes_csv or annotations_csv)
    preparation.check_num_classes(class_names, num_classes, "classes_csv",
                                  classes_csv or annotations_csv)
    if not class_names:
        raise ValueError(
            "`classes_csv` must have a `label` column with the class names "
            "(pass the train CSV when `annotations_csv` is a test set). "
            f"Received: classes_csv={classes_csv or annotations_csv!r}")
    if not os.path.isdir(videos_dir):
        raise FileNotFoundError(
            "`videos_dir` must be the folder of the downloaded clips.\n"
            f"{download_instructions(os.fspath(output_dir), subset)}\n"
            f"Received: videos_dir={videos_dir!r}")
    entries, missing = kinetics_entries(annotations_csv, videos_dir,
                                        class_names)
    if not entries:
        raise FileNotFoundError(
            f"None of the {len(missing)} clips of `annotations_csv` is under "
            f"`videos_dir` (expected names like {missing[:1]}).\n"
            f"{download_instructions(os.fspath(output_dir), subset)}\n"
            f"Received: videos_dir={videos_dir!r}")
    preparation.write_missing_list(output_dir, subset, missing,
                                   len(entries) + len(missing))
    return preparation.prepare_videos(entries, output_dir, subset,
                                      class_names, dataset="kinetics",
                                      **options)


def kinetics_videos(output_dir, subset):
    """Reads a subset prepared by `prepare_kinetics` as a `VideoList`.

    Raises:
        FileNotFoundError: with the download instructions and the
            preparation command, if the subset is not prepared.

    Example:
    >>> kinetics_videos("/data/k400", "val").num_classes  # doctest: +SKIP
    400
    """
    return preparation.read_prepared_videos(
        output_dir, subset,
        download_instructions(os.fspath(output_dir), subset), "kinetics")


def main(argv=None):
    """`python -m deltasparse.data.datasets.kinetics ...`; returns 0 or 1."""
    parser = argparse.ArgumentParser(
        prog="prepare_kinetics",
        description="List (and optionally extract) the downloaded clips of "
                    "a Kinetics CSV, in parallel and resumably.")
    parser.add_argument("--annotations", required=True,
                        help="the subset's CSV, e.g. kinetics400/validate.csv")
    parser.add_argument("--videos", required=True,
                        help="folder of the downloaded clips")
    parser.add_argument("--subset", required=True,
                        help="list name, e.g. train, val, test")
    parser.add_argument("--classes", default=None,
                        help="CSV giving the classes (the train CSV)")
    parser.add_argument("--num-classes", type=int, default=None,
                        choices=sorted(NUM_CLASSES),
                        help="check the class count of the release")
    preparation.add_preparation_arguments(parser)
    args = parser.parse_args(argv)
    return preparation.run_command(lambda: prepare_kinetics(
        args.annotations, args.videos, args.output, args.subset,
        classes_csv=args.classes, num_classes=args.num_classes,
        **preparation.preparation_options(args)), args.output)


__all__ = ["NUM_CLASSES", "class_names_from", "clip_stem",
           "download_instructions", "kinetics_entries", "kinetics_videos",
           "prepare_kinetics", "read_annotations"]

if __name__ == "__main__":
    sys.exit(main())
