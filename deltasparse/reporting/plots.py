"""Learning-curve figures of Sacred runs, as PNG files or PNG bytes.

Figures are drawn with Matplotlib's object-oriented API on an Agg canvas
(`matplotlib.figure.Figure` + `FigureCanvasAgg`), never through
`pyplot`, so the functions work without a display and leave the
caller's Matplotlib backend (e.g. a notebook's inline backend) untouched.
Matplotlib is imported on first use, not when `deltasparse.reporting` is
imported.

- `plot_learning_curves(runs, path)`: every logged metric against its step,
  one panel per metric, one line per run (comparing runs).
- `plot_run_metrics(run)`: one run's metrics, a training metric and its
  `val_` twin in the same panel (used by the HTML report).
"""

import io
import math
import os

from deltasparse.reporting.runs import RunTable
from deltasparse.reporting.runs import flatten


def _figure(nrows, ncols, panel=(5.0, 3.2)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _save(fig, path, dpi):
    fig.tight_layout()
    if path is None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()
    path = os.fspath(path)
    tmp = f"{path}.tmp.png"
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def plot_learning_curves(runs, path, metrics=None, label_key=None, dpi=110):
    """Plots each logged metric against its step; one line per run.

    Args:
        runs: a `RunTable` or a list of `load_run` dicts.
        path: PNG file to write, or `None` to return the PNG bytes.
        metrics: metric names to draw. Defaults to all.
        label_key: flattened config key used in the legend (e.g.
            `"_algo.mode"`). Defaults to the run id.
        dpi: resolution. Defaults to 110.

    Returns:
        `path`, or the PNG bytes when `path` is `None`.

    Raises:
        ValueError: the runs logged no metrics.
    """
    runs = runs.runs if isinstance(runs, RunTable) else list(runs)
    names = metrics or sorted({n for r in runs for n in r["metrics"]})
    if not names:
        raise ValueError(
            f"The runs logged no metrics; nothing to plot at {path}.")
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = _figure(nrows, ncols)
    for ax, name in zip(axes.flat, names):
        for run in runs:
            metric = run["metrics"].get(name)
            if not metric or not metric["values"]:
                continue
            label = run["id"]
            if label_key:
                label = f"{run['id']}: {flatten(run['config']).get(label_key)}"
            ax.plot(metric["steps"], metric["values"], marker=".", label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step / epoch")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", fontsize=7)
    return _save(fig, path, dpi)


def metric_panels(names):
    """Groups metric names into panels: `x` with its `val_x` twin.

    Args:
        names: metric names (`nl100.stacked.loss`,
            `nl100.stacked.val_loss`, `pretrain.loss`, ...).

    Returns:
        List of `(title, [names])`, sorted by title: `("nl100.stacked.loss",
        ["nl100.stacked.loss", "nl100.stacked.val_loss"])`.
    """
    panels = {}
    for name in sorted(names):
        head, _, last = name.rpartition(".")
        base = last[len("val_"):] if last.startswith("val_") else last
        title = f"{head}.{base}" if head else base
        panels.setdefault(title, []).append(name)
    return sorted(panels.items())


def plot_run_metrics(run, path=None, max_panels=24, dpi=80):
    """Draws one run's metrics, a metric and its `val_` twin per panel.

    Args:
        run: a `load_run` dict.
        path: PNG file to write, or `None` to return the PNG bytes.
        max_panels: draw at most this many panels (the first by name).
            Defaults to 24.
        dpi: resolution. Defaults to 80 (the HTML report embeds it).

    Returns:
        `path` or the PNG bytes; `None` when the run logged no metric.
    """
    panels = [(t, [n for n in names if run["metrics"][n]["values"]])
              for t, names in metric_panels(run["metrics"])]
    panels = [(t, names) for t, names in panels if names][:max_panels]
    if not panels:
        return None
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = _figure(nrows, ncols, panel=(3.6, 2.4))
    for ax, (title, names) in zip(axes.flat, panels):
        for name in names:
            metric = run["metrics"][name]
            ax.plot(metric["steps"], metric["values"], marker=".",
                    label=name.rpartition(".")[2])
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(names) > 1:
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return _save(fig, path, dpi)
