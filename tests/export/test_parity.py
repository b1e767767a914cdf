import numpy as np
import pytest

from deltasparse.export.parity import check_parity
from deltasparse.export.parity import compare_outputs
from deltasparse.export.parity import to_numpy


def test_compare_outputs_hand_case():
    reference = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    candidate = np.array([[0.6, 0.3, 0.1], [0.5, 0.3, 0.2]])
    result = compare_outputs(reference, candidate)
    assert result.max_abs_diff == pytest.approx(0.4)
    assert result.mean_abs_diff == pytest.approx((0.1 + 0.1 + 0.4 + 0.4) / 6)
    assert result.top1_agreement == 0.5
    assert result.num_clips == 2


def test_check_parity_batches_like_one_pass():
    clips = np.random.default_rng(0).normal(size=(7, 2, 3, 3, 1))
    weights = np.random.default_rng(1).normal(size=(18, 4))

    def reference(x):
        return x.reshape(len(x), -1) @ weights

    def candidate(x):
        out = reference(x)
        out[:, 0] += 0.5 * (x[:, 0, 0, 0, 0] > 0)  # changes some top-1
        return {"output_0": out}  # a SavedModel signature returns a dict

    whole = check_parity(reference, candidate, clips)
    batched = check_parity(reference, candidate, clips, batch_size=3)
    assert batched == whole
    expected = reference(clips.astype("float32"))
    moved = expected.copy()
    moved[:, 0] += 0.5 * (clips[:, 0, 0, 0, 0] > 0)
    assert whole.top1_agreement == pytest.approx(
        np.mean(expected.argmax(1) == moved.argmax(1)))
    assert whole.max_abs_diff == pytest.approx(
        0.5 if (clips[:, 0, 0, 0, 0] > 0).any() else 0.0, abs=1e-6)


def test_check_parity_rejects_bad_input():
    same = lambda x: x.reshape(len(x), -1)  # noqa: E731
    with pytest.raises(ValueError, match="`clips` must be a non-empty"):
        check_parity(same, same, np.zeros((0, 2, 2)))
    with pytest.raises(ValueError, match="`batch_size`"):
        check_parity(same, same, np.zeros((2, 2)), batch_size=0)
    with pytest.raises(ValueError, match="shape of the reference"):
        check_parity(same, lambda x: same(x)[:, :1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="single output"):
        to_numpy([np.zeros(2), np.zeros(2)])
