"""Something-Something V2 from its JSON label files.

The release (Goyal et al., ICCV 2017; 20BN, now distributed by Qualcomm)
holds `20bn-something-something-v2/<id>.webm` and the label files:

- `something-something-v2-labels.json`: `{template: "index"}`, 174
  classes, e.g. `{"Approaching something with your camera": "0", ...}`;
- `something-something-v2-train.json` / `-validation.json`: a list of
  `{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
  "template": "Holding [something] next to [something]", "placeholders":
  [...]}`; the class is the template with its brackets removed
  (`"Holding something next to something"`);
- `something-something-v2-test.json`: `[{"id": "1420"}, ...]`, no labels.

Labels follow the index of the labels file (not sorted names), as TSM's
and MMAction2's preparations do. Videos missing from the folder are
listed in `missing_<subset>.txt` with a warning, as for Kinetics.

Run: python -m deltasparse.data.datasets.something_something --labels
         something-something-v2-labels.json --annotations
         something-something-v2-validation.json --videos
         20bn-something-something-v2 --output sthv2 --subset val
"""

import argparse
import json
import os
import sys

from deltasparse.data.datasets import video_preparation as preparation

SOMETHING_SOMETHING_URL = (
    "https://developer.qualcomm.com/software/ai-datasets/something-something")
NUM_CLASSES = 174


def download_instructions(output_dir="<data>/sthv2", subset="train"):
    """What to download and which command prepares Something-Something V2.

    Example:
    >>> print(download_instructions().splitlines()[0])
    Something-Something V2 must be downloaded by hand (deltasparse never downloads):
    """
    return preparation.missing_data_message("Something-Something V2", [
        f"{SOMETHING_SOMETHING_URL} (free account): the video parts "
        "20bn-something-something-v2-??, joined and unpacked to "
        "<data>/20bn-something-something-v2/<id>.webm;",
        "the labels zip: something-something-v2-{labels,train,validation,"
        "test}.json."],
        "python dataset_preparation/prepare_something_something.py --labels "
        "<data>/something-something-v2-labels.json --annotations "
        f"<data>/something-something-v2-{subset}.json --videos "
        f"<data>/20bn-something-something-v2 --output {output_dir} "
        f"--subset {subset}")


def template_to_class(template):
    """The class name of an annotation template: brackets removed.

    Example:
    >>> template_to_class("Putting [something] on a surface")
    'Putting something on a surface'
    """
    return template.replace("[", "").replace("]", "")


def _read_json(path, argument):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"`{argument}` must be a Something-Something V2 JSON file.\n"
            f"{download_instructions()}\nReceived: {argument}={path!r}")
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except ValueError as e:
            raise ValueError(f"`{argument}` is not valid JSON ({e}). "
                             f"Received: {argument}={path!r}") from None


def read_labels(labels_json):
    """Class names in label order from `something-something-v2-labels.json`.

    Raises:
        ValueError: if the indices are not 0..N-1 exactly once.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.json")
    >>> _ = open(path, "w").write('{"Pushing something": "1", '
    ...                           '"Holding something": "0"}')
    >>> read_labels(path)
    ['Holding something', 'Pushing something']
    """
    data = _read_json(labels_json, "labels_json")
    try:
        by_index = {int(v): str(k) for k, v in data.items()}
    except (AttributeError, TypeError, ValueError):
        by_index = {}
    if not by_index or len(by_index) != len(data) or sorted(by_index) != list(
            range(len(data))):
        raise ValueError(
            "`labels_json` must map every template to a distinct index "
            "0..N-1, e.g. {\"Holding something\": \"0\"}. Received: "
            f"labels_json={os.fspath(labels_json)!r}")
    return [by_index[j] for j in range(len(by_index))]


def read_annotations(annotations_json, class_names):
    """`[(video id, labels)]` of a train/validation/test JSON file.

    Test entries (no `template`) get no label.

    Raises:
        ValueError: if an entry has no `id` or an unknown template.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "val.json")
    >>> _ = open(path, "w").write('[{"id": "7", "label": "holding a cup", '
    ...     '"template": "Holding [something]", "placeholders": ["a cup"]}]')
    >>> read_annotations(path, ["Holding something"])
    [('7', (0,))]
    """
    label_of = {c: j for j, c in enumerate(class_names)}
    data = _read_json(annotations_json, "annotations_json")
    if not isinstance(data, list):
        raise ValueError(
            "`annotations_json` must hold a list of {\"id\", \"template\", "
            "...} entries. Received: annotations_json="
            f"{os.fspath(annotations_json)!r}")
    rows = []
    for entry in data:
        if not isinstance(entry, dict) or "id" not in entry:
            raise ValueError(
                "Every entry of `annotations_json` needs an `id`. Received: "
                f"{entry!r}")
        labels = ()
        if entry.get("template") is not None:
            name = template_to_class(entry["template"])
            if name not in label_of:
                raise ValueError(
                    f"`annotations_json` entry {entry['id']!r} has the "
                    f"template {entry['template']!r}, which is not in the "
                    "labels file. Received: annotations_json="
                    f"{os.fspath(annotations_json)!r}")
            labels = (label_of[name],)
        rows.append((str(entry["id"]), labels))
    return rows


