"""Sacred glue shared by the experiment scripts in `experiments/`.

- `make_experiment`: an `Experiment` whose runs land under
  `results/<experiment>/` through a `FileStorageObserver`.
- `SacredMetricsLogger`: a Keras callback that `log_scalar`s every epoch log.
- `run_directory`: where a run's artifacts go.
- `EpochCheckpoint` / `latest_checkpoint`: per-epoch, atomically written
  weights so a killed run resumes from its last finished epoch.
"""

import inspect
import json
import logging
import os
import re
import tempfile
import types

import keras

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


class SacredMetricsLogger(keras.callbacks.Callback):
    """Logs every Keras epoch metric to Sacred with `_run.log_scalar`.

    Args:
        run: the Sacred `_run`.
        prefix: string put before every metric name (e.g. `"pretrain."`).
            Defaults to `""`.
        step_offset: added to the epoch index (for multi-stage training).
            Defaults to `0`.
    """

    def __init__(self, run, prefix="", step_offset=0):
        super().__init__()
        self.run = run
        self.prefix = prefix
        self.step_offset = step_offset

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            self.run.log_scalar(
                f"{self.prefix}{key}", value, epoch + self.step_offset
            )


_EPOCH_RE = re.compile(r"^epoch-(\d+)\.weights\.h5$")


def latest_checkpoint(directory):
    """Finds the last finished epoch in a checkpoint folder.

    Args:
        directory: folder written by `EpochCheckpoint`.

    Returns:
        `(epoch, path)` with `epoch` counted from 1, or `(0, None)`.
    """
    if not directory or not os.path.isdir(directory):
        return 0, None
    best = (0, None)
    for name in os.listdir(directory):
        match = _EPOCH_RE.match(name)
        if match and int(match.group(1)) > best[0]:
            best = (int(match.group(1)), os.path.join(directory, name))
    return best


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model weights after every epoch, atomically.

    Files are `epoch-NNN.weights.h5` (epoch counted from 1) plus
    `state.json` with the last epoch and its logs. A file is written to a
    temporary name and renamed, so a kill never leaves a half-written
    checkpoint. Only the newest `keep` checkpoints are kept.

    Args:
        directory: output folder (created).
        keep: how many epoch files to keep. Defaults to `2`.
    """

    def __init__(self, directory, keep=2):
        super().__init__()
        self.directory = directory
        self.keep = keep
        os.makedirs(directory, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        final = os.path.join(self.directory, f"epoch-{epoch + 1:03d}.weights.h5")
        tmp = final + ".tmp.weights.h5"
        self.model.save_weights(tmp)
        os.replace(tmp, final)
        state = {
            "epoch": epoch + 1,
            "logs": {k: float(v) for k, v in (logs or {}).items()
                     if isinstance(v, (int, float))},
        }
        write_json_atomic(os.path.join(self.directory, "state.json"), state)
        files = sorted(
            n for n in os.listdir(self.directory) if _EPOCH_RE.match(n)
        )
        for name in files[: max(0, len(files) - self.keep)]:
            os.remove(os.path.join(self.directory, name))


def write_json_atomic(path, obj):
    """Writes JSON to `path` through a temporary file and a rename."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(obj, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)
