"""Read Sacred run folders from disk into a `RunTable` (no Sacred, no pandas).

Sacred's `FileStorageObserver` writes one folder per run:
`<root>/<run id>/{run.json, config.json, metrics.json, info.json, cout.txt,
<artifacts>}`. This module finds such folders (any depth below a path) and
turns them into rows:

- `find_run_dirs(path)`: the run folders below `path`.
- `load_run(directory)`: one run as a dict (status, config, metrics, result,
  artifacts, ...). The status is made truthful: a run that `run.json` calls
  `RUNNING` but whose heartbeat stopped long ago (the process was killed, the
  machine rebooted) is reported as `DIED`, and a run whose `run.json` cannot
  be parsed (truncated by a crash) is reported as `UNREADABLE` with the
  error, instead of an empty row. The original status stays in
  `sacred_status`.
- `load_runs(path)`: every run as a `RunTable`, one row per run with its
  flattened config (`config.<dotted.key>`), the last value of each logged
  metric (`metric:<name>`) and the headline result (`result`,
  `result.<key>`).
- `load_result_tables(path)`: the per-run result tables that the experiments
  store in `_run.info["result_table"]`, concatenated.
- `summary_columns(table)`: the columns a person wants to see first: run id,
  experiment, status, duration, only the config keys that differ between
  the runs, and the headline result.

`RunTable` selects (`select`, glob patterns), filters (`filter`,
`key=value`) and renders itself as aligned text wrapped to a terminal width
(`format`), Markdown (`to_markdown`) or CSV (`to_csv`).
"""

import csv
import datetime
import fnmatch
import io
import json
import math
import os
import socket

STALE_AFTER_S = 120.0
"""Seconds without a heartbeat after which a `RUNNING` run counts as `DIED`.

Sacred's `FileStorageObserver` rewrites `run.json` with a new `heartbeat`
about every 10 s while the run is alive.
"""

DIED = "DIED"
UNREADABLE = "UNREADABLE"

BASE_COLUMNS = ("id", "experiment", "status", "duration")
"""Columns every summary starts with."""

FINAL_METRIC_PATTERNS = ("*test.accuracy", "*test_accuracy", "*test.acc",
                         "*test_acc")
"""Final-evaluation metrics shown in the summary (`test.accuracy` of the UCF
experiments, `result.stacked.test_accuracy` of the group k-sparse ones)."""

HEADLINE_RESULT_PATTERNS = (
    "dataset", "num_labeled", "stage", "epochs", "accuracy", "video_accuracy",
    "loss", "*test_accuracy", "delta_density_all", "act_density_all",
    "op_ratio_counted", "gflops_per_view", "*.video_top1")
"""Result keys a summary keeps when a run returns more than
`MAX_RESULT_COLUMNS` of them (the UCF101 experiments return every
per-group density and every multi-view figure)."""

MAX_RESULT_COLUMNS = 12

_RESULT_KEYS_FIRST = ("dataset", "num_labeled", "stage", "epochs")
_SACRED_FILES = ("run.json", "config.json", "metrics.json", "info.json",
                 "cout.txt")


class RunFolderError(ValueError):
    """A run file exists but cannot be parsed (e.g. truncated JSON)."""


# --------------------------------------------------------------------------
# Reading run folders.


def flatten(mapping, prefix=""):
    """Flattens nested dicts into dotted keys.

    Args:
        mapping: dict, possibly nested.
        prefix: string put before every key. Defaults to `""`.

    Returns:
        A flat dict: `{"a": {"b": 1}, "c": 2}` becomes `{"a.b": 1, "c": 2}`.
        Empty dicts are kept as values.
    """
    out = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def find_run_dirs(path):
    """Lists the run folders (those holding a `run.json`) below `path`.

    Args:
        path: a results folder (e.g. `results/mnistrotated`), a folder of
            several experiments (`results`) or one run folder.

    Returns:
        The run folders, sorted by parent folder and numeric run id.

    Raises:
        FileNotFoundError: `path` does not exist or is not a folder.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No results folder at {path!r}. Run an experiment first, e.g. "
            "`python experiments/mnistrotated.py with quick`."
        )
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"{path!r} is a file, not a results folder. Pass the folder that "
            "holds the run folders, e.g. `results/mnistrotated`."
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
    return (os.path.dirname(directory), int(base) if base.isdigit() else 0,
            base)


def _read_json(path, required=False):
    """Reads a JSON file; `None` when absent (or, if not required, broken)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        if required:
            raise RunFolderError(f"{os.path.basename(path)}: missing")
        return None
    except OSError as err:
        raise RunFolderError(f"{os.path.basename(path)}: {err.strerror}")
    try:
        return json.loads(text)
    except ValueError as err:
        what = "empty file" if not text.strip() else (
            f"invalid JSON ({err.msg}: line {err.lineno} column "
            f"{err.colno})" if isinstance(err, json.JSONDecodeError)
            else str(err))
        raise RunFolderError(f"{os.path.basename(path)}: {what}") from None


