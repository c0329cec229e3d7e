"""Grid config files, actions, artifacts, isolated experiments and auto-resume, end to end."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import wait_until, words

GRID_DOCS_CONFIG = """\
compute:
  provider:
    credentials: cc-wv4l9
    region: us-east-1
    vendor: aws

  train:
    cpus: 1
    gpus: 0
    instance: t2.xlarge

    environment:
      WEBHOOK_URL: https://hooks.example.com/grid

    # Actions need to be passed as one command
    # per line.
    actions:
      on_build_start:
        - apt-get install wget -y
        - pip install tqdm

      on_experiment_start:
        - echo before ${GRID_EXPERIMENT_NAME} ${WEBHOOK_URL}

      on_experiment_end:
        - echo after ${GRID_EXPERIMENT_ID} ${MISSING:-fallback}
hyper_params:
  settings:
    strategy: random_search
    strategy_options:
      num_trials: 2
      seed: 42
  params:
    learning_rate: uniform(0.001, 0.008, 20)
    gamma: 0.234
    layers: [0.1, 0.2]
    name: two words
    verbose: null
"""

ECHO = "import sys\nprint('args', sys.argv[1:])\n"


def running(run_status, name: str) -> int:
    """How many experiments of the run `name` are running; 0 before it is recorded."""
    run = run_status(name, check=False)
    return run["counts"]["running"] if run else 0


@pytest.fixture
def config(workdir: Path) -> Path:
    (workdir / "echo.py").write_text(ECHO)
    path = workdir / "grid.yml"
    path.write_text(GRID_DOCS_CONFIG)
    return path


def test_the_config_file_of_grids_documentation(grid, config):
    result = grid("--output", "json", "run", "--dry_run", "--config", "grid.yml", "echo.py")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["strategy"] == "random_search" and plan["seed"] == 42
    assert plan["num_experiments"] == 2  # num_trials from the file is honoured
    notices = [line for line in result.stderr.splitlines() if "Grid's cloud" in line]
    assert len(notices) == 1
    for key in ("compute.provider", "compute.train.instance", "on_build_start"):
        assert key in notices[0]
    for experiment in plan["experiments"]:
        args = experiment["args"]
        assert args[args.index("--gamma") + 1] == "0.234"
        assert args[args.index("--name") + 1] == "two words"  # one whole argument
        assert args[args.index("--layers") + 1] in ("0.1", "0.2")  # a YAML list sweeps
        assert "--verbose" in args and args[-1] == "--verbose"
        assert 0.001 <= float(args[args.index("--learning_rate") + 1]) < 0.008


def test_the_command_line_wins_over_the_file(grid, config):
    plan = json.loads(
        grid(
            "--output",
            "json",
            "run",
            "--dry_run",
            "--config",
            "grid.yml",
            "--strategy",
            "grid_search",
            "--seed",
            "7",
            "echo.py",
            "--gamma",
            "0.5",
            check=True,
        ).stdout
    )
    assert plan["strategy"] == "grid_search" and plan["seed"] == 7
    assert plan["num_experiments"] == 40  # 20 draws x 2 layers
    assert all(e["args"][:2] == ["--gamma", "0.5"] for e in plan["experiments"])
    assert all(e["args"].count("--gamma") == 1 for e in plan["experiments"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("compute:\n  train:\n    gpu: 1\n", "unknown key 'compute.train.gpu'"),
        ("compute:\n  trains: {}\n", "valid keys under compute: provider, train"),
        (
            "hyper_params:\n  settings:\n    strategy_options:\n      num_trial: 3\n",
            "unknown key 'hyper_params.settings.strategy_options.num_trial'",
        ),
        ("compute:\n  train:\n    cpus: many\n", "compute.train.cpus must be"),
        ("compute: [1, 2\n", "line 2, column 1"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_bad_config_files(grid, workdir, text, message):
    (workdir / "echo.py").write_text(ECHO)
    (workdir / "bad.yml").write_text(text)
    result = grid("run", "--config", "bad.yml", "echo.py")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert "bad.yml" in result.stderr
    assert json.loads(grid("--output", "json", "history", check=True).stdout)["runs"] == []


def test_actions_run_around_each_experiment(grid, config, workdir):
    result = grid("run", "--name", "act", "--config", "grid.yml", "echo.py")
    assert result.returncode == 0, result.stdout + result.stderr
    log = grid("logs", "act-exp1", check=True).stdout.splitlines()
    assert log[1] == "before act-exp1 https://hooks.example.com/grid"
    assert log[2].startswith("args ['--learning_rate'")
    assert log[-1] == "after 1 fallback"


def test_a_failing_start_action_fails_the_experiment_without_running_it(grid, run_status, workdir):
    (workdir / "mark.py").write_text("open('ran', 'w').close()\n")
    (workdir / "fail.yml").write_text(
        "compute:\n  train:\n    actions:\n"
        "      on_experiment_start:\n        - python3 -c 'import sys; sys.exit(4)'\n"
        "      on_experiment_end:\n        - echo cleanup ${GRID_EXPERIMENT_NAME}\n"
    )
    result = grid("run", "--name", "fails", "--config", "fail.yml", "mark.py")
    assert result.returncode == 1
    assert not (workdir / "ran").exists()
    experiment = run_status("fails")["experiments"][0]
    assert experiment["state"] == "failed" and experiment["exit_code"] == 4
    assert "on_experiment_start action" in experiment["reason"]
    log = grid("logs", "fails-exp0", check=True).stdout
    assert "the script does not run" in log and log.endswith("cleanup fails-exp0\n")


def test_end_actions_run_after_a_failing_script(grid, run_status, workdir):
    (workdir / "boom.py").write_text("raise SystemExit(3)\n")
    (workdir / "end.yml").write_text(
        "compute:\n  train:\n    actions:\n      on_experiment_end:\n        - echo end\n"
    )
    result = grid("run", "--name", "boom", "--config", "end.yml", "boom.py")
    assert result.returncode == 1
    assert run_status("boom")["experiments"][0]["exit_code"] == 3
    assert grid("logs", "boom-exp0", check=True).stdout.endswith("end\n")


def test_artifacts_are_listed_and_copied(grid, run_status, workdir, tmp_path):
    (workdir / "art.py").write_text(
        "import os, sys\n"
        "root = os.environ['GRID_ARTIFACTS_DIR']\n"
        "os.makedirs(os.path.join(root, 'ckpt'))\n"
        "open(os.path.join(root, 'ckpt', 'model.pt'), 'w').write('weights' + sys.argv[2])\n"
        "open(os.path.join(root, 'notes.txt'), 'w').write('hello')\n"
    )
    grid("run", "--name", "art", "art.py", "--i", "[1, 22]", check=True)
    shown = grid("status", "art-exp1", check=True).stdout
    assert "ckpt/model.pt (9 bytes)" in shown and "notes.txt (5 bytes)" in shown
    listed = run_status("art-exp1")["artifacts"]
    assert listed == [{"path": "ckpt/model.pt", "size": 9}, {"path": "notes.txt", "size": 5}]
    copied = grid("artifacts", "art", check=True).stdout
    assert "copied 4 file(s)" in copied
    assert (workdir / "grid_artifacts/art-exp1/ckpt/model.pt").read_text() == "weights22"
    assert (workdir / "grid_artifacts/art-exp0/notes.txt").read_text() == "hello"
    out = tmp_path / "out"
    data = json.loads(
        grid(
            "--output",
            "json",
            "artifacts",
            "art-exp0",
            "-m",
            r"\.pt$",
            "--download_dir",
            str(out),
            check=True,
        ).stdout
    )
    assert [a["path"] for a in data["artifacts"]] == ["ckpt/model.pt"]
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["model.pt"]
    bad = grid("artifacts", "art", "-m", "(")
    assert bad.returncode == 2 and "regular expression" in bad.stderr


def test_isolated_experiments_see_the_code_as_it_was(
    grid, grid_background, run_status, workdir, grid_env
):
    (workdir / "helper.txt").write_text("v1")
    big = workdir / "data.bin"
    big.write_bytes(os.urandom(2 << 20))
    (workdir / "iso.py").write_text(
        "import os, sys, time\n"
        "time.sleep(float(sys.argv[2]))\n"
        "open('model.pt', 'w').write(os.environ['GRID_EXPERIMENT_NAME'])\n"
        "print('helper', open('helper.txt').read(), 'cwd', os.getcwd())\n"
    )
    driver = grid_background(
        "run", "--name", "iso", "--isolate", "--max_parallel", "3", "iso.py", "--t", "[1, 1.5, 2]"
    )
    home = Path(grid_env["GRIDRUN_HOME"])
    wait_until(
        lambda: list((home / "runs").glob("iso/iso-exp*/workdir")),
        what="an experiment's copy of the code",
    )
    (workdir / "helper.txt").write_text("v2 edited mid-run")
    (workdir / "iso.py").write_text("raise SystemExit('the edited code ran')\n")
    assert driver.wait(timeout=60) == 0, driver.output()
    for index in range(3):
        name = f"iso-exp{index}"
        log = grid("logs", name, check=True).stdout
        assert log.startswith("helper v1 cwd ") and f"runs/iso/{name}/workdir" in log
        assert (home / "runs/iso" / name / "workdir/model.pt").read_text() == name
        artifacts = run_status(name)["artifacts"]
        assert {"path": "model.pt", "size": len(name)} in artifacts
        assert not any(a["path"] == "helper.txt" for a in artifacts)
        copy = home / "runs/iso" / name / "workdir/data.bin"
        assert copy.stat().st_ino == (home / "runs/iso/snapshot/data.bin").stat().st_ino
    assert not (workdir / "model.pt").exists()


CHECKPOINTING = """\
import json, os, signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
state = json.load(open('ckpt.json')) if os.path.exists('ckpt.json') else {'step': 0, 'total': 0}
while state['step'] < 30:
    if stop:
        json.dump(state, open('ckpt.json', 'w'))
        print('checkpointed at', state['step'], flush=True)
        sys.exit(0)
    state['step'] += 1
    state['total'] += state['step'] * int(sys.argv[2])
    time.sleep(0.05)
