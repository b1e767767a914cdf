"""Is the thinned model genuinely smaller and faster? ResNet3D-18 before and
after 50 % L1-ranked filter pruning with thinning (the seed's `fp`).

Not a test. Builds `VideoClassifier.from_preset("resnet3d_18",
num_classes=101)` at 16x112x112 (random weights: the ranking and the cost
do not depend on training), plans `plan_filter_pruning(model, 0.5)`, thins
it (`thin_model`), and reports for both (`compression_report`, no timing
there): parameters, `.keras` bytes, gzip-compressed weights bytes and
counted MACs of one clip. The inference time of one clip (batch 1,
`predict_on_batch`, warm) is measured in ONE process, the two models
alternating for `--rounds` rounds of `--repeats` calls each; the table
gives the median of the round medians. Also checks that the thinned model
reproduces `zero_filters(model, plan)` on one clip.

Timings on a shared machine move with its load: compare the ratio.
Writes a Markdown table to stdout and to
`benchmarks/results/bench_compression.md`.

Run: python benchmarks/bench_compression.py            # 16x112x112
     python benchmarks/bench_compression.py --quick    # 8x64x64
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       "bench_compression.md")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="8x64x64 clips instead of 16x112x112")
    parser.add_argument("--fraction", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from deltasparse.compression.report import compare_reports
    from deltasparse.compression.report import compression_report
    from deltasparse.compression.report import median_inference_milliseconds
    from deltasparse.compression.thinning import plan_filter_pruning
    from deltasparse.compression.thinning import thin_model
    from deltasparse.compression.thinning import zero_filters
    from deltasparse.models.video_classifier import VideoClassifier

    clip_length, size = (8, 64) if args.quick else (16, 112)
    clip_shape = (clip_length, size, size, 3)
    keras.utils.set_random_seed(0)
    model = VideoClassifier.from_preset(
        "resnet3d_18", num_classes=101, image_size=(size, size),
        clip_length=clip_length)
    start = time.perf_counter()
    plan = plan_filter_pruning(model, args.fraction)
    thinned = thin_model(model, plan)
    surgery = time.perf_counter() - start
    clip = np.random.default_rng(1).normal(size=(1,) + clip_shape).astype(
        "float32")
    difference = float(np.abs(
        keras.ops.convert_to_numpy(thinned(clip, training=False))
        - keras.ops.convert_to_numpy(
            zero_filters(model, plan)(clip, training=False))).max())

    before = compression_report(model, clip_shape, timing_repeats=0)
    after = compression_report(thinned, clip_shape, timing_repeats=0)
    before.name, after.name = "resnet3d_18", "resnet3d_18 thinned"
    rounds = {"before": [], "after": []}
    for _ in range(args.rounds):
        for key, candidate in (("before", model), ("after", thinned)):
            rounds[key].append(median_inference_milliseconds(
                candidate, clip_shape, 1, args.repeats))
    before.milliseconds = {"1": statistics.median(rounds["before"])}
    after.milliseconds = {"1": statistics.median(rounds["after"])}

    text = "\n".join([
        f"# ResNet3D-18, {args.fraction:.0%} filter pruning with thinning",
        "",
        f"Clips {clip_length}x{size}x{size}, 101 classes, random weights, "
        f"backend {keras.backend.backend()}, {os.cpu_count()} CPU cores "
        "(shared). ms/clip: batch 1, `predict_on_batch`, median of "
        f"{args.rounds} alternating rounds x {args.repeats} calls.",
        f"{plan!r}; plan + thinning took {surgery:.1f} s; largest "
        f"difference thinned vs zeroed model: {difference:.2e}.",
        "",
        compare_reports(before, after),
        "Round medians, ms/clip: before "
        + ", ".join(f"{v:.0f}" for v in rounds["before"]) + "; after "
        + ", ".join(f"{v:.0f}" for v in rounds["after"]) + ".",
        "",
        "Convolutions kept whole (shapes forbid thinning): "
        + ", ".join(sorted(plan.skipped)) + ".",
        "",
    ])
    print(text)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, RESULTS)


if __name__ == "__main__":
    main()
