"""Checkpoint folder: atomic files, exact training state, a run lock.

- `write_json_atomic`, `save_weights_atomic`: write to a per-process
  temporary name (`.tmp-<host>-<pid>-<name>`) in the same folder, then
  `os.replace`, so a kill never leaves a half-written file and two processes
  never write the same temporary file.
- `save_training_state` / `restore_training_state`: one `.npz` holding every
  model variable (weights, BatchNorm statistics, the `SeedGenerator` states
  of Dropout and other random layers) AND every optimizer variable
  (`iterations`, momenta, ...), so a resumed run continues bit for bit.
- `CheckpointLock`: an exclusive `fcntl.flock` on `<dir>/.lock`, held for a
  run's lifetime; the OS releases it when the process exits or crashes, so
  a killed run never leaves a stale lock. A second holder gets
  `CheckpointLockedError` naming the folder and the holder's pid and host.
"""

import json
import os
import socket
import time

import numpy as np

LOCK_NAME = ".lock"
TMP_PREFIX = ".tmp-"

try:  # POSIX only; the lock is a no-op elsewhere.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None


class CheckpointLockedError(RuntimeError):
    """Another live run holds the checkpoint folder's lock.

    Raised by `Trainer.fit` (and `CheckpointLock.acquire`) with one line
    naming the folder and the holder's pid and host.
    """


def temp_path(path):
    """A per-process temporary name next to `path` (same file system).

    The name keeps `path`'s ending (Keras wants `.weights.h5`).

    Args:
        path: str, the final file path.

    Returns:
        str, `<dir>/.tmp-<host>-<pid>-<basename>`.
    """
    directory, name = os.path.split(os.fspath(path))
    host = socket.gethostname().replace(os.sep, "_")
    return os.path.join(directory, f"{TMP_PREFIX}{host}-{os.getpid()}-{name}")


def _fsync_replace(tmp, path):
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - e.g. file systems without fsync
        pass
    os.replace(tmp, path)


def write_json_atomic(path, obj):
    """Writes `obj` as JSON to `path` through a per-process temp file.

    Args:
        path: str, destination.
        obj: JSON-able object (NaN and inf are written as JSON extensions).
    """
    tmp = temp_path(path)
    with open(tmp, "w") as handle:
        json.dump(obj, handle, indent=2, sort_keys=True)
    _fsync_replace(tmp, path)


def write_bytes_atomic(path, data):
    """Writes `data` (bytes) to `path` through a per-process temp file
    (its folder created if needed; no temp file is left behind).

    Returns:
        str, `path`.
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        _fsync_replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_json(path, default=None):
    """Reads a JSON file; `default` when it does not exist."""
    if not os.path.isfile(path):
        return default
    with open(path) as handle:
        return json.load(handle)


def save_weights_atomic(model, path):
    """`model.save_weights(path)` through a per-process temp file.

    The file holds the model's weights only: Keras' `save_weights` also
    writes a compiled model's optimizer variables (for Adam twice the
    weights again), which these files never need (`load_weights` into a
    model for inference, transfer, fine-tuning; the trainer resumes from
    its epoch state files). Keras versions without `objects_to_skip` write
    the optimizer too.
    """
    tmp = temp_path(path)
    optimizer = getattr(model, "optimizer", None)
    try:
        from keras.src.saving import saving_lib

        saving_lib.save_weights_only(
            model, tmp, objects_to_skip=[optimizer] if optimizer else None)
    except (ImportError, AttributeError, TypeError):
        model.save_weights(tmp)
    _fsync_replace(tmp, path)


def load_weights_quietly(model, path):
    """`model.load_weights(path)` without Keras' warning that a compiled
    model's optimizer state is not in the file (`save_weights_atomic`
    writes the weights only)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def _values(variables):
    return [np.asarray(keras_value(v)) for v in variables]


def keras_value(variable):
    """The value of a Keras (or distributed) variable as a NumPy array."""
    value = variable.numpy() if hasattr(variable, "numpy") else variable
    return np.asarray(value)


