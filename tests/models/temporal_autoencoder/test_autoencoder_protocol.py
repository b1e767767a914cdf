"""Tests of the ten group k-sparse algorithms trained by `AutoencoderProtocol`.

(`deltasparse.training.autoencoder_protocol`; kept next to the model tests
because the trainer helper owns `tests/training/`.)

Tiny shapes (T=3, 8x8x1 frames, 8 filters, 2 groups, 4 videos = one batch)
so that each fit is one step. Most fits run eagerly (`run_eagerly=True`),
which skips tracing; `test_graph_mode_protocol` checks the graph path.
"""

import dataclasses
import os

import h5py
import keras
import numpy as np
import pytest

from deltasparse.models.temporal_autoencoder import encoders
from deltasparse.models.temporal_autoencoder import losses
from deltasparse.models.temporal_autoencoder.temporal_autoencoder import TemporalAutoencoder
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import ALGORITHMS
from deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets import get_algorithm
from deltasparse.reporting import autoencoder_plots
from deltasparse.training.autoencoder_protocol import AutoencoderProtocol
from deltasparse.training.autoencoder_protocol import AutoencoderTrainingConfig

N, T, H, W, C, F, G, CLASSES = 4, 3, 8, 8, 1, 8, 2, 3
CNN_ALGORITHMS = [m for m in ALGORITHMS if m != "vgg19"]


@pytest.fixture(autouse=True)
def _fresh_session():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1)
    yield


TRAINING = {f.name for f in dataclasses.fields(AutoencoderTrainingConfig)}


def make_config(algorithm, **overrides):
    config = dict(
        algorithm=algorithm, clip_length=T, image_size=(H, W), channels=C,
        num_classes=CLASSES, filters=F, encoder_kernel_size=3,
        decoder_kernel_size=5, groups=G, epochs=1, batch_size=N,
        run_eagerly=True, verbose=0,
    )
    config.update(overrides)
    return config


PROTOCOL = ("checkpoint_dir", "resume", "seed", "log_scalar")


def make_alg(algorithm, tmp_path, callbacks=(), **overrides):
    config = make_config(algorithm, **overrides)
    settings = AutoencoderTrainingConfig(
        **{k: v for k, v in config.items() if k in TRAINING})
    model = TemporalAutoencoder(**{
        k: v for k, v in config.items()
        if k not in TRAINING and k not in PROTOCOL})
    return AutoencoderProtocol(
        model, settings, str(tmp_path), callbacks,
        **{k: v for k, v in config.items() if k in PROTOCOL})


def make_data(n=N, t=T, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, t, H, W, C)).astype("float32")
    y = np.eye(CLASSES, dtype="float32")[np.arange(n) % CLASSES]
    return x, y


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def head_weights(alg):
    return [np.asarray(w) for w in alg.model.head.get_layer("logits").weights]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


# --------------------------------------------------------------------------
# NumPy references
# --------------------------------------------------------------------------


def np_topk_mask(scores, k):
    """{0,1} mask of the k largest entries per row; ties: lower index."""
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    mask = np.zeros_like(scores)
    np.put_along_axis(mask, order, 1.0, axis=1)
    return mask


