"""The assertions of the former `tests/test_results.py`, on the moved code.

`finished_runs` (conftest.py) is the same two-run Sacred experiment, with
a few more logged metrics and artifacts. One change: a missing results
folder now exits with status 1 (was 2), as every other CLI error does.
"""

import csv

import pytest

from deltasparse import reporting as results


def test_load_runs_table(finished_runs):
    table = results.load_runs(str(finished_runs))
    assert len(table) == 2
    assert table.column("status") == ["COMPLETED", "COMPLETED"]
    assert table.column("config._algo.mode") == ["wtacnn", "groupwtacnn"]
    assert table.column("metric:pretrain.loss") == pytest.approx([1 / 3, 1 / 3])
    assert table.column("result") == [[[0.1, 0.2]], [[0.1, 0.2]]]
    varying = results.load_runs(str(finished_runs), varying_only=True)
    assert "config._algo.mode" in varying.columns
    assert "config._algo.lr" not in varying.columns


def test_result_tables_and_csv(finished_runs, tmp_path):
    table = results.load_result_tables(str(finished_runs))
    assert len(table) == 4
    assert table.column("stage") == ["stacked", "endtoend"] * 2
    out = table.to_csv(str(tmp_path / "r.csv"))
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert rows[1]["config._algo.mode"] == "wtacnn"
    assert rows[3]["test_acc"] == "0.6"


def test_plot_and_cli(finished_runs, tmp_path, capsys):
    png = tmp_path / "curves.png"
    code = results.main([str(finished_runs), "--plot", str(png),
                         "--csv", str(tmp_path / "runs.csv")])
    assert code == 0
    assert png.stat().st_size > 1000
    out = capsys.readouterr().out
    assert "groupwtacnn" in out and "endtoend" in out


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="Run an experiment first"):
        results.load_runs(str(tmp_path / "absent"))
    assert results.main([str(tmp_path / "absent")]) == 1


def test_result_table_puts_row_keys_first(finished_runs):
    table = results.load_result_tables(str(finished_runs))
    extra = [c for c in table.columns if c != "id" and not c.startswith("config.")]
    assert extra[:2] == ["num_labeled", "stage"]
