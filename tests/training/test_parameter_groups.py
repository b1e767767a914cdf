"""`GroupedSGD` against NumPy PyTorch SGD with parameter groups, matching
rules, `layer_variable_paths`, config, `fit`/`Trainer` resume, and
`EpochCosineDecay` against the formula of AdaFocusV2's per-epoch cosine."""

import math
import warnings

import keras
import numpy as np
import pytest

from deltasparse.training import Trainer
from deltasparse.training.optimizers import SGDWithDampening
from deltasparse.training.parameter_groups import EpochCosineDecay
from deltasparse.training.parameter_groups import GroupedSGD
from deltasparse.training.parameter_groups import layer_variable_paths


def numpy_torch_sgd_groups(params, groups, gradients, learning_rates,
                           momentum, dampening, weight_decay, nesterov):
    """`torch.optim.SGD.step` with one group per parameter, written out.

    `groups[i] = (lr_mult, decay_mult)`: the group's `lr = base * lr_mult`
    and `weight_decay = weight_decay * decay_mult`, as AdaFocusV2's
    `adjust_learning_rate` sets them. Returns the parameters after each step.
    """
    params = [np.array(p, dtype=np.float64) for p in params]
    buffers = [None] * len(params)
    trajectory = []
    for step_gradients, base_lr in zip(gradients, learning_rates):
        for i, (grad, (lr_mult, decay_mult)) in enumerate(
                zip(step_gradients, groups)):
            d = grad + weight_decay * decay_mult * params[i]
            if momentum:
                if buffers[i] is None:
                    buffers[i] = d.copy()
                else:
                    buffers[i] = momentum * buffers[i] + (1 - dampening) * d
                d = d + momentum * buffers[i] if nesterov else buffers[i]
            params[i] = params[i] - base_lr * lr_mult * d
        trajectory.append([p.copy() for p in params])
    return trajectory


RNG = np.random.default_rng(12)
STARTS = [RNG.normal(size=(3,)), RNG.normal(size=(2, 2)), RNG.normal(size=(4,))]
PATHS = ["glance_network/conv1/kernel", "policy_network/dense/bias",
         "classifier/head/kernel"]
STEPS = [[RNG.normal(size=s.shape) for s in STARTS] for _ in range(6)]


def _variables(paths=PATHS):
    return [keras.Variable(s.astype("float32"), name=p.rsplit("/", 1)[-1])
            for s, p in zip(STARTS, paths)]


def _run(optimizer, variables, steps=STEPS, paths=PATHS):
    optimizer.use_variable_paths(variables, paths)
    trajectory = []
    for gradients in steps:
        optimizer.apply([keras.ops.array(g.astype("float32"))
                         for g in gradients], variables)
        trajectory.append([v.numpy().copy() for v in variables])
    return trajectory


@pytest.mark.parametrize("momentum, dampening, weight_decay, nesterov", [
    (0.9, 0.0, 1e-4, False),   # AdaFocusV2
    (0.9, 0.0, 0.05, True),    # Nesterov
    (0.8, 0.4, 0.02, False),   # dampening
    (0.0, 0.0, 0.1, False),    # no momentum buffer
])
def test_steps_equal_numpy_torch_sgd_with_groups(momentum, dampening,
                                                 weight_decay, nesterov):
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [1, 3], [0.1, 0.05, 0.02])  # steps 0-1, 2-3, 4-5
    optimizer = GroupedSGD(
        schedule, {"glance_network": 0.5, "policy_network": 0.1},
        default_multiplier=5.0,
        weight_decay_multipliers={".*/bias": 0.0},
        momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov)
    got = _run(optimizer, _variables())
    want = numpy_torch_sgd_groups(
        STARTS, [(0.5, 1.0), (0.1, 0.0), (5.0, 1.0)], STEPS,
        [0.1, 0.1, 0.05, 0.05, 0.02, 0.02], momentum, dampening,
        weight_decay, nesterov)
    for got_step, want_step in zip(got, want):
        for g, w in zip(got_step, want_step):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)
    # The groups matter: the same steps with multiplier 1 end elsewhere.
    ungrouped = numpy_torch_sgd_groups(
        STARTS, [(1.0, 1.0)] * 3, STEPS, [0.1] * 2 + [0.05] * 2 + [0.02] * 2,
        momentum, dampening, weight_decay, nesterov)
    assert not np.allclose(got[-1][0], ungrouped[-1][0], atol=1e-3)


