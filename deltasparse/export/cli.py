"""`deltasparse-export`: export a trained model and prove each format.

Run: deltasparse-export MODEL --output DIR [--formats keras saved_model
tflite_float32 tflite_dynamic_range tflite_int8] [--data ROOT] [--clips N]
[--tolerance 1e-4] [--int8-tolerance 0.1] [--strict]

MODEL is a `.keras` file, a model bundle folder or a finished run's folder
(`load_model_bundle`). Sample clips (parity) and representative clips (int8
calibration) come from `--data`, a prepared UCF-style split root read with
`clip_dataset(root, clip_length, subset="test", ...)` (int8 calibration:
`subset="train"`) and the bundle's frame size and preprocessing; without `--data`, from the run folder's
Sacred `info.json` (`data.root`) when MODEL is a run folder; otherwise
random clips, with a warning. The command prints a table and exits with 1
when a float format (keras, saved_model, tflite_float32) differs from the
Keras model by more than the tolerance or failed to convert; the quantized
formats count only with `--strict`.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

from deltasparse.export.formats import DEFAULT_INT8_TOLERANCE
from deltasparse.export.formats import DEFAULT_TOLERANCE
from deltasparse.export.formats import FORMATS
from deltasparse.export.formats import export_model
from deltasparse.export.model_files import load_model_bundle

RUN_INFO_FILE = "info.json"


def run_data_root(model_path):
    """`(root, source)` recorded in a Sacred run folder's `info.json`
    (`data.root`, `data.source`), or `(None, None)`."""
    folder = model_path if os.path.isdir(model_path) else os.path.dirname(
        os.path.abspath(model_path))
    path = os.path.join(folder, RUN_INFO_FILE)
    if not os.path.isfile(path):
        return None, None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle).get("data") or {}
    return data.get("root"), data.get("source")


def data_clips(root, bundle, num_clips, source="frames", seed=0,
               subset="test"):
    """`num_clips` preprocessed clips of a subset of a prepared split root,
    in the bundle's clip length, frame size and preprocessing (shuffled
    with `seed`, so they come from several videos)."""
    from deltasparse.data.video.pipeline import clip_dataset

    dataset = clip_dataset(
        root, bundle.clip_length, subset=subset, batch_size=num_clips,
        image_size=bundle.image_size,
        preprocessing=bundle.preprocessing, shuffle=True, seed=seed,
        source=source or "frames", progress=False)
    clips, _ = next(iter(dataset))
    return np.asarray(clips, dtype="float32")


def format_table(report):
    """The report as a text table, one row per format."""
    header = ("format", "size", "max abs diff", "top-1 agree", "passed",
              "flex ops", "float ops (int8)")
    rows = [header]
    for name, result in report.formats.items():
        if result.error:
            rows.append((name, "-", "-", "-", "no",
                         "error: " + result.error.splitlines()[0][:60], ""))
            continue
        floats = ""
        if name == "tflite_int8":
            floats = f"{len(result.float_ops)} ops in " + (
                f"{len(result.float_layers)} layers")
        rows.append((
            name, f"{result.size_bytes / 1e6:.2f} MB",
            f"{result.max_abs_diff:.3g} (<= {result.tolerance:g})",
            f"{result.top1_agreement:.3f}",
            "yes" if result.passed else "NO",
            ", ".join(result.flex_ops) or "-", floats))
    widths = [max(len(str(row[i])) for row in rows)
              for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths))
                     .rstrip() for row in rows)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="deltasparse-export",
        description="Export a video model (.keras, SavedModel, TFLite) and "
        "check every format against the Keras model.")
    parser.add_argument("model", help="a .keras file, a model bundle folder "
                        "or a run folder")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS),
                        choices=FORMATS, help="formats to export "
                        "(default: all)")
    parser.add_argument("--data", default=None, help="prepared UCF-style "
                        "split root for sample and calibration clips")
    parser.add_argument("--source", default=None, choices=("frames", "video"),
                        help="read `--data` frames or videos (default: the "
                        "run's, else frames)")
    parser.add_argument("--clips", type=int, default=8,
                        help="number of sample clips (default 8)")
    parser.add_argument("--clip-length", type=int, default=None,
                        help="frames per clip when the model does not say")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="max abs difference of the float formats "
                        "(default 1e-4)")
    parser.add_argument("--int8-tolerance", type=float,
                        default=DEFAULT_INT8_TOLERANCE,
                        help="max abs difference of the quantized formats "
                        "(default 0.1)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 also when a quantized format fails")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    """Entry point of `deltasparse-export`; returns the exit code (1 with
    one `error:` line for a missing model or data, or a bad argument)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.clips < 1:
        parser.error(f"`--clips` must be >= 1. Received: clips={args.clips}")
    try:
        return _export(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _export(args):
    bundle = load_model_bundle(args.model)
    if args.clip_length is not None:
        bundle.clip_length = args.clip_length
    root, source = args.data, args.source
    if root is None:
        # The folder the model was found in (results/<experiment> stands
        # for its newest run), then what the bundle itself records.
        root, run_source = run_data_root(bundle.path)
        if root is None:
            root = bundle.info.get("data_root")
            run_source = bundle.info.get("source")
        source = source or run_source
        if root is not None and not os.path.isdir(root):
            print(f"warning: the run's data root {root!r} is missing; "
                  "using random clips", file=sys.stderr)
            root = None
    clips = representative = None
    if root is not None:
        clips = data_clips(root, bundle, args.clips, source, args.seed)
        print(f"sample clips: {len(clips)} test clips of {root}")
        if "tflite_int8" in args.formats:
            representative = data_clips(root, bundle, args.clips, source,
                                        args.seed, subset="train")
            print(f"int8 calibration: {len(representative)} train clips")
    else:
        print("warning: no --data and no run data root: the parity check "
              "uses random clips", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = export_model(
            bundle, args.output, formats=args.formats, sample_clips=clips,
            representative_clips=representative,
            tolerance=args.tolerance, int8_tolerance=args.int8_tolerance,
            seed=args.seed, num_sample_clips=args.clips,
            sample_source=None if root is None else f"test clips of {root}")
    print(format_table(report))
    print(f"report: {report.report_path}")
    passed = report.passed if args.strict else report.float_formats_passed
    if not passed:
        print("export: a format differs from the Keras model by more than "
              "its tolerance (or failed to convert)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