def _parse_time(value):
    """Parses Sacred's naive-UTC ISO timestamps; `None` when absent/invalid."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return stamp


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except (OSError, OverflowError, ValueError):
        return None
    return True


def _find_pid(run_json, info):
    for source in (run_json.get("host"), run_json.get("meta"), info):
        if isinstance(source, dict):
            pid = source.get("pid")
            if isinstance(pid, int) and pid > 0:
                return pid
    return None


def format_duration(seconds):
    """Formats seconds for people: `42s`, `3m05s`, `2h07m`, `3d04h`.

    Args:
        seconds: number of seconds, or `None`.

    Returns:
        The string (`""` for `None`).
    """
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = int(round(max(seconds, 0)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def run_status(run_json, info=None, stale_after=STALE_AFTER_S, now=None,
               mtime=None):
    """Decides the truthful status of a run from its `run.json` content.

    A run that Sacred marked `RUNNING` is `DIED` when its process is known
    to be gone: when `run.json` names this host and a `pid`
    (`host.pid`, `meta.pid` or `info.pid`) and no such process exists, or,
    without a usable pid, when the last sign of life (the `heartbeat`, else
    `start_time`, else the file's modification time) is older than
    `stale_after` seconds. Sacred's default host info has no pid, so the
    heartbeat usually decides. Other statuses are kept as they are.

    Args:
        run_json: the parsed `run.json` dict.
        info: the run's info dict (may hold a `pid`). Defaults to `None`.
        stale_after: seconds without a heartbeat after which a running run
            counts as dead. Defaults to `STALE_AFTER_S` (120).
        now: naive UTC `datetime` to compare with. Defaults to now.
        mtime: POSIX modification time of `run.json`, the last fallback.

    Returns:
        Tuple `(status, note)`: the status string and a short explanation
        (`""` when the status is Sacred's own).
    """
    status = run_json.get("status") or "UNKNOWN"
    if status != "RUNNING":
        return status, ""
    now = now or _utcnow()
    host = run_json.get("host") or {}
    pid = _find_pid(run_json, info or {})
    hostname = host.get("hostname") if isinstance(host, dict) else None
    if pid is not None and hostname == socket.gethostname():
        alive = _pid_alive(pid)
        if alive is False:
            return DIED, f"process {pid} gone from {hostname}"
        if alive:
            return status, f"process {pid} alive on {hostname}"
    last, what = _parse_time(run_json.get("heartbeat")), "no heartbeat for {}"
    if last is None:
        last = _parse_time(run_json.get("start_time"))
        what = "no heartbeat, started {} ago"
    if last is None and mtime is not None:
        last = datetime.datetime.fromtimestamp(
            mtime, datetime.timezone.utc).replace(tzinfo=None)
        what = "run.json untouched for {}"
    if last is None:
        return status, "no heartbeat recorded"
    age = (now - last).total_seconds()
    if age > stale_after:
        return DIED, what.format(format_duration(age))
    return status, ""


def load_run(directory, stale_after=STALE_AFTER_S, now=None, root=None):
    """Reads one run folder into a dict.

    Never raises for a broken run: a `run.json` that cannot be parsed gives
    status `UNREADABLE` and the message in `error`; a broken `config.json`,
    `metrics.json` or `info.json` is listed in `warnings` and read as empty.

    Args:
        directory: the run folder (holding `run.json`).
        stale_after: seconds without a heartbeat after which a `RUNNING`
            run is reported as `DIED`. Defaults to 120.
        now: naive UTC `datetime` used for the staleness check. Defaults to
            now.
        root: the folder the run was found under; the run id is the path
            relative to it (`"3"`, or `"mnistrotated/3"` below `results/`).
            Defaults to the run folder's parent.

    Returns:
        dict with keys `dir`, `id`, `experiment`, `status` (truthful),
        `sacred_status` (as in `run.json`), `note` (why the status differs,
        or the error), `error` (`None` unless unreadable), `error_file`
        (the unreadable file), `warnings` (messages about broken optional
        files),
        `start_time`, `stop_time`, `heartbeat`, `duration_s`, `host`,
        `config`, `info`, `result`, `metrics` (name → `{"steps": [...],
        "values": [...]}`), `artifacts` (file names).
    """
    directory = os.fspath(directory)
    rel = os.path.relpath(directory, os.fspath(root)) if root else "."
    run = {
        "dir": directory,
        "id": os.path.basename(os.path.abspath(directory))
        if rel in (".", "") else rel.replace(os.sep, "/"),
        "experiment": None, "status": None, "sacred_status": None,
        "note": "", "error": None, "error_file": None, "warnings": [],
        "start_time": None, "stop_time": None, "heartbeat": None,
        "duration_s": None,
        "host": None, "config": {}, "info": {}, "result": None,
        "metrics": {}, "artifacts": [],
    }
    run_path = os.path.join(directory, "run.json")
    try:
        run_json = _read_json(run_path, required=True)
        if not isinstance(run_json, dict):
            raise RunFolderError("run.json: not a JSON object")
    except RunFolderError as err:
        run.update(status=UNREADABLE, error=str(err), note=str(err),
                   error_file=run_path)
        return run

    def optional(name):
        try:
            return _read_json(os.path.join(directory, name))
        except RunFolderError as err:
            run["warnings"].append(str(err))
            return None

    config = optional("config.json")
    metrics = optional("metrics.json")
    info = optional("info.json")
    if not isinstance(info, dict):
        info = run_json.get("info") or {}
    try:
        mtime = os.path.getmtime(run_path)
    except OSError:
        mtime = None
    status, note = run_status(run_json, info, stale_after, now, mtime)
    start = _parse_time(run_json.get("start_time"))
    end = _parse_time(run_json.get("stop_time"))
    if end is None and status == "RUNNING":
        end = now or _utcnow()
    elif end is None:
        end = _parse_time(run_json.get("heartbeat"))
    host = run_json.get("host") or {}
    run.update(
        experiment=(run_json.get("experiment") or {}).get("name"),
        status=status,
        sacred_status=run_json.get("status"),
        note=note,
        start_time=run_json.get("start_time"),
        stop_time=run_json.get("stop_time"),
        heartbeat=run_json.get("heartbeat"),
        duration_s=(round((end - start).total_seconds(), 1)
                    if start and end else None),
        host=host.get("hostname") if isinstance(host, dict) else None,
        config=config if isinstance(config, dict) else {},
        info=info,
        result=run_json.get("result"),
        metrics={
            name: {"steps": m.get("steps", []), "values": m.get("values", [])}
            for name, m in (metrics or {}).items() if isinstance(m, dict)
        },
        artifacts=list(run_json.get("artifacts") or []),
    )
    return run


# --------------------------------------------------------------------------
# Cell formatting.


def _is_scalar(value):
    return value is None or isinstance(value, (bool, int, float, str))


def _round_floats(value, digits=4):
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, list):
        return [_round_floats(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _round_floats(v, digits) for k, v in value.items()}
    return value


def compact(value, digits=4):
    """A short one-line form of a list or dict (floats to `digits` digits).

    Args:
        value: any JSON value.
        digits: significant digits of floats. Defaults to `4`.

    Returns:
        A string such as `[[0.0123,0.0456],[[0.31,0.9],…]]`.
    """
    return json.dumps(_round_floats(value, digits), separators=(",", ":"))


def cell(value, digits=None):
    """Formats one value as text.

    Args:
        value: any JSON value.
        digits: significant digits of floats. Defaults to `None`: the
            shortest form that reads back exactly (for CSV).

    Returns:
        The string (`""` for `None`; lists and dicts as compact JSON).
    """
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return repr(value) if digits is None else f"{value:.{digits}g}"
    if isinstance(value, (list, dict)):
        return (json.dumps(value, separators=(",", ":")) if digits is None
                else compact(value, digits))
    return str(value)


def _short(text, width):
    text = " ".join(str(text).split())
    if width is None or len(text) <= width:
        return text
    return text[: max(width - 1, 1)] + "…"


def is_number(text):
    """Whether `text` parses as a float (for right-aligned table cells)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def display_name(column):
    """The short name of a column: `config.` is dropped (`_algo.mode`)."""
    return column[len("config."):] if column.startswith("config.") else column


# --------------------------------------------------------------------------
# The table.


class RunTable:
    """A small column-ordered table of runs (no pandas needed).

    Rows are dicts keyed by full column names: `id`, `experiment`,
    `status`, `sacred_status`, `note`, `duration_s`, `duration`,
    `config.<dotted.key>`, `metric:<name>` (last logged value), `result`
    and `result.<key>`. Where a column is shown, `config.` is dropped
    from its name (`display_name`).

    Args:
        rows: list of dicts (column → value).
        columns: list of column names, in display order.
        runs: the `load_run` dicts the rows came from, in row order.
            Defaults to none.

    Attributes:
        columns: list of column names.
        rows: list of dicts.
        runs: list of run dicts (same order as `rows`).
    """

    def __init__(self, rows, columns, runs=None):
        self.rows = rows
        self.columns = list(columns)
        self.runs = list(runs or [])

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __str__(self):
        return self.format()

    def column(self, name):
        """Returns the values of one column (full or short name), by row."""
        name = self._full_name(name)
        return [row.get(name) for row in self.rows]

    def _full_name(self, name):
        if name in self.columns:
            return name
        for col in self.columns:
            if display_name(col) == name:
                return col
        return name

    def _all_columns(self):
        seen = list(self.columns)
        for row in self.rows:
            for key in row:
                if key not in seen:
                    seen.append(key)
        return seen

    def resolve(self, patterns):
        """Expands column names and glob patterns into existing columns.

        Args:
            patterns: list of names or `fnmatch` patterns, matched against
                full names (`config._algo.mode`, `metric:pretrain.loss`) and
                short names (`_algo.mode`): `["id", "_algo.*",
                "metric:*loss*"]`.

        Returns:
            The matching columns, in pattern order, without duplicates.

        Raises:
            KeyError: a pattern matches no column (the message lists the
                known columns).
        """
        known = self._all_columns()
        out = []
        for pattern in patterns:
            hits = [c for c in known
                    if fnmatch.fnmatchcase(c, pattern)
                    or fnmatch.fnmatchcase(display_name(c), pattern)]
            if not hits:
                shown = ", ".join(display_name(c) for c in known[:40])
                more = " ..." if len(known) > 40 else ""
                raise KeyError(f"no column matches {pattern!r}; columns: "
                               f"{shown}{more}")
            out.extend(c for c in hits if c not in out)
        return out

    def select(self, columns):
        """Returns a table with only these columns (names or patterns).

        Args:
            columns: list of names or glob patterns (see `resolve`).

        Returns:
            A new `RunTable` sharing rows and runs.
        """
        return RunTable(self.rows, self.resolve(columns), self.runs)

    def filter(self, conditions):
        """Keeps the rows matching every `key=value` condition.

        Keys are full or short column names (`status`, `_algo.mode`,
        `config.seed`, `metric:test.accuracy`). Values are compared as
        numbers when both sides are numbers (`lr=1e-4` matches `0.0001`),
        otherwise as text with glob patterns (`_algo.mode=group*`).
        `key!=value` keeps the rows that do not match.

        Args:
            conditions: list of strings `"key=value"` or `"key!=value"`.

        Returns:
            A new `RunTable` with the matching rows (and their runs).

        Raises:
            ValueError: a condition has no `=`, or its key is no column.
        """
        keep = list(range(len(self.rows)))
        known = self._all_columns()
        for condition in conditions:
            if "=" not in condition:
                raise ValueError(
                    "A filter must look like key=value. "
                    f"Received: filter={condition!r}")
            key, value = condition.split("=", 1)
            negate = key.endswith("!")
            key = key.rstrip("!").strip()
            full = self._full_name(key)
            if full not in known:
                shown = ", ".join(display_name(c) for c in known[:40])
                raise ValueError(f"unknown filter key {key!r}; columns: "
                                 f"{shown}. Received: filter={condition!r}")
            keep = [i for i in keep
                    if _matches(self.rows[i].get(full), value) != negate]
        runs = [self.runs[i] for i in keep] if self.runs else []
        return RunTable([self.rows[i] for i in keep], self.columns, runs)

    # ---- rendering -------------------------------------------------------

    def _cells(self, columns, digits, max_width):
        heads = [display_name(c) for c in columns]
        body = [[_short(cell(row.get(c), digits), max_width) for c in columns]
                for row in self.rows]
        return heads, body

    def format(self, columns=None, max_width=24, width=120, digits=4):
        """Renders the table as aligned text for a terminal.

        Values longer than `max_width` are cut with `…`; column names are
        never cut. When the columns do not fit in `width` characters, the
        table is printed in blocks of columns, each repeating the `id`.

        Args:
            columns: columns (names or patterns) to show. Defaults to all.
            max_width: longest value shown, in characters. Defaults to 24.
            width: line width to fit in. `None` for one block. Defaults to
                120.
            digits: significant digits of floats. Defaults to 4.

        Returns:
            The text (no trailing newline).
        """
        columns = self.resolve(columns) if columns else self.columns
        if not columns:
            return ""
        heads, body = self._cells(columns, digits, max_width)
        widths = [max([len(h)] + [len(r[i]) for r in body])
                  for i, h in enumerate(heads)]
        numeric = [all(not r[i] or is_number(r[i]) for r in body)
                   and any(r[i] for r in body) for i in range(len(heads))]
        blocks = _pack_blocks(widths, width, keep_first=heads[0] == "id")
        out = []
        for block in blocks:
            def line(values):
                return "  ".join(
                    (values[i].rjust(widths[i]) if numeric[i]
                     else values[i].ljust(widths[i])) for i in block).rstrip()
            header = line(heads)
            out.append("\n".join(
                [header, "-" * len(header)] + [line(r) for r in body]))
        return "\n\n".join(out)

    def to_markdown(self, columns=None, max_width=None, digits=4):
        """Renders the table as a GitHub-flavoured Markdown table.

        Args:
            columns: columns (names or patterns) to show. Defaults to all.
            max_width: longest value shown. Defaults to `None` (no cut).
            digits: significant digits of floats. Defaults to 4.

        Returns:
            The Markdown text (no trailing newline); `|` in values is
            escaped as `\\|`.
        """
        columns = self.resolve(columns) if columns else self.columns
        heads, body = self._cells(columns, digits, max_width)

        def esc(text):
            return text.replace("\\", "\\\\").replace("|", "\\|")

        numeric = [all(not r[i] or is_number(r[i]) for r in body)
                   and any(r[i] for r in body) for i in range(len(heads))]
        lines = ["| " + " | ".join(esc(h) for h in heads) + " |",
                 "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
        lines += ["| " + " | ".join(esc(v) for v in r) + " |" for r in body]
        return "\n".join(lines)

    def to_csv(self, path=None, columns=None, short_names=False):
        """Writes the table as CSV (floats at full precision).

        Args:
            path: file path (written atomically through `<path>.tmp`), an
                open text file, or `None` to return the text.
            columns: columns (names or patterns). Defaults to all.
            short_names: write `_algo.mode` instead of `config._algo.mode`
                in the header. Defaults to `False`.

        Returns:
            `path`, or the CSV text when `path` is `None`.
        """
        columns = self.resolve(columns) if columns else self.columns
        heads = [display_name(c) if short_names else c for c in columns]

        def write(handle):
            writer = csv.writer(handle)
            writer.writerow(heads)
            for row in self.rows:
                writer.writerow([cell(row.get(c)) for c in columns])

        if path is None:
            buffer = io.StringIO()
            write(buffer)
            return buffer.getvalue()
        if hasattr(path, "write"):
            write(path)
            return path
        path = os.fspath(path)
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                write(handle)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    def to_pandas(self):
        """Returns a `pandas.DataFrame` (pandas is an optional dependency)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


def _pack_blocks(widths, width, keep_first):
    """Splits column indices into blocks whose lines fit in `width`.

    Every block starts with column 0 when `keep_first` (the run id); a
    column wider than `width` gets a block of its own.
    """
    indices = list(range(len(widths)))
    if width is None or sum(widths) + 2 * (len(widths) - 1) <= width:
        return [indices]
    first = [0] if keep_first else []
    start = sum(widths[j] + 2 for j in first)
    blocks, current, used = [], [], start
    for i in indices[len(first):]:
        if current and used + widths[i] > width:
            blocks.append(first + current)
            current, used = [], start
        current.append(i)
        used += widths[i] + 2
    if current:
        blocks.append(first + current)
    return blocks


def _matches(actual, wanted):
    text = cell(actual)
    if text == wanted:
        return True
    if is_number(text) and is_number(wanted) and not isinstance(
            actual, bool):
        return float(text) == float(wanted)
    return fnmatch.fnmatchcase(text, wanted)


# --------------------------------------------------------------------------
# Building tables.


def _headline(result):
    """The summary columns of a run's result: `{"result": ...}` or per key."""
    if _is_scalar(result):
        return {"result": result} if result is not None else {}
    if isinstance(result, dict):
        flat = flatten(result)
        if all(_is_scalar(v) for v in flat.values()):
            return {f"result.{k}": v for k, v in flat.items()}
    return {"result": result}


def load_runs(path, status=None, varying_only=False,
              stale_after=STALE_AFTER_S, now=None):
    """Loads every run below `path` into a `RunTable`.

    Args:
        path: an experiment results folder (e.g. `results/mnistrotated`),
            a folder of experiments, or a single run folder.
        status: keep only runs with this (truthful) status, e.g.
            `"COMPLETED"`. Defaults to all.
        varying_only: keep only the config columns whose value differs
            between the runs. Defaults to `False`.
        stale_after: seconds without a heartbeat after which a `RUNNING`
            run is reported as `DIED`. Defaults to 120.
        now: naive UTC `datetime` for the staleness check. Defaults to now.

    Returns:
        A `RunTable` with columns `id`, `experiment`, `status`,
        `sacred_status`, `duration_s`, `duration`, `note`, `config.*`,
        `metric:*` (last value), `result` (the raw result) and
        `result.<key>` (for a dict of scalars).

    Raises:
        FileNotFoundError: `path` does not exist or is a file.
    """
    root = os.fspath(path)
    runs = [load_run(d, stale_after=stale_after, now=now, root=root)
            for d in find_run_dirs(root)]
    if status is not None:
        runs = [r for r in runs if r["status"] == status]
    rows, config_cols, metric_cols, result_cols = [], [], [], []
    for run in runs:
        row = {
            "id": run["id"],
            "experiment": run["experiment"],
            "status": run["status"],
            "sacred_status": run["sacred_status"],
            "duration_s": run["duration_s"],
            "duration": format_duration(run["duration_s"]),
            "note": run["note"],
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
        for key, value in _headline(run["result"]).items():
            if key != "result":
                row[key] = value
                if key not in result_cols:
                    result_cols.append(key)
        rows.append(row)
    if varying_only:
        config_cols = varying_columns(rows, config_cols)
    columns = (["id", "experiment", "status", "sacred_status", "duration_s",
                "duration", "note"] + config_cols + sorted(metric_cols)
               + ["result"] + result_cols)
    return RunTable(rows, columns, runs)


def varying_columns(rows, columns):
    """Returns the columns whose values are not the same in every row.

    Rows without any config (unreadable runs) are ignored; a key missing
    from some rows counts as differing. With a single row nothing varies.

    Args:
        rows: list of row dicts.
        columns: candidate column names.

    Returns:
        The varying columns, in order.
    """
    rows = [r for r in rows if any(k.startswith("config.") for k in r)] \
        or rows
    out = []
    for col in columns:
        values = {cell(r[col]) if col in r else "\0missing" for r in rows}
        if len(values) > 1:
            out.append(col)
    return out


def summary_columns(table):
    """The default columns: what differs, how it went, what came out.

    Run id, experiment, status, duration; a `note` column when a status
    was corrected (`DIED`) or a run is `UNREADABLE`; only the config keys
    whose values differ between the rows; the headline result (`result`
    when it is a scalar or a list, `result.<key>` for a dict of scalars);
    (only its headline keys, `HEADLINE_RESULT_PATTERNS`, when there are
    more than `MAX_RESULT_COLUMNS`); and the final test-accuracy metrics
    (`FINAL_METRIC_PATTERNS`:
    `metric:test.accuracy`, `metric:result.stacked.test_accuracy`, ...)
    unless the result dict already holds the same value.

    Args:
        table: a `RunTable` from `load_runs` (after any filtering).

    Returns:
        List of column names.
    """
    rows = table.rows
    cols = list(BASE_COLUMNS)
    if any(r.get("note") and r.get("status") in (DIED, UNREADABLE)
           for r in rows):
        cols.append("note")
    config = [c for c in table.columns if c.startswith("config.")]
    cols += varying_columns(rows, config)
    results = [c for c in table.columns
               if c.startswith("result.") and c not in cols]
    if len(results) > MAX_RESULT_COLUMNS:
        results = [c for p in HEADLINE_RESULT_PATTERNS for c in results
                   if fnmatch.fnmatchcase(c[len("result."):], p)]
    if any(r.get("result") is not None for r in rows) and not results:
        cols.append("result")
    cols += results
    for col in table.columns:
        if not col.startswith("metric:"):
            continue
        name = col[len("metric:"):]
        if not any(fnmatch.fnmatchcase(name, p)
                   for p in FINAL_METRIC_PATTERNS):
            continue
        key = name.split(".", 1)[1] if "." in name else name
        same = all(r.get(f"result.{key}") is not None
                   and cell(r.get(f"result.{key}"), 6) == cell(r.get(col), 6)
                   for r in rows if r.get(col) is not None)
        if not same:
            cols.append(col)
    return cols


def hidden_config_count(table, columns, prefix="config."):
    """How many config keys (or other `prefix` columns) are left out of
    `columns` (for a hint line)."""
    config = [c for c in table.columns if c.startswith(prefix)]
    return len([c for c in config if c not in columns])


def load_result_tables(path, key="result_table", status=None, runs=None):
    """Concatenates the runs' `_run.info[key]` tables (lists of dicts).

    Args:
        path: results folder (as for `load_runs`); ignored when `runs` is
            given.
        key: the info key holding the table. Defaults to `"result_table"`.
        status: keep only runs with this status. Defaults to all.
        runs: a `RunTable` to take the runs from (e.g. a filtered one).
            Defaults to loading `path`.

    Returns:
        A `RunTable`: `id`, the config columns that vary between the runs,
        then the result-table columns (`dataset`, `num_labeled`, `stage`,
        `epochs` first, when present).
    """
    if runs is None:
        runs = load_runs(path, status=status)
    elif status is not None:
        runs = runs.filter([f"status={status}"])
    config_cols = varying_columns(
        runs.rows, [c for c in runs.columns if c.startswith("config.")])
    rows, extra, kept = [], [], []
    for run_row, run in zip(runs.rows, runs.runs):
        entries = run["info"].get(key) if isinstance(run["info"], dict) \
            else None
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            row = {"id": run_row["id"]}
            row.update({c: run_row.get(c) for c in config_cols})
            row.update(entry)
            for c in entry:
                if c not in extra:
                    extra.append(c)
            rows.append(row)
            kept.append(run)
    # Sacred stores info.json with sorted keys: put the row keys first.
    first = [c for c in _RESULT_KEYS_FIRST if c in extra]
    extra = first + [c for c in extra if c not in first]
    return RunTable(rows, ["id"] + config_cols + extra, kept)


def run_files(run):
    """Lists the files of a run folder, Sacred's own files last.

    Args:
        run: a `load_run` dict.

    Returns:
        List of paths relative to the run folder (`/`-separated), the
        registered artifacts and other files first, then `run.json`,
        `config.json`, `metrics.json`, `info.json`, `cout.txt`.
    """
    found = []
    for base, dirs, files in os.walk(run["dir"]):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(base, name), run["dir"])
            found.append(rel.replace(os.sep, "/"))
    own = [f for f in _SACRED_FILES if f in found]
    return [f for f in found if f not in own] + own
