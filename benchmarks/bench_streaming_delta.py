"""Frames/s of streaming delta inference against dense per-frame inference.

Not a test. For each backbone (random weights, BatchNorm statistics from one
training-mode batch, nothing downloaded) and each target delta density, side
by side in one process:

- (a) the dense baseline model (`<backbone>_baseline` with the delta model's
  weights) called on one frame at a time (`tf.function`, batch 1): the
  streaming baseline;
- (b) the same dense model on whole 16-frame clips (frames/s = 16 / time);
- (c) `StreamingDeltaModel` on a 16-frame stream, batch 1: the median time
  of the non-key frames (steady state), plus the time of the dense key
  frame; and the largest difference between its clip mean of per-frame
  probabilities and `model.predict(clip)`.

Frames: a smooth random background, a moving bright square and Gaussian
camera noise (sigma `--noise`). Every `DeltaActivation` step is `s` times the
root mean square of that slot's input on the clip (activation scales differ
by 100x across ResNet-50), with one factor `s` found by bisection so that
the measured delta density (nonzero temporal deltas at the quantizer
outputs, `engine.stats["delta_density"]`) is near each target. Prints a markdown table (medians of `--repeats`) and
writes it with a PNG of speed-up (c)/(a) against density.

Set `OPENBLAS_NUM_THREADS` to override the single BLAS thread used here.

Run:
    python benchmarks/bench_streaming_delta.py --models mobilenet
    python benchmarks/bench_streaming_delta.py --models resnet50 \
        --densities 0.05 0.2 0.5
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# One OpenBLAS thread: on this shared 2-core machine two spinning OpenBLAS
# threads made the engine's matmuls ~10x slower (254 vs 24 ms per MobileNet
# frame, measured side by side); TensorFlow keeps its own thread pools.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deltasparse.inference.streaming import StreamingDeltaModel  # noqa: E402
from deltasparse.inference.streaming import engine as engine_module  # noqa: E402,E501
from deltasparse.layers.sparsity.delta_activation import DeltaActivation  # noqa: E402,E501
from deltasparse.models import VideoClassifier  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mobilenet"],
                        choices=["mobilenet", "resnet50"])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--densities", nargs="+", type=float,
                        default=[0.05, 0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results")
    return parser.parse_args(argv)


def make_models(arch, size):
    keras.utils.set_random_seed(0)
    kwargs = {"image_size": (size, size), "bn_momentum": 0.0}
    delta = VideoClassifier.from_preset(f"{arch}_delta", num_classes=101,
                                        **kwargs)
    rng = np.random.default_rng(0)
    for layer in delta.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, c).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.3, c).astype("float32"))
    # Small steps while BatchNorm measures its statistics: with the presets'
    # steps (ResNet's input slot: 3) the random frames would quantize to 0.
    set_steps(delta, 0.05)
    delta(rng.uniform(-1, 1, (2, 2, size, size, 3)).astype("float32"),
          training=True)
    dense = VideoClassifier.from_preset(f"{arch}_baseline", num_classes=101,
                                        **kwargs)
    for layer in dense.layers:
        if layer.weights:
            layer.set_weights(delta.get_layer(layer.name).get_weights())
    return delta, dense


def make_stream(frames, size, noise, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (size // 16, size // 16, 3))
    background = np.kron(coarse, np.ones((16, 16, 1)))
    side = size // 5
    clip = np.empty((1, frames, size, size, 3), "float32")
    for t in range(frames):
        frame = background.copy()
        x0 = (t * side // 4) % (size - side)
        frame[size // 3:size // 3 + side, x0:x0 + side] = 0.9
        frame += noise * rng.normal(size=frame.shape)
        clip[0, t] = frame
    return clip


def activation_scales(model, clip):
    """Root mean square of every `DeltaActivation` input on `clip`."""
    slots = [layer for layer in model.layers
             if isinstance(layer, DeltaActivation)]
    probe = keras.Model(model.input, [layer.input for layer in slots])
    values = probe(clip[:, :2])
    return {layer.name: float(np.sqrt(np.mean(np.square(v))))
            for layer, v in zip(slots, values)}


def set_steps(model, value, scales=None):
    """Every slot's step: `value`, times its activation scale if given."""
    for layer in model.layers:
        if isinstance(layer, DeltaActivation):
            step = value * (1.0 if scales is None else scales[layer.name])
            layer.threshold.assign(np.full(layer.threshold.shape, step,
                                           "float32"))