def np_group_norms(x, groups, eps=1e-7):
    shape = x.shape[:-1] + (groups, x.shape[-1] // groups)
    return np.sqrt(np.sum(np.square(x.reshape(shape)), axis=-1) + eps)


def np_group_ksparse_step(x, groups, k, lifetime):
    """One competition on (B, T, H, W, C); groups=C gives plain ksparse."""
    b, t, h, w, c = x.shape
    n = np_group_norms(x, groups) if groups != c else x
    if lifetime:  # rows (h, w, g), competition over (b, t)
        scores = n.transpose(2, 3, 4, 0, 1).reshape(h * w * groups, b * t)
        mask = np_topk_mask(scores, k).reshape(h, w, groups, b, t)
        mask = mask.transpose(3, 4, 0, 1, 2)
    else:  # rows (b, t, g), competition over (h, w)
        scores = n.transpose(0, 1, 4, 2, 3).reshape(b * t * groups, h * w)
        mask = np_topk_mask(scores, k).reshape(b, t, groups, h, w)
        mask = mask.transpose(0, 1, 3, 4, 2)
    return x * np.repeat(mask, c // groups, axis=-1)


def np_sparse_code(dense, groups, k_spatial, k_lifetime):
    x = np_group_ksparse_step(dense, groups, k_spatial, lifetime=False)
    return np_group_ksparse_step(x, groups, k_lifetime, lifetime=True)


def np_recon_loss(x, pred, next_frame=False, pad_value=None):
    if next_frame:
        pred, x = pred[:, :-1], x[:, 1:]
    error = (pred - x) ** 2
    if pad_value is not None:
        error = error * (x != pad_value)
    return np.mean(np.mean(error, axis=-1))


def np_head(features, kernel, bias, pool=2):
    b, t, h, w, f = features.shape
    pooled = features.reshape(b, t, h // pool, pool, w // pool, pool, f)
    pooled = pooled.max(axis=(3, 5)).reshape(b, t, -1)
    z = (pooled @ kernel + bias).mean(axis=1)
    z = z - z.max(axis=-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------
# Every algorithm
# --------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", CNN_ALGORITHMS)
def test_each_algorithm_builds_and_trains(algorithm, tmp_path):
    spec = get_algorithm(algorithm)
    alg = make_alg(algorithm, tmp_path)
    x, y = make_data()
    layer_names = [layer.name for layer in alg.model.encoder.layers]
    assert ("crnn" in layer_names) == spec.recurrent
    assert ("input_dropout" in layer_names) == spec.input_dropout
    sparsity_names = [layer.name for layer in alg.model.bottleneck.layers]
    expected = {
        "identity": ["identity"],
        "ksparse": ["ksparse"],
        "group_ksparse": ["group_ksparse"],
        "slow_group_ksparse": ["group_ksparse", "slowness"],
    }[spec.sparsity]
    assert sparsity_names[1:] == expected

    initial = weights_of(alg.autoencoder)
    history = alg.pretrain(x)
    assert os.path.isfile(alg.autoencoder_path)
    if spec.pretrains:
        assert len(history.history["loss"]) == 1
        assert not same(initial, weights_of(alg.autoencoder))
    else:
        assert history is None
        assert same(initial, weights_of(alg.autoencoder))

    alg.load_pretrained()
    alg.train_classifier(x, y, x, y, stacked=True)
    alg.train_classifier(x, y, x, y, stacked=False)
    assert os.path.isfile(alg.classifier_path(True))
    assert os.path.isfile(alg.classifier_path(False))
    loss = alg.evaluate_autoencoder(x)
    assert np.isfinite(loss)
    result = alg.evaluate_classifier(x, y, stacked=False)
    assert len(result) == 2 and np.isfinite(result[0])
    assert 0.0 <= result[1] <= 1.0
    assert alg.predict(x).shape == x.shape
    assert alg.predict_classifier(x).shape == (N, CLASSES)


@pytest.mark.slow
def test_graph_mode_protocol(tmp_path):
    alg = make_alg("groupwtacrnn", tmp_path, run_eagerly=False, clipnorm=1.0)
    x, y = make_data(n=6)  # batch 4 + a last partial batch of 2
    history = alg.pretrain(x)
    assert np.isfinite(history.history["loss"][0])
    alg.load_pretrained()
    alg.train_classifier(x, y, stacked=False)
    assert np.isfinite(alg.evaluate_autoencoder(x))


# --------------------------------------------------------------------------
# Losses against NumPy
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm, overrides",
    [
        ("wtacnn", {}),
        ("groupwtacrnn", {}),
        ("denoisingcrnn", {"pad_value": -1.0}),
        ("groupwtacnn", {"pad_value": -1.0}),
    ],
)
def test_autoencoder_loss_matches_numpy(algorithm, overrides, tmp_path):
    alg = make_alg(algorithm, tmp_path, **overrides)
    x, _ = make_data()
    pad_value = overrides.get("pad_value")
    if pad_value is not None:
        x[:, -1] = pad_value  # padded last frame
        x[0, 0, :2] = pad_value  # some padded pixels
    pred = alg.predict(x)
    expected = np_recon_loss(
        x, pred, get_algorithm(algorithm).next_frame, pad_value
    )
    np.testing.assert_allclose(alg.evaluate_autoencoder(x), expected, rtol=1e-5)
    if pad_value is not None:
        unmasked = np_recon_loss(x, pred, get_algorithm(algorithm).next_frame)
        assert abs(expected - unmasked) > 1e-3


def test_slowness_penalty_is_added_to_the_autoencoder_loss(tmp_path):
    alg = make_alg("slowgroupwtacnn", tmp_path, l1_slow=0.5)
    x, _ = make_data()
    code = alg.encode(x, sparse=True).astype("float64")
    n = np_group_norms(code, G)
    penalty = 0.5 * np.mean(np.abs(n[:, 1:] - n[:, :-1]))
    expected = np_recon_loss(x, alg.predict(x)) + penalty
    assert penalty > 1e-3
    np.testing.assert_allclose(alg.evaluate_autoencoder(x), expected, rtol=1e-5)


def test_l2_reaches_every_kernel(tmp_path):
    alg = make_alg("wtacrnn", tmp_path, l2=0.01)
    x, _ = make_data()
    kernels = [alg.model.encoder.get_layer(f"conv{i}").kernel for i in (1, 2, 3)]
    kernels.append(alg.model.encoder.get_layer("crnn").cell.kernel)
    kernels.append(alg.model.decoder.get_layer("deconv").kernel)
    l2 = sum(0.01 * np.sum(np.square(np.asarray(k))) for k in kernels)
    expected = np_recon_loss(x, alg.predict(x), next_frame=True) + l2
    np.testing.assert_allclose(alg.evaluate_autoencoder(x), expected, rtol=1e-5)
    head = alg.model.head.get_layer("logits").kernel
    assert len(alg.model.head.losses) == 1
    np.testing.assert_allclose(
        float(alg.model.head.losses[0]),
        0.01 * np.sum(np.square(np.asarray(head))),
        rtol=1e-5,
    )


def test_classifier_loss_is_keras2_crossentropy(tmp_path):
    alg = make_alg("wtacnn", tmp_path)
    x, y = make_data()
    p = alg.predict_classifier(x).astype("float64")
    p = np.clip(p / p.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    loss = np.mean(-np.sum(y * np.log(p), axis=-1))
    acc = np.mean(p.argmax(-1) == y.argmax(-1))
    for stacked in (True, False):
        got = alg.evaluate_classifier(x, y, stacked=stacked)
        np.testing.assert_allclose(got, [loss, acc], rtol=1e-5)


def test_next_frame_needs_two_frames(tmp_path):
    alg = make_alg("wtacrnn", tmp_path, clip_length=1)
    x, _ = make_data(t=1)
    with pytest.raises(ValueError, match="at least 2 frames"):
        alg.pretrain(x)


def test_clips_longer_than_built_for_name_clip_length(tmp_path):
    alg = make_alg("groupwtacrnn", tmp_path)
    x, y = make_data(t=T + 2)
    message = (rf"built for `clip_length`={T} frames.*"
               rf"Received: clip_length={T + 2} \(x.shape=\({N}, {T + 2}, ")
    with pytest.raises(ValueError, match=message):
        alg.pretrain(x)
    with pytest.raises(ValueError, match=message):
        alg.train_classifier(x, y)
    with pytest.raises(ValueError, match="Received: clip_length=5"):
        alg.model(x)  # the model itself, before Keras' own shape check
    with pytest.raises(ValueError, match=r"Received: x.shape=\(4, 3, 8, 8, 3\)"):
        alg.evaluate_classifier(np.zeros((N, T, H, W, 3), "float32"), y)


# --------------------------------------------------------------------------
# Sparsity and the classifier branch
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm, k_spatial, k_lifetime",
    [
        ("wtacnn", 1, 1),
        ("wtacnn", 3, 5),
        ("groupwtacnn", 1, 1),
        ("groupwtacrnn", 2, 4),
        ("slowgroupwtacnn", 64, 2),  # nospatial
    ],
)
def test_bottleneck_code_is_exactly_k_sparse(
    algorithm, k_spatial, k_lifetime, tmp_path
):
    alg = make_alg(algorithm, tmp_path, k_spatial=k_spatial, k_lifetime=k_lifetime)
    x, _ = make_data()
    dense = alg.encode(x, sparse=False)
    code = alg.encode(x, sparse=True)
    groups = F if algorithm == "wtacnn" else G
    expected = np_sparse_code(
        dense.astype("float64"), groups, k_spatial, k_lifetime
    )
    np.testing.assert_allclose(code, expected, rtol=1e-6, atol=1e-7)
    # At most k_lifetime active (b, t) per position and group.
    active = np_group_norms(code, groups, eps=0.0) > 0
    assert active.sum(axis=(0, 1)).max() <= k_lifetime
    assert active.reshape(N, T, H * W, groups).sum(axis=2).max() <= k_spatial


def test_classifier_never_sees_the_sparsity(tmp_path):
    alg = make_alg("groupwtacnn", tmp_path)
    x, _ = make_data()
    for model in (alg.stacked_classifier, alg.endtoend_classifier):
        assert alg.model.bottleneck not in model.layers
        assert alg.model.encoder in model.layers and alg.model.head in model.layers
    assert alg.model.bottleneck in alg.autoencoder.layers
    kernel, bias = head_weights(alg)
    dense = alg.encode(x, sparse=False)
    code = alg.encode(x, sparse=True)
    probs = alg.predict_classifier(x)
    np.testing.assert_allclose(probs, np_head(dense, kernel, bias), atol=1e-5)
    assert not np.allclose(probs, np_head(code, kernel, bias), atol=1e-5)


# --------------------------------------------------------------------------
# Training stages
# --------------------------------------------------------------------------


def test_stacked_freezes_encoder_and_endtoend_trains_it(tmp_path):
    alg = make_alg("wtacrnn", tmp_path, lr=1e-2)
    x, y = make_data()
    alg.pretrain(x)
    alg.load_pretrained()
    encoder0, head0 = weights_of(alg.model.encoder), weights_of(alg.model.head)
    decoder0 = weights_of(alg.model.decoder)
    alg.train_classifier(x, y, stacked=True)
    assert same(encoder0, weights_of(alg.model.encoder))
    head1 = weights_of(alg.model.head)
    assert not same(head0, head1)
    alg.train_classifier(x, y, stacked=False)
    encoder2 = weights_of(alg.model.encoder)
    assert all(not np.array_equal(a, b) for a, b in zip(encoder0, encoder2))
    assert not same(head1, weights_of(alg.model.head))
    assert same(decoder0, weights_of(alg.model.decoder))
    # The autoencoder fit trains the encoder again after a stacked stage.
    alg.train_classifier(x, y, stacked=True)
    alg.pretrain(x)
    assert not same(encoder2, weights_of(alg.model.encoder))


def test_optimizers_and_global_norm_clipping(tmp_path):
    alg = make_alg("wtacnn", tmp_path, lr=1.0, momentum=0.9, clipnorm=1e-3)
    for model in (alg.autoencoder, alg.stacked_classifier):
        opt = model.optimizer
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(opt.learning_rate) == 1.0
        assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.9, 0.999, 1e-7)
        assert opt.global_clipnorm == 1e-3 and opt.clipnorm is None
    sgd = alg.endtoend_classifier.optimizer
    assert isinstance(sgd, keras.optimizers.SGD)
    np.testing.assert_allclose(float(sgd.learning_rate), 0.1)
    assert sgd.momentum == 0.9 and not sgd.nesterov
    assert sgd.global_clipnorm == 1e-3 and sgd.clipnorm is None
    # One SGD step from zero momentum moves all variables together by
    # exactly lr / 10 * clipnorm (global norm), whatever the gradient size.
    x, y = make_data()
    before = weights_of(alg.model.encoder) + weights_of(alg.model.head)
    alg.train_classifier(x, y, stacked=False)
    after = weights_of(alg.model.encoder) + weights_of(alg.model.head)
    step = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, before)))
    np.testing.assert_allclose(step, 0.1 * 1e-3, rtol=1e-3)

    unclipped = make_alg("wtacnn", tmp_path / "b", clipnorm=0.0)
    assert unclipped.autoencoder.optimizer.global_clipnorm is None
    assert unclipped.endtoend_classifier.optimizer.global_clipnorm is None


