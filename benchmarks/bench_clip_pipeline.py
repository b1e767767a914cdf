"""Throughput of the tf.data clip pipeline (clips/s), frames vs video source.

Not a test. Generates (once, cached) a synthetic action dataset with
UCF101-like videos (default 240x240 MJPG, 150 frames; UCF101 is 320x240 xvid,
~186 frames on average), prepares it, then for every combination of source
(`frames`, `video` decoded from the start, `video+seek`), clip length T
(2, 16) and augmentation (on, off) builds `clip_dataset` at 224x224 with
"caffe" preprocessing and shuffling, pulls one warm-up batch and times
`--batches` batches. Prints clips/s and frames/s.

Compare with what the model consumes: the original delta ResNet50 trained at
~40 clips/s (T=2, batch 16, 398 ms/step on a GPU, spec §8), so the input
pipeline must deliver more than that on the training machine.

Run: python benchmarks/bench_clip_pipeline.py
     python benchmarks/bench_clip_pipeline.py --root <prepared split> --batches 20
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from deltasparse.data.video import clip_dataset  # noqa: E402
from deltasparse.data.datasets.synthetic_actions import ensure_synthetic_ucf  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=None,
                   help="prepared split root (default: generate a synthetic "
                        "one in a cache folder)")
    p.add_argument("--cache", default=os.path.join(
        tempfile.gettempdir(), "deltasparse_bench_clips"))
    p.add_argument("--video-size", type=int, default=240,
                   help="side of the generated videos")
    p.add_argument("--frames", type=int, default=150,
                   help="frames per generated video (UCF101: ~186 on average)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--sources", nargs="+", default=["frames", "video",
                                                    "video+seek"],
                   choices=["frames", "video", "video+seek"])
    p.add_argument("--steps", nargs="+", type=int, default=[2, 16])
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--clips-per-batch", type=int, default=16,
                   help="batch size at T=2; longer clips use 32/T (min 1)")
    return p.parse_args(argv)


def measure(root, source, t, augment, batch, batches, image_size, seek):
    ds = clip_dataset(root, t, sequence_stride=max(1, t // 2), subset="train",
                      batch_size=batch, image_size=(image_size, image_size),
                      preprocessing="caffe", augment=augment, shuffle=True,
                      seed=0, source=source, drop_remainder=True,
                      progress=False, video_seek=seek)
    it = iter(ds)
    next(it)  # warm-up: tracing, thread pools, first prefetch
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        x, _ = next(it)
        n += int(x.shape[0])
    dt = time.perf_counter() - start
    return n / dt


def main(argv=None):
    args = parse_args(argv)
    root = args.root
    if root is None:
        t0 = time.perf_counter()
        root = ensure_synthetic_ucf(
            cache_dir=args.cache, classes=4, videos_per_class=6,
            clips_per_group=3, test_groups=1, frames=args.frames,
            size=args.video_size,
            progress=True)
        print(f"dataset: {root} ({time.perf_counter() - t0:.1f} s)")
    print(f"tf {tf.__version__}, {os.cpu_count()} CPU cores, image "
          f"{args.image_size}x{args.image_size}, caffe preprocessing, "
          "shuffled")
    print(f"{'source':<12}{'T':>4}{'batch':>7}{'augment':>9}"
          f"{'clips/s':>10}{'frames/s':>10}")
    for source in args.sources:
        for t in args.steps:
            batch = max(1, args.clips_per_batch * 2 // t)
            for augment in (True, False):
                rate = measure(root, source.split("+")[0], t, augment, batch,
                               args.batches, args.image_size,
                               source.endswith("+seek"))
                print(f"{source:<12}{t:>4}{batch:>7}{str(augment):>9}"
                      f"{rate:>10.1f}{rate * t:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