@pytest.mark.parametrize("dampening", [0.0, 0.3])
def test_equals_plain_sgd_on_scaled_gradients_with_folded_decay(dampening):
    """Per group, GroupedSGD == plain SGD without weight decay fed
    `multiplier * (g + weight_decay * decay_multiplier * w)`."""
    multipliers = [0.5, 0.1, 5.0]
    decay_multipliers = [1.0, 0.0, 1.0]
    weight_decay = 0.01
    optimizer = GroupedSGD(
        0.05, [("glance_network", 0.5), ("policy_network", 0.1)],
        default_multiplier=5.0, weight_decay_multipliers={"policy_network": 0},
        momentum=0.9, dampening=dampening, weight_decay=weight_decay)
    grouped = _run(optimizer, _variables())
    # Keras' own SGD (buf = m * buf - lr * g) equals PyTorch's for a constant
    # rate and no dampening; with dampening, the project's plain PyTorch SGD.
    if dampening:
        plain = SGDWithDampening(0.05, momentum=0.9, dampening=dampening,
                                 weight_decay=0.0)
    else:
        plain = keras.optimizers.SGD(0.05, momentum=0.9)
    variables = _variables()
    for step, gradients in enumerate(STEPS):
        scaled = [
            keras.ops.array((m * (g + weight_decay * dm * v.numpy()))
                            .astype("float32"))
            for g, v, m, dm in zip(gradients, variables, multipliers,
                                   decay_multipliers)]
        plain.apply(scaled, variables)
        for g, v in zip(grouped[step], variables):
            np.testing.assert_allclose(g, v.numpy(), rtol=2e-5, atol=1e-6)


def _multipliers(rules, paths, **kwargs):
    optimizer = GroupedSGD(0.1, rules, **kwargs)
    variables = [keras.Variable([0.0]) for _ in paths]
    optimizer.use_variable_paths(variables, paths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimizer.build(variables)
    return [m[1] for m in optimizer.variable_multipliers()]


def test_first_match_wins_and_unmatched_get_the_default():
    paths = ["glance_network/conv1/kernel", "glance_network/fc/bias",
             "local_network/conv1/kernel", "classifier/kernel"]
    rules = [("glance_network/fc", 2.0), ("glance_network", 0.5),
             ("glance_network/conv1", 9.0)]
    assert _multipliers(rules, paths) == [0.5, 2.0, 1.0, 1.0]
    assert _multipliers(rules, paths, default_multiplier=3.0) == [
        0.5, 2.0, 3.0, 3.0]
    # Order is what decides, not specificity.
    assert _multipliers(dict(reversed(rules)), paths)[0] == 9.0


def test_patterns_match_whole_components_anywhere():
    paths = ["adafocus_v2/glance_network/conv1/kernel",   # nested
             "glance_network_2/conv1/kernel",             # other name
             "glance_network/conv1/kernel",
             "glance/conv1/kernel",                       # prefix of a name
             "local_network/bn/gamma",
             "local_network/conv1/bias"]
    assert _multipliers({"glance_network": 0.5}, paths) == [
        0.5, 1.0, 0.5, 1.0, 1.0, 1.0]
    assert _multipliers({r"glance_network(_\d+)?": 0.5}, paths)[:3] == [
        0.5, 0.5, 0.5]
    assert _multipliers({"^glance_network": 0.5}, paths)[:3] == [
        1.0, 1.0, 0.5]
    assert _multipliers({r".*/(gamma|bias)": 0.0}, paths) == [
        1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert _multipliers({"local_network/.*bias": 7.0}, paths)[4:] == [
        1.0, 7.0]


def test_pattern_matching_nothing_warns():
    optimizer = GroupedSGD(0.1, {"glance_netwrok": 0.5, "classifier": 5.0})
    variable = keras.Variable([0.0])
    optimizer.use_variable_paths([variable], ["classifier/kernel"])
    with pytest.warns(UserWarning, match="glance_netwrok"):
        optimizer.build([variable])


def _standalone_glance():
    # Built on its own, like every keras.applications model.
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x),
                       name="glance_network")