class HeadRecorder(keras.callbacks.Callback):
    """Records the head weights at the start and end of every epoch."""

    def __init__(self, head_fn):
        super().__init__()
        self.head_fn = head_fn
        self.begin = []
        self.epochs = []

    def on_train_begin(self, logs=None):
        self.begin.append(weights_of(self.head_fn()))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((logs["val_loss"], weights_of(self.head_fn())))


def test_carry_over_shares_head_and_optimizer_state(tmp_path):
    alg = make_alg("wtacnn", tmp_path, carry_over=True)
    x, y = make_data()
    rec = HeadRecorder(lambda: alg.model.head)
    alg.pretrain(x)
    alg.load_pretrained()
    alg.train_classifier(x, y, x, y, stacked=True, callbacks=[rec])
    best_stacked = weights_of(alg.model.head)
    alg.train_classifier(x, y, x, y, stacked=False, callbacks=[rec])
    assert same(rec.begin[1], best_stacked)  # end-to-end from stacked head
    last_e2e = weights_of(alg.model.head)
    alg.load_pretrained()  # the next labelled size
    alg.train_classifier(x, y, x, y, stacked=True, callbacks=[rec])
    assert same(rec.begin[2], last_e2e)  # stacked from end-to-end head
    assert int(alg.stacked_classifier.optimizer.iterations) == 2
    assert int(alg.endtoend_classifier.optimizer.iterations) == 1


