"""A tiny folded-time video model with delta (or L1) slots, for fast tests
of the one sparsity path (SparsitySlotBuilder -> SparsityAccumulator ->
SparsityLogger / evaluation), with an independent NumPy count."""

import keras
import numpy as np

from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.models.sparsity_slots import SparsitySlotBuilder

SLOTS = (("c1_delta", "early", 9.0), ("c2_delta", "late", 4.0),
         ("c3_delta", "late", 3.0))


def tiny_video_model(sparsity="delta", size=8, channels=2, classes=3,
                     thr_init=0.25, sp_rate=1e-2):
    clips = keras.Input((None, size, size, channels), name="frames")
    slots = SparsitySlotBuilder(clips, sparsity, sp_rate)
    x = FoldTime(name="fold_time")(clips)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            name="c1")(x)
    x = slots(x, SLOTS[0][0], SLOTS[0][2], SLOTS[0][1], thr_init)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same",
                            activation="relu", name="c2")(x)
    x = slots(x, SLOTS[1][0], SLOTS[1][2], SLOTS[1][1], thr_init)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(6, activation="relu", name="fc")(x)
    x = slots(x, SLOTS[2][0], SLOTS[2][2], SLOTS[2][1], thr_init)
    x = slots.accumulate(x)
    x = keras.layers.Dense(classes, activation="softmax", name="out")(x)
    x = UnfoldTime(name="unfold_time")(x, reference=clips)
    outputs = keras.layers.GlobalAveragePooling1D(name="temporal_mean")(x)
    return keras.Model(clips, outputs, name=f"tiny_{sparsity}")


def tiny_data(batches=3, batch=4, steps=3, size=8, channels=2, classes=3,
              seed=0):
    """Slowly changing clips (so many deltas are exactly zero) and labels."""
    rng = np.random.default_rng(seed)
    n = batches * batch
    base = rng.uniform(0, 2, (n, 1, size, size, channels))
    drift = rng.normal(0, 0.15, (n, steps, size, size, channels))
    x = (base + np.cumsum(drift, axis=1)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, classes, n), classes)
    return x, y.astype("float32")


def numpy_counts(model, x, batch, kind="delta"):
    """Independent per-slot counts summed over the batches of `x`: the slot
    inputs come from a probe model, quantization (`q*round(a/q)`, half to
    even) and the nonzero count of the temporal deltas are NumPy."""
    names = [s[0] for s in SLOTS]
    probe = keras.Model(model.input,
                        [model.get_layer(n).input for n in names])
    l0 = np.zeros(len(names))
    n = np.zeros(len(names))
    frames = 0.0
    for start in range(0, len(x), batch):
        xb = x[start:start + batch]
        inputs = probe(xb)
        for i, (name, a) in enumerate(zip(names, inputs)):
            a = np.asarray(a, "float64")
            if kind == "delta":
                theta = model.get_layer(name).threshold
                q = np.abs(keras.ops.convert_to_numpy(theta)).astype(
                    "float32")
                y = q * np.round(a.astype("float32") / q)
                values = y[:, :-1] - y[:, 1:]
            else:
                values = a
            l0[i] += np.count_nonzero(values)
            n[i] += values.size
        steps = xb.shape[1] - 1 if kind == "delta" else xb.shape[1]
        frames += xb.shape[0] * steps
    return l0, n, frames


def numpy_figures(l0, n, frames, prefix="delta_density"):
    groups = [s[1] for s in SLOTS]
    w = np.array([s[2] for s in SLOTS])
    figures = {}
    for g in dict.fromkeys(groups):
        sel = np.array([x == g for x in groups])
        figures[f"{prefix}_{g}"] = l0[sel].sum() / n[sel].sum()
    figures[f"{prefix}_all"] = l0.sum() / n.sum()
    figures["op_ratio_counted"] = (w * l0).sum() / (w * n).sum()
    figures["macs_dense_counted"] = (w * n).sum() / frames
    figures["macs_effective_counted"] = (w * l0).sum() / frames
    return figures
