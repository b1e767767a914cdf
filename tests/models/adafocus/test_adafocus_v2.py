"""Tests for `deltasparse.models.adafocus.AdaFocusV2` on tiny CNNs (32 px
frames, T = 4, patch 16): the output contract, the policy's stop-gradient,
the positions override, the causal running max, the loss composition against
a NumPy reference, training, saving, prediction and the counted GFLOPs."""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from deltasparse.evaluation.flops import count_macs
from deltasparse.layers import PatchCrop
from deltasparse.models.adafocus import AdaFocusV2
from deltasparse.models.adafocus import FocusClassifier
from deltasparse.models.adafocus import PolicyNetwork
from deltasparse.testing import TestCase

CLASSES, TIME, SIZE, PATCH = 5, 4, 32, 16


def tiny_network(name, size, pooled=False):
    """conv(stride 2) -> BN -> ReLU, optionally average-pooled."""
    with keras.name_scope(name):
        inputs = keras.Input((size, size, 3))
        x = keras.layers.Conv2D(4, 3, strides=2, padding="same",
                                name="conv")(inputs)
        x = keras.layers.BatchNormalization(name="norm")(x)
        x = keras.layers.ReLU(name="relu")(x)
        if pooled:
            x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        return keras.Model(inputs, x, name=name)


def tiny_model(**kwargs):
    options = dict(num_classes=CLASSES, num_segments=TIME, patch_size=PATCH,
                   policy_hidden=6, policy_channels=3, classifier_hidden=8,
                   seed=3)
    options.update(kwargs)
    glance_size = options.get("glance_input_size") or SIZE
    model = AdaFocusV2(tiny_network("glance_network", glance_size),
                       tiny_network("local_network", PATCH, pooled=True),
                       **options)
    model.build((None, TIME, SIZE, SIZE, 3))
    return model


def clips(batch=2, seed=0):
    return np.random.default_rng(seed).normal(
        size=(batch, TIME, SIZE, SIZE, 3)).astype("float32")