def test_without_carry_over_stages_start_fresh_but_endtoend_from_stacked(
        tmp_path):
    alg = make_alg("wtacnn", tmp_path, carry_over=False)
    x, y = make_data()
    rec = HeadRecorder(lambda: alg.model.head)
    alg.pretrain(x)
    alg.load_pretrained()
    alg.train_classifier(x, y, x, y, stacked=True, callbacks=[rec])
    best_stacked = weights_of(alg.model.head)
    alg.train_classifier(x, y, x, y, stacked=False, callbacks=[rec])
    assert same(rec.begin[1], best_stacked)  # spec 9.4, even without carry
    assert int(alg.endtoend_classifier.optimizer.iterations) == 1
    last_e2e = weights_of(alg.model.head)
    alg.load_pretrained()
    alg.train_classifier(x, y, x, y, stacked=True, callbacks=[rec])
    assert not same(rec.begin[2], last_e2e)
    np.testing.assert_array_equal(rec.begin[2][1], 0.0)  # fresh zero bias
    assert int(alg.stacked_classifier.optimizer.iterations) == 1


def test_early_stopping_restores_best_weights(tmp_path):
    alg = make_alg("wtacnn", tmp_path, epochs=10, patience=1, lr=0.05)
    x, y = make_data()
    y_val = np.roll(y, 1, axis=1)  # contradicts the training labels
    rec = HeadRecorder(lambda: alg.model.head)
    history = alg.train_classifier(
        x, y, x, y_val, stacked=True, callbacks=[rec]
    )
    val_losses = [v for v, _ in rec.epochs]
    assert len(val_losses) < 10  # stopped early
    best = int(np.argmin(val_losses))
    assert best < len(val_losses) - 1
    assert same(weights_of(alg.model.head), rec.epochs[best][1])
    assert history.history["val_loss"] == pytest.approx(val_losses)
    np.testing.assert_allclose(
        alg.evaluate_classifier(x, y_val)[0], val_losses[best], rtol=1e-4
    )
    # Restoring the best weights does not roll the optimizer back (Keras
    # 2.2.4 weight files hold no optimizer state).
    steps = len(val_losses)
    assert int(alg.stacked_classifier.optimizer.iterations) == steps
    with h5py.File(alg.classifier_path(True), "r") as f:
        assert "optimizer" not in f