class _TwoNetworks(keras.Model):
    def __init__(self, glance_network, **kwargs):
        super().__init__(**kwargs)
        self.glance_network = glance_network
        self.local_network = keras.Sequential(
            [keras.layers.Dense(4, name="fc")], name="local_network")
        self.classifier = keras.layers.Dense(3, name="classifier")

    def call(self, frames):
        glance = self.glance_network(frames)
        local = self.local_network(keras.ops.mean(frames, axis=(1, 2)))
        return self.classifier(keras.ops.concatenate([glance, local], -1))


def _two_networks():
    model = _TwoNetworks(_standalone_glance(), name="adafocus")
    model(np.zeros((1, 8, 8, 3), "float32"))
    return model


def test_layer_variable_paths_name_every_network():
    model = _two_networks()
    paths = layer_variable_paths(model)
    assert paths == [
        "glance_network/conv1/kernel", "glance_network/conv1/bias",
        "glance_network/bn1/gamma", "glance_network/bn1/beta",
        "local_network/fc/kernel", "local_network/fc/bias",
        "classifier/kernel", "classifier/bias"]
    # Why it exists: Keras' own paths depend on how each part was built.
    keras_paths = [v.path for v in model.trainable_variables]
    assert keras_paths[0] == "conv1/kernel"
    assert keras_paths[4] == "adafocus/local_network/fc/kernel"
    optimizer = GroupedSGD(0.1, {"glance_network": 0.5, "classifier": 5.0})
    assert optimizer.use_layer_paths(model) is optimizer
    optimizer.build(model.trainable_variables)
    assert [m[1] for m in optimizer.variable_multipliers()] == [
        0.5] * 4 + [1.0] * 2 + [5.0] * 2


def test_config_round_trip():
    schedule = EpochCosineDecay(0.002, epochs=50, steps_per_epoch=7)
    optimizer = GroupedSGD(
        schedule, {"glance_network": 0.5, "policy_network": 0.1},
        default_multiplier=2.0, weight_decay_multipliers=[(".*/bias", 0.0)],
        momentum=0.8, dampening=0.1, weight_decay=3e-4, clipnorm=1.0)
    config = optimizer.get_config()
    assert config["learning_rate_multipliers"] == [
        ["glance_network", 0.5], ["policy_network", 0.1]]
    assert config["weight_decay_multipliers"] == [[".*/bias", 0.0]]
    assert (config["default_multiplier"], config["weight_decay"],
            config["momentum"], config["dampening"]) == (2.0, 3e-4, 0.8, 0.1)
    clone = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert isinstance(clone, GroupedSGD)
    assert isinstance(clone._learning_rate, EpochCosineDecay)
    assert clone.get_config() == config
    assert clone.weight_decay is None  # no decoupled Keras decay on top
    # Same config, same steps.
    first = _run(optimizer, _variables())
    second = _run(clone, _variables())
    np.testing.assert_array_equal(first[-1][0], second[-1][0])
    schedule_clone = EpochCosineDecay.from_config(schedule.get_config())
    assert float(schedule_clone(100)) == float(schedule(100))


def _tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((4,)),
        keras.Sequential([keras.layers.Dense(6, name="fc"),
                          keras.layers.BatchNormalization(name="bn")],
                         name="group_a"),
        keras.Sequential([keras.layers.Dense(3, name="fc")], name="group_b"),
    ], name="tiny")


def _data(n=16):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, n)]
    return x, y


def test_fit_with_a_zero_multiplier_keeps_that_group_fixed():
    model = _tiny_model()
    optimizer = GroupedSGD(0.5, {"group_b": 0.0}, weight_decay=0.1)
    model.compile(optimizer=optimizer.use_layer_paths(model),
                  loss="categorical_crossentropy")
    before = {p: v.numpy().copy() for p, v in zip(
        layer_variable_paths(model), model.trainable_variables)}
    x, y = _data()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    after = dict(zip(layer_variable_paths(model),
                     [v.numpy() for v in model.trainable_variables]))
    for path in ("group_b/fc/kernel", "group_b/fc/bias"):
        np.testing.assert_array_equal(after[path], before[path])
    for path in ("group_a/fc/kernel", "group_a/bn/gamma"):
        assert not np.allclose(after[path], before[path])
    assert int(optimizer.iterations.numpy()) == 8


