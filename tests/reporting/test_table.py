"""The default run table, `--columns`, `--filter` and the output formats."""

import csv
import io

import pytest

from deltasparse.reporting import load_runs
from deltasparse.reporting import main
from deltasparse.reporting import summary_columns
from deltasparse.reporting.runs import RunTable
from tests.reporting.conftest import write_run


def _header(text):
    return text.splitlines()[0].split()


def test_summary_shows_only_differing_config(finished_runs):
    table = load_runs(str(finished_runs))
    columns = summary_columns(table)
    assert columns[:4] == ["id", "experiment", "status", "duration"]
    assert "config._algo.mode" in columns
    assert "config._algo.lr" not in columns
    assert "config.seed" not in columns
    # The headline: the (list) result and the final-evaluation metric.
    assert "result" in columns and "metric:test.accuracy" in columns
    assert "metric:pretrain.loss" not in columns


def test_cli_default_table_is_short_and_readable(finished_runs, capsys):
    assert main([str(finished_runs)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert _header(captured.out) == [
        "id", "experiment", "status", "duration", "_algo.mode", "result",
        "metric:test.accuracy"]
    assert "config." not in lines[0]
    assert max(len(line) for line in lines) <= 120
    assert lines[2].split()[0] == "1" and "wtacnn" in lines[2].split()
    assert "groupwtacnn" in lines[3].split()
    assert "0.8125" in lines[3] and "[[0.1,0.2]]" in lines[3]
    assert "(2 config keys have the same value" in captured.err


def test_wide_tables_wrap_in_blocks_without_cutting_names(tmp_path):
    keys = [f"_algo.a_rather_long_configuration_key_{i}" for i in range(8)]
    for run_id in (1, 2):
        config = {"_algo": {k.split(".")[1]: f"value-{run_id}-{'x' * 30}"
                            for k in keys}}
        write_run(tmp_path / "wide", run_id, config=config)
    text = load_runs(str(tmp_path / "wide")).format(
        summary_columns(load_runs(str(tmp_path / "wide"))), width=120)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    for key in keys:
        assert key in text                              # names never cut
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    assert all(block.split()[0] == "id" for block in blocks)
    assert "…" in text                                  # long values are cut


def test_columns_option_with_globs(finished_runs, capsys):
    code = main([str(finished_runs), "--format", "csv",
                 "--columns", "id,_algo.mode,metric:*loss*"])
    assert code == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["id", "_algo.mode", "metric:pretrain.loss",
                       "metric:pretrain.val_loss"]
    assert [r[1] for r in rows[1:]] == ["wtacnn", "groupwtacnn"]
    assert float(rows[1][2]) == pytest.approx(1 / 3)


def test_unknown_column_is_an_error(finished_runs, capsys):
    assert main([str(finished_runs), "--columns", "id,nosuch*"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no column matches 'nosuch*'")
    assert "Traceback" not in err


def test_filter_option(finished_runs, capsys):
    assert main([str(finished_runs), "--format", "csv",
                 "--filter", "_algo.mode=group*"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == ["2"]
    # Numbers compare as numbers: 1e-4 matches the stored 0.0001.
    assert main([str(finished_runs), "--format", "csv", "--columns", "id",
                 "--filter", "config._algo.lr=1e-4",
                 "--filter", "_algo.mode!=group*"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == ["1"]


def test_filter_status_and_no_match(mixed_runs, capsys):
    assert main([str(mixed_runs), "--format", "csv",
                 "--filter", "status=COMPLETED"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == ["1"]
    assert main([str(mixed_runs), "--filter", "status=FAILED"]) == 1
    assert "error: no run below" in capsys.readouterr().err
    assert main([str(mixed_runs), "--filter", "nokey=1"]) == 1
    assert "error: unknown filter key 'nokey'" in capsys.readouterr().err
    assert main([str(mixed_runs), "--filter", "novalue"]) == 1
    assert "key=value" in capsys.readouterr().err


def test_csv_format_parses_back(finished_runs, capsys):
    assert main([str(finished_runs), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 2
    assert [r["_algo.mode"] for r in rows] == ["wtacnn", "groupwtacnn"]
    assert [r["status"] for r in rows] == ["COMPLETED"] * 2
    assert float(rows[1]["metric:test.accuracy"]) == 0.8125
    assert "stacked" not in out      # only the run table goes to stdout


def _parse_markdown(text):
    lines = text.strip().split("\n\n")[0].splitlines()
    split = [[c.strip() for c in line.strip().strip("|").split(" | ")]
             for line in lines]
    assert set(lines[1]) <= set("|-: ")
    return split[0], split[2:]


def test_markdown_format_parses_back(finished_runs, capsys):
    assert main([str(finished_runs), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    head, rows = _parse_markdown(out)
    assert head == ["id", "experiment", "status", "duration", "_algo.mode",
                    "result", "metric:test.accuracy"]
    assert len(rows) == 2
    assert [r[head.index("_algo.mode")] for r in rows] == [
        "wtacnn", "groupwtacnn"]
    assert rows[0][head.index("metric:test.accuracy")] == "0.75"
    assert "| stacked |" in out      # the result table follows


def test_markdown_escapes_pipes():
    table = RunTable([{"id": "1", "note": "a|b"}], ["id", "note"])
    assert table.to_markdown().splitlines()[2] == "| 1 | a\\|b |"


def test_csv_file_keeps_full_names(finished_runs, tmp_path, capsys):
    out = tmp_path / "runs.csv"
    assert main([str(finished_runs), "--csv", str(out)]) == 0
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert rows[1]["config._algo.mode"] == "groupwtacnn"
    assert float(rows[0]["metric:pretrain.loss"]) == pytest.approx(1 / 3)
    assert f"wrote {out}" in capsys.readouterr().err


def test_summary_keeps_headline_results_of_a_wide_result(tmp_path, capsys):
    """A UCF-like result (every density, every view setting) stays short."""
    result = {"accuracy": 0.5, "video_accuracy": 0.6, "loss": 1.2,
              "delta_density_all": 0.17, "op_ratio_counted": 0.19,
              "3clips_3crops.video_top1": 0.7,
              "3clips_3crops.clip_top1": 0.4}
    result.update({f"delta_density_block{i}": 0.1 for i in range(13)})
    write_run(tmp_path, 1, result=result)
    table = load_runs(str(tmp_path))
    columns = summary_columns(table)
    results = [c[len("result."):] for c in columns if c.startswith("result.")]
    assert results == ["accuracy", "video_accuracy", "loss",
                       "delta_density_all", "op_ratio_counted",
                       "3clips_3crops.video_top1"]
    assert main([str(tmp_path)]) == 0
    assert "(14 more result keys; --columns 'id,result.*'" in (
        capsys.readouterr().err)
    assert main([str(tmp_path), "--columns", "id,result.*"]) == 0
    assert "delta_density_block12" in capsys.readouterr().out
