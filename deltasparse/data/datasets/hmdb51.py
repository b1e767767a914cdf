"""HMDB51: the three official splits, their preparation and reader.

HMDB51 (Kuehne et al., ICCV 2011) ships as `hmdb51_org.rar` (51 inner
`<class>.rar` archives; unpacked: `<source>/<class>/<video>.avi`) and
`test_train_splits.rar` (unpacked: `testTrainMulti_7030_splits/` with
`<class>_test_split{1,2,3}.txt`). Every split file lists each video of its
class once, as `<video>.avi <tag>` with tag 1 = train, 2 = test, 0 = not
used in that split (70/30 videos per class in train/test).

`prepare_hmdb51` writes `<output_dir>/{train,test}_split<N>.txt` (list files,
see `deltasparse.data.datasets.video_preparation`); `hmdb51_videos` reads
one back as a `VideoList`. Classes are the 51 split-file class names,
sorted, as DLAC's `hmdb51.py` and MMAction2 number them (spec §A3.1).
Unlike DLAC, frames are optional, the tag-0 videos can be prepared too
(`subsets=("unused",)`), and unreadable videos are listed.

Run: python -m deltasparse.data.datasets.hmdb51 --source hmdb51_org
         --splits testTrainMulti_7030_splits --output hmdb51 --split 1
"""

import argparse
import os
import sys

from deltasparse.data.datasets import video_preparation as preparation

HMDB51_URL = ("https://serre-lab.clps.brown.edu/resource/"
              "hmdb-a-large-human-motion-database/")
NUM_CLASSES = 51
#: Subset name -> the tag of the split files.
SUBSET_TAGS = {"train": 1, "test": 2, "unused": 0}
SPLIT_SUFFIX = "_test_split"


def download_instructions(output_dir="<data>/hmdb51", split=1):
    """What to download and which command prepares HMDB51.

    Example:
    >>> print(download_instructions().splitlines()[0])
    HMDB51 must be downloaded by hand (deltasparse never downloads):
    """
    return preparation.missing_data_message("HMDB51", [
        f"{HMDB51_URL}",
        "hmdb51_org.rar: unrar it, then unrar each <class>.rar inside, "
        "giving <data>/hmdb51_org/<class>/<video>.avi;",
        "test_train_splits.rar: unrar it, giving "
        "<data>/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt."],
        "python dataset_preparation/prepare_hmdb51.py --source "
        "<data>/hmdb51_org --splits <data>/testTrainMulti_7030_splits "
        f"--output {output_dir} --split {split}")


def _check_split(split):
    if isinstance(split, bool) or split not in (1, 2, 3):
        raise ValueError("`split` must be 1, 2 or 3 (the official HMDB51 "
                         f"splits). Received: split={split!r}")
    return int(split)


def _check_subset(subset):
    if subset not in SUBSET_TAGS:
        raise ValueError(
            f"`subset` must be one of {sorted(SUBSET_TAGS)}. Received: "
            f"subset={subset!r}")
    return subset