def test_every_epoch_figure_is_logged_per_phase(tmp_path):
    seen = []
    alg = make_alg("groupwtacnn", tmp_path, log_scalar=lambda *a: seen.append(a))
    x, y = make_data()
    alg.pretrain(x)
    alg.train_classifier(x, y, x, y, stacked=True, phase="nl4.stacked")
    names = {name for name, _, _ in seen}
    assert {"pretrain.loss", "pretrain.data_time", "pretrain.step_time",
            "pretrain.clips_per_second"} <= names
    assert {"nl4.stacked.loss", "nl4.stacked.val_loss",
            "nl4.stacked.val_accuracy"} <= names
    assert {step for _, _, step in seen} == {1}  # 1-based epoch numbers
    assert os.path.isdir(tmp_path / "checkpoints" / "nl4.stacked")


def test_resumed_phase_equals_uninterrupted(tmp_path):
    """2 epochs in one go == 1 epoch, then a resume for the second."""
    x, y = make_data(n=8)  # two batches per epoch
    keras.utils.set_random_seed(5)
    full = make_alg("groupwtacrnn", tmp_path / "full", epochs=2, seed=3,
                    lr=1e-2)
    full.pretrain(x)
    pretrained = weights_of(full.autoencoder)
    keras.utils.set_random_seed(5)
    ckpt = str(tmp_path / "ckpt")
    part = make_alg("groupwtacrnn", tmp_path / "part", epochs=1, seed=3,
                    lr=1e-2, checkpoint_dir=ckpt)
    part.pretrain(x)
    keras.utils.set_random_seed(9)  # other init: the checkpoint must win
    again = make_alg("groupwtacrnn", tmp_path / "again", epochs=2, seed=3,
                     lr=1e-2, checkpoint_dir=ckpt, resume=True)
    result = again.pretrain(x)
    assert result.resumed_from_epoch == 1 and result.epochs == [1, 2]
    assert same(pretrained, weights_of(again.autoencoder))
    # A finished phase is skipped on resume: same weights, no new epoch.
    third = make_alg("groupwtacrnn", tmp_path / "third", epochs=2, seed=3,
                     lr=1e-2, checkpoint_dir=ckpt, resume=True)
    result = third.pretrain(x)
    assert result.resumed_from_epoch == 2 and result.epochs == [1, 2]
    assert same(pretrained, weights_of(third.autoencoder))