print(f"step={state['step']} total={state['total']}", flush=True)
"""


def test_auto_resume_continues_from_the_checkpoint(grid, grid_background, run_status, workdir):
    (workdir / "ckpt.py").write_text(CHECKPOINTING)
    options = words("--name pre --isolate --auto_resume --grace_period 5s")
    driver = grid_background("run", *options, "ckpt.py", "--k", "[1, 2]")
    wait_until(lambda: running(run_status, "pre") == 2, what="both experiments of pre to run")
    time.sleep(0.4)  # not a wait for anything: lets the experiments take a few steps
    driver.send_signal(signal.SIGTERM)
    assert driver.wait(timeout=30) == 130, driver.output()
    run = run_status("pre")
    assert [e["state"] for e in run["experiments"]] == ["preempted", "preempted"], run
    assert "checkpointed at" in grid("logs", "pre-exp0", check=True).stdout
    resumed = grid("resume", "pre", timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = run_status("pre")
    assert [e["state"] for e in run["experiments"]] == ["succeeded", "succeeded"]
    # The same result as an uninterrupted run: sum of steps 1..30 times k.
    for index, k in enumerate((1, 2)):
        last = grid("logs", f"pre-exp{index}", "-l", "1", check=True).stdout.strip()
        assert last == f"step=30 total={465 * k}"
        assert run["experiments"][index]["metrics"]["total"]["last"] == 465 * k


def test_without_auto_resume_sigterm_stops(grid_background, run_status, workdir):
    (workdir / "ckpt.py").write_text(CHECKPOINTING)
    driver = grid_background("run", "--name", "nopre", "ckpt.py", "--k", "1")
    wait_until(lambda: running(run_status, "nopre") == 1, what="the experiment of nopre to run")
    driver.send_signal(signal.SIGTERM)
    assert driver.wait(timeout=30) == 130
    assert run_status("nopre")["experiments"][0]["state"] == "stopped"
