"""The one sparsity path on other engines, in subprocesses (the backend and
the logical devices are fixed at import time): JAX from the TensorFlow job,
and `tf.distribute.MirroredStrategy` over two logical CPU devices (the
totals must sum over replicas)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def run_script(backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(
                   [ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.models.sparsity_path_script", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(result):
    assert result["want"]["delta_density_all"] > 0.05
    for name, value in result["want"].items():
        np.testing.assert_allclose(result["logged"][name], value, rtol=1e-5,
                                   err_msg=name)
    np.testing.assert_allclose(result["totals"]["l0"], result["numpy"]["l0"])
    np.testing.assert_allclose(result["totals"]["n"], result["numpy"]["n"])
    assert result["totals"]["frames"] == result["numpy"]["frames"]


def test_jax_fit_logs_the_numpy_densities():
    result = run_script("jax")
    assert result["backend"] == "jax"
    check(result)


@pytest.mark.slow
def test_mirrored_strategy_sums_over_replicas():
    result = run_script("tensorflow", "mirrored")
    assert result["replicas"] == 2
    check(result)
