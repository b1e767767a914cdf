"""Sacred glue shared by the experiment scripts in `experiments/`.

- `make_experiment`: an `Experiment` whose runs land under
  `results/<experiment>/` through a `FileStorageObserver`.
- `run_directory`: where a run's artifacts go.
- `plain`: Sacred's read-only config containers to JSON-ready Python.
"""

import inspect
import logging
import os
import tempfile
import types

import numpy as np


logger = logging.getLogger(__name__)

RESULTS_ENV = "DELTASPARSE_RESULTS"


def results_root(root=None):
    """Returns the results folder: `root`, `$DELTASPARSE_RESULTS` or `results`."""
    return os.path.abspath(root or os.environ.get(RESULTS_ENV, "results"))


def make_experiment(name, root=None, observe=True, interactive=False):
    """Creates a Sacred experiment that stores runs in `results/<name>/`.

    Args:
        name: experiment name (also the sub-folder of the results root).
        root: results root. Defaults to `$DELTASPARSE_RESULTS` or
            `./results`.
        observe: attach a `FileStorageObserver`. Defaults to `True`.
        interactive: allow running from a notebook. Defaults to `False`.

    Returns:
        A `sacred.Experiment`.
    """
    from sacred import Experiment
    from sacred import SETTINGS
    from sacred.host_info import HostInfoGetter
    from sacred.observers import FileStorageObserver
    from sacred.utils import apply_backspaces_and_linefeeds

    SETTINGS.CAPTURE_MODE = "sys"
    ex = _experiment_in_caller_scope(
        Experiment, inspect.stack()[1][0].f_globals,
        name=name, interactive=interactive, save_git_info=False,
        # The process id lets `deltasparse-results` tell a killed run (no
        # such process on this host) from a live one.
        additional_host_info=[HostInfoGetter(os.getpid, "pid")],
    )
    ex.captured_out_filter = apply_backspaces_and_linefeeds
    if observe:
        ex.observers.append(
            FileStorageObserver(os.path.join(results_root(root), name))
        )
    return ex


def _experiment_in_caller_scope(experiment_cls, caller_globals, **kwargs):
    """Creates the Experiment as if the calling script had done it.

    Sacred reads the main file, its docstring (the command-line help) and the
    source files to save from the globals of the frame that constructs the
    `Experiment`. Constructing it here would record this module instead, so
    the constructor runs in a function whose globals are the caller's.
    """

    def construct():
        return experiment_cls(**kwargs)

    in_caller = types.FunctionType(
        construct.__code__, caller_globals, "construct", None,
        construct.__closure__,
    )
    return in_caller()


def run_directory(_run):
    """The folder of this run (the observer's run dir, else a temp dir)."""
    for observer in getattr(_run, "observers", []):
        directory = getattr(observer, "dir", None)
        if directory:
            return directory
    directory = getattr(_run, "_deltasparse_tmpdir", None)
    if directory is None:
        directory = tempfile.mkdtemp(prefix="deltasparse_run_")
        _run._deltasparse_tmpdir = directory
    return directory


def plain(value):
    """Sacred's read-only containers (and NumPy scalars) to plain Python.

    Config values reach captured functions as `ReadOnlyDict` /
    `ReadOnlyList`; results and `_run.info` must be JSON-ready.

    Args:
        value: any config value, result or info entry.

    Returns:
        The same value with dicts, lists and NumPy scalars made plain.
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