def _ensure_optimizer_built(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return optimizer


def save_training_state(model, path, extra=None):
    """Saves the model's variables and its optimizer's variables atomically.

    The file holds `model.variables` (trainable and non-trainable weights and
    the `SeedGenerator` states) and `model.optimizer.variables` (including
    `iterations`, which drives learning-rate schedules), in their order, plus
    a small JSON header (`extra`).

    Args:
        model: a built, compiled `keras.Model`.
        path: str, destination ending in `.npz`.
        extra: JSON-able dict stored in the header. Defaults to `None`.
    """
    optimizer = getattr(model, "optimizer", None)
    arrays = {}
    for i, value in enumerate(_values(model.variables)):
        arrays[f"model_{i:05d}"] = value
    opt_vars = optimizer.variables if optimizer is not None and (
        optimizer.built) else []
    for i, value in enumerate(_values(opt_vars)):
        arrays[f"optimizer_{i:05d}"] = value
    header = {
        "model_variables": len(model.variables),
        "optimizer_variables": len(opt_vars),
        "model_paths": [getattr(v, "path", "") for v in model.variables],
        "extra": extra or {},
    }
    arrays["header"] = np.frombuffer(
        json.dumps(header).encode("utf-8"), dtype=np.uint8)
    tmp = temp_path(path)
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    _fsync_replace(tmp, path)


def restore_training_state(model, path):
    """Restores what `save_training_state` wrote into `model`.

    Builds the optimizer first when needed (call inside the strategy scope
    the model was built in).

    Args:
        model: the same architecture, built and compiled.
        path: str, a file written by `save_training_state`.

    Returns:
        dict, the `extra` header saved with the file.

    Raises:
        ValueError: the file does not match the model (other architecture
            or optimizer).
    """
    with np.load(path) as data:
        header = json.loads(bytes(data["header"]).decode("utf-8"))
        variables = list(model.variables)
        if header["model_variables"] != len(variables):
            raise ValueError(
                f"Checkpoint {path!r} holds {header['model_variables']} model "
                f"variables, the model has {len(variables)}: not the same "
                "architecture. Use another `checkpoint_dir` or resume=False.")
        optimizer = _ensure_optimizer_built(model)
        opt_vars = list(optimizer.variables) if optimizer is not None else []
        if header["optimizer_variables"] != len(opt_vars):
            raise ValueError(
                f"Checkpoint {path!r} holds {header['optimizer_variables']} "
                f"optimizer variables, the optimizer has {len(opt_vars)}: not "
                "the same optimizer. Use another `checkpoint_dir` or "
                "resume=False.")
        pairs = [(v, data[f"model_{i:05d}"]) for i, v in enumerate(variables)]
        pairs += [(v, data[f"optimizer_{i:05d}"])
                  for i, v in enumerate(opt_vars)]
        for variable, value in pairs:
            if tuple(variable.shape) != tuple(value.shape):
                raise ValueError(
                    f"Checkpoint {path!r}: variable "
                    f"{getattr(variable, 'path', variable.name)!r} has shape "
                    f"{tuple(variable.shape)}, the file {tuple(value.shape)}.")
        for variable, value in pairs:
            variable.assign(value)
    return header.get("extra", {})


class CheckpointLock:
    """An exclusive, process-lifetime lock on a checkpoint folder.

    `fcntl.flock` on `<directory>/.lock`; the file then holds the holder's
    pid, host and start time (for the error message of the next comer). The
    OS drops the lock when the holding process ends, however it ends. The
    lock file itself is never deleted (deleting it would let two processes
    lock two different files).

    Args:
        directory: str, the folder (created).

    Example:
    >>> import tempfile
    >>> lock = CheckpointLock(tempfile.mkdtemp()).acquire()
    >>> lock.locked
    True
    >>> lock.release()
    """

    def __init__(self, directory):
        self.directory = os.path.abspath(os.fspath(directory))
        self.path = os.path.join(self.directory, LOCK_NAME)
        self._handle = None

    @property
    def locked(self):
        return self._handle is not None

    def holder(self):
        """The `{"pid", "host", "since"}` written by the current holder."""
        try:
            with open(self.path) as handle:
                return json.loads(handle.read() or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self):
        """Takes the lock or raises `CheckpointLockedError` at once.

        Returns:
            `self`.
        """
        if self._handle is not None:
            return self
        os.makedirs(self.directory, exist_ok=True)
        handle = open(self.path, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                info = self.holder()
                raise CheckpointLockedError(
                    f"checkpoint folder {self.directory} is in use by another "
                    f"run (pid {info.get('pid', '?')} on host "
                    f"{info.get('host', '?')}, since {info.get('since', '?')})"
                    "; wait for it to finish or use another folder"
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }))
        handle.flush()
        self._handle = handle
        return self

    def release(self):
        """Drops the lock (also done by the OS when the process ends)."""
        if self._handle is None:
            return
        try:
            if fcntl is not None:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        finally:
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def remove_stale_temp_files(directory):
    """Deletes `.tmp-*` files left by killed writers (call under the lock)."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if name.startswith(TMP_PREFIX):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:  # pragma: no cover
                pass


def move_aside(directory):
    """Moves a folder's contents (not its lock) to `<dir>.replaced-<time>`.

    Call only while holding the folder's `CheckpointLock`: the lock file
    stays, so no other run can slip in between.

    Returns:
        str, the folder the old files went to, or `None` if there was
        nothing to move.
    """
    names = [n for n in os.listdir(directory) if n != LOCK_NAME]
    if not names:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = f"{directory.rstrip(os.sep)}.replaced-{stamp}"
    if os.path.exists(aside):
        aside = f"{aside}-{os.getpid()}"
    os.makedirs(aside)
    for name in names:
        os.replace(os.path.join(directory, name), os.path.join(aside, name))
    return aside
