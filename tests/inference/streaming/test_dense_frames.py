"""Dense TensorFlow frames (`DenseFramePrograms`) and the engine's dense-frame
fallback."""

import numpy as np
import pytest

from deltasparse.inference.streaming import StreamingDeltaModel
from deltasparse.inference.streaming.dense_frames import DenseFramePrograms
from tests.inference.streaming.test_engine import check_exact
from tests.inference.streaming.test_engine import mobilenet  # noqa: F401
from tests.inference.streaming.test_engine import moving_clips


class FakeClock:
    """`engine._clock` whose steps take `seconds[kind]`: the engine times
    every step with two calls; the first finds the step's kind from
    `engine.frame_counts` (incremented before the step starts)."""

    def __init__(self, engine, seconds):
        self.engine, self.seconds = engine, seconds
        self.now, self.calls, self.counts = 0.0, 0, {}
        engine._clock = self

    def __call__(self):
        self.calls += 1
        if self.calls % 2:
            counts = dict(self.engine.frame_counts)
            self.kind = next(k for k, v in counts.items()
                             if v != self.counts.get(k, 0))
            self.counts = counts
        else:
            self.now += self.seconds[self.kind]
        return self.now


def test_tensorflow_frame_equals_the_numpy_key_frame(mobilenet):  # noqa: F811
    engine = StreamingDeltaModel(mobilenet, dense_frames="numpy")
    frames = moving_clips(2, 1, seed=3)[:, 0]
    state = engine.initial_state(2)
    engine.step(frames, state)
    values = DenseFramePrograms(engine.program)(frames)
    assert len(values) == len(engine.program.steps)
    for step, got, want in zip(engine.program.steps, values, state.values):
        if step.kind == "gap":
            got = got[1]
        assert got.shape == want.shape, step.name
        assert got.flags.writeable
        # Summation order only: quantized outputs sit on the same levels.
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4,
                                   err_msg=step.name)


@pytest.mark.parametrize("dense_frames, counts", [
    # 0 key; 1 update (fraction > 0); 2 a fused TensorFlow frame (stale
    # caches); 3 key (re-synchronised caches); 4 update (probe); 5 fused;
    # 6 key.
    ("tensorflow", {"key": 3, "dense": 2, "update": 2}),
    # NumPy dense frames keep the caches: 0 key; 1 update; 2, 3 dense;
    # 4 update (probe); 5, 6 dense.
    ("numpy", {"key": 1, "dense": 4, "update": 2}),
])
def test_dense_fallback_follows_the_last_update_and_stays_exact(
        mobilenet, dense_frames, counts):  # noqa: F811
    clips = moving_clips(3, 7, seed=5)
    engine = StreamingDeltaModel(mobilenet, refresh=None,
                                 dense_frames=dense_frames,
                                 dense_frame_above=0.0, probe_every=3)
    FakeClock(engine, {"key": 2.0, "dense": 1.0, "update": 3.0})
    check_exact(mobilenet, engine, clips)
    assert engine.stats["frames"] == counts
    never = StreamingDeltaModel(mobilenet, refresh=None,
                                dense_frames=dense_frames,
                                dense_frame_above=None)
    check_exact(mobilenet, never, clips)
    assert never.stats["frames"] == {"key": 1, "dense": 0, "update": 6}
    assert never.stats["total"] < engine.stats["total"]


def test_faster_updates_win_back_once_timed(mobilenet):  # noqa: F811
    clips = moving_clips(2, 6, seed=5)
    engine = StreamingDeltaModel(mobilenet, refresh=None,
                                 dense_frame_above=0.0, probe_every=16)
    FakeClock(engine, {"key": 2.0, "dense": 1.0, "update": 0.5})
    check_exact(mobilenet, engine, clips)
    # 0 key; 1 update (fraction above 0.0, nothing timed yet); 2 dense
    # (now both timed: updates are faster); 3 key (re-synchronise at once);
    # 4, 5 updates.
    assert engine.stats["frames"] == {"key": 2, "dense": 1, "update": 3}


def test_identical_frames_never_fall_back(mobilenet):  # noqa: F811
    clips = np.repeat(moving_clips(1, 1, seed=2), 5, axis=1)
    engine = StreamingDeltaModel(mobilenet, refresh=None,
                                 dense_frame_above=0.0)
    engine.predict(clips)
    # An update that executes nothing is not above 0.0.
    assert engine.stats["frames"] == {"key": 1, "dense": 0, "update": 4}


@pytest.mark.parametrize("arguments, name", [
    ({"dense_frames": "jax"}, "dense_frames"),
    ({"dense_frame_above": 1.5}, "dense_frame_above"),
    ({"dense_frame_above": "0.5"}, "dense_frame_above"),
    ({"probe_every": 0}, "probe_every"),
])
def test_invalid_fallback_arguments(mobilenet, arguments, name):  # noqa: F811
    with pytest.raises(ValueError, match=f"`{name}`"):
        StreamingDeltaModel(mobilenet, **arguments)