def np_frame_ce(labels, logits):
    b, t, _ = logits.shape
    z = logits.astype("float64").reshape(b * t, -1)
    z = z - z.max(1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -log_p[np.arange(b * t), np.repeat(labels, t)].mean()


class AdaFocusV2Test(TestCase):

    def test_outputs(self):
        model = tiny_model()
        out = model(clips())
        self.assertEqual(sorted(out), ["glance_logits", "local_logits",
                                       "logits", "positions", "step_logits"])
        self.assertEqual(tuple(out["logits"].shape), (2, CLASSES))
        for key in ("step_logits", "glance_logits", "local_logits"):
            self.assertEqual(tuple(out[key].shape), (2, TIME, CLASSES))
        positions = keras.ops.convert_to_numpy(out["positions"])
        self.assertEqual(positions.shape, (2, TIME, 2))
        self.assertTrue(np.all((positions > 0) & (positions < 1)))
        self.assertAllClose(out["logits"], out["step_logits"][:, -1])
        train = model(clips(), training=True)
        self.assertIn("random_step_logits", train)
        self.assertEqual(tuple(train["random_positions"].shape), (2, TIME, 2))
        no_random = tiny_model(random_patch_loss=False)
        self.assertNotIn("random_step_logits",
                         no_random(clips(), training=True))

    def test_policy_gradient_stops_at_the_glance(self):
        model = tiny_model()
        x = tf.constant(clips())
        with tf.GradientTape(persistent=True) as tape:
            out = model(x, training=True)
            position_sum = tf.reduce_sum(out["positions"])
            local_loss = tf.reduce_sum(out["local_logits"] ** 2)
            glance_loss = tf.reduce_sum(out["glance_logits"] ** 2)
        glance = model.glance_network.trainable_weights
        for grad in tape.gradient(position_sum, glance):
            self.assertTrue(grad is None or not np.any(grad.numpy()))
        # The policy itself does get the gradient, through the patch too.
        policy_grads = tape.gradient(local_loss,
                                     model.policy_network.trainable_weights)
        self.assertTrue(any(g is not None and np.any(g.numpy())
                            for g in policy_grads))
        # The glance still learns from its own head and the fused logits.
        glance_grads = tape.gradient(glance_loss, glance)
        self.assertTrue(any(g is not None and np.any(g.numpy())
                            for g in glance_grads))

    def test_positions_override(self):
        model = tiny_model()
        x = clips()
        given = np.random.default_rng(1).uniform(size=(2, TIME, 2)).astype(
            "float32")
        out = model(x, positions=given)
        self.assertAllClose(out["positions"], given)
        # The local logits are the local head on the patches at `given`.
        patches = PatchCrop(PATCH)(x.reshape(-1, SIZE, SIZE, 3),
                                   given.reshape(-1, 2))
        local = model.local_head(model.local_network(patches))
        self.assertAllClose(out["local_logits"],
                            keras.ops.reshape(local, (2, TIME, CLASSES)),
                            atol=1e-5)
        learned = model(x)
        self.assertNotAllClose(out["step_logits"], learned["step_logits"])
        self.assertAllClose(out["glance_logits"], learned["glance_logits"])

    def test_step_t_depends_on_frames_up_to_t(self):
        model = tiny_model()
        x = clips()
        changed = x.copy()
        changed[:, 2] += 3.0
        before = keras.ops.convert_to_numpy(model(x)["step_logits"])
        after = keras.ops.convert_to_numpy(model(changed)["step_logits"])
        self.assertAllClose(before[:, :2], after[:, :2], atol=1e-6)
        self.assertFalse(np.allclose(before[:, 2:], after[:, 2:]))
        # Step t is head t on the running max of the MLP features 0..t.
        prefix = model(x[:, :3])["step_logits"]
        self.assertAllClose(prefix, before[:, :3], atol=1e-5)

    def test_loss_composition_against_numpy(self):
        model = tiny_model(dropout=0.0)
        x = clips()
        labels = np.array([1, 4])
        random_positions = np.random.default_rng(2).uniform(
            size=(2, TIME, 2)).astype("float32")
        out = model(x, training=True, random_positions=random_positions)
        numpy_out = {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}
        self.assertAllClose(numpy_out["random_positions"], random_positions)
        learned = sum(np_frame_ce(labels, numpy_out[k]) for k in
                      ("step_logits", "glance_logits", "local_logits"))
        random = sum(np_frame_ce(labels, numpy_out[k]) for k in
                     ("random_step_logits", "glance_logits",
                      "random_local_logits"))
        loss = model.compute_loss(x, np.eye(CLASSES)[labels], out)
        self.assertAllClose(float(loss), (learned + random) / 2, rtol=1e-5)
        # The random branch really ran at the injected positions.
        at_random = model(x, positions=random_positions, training=True)
        self.assertAllClose(at_random["step_logits"],
                            out["random_step_logits"], atol=1e-5)
        # At evaluation the loss is the learned branch's alone.
        eval_out = model(x)
        eval_numpy = {k: keras.ops.convert_to_numpy(v)
                      for k, v in eval_out.items()}
        self.assertAllClose(
            float(model.compute_loss(x, labels, eval_out, training=False)),
            sum(np_frame_ce(labels, eval_numpy[k]) for k in
                ("step_logits", "glance_logits", "local_logits")), rtol=1e-5)

    def test_fit_step_changes_every_part(self):
        model = tiny_model()
        model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
        parts = (model.glance_network, model.glance_head,
                 model.policy_network, model.classifier, model.local_network,
                 model.local_head)
        before = [[w.numpy().copy() for w in p.trainable_weights]
                  for p in parts]
        history = model.fit(clips(), np.eye(CLASSES)[[0, 3]], epochs=1,
                            batch_size=2, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        self.assertIn("accuracy", history.history)
        for part, old in zip(parts, before):
            self.assertTrue(any(not np.allclose(a, w.numpy()) for a, w in
                                zip(old, part.trainable_weights)), part.name)

    def test_compile_with_a_loss_fails_at_fit(self):
        model = tiny_model()
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        with self.assertRaisesRegex(ValueError, "compile it without `loss`"):
            model.fit(clips(), np.eye(CLASSES)[[0, 3]], verbose=0)

    def test_keras_round_trip(self):
        model = tiny_model(glance_input_size=16)
        x = clips()
        expected = model(x)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "adafocus.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, AdaFocusV2)
        def own(config):   # nested networks differ in tuple/list spelling
            return {k: v for k, v in config.items()
                    if not k.endswith("_network")}
        self.assertEqual(own(loaded.get_config()), own(model.get_config()))
        self.assertEqual(len(loaded.weights), len(model.weights))
        got = loaded(x)
        for key in expected:
            self.assertAllClose(got[key], expected[key], atol=1e-5)
        self.assertEqual(sorted(loaded.learning_rate_multipliers()),
                         sorted(model.learning_rate_multipliers()))

    def test_prediction(self):
        model = tiny_model()
        x = clips(batch=3)
        step_logits = keras.ops.convert_to_numpy(model(x)["step_logits"])
        self.assertAllClose(model.predict_on_batch(x), step_logits[:, -1],
                            atol=1e-5)
        got = model.predict_step_logits(x, batch_size=2)
        self.assertEqual(got.dtype, np.float32)
        self.assertAllClose(got, step_logits, atol=1e-5)
        positions = np.full((3, TIME, 2), 0.25, "float32")
        self.assertAllClose(
            model.predict_step_logits(x, positions=positions),
            model(x, positions=positions)["step_logits"], atol=1e-5)
        dataset = tf.data.Dataset.from_tensor_slices(
            (x, np.zeros(3), np.arange(3))).batch(2)
        self.assertAllClose(model.predict_step_logits(dataset), step_logits,
                            atol=1e-5)
        # Keras' own predict function is untouched.
        self.assertEqual(model.predict_on_batch(x).shape, (3, CLASSES))

    def test_evaluate_videos_unchanged(self):
        from deltasparse.evaluation.videos import evaluate_videos

        model = tiny_model()
        x = clips(batch=4, seed=4)
        labels = np.eye(CLASSES, dtype="float32")[[0, 1, 0, 1]]
        batches = [(x[:2], labels[:2], np.array([0, 1])),
                   (x[2:], labels[2:], np.array([0, 1]))]
        result = evaluate_videos(model, batches, progress=False)
        logits = keras.ops.convert_to_numpy(model(x)["logits"])
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        video_scores = np.stack([p[[0, 2]].mean(0), p[[1, 3]].mean(0)])
        expected_top1 = np.mean(video_scores.argmax(1) == [0, 1])
        self.assertEqual(result.outputs, "logits")
        self.assertAllClose(result.view_scores, logits, atol=1e-5)
        self.assertAllClose(result.video_scores, video_scores, atol=1e-5)
        self.assertAllClose(result.figures["video_top1"], expected_top1)

    def test_glance_downsample_is_align_corners_bilinear(self):
        model = tiny_model(glance_input_size=16)
        frames = np.random.default_rng(5).normal(size=(1, SIZE, SIZE, 3))
        got = keras.ops.convert_to_numpy(model._glance(
            keras.ops.convert_to_tensor(frames, "float32"), False))
        # Reference: F.interpolate(align_corners=True) sample points.
        c = np.arange(16) * (SIZE - 1) / 15
        lo = np.minimum(np.floor(c).astype(int), SIZE - 2)
        w = c - lo
        rows = frames[:, lo] * (1 - w)[None, :, None, None] + frames[
            :, lo + 1] * w[None, :, None, None]
        expected = rows[:, :, lo] * (1 - w)[None, None, :, None] + rows[
            :, :, lo + 1] * w[None, None, :, None]
        direct = model.glance_network(expected.astype("float32"))
        self.assertAllClose(got, direct, atol=1e-5)

    def test_learning_rate_multipliers_group_every_part(self):
        from deltasparse.training import GroupedSGD

        model = tiny_model()
        multipliers = model.learning_rate_multipliers()
        self.assertEqual(multipliers, {
            "^glance_network": 0.5, "^glance_head": 0.5,
            "^policy_network": 0.1, "^classifier": 5.0,
            "^local_network": 1.0, "^local_head": 1.0})
        optimizer = GroupedSGD(0.1, multipliers, default_multiplier=7.0)
        optimizer.use_layer_paths(model)
        optimizer.build(model.trainable_variables)
        groups = {}
        for path, multiplier, _ in optimizer.variable_multipliers():
            groups.setdefault(path.split("/")[0], set()).add(multiplier)
        self.assertEqual(groups, {  # 7.0 (unmatched) appears nowhere
            "glance_network": {0.5}, "glance_head": {0.5},
            "policy_network": {0.1}, "classifier": {5.0},
            "local_network": {1.0}, "local_head": {1.0}})

    def test_same_named_networks_cannot_be_grouped(self):
        def net(size):
            inputs = keras.Input((size, size, 3))
            return keras.Model(inputs, keras.layers.Conv2D(
                2, 3, name="conv")(inputs), name="same")
        model = AdaFocusV2(net(SIZE), net(PATCH), CLASSES,
                           num_segments=TIME, patch_size=PATCH,
                           policy_hidden=4, classifier_hidden=4)
        with self.assertRaisesRegex(ValueError, "distinct layer names"):
            model.learning_rate_multipliers()

    def test_gflops_per_frame_is_counted(self):
        model = tiny_model()
        glance = count_macs(model.glance_network, (1, SIZE, SIZE, 3)).total
        local = count_macs(model.local_network, (1, PATCH, PATCH, 3)).total
        glance_channels, local_channels, hidden = 4, 4, 6
        policy = (16 * 16 * glance_channels * 3          # 1x1 conv to 3
                  + 16 * 16 * 3 * hidden                  # dense
                  + 3 * hidden * (hidden + hidden)        # GRU step
                  + hidden * 2)                           # position
        classifier = (glance_channels + local_channels) * 8 + 8 * CLASSES
        heads = (glance_channels + local_channels) * CLASSES
        self.assertAllClose(model.gflops_per_frame(),
                            (glance + local + policy + classifier + heads)
                            * 1e-9)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "`glance_network` must be a "
                                                "keras.Model"):
            AdaFocusV2("mobilenet", tiny_network("l", PATCH), CLASSES)
        with self.assertRaisesRegex(ValueError, "Received: patch_size=0"):
            tiny_model(patch_size=0)
        with self.assertRaisesRegex(ValueError, "Received: dropout=1.5"):
            tiny_model(dropout=1.5)
        model = tiny_model()
        with self.assertRaisesRegex(ValueError, "at most num_segments=4"):
            model(np.zeros((1, 5, SIZE, SIZE, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "Received: frames.shape"):
            model(np.zeros((1, SIZE, SIZE, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "built for \\(32, 32, 3\\)"):
            model(np.zeros((1, TIME, 40, 40, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "`positions` must be"):
            model(clips(), positions=np.zeros((2, TIME, 3), "float32"))
        with self.assertRaisesRegex(ValueError, "Received: y=None"):
            model.compute_loss(clips(), None, model(clips()))


class PartsTest(TestCase):

    def test_policy_network_layers(self):
        policy = PolicyNetwork(hidden=5, channels=2)
        out = policy(np.zeros((2, 3, 4, 4, 6), "float32"))
        self.assertEqual(tuple(out.shape), (2, 3, 2))
        self.assertFalse(policy.reduce.use_bias)
        self.assertEqual(policy.gru.units, 5)
        self.assertEqual(policy.embed.units, 5)
        self.assertEqual(PolicyNetwork.from_config(policy.get_config()).hidden,
                         5)

    def test_focus_classifier_running_max(self):
        classifier = FocusClassifier(num_classes=2, num_segments=3, hidden=4,
                                     dropout=0.0)
        features = np.random.default_rng(0).normal(size=(2, 3, 5)).astype(
            "float32")
        got = keras.ops.convert_to_numpy(classifier(features))
        embed = keras.ops.convert_to_numpy(classifier.embed(
            features.reshape(-1, 5)))
        norm = classifier.embed_norm
        hidden = np.maximum(
            (embed - norm.moving_mean.numpy()) / np.sqrt(
                norm.moving_variance.numpy() + norm.epsilon)
            * norm.gamma.numpy() + norm.beta.numpy(), 0).reshape(2, 3, 4)
        pooled = np.maximum.accumulate(hidden, axis=1)
        for t, head in enumerate(classifier.heads):
            expected = pooled[:, t] @ head.kernel.numpy() + head.bias.numpy()
            self.assertAllClose(got[:, t], expected, atol=1e-5)


@pytest.mark.slow
def test_mobilenetv2_patch128_gflops_near_the_paper():
    """1.685 GFLOPs per frame in the paper (torchvision ResNet-50 v1.5, the
    stride on the 3x3 convolution); Keras' ResNet50 strides its first 1x1
    convolution instead, which saves 0.75 S^2 C_in w MACs in the first block
    of stages 3-5 (S the stage's input side): exactly the difference."""
    model = AdaFocusV2.from_preset("adafocus_v2_mobilenetv2_patch128",
                                   num_classes=200)
    gflops = model.gflops_per_frame()
    assert abs(gflops / 1.685 - 1) < 0.05
    side = 128 // 4   # stage 3 input side for a 128 patch
    v15_extra = sum(0.75 * (side // 2 ** i) ** 2 * c_in * w for i, (c_in, w)
                    in enumerate(((256, 128), (512, 256), (1024, 512))))
    assert abs(gflops + v15_extra * 1e-9 - 1.685) < 0.002


class TrainerTest(TestCase):

    def test_trainer_fit_and_resume(self):
        from deltasparse.training.trainer import Trainer

        x = clips(batch=4, seed=7)
        y = np.eye(CLASSES, dtype="float32")[[0, 1, 2, 3]]

        def data(epoch):
            del epoch
            return tf.data.Dataset.from_tensor_slices((x, y)).batch(2)

        with tempfile.TemporaryDirectory() as folder:
            model = tiny_model()
            model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                          metrics=["accuracy"])
            trainer = Trainer(folder, seed=1, monitor="val_loss", mode="min",
                              verbose=0)
            result = trainer.fit(model, data, epochs=1, validation_data=data)
            self.assertEqual(result.epochs, [1])
            self.assertIn("val_accuracy", result.history)
            resumed = tiny_model()
            resumed.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                            metrics=["accuracy"])
            result = Trainer(folder, resume=True, seed=1, monitor="val_loss",
                             mode="min", verbose=0).fit(resumed, data,
                                                        epochs=2)
            self.assertEqual(result.epochs, [1, 2])


JAX_SCRIPT = """
import json, sys
import keras, numpy as np
sys.path.insert(0, "tests/models/adafocus")
from test_adafocus_v2 import CLASSES, clips, tiny_model
model = tiny_model()
model.compile(optimizer="sgd", metrics=["accuracy"])
before = keras.ops.convert_to_numpy(model.policy_network.embed.kernel).copy()
history = model.fit(clips(), np.eye(CLASSES)[[0, 3]], epochs=1, verbose=0)
after = keras.ops.convert_to_numpy(model.policy_network.embed.kernel)
print(json.dumps({
    "backend": keras.backend.backend(),
    "loss": float(history.history["loss"][0]),
    "policy_moved": bool(np.abs(after - before).max() > 0),
    "predict": list(model.predict_on_batch(clips()).shape),
    "step_logits": list(model.predict_step_logits(clips()).shape)}))
"""


@pytest.mark.slow
def test_trains_and_predicts_on_jax():
    """The model is written in keras.ops: one fit step and both predict
    paths on the JAX backend (its trainer's predict step differs)."""
    from deltasparse.testing.subprocess_backend import run_on_backend

    result = run_on_backend("jax", JAX_SCRIPT)
    assert result["backend"] == "jax"
    assert np.isfinite(result["loss"]) and result["policy_moved"]
    assert result["predict"] == [2, CLASSES]
    assert result["step_logits"] == [2, TIME, CLASSES]
