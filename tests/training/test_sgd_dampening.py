"""`SGDWithDampening` against a NumPy re-implementation of torch.optim.SGD."""

import keras
import numpy as np
import pytest

from deltasparse.training.optimizers import SGDWithDampening


def numpy_torch_sgd(weights, gradients, learning_rates, momentum, dampening,
                    weight_decay, nesterov):
    """The update equations of `torch.optim.SGD.step`, written out."""
    w = np.array(weights, dtype=np.float64)
    buffer = None
    trajectory = []
    for grad, lr in zip(gradients, learning_rates):
        g = grad + weight_decay * w
        if momentum:
            buffer = g.copy() if buffer is None else (
                momentum * buffer + (1 - dampening) * g)
            g = g + momentum * buffer if nesterov else buffer
        w = w - lr * g
        trajectory.append(w.copy())
    return trajectory


GRADIENTS = [np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5]),
             np.array([-2.0, 1.0, 0.0]), np.array([0.1, 0.2, 0.3]),
             np.array([3.0, -3.0, 1.0])]


@pytest.mark.parametrize("momentum, dampening, weight_decay, nesterov", [
    (0.9, 0.9, 1e-3, False),   # Hara et al. / Efficient-3DCNNs
    (0.9, 0.0, 0.05, True),    # Nesterov
    (0.5, 0.3, 0.0, False),
    (0.0, 0.0, 0.1, False),    # no momentum buffer
])
def test_five_steps_equal_the_pytorch_equations(momentum, dampening,
                                                weight_decay, nesterov):
    start = np.array([1.0, -2.0, 0.5])
    variable = keras.Variable(start.astype("float32"))
    optimizer = SGDWithDampening(0.1, momentum=momentum, dampening=dampening,
                                 weight_decay=weight_decay, nesterov=nesterov)
    expected = numpy_torch_sgd(start, GRADIENTS, [0.1] * 5, momentum,
                               dampening, weight_decay, nesterov)
    for gradient, want in zip(GRADIENTS, expected):
        optimizer.apply([keras.ops.array(gradient.astype("float32"))],
                        [variable])
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5,
                                   atol=1e-6)
    # The first step used buf = g, not (1 - dampening) * g.
    first = numpy_torch_sgd(start, GRADIENTS[:1], [0.1], momentum, dampening,
                            weight_decay, nesterov)[0]
    damped_first = start - 0.1 * (1 - dampening) * (
        GRADIENTS[0] + weight_decay * start)
    if momentum and dampening:
        assert not np.allclose(first, damped_first)


def test_learning_rate_schedule_is_read_per_step():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [1, 3], [0.2, 0.05, 0.01])
    start = np.array([0.3, 0.7, -1.0])
    variable = keras.Variable(start.astype("float32"))
    optimizer = SGDWithDampening(schedule)
    rates = [0.2, 0.2, 0.05, 0.05, 0.01]  # steps 0..4
    expected = numpy_torch_sgd(start, GRADIENTS, rates, 0.9, 0.9, 1e-3, False)
    for gradient, want in zip(GRADIENTS, expected):
        optimizer.apply([keras.ops.array(gradient.astype("float32"))],
                        [variable])
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5,
                                   atol=1e-6)


def test_model_fit_steps_follow_the_equations():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)).astype("float32")
    y = rng.normal(size=(4, 1)).astype("float32")
    start = rng.normal(size=(3, 1))
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(1, use_bias=False)])
    model.layers[0].set_weights([start.astype("float32")])
    model.compile(SGDWithDampening(0.05), "mse")
    model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    w, buffer = start.astype(np.float64), None
    for _ in range(3):
        grad = 2.0 / 4 * x.T.astype(np.float64) @ (x @ w - y)
        g = grad + 1e-3 * w
        buffer = g if buffer is None else 0.9 * buffer + 0.1 * g
        w = w - 0.05 * buffer
    np.testing.assert_allclose(model.layers[0].get_weights()[0], w,
                               rtol=1e-5, atol=1e-6)


def test_config_round_trip_and_settable_learning_rate():
    optimizer = SGDWithDampening(0.1, momentum=0.8, dampening=0.5,
                                 weight_decay=1e-4)
    config = optimizer.get_config()
    assert (config["momentum"], config["dampening"], config["weight_decay"],
            config["nesterov"]) == (0.8, 0.5, 1e-4, False)
    clone = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert isinstance(clone, SGDWithDampening)
    assert clone.coupled_weight_decay == 1e-4
    assert clone.weight_decay is None  # no decoupled Keras decay on top
    optimizer.learning_rate = 0.01
    assert np.isclose(float(optimizer.learning_rate), 0.01)


@pytest.mark.parametrize("arguments, name", [
    ({"nesterov": True}, "nesterov"),  # dampening 0.9
    ({"nesterov": True, "dampening": 0.0, "momentum": 0.0}, "nesterov"),
    ({"momentum": -0.1}, "momentum"),
    ({"dampening": 1.5}, "dampening"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"nesterov": 1}, "nesterov"),
    ({"learning_rate": -0.1}, "learning_rate"),
])
def test_bad_arguments_raise(arguments, name):
    with pytest.raises(ValueError, match=f"`{name}"):
        SGDWithDampening(**arguments)
