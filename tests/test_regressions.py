"""Defects found in review, each shown fixed through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import wait_until, words
from gridrun.store import Driver, NewExperiment, NewRun, SQLiteStore


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_nan_and_infinite_metrics_are_kept_and_json_stays_strict(grid, run_status, workdir):
    (workdir / "nan.py").write_text(
        "import gridrun\n"
        "print('loss=nan')\n"
        "print('loss=0.5 grad=inf')\n"
        "gridrun.log(acc=float('nan'))\n"
    )
    grid("run", "--name", "nan", "nan.py", "--i", "[1, 2]", check=True)
    out = grid("--output", "json", "status", "nan-exp0", check=True).stdout
    assert "NaN" not in out and "Infinity" not in out
    metrics = json.loads(out)["metrics"]
    assert metrics["loss"]["count"] == 2 and metrics["loss"]["last"] == 0.5
    assert metrics["grad"]["last"] is None and metrics["acc"]["last"] is None
    assert run_status("nan")["counts"]["succeeded"] == 2


def test_a_closed_pipe_does_not_stop_the_sweep(run_status, workdir, grid_env):
    (workdir / "s.py").write_text("import time\ntime.sleep(0.3)\n")
    command = (
        f"{sys.executable} -m gridrun run --name pipe --max_parallel 2 s.py "
        "--i 'range(6)' | head -c 1"
    )
    subprocess.run(command, shell=True, cwd=workdir, env=grid_env, capture_output=True)
    wait_until(lambda: run_status("pipe")["state"] != "running", what="the run pipe to end")
    assert run_status("pipe")["counts"]["succeeded"] == 6


def test_a_queued_experiment_of_a_driven_run_cannot_be_deleted(grid, run_status, workdir):
    (workdir / "s.py").write_text("import time\ntime.sleep(1)\n")
    grid("run", *words("--detach --name dq --max_parallel 1 s.py --i range(3)"), check=True)
    wait_until(lambda: run_status("dq")["counts"]["running"] == 1, what="dq-exp0 to run")
    refused = grid("delete", "experiment", "dq-exp2")
    assert refused.returncode == 2 and "grid stop experiment dq-exp2" in refused.stderr
    wait_until(lambda: run_status("dq")["state"] != "running", what="the run dq to end")
    assert run_status("dq")["counts"]["succeeded"] == 3


def test_a_stop_kills_what_ignores_sigterm_in_the_group(grid, workdir):
    (workdir / "stub.sh").write_text(
        "python3 -c 'import signal, time, os; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        ' open("child.pid", "w").write(str(os.getpid())); time.sleep(60)\' &\n'
        "sleep 60\n"
    )
    result = grid("run", "--name", "stub", "--timeout", "1s", "--grace_period", "1s", "stub.sh")
    assert result.returncode == 1
    child = int((workdir / "child.pid").read_text())
    wait_until(lambda: not process_alive(child), 5, what="the child that ignores SIGTERM to die")


def test_killing_the_drivers_group_kills_its_experiments(grid_background, run_status, workdir):
    (workdir / "s.py").write_text(
        "import os, time\nopen(f'pid{os.getpid()}', 'w').close()\ntime.sleep(60)\n"
    )
    driver = grid_background("run", *words("--name grp --grace_period 1s s.py --i"), "[1, 2]")
    wait_until(lambda: len(list(workdir.glob("pid*"))) == 2, what="both experiments to start")
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    pids = [int(p.name[3:]) for p in workdir.glob("pid*")]
    wait_until(
        lambda: not any(process_alive(pid) for pid in pids), 10, what="the experiments to die"
    )
    assert run_status("grp")["state"] == "lost"


def test_only_one_driver_takes_over_a_run(tmp_path: Path):
    store = SQLiteStore(tmp_path / "gridrun.db")
    run = store.create_run(
        NewRun("r", [], "t.py", [], {}, "grid_search", 1, None, {}, "/"),
        [NewExperiment(0, "r-exp0", {}, [], [])],
        ["/log"],
        0.0,
    )
    dead = Driver(1, "h", "1")
    store.claim_run(run.id, dead, 1.0)
    first, second = Driver(2, "h", "2"), Driver(3, "h", "3")
    assert store.take_over(run.id, dead, first, 2.0) is True
    assert store.take_over(run.id, dead, second, 2.0) is False
    assert store.get_run_by_id(run.id).driver == first


def test_relative_home_gives_absolute_paths(grid, run_status, workdir, grid_env):
    (workdir / "chd.py").write_text(
        "import os, gridrun\n"
        "os.chdir('/')\n"
        "gridrun.log(loss=1.0)\n"
        "print(os.environ['GRID_METRICS_FILE'])\n"
    )
    env = {**grid_env, "GRIDRUN_HOME": "relhome"}
    result = grid("run", "--name", "rel", "chd.py", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    data = run_status("rel-exp0", env=env)
    assert os.path.isabs(data["log_path"]) and data["metrics"]["loss"]["last"] == 1.0


def test_bad_names_and_paths_are_clean_errors(grid, run_status, workdir, tmp_path):
    (workdir / "t.py").write_text("")
    grid("run", "--name", "precious", "t.py", check=True)
    empty = grid("delete", "run", "")
    assert empty.returncode == 2 and "empty" in empty.stderr
    assert run_status("precious")["state"] == "succeeded"
    for args in (
        ["run", ""],
        ["run", "."],
        ["run", "--python", "/no/such/python", "t.py"],
        ["run", "--cpus", "nan", "t.py"],
        ["history", "--limit", "0"],
        ["export", "precious", "--output_file", str(tmp_path / "no/such/dir/x.csv")],
    ):
        result = grid(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    home_file = tmp_path / "a-file"
    home_file.write_text("")
    broken = grid("history", env={**os.environ, "GRIDRUN_HOME": str(home_file)})
    assert broken.returncode == 2 and "cannot open the store" in broken.stderr
