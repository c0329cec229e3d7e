"""Search benchmark: does `--strategy bayesian` (Optuna's TPE) find better values than
`--strategy random_search` with the same number of experiments?

Run by hand, never as a test:

    .venv/bin/python bench/search.py [--seeds N] [--quick] [--only NAME[,NAME...]] [--noise S]

The goal (from the issue): over 10 seeds, Bayesian search reaches a better median best value
than random search with the same number of experiments.

Objectives (under bench/objectives/, each minimized, each experiment a `grid run` subprocess):

  branin     2-D Branin on [-5, 10] x [0, 15], `loss=`; optimum 0.397887; 40 experiments;
  hartmann6  6-D Hartmann on [0, 1]^6, `loss=`; optimum -3.32237; 60 experiments;
  mlp        scikit-learn's MLPClassifier on the digits, 20 epochs, `val_loss=` on a fixed
             validation split: learning_rate_init and alpha on log scales, the hidden units
             `range(8, 129, 8)`, batch_size `[32, 64, 128, 256]`; optimum unknown; 30
             experiments (each costs about 2 s, mostly importing scikit-learn).

For each seed S (1 to N) and objective, the strategies run in turn, each as a fresh `grid run
--max_parallel 2 --seed S --num_trials T --metric M --mode min`:

  bayesian      `--strategy bayesian`, continuous flags as `uniform(a, b, 1)` /
                `loguniform(a, b, 1)` (the count is ignored: TPE searches the interval);
  random        `--strategy random_search`, continuous flags as `uniform(a, b, 1000)`: 1,000
                values drawn per flag, T distinct combinations chosen among them, so the T
                points are almost independent uniform draws from the box (on average only
                T(T-1)/2,000 pairs of points share one flag's value: 0.8 for branin, 1.8 for
                hartmann6), as close to plain random search as gridrun's syntax gets;
  random K=T    (for information, branin and hartmann6) `uniform(a, b, T)`: only T values per
                flag, so coordinates repeat across points (about 37% of each flag's draws
                are left unused): what a user typing the same count as --num_trials gets.

The best value of each run comes from `grid --output json best RUN`, checked against the
minimum over `grid --output json status RUN` (every experiment succeeded, T of them, each with
the metric). Reported per objective and strategy: the median best over seeds, its
interquartile range, the mean, the wins of bayesian over random per seed (and a one-sided sign
test), and the median wall time of one run.

Standard library only, besides gridrun (the objectives need scikit-learn for `mlp`). Every
interpreter started is `sys.executable`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common as common
from _common import ScratchRunner, check

import gridrun

OBJECTIVES_DIR = Path(__file__).resolve().parent / "objectives"
PARALLEL = 2
RANDOM_VALUES = 1000
"""Values drawn per continuous flag for random_search: enough that points rarely share one."""


@dataclass(frozen=True)
class Flag:
    """One swept flag: a continuous interval (`low`, `high`, `log`) or a fixed domain."""

    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    domain: str = ""
    """A list or range, the same for every strategy (empty for an interval)."""

    def value(self, count: int) -> str:
        """The sweep value, drawing `count` values from an interval."""
        if self.domain:
            return self.domain
        function = "loguniform" if self.log else "uniform"
        return f"{function}({self.low!r}, {self.high!r}, {count})"


@dataclass(frozen=True)
class Objective:
    name: str
    script: str
    flags: tuple[Flag, ...]
    trials: int
    metric: str
    optimum: float | None
    k_equals_t: bool
    """Also run random search with T values per flag (for information)."""
    extra: tuple[str, ...] = ()


OBJECTIVES = (
    Objective(
        "branin",
        "branin.py",
        (Flag("--x", -5.0, 10.0), Flag("--y", 0.0, 15.0)),
        trials=40,
        metric="loss",
        optimum=0.397887,
        k_equals_t=True,
    ),
    Objective(
        "hartmann6",
        "hartmann6.py",
        tuple(Flag(f"--x{i}", 0.0, 1.0) for i in range(1, 7)),
        trials=60,
        metric="loss",
        optimum=-3.32237,
        k_equals_t=True,
    ),
    Objective(
        "mlp",
        "sklearn_model.py",
        (
            Flag("--learning_rate_init", 1e-4, 1.0, log=True),
            Flag("--alpha", 1e-6, 10.0, log=True),
            Flag("--hidden", domain="range(8, 129, 8)"),
            Flag("--batch_size", domain="[32, 64, 128, 256]"),
        ),
        trials=30,
        metric="val_loss",
        optimum=None,
        k_equals_t=False,
    ),
)
BAYESIAN, RANDOM, RANDOM_KT = "bayesian", "random", "random K=T"


@dataclass
class Outcome:
    """The runs of one objective and strategy, one per seed."""

    objective: Objective
    strategy: str
    best: dict[int, float] = field(default_factory=dict)
    wall_s: list[float] = field(default_factory=list)


def sweep_args(objective: Objective, strategy: str) -> list[str]:
    """`grid run` options and the script with its swept flags, for one strategy."""
    if strategy == BAYESIAN:
        options, count = ["--strategy", "bayesian"], 1
    elif strategy == RANDOM:
        options, count = ["--strategy", "random_search"], RANDOM_VALUES
    else:
        options, count = ["--strategy", "random_search"], objective.trials
    script = str(OBJECTIVES_DIR / objective.script)
    flags = [part for flag in objective.flags for part in (flag.name, flag.value(count))]
    return [*options, script, *flags, *objective.extra]


def check_run(data: dict, objective: Objective, best: dict) -> float:
    """The run's best value, after checking the run: every experiment succeeded with the
    metric, the best is the minimum, its values are within the space."""
    name = data["name"]
    trials = objective.trials
    check(data["state"] == "succeeded", f"run {name} is {data['state']}")
    check(data["num_experiments"] == trials, f"{name}: {data['num_experiments']} experiments")
    check(data["counts"]["succeeded"] == trials, f"{name}: counts {data['counts']}")
    values = []
    for experiment in data["experiments"]:
        summary = experiment["metrics"].get(objective.metric)
        check(summary is not None, f"{experiment['name']} reported no {objective.metric}")
        values.append(summary["last"])
        for flag in objective.flags:
            if not flag.domain:
                value = float(experiment["params"][flag.name])
                check(flag.low <= value <= flag.high, f"{experiment['name']}: {flag.name}")
    points = {tuple(sorted(e["params"].items())) for e in data["experiments"]}
    check(len(points) == trials, f"{name}: {trials - len(points)} repeated points")
    check(best["value"] == min(values), f"{name}: best {best['value']} is not the minimum")
    check(all(math.isfinite(v) for v in values), f"{name}: a value is not finite")
    if objective.optimum is not None:
        check(best["value"] >= objective.optimum - 1e-4, f"{name}: below the optimum")
    return float(best["value"])


def run_benchmark(
    objectives: list[Objective], seeds: list[int], folder: Path, noise: float
) -> list[Outcome]:
    env = common.subprocess_env(folder / "pycache", GRIDRUN_HOME=str(folder / "home"))
    runner = ScratchRunner(folder, env)
    grid = common.grid_command()
    outcomes: dict[tuple[str, str], Outcome] = {}
    for seed in seeds:
        for objective in objectives:
            strategies = [BAYESIAN, RANDOM, *([RANDOM_KT] if objective.k_equals_t else [])]
            for strategy in strategies:
                outcome = outcomes.setdefault(
                    (objective.name, strategy), Outcome(objective, strategy)
                )
                name = f"{objective.name}-{strategy.replace(' ', '').replace('=', '')}-s{seed}"
                args = sweep_args(objective, strategy)
                if noise and objective.name == "branin":
                    args += ["--noise", repr(noise)]
                command = [
                    *grid,
                    "run",
                    "--name",
                    name,
                    "--seed",
                    str(seed),
                    "--num_trials",
                    str(objective.trials),
                    "--max_parallel",
                    str(PARALLEL),
                    "--metric",
                    objective.metric,
                    "--mode",
                    "min",
                    "--timeout",
                    "2m",
                    "--python",
                    sys.executable,
                    *args,
                ]
                timing = runner.execute(command)
                runner.execute([*grid, "--output", "json", "status", name])
                data = json.loads(runner.out.read_text())
                metric = ["--metric", objective.metric, "--mode", "min"]
                runner.execute([*grid, "--output", "json", "best", name, *metric])
                best = json.loads(runner.out.read_text())
                outcome.best[seed] = check_run(data, objective, best)
                outcome.wall_s.append(timing.wall_s)
                print(
                    f"  seed {seed} {objective.name} {strategy}: best {outcome.best[seed]:.6g}"
                    f" in {timing.wall_s:.1f} s",
                    file=sys.stderr,
                )
    return list(outcomes.values())


# -- reporting -------------------------------------------------------------------------------------


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def sign_test(wins: int, losses: int) -> float:
    """One-sided p-value of at least `wins` wins in wins + losses fair coin tosses."""
    n = wins + losses
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n


def number(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 else f"{value:.3e}"


def table(outcomes: list[Outcome], seeds: list[int]) -> tuple[list[str], list[str]]:
    """The markdown table and one verdict line per objective."""
    lines = [
        f"| objective | strategy | experiments | median best ({len(seeds)} seeds) "
        "| IQR (q1 – q3) | mean | optimum | bayesian wins/ties/losses | median wall of a run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    verdicts = []
    by_key = {(o.objective.name, o.strategy): o for o in outcomes}
    for outcome in outcomes:
        objective = outcome.objective
        values = [outcome.best[s] for s in seeds]
        q1, median, q3 = quartiles(values)
        optimum = number(objective.optimum) if objective.optimum is not None else "unknown"
        versus = ""
        if outcome.strategy != BAYESIAN:
            bayesian = by_key[(objective.name, BAYESIAN)].best
            wins = sum(bayesian[s] < outcome.best[s] for s in seeds)
            losses = sum(bayesian[s] > outcome.best[s] for s in seeds)
            ties = len(seeds) - wins - losses
            versus = f"{wins}/{ties}/{losses} (sign test p = {sign_test(wins, losses):.3f})"
        lines.append(
            f"| {objective.name} | {outcome.strategy} | {objective.trials} | {number(median)} "
            f"| {number(q1)} – {number(q3)} | {number(statistics.fmean(values))} | {optimum} "
            f"| {versus} | {statistics.median(outcome.wall_s):.1f} s |"
        )
        if outcome.strategy == RANDOM:
            bayes_median = statistics.median(by_key[(objective.name, BAYESIAN)].best.values())
            met = "met" if bayes_median < median else "NOT MET"
            verdicts.append(
                f"- {objective.name}: median best bayesian {number(bayes_median)} vs random "
                f"{number(median)} with {objective.trials} experiments: goal {met}"
            )
    return lines, verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 seeds, to try it out")
    names = ", ".join(o.name for o in OBJECTIVES)
    parser.add_argument("--only", help=f"comma-separated objectives among {names}")
    parser.add_argument("--noise", type=float, default=0.0, help="Gaussian noise on branin")
    options = parser.parse_args(argv)
    count = 3 if options.quick else options.seeds
    if count < 1:
        parser.error("--seeds must be at least 1")
    seeds = list(range(1, count + 1))
    objectives = list(OBJECTIVES)
    if options.only:
        wanted = options.only.split(",")
        unknown = set(wanted) - {o.name for o in OBJECTIVES}
        if unknown:
            parser.error(f"unknown objective(s) {', '.join(sorted(unknown))}; expected {names}")
        objectives = [o for o in OBJECTIVES if o.name in wanted]
    started = time.perf_counter()
    load_before = common.load_now(pressure=True)
    with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
        outcomes = run_benchmark(objectives, seeds, Path(folder), options.noise)
    lines, verdicts = table(outcomes, seeds)
    print("## Bayesian search against random search\n")
    noise = f"; branin noise σ = {options.noise:g}" if options.noise else ""
    more = f"- max_parallel {PARALLEL}; seeds {seeds[0]}..{seeds[-1]}{noise}"
    print("\n".join(common.machine_lines(gridrun.__version__, more, common.subprocesses_line())))
    print(f"- machine load: {load_before} before; {common.load_now(pressure=True)} after")
    print()
    print("\n".join(lines))
    print()
    print("\n".join(verdicts))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
