"""The CLI's surface: entry points, help, options, errors, and the dry run's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridrun import __version__


def test_version_everywhere(grid, grid_env, workdir):
    assert grid("version", check=True).stdout.strip() == f"gridrun {__version__}"
    assert grid("--version", check=True).stdout.strip() == f"gridrun {__version__}"
    payload = json.loads(grid("--output", "json", "version", check=True).stdout)
    assert payload["version"] == __version__
    bindir = Path(sys.executable).parent
    for script in ("grid", "gridrun"):
        out = subprocess.run(
            [str(bindir / script), "version"], capture_output=True, text=True, env=grid_env
        )
        assert out.stdout.strip() == f"gridrun {__version__}", out.stderr


def test_help_does_not_import_heavy_modules(grid_env):
    code = (
        "import sys\n"
        "from gridrun.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'rich', 'yaml', 'ray', 'optuna') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=grid_env)
    assert "Usage: grid [OPTIONS] COMMAND" in out.stdout
    assert "HEAVY []" in out.stdout, out.stdout


def test_help_lists_commands(grid):
    out = grid("--help", check=True).stdout
    assert "run" in out and "version" in out
    run_help = grid("run", "--help", check=True).stdout
    for option in ("--strategy", "--num_trials", "--seed", "--name", "--dry_run", "--python"):
        assert option in run_help


def test_options_accept_hyphens(dry_run):
    plan = dry_run(
        "--strategy",
        "random_search",
        "--num-trials",
        "2",
        "--seed",
        "5",
        "main.py",
        "--x",
        "[1, 2, 3]",
    )
    assert plan["num_experiments"] == 2 and plan["seed"] == 5


def test_script_arguments_belong_to_the_script(dry_run):
    # --name, --seed and --config after SCRIPT are the script's, and the script's own name may
    # appear again among its arguments (Grid's CLI broke on both).
    plan = dry_run(
        "--name",
        "mine",
        "--seed",
        "3",
        "train.py",
        "--name",
        "[a, b]",
        "--seed",
        "9",
        "--config",
        "train.py",
        "train.py",
    )
    assert plan["run"] == "mine"
    assert plan["seed"] == 3
    assert [e["args"] for e in plan["experiments"]] == [
        ["--name", "a", "--seed", "9", "--config", "train.py", "train.py"],
        ["--name", "b", "--seed", "9", "--config", "train.py", "train.py"],
    ]
    assert plan["experiments"][0]["command"][:2] == [sys.executable, "train.py"]


def test_script_help_flag_goes_to_the_script(dry_run):
    plan = dry_run("main.py", "--help")
    assert plan["experiments"][0]["args"] == ["--help"]


def test_any_command_after_double_dash(dry_run, workdir):
    plan = dry_run("--", "julia", "x.jl", "--lr", "[1, 2]")
    assert [e["command"] for e in plan["experiments"]] == [
        ["julia", "x.jl", "--lr", "1"],
        ["julia", "x.jl", "--lr", "2"],
    ]
    shell = dry_run("train.sh", "--lr=[1, 2]")
    assert [e["command"] for e in shell["experiments"]] == [
        ["bash", "train.sh", "--lr=1"],
        ["bash", "train.sh", "--lr=2"],
    ]
    executable = workdir / "run-me"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    assert dry_run("run-me")["experiments"][0]["command"] == ["./run-me"]
    assert dry_run("--python", "/opt/py/bin/python", "t.py")["experiments"][0]["command"] == [
        "/opt/py/bin/python",
        "t.py",
    ]


def test_json_contract_keys(dry_run):
    plan = dry_run("--name", "keys", "m.py", "--a", "[1, 2]", "--fixed", "3", "pos", "--flag")
    assert set(plan) == {"run", "strategy", "seed", "num_experiments", "experiments"}
    first = plan["experiments"][0]
    assert set(first) == {"name", "index", "params", "args", "command"}
    assert first == {
        "name": "keys-exp0",
        "index": 0,
        "params": {"--a": "1"},
        "args": ["--a", "1", "--fixed", "3", "pos", "--flag"],
        "command": [sys.executable, "m.py", "--a", "1", "--fixed", "3", "pos", "--flag"],
    }


def test_seed_is_drawn_recorded_and_printed(grid, dry_run):
    plan = dry_run("m.py", "--a", "uniform(0, 1, 2)")
    assert isinstance(plan["seed"], int)
    again = dry_run("--seed", str(plan["seed"]), "m.py", "--a", "uniform(0, 1, 2)")
    assert [e["args"] for e in again["experiments"]] == [e["args"] for e in plan["experiments"]]
    table = grid("run", "--dry_run", "--seed", "1234", "m.py", "--a", "[1, 2]", check=True)
    assert "seed 1234" in table.stdout


def test_table_dry_run(grid):
    out = grid(
        "run",
        "--dry_run",
        "--name",
        "tbl",
        "main.py",
        "--alpha",
        "[0.1, 0.2]",
        "--beta",
        "range(3)",
        check=True,
    ).stdout
    assert "tbl-exp0" in out and "tbl-exp5" in out
    assert "--alpha" in out and "--beta" in out
    assert "main.py --alpha 0.2 --beta 2" in out
    assert "6 experiments" in out
    assert "nothing is launched" in out


def test_table_elides_the_middle_of_a_long_run(grid):
    out = grid("run", "--dry_run", "--name", "big", "m.py", "--a", "range(1000)", check=True).stdout
    assert "big-exp0 " in out and "big-exp999 " in out
    assert "big-exp500 " not in out
    assert "950 more" in out
    assert "1,000 experiments" in out


def test_dry_run_launches_nothing(grid, workdir, grid_env):
    marker = workdir / "ran"
    script = workdir / "touch.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    grid("run", "--dry_run", "touch.py", "--a", "[1, 2]", check=True)
    assert not marker.exists()
    assert not Path(grid_env["GRIDRUN_HOME"]).exists()


@pytest.mark.parametrize(
    ("value", "column_text", "expected"),
    [
        ("uniform(1e-5, 1e-1", "column 19", "',' or ')'"),
        ("[1, 2", "unterminated list", "']'"),
        ("range(1, 10, 0)", "step must not be zero", "non-zero step"),
        ("foo(1, 2)", "unknown function 'foo'", "uniform"),
        ("__import__('os').getcwd()", "unknown function '__import__'", "loguniform"),
        ("gaussian(0, 1, 3)", "unknown function 'gaussian'", "normal"),
        ("uniform(1, 2)", "takes 3 arguments", "uniform(low"),
    ],
)
def test_malformed_value_is_one_clear_error(grid, workdir, value, column_text, expected):
    result = grid("run", "--dry_run", "main.py", "--epochs", "3", "--alpha", value)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.rstrip("\n").split("\n")
    assert lines[0].startswith("error: invalid value for --alpha at column ")
    assert column_text in lines[0] and expected in lines[0]
    assert lines[1] == f"  --alpha {value}"
    caret_column = lines[2].index("^")
    assert lines[2].strip() == "^"
    assert 2 + len("--alpha ") <= caret_column <= 2 + len("--alpha ") + len(value)
    assert list(workdir.iterdir()) == []


def test_caret_points_at_the_problem(grid):
    result = grid("run", "--dry_run", "main.py", "--lr", "[0.1,,0.2]")
    lines = result.stderr.split("\n")
    assert lines[1] == "  --lr [0.1,,0.2]"
    assert lines[1][lines[2].index("^")] == ","
    assert "column 6" in lines[0]


def test_debug_shows_the_traceback(grid, grid_env):
    env = {**grid_env, "GRIDRUN_DEBUG": "1"}
    result = grid("run", "--dry_run", "main.py", "--a", "[1", env=env)
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = grid("--debug", "run", "--dry_run", "main.py", "--a", "[1")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_strategy_errors(grid):
    result = grid("run", "--dry_run", "--strategy", "random_search", "m.py", "--a", "[1, 2]")
    assert result.returncode == 2 and "--num_trials" in result.stderr
    result = grid("run", "--dry_run", "--strategy", "bogus", "m.py")
    assert result.returncode == 2
    assert "grid_search, random_search, bayesian, none" in result.stderr
    result = grid("run", "--dry_run", "--seed", "-1", "m.py")
    assert result.returncode == 2 and "--seed" in result.stderr
    result = grid("run", "--dry_run", "--name", "../escape", "m.py")
    assert result.returncode == 2 and "invalid run name" in result.stderr
    result = grid("run", "--dry_run", "--unknown", "m.py")
    assert result.returncode == 2 and "--unknown" in result.stderr


def test_more_trials_than_combinations_warns_and_runs_the_grid(grid):
    result = grid(
        "--output",
        "json",
        "run",
        "--dry_run",
        "--strategy",
        "random_search",
        "--num_trials",
        "10",
        "m.py",
        "--a",
        "[1, 2, 3]",
        check=True,
    )
    assert json.loads(result.stdout)["num_experiments"] == 3
    assert "warning:" in result.stderr and "whole grid" in result.stderr


def test_strategy_none_passes_values_verbatim(dry_run):
    plan = dry_run("--strategy", "none", "m.py", "--a", "[1, 2]", "--b", "uniform(0, 1, 3)")
    assert plan["num_experiments"] == 1
    assert plan["experiments"][0]["args"] == ["--a", "[1, 2]", "--b", "uniform(0, 1, 3)"]
    assert plan["experiments"][0]["params"] == {}


def test_huge_random_search(dry_run):
    flags = [w for i in range(6) for w in (f"--p{i}", "range(1000)")]
    plan = dry_run(
        "--strategy", "random_search", "--num_trials", "1000", "--seed", "1", "m.py", *flags
    )
    assert plan["num_experiments"] == 1000
    rows = [tuple(int(e["params"][f"--p{i}"]) for i in range(6)) for e in plan["experiments"]]
    assert rows == sorted(set(rows))


def test_python_dash_m_entry_point(grid_env, workdir):
    out = subprocess.run(
        [sys.executable, "-m", "gridrun", "--help"],
        capture_output=True,
        text=True,
        env=grid_env,
        cwd=workdir,
    )
    assert out.returncode == 0 and "Usage:" in out.stdout


def test_broken_pipe_is_quiet(grid_env, workdir):
    command = (
        f"{sys.executable} -m gridrun --output json run --dry_run m.py --a 'range(100000)' "
        "| head -c 10"
    )
    out = subprocess.run(
        command, shell=True, capture_output=True, text=True, env=grid_env, cwd=workdir
    )
    assert "Traceback" not in out.stderr
    assert os.path.exists(workdir)
