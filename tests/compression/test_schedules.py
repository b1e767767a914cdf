"""Tests for `deltasparse.compression.schedules`: AGP values against the
formula written out by hand, one-shot and constant behaviour, configs."""

import keras
import pytest

from deltasparse.compression import schedules
from deltasparse.compression.schedules import ConstantSparsity
from deltasparse.compression.schedules import OneShotSparsity
from deltasparse.compression.schedules import PolynomialSparsity


def agp(step, s_i, s_f, t0, n, dt):
    """Zhu & Gupta's eq. (1), clamped outside the ramp."""
    t = min(max(step, t0), t0 + n * dt)
    return s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3


def test_polynomial_matches_the_formula():
    schedule = PolynomialSparsity(0.1, 0.9, start_step=3, num_steps=6,
                                  frequency=4)
    assert schedule.end_step == 27
    for step in range(40):
        assert schedule.target(step, 0) == pytest.approx(
            agp(step, 0.1, 0.9, 3, 6, 4), abs=1e-12)
    updates = [t for t in range(40) if schedule.should_update(t, 0)]
    assert updates == [3, 7, 11, 15, 19, 23, 27]
    assert schedule.target(3, 0) == pytest.approx(0.1)
    assert schedule.target(27, 0) == pytest.approx(0.9)
    assert schedule.target(15, 5) == pytest.approx(0.9 - 0.8 * 0.5 ** 3)


def test_polynomial_is_monotone_and_decreasing_ramps_work():
    up = PolynomialSparsity(0.0, 0.5, 0, 10)
    values = [up.target(t, 0) for t in range(12)]
    assert values == sorted(values)
    down = PolynomialSparsity(0.5, 0.2, 0, 2, frequency=1)
    assert down.target(1, 0) == pytest.approx(0.2 + 0.3 * 0.125)


def test_one_shot_is_due_from_its_epoch():
    schedule = OneShotSparsity(0.2, epoch=2)
    assert schedule.one_shot
    assert [schedule.should_update(0, e) for e in range(4)] == [
        False, False, True, True]
    assert schedule.target(0, 1) == 0.0
    assert schedule.target(0, 2) == 0.2


def test_constant():
    schedule = ConstantSparsity(0.7)
    assert not schedule.one_shot
    assert all(schedule.should_update(t, t // 3) for t in range(10))
    assert schedule.target(123, 4) == 0.7


@pytest.mark.parametrize("schedule", [
    ConstantSparsity(0.3),
    OneShotSparsity(0.2, epoch=1),
    PolynomialSparsity(0.0, 0.8, 5, 10, frequency=2),
])
def test_config_round_trip(schedule):
    again = type(schedule).from_config(schedule.get_config())
    assert again == schedule
    serialized = keras.saving.serialize_keras_object(schedule)
    assert schedules.get(serialized) == schedule
    assert serialized["registered_name"].startswith("deltasparse>")


def test_get_from_a_float():
    assert schedules.get(0.25) == ConstantSparsity(0.25)


@pytest.mark.parametrize("build, message", [
    (lambda: ConstantSparsity(1.2), "`sparsity` must be a fraction"),
    (lambda: ConstantSparsity(True), "`sparsity` must be a fraction"),
    (lambda: OneShotSparsity(0.2, epoch=-1), "`epoch` must be an integer"),
    (lambda: PolynomialSparsity(0.0, 0.5, 0, 0), "`num_steps` must be"),
    (lambda: PolynomialSparsity(0.0, 0.5, 0, 3, frequency=0),
     "`frequency` must be"),
    (lambda: PolynomialSparsity(-0.1, 0.5, 0, 3), "`initial_sparsity`"),
    (lambda: PolynomialSparsity(0.0, 0.5, 1.5, 3), "`start_step`"),
    (lambda: schedules.get("half"), "Received: sparsity='half'"),
])
def test_invalid_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()
