"""Train-step time of the sparsity-slot models against their baseline.

Not a test. Builds `<model>_baseline`, `<model>_delta` and `<model>_l1`
(random weights, nothing downloaded), compiles each (SGD, categorical
cross-entropy, graph mode), runs warm-up steps (tracing excluded) and then
times `--repeats` rounds; in every round each model does one
`train_on_batch` (and, with `--forward`, one `predict_on_batch`) on the same
clip batch, so all variants see the same machine load. Prints the median
time per step and the ratio to the baseline of the same backbone. The
variants `delta_sp0` and `l1_sp0` are the slot models with `sp_rate=0`.

`--profile` instead times one slot in isolation (a folded `(B*T, h, w, c)`
activation through `UnfoldTime` -> slot -> `FoldTime`, forward and
backward, inside one `tf.function`-compiled gradient) next to the same
activation without a slot, to show where a slot's time goes.

Run (the issue's setting):
    python benchmarks/bench_slot_training.py --forward \
        --variants baseline delta l1 delta_sp0
    python benchmarks/bench_slot_training.py --profile

Measured on the shared 2-core CPU (issue 9; ratios move by about +-0.05
with the load of the machine): train step delta / baseline went from 2.90x
to 1.33-1.39x (MobileNet) and from 2.11x to 1.21-1.26x (ResNet50); L1 stays
at 1.1-1.2x; one 56x56x64 delta slot (B*T = 16) from 60-125 ms to 16-25 ms
forward + backward, next to 7-9 ms for the ReLU alone.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from deltasparse.models import VideoClassifier  # noqa: E402

VARIANTS = ("baseline", "delta", "l1", "delta_sp0", "l1_sp0")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["mobilenet", "resnet50"],
                        choices=["mobilenet", "resnet50"])
    parser.add_argument("--variants", nargs="+",
                        default=["baseline", "delta", "l1"],
                        choices=VARIANTS)
    parser.add_argument("--size", type=int, default=112, help="frame side")
    parser.add_argument("--steps", type=int, default=4, help="clip length T")
    parser.add_argument("--batch", type=int, default=4, help="clips per batch")
    parser.add_argument("--num-classes", type=int, default=101)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--sp-rate", type=float, default=None,
                        help="override every slot's sp_rate (e.g. 0)")
    parser.add_argument("--forward", action="store_true",
                        help="also time predict_on_batch")
    parser.add_argument("--profile", action="store_true",
                        help="time one slot in isolation instead")
    return parser.parse_args(argv)


def clip_batch(arch, args):
    rng = np.random.default_rng(0)
    scale = 128.0 if arch == "resnet50" else 1.0
    frame = (args.batch, 1, args.size, args.size, 3)
    x = rng.uniform(-scale, scale, frame)
    x = x + 0.1 * scale * rng.normal(
        size=(args.batch, args.steps) + frame[2:])
    y = keras.utils.to_categorical(
        rng.integers(0, args.num_classes, args.batch), args.num_classes)
    return x.astype("float32"), y.astype("float32")


def build(arch, variant, args):
    keras.utils.set_random_seed(0)
    overrides = {"image_size": (args.size, args.size)}
    sparsity, _, suffix = variant.partition("_")
    if sparsity == "delta":
        overrides["thr_init"] = 0.05  # random weights: small activations
    if sparsity != "baseline" and args.sp_rate is not None:
        overrides["sp_rate"] = args.sp_rate
    if suffix == "sp0":
        overrides["sp_rate"] = 0.0
    model = VideoClassifier.from_preset(
        f"{arch}_{sparsity}", num_classes=args.num_classes, **overrides)
    model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9),
                  loss="categorical_crossentropy", jit_compile=False)
    return model


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_models(args):
    rows = []
    for arch in args.models:
        x, y = clip_batch(arch, args)
        models = {v: build(arch, v, args) for v in args.variants}
        for model in models.values():
            for _ in range(args.warmup):
                model.train_on_batch(x, y)
                if args.forward:
                    model.predict_on_batch(x)
        train = {v: [] for v in models}
        forward = {v: [] for v in models}
        for _ in range(args.repeats):
            for v, model in models.items():
                train[v].append(timed(lambda: model.train_on_batch(x, y)))
                if args.forward:
                    forward[v].append(timed(lambda: model.predict_on_batch(x)))
        for v in models:
            rows.append({
                "model": arch, "variant": v,
                "train_ms": 1e3 * statistics.median(train[v]),
                "forward_ms": (1e3 * statistics.median(forward[v])
                               if args.forward else None),
            })
        del models
        keras.backend.clear_session()
    return rows


def print_rows(rows, args):
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, "
          f"frames {args.size}x{args.size}, T={args.steps}, "
          f"batch={args.batch}, median of {args.repeats}, graph mode, "
          f"sp_rate={args.sp_rate}")
    header = (f"| {'model':<9} | {'variant':<8} | {'train ms':>9} | "
              f"{'vs base':>7} | {'forward ms':>10} | {'vs base':>7} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1])
          + "|")
    base = {r["model"]: r for r in rows if r["variant"] == "baseline"}
    for r in rows:
        b = base.get(r["model"])
        ratio = f"{r['train_ms'] / b['train_ms']:.2f}x" if b else "-"
        if r["forward_ms"] is None:
            fwd, fratio = "-", "-"
        else:
            fwd = f"{r['forward_ms']:.0f}"
            fratio = f"{r['forward_ms'] / b['forward_ms']:.2f}x" if b else "-"
        print(f"| {r['model']:<9} | {r['variant']:<8} | "
              f"{r['train_ms']:>9.0f} | {ratio:>7} | {fwd:>10} | "
              f"{fratio:>7} |")


def profile_slot(args):
    """Forward+backward time of one folded activation with and without a
    slot, compiled with `tf.function`."""
    import tensorflow as tf

    from deltasparse.layers.sparsity.delta_activation import DeltaActivation
    from deltasparse.layers.sparsity.l1_activity_regularizer import (
        L1ActivityRegularizer,
    )
    from deltasparse.layers.temporal.time_folding import FoldTime
    from deltasparse.layers.temporal.time_folding import UnfoldTime

    b, t = args.batch, args.steps
    shapes = [(56, 56, 64), (28, 28, 128), (14, 14, 256), (7, 7, 512)]
    rng = np.random.default_rng(0)
    print(f"one slot, folded (B*T={b * t}, h, w, c), forward + backward, "
          f"min of {args.repeats} x 10 calls, ms per call")
    print(f"| {'shape':<12} | {'relu only':>9} | {'delta':>7} | "
          f"{'l1':>7} |")
    print("|--------------|-----------|---------|---------|")
    for shape in shapes:
        x = tf.constant(rng.normal(size=(b * t,) + shape).astype("float32"))
        ref = tf.zeros((b, t, 1))
        variants = {
            "relu only": None,
            "delta": DeltaActivation(thr_init=0.05, sp_rate=1e-3,
                                     return_stats=True),
            "l1": L1ActivityRegularizer(sp_rate=1e-3, return_stats=True),
        }
        times = {}
        for name, layer in variants.items():
            unfold, fold = UnfoldTime(), FoldTime()
            if layer is not None:
                layer.build((b, t) + shape)

            @tf.function
            def step(x, layer=layer, unfold=unfold, fold=fold):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    h = tf.nn.relu(x)
                    loss = 0.0
                    if layer is not None:
                        y, l0, n = layer(unfold(h, reference=ref))
                        h = fold(y)
                        loss = tf.add_n(layer.losses) + 0.0 * (l0 + n)
                    loss = loss + tf.reduce_sum(h * x)
                grads = tape.gradient(
                    loss, [x] + ([] if layer is None else
                                 layer.trainable_variables))
                return grads[0]

            step(x)
            samples = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                for _ in range(10):
                    step(x)
                samples.append((time.perf_counter() - t0) / 10)
            times[name] = 1e3 * min(samples)
        print(f"| {str(shape):<12} | {times['relu only']:>9.2f} | "
              f"{times['delta']:>7.2f} | {times['l1']:>7.2f} |")


def main(argv=None):
    args = parse_args(argv)
    if args.profile:
        profile_slot(args)
        return None
    rows = bench_models(args)
    print_rows(rows, args)
    return rows


if __name__ == "__main__":
    main()
