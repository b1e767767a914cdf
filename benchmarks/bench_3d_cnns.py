"""Speed and memory of the seed's 3-D CNNs on CPU (clips/s, peak RSS).

Not a test. For each seed configuration (ResNet3D-18 A, ResNet3D-50 B,
ResNet3D-101 B, MobileNetV2-3D 1.0x, CSN-50 ir; `VideoClassifier` with 101
classes) at 16x112x112:

- parameters and GMACs of one clip (`deltasparse.evaluation.count_macs`,
  always at 16x112x112; "GFLOPs" in the papers' thop convention = GMACs);
- inference "videos per second" as the seed's `speed_gpu.py`: the forward
  pass of a batch of 8 clips, warm (after one untimed call), median over
  `--iterations` calls of `predict_on_batch`, reported as `1 / (t / 8)`;
- training clips/s: `train_on_batch` at `--train-batch` clips
  (`SGDWithDampening`, cross-entropy), warm, median;
- peak memory: every (configuration, measurement) runs in its own child
  process, which reports its peak resident set (`VmHWM` of
  /proc/self/status);
- XLA, for the depthwise-convolution families (MobileNetV2-3D, CSN): the
  inference again with the predict function compiled by XLA
  (`jit_compile=True`). Their 3x3x3 depthwise convolutions are
  `deltasparse.layers.DepthwiseConv3D` (2-D depthwise convolutions over
  folded time, TensorFlow's native CPU kernels). A plain
  `Conv3D(groups=C)` has no TensorFlow CPU kernel: Keras' TensorFlow
  backend runs it through its own small XLA-compiled function even with
  `jit_compile=False`, and that is what made these families slow (about
  1 clip/s; 10-25x faster with `DepthwiseConv3D` in the quick runs). With
  `DepthwiseConv3D`, `jit_compile=True` now COSTS about 5x on CPU (XLA's
  CPU depthwise convolutions are slower than TensorFlow's native kernels):
  keep XLA off for these families on CPU;
- `--compare-depthwise`: in ONE process, side by side, the same model (same
  weights) with `DepthwiseConv3D` and with the plain grouped `Conv3D`
  (the layer before this change): inference (batch 8) and training step
  times, medians, and the largest softmax difference. Appended to the
  results file as its own table.

Timings on a shared machine: compare ratios, not absolute figures. Writes a
Markdown table to stdout and to `benchmarks/results/bench_3d_cnns.md`.

Run: python benchmarks/bench_3d_cnns.py            # 16x112x112, 30+ min
     python benchmarks/bench_3d_cnns.py --quick    # 8x64x64, few iterations
     python benchmarks/bench_3d_cnns.py --models mobilenetv2_3d_1.0x csn_ir_50
     python benchmarks/bench_3d_cnns.py --quick --compare-depthwise

Measuring a subset of `--models` with the same clip settings as the
results file keeps that file's rows of the other models.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       "bench_3d_cnns.md")
CONFIGURATIONS = {
    "resnet3d_18": ("resnet3d", {"depth": 18, "shortcut": "A"}),
    "resnet3d_50": ("resnet3d", {"depth": 50, "shortcut": "B"}),
    "resnet3d_101": ("resnet3d", {"depth": 101, "shortcut": "B"}),
    "mobilenetv2_3d_1.0x": ("mobilenetv2_3d", {"width_multiplier": 1.0}),
    "csn_ir_50": ("csn", {"depth": 50, "block": "ir"}),
}
GROUPED = ("mobilenetv2_3d_1.0x", "csn_ir_50")
NUM_CLASSES = 101
INFERENCE_BATCH = 8
PAPER_CLIP = (16, 112, 112)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CONFIGURATIONS),
                        choices=list(CONFIGURATIONS))
    parser.add_argument("--quick", action="store_true",
                        help="8x64x64 clips, 2 inference iterations, 1 "
                        "training step (about 10 minutes on 2 cores)")
    parser.add_argument("--clip-length", type=int, default=None)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None,
                        help="timed inference calls (default 3, quick 2)")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="timed training steps (default 2, quick 1)")
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--no-xla", action="store_true",
                        help="skip the jit_compile=True inference runs")
    parser.add_argument("--compare-depthwise", action="store_true",
                        help="time DepthwiseConv3D against the grouped "
                        "Conv3D it replaces, side by side in one process")
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.clip_length = args.clip_length or (8 if quick else 16)
    args.image_size = args.image_size or (64 if quick else 112)
    args.iterations = args.iterations or (2 if quick else 3)
    args.train_steps = args.train_steps or (1 if quick else 2)
    return args


# === Child process: one configuration, one measurement ===


def build_model(name, image_size, clip_length):
    from deltasparse.models import VideoClassifier

    family, arguments = CONFIGURATIONS[name]
    if family == "resnet3d":
        from deltasparse.models.resnet3d import ResNet3DBackbone as cls
    elif family == "csn":
        from deltasparse.models.csn import CSNBackbone as cls
    else:
        from deltasparse.models.mobilenetv2_3d import (
            MobileNetV2_3DBackbone as cls)
    backbone = cls(image_size=(image_size, image_size),
                   clip_length=clip_length, **arguments)
    return VideoClassifier(backbone, NUM_CLASSES)


@contextlib.contextmanager
def grouped_conv3d_depthwise():
    """Builds the 3-D families with the plain `Conv3D(groups=C)` in place
    of `DepthwiseConv3D` (same names, weights and results)."""
    from deltasparse.models.mobilenetv2_3d import mobilenetv2_3d_backbone
    from deltasparse.models.resnet3d import resnet3d_blocks

    def grouped(kernel_size, filters, **kwargs):
        import keras

        return keras.layers.Conv3D(filters, kernel_size, groups=filters,
                                   **kwargs)

    modules = (mobilenetv2_3d_backbone, resnet3d_blocks)
    saved = [module.DepthwiseConv3D for module in modules]
    for module in modules:
        module.DepthwiseConv3D = grouped
    try:
        yield
    finally:
        for module, layer in zip(modules, saved):
            module.DepthwiseConv3D = layer


def peak_rss_bytes():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def median_seconds(function, iterations):
    function()  # warm: tracing, compilation, allocation
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_child(args):
    import keras
    import numpy as np

    from deltasparse.evaluation import count_macs
    from deltasparse.training.optimizers import SGDWithDampening

    keras.utils.set_random_seed(0)
    shape = (args.clip_length, args.image_size, args.image_size, 3)
    model = build_model(args.child, args.image_size, None)
    rng = np.random.default_rng(0)
    result = {"model": args.child, "mode": args.mode}
    if args.mode in ("inference", "inference_xla"):
        model.compile(jit_compile=args.mode == "inference_xla")
        clips = rng.normal(size=(INFERENCE_BATCH,) + shape).astype("float32")
        seconds = median_seconds(lambda: model.predict_on_batch(clips),
                                 args.iterations)
        result["clips_per_second"] = 1.0 / (seconds / INFERENCE_BATCH)
    else:
        model.compile(SGDWithDampening(0.1), "categorical_crossentropy",
                      jit_compile=False)
        batch = args.train_batch
        clips = rng.normal(size=(batch,) + shape).astype("float32")
        labels = np.eye(NUM_CLASSES, dtype="float32")[np.arange(batch)]
        seconds = median_seconds(lambda: model.train_on_batch(clips, labels),
                                 args.train_steps)
        result["clips_per_second"] = batch / seconds
    result["peak_rss_bytes"] = peak_rss_bytes()
    if args.mode == "train":  # after the peak: the size of one paper clip
        result["parameters"] = sum(int(np.prod(v.shape))
                                   for v in model.trainable_weights)
        paper_model = build_model(args.child, PAPER_CLIP[1], None)
        result["gmacs"] = count_macs(
            paper_model, (1,) + PAPER_CLIP + (3,)).total / 1e9
    print("RESULT " + json.dumps(result), flush=True)


def compare_depthwise(args):
    """Markdown table: DepthwiseConv3D against grouped Conv3D, one process,
    the two variants timed alternately (medians)."""
    import keras
    import numpy as np

    from deltasparse.training.optimizers import SGDWithDampening

    shape = (args.clip_length, args.image_size, args.image_size, 3)
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(INFERENCE_BATCH,) + shape).astype("float32")
    batch = args.train_batch
    labels = np.eye(NUM_CLASSES, dtype="float32")[np.arange(batch)]
    lines = [
        f"DepthwiseConv3D (folded time) against grouped Conv3D (before), one "
        f"process, clips {'x'.join(map(str, shape[:3]))}, inference batch "
        f"{INFERENCE_BATCH}, training batch {batch}, medians of "
        f"{args.iterations} calls; shared machine (compare ratios).",
        "",
        "| model | inference s/batch, grouped | inference s/batch, "
        "DepthwiseConv3D | speed-up | training s/step, grouped | training "
        "s/step, DepthwiseConv3D | speed-up | max softmax difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in [n for n in args.models if n in GROUPED]:
        keras.utils.set_random_seed(0)
        models = {"depthwise": build_model(name, args.image_size, None)}
        with grouped_conv3d_depthwise():
            models["grouped"] = build_model(name, args.image_size, None)
        models["grouped"].set_weights(models["depthwise"].get_weights())
        outputs = {key: model.predict_on_batch(clips)
                   for key, model in models.items()}
        difference = float(np.abs(outputs["depthwise"]
                                  - outputs["grouped"]).max())
        times = {}
        for key, model in models.items():
            model.compile(SGDWithDampening(0.01),
                          "categorical_crossentropy", jit_compile=False)
            model.train_on_batch(clips[:batch], labels)  # warm
            times[key] = {"inference": [], "train": []}
        for _ in range(args.iterations):  # alternate: same machine load
            for key, model in models.items():
                start = time.perf_counter()
                model.predict_on_batch(clips)
                times[key]["inference"].append(time.perf_counter() - start)
                start = time.perf_counter()
                model.train_on_batch(clips[:batch], labels)
                times[key]["train"].append(time.perf_counter() - start)
        medians = {key: {mode: statistics.median(values)
                         for mode, values in modes.items()}
                   for key, modes in times.items()}
        grouped, depthwise = medians["grouped"], medians["depthwise"]
        lines.append("| " + " | ".join([
            name, f"{grouped['inference']:.3f}",
            f"{depthwise['inference']:.3f}",
            f"{grouped['inference'] / depthwise['inference']:.1f}x",
            f"{grouped['train']:.3f}", f"{depthwise['train']:.3f}",
            f"{grouped['train'] / depthwise['train']:.1f}x",
            f"{difference:.1e}"]) + " |")
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines) + "\n"


# === Parent: one child per measurement, then the table ===


def measure(args, name, mode):
    command = [sys.executable, os.path.abspath(__file__), "--child", name,
               "--mode", mode, "--clip-length", str(args.clip_length),
               "--image-size", str(args.image_size), "--iterations",
               str(args.iterations), "--train-steps", str(args.train_steps),
               "--train-batch", str(args.train_batch)]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True,
                               check=False)
    lines = [line for line in completed.stdout.splitlines()
             if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr or completed.stdout)[-2000:]
        print(f"{name} {mode} failed (exit {completed.returncode}):\n{tail}",
              file=sys.stderr)
        return None
    result = json.loads(lines[-1][len("RESULT "):])
    result["wall_seconds"] = time.perf_counter() - start
    print(f"  {name:22s} {mode:14s} {result['clips_per_second']:8.2f} "
          f"clips/s, peak {result['peak_rss_bytes'] / 2**30:.2f} GiB "
          f"({result['wall_seconds']:.0f} s)", file=sys.stderr, flush=True)
    return result


def _cell(value, pattern):
    return "n/a" if value is None else pattern.format(value)


def table(args, rows):
    clip = f"{args.clip_length}x{args.image_size}x{args.image_size}"
    lines = [
        f"Clips {clip}, {NUM_CLASSES} classes, CPU ({os.cpu_count()} cores "
        f"visible); inference batch {INFERENCE_BATCH} (median of "
        f"{args.iterations}), training batch {args.train_batch} (median of "
        f"{args.train_steps} steps); parameters and GMACs for one "
        f"{'x'.join(map(str, PAPER_CLIP))} clip.",
        "",
        "| model | parameters (M) | GMACs | inference clips/s | inference "
        "peak RSS (GiB) | training clips/s | training peak RSS (GiB) | "
        "inference clips/s, XLA | XLA / no XLA |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (inference, training, xla) in rows.items():
        speed = inference and inference["clips_per_second"]
        xla_speed = xla and xla["clips_per_second"]
        lines.append("| " + " | ".join([
            name,
            _cell(training and training["parameters"] / 1e6, "{:.2f}"),
            _cell(training and training["gmacs"], "{:.2f}"),
            _cell(speed, "{:.2f}"),
            _cell(inference and inference["peak_rss_bytes"] / 2**30,
                  "{:.2f}"),
            _cell(training and training["clips_per_second"], "{:.2f}"),
            _cell(training and training["peak_rss_bytes"] / 2**30, "{:.2f}"),
            _cell(xla_speed, "{:.2f}"),
            _cell(xla_speed / speed if xla_speed and speed else None,
                  "{:.2f}x"),
        ]) + " |")
    return "\n".join(lines) + "\n"


TITLE = ("# 3-D CNN speed and memory (benchmarks/bench_3d_cnns.py)\n\n"
         "Measured on a shared machine (other jobs running): compare ratios, "
         "not absolute figures. Rows of different runs may sit side by "
         "side (a run of some `--models` keeps the others' rows).\n\n")
COMPARISON_TITLE = "\n## DepthwiseConv3D against grouped Conv3D\n\n"


def merge_rows(text, old_text):
    """`text` plus the rows of `old_text` (same settings line) of the models
    not measured in `text`, in `CONFIGURATIONS` order."""
    new_lines, old_lines = text.splitlines(), old_text.splitlines()
    if not old_lines or old_lines[0] != new_lines[0]:
        return text

    def rows(lines):
        return {line.split(" | ")[0][2:]: line for line in lines
                if line.startswith("| ") and line.split(" | ")[0][2:]
                in CONFIGURATIONS}

    merged = {**rows(old_lines), **rows(new_lines)}
    header = [line for line in new_lines if line not in merged.values()]
    return "\n".join(header + [merged[name] for name in CONFIGURATIONS
                               if name in merged]) + "\n"


def write_results(path, table_text=None, comparison_text=None):
    """Writes (atomically) the results file, keeping the part not given."""
    old = ""
    if os.path.exists(path):
        with open(path) as handle:
            old = handle.read()
    old_table, _, old_comparison = old.partition(COMPARISON_TITLE)
    old_table = old_table[len(TITLE):] if old_table.startswith(TITLE) else ""
    if table_text is None:
        table_text = old_table
    else:
        table_text = merge_rows(table_text, old_table)
    text = TITLE + table_text
    comparison_text = comparison_text or old_comparison
    if comparison_text:
        text += COMPARISON_TITLE + comparison_text
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        run_child(args)
        return
    if args.compare_depthwise:
        text = compare_depthwise(args)
        print(text)
        write_results(args.output, comparison_text=text)
        return
    rows = {}
    for name in args.models:
        inference = measure(args, name, "inference")
        training = measure(args, name, "train")
        xla = None
        if name in GROUPED and not args.no_xla:
            xla = measure(args, name, "inference_xla")
        rows[name] = (inference, training, xla)
    text = table(args, rows)
    print(text)
    write_results(args.output, table_text=text)


if __name__ == "__main__":
    main()
