"""Forward time of the time-distributed ResNet50 / MobileNet, delta vs baseline.

Not a test. Builds each model (random weights, nothing downloaded), runs one
warm-up `predict_on_batch` (graph tracing / compilation, excluded), then
times `--repeats` calls of the compiled predict function on one clip batch
and prints a table (median and min wall time per clip batch and per frame),
plus the counted sparsity figures of the delta model on that (random) batch.

With random weights and random frames these figures say nothing about trained
sparsity; the timing shows what the dense execution of the extra delta
layers (quantization, temporal differences, counting) costs. The delta
model does NOT skip work in dense Keras execution: an event-driven engine is
needed to turn `op_ratio_counted` into saved time.

Run (the paper's setting; slow on a small CPU):
    python benchmarks/bench_td_forward.py
A quicker CPU run:
    python benchmarks/bench_td_forward.py --steps 4 --repeats 3
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from deltasparse.evaluation import layer_sparsity  # noqa: E402
from deltasparse.models import VideoClassifier  # noqa: E402
from deltasparse.models.sparsity_figures import sparsity_figures  # noqa: E402

BUILDERS = ("mobilenet", "resnet50")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["resnet50", "mobilenet"],
                        choices=sorted(BUILDERS))
    parser.add_argument("--variants", nargs="+", default=["baseline", "delta"],
                        choices=["baseline", "l1", "delta"])
    parser.add_argument("--size", type=int, default=224, help="frame side")
    parser.add_argument("--steps", type=int, default=16, help="clip length T")
    parser.add_argument("--batch", type=int, default=1, help="clips per batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--thr-init", type=float, default=0.05,
                        help="initial delta step of every slot (random "
                        "weights give small activations: with the trained "
                        "models' steps of 1-4 nearly all of them round to 0)")
    parser.add_argument("--jit", action="store_true",
                        help="compile with XLA (jit_compile=True)")
    return parser.parse_args(argv)


def bench(arch, variant, args):
    keras.utils.set_random_seed(0)
    sparsity = None if variant == "baseline" else variant
    t0 = time.perf_counter()
    model = VideoClassifier.from_preset(
        f"{arch}_{variant}", num_classes=101,
        image_size=(args.size, args.size),
        thr_init=args.thr_init if sparsity == "delta" else None)
    build_s = time.perf_counter() - t0
    model.compile(jit_compile=args.jit)
    rng = np.random.default_rng(0)
    # Preprocessed ranges: caffe mode (about +-128) for ResNet50,
    # [-1, 1] for MobileNet. Consecutive frames differ a little.
    scale = 128.0 if arch == "resnet50" else 1.0
    shape = (args.batch, 1, args.size, args.size, 3)
    x = rng.uniform(-scale, scale, shape)
    x = x + 0.1 * scale * rng.normal(size=(args.batch, args.steps) + shape[2:])
    x = x.astype("float32")
    t0 = time.perf_counter()
    model.predict_on_batch(x)  # trace / compile: excluded
    warmup_s = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - t0)
    row = {
        "model": arch,
        "variant": variant,
        "params": model.count_params(),
        "build_s": build_s,
        "warmup_s": warmup_s,
        "median_ms": 1e3 * statistics.median(times),
        "min_ms": 1e3 * min(times),
    }
    row["ms_per_frame"] = row["median_ms"] / (args.batch * args.steps)
    if sparsity is not None:
        stats = layer_sparsity(model, x)
        figs = sparsity_figures(stats["l0"], stats["n"], stats["n_outputs"],
                                stats["frames"], stats["groups"],
                                stats["kind"])
        prefix = "delta_density" if sparsity == "delta" else "act_density"
        row["density_all"] = float(figs[f"{prefix}_all"])
        row["op_ratio"] = float(figs["op_ratio_counted"])
        row["gmacs_dense"] = float(figs["macs_dense_counted"]) / 1e9
    del model
    keras.backend.clear_session()
    return row


def main(argv=None):
    args = parse_args(argv)
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, "
          f"frames {args.size}x{args.size}, T={args.steps}, "
          f"batch={args.batch}, repeats={args.repeats}, jit={args.jit}, "
          f"thr_init={args.thr_init}")
    rows = []
    for arch in args.models:
        for variant in args.variants:
            rows.append(bench(arch, variant, args))
            r = rows[-1]
            print(f"  done {arch}/{variant}: {r['median_ms']:.0f} ms",
                  flush=True)
    header = (f"{'model':<10} {'variant':<9} {'params':>11} {'build s':>8} "
              f"{'warm-up s':>9} {'median ms':>10} {'min ms':>9} "
              f"{'ms/frame':>9} {'vs base':>8} {'density':>8} "
              f"{'op ratio':>8} {'GMAC/f':>7}")
    print(header)
    print("-" * len(header))
    base = {r["model"]: r["median_ms"] for r in rows
            if r["variant"] == "baseline"}
    for r in rows:
        ratio = (f"{r['median_ms'] / base[r['model']]:.2f}x"
                 if r["model"] in base else "-")
        extra = ("{:>8.4f} {:>8.4f} {:>7.2f}".format(
            r["density_all"], r["op_ratio"], r["gmacs_dense"])
            if "op_ratio" in r else f"{'-':>8} {'-':>8} {'-':>7}")
        print(f"{r['model']:<10} {r['variant']:<9} {r['params']:>11,} "
              f"{r['build_s']:>8.1f} {r['warmup_s']:>9.1f} "
              f"{r['median_ms']:>10.1f} {r['min_ms']:>9.1f} "
              f"{r['ms_per_frame']:>9.1f} {ratio:>8} {extra}")
    return rows


if __name__ == "__main__":
    main()
