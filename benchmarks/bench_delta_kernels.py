"""Speed of the incremental delta kernels against their dense routines.

Not a test. For every distinct linear layer of MobileNet (alpha 1) and
ResNet50 at 224x224 (random weights, BatchNorm assumed folded), times one
`update(y, delta, changed)` on a random input change of each density, three
ways, side by side in one process (median of `--repeats` warm calls):
`dense` (the kernel's dense routine on the whole delta, forced with
`dense_above=0`), `sparse` (gather -> matmul -> scatter-add forced with
`dense_above=inf`) and `auto` (the calibrated `dense_above` default).
`--tf` adds the time of the same dense layer as a compiled TensorFlow
function (`tf.nn.conv2d` / `depthwise_conv2d` / `matmul` in a
`tf.function`, output copied back to NumPy) for reference.

Densities are the fraction of changed INPUT pixels. `--block 1` changes
independent pixels (the worst case for k x k kernels: the receptive-field
dilation multiplies the output pixels to recompute); `--block 4` changes
4x4 squares (moving objects). The table reports, per model, kernel kind and
density, the summed times of that kind's layers, the fraction of dense MACs
executed, and speed-up = dense / auto.

`--calibrate` instead measures the break-even fraction of every layer
(`calibration.measure_break_even`) and prints the median per kernel kind
and size class: the numbers in `calibration.DEFAULT_THRESHOLDS`.

Run (about 20 s each on 2 cores):
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_delta_kernels.py --tf
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_delta_kernels.py \
        --calibrate
"""

import argparse
import collections
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from deltasparse.inference.streaming import calibration  # noqa: E402
from deltasparse.inference.streaming.kernels import Conv2DKernel  # noqa: E402
from deltasparse.inference.streaming.kernels import DenseKernel  # noqa: E402
from deltasparse.inference.streaming.kernels import (  # noqa: E402
    DepthwiseConv2DKernel)

# (kind, input height = width, cin, cout, kernel size, stride, padding, count)
# `count` = how many layers of the model have this shape; the input sizes
# are after the model's ZeroPadding2D where it has one.
MOBILENET_LAYERS = [
    ("conv", 225, 3, 32, 3, 2, "valid", 1),
    ("depthwise", 112, 32, 32, 3, 1, "same", 1),
    ("conv1x1", 112, 32, 64, 1, 1, "same", 1),
    ("depthwise", 113, 64, 64, 3, 2, "valid", 1),
    ("conv1x1", 56, 64, 128, 1, 1, "same", 1),
    ("depthwise", 56, 128, 128, 3, 1, "same", 1),
    ("conv1x1", 56, 128, 128, 1, 1, "same", 1),
    ("depthwise", 57, 128, 128, 3, 2, "valid", 1),
    ("conv1x1", 28, 128, 256, 1, 1, "same", 1),
    ("depthwise", 28, 256, 256, 3, 1, "same", 1),
    ("conv1x1", 28, 256, 256, 1, 1, "same", 1),
    ("depthwise", 29, 256, 256, 3, 2, "valid", 1),
    ("conv1x1", 14, 256, 512, 1, 1, "same", 1),
    ("depthwise", 14, 512, 512, 3, 1, "same", 5),
    ("conv1x1", 14, 512, 512, 1, 1, "same", 5),
    ("depthwise", 15, 512, 512, 3, 2, "valid", 1),
    ("conv1x1", 7, 512, 1024, 1, 1, "same", 1),
    ("depthwise", 7, 1024, 1024, 3, 1, "same", 1),
    ("conv1x1", 7, 1024, 1024, 1, 1, "same", 1),
    ("dense", 1, 1024, 101, 1, 1, None, 1),
]
RESNET50_LAYERS = [
    ("conv", 230, 3, 64, 7, 2, "valid", 1),
    ("conv1x1", 56, 64, 64, 1, 1, "same", 1),
    ("conv", 56, 64, 64, 3, 1, "same", 3),
    ("conv1x1", 56, 64, 256, 1, 1, "same", 4),
    ("conv1x1", 56, 256, 64, 1, 1, "same", 2),
    ("conv1x1", 56, 256, 128, 1, 2, "same", 1),
    ("conv1x1", 56, 256, 512, 1, 2, "same", 1),
    ("conv", 28, 128, 128, 3, 1, "same", 4),
    ("conv1x1", 28, 128, 512, 1, 1, "same", 4),
    ("conv1x1", 28, 512, 128, 1, 1, "same", 3),
    ("conv1x1", 28, 512, 256, 1, 2, "same", 1),
    ("conv1x1", 28, 512, 1024, 1, 2, "same", 1),
    ("conv", 14, 256, 256, 3, 1, "same", 6),
    ("conv1x1", 14, 256, 1024, 1, 1, "same", 6),
    ("conv1x1", 14, 1024, 256, 1, 1, "same", 5),
    ("conv1x1", 14, 1024, 512, 1, 2, "same", 1),
    ("conv1x1", 14, 1024, 2048, 1, 2, "same", 1),
    ("conv", 7, 512, 512, 3, 1, "same", 3),
    ("conv1x1", 7, 512, 2048, 1, 1, "same", 3),
    ("conv1x1", 7, 2048, 512, 1, 1, "same", 2),
    ("dense", 1, 2048, 101, 1, 1, None, 1),
]
MODELS = {"mobilenet": MOBILENET_LAYERS, "resnet50": RESNET50_LAYERS}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS),
                        choices=list(MODELS))
    parser.add_argument("--densities", nargs="+", type=float,
                        default=[0.05, 0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--batch", type=int, default=1,
                        help="streams per batch")
    parser.add_argument("--block", type=int, default=1,
                        help="side of the changed squares (1: pixels)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tf", action="store_true",
                        help="also time the dense layer in TensorFlow")
    parser.add_argument("--calibrate", action="store_true",
                        help="measure break-even fractions instead")
    return parser.parse_args(argv)


def build_kernel(spec, rng):
    kind, _, cin, cout, size, stride, padding, _ = spec
    scale = 1.0 / np.sqrt(size * size * cin)
    if kind == "dense":
        return DenseKernel(
            (rng.standard_normal((cin, cout)) * scale).astype(np.float32),
            np.zeros(cout, np.float32))
    if kind == "depthwise":
        return DepthwiseConv2DKernel(
            (rng.standard_normal((size, size, cin, 1)) * scale).astype(
                np.float32), None, strides=stride, padding=padding)
    return Conv2DKernel(
        (rng.standard_normal((size, size, cin, cout)) * scale).astype(
            np.float32), None, strides=stride, padding=padding)


def input_shape(spec, batch):
    kind, height, cin = spec[:3]
    return (batch, cin) if kind == "dense" else (batch, height, height, cin)


def tf_dense_seconds(kernel, spec, shape, repeats):
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).standard_normal(shape).astype(
        np.float32))
    kind, _, _, _, _, stride, padding, _ = spec
    weights = tf.constant(kernel.kernel)
    if kind == "dense":
        function = tf.function(lambda a: tf.matmul(a, weights))
    elif kind == "depthwise":
        weights = tf.constant(kernel.kernel[..., None])
        function = tf.function(lambda a: tf.nn.depthwise_conv2d(
            a, weights, [1, stride, stride, 1], padding.upper()))
    else:
        function = tf.function(lambda a: tf.nn.conv2d(
            a, weights, stride, padding.upper()))
    return calibration._median_times([lambda: function(x).numpy()], repeats)[0]


