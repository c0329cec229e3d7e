"""End-to-end: real sweeps of real scripts through the CLI, inspected through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until, words

PROBE = """\
import json, os, sys, time
args = sys.argv[1:]
record = {
    "args": args,
    "pid": os.getpid(),
    "pgid": os.getpgid(0),
    "cwd": os.getcwd(),
    "start": time.time(),
    "env": {k: v for k, v in os.environ.items()
            if k.startswith("GRID_") or k in ("CUDA_VISIBLE_DEVICES", "PYTHONUNBUFFERED",
                                              "OMP_NUM_THREADS")},
}
sleep = float(args[args.index("--sleep") + 1]) if "--sleep" in args else 0.0
time.sleep(sleep)
record["end"] = time.time()
with open(os.path.join(os.environ["PROBE_DIR"], os.environ["GRID_EXPERIMENT_NAME"]), "w") as f:
    json.dump(record, f)
print("probe done", " ".join(args))
code = int(args[args.index("--exit") + 1]) if "--exit" in args else 0
sys.exit(code)
"""


@pytest.fixture
def probe(workdir: Path, grid_env: dict[str, str], tmp_path: Path):
    """A script that records what it saw (args, env, cwd, times) into PROBE_DIR."""
    (workdir / "probe.py").write_text(PROBE)
    probe_dir = tmp_path / "probes"
    probe_dir.mkdir()
    grid_env["PROBE_DIR"] = str(probe_dir)

    def seen() -> dict[str, dict]:
        return {p.name: json.loads(p.read_text()) for p in probe_dir.iterdir()}

    return seen


def test_a_sweep_runs_in_parallel_and_is_recorded(grid, run_status, probe, workdir, grid_env):
    options = words("--name par --max_parallel 3 probe.py --sleep 1 --lr")
    result = grid("run", *options, "[0.1, 0.01, 1e-3]", "pos")
    assert result.returncode == 0, result.stderr
    seen = probe()
    assert sorted(seen) == ["par-exp0", "par-exp1", "par-exp2"]
    # They overlapped in time: each started before any other ended.
    latest_start = max(r["start"] for r in seen.values())
    earliest_end = min(r["end"] for r in seen.values())
    assert latest_start < earliest_end
    assert [seen[f"par-exp{i}"]["args"] for i in range(3)] == [
        ["--sleep", "1", "--lr", v, "pos"] for v in ("0.1", "0.01", "1e-3")
    ]
    for index in range(3):
        record = seen[f"par-exp{index}"]
        assert record["cwd"] == str(workdir)
        assert record["pgid"] == record["pid"], "each experiment leads its own process group"
        env = record["env"]
        home = Path(grid_env["GRIDRUN_HOME"])
        folder = home / "runs" / "par" / f"par-exp{index}"
        assert env["GRID_RUN_NAME"] == "par"
        assert env["GRID_EXPERIMENT_NAME"] == f"par-exp{index}"
        assert env["GRID_EXPERIMENT_ID"] == str(index)
        assert env["GRID_ARTIFACTS_DIR"] == str(folder / "artifacts")
        assert env["GRID_METRICS_FILE"] == str(folder / "metrics.jsonl")
        assert Path(env["GRID_ARTIFACTS_DIR"]).is_dir()
        assert env["CUDA_VISIBLE_DEVICES"] == ""
        assert (folder / "stdout.log").read_text().startswith("probe done --sleep 1 --lr")

    run = run_status("par")
    assert run["state"] == "succeeded"
    assert run["counts"]["succeeded"] == 3
    assert run["seed"] >= 0 and run["strategy"] == "grid_search"
    assert run["command"][:4] == ["grid", "run", "--name", "par"]
    assert run["cwd"] == str(workdir)
    assert run["space"] == {"--lr": "[0.1, 0.01, 1e-3]"}
    assert run["options"]["max_parallel"] == 3
    for index, experiment in enumerate(run["experiments"]):
        assert experiment["state"] == "succeeded"
        assert experiment["exit_code"] == 0
        assert experiment["attempts"] == 1
        assert experiment["command"][:2] == [sys.executable, "probe.py"]
        assert experiment["params"] == {"--lr": ["0.1", "0.01", "1e-3"][index]}
        assert experiment["duration_s"] >= 1.0
        assert experiment["started_at"] and experiment["ended_at"]


def test_fake_gpus_are_distinct_per_experiment(grid, run_status, probe, grid_env):
    grid_env["CUDA_VISIBLE_DEVICES"] = "0,1,2,3"
    result = grid(
        "run", "--name", "gpu", "--gpus", "1", "probe.py", "--sleep", "0.5", "--i", "range(8)"
    )
    assert result.returncode == 0, result.stderr
    seen = probe()
    intervals = [(r["start"], r["end"], r["env"]["CUDA_VISIBLE_DEVICES"]) for r in seen.values()]
    assert all(gpu in {"0", "1", "2", "3"} for *_, gpu in intervals)
    for i, (start, end, gpu) in enumerate(intervals):
        for other_start, other_end, other_gpu in intervals[i + 1 :]:
            if other_start < end and start < other_end:
                assert gpu != other_gpu, "two experiments shared a GPU at the same time"
    assert max(sum(1 for s, e, _ in intervals if s <= t < e) for t, _, _ in intervals) <= 4
    status = run_status("gpu")
    assert {e["gpus"] for e in status["experiments"]} <= {"0", "1", "2", "3"}


def test_two_gpus_each_and_fractional_gpus(grid, probe, grid_env):
    grid_env["CUDA_VISIBLE_DEVICES"] = "4,5,6,7"
    grid("run", *words("--name two --gpus 2 probe.py --i range(2) --sleep 0.5"), check=True)
    gpus = [set(r["env"]["CUDA_VISIBLE_DEVICES"].split(",")) for r in probe().values()]
    assert all(len(g) == 2 for g in gpus) and not gpus[0] & gpus[1]
    result = grid(
        "run", *words("--name half --gpus 0.5 --max_parallel 8 probe.py --i range(8) --sleep 0.5")
    )
    assert result.returncode == 0, result.stderr
    half = [r for name, r in probe().items() if name.startswith("half")]
    assert {r["env"]["CUDA_VISIBLE_DEVICES"] for r in half} <= {"4", "5", "6", "7"}


def test_too_many_gpus_is_an_error_before_anything_is_recorded(grid, grid_env, workdir):
    (workdir / "t.py").write_text("")
    grid_env["CUDA_VISIBLE_DEVICES"] = "0"
    result = grid("run", "--gpus", "2", "t.py", "--a", "[1, 2]")
    assert result.returncode == 2
    assert "--gpus 2" in result.stderr and "1 GPU" in result.stderr
    history = json.loads(grid("--output", "json", "history", check=True).stdout)
    assert history["runs"] == []


def test_failures_are_recorded_and_the_sweep_goes_on(grid, run_status, probe):
    result = grid("run", "--name", "mix", "probe.py", "--exit", "[0, 3, 0]")
    assert result.returncode == 1
    assert "mix-exp1" in result.stdout and "exit code 3" in result.stdout
    assert "probe done --exit 3" in result.stdout  # the last lines of its log
    assert "grid resume mix" in result.stdout
    run = run_status("mix")
    assert run["state"] == "failed"
    assert [e["state"] for e in run["experiments"]] == ["succeeded", "failed", "succeeded"]
    assert run["experiments"][1]["exit_code"] == 3


def test_a_crash_keeps_the_last_lines_of_the_log(grid, run_status, workdir):
    (workdir / "crash.py").write_text(
        "import os, signal, sys\n"
        "for i in range(1000):\n    print('line', i)\n"
        "sys.stderr.write('last words\\n')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = grid("run", "--name", "crash", "crash.py")
    assert result.returncode == 1
    log = grid("logs", "crash-exp0", check=True).stdout.splitlines()
    assert log[:2] == ["line 0", "line 1"]
    assert log[-2:] == ["line 999", "last words"]
    experiment = run_status("crash")["experiments"][0]
    assert experiment["state"] == "failed" and experiment["signal"] == 9
    assert experiment["exit_code"] is None


def test_logs_tail_and_follow_while_running(grid, grid_background, run_status, workdir):
    (workdir / "slow.py").write_text(
        "import time\nfor i in range(6):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n"
    )
    driver = grid_background("run", "--name", "follow", "slow.py")

    def follow_exp0_runs() -> bool:
        run = run_status("follow", check=False)
        return run is not None and run["experiments"][0]["state"] == "running"

    try:
        wait_until(follow_exp0_runs, what="follow-exp0 to run")
        running = grid("status", check=True).stdout
        assert "follow" in running
        followed = grid("logs", "follow-exp0", "-f", check=True, timeout=30).stdout
        assert followed.splitlines() == [f"tick {i}" for i in range(6)]
    finally:
        assert driver.wait(timeout=30) == 0, driver.output()
    assert grid("logs", "follow-exp0", "-l", "2", check=True).stdout == "tick 4\ntick 5\n"
    assert grid("logs", "exp0", "--lines", "1", check=True).stdout == "tick 5\n"
    lines = grid("--output", "json", "logs", "follow-exp0", "-l", "1", check=True).stdout
    assert json.loads(lines) == {"experiment": "follow-exp0", "line": "tick 5"}


def test_names_prefixes_and_short_names(grid, run_status, workdir):
    (workdir / "t.py").write_text("print('hi')\n")
    grid("run", "--name", "alpha-one", "t.py", "--a", "[1, 2]", check=True)
    grid("run", "--name", "alpha-two", "t.py", check=True)
    assert run_status("alpha-o")["name"] == "alpha-one"
    assert grid("logs", "alpha-one-exp1", check=True).stdout == "hi\n"
    assert grid("logs", "one-exp1", check=True).stdout == "hi\n"
    ambiguous = grid("status", "alpha")
    assert ambiguous.returncode == 2 and "alpha-one" in ambiguous.stderr
    assert "alpha-two" in ambiguous.stderr
    assert grid("logs", "exp0").returncode == 2  # two runs have an exp0
    missing = grid("status", "nope")
    assert missing.returncode == 2 and "no experiment named 'nope'" in missing.stderr
    experiment = run_status("two-exp0")
    assert experiment["name"] == "alpha-two-exp0" and experiment["state"] == "succeeded"


def test_history_and_status_without_runs_in_progress(grid, workdir):
    assert "no runs yet" in grid("history", check=True).stdout
    (workdir / "t.py").write_text("")
    grid("run", "--name", "h1", "t.py", check=True)
    grid("run", "--name", "h2", "t.py", "--x", "[1, 2]", check=True)
    history = json.loads(grid("--output", "json", "history", check=True).stdout)
    assert [r["name"] for r in history["runs"]] == ["h2", "h1"]
    assert history["runs"][0]["counts"]["succeeded"] == 2
    table = grid("history", check=True).stdout
    assert "h1" in table and "h2" in table and "succeeded" in table
    assert "no runs in progress" in grid("status", check=True).stdout
    assert json.loads(grid("--output", "json", "status", check=True).stdout) == {"runs": []}


def test_delete_removes_records_and_files(grid, run_status, workdir, grid_env):
    (workdir / "t.py").write_text("print('x')\n")
    grid("run", "--name", "gone", "t.py", "--a", "[1, 2, 3]", check=True)
    home = Path(grid_env["GRIDRUN_HOME"])
    assert (home / "runs" / "gone" / "gone-exp1").is_dir()
    grid("delete", "experiment", "gone-exp1", check=True)
    assert not (home / "runs" / "gone" / "gone-exp1").exists()
    run = run_status("gone")
    assert [e["name"] for e in run["experiments"]] == ["gone-exp0", "gone-exp2"]
    deleted = json.loads(grid("--output", "json", "delete", "run", "gone", check=True).stdout)
    assert deleted == {"deleted": ["gone"]}
    assert not (home / "runs" / "gone").exists()
    assert grid("status", "gone").returncode == 2


def test_stop_a_detached_run_and_resume_it(grid, run_status, workdir):
    (workdir / "wait.py").write_text(
        "import os, sys, time\n"
        "if not os.path.exists('go'):\n    time.sleep(60)\n"
        "print('finished', sys.argv[1:])\n"
    )
    options = words("--detach --name bg --max_parallel 2 --grace_period 2s")
    out = grid("run", *options, "wait.py", "--i", "range(5)", check=True).stdout
    assert "bg" in out and "grid status bg" in out
    wait_until(lambda: run_status("bg")["counts"]["running"] >= 2, what="two experiments to run")
    assert "bg" in grid("status", check=True).stdout
    stopped = grid("stop", "run", "bg", check=True)
    assert "stop requested" in stopped.stdout
    wait_until(lambda: run_status("bg")["state"] != "running", what="the run bg to stop")
    run = run_status("bg")
    assert run["state"] == "stopped"
    assert run["counts"]["stopped"] == 5
    (workdir / "go").write_text("")
    resumed = grid("resume", "bg", timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    run = run_status("bg")
    assert run["state"] == "succeeded" and run["counts"]["succeeded"] == 5
    assert "finished ['--i', '4']" in grid("logs", "bg-exp4", check=True).stdout
    again = grid("resume", "bg", check=True)
    assert "nothing to resume" in again.stdout


def test_stop_one_experiment(grid, grid_background, run_status, workdir):
    (workdir / "wait.py").write_text("import sys, time\ntime.sleep(float(sys.argv[2]))\n")
    driver = grid_background("run", *words("--name one --grace_period 1s wait.py --t"), "[30, 1]")

    def both_run() -> bool:
        run = run_status("one", check=False)
        return run is not None and run["counts"]["running"] >= 2

    wait_until(both_run, what="both experiments of one to run")
    grid("stop", "experiment", "one-exp0", check=True)
    assert driver.wait(timeout=30) == 1
    run = run_status("one")
    assert [e["state"] for e in run["experiments"]] == ["stopped", "succeeded"]
    assert run["experiments"][0]["reason"] == "stopped by grid stop"


def test_errors_before_launch_record_nothing(grid, workdir):
    missing = grid("run", "nothere.py", "--a", "[1, 2]")
    assert missing.returncode == 2 and "script not found: nothere.py" in missing.stderr
    command = grid("run", "--", "no-such-program-xyz", "--a", "1")
    assert command.returncode == 2 and "command not found" in command.stderr
    bad = grid("run", "--timeout", "soon", "x.py")
    assert bad.returncode == 2 and "--timeout 'soon'" in bad.stderr
    assert json.loads(grid("--output", "json", "history", check=True).stdout)["runs"] == []


def test_a_run_name_cannot_be_reused(grid, workdir):
    (workdir / "t.py").write_text("")
    grid("run", "--name", "same", "t.py", check=True)
    again = grid("run", "--name", "same", "t.py")
    assert again.returncode == 2 and "exists" in again.stderr and "grid resume same" in again.stderr


def test_git_commit_and_dirtiness_are_recorded(grid, run_status, workdir, grid_env):
    def git(*args: str) -> None:
        subprocess.run(
            ["git", *args],
            cwd=workdir,
            check=True,
            capture_output=True,
            env={
                **grid_env,
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@t",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@t",
            },
        )

    (workdir / "t.py").write_text("print(1)\n")
    git("init", "-q")
    git("add", "t.py")
    git("commit", "-qm", "first")
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=workdir, capture_output=True, text=True
    ).stdout.strip()
    grid("run", "--name", "clean", "t.py", check=True)
    (workdir / "t.py").write_text("print(2)\n")
    grid("run", "--name", "dirty", "t.py", check=True)
    clean, dirty = run_status("clean"), run_status("dirty")
    assert clean["git_commit"] == commit and clean["git_dirty"] is False
    assert dirty["git_commit"] == commit and dirty["git_dirty"] is True


def test_the_store_is_sqlite_in_wal_mode_with_a_schema_version(grid, workdir, grid_env):
    import sqlite3

    (workdir / "t.py").write_text("")
    grid("run", "--name", "s", "t.py", check=True)
    database = Path(grid_env["GRIDRUN_HOME"]) / "gridrun.db"
    connection = sqlite3.connect(database)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA user_version").fetchone()[0] >= 1
    connection.execute("PRAGMA user_version = 999")
    connection.commit()
    connection.close()
    newer = grid("history")
    assert newer.returncode != 0 and "newer" in newer.stderr and "Traceback" not in newer.stderr


def test_json_output_of_a_run(grid, workdir):
    (workdir / "t.py").write_text("")
    result = grid("--output", "json", "run", "--name", "js", "t.py", "--a", "[1, 2]")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["name"] == "js" and data["state"] == "succeeded"
    assert [e["state"] for e in data["experiments"]] == ["succeeded", "succeeded"]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
def test_python_script_runs_under_grids_interpreter(grid, run_status, probe, workdir):
    grid("run", "--name", "py", "probe.py", check=True)
    assert run_status("py")["experiments"][0]["command"][0] == sys.executable