def _find_video(videos_dir, video_id):
    for ext in (".webm", *preparation.VIDEO_EXTENSIONS):
        path = os.path.join(videos_dir, video_id + ext)
        if os.path.isfile(path):
            return path
    return None


def prepare_something_something(labels_json, annotations_json, videos_dir,
                                output_dir, subset, check_num_classes=True,
                                **options):
    """Prepares one Something-Something V2 subset.

    Args:
        labels_json: str, `something-something-v2-labels.json`.
        annotations_json: str, the subset's JSON (`...-train.json`,
            `...-validation.json`, `...-test.json`).
        videos_dir: str, the folder of `<id>.webm`.
        output_dir: str, the prepared folder (the subsets share it).
        subset: str, the list's name, e.g. `"train"`, `"val"`.
        check_num_classes: bool, require the 174 official classes.
        **options: `prepare_videos` options (`workers`, `progress`,
            `extract_frames`, `jpeg_quality`, `decode`, `retry_unreadable`).

    Returns:
        The `VideoList` (`"something_something_v2/<subset>"`).

    Raises:
        FileNotFoundError: with the download instructions, if a JSON file
            or the videos are missing.
        ValueError: for invalid arguments or files.

    Example:
    >>> prepare_something_something("labels.json", "validation.json",
    ...     "20bn-something-something-v2", "sthv2", "val")  # doctest: +SKIP
    """
    subset = preparation.check_name(subset, "subset")
    class_names = read_labels(labels_json)
    if check_num_classes:
        preparation.check_num_classes(
            class_names, NUM_CLASSES, "labels_json", os.fspath(labels_json),
            " Pass `check_num_classes=False` for another label set.")
    rows = read_annotations(annotations_json, class_names)
    entries, missing = [], []
    for video_id, labels in rows:
        source = _find_video(videos_dir, video_id)
        if source is None:
            missing.append((video_id, f"{video_id}.webm"))
        else:
            entries.append(preparation.PreparationEntry(
                preparation.safe_video_id(video_id), source, labels))
    if not entries:
        raise FileNotFoundError(
            f"None of the {len(rows)} videos of `annotations_json` is in "
            "`videos_dir` (<id>.webm).\n"
            f"{download_instructions(os.fspath(output_dir), subset)}\n"
            f"Received: videos_dir={videos_dir!r}")
    preparation.write_missing_list(output_dir, subset, missing, len(rows))
    return preparation.prepare_videos(
        entries, output_dir, subset, class_names,
        dataset="something_something_v2", **options)


def something_something_videos(output_dir, subset):
    """Reads a subset prepared by `prepare_something_something`.

    Raises:
        FileNotFoundError: with the download instructions and the
            preparation command, if the subset is not prepared.

    Example:
    >>> something_something_videos("/data/sthv2", "val").num_classes  # doctest: +SKIP
    174
    """
    return preparation.read_prepared_videos(
        output_dir, subset,
        download_instructions(os.fspath(output_dir), subset),
        "something_something_v2")


def main(argv=None):
    """`python -m deltasparse.data.datasets.something_something ...`."""
    parser = argparse.ArgumentParser(
        prog="prepare_something_something",
        description="List (and optionally extract) the videos of a "
                    "Something-Something V2 subset, resumably.")
    parser.add_argument("--labels", required=True,
                        help="something-something-v2-labels.json")
    parser.add_argument("--annotations", required=True,
                        help="the subset's JSON, e.g. "
                             "something-something-v2-validation.json")
    parser.add_argument("--videos", required=True,
                        help="folder of <id>.webm")
    parser.add_argument("--subset", required=True,
                        help="list name, e.g. train, val, test")
    parser.add_argument("--any-num-classes", action="store_true",
                        help="do not require the 174 official classes")
    preparation.add_preparation_arguments(parser)
    args = parser.parse_args(argv)
    return preparation.run_command(lambda: prepare_something_something(
        args.labels, args.annotations, args.videos, args.output, args.subset,
        check_num_classes=not args.any_num_classes,
        **preparation.preparation_options(args)), args.output)


__all__ = ["NUM_CLASSES", "download_instructions",
           "prepare_something_something",
           "read_annotations", "read_labels", "something_something_videos",
           "template_to_class"]

if __name__ == "__main__":
    sys.exit(main())