def _trainer_fit(directory, epochs, resume, init_seed=0):
    model = _tiny_model(init_seed)
    optimizer = GroupedSGD(
        EpochCosineDecay(0.2, epochs=3, steps_per_epoch=4),
        {"group_a": 0.5, "group_b": 5.0}, weight_decay=1e-2)
    model.compile(optimizer=optimizer.use_layer_paths(model),
                  loss="categorical_crossentropy")
    trainer = Trainer(directory, resume=resume, seed=5, monitor="loss",
                      mode="min", verbose=0)
    x, y = _data()
    import tensorflow as tf
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    trainer.fit(model, dataset, epochs)
    return model


def test_trainer_resume_restores_buffers_and_schedule(tmp_path):
    full = _trainer_fit(str(tmp_path / "full"), 3, resume=False)
    _trainer_fit(str(tmp_path / "split"), 1, resume=False)
    resumed = _trainer_fit(str(tmp_path / "split"), 3, resume=True,
                           init_seed=9)
    assert int(resumed.optimizer.iterations.numpy()) == 3 * 4
    for got, want in zip(resumed.variables + resumed.optimizer.variables,
                         full.variables + full.optimizer.variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6,
                                   atol=1e-7)
    # The momentum buffers are part of the state that came back.
    names = [v.name for v in resumed.optimizer.variables]
    assert sum("momentum_buffer" in n for n in names) == len(
        resumed.trainable_variables)


