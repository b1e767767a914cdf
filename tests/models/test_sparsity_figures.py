"""Tests of the sparsity figures and the model-level accumulator
(`deltasparse.models.sparsity_figures`, `sparsity_slots`, `SparsityLogger`)."""

import keras
import numpy as np
import pytest
from keras import layers

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.evaluation import layer_sparsity
from deltasparse.models import SparsityAccumulator
from deltasparse.models import SparsityLogger
from deltasparse.models import SparsitySlot
from deltasparse.models import accumulated_figures
from deltasparse.models.sparsity_figures import group_density
from deltasparse.models.sparsity_figures import op_ratio
from deltasparse.models.sparsity_figures import per_layer_figures
from deltasparse.models.sparsity_figures import sparsity_figures
from deltasparse.models.sparsity_slots import model_sparsity_slots
from deltasparse.testing import TestCase


def numpy_figures(l0, n, n_out, frames, groups, prefix):
    """Independent NumPy version of the spec §7 formulas."""
    l0, n, n_out = (np.asarray(a, "float64") for a in (l0, n, n_out))
    groups = np.asarray(groups)
    out = {}
    for g in dict.fromkeys(groups.tolist()):
        sel = groups == g
        out[f"{prefix}_{g}"] = l0[sel].sum() / n[sel].sum()
    out[f"{prefix}_all"] = l0.sum() / n.sum()
    out["op_ratio_counted"] = (n_out * l0).sum() / (n_out * n).sum()
    out["macs_dense_counted"] = (n_out * n).sum() / frames
    out["macs_effective_counted"] = (n_out * l0).sum() / frames
    return out


def slots(names, groups, n_outputs, kind="delta"):
    return [SparsitySlot(n, g, float(w), n, kind)
            for n, g, w in zip(names, groups, n_outputs)]


def tiny_model(kind, clip_len=3):
    """Two slots on (B, T, 4, 4, 2) clips, an accumulator, a head."""
    clips = keras.Input((clip_len, 4, 4, 2), name="clips")
    if kind == "delta":
        first = DeltaActivation(thr_init=0.3, return_stats=True, name="s1")
        second = DeltaActivation(thr_init=0.2, return_stats=True, name="s2")
    else:
        first = L1ActivityRegularizer(return_stats=True, name="s1")
        second = L1ActivityRegularizer(return_stats=True, name="s2")
    y1, a1, n1 = first(clips)
    h = layers.Dense(3, activation="relu", name="mix")(y1)
    y2, a2, n2 = second(h)
    y2 = SparsityAccumulator(
        slots(["s1", "s2"], ["g1", "g2"], [9.0, 2.0],
              "delta" if kind == "delta" else "activation"),
        name="sparsity_accumulator",
    )([y2, clips, a1, a2, n1, n2])
    out = layers.Flatten(name="flat")(y2)
    out = layers.Dense(2, activation="softmax", name="head")(out)
    return keras.Model(clips, out, name=f"tiny_{kind}")


class SparsityFunctionsTest(TestCase):
    def test_group_density_and_op_ratio(self):
        rng = np.random.default_rng(0)
        n = rng.integers(10, 100, 6).astype("float32")
        l0 = np.floor(n * rng.random(6)).astype("float32")
        w = rng.integers(1, 50, 6).astype("float32")
        self.assertAllClose(group_density(l0, n), l0.sum() / n.sum())
        self.assertAllClose(
            op_ratio(list(l0), list(n), list(w)),
            (w * l0).sum() / (w * n).sum(),
        )

    def test_sparsity_figures_match_numpy(self):
        rng = np.random.default_rng(1)
        groups = ["in", "conv1", "conv2", "conv2", "fc", "conv2"]
        n = rng.integers(10, 1000, 6).astype("float32")
        l0 = np.floor(n * rng.random(6)).astype("float32")
        w = rng.integers(1, 3000, 6).astype("float32")
        for kind, prefix in (("delta", "delta_density"),
                             ("activation", "act_density")):
            got = sparsity_figures(l0, n, w, 6.0, groups, kind=kind)
            want = numpy_figures(l0, n, w, 6.0, groups, prefix)
            self.assertEqual(list(got), list(want))
            for key in want:
                self.assertAllClose(got[key], want[key], rtol=1e-6)
        # macs_effective == op_ratio * macs_dense.
        self.assertAllClose(
            got["macs_effective_counted"],
            got["op_ratio_counted"] * got["macs_dense_counted"],
            rtol=1e-6,
        )

    def test_zero_denominators_give_zero(self):
        zeros = [0.0, 0.0]
        got = sparsity_figures(zeros, zeros, [1.0, 1.0], 0, ["a", "b"])
        for value in got.values():
            self.assertEqual(float(value), 0.0)

    def test_per_layer_figures(self):
        l0 = np.array([2.0, 0.0, 5.0])
        n = np.array([8.0, 4.0, 10.0])
        w = np.array([3.0, 1.0, 2.0])
        got = per_layer_figures(l0, n, w, frames=2.0)
        self.assertAllClose(got["density"], l0 / n)
        self.assertAllClose(got["neurons_per_frame"], n / 2)
        self.assertAllClose(got["nonzero_per_frame"], l0 / 2)
        self.assertAllClose(got["macs_dense_per_frame"], w * n / 2)
        self.assertAllClose(got["macs_effective_per_frame"], w * l0 / 2)

    def test_invalid_inputs(self):
        with self.assertRaisesRegex(ValueError, "one entry per slot"):
            sparsity_figures([1.0], [2.0, 3.0], [1.0, 1.0], 1, ["a", "b"])
        with self.assertRaisesRegex(ValueError, "Received: kind='spikes'"):
            sparsity_figures([1.0], [2.0], [1.0], 1, ["a"], kind="spikes")
        with self.assertRaisesRegex(ValueError, "Received: l0=\\[\\]"):
            group_density([], [])


