"""Configuration shared by every experiment script.

`runtime` is a Sacred config scope: `add_runtime_config(ex)` adds its keys
(flat, so the command line stays `with seed=1 gpus=0`) to an experiment.
A script's own `@ex.config` then holds only what differs between papers
and variants. `print_config` shows the merged values with these comments.
"""


def runtime():
    seed = 123  # random seed of Python, NumPy, Keras and the data pipeline
    gpus = None  # GPUs to use: None = all, "0" or [0, 1], "" = CPU only
    memory_growth = True  # allocate GPU memory on demand
    verbose = 2  # Keras verbosity: 0 silent, 1 progress bar, 2 line per epoch


def add_runtime_config(ex):
    """Adds the shared `runtime` keys to the Sacred experiment `ex`.

    Args:
        ex: a `sacred.Experiment`.

    Returns:
        The experiment, for chaining.
    """
    ex.config(runtime)
    return ex