def test_randominit_train_only_saves_initial_weights(tmp_path):
    alg = make_alg("randominitcrnn", tmp_path)
    x, _ = make_data()
    initial = weights_of(alg.autoencoder)
    assert alg.pretrain(x) is None
    assert not os.path.exists(tmp_path / "decoder_weights.png")
    other = make_alg("randominitcrnn", tmp_path / "other")
    other.load_pretrained(alg.autoencoder_path)
    assert same(initial, weights_of(other.autoencoder))


# --------------------------------------------------------------------------
# Clip lengths, files, plots, config
# --------------------------------------------------------------------------


def test_with_clip_length_keeps_weights(tmp_path):
    alg = make_alg("groupwtacnn", tmp_path)
    x, y = make_data(t=5)
    alg5 = alg.with_clip_length(5)
    assert alg5.model.input_shape == (None, 5, H, W, C)
    assert alg.model.clip_length == T and alg5.model.clip_length == 5
    for name in ("encoder", "decoder", "head"):
        old, new = getattr(alg.model, name), getattr(alg5.model, name)
        assert same(weights_of(old), weights_of(new))
    # Per-frame encoder: the first T frames give the same features.
    np.testing.assert_allclose(
        alg5.encode(x, sparse=False)[:, :T],
        alg.encode(x[:, :T], sparse=False),
        atol=1e-6,
    )
    kernel, bias = head_weights(alg5)
    np.testing.assert_allclose(
        alg5.predict_classifier(x),
        np_head(alg5.encode(x, sparse=False), kernel, bias),
        atol=1e-5,
    )
    any_length = alg.with_clip_length(None)
    for t in (2, 4):
        assert any_length.predict_classifier(x[:, :t]).shape == (N, CLASSES)


