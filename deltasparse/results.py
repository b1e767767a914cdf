"""Load finished Sacred runs from disk into one table and plot their curves.

Sacred's `FileStorageObserver` writes one folder per run:
`<root>/<run id>/{config.json, run.json, metrics.json, cout.txt, ...}`. This
module reads such folders (any depth below the given path) without Sacred
and without pandas:

- `load_runs(path)` returns a `RunTable`: one row per run with its status,
  flattened config (`_algo.mode`, `batch_size`, ...), the last value of each
  logged metric (`metric:<name>`) and the run's result.
- `load_result_tables(path)` concatenates the per-run result tables that the
  experiments store in `_run.info["result_table"]` (one row per labelled-set
  size / stage), with the run id and config in front.
- `plot_learning_curves(runs, path)` draws every logged metric against its
  step, one panel per metric, one line per run, as a PNG.

Command line:

    python -m deltasparse.results results/mnistrotated
    python -m deltasparse.results results/mnistrotated --csv runs.csv \
        --plot curves.png --results-csv results.csv
"""

import argparse
import csv
import json
import math
import os
import sys


def _read_json(path, default=None):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def flatten(mapping, prefix=""):
    """Flattens nested dicts to dotted keys (`{"a": {"b": 1}}` → `a.b`)."""
    out = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def find_run_dirs(path):
    """Lists run folders (those holding `run.json`) below `path`, sorted."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No results folder at {path!r}. Run an experiment first, e.g. "
            "`python experiments/mnistrotated.py with quick`."
        )
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != "_sources"]
        if "run.json" in files:
            found.append(root)
            dirs[:] = []
    return sorted(found, key=_run_sort_key)


def _run_sort_key(directory):
    base = os.path.basename(directory)
    return (os.path.dirname(directory), int(base) if base.isdigit() else 0, base)


def load_run(directory):
    """Reads one run folder into a dict with its parts.

    Returns:
        dict with keys `dir`, `id`, `experiment`, `status`, `start_time`,
        `stop_time`, `config`, `info`, `result`, `metrics` (name →
        `{"steps": [...], "values": [...]}`), `artifacts`.
    """
    run = _read_json(os.path.join(directory, "run.json"), {}) or {}
    config = _read_json(os.path.join(directory, "config.json"), {}) or {}
    metrics = _read_json(os.path.join(directory, "metrics.json"), {}) or {}
    info = _read_json(os.path.join(directory, "info.json"), None)
    if info is None:
        info = run.get("info") or {}
    return {
        "dir": directory,
        "id": os.path.basename(directory),
        "experiment": (run.get("experiment") or {}).get("name"),
        "status": run.get("status"),
        "start_time": run.get("start_time"),
        "stop_time": run.get("stop_time"),
        "config": config,
        "info": info,
        "result": run.get("result"),
        "metrics": {
            name: {"steps": m.get("steps", []), "values": m.get("values", [])}
            for name, m in metrics.items()
        },
        "artifacts": run.get("artifacts", []),
    }


class RunTable:
    """A small column-ordered table of runs (no pandas needed).

    Attributes:
        columns: list of column names.
        rows: list of dicts (column → value).
        runs: the full run dicts of `load_run`, in row order.
    """

    def __init__(self, rows, columns, runs=None):
        self.rows = rows
        self.columns = columns
        self.runs = runs or []

    def __len__(self):
        return len(self.rows)

    def column(self, name):
        return [row.get(name) for row in self.rows]

    def to_csv(self, path):
        tmp = f"{path}.tmp"
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            for row in self.rows:
                writer.writerow({c: _cell(row.get(c)) for c in self.columns})
        os.replace(tmp, path)
        return path

    def to_pandas(self):
        import pandas as pd  # optional dependency

        return pd.DataFrame(self.rows, columns=self.columns)

    def format(self, columns=None, max_width=18):
        columns = columns or self.columns
        cells = [[_short(_cell(r.get(c)), max_width) for c in columns]
                 for r in self.rows]
        heads = [_short(c, max_width) for c in columns]
        widths = [max([len(h)] + [len(row[i]) for row in cells])
                  for i, h in enumerate(heads)]
        line = "  ".join(h.ljust(w) for h, w in zip(heads, widths))
        body = ["  ".join(v.ljust(w) for v, w in zip(row, widths))
                for row in cells]
        return "\n".join([line, "-" * len(line)] + body)

    def __str__(self):
        return self.format()


def _cell(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else str(value)


def _short(text, width):
    return text if len(text) <= width else text[: width - 1] + "…"


def load_runs(path, status=None, varying_only=False):
    """Loads every run below `path` into a `RunTable`.

    Args:
        path: an experiment results folder (e.g. `results/mnistrotated`)
            or a single run folder.
        status: keep only runs with this status (e.g. `"COMPLETED"`).
            Defaults to all.
        varying_only: keep only config columns whose value differs between
            runs. Defaults to `False`.

    Returns:
        A `RunTable` with columns `id`, `experiment`, `status`,
        `duration_s`, `config.*`, `metric:*` (last value) and `result`.
    """
    runs = [load_run(d) for d in find_run_dirs(path)]
    if status is not None:
        runs = [r for r in runs if r["status"] == status]
    rows, config_cols, metric_cols = [], [], []
    for run in runs:
        row = {
            "id": run["id"],
            "experiment": run["experiment"],
            "status": run["status"],
            "duration_s": _duration(run["start_time"], run["stop_time"]),
        }
        for key, value in flatten(run["config"]).items():
            col = f"config.{key}"
            row[col] = value
            if col not in config_cols:
                config_cols.append(col)
        for name, metric in run["metrics"].items():
            col = f"metric:{name}"
            values = metric["values"]
            row[col] = values[-1] if values else None
            if col not in metric_cols:
                metric_cols.append(col)
        row["result"] = run["result"]
        rows.append(row)
    if varying_only and len(rows) > 1:
        config_cols = [c for c in config_cols
                       if len({_cell(r.get(c)) for r in rows}) > 1]
    columns = (["id", "experiment", "status", "duration_s"] + config_cols
               + sorted(metric_cols) + ["result"])
    return RunTable(rows, columns, runs)


def _duration(start, stop):
    from datetime import datetime

    try:
        fmt = "%Y-%m-%dT%H:%M:%S.%f"
        return round((datetime.strptime(stop, fmt)
                      - datetime.strptime(start, fmt)).total_seconds(), 1)
    except (TypeError, ValueError):
        return None


_RESULT_KEYS_FIRST = ("dataset", "num_labeled", "stage", "epochs")


def load_result_tables(path, key="result_table", status=None):
    """Concatenates the runs' `_run.info[key]` tables (lists of dicts).

    Returns:
        A `RunTable` with `id`, the varying config columns, then the
        result-table columns.
    """
    table = load_runs(path, status=status, varying_only=True)
    rows, extra = [], []
    config_cols = [c for c in table.columns if c.startswith("config.")]
    for run_row, run in zip(table.rows, table.runs):
        for entry in run["info"].get(key, []) or []:
            row = {"id": run_row["id"]}
            row.update({c: run_row.get(c) for c in config_cols})
            row.update(entry)
            for c in entry:
                if c not in extra:
                    extra.append(c)
            rows.append(row)
    # Sacred stores info.json with sorted keys: put the row keys first.
    first = [c for c in _RESULT_KEYS_FIRST if c in extra]
    extra = first + [c for c in extra if c not in first]
    return RunTable(rows, ["id"] + config_cols + extra, table.runs)


def plot_learning_curves(runs, path, metrics=None, label_key=None):
    """Plots each logged metric against its step; one line per run.

    Args:
        runs: a `RunTable` or a list of `load_run` dicts.
        path: PNG file to write.
        metrics: metric names to draw. Defaults to all.
        label_key: flattened config key used in the legend (e.g.
            `"_algo.mode"`). Defaults to the run id.

    Returns:
        `path`.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    runs = runs.runs if isinstance(runs, RunTable) else list(runs)
    names = metrics or sorted({n for r in runs for n in r["metrics"]})
    if not names:
        raise ValueError(f"The runs logged no metrics; nothing to plot at {path}.")
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.2 * nrows),
                             squeeze=False)
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m deltasparse.results",
        description="Summarise finished Sacred runs stored on disk.",
    )
    parser.add_argument("path", help="results folder, e.g. results/mnistrotated")
    parser.add_argument("--status", default=None,
                        help="keep only runs with this status (e.g. COMPLETED)")
    parser.add_argument("--all-config", action="store_true",
                        help="show every config column, not only varying ones")
    parser.add_argument("--csv", help="write the run table to this CSV file")
    parser.add_argument("--results-csv",
                        help="write the concatenated result tables to this CSV")
    parser.add_argument("--plot", help="write learning curves to this PNG")
    parser.add_argument("--metric", action="append",
                        help="metric to plot (repeatable; default all)")
    args = parser.parse_args(argv)
    try:
        table = load_runs(args.path, status=args.status,
                          varying_only=not args.all_config)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not len(table):
        print(f"No runs found below {args.path}.")
        return 1
    shown = [c for c in table.columns if not c.startswith("metric:")
             or c.endswith(("loss", "accuracy", "acc"))]
    print(table.format(columns=shown))
    if args.csv:
        table.to_csv(args.csv)
        print(f"run table written to {args.csv}")
    results = load_result_tables(args.path, status=args.status)
    if len(results):
        print()
        print(results.format())
        if args.results_csv:
            results.to_csv(args.results_csv)
            print(f"result tables written to {args.results_csv}")
    if args.plot:
        plot_learning_curves(table, args.plot, metrics=args.metric)
        print(f"learning curves written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
