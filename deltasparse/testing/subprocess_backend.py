"""Running test code on another Keras backend, in a child process.

The Keras backend is fixed when Keras is imported, so a TensorFlow test job
checks JAX (or the reverse) by running a script in a fresh interpreter with
`KERAS_BACKEND` set; the script prints a JSON object on its last line.
"""

import json
import os
import subprocess
import sys

import deltasparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(deltasparse.__file__)))
"""The repository root (the folder holding `deltasparse/` and `tests/`)."""


def run_on_backend(backend, code=None, module=None, args=(), timeout=300):
    """Runs `code` (a script) or `module` (`python -m`) under `backend`.

    Args:
        backend: str, the `KERAS_BACKEND` of the child, e.g. `"jax"`.
        code: str, Python source run with `python -c`; or None.
        module: str, a module run with `python -m`; or None.
        args: command-line arguments after the code or module.
        timeout: seconds before the child is killed.

    Returns:
        The JSON object the child printed on its last stdout line.

    Raises:
        AssertionError: the child failed (its stderr tail is the message).
    """
    if (code is None) == (module is None):
        raise ValueError("Pass exactly one of `code` and `module`. "
                         f"Received: code={code!r}, module={module!r}")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(
                   [ROOT, os.environ.get("PYTHONPATH", "")]))
    command = ["-c", code] if code is not None else ["-m", module]
    proc = subprocess.run([sys.executable, *command, *args], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
