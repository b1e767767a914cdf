import json
import os

from deltasparse.experiment import observers


def test_make_experiment_writes_under_results(tmp_path, monkeypatch):
    monkeypatch.setenv(observers.RESULTS_ENV, str(tmp_path))
    ex = observers.make_experiment("unit_exp")

    @ex.config
    def config():
        value = 2  # noqa: F841

    @ex.main
    def main(value, _run):
        _run.log_scalar("v", value, 0)
        directory = observers.run_directory(_run)
        path = os.path.join(directory, "a.txt")
        with open(path, "w") as f:
            f.write("x")
        _run.add_artifact(path)
        return value * 2

    run = ex.run(config_updates={"value": 3})
    assert run.status == "COMPLETED" and run.result == 6
    run_dir = tmp_path / "unit_exp" / str(run._id)
    assert (run_dir / "metrics.json").exists()
    assert (run_dir / "a.txt").exists()


def test_make_experiment_records_the_calling_script(tmp_path, monkeypatch):
    monkeypatch.setenv(observers.RESULTS_ENV, str(tmp_path))
    script = tmp_path / "my_script.py"
    script.write_text(
        '"""My experiment help text."""\n'
        "from deltasparse.experiment import make_experiment\n"
        "ex = make_experiment('scripted')\n"
    )
    import runpy

    ex = runpy.run_path(str(script))["ex"]
    assert ex.doc == "My experiment help text."
    assert ex.mainfile is not None and ex.mainfile.filename.endswith("my_script.py")


def test_runs_record_their_process_id(tmp_path):
    """`deltasparse-results` marks a RUNNING run whose pid is gone as DIED."""
    ex = observers.make_experiment("pid", root=str(tmp_path))

    @ex.main
    def main():
        return 1

    run = ex.run()
    with open(tmp_path / "pid" / str(run._id) / "run.json") as handle:
        host = json.load(handle)["host"]
    assert host["pid"] == os.getpid()
