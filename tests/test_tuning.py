"""Bayesian search, early stopping, --max_time and --stop_when: the rules as pure functions,
then real sweeps of real scripts through the CLI."""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import words
from gridrun.errors import UserError
from gridrun.spec.space import SearchSpace
from gridrun.tuning.dimensions import search_dimensions
from gridrun.tuning.pruning import AshaRule, MedianRule, make_rule
from gridrun.tuning.targets import Target

# -- the space ---------------------------------------------------------------------------------


def test_dimensions_of_each_supported_kind():
    space = SearchSpace.from_args(
        [
            "--lr",
            "loguniform(1e-4, 1e-1, 3)",
            "--opt",
            "[adam, sgd]",
            "--n",
            "range(10, 0, -3)",
            "--m",
            "uniform(0, 1, 2)",
            "--fixed",
            "7",
            "pos",
        ]
    )
    dimensions, notices = search_dimensions(space)
    kinds = {d.flag: (d.kind, d.low, d.high, d.step, d.log, d.choices) for d in dimensions}
    assert kinds == {
        "--lr": ("float", 1e-4, 1e-1, 1, True, ()),
        "--opt": ("categorical", 0.0, 0.0, 1, False, ("adam", "sgd")),
        "--n": ("int", 1, 10, 3, False, ()),
        "--m": ("float", 0.0, 1.0, 1, False, ()),
    }
    assert notices == (
        "bayesian searches the whole interval of --lr, --m: the count of draws is ignored",
    )
    assert space.args(["0.01", "sgd", "4", "0.5"]) == [
        "--lr",
        "0.01",
        "--opt",
        "sgd",
        "--n",
        "4",
        "--m",
        "0.5",
        "--fixed",
        "7",
        "pos",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--x", "normal(0, 1, 3)"], "--x: the bayesian strategy cannot search normal(0, 1, 3)"),
        (["--x", "randint(0, 9, 3)"], "cannot search randint"),
        (["--x", "3"], "needs at least one swept flag"),
    ],
)
def test_dimensions_that_cannot_be_searched(args, expected):
    with pytest.raises(UserError) as raised:
        search_dimensions(SearchSpace.from_args(args))
    assert expected in str(raised.value)
    assert "uniform(a, b, n)" in str(raised.value) or "swept flag" in str(raised.value)


# -- the pruning rules ---------------------------------------------------------------------------


def test_asha_promotes_the_leaders_of_each_rung_and_prunes_the_rest():
    rule = AshaRule("loss", "min", min_steps=1, factor=3)
    assert rule.report(0, 1, 1.5) is None  # alone at rung 0: goes on
    assert rule.report(0, 3, 0.8) is None
    decision = rule.report(1, 1, 1.9)  # worse than the only other one
    assert decision is not None and decision.step == 1 and decision.value == 1.9
    assert "not in the best 1 of the 2" in decision.reason
    assert rule.report(2, 1, 1.1) is None  # the new leader
    assert rule.report(2, 3, 0.4) is None
    for experiment, value in ((3, 1.2), (4, 1.3), (5, 1.4)):
        assert rule.report(experiment, 1, value) is not None
    # six values at rung 0 now: the best two go on; 1.15 is second best
    assert rule.report(6, 1, 1.15) is None


def test_asha_for_max_and_nan():
    rule = AshaRule("acc", "max")
    assert rule.report(0, 1, 0.5) is None
    assert rule.report(1, 1, 0.9) is None  # better (higher)
    assert rule.report(2, 1, 0.1) is not None
    assert "NaN" in rule.report(3, 1, math.nan).reason


def test_asha_skips_to_the_rung_a_late_report_reaches():
    rule = AshaRule("loss", "min")
    assert rule.report(0, 5, 1.0) is None  # steps 1 and 3 both passed: two rungs entered
    assert rule.reached[0] == 2 and rule.rungs == [[1.0], [1.0]]


def test_median_waits_for_startup_then_compares_with_finished_ones():
    rule = MedianRule("loss", "min", startup=2)
    for experiment, values in ((0, [1.0, 0.5]), (1, [2.0, 1.5])):
        for step, value in enumerate(values, start=1):
            assert rule.report(experiment, step, value) is None
        rule.finished(experiment, succeeded=True)
    assert rule.report(2, 1, 1.4) is None  # median at step 1 is 1.5
    decision = rule.report(3, 1, 1.6)
    assert decision is not None and "median 1.5 of 2 finished" in decision.reason
    rule.finished(4, succeeded=False)  # a failed one is no reference
    assert rule.completed == {0, 1}


