"""The docstring examples of the temporal autoencoder modules run as tests."""

import doctest
import importlib

import numpy as np
import pytest

MODULES = (
    "deltasparse.models.temporal_autoencoder.temporal_autoencoder",
    "deltasparse.models.temporal_autoencoder.temporal_autoencoder_presets",
    "deltasparse.models.temporal_autoencoder.blocks",
    "deltasparse.models.temporal_autoencoder.encoders",
    "deltasparse.models.temporal_autoencoder.decoders",
    "deltasparse.models.temporal_autoencoder.losses",
    "deltasparse.reporting.autoencoder_plots",
    "deltasparse.training.autoencoder_protocol",
    "deltasparse.experiment.autoencoder_experiments",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": np}, verbose=False,
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0