class SparsityAccumulatorTest(TestCase):
    def test_invalid_arguments(self):
        with self.assertRaisesRegex(ValueError, "other than 'all'"):
            SparsitySlot("a", "all", 1.0, "a", "delta")
        with self.assertRaisesRegex(ValueError, "letters, digits"):
            SparsitySlot("a", "conv-1", 1.0, "a", "delta")
        with self.assertRaisesRegex(ValueError, "Received: kind='l0'"):
            SparsitySlot("a", "g", 1.0, "a", "l0")
        with self.assertRaisesRegex(ValueError, "at least one"):
            SparsityAccumulator([])
        with self.assertRaisesRegex(ValueError, "one kind"):
            SparsityAccumulator(slots(["a"], ["g"], [1.0]) + slots(
                ["b"], ["g"], [1.0], "activation"))

    def test_config_round_trip_and_variables(self):
        layer = SparsityAccumulator(
            slots(["a", "b", "c"], ["x", "y", "x"], [1, 2, 3], "activation")
        )
        clone = SparsityAccumulator.from_config(layer.get_config())
        self.assertEqual(clone.get_config(), layer.get_config())
        self.assertEqual(clone.slots, layer.slots)
        self.assertEqual(clone.kind, "activation")
        # Non-trainable float32 totals: threaded through JAX steps and
        # summed over tf.distribute replicas.
        self.assertEqual(len(layer.trainable_weights), 0)
        self.assertEqual(
            [(tuple(v.shape), v.dtype, v.aggregation)
             for v in layer.non_trainable_weights],
            [((3,), "float32", "sum"), ((3,), "float32", "sum"),
             ((), "float32", "sum")],
        )

    def _accumulated(self, layer):
        totals = layer.read()
        figs = sparsity_figures(totals["l0"], totals["n"],
                                [s.n_outputs for s in layer.slots],
                                totals["frames"],
                                [s.group for s in layer.slots])
        return {k: float(v) for k, v in figs.items()}

    def test_eager_update_is_ratio_of_sums(self):
        layer = SparsityAccumulator(slots(["a", "b"], ["g", "h"], [4.0, 1.0]))
        ref = np.zeros((2, 3, 1), "float32")  # B=2, T=3 -> 4 transitions
        x = np.ones((2, 5), "float32")
        f32 = lambda *v: [np.array(a, "float32") for a in v]  # noqa: E731
        out = layer([x, ref, *f32(1.0, 3.0, 10.0, 10.0)])
        self.assertAllClose(out, x)
        layer([x, ref[:1], *f32(5.0, 0.0, 30.0, 10.0)])  # 2 transitions
        results = self._accumulated(layer)
        # Over both batches: g 6/40, h 3/20, all 9/60, ops (4*6+3)/(160+20).
        self.assertAllClose(results["delta_density_g"], 6 / 40)
        self.assertAllClose(results["delta_density_h"], 3 / 20)
        self.assertAllClose(results["delta_density_all"], 9 / 60)
        self.assertAllClose(results["op_ratio_counted"], 27 / 180)
        self.assertAllClose(results["macs_dense_counted"], 180 / 6)
        self.assertAllClose(results["macs_effective_counted"], 27 / 6)
        layer.reset()
        self.assertAllClose(layer.read()["n"], [0.0, 0.0])

    def test_counts_stay_float32_under_mixed_precision(self):
        layer = SparsityAccumulator(slots(["a"], ["g"], [9.0]),
                                    dtype="mixed_float16")
        ref = np.zeros((4, 2, 1), "float32")
        big = [np.array(v, "float32") for v in (3_000_001.0, 9_000_000.0)]
        layer([np.ones((2,), "float16"), ref, *big])
        results = self._accumulated(layer)
        self.assertAllClose(results["delta_density_g"], 3_000_001 / 9e6)
        self.assertAllClose(results["macs_dense_counted"], 9 * 9e6 / 4)

    def test_fit_and_evaluate_report_figures(self):
        keras.utils.set_random_seed(0)
        model = tiny_model("delta")
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        x = np.random.default_rng(0).random((5, 3, 4, 4, 2)).astype("float32")
        y = keras.utils.to_categorical([0, 1, 0, 1, 1], 2)
        history = model.fit(
            x, y, batch_size=2, epochs=1, verbose=0, validation_data=(x, y),
            callbacks=[SparsityLogger()],
        )
        for name in ("delta_density_g1", "delta_density_g2",
                     "delta_density_all", "op_ratio_counted",
                     "macs_dense_counted", "macs_effective_counted"):
            self.assertIn(name, history.history)
            self.assertIn("val_" + name, history.history)
        # Batches of 2, 2, 1: the sums give ratios over the whole set, i.e.
        # the figures of one big batch.
        logger = SparsityLogger()
        model.evaluate(x, y, batch_size=2, verbose=0, callbacks=[logger])
        stats = layer_sparsity(model, x)
        self.assertEqual(stats["frames"], 5 * 2)
        want = numpy_figures(
            stats["l0"], stats["n"], [9.0, 2.0], 10.0, ["g1", "g2"],
            "delta_density",
        )
        for key, value in want.items():
            self.assertAllClose(logger.test_figures[key], value, rtol=1e-5)
            self.assertAllClose(history.history["val_" + key][0], value,
                                rtol=1e-5)
        figures = accumulated_figures(model)  # layer_sparsity left the sums
        for key, value in logger.test_figures.items():
            self.assertAllClose(figures[key], value)
        self.assertAllClose(
            stats["n"], [5 * 2 * 4 * 4 * 2, 5 * 2 * 4 * 4 * 3]
        )