def engine_run(model, clip, probe_frames=None):
    engine = StreamingDeltaModel(model, refresh=None)
    frames = clip.shape[1] if probe_frames is None else probe_frames
    state = engine.initial_state(1)
    times, outputs = [], []
    for t in range(frames):
        if t == 1:
            engine.reset_stats()
        start = time.perf_counter()
        outputs.append(engine.step(clip[:, t], state)[0])
        times.append(time.perf_counter() - start)
    engine.last_mean = np.mean(outputs, axis=0)
    return engine, times


def calibrate(model, clip, target, scales, low=1e-3, high=10.0, probes=7):
    """Bisection (log scale) of one step value for a target density."""
    for _ in range(probes):
        mid = float(np.sqrt(low * high))
        set_steps(model, mid, scales)
        density = engine_run(model, clip, probe_frames=3)[0].stats[
            "delta_density"]
        if density > target:
            low = mid
        else:
            high = mid
    step = float(np.sqrt(low * high))
    set_steps(model, step, scales)
    return step


def dense_times(dense, clip, repeats):
    call = tf.function(lambda x: dense(x, training=False))
    frame = tf.constant(clip[:, :1])
    whole = tf.constant(clip)
    call(frame), call(whole)
    per_frame, per_clip = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for t in range(clip.shape[1]):
            call(tf.constant(clip[:, t:t + 1])).numpy()
        per_frame.append((time.perf_counter() - start) / clip.shape[1])
        start = time.perf_counter()
        call(whole).numpy()
        per_clip.append((time.perf_counter() - start) / clip.shape[1])
    return statistics.median(per_frame), statistics.median(per_clip)


def bench(arch, args):
    delta, dense = make_models(arch, args.size)
    clip = make_stream(args.frames, args.size, args.noise)
    scales = activation_scales(delta, clip)
    rows = []
    for target in args.densities:
        step = calibrate(delta, clip, target, scales)
        frame_time, clip_time = dense_times(dense, clip, args.repeats)
        steady, key, stats = [], [], None
        for _ in range(args.repeats):
            engine, times = engine_run(delta, clip)
            key.append(times[0])
            steady.append(statistics.median(times[1:]))
            stats = engine.stats
        error = np.abs(engine.last_mean - delta.predict(clip, verbose=0)).max()
        row = {
            "model": arch, "target": target, "step": step,
            "density": stats["delta_density"], "macs": stats["total"],
            "a": 1 / frame_time, "b": 1 / clip_time,
            "c": 1 / statistics.median(steady),
            "key_ms": 1e3 * statistics.median(key), "error": error,
        }
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


HEADER = ("| model | target | measured delta density | MACs executed | "
          "(a) dense 1 frame, fps | (b) dense whole clip, fps | "
          "(c) engine, fps | (c)/(a) | key frame, ms | max abs prob diff |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def format_row(r):
    return (f"| {r['model']} | {r['target']:.2f} | {r['density']:.3f} | "
            f"{r['macs']:.3f} | {r['a']:.1f} | {r['b']:.1f} | {r['c']:.1f} | "
            f"{r['c'] / r['a']:.2f}x | {r['key_ms']:.0f} | {r['error']:.1e} |")


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for arch in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == arch]
        ax.plot([r["density"] for r in mine],
                [r["c"] / r["a"] for r in mine], "o-", label=arch)
    ax.axhline(1.0, color="gray", lw=0.8, ls="--", label="break-even")
    ax.set_xlabel("measured delta density")
    ax.set_ylabel("speed-up vs dense 1 frame")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    args = parse_args(argv)
    print(f"kernels: {engine_module._kernels.__name__}, size {args.size}, "
          f"{args.frames} frames, noise {args.noise}")
    print(HEADER)
    rows = []
    for arch in args.models:
        rows += bench(arch, args)
    os.makedirs(args.out, exist_ok=True)
    name = "streaming_delta_" + "_".join(args.models)
    tmp = os.path.join(args.out, name + ".md.tmp")
    with open(tmp, "w") as f:
        f.write(HEADER + "\n" + "\n".join(format_row(r) for r in rows) + "\n")
    os.replace(tmp, os.path.join(args.out, name + ".md"))
    plot(rows, os.path.join(args.out, name + ".png"))


if __name__ == "__main__":
    main()