def test_rules_rebuild_from_recorded_points_as_if_live():
    live, rebuilt = AshaRule("loss", "min"), AshaRule("loss", "min")
    curves = {0: [(1, 1.5), (3, 1.0), (9, 0.5)], 1: [(1, 1.2), (3, 0.7)]}
    for experiment, points in curves.items():
        for step, value in points:
            live.report(experiment, step, value)
        rebuilt.restore(experiment, points, finished=True)
    assert live.rungs == rebuilt.rungs and live.reached == rebuilt.reached


def test_no_rule_stops_an_experiment_where_a_finished_one_ended():
    """A metric printed once, at the end: after one experiment succeeded, none is stopped at
    (or beyond) its last step, where stopping would only throw the result away."""
    for rule in (AshaRule("loss", "min"), MedianRule("loss", "min", startup=1)):
        assert rule.report(0, 1, 0.5) is None
        rule.finished(0, succeeded=True)
        assert rule.report(1, 1, 0.9) is None, rule.name
    asha = AshaRule("loss", "min")
    asha.restore(0, [(1, 1.0), (3, 0.5), (9, 0.2)], finished=True)  # rebuilt: the same
    assert asha.horizon == 9
    assert asha.report(1, 1, 2.0) is not None  # before the end: still pruned


def test_a_retried_attempt_is_judged_afresh():
    median = MedianRule("loss", "min", startup=2)
    for experiment in (0, 1):
        for step, value in ((1, 1.0), (2, 0.5), (3, 0.4)):
            median.report(experiment, step, value)
        median.finished(experiment, succeeded=True)
    assert median.report(2, 1, 0.2) is None  # a lucky first attempt, which then crashes
    median.finished(2, succeeded=False)
    decision = median.report(2, 1, 3.0)  # its retry is far behind: its own values count
    assert decision is not None and "best loss so far 3" in decision.reason
    asha = AshaRule("loss", "min")
    assert asha.report(0, 1, 1.0) is None and asha.report(0, 3, 0.5) is None
    asha.finished(0, succeeded=False)
    assert asha.report(0, 1, 1.0) is None  # back at the first rung, as a new trial
    assert asha.rungs[0] == [1.0, 1.0] and asha.reached[0] == 1


def test_values_read_only_at_the_end_still_make_a_reference():
    """An experiment whose output is read only when it ended (a fast one) reported nothing
    live: the points it recorded, given with `finished`, make its curve all the same."""
    median = MedianRule("loss", "min", startup=1)
    median.finished(0, succeeded=True, points=[(1, 1.0), (2, 0.5)])
    assert median.completed == {0} and median.horizon == 2
    assert median.report(1, 1, 4.0) is not None


def test_make_rule_errors():
    with pytest.raises(UserError, match="needs --metric"):
        make_rule("asha", None, "min")
    with pytest.raises(UserError, match="expected one of median, asha"):
        make_rule("hyperband", "loss", "min")


# -- targets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "met"),
    [
        ("val_loss<0.1", 0.05, True),
        ("val_loss<0.1", 0.1, False),
        ("val_loss <= 0.1", 0.1, True),
        ("acc>=0.95", 0.95, True),
        ("acc>0.95", 0.95, False),
        ("acc>0.95", math.nan, False),
        ("loss<-1e-3", -0.01, True),
    ],
)
def test_targets(text, value, met):
    assert Target.parse(text).met(value) is met


@pytest.mark.parametrize(
    "text", ["loss=0.1", "loss<", "<0.1", "loss<abc", "loss<nan", "__import__('os')<1"]
)
def test_bad_targets(text):
    with pytest.raises(UserError, match="--stop_when"):
        Target.parse(text)


# -- real sweeps ---------------------------------------------------------------------------------

BRANIN = """\
import argparse, math
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--y", type=float)
parser.add_argument("--kind", default="a")
args = parser.parse_args()
b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
loss = (args.y - b * args.x ** 2 + c * args.x - 6) ** 2 + 10 * (1 - t) * math.cos(args.x) + 10
print(f"loss={loss + (0.5 if args.kind == 'b' else 0.0)}")
"""

