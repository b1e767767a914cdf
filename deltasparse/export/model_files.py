"""A trained model on disk with what it needs to be used: its `.keras` file
plus `model_info.json` (class names, frame size, clip length, preprocessing).

`save_model_bundle` writes both into a folder (the UCF101 experiments do it
in every run folder: `results/<experiment>/<run id>/model.keras`);
`load_model_bundle` reads a bundle folder, a Sacred run folder, an
experiment's results folder (`results/<experiment>`: its newest run with a
`model.keras`) or a bare `.keras` file (then a `<name>.json` next to it is
used when present). The
export (`deltasparse-export`) and demo (`deltasparse-demo`) commands accept
any of the three.
"""

import dataclasses
import json
import os

from deltasparse.training.checkpoints import write_json_atomic

MODEL_FILE = "model.keras"
INFO_FILE = "model_info.json"
INFO_FORMAT = "deltasparse-model-info/1"
PREPROCESSINGS = ("caffe", "tf", "torch", None)


@dataclasses.dataclass
class ModelBundle:
    """A loaded model and how to feed it.

    Attributes:
        model: the `keras.Model`.
        class_names: list of str; output `j` is `class_names[j]`.
        image_size: `(height, width)` of the frames the model takes (None
            entries for a model that accepts any frame size and has no info
            file).
        clip_length: int or None, frames per clip it was evaluated with.
        preprocessing: `"caffe"`, `"tf"`, None or `{"clip_normalization":
            config}` (see `deltasparse.data.video.preprocess`).
        path: str, the `.keras` file.
        info: dict, the whole `model_info.json` (empty without one).
    """

    model: object
    class_names: list
    image_size: tuple
    clip_length: int
    preprocessing: object
    path: str
    info: dict


def save_model_bundle(model, folder, class_names, image_size, clip_length,
                      preprocessing, **extra):
    """Writes `<folder>/model.keras` and `<folder>/model_info.json`.

    Args:
        model: a `keras.Model`.
        folder: str, created if needed.
        class_names: list of str, one per output.
        image_size: `(height, width)`.
        clip_length: int, frames per clip of the model's evaluation.
        preprocessing: `"caffe"`, `"tf"`, None, or a
            `deltasparse.data.video.ClipNormalization` (stored as
            `{"clip_normalization": config}`; the 3-D CNN runs).
        **extra: more JSON-able entries for the info file (e.g.
            `architecture`, `sparsity`).

    Returns:
        `(model_path, info_path)`.

    Raises:
        ValueError: if `class_names` does not match the model's outputs or
            `preprocessing` is unknown.
    """
    class_names = [str(c) for c in class_names]
    outputs = model.output_shape[-1] if hasattr(model, "output_shape") else None
    if outputs is not None and outputs != len(class_names):
        raise ValueError(
            f"`class_names` must name the model's {outputs} outputs. "
            f"Received: {len(class_names)} class names")
    if hasattr(preprocessing, "to_json"):  # a ClipNormalization
        preprocessing = preprocessing.to_json()
    if isinstance(preprocessing, dict):
        from deltasparse.data.video.augment import check_preprocessing

        check_preprocessing(preprocessing)
    elif preprocessing not in PREPROCESSINGS:
        raise ValueError(
            f"`preprocessing` must be one of {list(PREPROCESSINGS)}, a "
            "`ClipNormalization` or its `to_json()` form. "
            f"Received: preprocessing={preprocessing!r}")
    os.makedirs(folder, exist_ok=True)
    model_path = os.path.join(folder, MODEL_FILE)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{MODEL_FILE}")
    model.save(tmp)
    os.replace(tmp, model_path)
    info = dict(extra, format=INFO_FORMAT, class_names=class_names,
                image_size=[int(v) for v in image_size],
                clip_length=None if clip_length is None else int(clip_length),
                preprocessing=preprocessing)
    info_path = os.path.join(folder, INFO_FILE)
    write_json_atomic(info_path, info)
    return model_path, info_path


def _latest_run(folder):
    """The newest sub-folder of `folder` holding `model.keras`, or None.

    So `results/<experiment>` stands for its latest run that saved a model.
    """
    try:
        entries = [e for e in os.scandir(folder) if e.is_dir()
                   and os.path.isfile(os.path.join(e.path, MODEL_FILE))]
    except OSError:
        return None
    if not entries:
        return None
    newest = max(entries, key=lambda e: os.path.getmtime(
        os.path.join(e.path, MODEL_FILE)))
    return newest.path


def _find(path):
    """`(model_path, info_path or None)` for a folder or a `.keras` file."""
    path = os.path.expanduser(os.fspath(path))
    if os.path.isdir(path):
        model_path = os.path.join(path, MODEL_FILE)
        latest = _latest_run(path)
        if not os.path.isfile(model_path) and latest is not None:
            print(f"Using the latest run with a model in {path}: {latest}")
            model_path = os.path.join(latest, MODEL_FILE)
            path = latest
        if not os.path.isfile(model_path):
            raise FileNotFoundError(
                f"`path` must be a `.keras` file or a folder holding "
                f"{MODEL_FILE} (a run folder of a UCF101 experiment, "
                "results/<experiment>/<run id>/, written at the end of "
                "training or by its `evaluate` command). "
                f"Received: path={path!r}")
        info = os.path.join(path, INFO_FILE)
        return model_path, info if os.path.isfile(info) else None
    if not os.path.isfile(path) or not path.endswith(".keras"):
        raise FileNotFoundError(
            "`path` must be an existing `.keras` file or a folder with "
            f"{MODEL_FILE} and {INFO_FILE}. Received: path={path!r}")
    for info in (path[:-len(".keras")] + ".json",
                 os.path.join(os.path.dirname(path), INFO_FILE)):
        if os.path.isfile(info):
            return path, info
    return path, None


def load_model_bundle(path, compile=False):
    """Loads a model saved by `save_model_bundle` (or any `.keras` file).

    Without an info file, class names are `"class_0"`, ...; the frame size
    comes from the model's input shape and the preprocessing is None.

    Args:
        path: str, a bundle or run folder, an experiment's results folder
            (its newest run with a model), or a `.keras` file.
        compile: bool, restore the training configuration too.

    Returns:
        A `ModelBundle`.

    Raises:
        FileNotFoundError: if nothing loadable is at `path`.
    """
    import keras

    import deltasparse.models  # noqa: F401  (registers the serializables)

    model_path, info_path = _find(path)
    model = keras.saving.load_model(model_path, compile=compile)
    info = {}
    if info_path is not None:
        with open(info_path, encoding="utf-8") as f:
            info = json.load(f)
    shape = tuple(model.input_shape)
    classes = info.get("class_names") or [
        f"class_{j}" for j in range(int(model.output_shape[-1]))]
    image_size = tuple(info.get("image_size") or shape[-3:-1])
    clip_length = info.get("clip_length")
    if clip_length is None and len(shape) == 5:
        clip_length = shape[1]
    return ModelBundle(model=model, class_names=list(classes),
                       image_size=tuple(None if v is None else int(v)
                                        for v in image_size),
                       clip_length=clip_length,
                       preprocessing=info.get("preprocessing"),
                       path=model_path, info=info)


__all__ = ["INFO_FILE", "MODEL_FILE", "ModelBundle", "load_model_bundle",
           "save_model_bundle"]