class LayerSparsityTest(TestCase):
    def test_activation_kind_counts_every_frame(self):
        model = tiny_model("l1")
        x = np.random.default_rng(2).random((2, 3, 4, 4, 2)).astype("float32")
        x[0, 0, 0, 0, 0] = 0.0
        stats = layer_sparsity(model, x)
        self.assertEqual(stats["kind"], "activation")
        self.assertEqual(stats["names"], ["s1", "s2"])
        self.assertEqual(stats["groups"], ["g1", "g2"])
        self.assertEqual(stats["frames"], 6.0)
        self.assertAllClose(stats["n"][0], x.size)
        self.assertAllClose(stats["l0"][0], x.size - 1)
        self.assertAllClose(stats["neurons_per_frame"], [32.0, 48.0])
        self.assertAllClose(stats["density"], stats["l0"] / stats["n"])
        self.assertAllClose(
            stats["macs_dense_per_frame"], np.array([9.0, 2.0]) * [32, 48]
        )

    def test_delta_counts_match_numpy_and_keep_running_sums(self):
        model = tiny_model("delta")
        x = np.random.default_rng(3).random((2, 3, 4, 4, 2)).astype("float32")
        accumulator = model.get_layer("sparsity_accumulator")
        model(x)
        before = accumulator.read()
        stats = layer_sparsity(model, x)
        q = 0.3 * np.round(x / 0.3)
        d = q[:, :-1] - q[:, 1:]
        self.assertEqual(stats["frames"], 4.0)
        self.assertAllClose(stats["l0"][0], np.count_nonzero(d))
        self.assertAllClose(stats["n"][0], d.size)
        # The running sums of an epoch are left as they were.
        self.assertAllClose(accumulator.read()["l0"], before["l0"])

    def test_model_without_slots(self):
        clips = keras.Input((2, 3))
        model = keras.Model(clips, layers.Dense(2)(clips))
        self.assertEqual(model_sparsity_slots(model), ())
        self.assertEqual(accumulated_figures(model), {})
        with pytest.raises(ValueError, match="Received: model="):
            layer_sparsity(model, np.zeros((1, 2, 3), "float32"))
