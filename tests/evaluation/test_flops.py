"""Tests of `deltasparse.evaluation.count_macs`: hand-computed MACs of tiny
models, linear scaling with the clip length of a folded-time model, and
MobileNet v1's published 569 M mult-adds."""

import keras
import numpy as np
import pytest

from deltasparse.evaluation import MacCount
from deltasparse.evaluation import count_macs
from deltasparse.models import VideoClassifier


def test_conv2d_with_stride_and_dense_by_hand():
    model = keras.Sequential([
        keras.Input((9, 9, 3)),
        keras.layers.Conv2D(4, 3, strides=2, padding="valid", name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(5, name="fc"),
    ])
    count = count_macs(model, (2, 9, 9, 3))
    # conv: 2 images x 4x4 positions x 4 filters x (3x3 kernel x 3 channels)
    conv = 2 * 4 * 4 * 4 * 3 * 3 * 3
    fc = 2 * (4 * 4 * 4) * 5
    assert count.per_layer == {"conv": conv, "fc": fc}
    assert count.total == conv + fc and isinstance(count, MacCount)
    assert count.gflops == pytest.approx((conv + fc) * 1e-9)


def test_grouped_conv3d_depthwise_separable_transpose_by_hand():
    inputs = keras.Input((4, 6, 6, 4))
    x = keras.layers.Conv3D(6, (2, 3, 3), groups=2, padding="same",
                            name="conv3d")(inputs)             # (4, 6, 6, 6)
    x = keras.layers.Reshape((4 * 6, 6, 6))(x)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2,
                                     name="depthwise")(x)       # (22, 4, 12)
    x = keras.layers.SeparableConv2D(5, 3, name="separable")(x)  # (20, 2, 5)
    x = keras.layers.Conv2DTranspose(3, 2, strides=2,
                                     name="transpose")(x)       # (40, 4, 3)
    model = keras.Model(inputs, x)
    count = count_macs(model, (1, 4, 6, 6, 4))
    want = {
        "conv3d": 4 * 6 * 6 * 6 * (2 * 3 * 3) * (4 // 2),
        "depthwise": 22 * 4 * 12 * 3 * 3,
        "separable": 20 * 2 * 12 * 3 * 3 + 20 * 2 * 12 * 5,
        "transpose": 20 * 2 * 5 * 2 * 2 * 3,
    }
    assert count.per_layer == want
    assert count.total == sum(want.values())


def test_einsum_dense_and_shared_layer_counts_every_call():
    dense = keras.layers.Dense(3, name="shared")
    inputs = keras.Input((5, 4))
    x = dense(keras.layers.Dense(4, name="first")(inputs))
    x = keras.layers.EinsumDense("abc,cd->abd", output_shape=(5, 2),
                                 name="einsum")(x)
    y = keras.layers.Dense(4, name="again")(x)
    model = keras.Model(inputs, [dense(y), x])
    count = count_macs(model, (2, 5, 4))
    assert count.per_layer["first"] == 2 * 5 * 4 * 4
    assert count.per_layer["einsum"] == 2 * 5 * 2 * 3
    assert count.per_layer["again"] == 2 * 5 * 2 * 4
    assert count.per_layer["shared"] == 2 * (2 * 5 * 4 * 3)


def test_nested_model_and_time_distributed_count_every_frame():
    frame = keras.Sequential([keras.Input((8, 8, 2)),
                              keras.layers.Conv2D(4, 3, name="conv")],
                             name="frame")
    clips = keras.Input((3, 8, 8, 2))
    x = keras.layers.TimeDistributed(frame, name="per_frame")(clips)
    model = keras.Model(clips, x)
    count = count_macs(model, (2, 3, 8, 8, 2))
    assert count.per_layer == {"per_frame/frame/conv": 2 * 3 * 6 * 6 * 4 * 9
                               * 2}


def test_folded_time_video_classifier_scales_with_clip_length():
    model = VideoClassifier.from_preset("mobilenet_delta", num_classes=3,
                                        image_size=(32, 32), alpha=0.25)
    two = count_macs(model, (1, 2, 32, 32, 3))
    four = count_macs(model, (1, 4, 32, 32, 3))
    assert two.total > 0 and four.total == 2 * two.total
    assert set(two.per_layer) == set(four.per_layer)
    # The pass leaves the model as it was: its layers' calls are restored.
    assert all("call" not in layer.__dict__
               for layer in model._flatten_layers())
    np.testing.assert_allclose(
        model.predict_on_batch(np.zeros((1, 2, 32, 32, 3), "float32")).sum(),
        1.0, rtol=1e-5)


def test_mobilenet_v1_matches_the_paper():
    model = keras.applications.MobileNet(alpha=1.0, input_shape=(224, 224, 3),
                                         weights=None)
    count = count_macs(model, (1, 224, 224, 3))
    assert count.total == pytest.approx(569e6, rel=0.01)   # 568.7 M


def test_bad_input_shape():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"rank 2"):
        count_macs(model, (4,))
    with pytest.raises(ValueError, match="Received: input_shape"):
        count_macs(model, (1, 0))