def test_weight_files_round_trip(tmp_path):
    alg = make_alg("groupwtacrnn", tmp_path)
    x, y = make_data()
    alg.pretrain(x)
    # The compiled autoencoder also survives a `.keras` round trip.
    keras_path = str(tmp_path / "autoencoder.keras")
    alg.autoencoder.save(keras_path)
    loaded = keras.saving.load_model(keras_path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), alg.predict(x))
    assert isinstance(loaded.loss, losses.FrameReconstructionLoss)
    assert loaded.loss.next_frame
    alg.train_classifier(x, y, x, y, stacked=True)
    trained = weights_of(alg.stacked_classifier)
    fresh = make_alg("groupwtacrnn", tmp_path / "fresh")
    fresh.load_pretrained(alg.autoencoder_path)
    assert same(weights_of(alg.autoencoder), weights_of(fresh.autoencoder))
    fresh.load_classifier(alg.classifier_path(True))
    assert same(trained, weights_of(fresh.endtoend_classifier))
    with pytest.raises(FileNotFoundError, match="Received: path="):
        fresh.load_classifier(str(tmp_path / "missing.weights.h5"))
    with pytest.raises(FileNotFoundError, match="run `pretrain\\(\\)` first"):
        make_alg("wtacnn", tmp_path / "empty").load_pretrained()


def test_plots(tmp_path):
    alg = make_alg("groupwtacnn", tmp_path, filters=8, groups=4)
    x, _ = make_data()
    alg.pretrain(x)
    path = autoencoder_plots.plot_decoder_weights(
        alg.model, str(tmp_path / "decoder_weights.png"), figsize=(3, 3),
        dpi=30)
    assert os.path.getsize(path) > 0
    path = autoencoder_plots.plot_predictions(
        alg.model, x, str(tmp_path / "videos.png"), "train", figsize=(3, 3),
        dpi=30)
    assert os.path.getsize(path) > 0






# --------------------------------------------------------------------------
# VGG19
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg19_weights(tmp_path_factory):
    """A Keras-2-format notop file of a randomly initialised VGG19."""
    keras.utils.set_random_seed(2)
    vgg = keras.applications.VGG19(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    path = tmp_path_factory.mktemp("vgg") / encoders.VGG19_WEIGHTS_FILE
    reference = {}
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in vgg.layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in vgg.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            group.attrs["weight_names"] = [n.encode() for n in names]
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight))
                reference[name] = np.asarray(weight)
    keras.backend.clear_session()
    return str(path), reference


def test_vgg19_without_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=encoders.VGG19_WEIGHTS_FILE):
        make_alg("vgg19", tmp_path, image_size=(32, 32), channels=3)


@pytest.mark.slow
def test_vgg19_protocol(vgg19_weights, tmp_path):
    path, reference = vgg19_weights
    alg = make_alg(
        "vgg19", tmp_path, clip_length=2, image_size=(32, 32), channels=3,
        vgg19_weights=path, lr=1e-2,
    )
    vgg = alg.model.encoder.get_layer("vgg19")
    np.testing.assert_array_equal(
        np.asarray(vgg.get_layer("block3_conv2").kernel),
        reference["block3_conv2/kernel:0"],
    )
    assert alg.model.encoder.output.shape == (None, 2, 1, 1, 512)
    assert "max_pool" not in [layer.name for layer in alg.model.head.layers]
    rng = np.random.default_rng(0)
    x = rng.random((N, 2, 32, 32, 3)).astype("float32") * 255.0
    y = np.eye(CLASSES, dtype="float32")[np.arange(N) % CLASSES]

    assert alg.pretrain(x) is None  # saves the ImageNet encoder only
    assert alg.evaluate_autoencoder(x) is None
    assert autoencoder_plots.plot_predictions(
        alg.model, x, str(tmp_path / "v.png")) is None
    alg.load_pretrained()
    vgg0 = {layer.name: weights_of(layer) for layer in vgg.layers}
    head0 = weights_of(alg.model.head)
    alg.train_classifier(x, y, x, y, stacked=True)
    for layer in vgg.layers:
        assert same(vgg0[layer.name], weights_of(layer))
    head1 = weights_of(alg.model.head)
    assert not same(head0, head1)
    alg.train_classifier(x, y, x, y, stacked=False)
    changed = {
        layer.name for layer in vgg.layers
        if not same(vgg0[layer.name], weights_of(layer))
    }
    assert changed == {"block5_conv4"}
    assert not same(head1, weights_of(alg.model.head))
    assert [v.path for v in alg.endtoend_classifier.trainable_variables] == [
        "block5_conv4/kernel", "block5_conv4/bias", "logits/kernel",
        "logits/bias",
    ]
    result = alg.evaluate_classifier(x, y)
    assert len(result) == 2 and np.isfinite(result[0])
