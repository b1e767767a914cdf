"""Distributed training on CPU: 2 logical devices and 2 local workers."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from deltasparse.training import distribution_strategy
from deltasparse.training import is_chief

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["KERAS_BACKEND"] = "tensorflow"
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _script(*args):
    return [sys.executable, "-m", "tests.training.distributed_script", *args]


def _free_ports(n):
    sockets = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_two_cpus_matches_one_device(tmp_path):
    out = tmp_path / "out.json"
    proc = subprocess.run(_script("mirrored", str(out), str(tmp_path)),
                          cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["one"]["replicas"] == 1
    assert result["two"]["replicas"] == 2
    # The activity-regularizer loss is a real part of the loss ...
    assert result["one"]["regularization"] > 1e-3
    # ... and is scaled right: same per-epoch losses with 2 replicas.
    np.testing.assert_allclose(result["two"]["loss"], result["one"]["loss"],
                               rtol=1e-5, atol=1e-6)
    assert result["one"]["loss"][0] != result["one"]["loss"][1]
    assert all(v > 0 for v in result["two"]["clips_per_second"])


@pytest.mark.slow
def test_two_workers_on_localhost(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        config = json.dumps({"cluster": cluster,
                             "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            _script("multi_worker", str(tmp_path / f"w{index}.json"),
                    str(tmp_path / "ckpt")),
            cwd=ROOT, env=_env(TF_CONFIG=config), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    try:
        errors = [p.communicate(timeout=300)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, err in zip(procs, errors):
        assert p.returncode == 0, err[-3000:]
    w0, w1 = (json.loads((tmp_path / f"w{i}.json").read_text())
              for i in range(2))
    assert (w0["chief"], w1["chief"]) == (True, False)
    assert w0["replicas"] == w1["replicas"] == 2
    assert len(w0["loss"]) == 2
    assert w0["loss"][-1] == pytest.approx(w1["loss"][-1], rel=1e-6)
    # Only the chief wrote the shared checkpoint folder.
    history = json.loads((tmp_path / "ckpt" / "history.json").read_text())
    assert history["epochs"] == [1, 2]


def test_distribution_names():
    assert distribution_strategy(None).num_replicas_in_sync == 1
    assert distribution_strategy("none").num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="Received: distribution='tpu'"):
        distribution_strategy("tpu")
    with pytest.raises(ValueError, match="Received: distribution=3"):
        distribution_strategy(3)
    assert is_chief(None)
    assert is_chief(distribution_strategy(None))