BRANIN_SPACE = ("--x", "uniform(-5, 10, 1)", "--y", "uniform(0, 15, 1)", "--kind", "[a, b]")


def by_name(run: dict) -> dict[str, dict]:
    return {e["name"]: e for e in run["experiments"]}


def test_bayesian_sweep_records_values_as_experiments_start(grid, run_status, workdir):
    (workdir / "branin.py").write_text(BRANIN)
    result = grid(
        "run",
        *words("--name bo --strategy bayesian --num_trials 14"),
        *words("--seed 5 --metric loss --max_parallel 2"),
        "branin.py",
        *BRANIN_SPACE,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the count of draws is ignored") == 1
    run = run_status("bo")
    assert run["strategy"] == "bayesian" and run["counts"]["succeeded"] == 14
    for experiment in run["experiments"]:
        params = experiment["params"]
        assert -5 <= float(params["--x"]) <= 10 and 0 <= float(params["--y"]) <= 15
        assert params["--kind"] in ("a", "b")
        assert experiment["command"][-6:] == [
            "--x",
            params["--x"],
            "--y",
            params["--y"],
            "--kind",
            params["--kind"],
        ]
    points = {(e["params"]["--x"], e["params"]["--y"]) for e in run["experiments"]}
    assert len(points) == 14  # proposals while two run at once are not the same point
    best = json.loads(grid("--output", "json", "best", "bo", "--metric", "loss", check=True).stdout)
    assert best["value"] == min(e["metrics"]["loss"]["last"] for e in run["experiments"])


def test_bayesian_with_one_at_a_time_is_reproducible_from_its_seed(grid, run_status, workdir):
    (workdir / "branin.py").write_text(BRANIN)
    values = []
    for name in ("first", "second"):
        grid(
            "run",
            "--name",
            name,
            "--strategy",
            "bayesian",
            "--num_trials",
            "12",
            "--seed",
            "11",
            "--metric",
            "loss",
            "--max_parallel",
            "1",
            "branin.py",
            *BRANIN_SPACE,
            check=True,
            timeout=120,
        )
        experiments = sorted(run_status(name)["experiments"], key=lambda e: e["index"])
        values.append([e["params"] for e in experiments])
    assert values[0] == values[1]


def test_bayesian_errors(grid, workdir):
    (workdir / "branin.py").write_text(BRANIN)
    result = grid("run", "--strategy", "bayesian", "--num_trials", "3", "branin.py", *BRANIN_SPACE)
    assert result.returncode == 2 and "needs --metric NAME" in result.stderr
    result = grid("run", "--strategy", "bayesian", "--metric", "loss", "branin.py", *BRANIN_SPACE)
    assert result.returncode == 2 and "needs --num_trials N" in result.stderr
    result = grid(
        "run",
        *words("--strategy bayesian --num_trials 3 --metric loss"),
        "branin.py",
        "--x",
        "normal(0, 1, 3)",
    )
    assert result.returncode == 2
    assert "--x: the bayesian strategy cannot search normal(0, 1, 3); expected a list" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert json.loads(grid("--output", "json", "history", check=True).stdout) == {"runs": []}


def test_bayesian_without_optuna_says_how_to_install_it(grid, workdir, grid_env):
    (workdir / "branin.py").write_text(BRANIN)
    blocker = workdir / "blocker"
    blocker.mkdir()
    (blocker / "optuna.py").write_text("raise ImportError('no optuna here')\n")
    env = dict(grid_env, PYTHONPATH=str(blocker))
    result = grid(
        "run",
        *words("--name noopt --strategy bayesian --num_trials 2 --metric loss"),
        "branin.py",
        *BRANIN_SPACE,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'gridrun[bayes]'" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(grid("--output", "json", "history", check=True).stdout) == {"runs": []}


def test_bayesian_resume_continues_the_search(grid, run_status, workdir):
    """A run stopped after three experiments: resume reruns the stopped one with its values,
    proposes new values for those never started, and leaves the others alone."""
    (workdir / "branin.py").write_text(BRANIN)
    (workdir / "stopper.py").write_text(
        textwrap.dedent(
            f"""\
            import os, subprocess, sys, time
            if os.environ["GRID_EXPERIMENT_ID"] == "2" and os.path.exists("stop-now"):
                os.remove("stop-now")
                subprocess.run([{sys.executable!r}, "-m", "gridrun", "stop", "run",
                                os.environ["GRID_RUN_NAME"]], check=True)
                time.sleep(60)
            sys.argv[0] = "branin.py"
            exec(open("branin.py").read())
            """
        )
    )
    (workdir / "stop-now").write_text("")
    result = grid(
        "run",
        *words("--name bor --strategy bayesian --num_trials 6 --seed 3"),
        *words("--metric loss --max_parallel 1 --grace_period 2s"),
        "stopper.py",
        *BRANIN_SPACE,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    before = by_name(run_status("bor"))
    assert [before[f"bor-exp{i}"]["state"] for i in range(6)] == ["succeeded"] * 2 + ["stopped"] * 4
    assert before["bor-exp2"]["params"] and not before["bor-exp3"]["params"]

    result = grid("resume", "bor", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    after = by_name(run_status("bor"))
    assert all(e["state"] == "succeeded" for e in after.values())
    for name in ("bor-exp0", "bor-exp1"):  # left alone
        assert after[name]["params"] == before[name]["params"]
        assert after[name]["started_at"] == before[name]["started_at"]
    assert after["bor-exp2"]["params"] == before["bor-exp2"]["params"]  # same values again
    first = [before[f"bor-exp{i}"]["params"] for i in range(3)]
    for i in range(3, 6):  # new proposals, not the search started over
        assert after[f"bor-exp{i}"]["params"] and after[f"bor-exp{i}"]["params"] not in first


CURVE = """\
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--q", type=float)
parser.add_argument("--epochs", type=int, default=9)
parser.add_argument("--pause", type=float, default=0.3)
args = parser.parse_args()
for epoch in range(1, args.epochs + 1):
    print(f"epoch={epoch} loss={args.q + 1.0 / epoch}", flush=True)
    time.sleep(args.pause)
print("done", flush=True)
"""


def test_asha_stops_losing_experiments_and_keeps_the_best(grid, run_status, workdir, grid_env):
    """One at a time, so that the rule sees the same order every time: 0.5 runs to the end;
    0.9 is behind it at step 1; 0.1 leads every rung; 0.7 and 0.3 are behind at step 1."""
    (workdir / "curve.py").write_text(CURVE)
    result = grid(
        "run",
        *words("--name asha --early_stop asha --metric loss"),
        *words("--max_parallel 1 --grace_period 5s"),
        "curve.py",
        "--q",
        "[0.5, 0.9, 0.1, 0.7, 0.3]",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 succeeded, 3 pruned" in result.stdout
    run = run_status("asha")
    assert run["state"] == "succeeded"
    experiments = by_name(run)
    states = [experiments[f"asha-exp{i}"]["state"] for i in range(5)]
    assert states == ["succeeded", "pruned", "succeeded", "pruned", "pruned"]
    for i in (1, 3, 4):
        pruned = experiments[f"asha-exp{i}"]
        assert pruned["pruned_step"] == 1
        q = float(pruned["params"]["--q"])
        assert pruned["pruned_value"] == pytest.approx(q + 1.0)
        assert "pruned by asha at step 1" in pruned["reason"]
        log = Path(grid_env["GRIDRUN_HOME"], "runs", "asha", pruned["name"], "stdout.log")
        assert "done" not in log.read_text()  # its process really stopped early
        assert pruned["duration_s"] < 9 * 0.3
        with pytest.raises(ProcessLookupError):
            os.kill(pruned["pid"], 0)
    for i in (0, 2):
        log = Path(grid_env["GRIDRUN_HOME"], "runs", "asha", f"asha-exp{i}", "stdout.log")
        assert log.read_text().rstrip().endswith("done")
    best = json.loads(
        grid("--output", "json", "best", "asha", "--metric", "loss", check=True).stdout
    )
    assert best["name"] == "asha-exp2"
    text = grid("status", "asha", check=True).stdout
    assert "pruned at step 1" in text
    exported = json.loads(grid("export", "asha", "--format", "json", check=True).stdout)
    rows = {row["name"]: row for row in exported}
    assert rows["asha-exp1"]["pruned_step"] == 1 and rows["asha-exp0"]["pruned_step"] is None
    assert rows["asha-exp1"]["pruned_value"] == pytest.approx(1.9)


def test_a_metric_printed_only_at_the_end_prunes_nothing(grid, run_status, workdir):
    """Each experiment prints its metric once, then saves its model: once the first one
    finished, that print is known to be the end, and no experiment is stopped there."""
    (workdir / "once.py").write_text(
        "import sys, time\n"
        "print(f'loss={sys.argv[2]}', flush=True)\n"
        "time.sleep(1)\n"
        "print('saved', flush=True)\n"
    )
    result = grid(
        "run",
        *words("--name once --early_stop asha --metric loss --max_parallel 1"),
        "once.py",
        "--q",
        "[0.5, 0.9, 0.7]",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = run_status("once")
    assert run["counts"]["succeeded"] == 3 and not run["counts"]["pruned"], run["counts"]
    for experiment in run["experiments"]:
        assert Path(experiment["log_path"]).read_text().rstrip().endswith("saved")


def test_a_pruned_experiment_is_not_resumed(grid, run_status, workdir):
    (workdir / "curve.py").write_text(CURVE)
    grid(
        "run",
        *words("--name pr --early_stop asha --metric loss --max_parallel 1"),
        "curve.py",
        "--q",
        "[0.1, 0.9]",
        "--pause",
        "0.1",
        check=True,
        timeout=120,
    )
    result = grid("resume", "pr", check=True)
    assert "nothing to resume" in result.stdout
    assert run_status("pr")["counts"]["pruned"] == 1


def test_max_time_ends_the_sweep_and_stops_what_runs(grid, run_status, workdir):
    (workdir / "slow.py").write_text(
        "import time, sys\nprint('loss=1', flush=True)\ntime.sleep(60)\n"
    )
    result = grid(
        "run",
        *words("--name budget --max_time 2s --max_parallel 2 --grace_period 2s"),
        "slow.py",
        "--i",
        "range(5)",
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the time budget --max_time 2s ran out" in result.stdout
    run = run_status("budget")
    assert run["state"] == "succeeded" and run["counts"]["stopped"] == 5
    assert run["duration_s"] < 30
    reasons = sorted(e["reason"] for e in run["experiments"])
    assert reasons.count("stopped before it started") == 3
    assert reasons.count("stopped: the time budget --max_time 2s ran out") == 2


def test_stop_when_a_target_is_met(grid, run_status, workdir):
    (workdir / "curve.py").write_text(CURVE)
    result = grid(
        "run",
        *words("--name target --stop_when loss<0.6 --max_parallel 1"),
        "curve.py",
        "--q",
        "[0.9, 0.05, 0.5, 0.7]",
        "--epochs",
        "4",
        "--pause",
        "0.3",
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "target loss<0.6 met by target-exp1" in result.stdout
    experiments = by_name(run_status("target"))
    # exp1 meets the target at epoch 2 (0.05 + 1/2): it finishes its work, nothing more starts
    assert experiments["target-exp0"]["state"] == "succeeded"
    assert experiments["target-exp1"]["state"] == "succeeded"
    assert experiments["target-exp1"]["metrics"]["loss"]["count"] == 4
    assert experiments["target-exp2"]["state"] == experiments["target-exp3"]["state"] == "stopped"


def test_stop_when_errors(grid, workdir):
    (workdir / "curve.py").write_text(CURVE)
    result = grid("run", "--stop_when", "loss=0.1", "curve.py", "--q", "[1, 2]")
    assert result.returncode == 2
    assert "--stop_when 'loss=0.1': expected METRIC<VALUE" in result.stderr
    result = grid("run", "--early_stop", "asha", "curve.py", "--q", "[1, 2]")
    assert result.returncode == 2 and "--early_stop asha needs --metric NAME" in result.stderr
    result = grid("run", "--max_time", "soon", "curve.py", "--q", "[1, 2]")
    assert result.returncode == 2 and "--max_time" in result.stderr
    assert json.loads(grid("--output", "json", "history", check=True).stdout) == {"runs": []}


def test_a_target_on_a_metric_nobody_reports_is_pointed_out(grid, workdir):
    (workdir / "curve.py").write_text(CURVE)
    result = grid(
        "run",
        *words("--stop_when val_acc>0.9 --max_parallel 2"),
        "curve.py",
        "--q",
        "[1, 2]",
        "--epochs",
        "2",
        "--pause",
        "0",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "the target val_acc>0.9 was never met: no experiment reported val_acc" in (result.stderr)
