"""Transitional check: `VideoClassifier` presets reproduce `TDResNet50` /
`TDMobileNet` (same layer names, slots, outputs and losses for the same
weights). Removed together with the old classes."""

import numpy as np
import pytest

from deltasparse.models.mobilenet.td_mobilenet import TDMobileNet
from deltasparse.models.resnet50.td_resnet50 import TDResNet50
from deltasparse.models.video_classifier import VideoClassifier
from deltasparse.models.weight_transfer import transfer_weights


def randomize(model, rng):
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        elif "threshold" in w.path:
            w.assign(rng.uniform(0.05, 0.2, w.shape).astype("float32"))
        else:
            w.assign(rng.normal(0, 0.05, w.shape).astype("float32"))


@pytest.mark.parametrize(
    "arch, sparsity",
    [("mobilenet", None), ("mobilenet", "l1"), ("mobilenet", "delta"),
     ("resnet50", "delta")],
)
def test_same_outputs_losses_and_slots(arch, sparsity):
    rng = np.random.default_rng(0)
    preset = f"{arch}_{sparsity or 'baseline'}"
    if arch == "mobilenet":
        old = TDMobileNet(input_shape=(32, 32), classes=5, alpha=0.25,
                          sparsity=sparsity)
        new = VideoClassifier.from_preset(preset, num_classes=5,
                                          image_size=(32, 32), alpha=0.25,
                                          sp_rate=1e-3, thr_init=None)
    else:
        old = TDResNet50(input_shape=(32, 32), classes=5, sparsity=sparsity)
        new = VideoClassifier.from_preset(preset, num_classes=5,
                                          image_size=(32, 32), sp_rate=1e-5,
                                          thr_init=None)
    randomize(old, rng)
    report = transfer_weights(old, new)
    assert not report.mismatched
    old_names = [la.name for la in old.layers if la.name != "sparsity_metrics"]
    new_names = [la.name for la in new.layers
                 if la.name != "sparsity_accumulator"]
    assert old_names == new_names
    assert [s.name for s in new.sparsity_slots] == old.sparsity_slots["names"]
    assert [s.group for s in new.sparsity_slots] == old.sparsity_slots["groups"]
    assert [s.n_outputs for s in new.sparsity_slots] == list(
        old.sparsity_slots["n_outputs"])
    x = rng.uniform(-2, 2, (2, 3, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(old(x)), np.asarray(new(x)))
    np.testing.assert_allclose(
        float(sum(old.losses)) if old.losses else 0.0,
        float(sum(new.losses)) if new.losses else 0.0, rtol=1e-6)
