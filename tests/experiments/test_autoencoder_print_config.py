"""`print_config` of the four temporal autoencoder scripts is unchanged.

`autoencoder_print_config_before.json` holds the merged configs of every
script x algorithm x {plain, nospatial, nolifetime, quick}, captured from
the scripts before the issue-7 refactor. The configs now are mapped back to
the original key names through `RENAMED_KEYS` (the documented table of
`deltasparse.experiment.autoencoder_experiments`) and must be equal, value
for value and key for key, apart from the documented `ADDED_KEYS`
(checkpointing) with their defaults.
"""

import json
import os
import re

import pytest

from deltasparse.experiment.autoencoder_experiments import ADDED_KEYS
from deltasparse.experiment.autoencoder_experiments import RENAMED_KEYS
from tests.experiments import autoencoder_helpers as h

BEFORE = os.path.join(os.path.dirname(__file__),
                      "autoencoder_print_config_before.json")
SCRIPTS = ("mnistrotated", "cifar10scanned", "coil100", "necanimal")


def flatten(config, prefix=""):
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def to_original_names(flat):
    """Maps the keys of a config now to the original names (RENAMED_KEYS)."""
    out = dict(flat)
    for old, new in RENAMED_KEYS.items():
        match = re.fullmatch(r"(.+)\[(\d)\]", new)
        key, index = (match.group(1), int(match.group(2))) if match else (
            new, None)
        if key not in flat:
            continue
        out.pop(key, None)
        out[old] = flat[key] if index is None else flat[key][index]
    return out


@pytest.fixture(scope="module")
def before():
    with open(BEFORE) as handle:
        return json.load(handle)["scripts"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_paper_value_is_unchanged(name, before, tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        script = h.load_script(name, tmp_path_factory.mktemp("r"), monkeypatch)
    finally:
        monkeypatch.undo()
    expected = before[name]
    assert len(expected["variants"]) == 40
    for combo, diff in expected["variants"].items():
        run = script.ex._create_run(command_name="print_config",
                                    named_configs=combo.split("+"))
        now = to_original_names(flatten(json.loads(json.dumps(run.config))))
        assert {k: now.pop(k) for k in ADDED_KEYS} == {
            "checkpoint_dir": None, "resume": False}
        assert now == {**expected["base"], **diff}, combo


def test_mapping_catches_a_changed_value(before):
    base = dict(before["mnistrotated"]["base"])
    flat = {**base, "_algo.clip_length": base["_algo.shape1"] + 1,
            "_algo.image_size": [base["_algo.shape2"], base["_algo.shape3"]]}
    for key in ("_algo.shape1", "_algo.shape2", "_algo.shape3"):
        del flat[key]
    assert to_original_names(flat) != base