def benchmark(args):
    rng = np.random.default_rng(0)
    print(f"batch {args.batch}, block {args.block}, median of "
          f"{args.repeats}, OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}")
    header = ("| model | kind | layers | density | MACs executed | dense ms "
              "| sparse ms | auto ms | speed-up (dense / auto) |"
              + (" TF dense ms |" if args.tf else ""))
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for model in args.models:
        layers = MODELS[model]
        kernels = [build_kernel(spec, rng) for spec in layers]
        tf_times = collections.Counter()
        if args.tf:
            for spec, kernel in zip(layers, kernels):
                seconds = spec[7] * tf_dense_seconds(
                    kernel, spec, input_shape(spec, args.batch),
                    args.repeats)
                tf_times[kernel.kind] += seconds
                tf_times["all"] += seconds
        for density in args.densities:
            totals = collections.defaultdict(collections.Counter)
            for spec, kernel in zip(layers, kernels):
                row = calibration.time_update(
                    kernel, input_shape(spec, args.batch), density,
                    args.repeats, block=args.block)
                macs = kernel.dense_macs * spec[7]
                for key in (kernel.kind, "all"):
                    total = totals[key]
                    total["layers"] += spec[7]
                    total["dense_macs"] += macs
                    total["executed"] += macs * row["fraction"]
                    for name in ("dense_s", "sparse_s", "auto_s"):
                        total[name] += spec[7] * row[name]
            for key in sorted(totals, key=lambda k: (k == "all", k)):
                total = totals[key]
                line = (f"| {model} | {key} | {total['layers']} | "
                        f"{density:.2f} | "
                        f"{total['executed'] / total['dense_macs']:.2f} | "
                        f"{1e3 * total['dense_s']:.2f} | "
                        f"{1e3 * total['sparse_s']:.2f} | "
                        f"{1e3 * total['auto_s']:.2f} | "
                        f"{total['dense_s'] / total['auto_s']:.2f}x |")
                if args.tf:
                    line += f" {1e3 * tf_times[key]:.2f} |"
                print(line, flush=True)


def calibrate(args):
    rng = np.random.default_rng(0)
    found = collections.defaultdict(list)
    densities = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7,
                 1.0)
    for model in args.models:
        for spec in MODELS[model]:
            kernel = build_kernel(spec, rng)
            shape = input_shape(spec, args.batch)
            break_even, _ = calibration.measure_break_even(
                kernel, shape, densities, args.repeats, block=args.block)
            out_pixels = 1 if spec[0] == "dense" else int(np.prod(
                kernel.output_shape(shape)[1:3]))
            size = calibration.size_class(out_pixels)
            found[(kernel.kind, size)].append(break_even)
            print(f"{model} {spec[:7]} {kernel.kind} {size}: break-even "
                  f"fraction {break_even:.2f}", flush=True)
    print("median break-even per (kind, size class):")
    for key in sorted(found):
        print(f"    {key!r}: {statistics.median(found[key]):.2f},"
              f"  # {len(found[key])} layers")


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    (calibrate if args.calibrate else benchmark)(args)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
