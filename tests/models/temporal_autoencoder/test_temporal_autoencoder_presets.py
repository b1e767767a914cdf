"""Tests of the ten algorithm presets against the spec table."""

import pytest

from deltasparse.models.temporal_autoencoder import temporal_autoencoder_presets as presets


def test_registry_matches_spec_table():
    a = {name: presets.get_algorithm(name) for name in presets.ALGORITHMS}
    assert len(a) == 10
    assert [m for m in a if a[m].recurrent] == [
        "wtacrnn", "randominitcrnn", "denoisingcrnn", "groupwtacrnn"
    ]
    # Every recurrent algorithm uses the next-frame loss, and only those.
    assert all(s.next_frame == s.recurrent for s in a.values())
    assert {m for m in a if not a[m].pretrains} == {
        "randominitcnn", "randominitcrnn", "vgg19"
    }
    assert {m for m in a if a[m].input_dropout} == {
        "denoisingcnn", "denoisingcrnn"
    }
    assert a["slowgroupwtacnn"].sparsity == "slow_group_ksparse"
    assert a["groupwtacrnn"].sparsity == "group_ksparse"
    assert a["wtacrnn"].sparsity == "ksparse"
    assert a["vgg19"].encoder == "vgg19"


def test_unknown_algorithm():
    with pytest.raises(ValueError, match="Received: algorithm='wta'"):
        presets.get_algorithm("wta")


def test_preset_clipnorm_is_the_papers():
    clipped = {n for n in presets.ALGORITHMS if presets.preset_clipnorm(n)}
    assert clipped == {"wtacrnn", "groupwtacrnn", "randominitcrnn"}
    assert presets.preset_clipnorm("groupwtacrnn") == 1.0