def split_files(splits_dir, split=1):
    """`{class name: split file}` of one split, classes sorted.

    Args:
        splits_dir: str, the unpacked `testTrainMulti_7030_splits/`.
        split: int, 1, 2 or 3.

    Raises:
        FileNotFoundError: if no `*_test_split<N>.txt` is there.

    Example:
    >>> split_files("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    split = _check_split(split)
    suffix = f"{SPLIT_SUFFIX}{split}.txt"
    names = sorted(os.listdir(splits_dir)) if os.path.isdir(
        splits_dir) else []
    found = {n[:-len(suffix)]: os.path.join(splits_dir, n) for n in names
             if n.endswith(suffix) and len(n) > len(suffix)}
    if not found:
        raise FileNotFoundError(
            f"`splits_dir` must hold the official <class>{suffix} files.\n"
            f"{download_instructions(split=split)}\n"
            f"Received: splits_dir={splits_dir!r}")
    return dict(sorted(found.items()))


def read_split_file(path):
    """`[(video file name, tag)]` of one `<class>_test_split<N>.txt`.

    Lines read `<video>.avi <0|1|2>` (trailing spaces, CRLF and blank lines
    are fine).

    Raises:
        ValueError: naming the line of a malformed entry.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run_test_split1.txt")
    >>> _ = open(path, "w").write("a.avi 1 \\nb.avi 2 \\nc.avi 0\\n")
    >>> read_split_file(path)
    [('a.avi', 1), ('b.avi', 2), ('c.avi', 0)]
    """
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f.read().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(
                    f"Line {number} of {path!r} must read '<video>.avi "
                    f"<0|1|2>'. Received: {line!r}")
            rows.append((parts[0], int(parts[1])))
    return rows


def _resolve_source(source_dir, class_names, split):
    for candidate in (source_dir, os.path.join(source_dir, "hmdb51_org")):
        if any(os.path.isdir(os.path.join(candidate, c))
               for c in class_names):
            return candidate
    raise FileNotFoundError(
        "`source_dir` must hold the unpacked class folders "
        "(<class>/<video>.avi), e.g. hmdb51_org/brush_hair/.\n"
        f"{download_instructions(split=split)}\n"
        f"Received: source_dir={source_dir!r}")


def hmdb51_entries(source_dir, splits_dir, split=1, subset="train"):
    """The videos of one subset: `(class names, [PreparationEntry])`.

    Example:
    >>> names, entries = hmdb51_entries("hmdb51_org", "splits", 1)  # doctest: +SKIP
    >>> len(names), len(entries)  # doctest: +SKIP
    (51, 3570)
    """
    files = split_files(splits_dir, split)
    subset = _check_subset(subset)
    class_names = list(files)
    source = _resolve_source(source_dir, class_names, split)
    entries = []
    for label, (name, path) in enumerate(files.items()):
        for video, tag in read_split_file(path):
            if tag == SUBSET_TAGS[subset]:
                entries.append(preparation.PreparationEntry(
                    preparation.safe_video_id(f"{name}/{video}"),
                    os.path.join(source, name, video), (label,)))
    return class_names, entries


def prepare_hmdb51(source_dir, splits_dir, output_dir, split=1,
                   subsets=("train", "test"), check_num_classes=True,
                   **options):
    """Prepares subsets of an official HMDB51 split.

    Args:
        source_dir: str, the unpacked `hmdb51_org/` (or its parent).
        splits_dir: str, the unpacked `testTrainMulti_7030_splits/`.
        output_dir: str, the prepared folder (all splits share it).
        split: int, 1, 2 or 3. Defaults to `1`.
        subsets: names from `"train"`, `"test"`, `"unused"`.
        check_num_classes: bool, require the 51 official classes (turn off
            for a subset of the classes). Defaults to `True`.
        **options: `prepare_videos` options (`workers`, `progress`,
            `extract_frames`, `jpeg_quality`, `decode`, `retry_unreadable`).

    Returns:
        dict subset -> `VideoList` (names `"hmdb51/<subset>_split<N>"`).

    Raises:
        FileNotFoundError: with the download instructions, if the videos or
            the split files are missing.
        ValueError: for invalid arguments.

    Example:
    >>> out = prepare_hmdb51("hmdb51_org", "testTrainMulti_7030_splits",
    ...                      "hmdb51", split=1)  # doctest: +SKIP
    >>> len(out["train"]), len(out["test"])  # doctest: +SKIP
    (3570, 1530)
    """
    split = _check_split(split)
    subsets = (subsets,) if isinstance(subsets, str) else tuple(subsets)
    if not subsets:
        raise ValueError("`subsets` must name at least one subset. "
                         f"Received: subsets={subsets!r}")
    result = {}
    for subset in subsets:
        class_names, entries = hmdb51_entries(source_dir, splits_dir, split,
                                              subset)
        if check_num_classes:
            preparation.check_num_classes(
                class_names, NUM_CLASSES, "splits_dir", splits_dir,
                " Pass `check_num_classes=False` to prepare fewer classes.")
        result[subset] = preparation.prepare_videos(
            entries, output_dir, f"{subset}_split{split}", class_names,
            dataset="hmdb51", **options)
    return result


def hmdb51_videos(output_dir, split=1, subset="test"):
    """Reads a subset prepared by `prepare_hmdb51` as a `VideoList`.

    Raises:
        FileNotFoundError: with the download instructions and the
            preparation command, if the subset is not prepared.

    Example:
    >>> videos = hmdb51_videos("/data/hmdb51", split=1, subset="test")  # doctest: +SKIP
    >>> len(videos), videos.num_classes  # doctest: +SKIP
    (1530, 51)
    """
    split = _check_split(split)
    return preparation.read_prepared_videos(
        output_dir, f"{_check_subset(subset)}_split{split}",
        download_instructions(os.fspath(output_dir), split), "hmdb51")


def main(argv=None):
    """`python -m deltasparse.data.datasets.hmdb51 ...`; returns 0 or 1."""
    parser = argparse.ArgumentParser(
        prog="prepare_hmdb51",
        description="List (and optionally extract) the videos of an "
                    "official HMDB51 split, in parallel and resumably.")
    parser.add_argument("--source", required=True,
                        help="unpacked hmdb51_org/ (<class>/<video>.avi)")
    parser.add_argument("--splits", required=True,
                        help="unpacked testTrainMulti_7030_splits/")
    parser.add_argument("--split", type=int, nargs="+", default=[1],
                        choices=(1, 2, 3), help="official split(s)")
    parser.add_argument("--subsets", nargs="+", default=["train", "test"],
                        choices=sorted(SUBSET_TAGS))
    preparation.add_preparation_arguments(parser)
    args = parser.parse_args(argv)

    def prepare():
        out = {}
        for split in args.split:
            for videos in prepare_hmdb51(
                    args.source, args.splits, args.output, split,
                    args.subsets,
                    **preparation.preparation_options(args)).values():
                out[videos.name] = videos
        return out

    return preparation.run_command(prepare, args.output)


__all__ = ["NUM_CLASSES", "download_instructions", "hmdb51_entries",
           "hmdb51_videos", "prepare_hmdb51", "read_split_file",
           "split_files"]

if __name__ == "__main__":
    sys.exit(main())
