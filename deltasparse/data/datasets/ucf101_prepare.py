"""Command line front end of `deltasparse.data.datasets.ucf101.prepare_ucf101`.

Run: deltasparse-prepare-ucf101 --source /data/UCF-101
         --lists /data/ucfTrainTestlist --output /data/ucf101 --split 1

(equivalently `python -m deltasparse.data.datasets.ucf101_prepare ...` or
`python dataset_preparation/prepare_ucf101.py ...`). The run is resumable:
interrupt it and start the same command again.
"""

import argparse
import logging
import sys

from deltasparse.data.datasets import ucf101


def build_parser():
    """Returns the `argparse.ArgumentParser` of the command."""
    parser = argparse.ArgumentParser(
        prog="deltasparse-prepare-ucf101",
        description=(
            "Build the UCF101 train/test layout (videos + every frame as "
            "JPEG) of an official split, in parallel and resumably. Inputs: "
            "UCF101.rar unpacked to UCF-101/ and the "
            "UCF101TrainTestSplits-RecognitionTask zip unpacked to "
            "ucfTrainTestlist/."),
        epilog=(
            "Output: <output>/split<N>/{train,test}/<Class>/<video>.avi, "
            "<output>/split<N>/{train,test}_frames/<Class>/<video>.avi_<k>.jpg, "
            "{train,test}_index.json and corrupt_videos.txt."),
    )
    parser.add_argument(
        "--source", required=True,
        help="unpacked UCF-101/ folder (or the folder that contains it)")
    parser.add_argument(
        "--lists", default=None,
        help="unpacked ucfTrainTestlist/ folder (default: search next to "
             "--source)")
    parser.add_argument(
        "--output", required=True, help="output folder; split<N>/ goes here")
    parser.add_argument(
        "--split", type=int, nargs="+", default=[1], choices=(1, 2, 3),
        help="official split(s) to prepare (default: 1)")
    parser.add_argument(
        "--subsets", nargs="+", default=list(ucf101.SUBSETS),
        choices=ucf101.SUBSETS, help="subsets to prepare (default: both)")
    parser.add_argument(
        "--no-frames", action="store_true",
        help="only place the videos; do not extract JPEG frames")
    parser.add_argument(
        "--workers", type=int, default=None,
        help="worker processes (default: CPU count, at most 8; 1 = serial)")
    parser.add_argument(
        "--link", default="hardlink", choices=("hardlink", "symlink", "copy"),
        help="how videos are placed (default: hardlink, copy as fallback)")
    parser.add_argument(
        "--jpeg-quality", type=int, default=95,
        help="JPEG quality 1-100 (default: 95, OpenCV's default)")
    parser.add_argument(
        "--retry-corrupt", action="store_true",
        help="retry videos an earlier run found unreadable")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Runs the command.

    Args:
        argv: list of str or None (None reads `sys.argv[1:]`).

    Returns:
        int exit status: 0 on success, 1 (after one `error: ...` line on
        stderr) if inputs are missing or invalid, the output folder is a
        file or cannot be written, or another preparation holds its lock.

    Example:
    >>> main(["--source", "/data/UCF-101", "--output", "/data/ucf101"])  # doctest: +SKIP
    0
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for split in args.split:
        try:
            result = ucf101.prepare_ucf101(
                args.source, args.lists, args.output, split=split,
                extract_frames=not args.no_frames, workers=args.workers,
                link=args.link, jpeg_quality=args.jpeg_quality,
                subsets=tuple(args.subsets),
                retry_corrupt=args.retry_corrupt, progress=not args.quiet)
        except (OSError, ValueError, ucf101.PreparationLockedError) as e:
            # Missing inputs, a bad or unwritable --output, a full disk, or
            # another preparation running on the same folder: no traceback.
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"split{split}: {result.root}")
        for subset in args.subsets:
            print(f"  {subset}: {result.prepared[subset]} prepared, "
                  f"{result.skipped[subset]} already done, "
                  f"{len(result.frames[subset])} usable videos")
        if result.corrupt:
            print(f"  {len(result.corrupt)} unreadable video(s) skipped, "
                  f"listed in {result.root}/corrupt_videos.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