def test_keras_file_round_trip_keeps_the_optimizer(tmp_path):
    model = _tiny_model()
    optimizer = GroupedSGD(0.1, {"group_b": 0.0})
    model.compile(optimizer=optimizer.use_layer_paths(model),
                  loss="categorical_crossentropy")
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    with pytest.warns(UserWarning, match="group_b"):
        # The loader builds the optimizer on Keras' own paths, which lack
        # the inner Sequentials' names here: the warning says so ...
        loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, GroupedSGD)
    assert loaded.optimizer.get_config()["learning_rate_multipliers"] == [
        ["group_b", 0.0]]
    for got, want in zip(loaded.optimizer.variables, optimizer.variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert [m[1] for m in loaded.optimizer.variable_multipliers()] == [
        1.0] * 6
    # ... and rebinding before the first fit reassigns the groups.
    loaded.optimizer.use_layer_paths(loaded)
    assert loaded.optimizer.variable_multipliers() == (
        optimizer.variable_multipliers())
    kernel = loaded.get_layer("group_b").get_layer("fc").kernel
    before = kernel.numpy().copy()
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_array_equal(kernel.numpy(), before)


def _scoped_network(name, units):
    with keras.name_scope(name):  # as the AdaFocusV2 presets build theirs
        return keras.Sequential([keras.Input((4,)),
                                 keras.layers.Dense(units, name="fc")],
                                name=name)


def test_unanchored_patterns_on_scoped_networks_equal_layer_paths(tmp_path):
    inputs = keras.Input((4,))
    glance = _scoped_network("glance_network", 3)(inputs)
    local = _scoped_network("local_network", 3)(inputs)
    outputs = keras.layers.Dense(2, name="classifier")(
        keras.layers.Concatenate()([glance, local]))
    model = keras.Model(inputs, outputs, name="two_networks")
    rules = {"glance_network": 0.5, "classifier": 5.0}
    model.compile(optimizer=GroupedSGD(0.1, rules), loss="mse")
    model.optimizer.build(model.trainable_variables)
    groups = [m[1] for m in model.optimizer.variable_multipliers()]
    bound = GroupedSGD(0.1, rules).use_layer_paths(model)
    bound.build(model.trainable_variables)
    assert groups == [m[1] for m in bound.variable_multipliers()] == [
        0.5, 0.5, 1.0, 1.0, 5.0, 5.0]
    # A Functional model reloaded from `.keras` rebuilds its inner networks
    # outside their name scopes: Keras' paths lose the prefix (warning),
    # the layer paths do not.
    path = str(tmp_path / "two.keras")
    model.save(path)
    with pytest.warns(UserWarning, match="glance_network"):
        loaded = keras.saving.load_model(path)
    assert [v.path for v in loaded.trainable_variables][0] == "fc/kernel"
    loaded.optimizer.use_layer_paths(loaded)
    assert [m[1] for m in loaded.optimizer.variable_multipliers()] == groups


def test_epoch_cosine_decay_values():
    lr0, epochs, steps_per_epoch = 0.002, 50, 3
    schedule = EpochCosineDecay(lr0, epochs, steps_per_epoch)
    steps = np.arange(0, (epochs + 3) * steps_per_epoch)
    got = np.array([float(schedule(int(s))) for s in steps])
    epoch = np.minimum(steps // steps_per_epoch, epochs)
    want = 0.5 * lr0 * (1 + np.cos(np.pi * epoch / epochs))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)
    assert got[0] == pytest.approx(lr0)
    assert got[2] == got[0] and got[3] < got[2]  # constant within an epoch
    assert got[25 * 3] == pytest.approx(lr0 / 2, rel=1e-5)
    assert got[-1] == pytest.approx(0.0, abs=1e-12)  # held at 0 after
    # By hand: epoch 10 of 50 -> 0.5 * 0.002 * (1 + cos(pi / 5)).
    assert got[30] == pytest.approx(0.001 * (1 + math.cos(math.pi / 5)),
                                    rel=1e-6)


def test_optimizer_reads_the_schedule_per_step():
    optimizer = GroupedSGD(EpochCosineDecay(0.1, epochs=2, steps_per_epoch=2),
                           {"a": 2.0}, momentum=0.0, weight_decay=0.0)
    variable = keras.Variable([0.0])
    optimizer.use_variable_paths([variable], ["a/kernel"])
    moves = []
    for _ in range(5):
        before = float(variable.numpy()[0])
        optimizer.apply([keras.ops.array([1.0])], [variable])
        moves.append(before - float(variable.numpy()[0]))
    np.testing.assert_allclose(moves, [0.2, 0.2, 0.1, 0.1, 0.0], atol=1e-6)


@pytest.mark.parametrize("arguments, name", [
    ({"learning_rate_multipliers": {"a": -1.0}}, "learning_rate_multipliers"),
    ({"learning_rate_multipliers": {"(": 1.0}}, "learning_rate_multipliers"),
    ({"learning_rate_multipliers": {3: 1.0}}, "learning_rate_multipliers"),
    ({"learning_rate_multipliers": "glance"}, "learning_rate_multipliers"),
    ({"learning_rate_multipliers": [("a", 1.0, 2.0)]},
     "learning_rate_multipliers"),
    ({"weight_decay_multipliers": {"a": "x"}}, "weight_decay_multipliers"),
    ({"default_multiplier": -0.5}, "default_multiplier"),
    ({"weight_decay": -1e-4}, "weight_decay"),
    ({"nesterov": True, "dampening": 0.5}, "nesterov"),
    ({"momentum": -0.9}, "momentum"),
])
def test_bad_arguments_raise(arguments, name):
    with pytest.raises(ValueError, match=f"`{name}"):
        GroupedSGD(0.1, **arguments)


@pytest.mark.parametrize("arguments, name", [
    ((0.0, 50, 10), "initial_learning_rate"),
    ((0.1, 0, 10), "epochs"),
    ((0.1, 50, 2.5), "steps_per_epoch"),
    ((0.1, True, 10), "epochs"),
])
def test_bad_schedule_arguments_raise(arguments, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        EpochCosineDecay(*arguments)


def test_paths_of_wrong_length_or_type_raise():
    optimizer = GroupedSGD(0.1)
    variables = [keras.Variable([0.0]), keras.Variable([1.0])]
    with pytest.raises(ValueError, match="`paths`.*Received"):
        optimizer.use_variable_paths(variables, ["a"])
    with pytest.raises(ValueError, match="`paths`.*Received"):
        optimizer.use_variable_paths(variables, ["a", 3])
    with pytest.raises(ValueError, match="`model`"):
        GroupedSGD(0.1).use_layer_paths("not a model")
