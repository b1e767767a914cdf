"""Docstring examples run as tests (issue 7, item 7).

Every module under the packages in `PACKAGES` is found by walking the
package, and its `>>>` examples run with `doctest` (one test case per
module). Every public name (listed in a module's or package's `__all__`)
in `EXAMPLES_REQUIRED` must carry a runnable example. To cover more of
deltasparse, add its package name to `PACKAGES`.

Examples see the module's globals plus `np` (NumPy), `keras` and
`deltasparse`. Print backend-independent values (`tuple(y.shape)`,
`keras.ops.convert_to_numpy(y)`): they run on TensorFlow and on JAX.
"""

import doctest
import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest

import deltasparse

PACKAGES = (
    "deltasparse.ops",
    "deltasparse.layers",
    "deltasparse.models",
    "deltasparse.evaluation",
    "deltasparse.training",
    "deltasparse.data",
    "deltasparse.reporting",
    "deltasparse.export",
    "deltasparse.inference",
    "deltasparse.compression",
)

#: Packages whose every public class and function must carry an example.
EXAMPLES_REQUIRED = (
    "deltasparse.ops",
    "deltasparse.layers",
)

OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names(packages):
    names = []
    for package_name in packages:
        package = importlib.import_module(package_name)
        names.append(package_name)
        path = getattr(package, "__path__", None)
        if path is None:
            continue
        for info in pkgutil.walk_packages(path, prefix=package_name + "."):
            names.append(info.name)
    return sorted(set(names))


MODULES = _module_names(PACKAGES)


def _public_objects(packages):
    """(qualified name, object) of every name in an `__all__` under
    `packages` that is a class or a function; each object once."""
    seen = {}
    for module_name in _module_names(packages):
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen.setdefault(id(obj), (f"{obj.__module__}.{name}", obj))
    return sorted(seen.values(), key=lambda item: item[0])


PUBLIC = _public_objects(EXAMPLES_REQUIRED)


def test_packages_are_discovered():
    # Guards the discovery itself: an empty walk would pass vacuously.
    for expected in (
        "deltasparse.ops.ksparse",
        "deltasparse.ops.quantize",
        "deltasparse.layers.sparsity.delta_activation",
        "deltasparse.layers.rnn.conv_minimal_rnn",
    ):
        assert expected in MODULES
    names = {name.rsplit(".", 1)[-1] for name, _ in PUBLIC}
    assert {"ksparse", "quantize", "DeltaActivation", "FoldTime"} <= names


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    keras.utils.set_random_seed(0)
    result = doctest.testmod(
        module,
        extraglobs={"np": np, "keras": keras, "deltasparse": deltasparse},
        optionflags=OPTIONFLAGS,
        verbose=False,
        report=True,
    )
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} docstring examples failed in "
        f"{module_name} (the doctest report above shows which)"
    )


@pytest.mark.parametrize(
    "qualified_name, obj", PUBLIC, ids=[name for name, _ in PUBLIC]
)
def test_public_api_has_an_example(qualified_name, obj):
    finder = doctest.DocTestFinder(recurse=False)
    examples = [
        example
        for test in finder.find(obj, qualified_name)
        for example in test.examples
    ]
    assert examples, (
        f"`{qualified_name}` is public but its docstring has no runnable "
        "`>>>` example"
    )
