"""Early-stopping benchmark: does `--early_stop asha` find the full grid's best configuration
while spending at most half of its experiment-seconds?

Run by hand, never as a test:

    .venv/bin/python bench/early_stop.py [--repeat N] [--epoch_time S] [--epochs E] [--no_median]

The goal (from the issue): with --early_stop asha, a sweep finds the same best configuration as
the full grid while spending at most half of the grid's total experiment-seconds.

The sweep: `bench/objectives/curve.py`, a one-hidden-layer network (scikit-learn's
MLPClassifier written out in numpy, so that it starts in 0.2 s) trained with Adam on the digits
one epoch at a time (seeded: the same flags give the same curve), each epoch padded with sleep
to `--epoch_time` seconds (default 0.2), printing `epoch=E val_loss=V val_acc=A`; 27
configurations (`--learning_rate_init "[0.001, 0.01, 0.1]" --alpha "[1e-4, 1e-2, 1]" --hidden
"[16, 32, 64]"`) of `--epochs` epochs (default 24: ASHA's rungs at steps 1, 3 and 9 come
before the end, none at the last epoch), `--max_parallel 2 --metric val_loss --mode min`, a
fresh `grid run` each:

  full grid  no early stopping, once (the curves are deterministic);
  asha       `--early_stop asha`, `--repeat` times (default 3): which experiments reach a rung
             first depends on timing, so the outcome may vary;
  median     `--early_stop median`, once, for information (`--no_median` skips it).

Per run: its wall time; its experiment-seconds (the sum over experiments of `duration_s`,
ended_at - started_at in the store, from `grid --output json status RUN`), and their ratio to
the full grid's; the epochs run (the last step each experiment reported) and what they cost at
the nominal epoch time, the rest being start-up (about 0.2 s an experiment) and stopping; how
many were pruned, at which step, and how many epochs they reported after that step (gridrun
decides once it has read and recorded the line, while the experiment goes on); the best
configuration (`grid --output json best RUN`) against the full grid's.

Checked: the full grid has 27 succeeded experiments of `--epochs` steps each; under ASHA
every pruned experiment was stopped at a rung (1, 3, 9, ...) with the value it reported there
(`grid export --metrics_history`), and every other one succeeded with every epoch; the best
value is the minimum of the succeeded experiments' last values.

Standard library only, besides gridrun (curve.py needs numpy, and scikit-learn's copy of the
digits). Every interpreter started is `sys.executable`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import _common as common
from _common import ScratchRunner, check

import gridrun

SCRIPT = Path(__file__).resolve().parent / "objectives" / "curve.py"
GRID = (
    ("--learning_rate_init", "[0.001, 0.01, 0.1]"),
    ("--alpha", "[1e-4, 1e-2, 1]"),
    ("--hidden", "[16, 32, 64]"),
)
CONFIGURATIONS = 27
METRIC = "val_loss"
PARALLEL = 2
ASHA_FACTOR = 3
GOAL_RATIO = 0.5


@dataclass
class Run:
    """One sweep, as recorded."""

    case: str
    name: str
    wall_s: float
    experiment_s: float
    epochs_run: int
    epochs_past: int
    """Epochs the pruned experiments reported after the step they were pruned at."""
    succeeded: int
    pruned_at: Counter[float]
    best: dict[str, str]
    best_value: float
    curves: dict[str, dict[float, float]]
    """Per configuration (its params as text), val_loss by step."""


def config_key(params: dict[str, str]) -> str:
    return " ".join(f"{flag} {params[flag]}" for flag, _ in GRID)


def rungs(epochs: int) -> list[float]:
    steps, step = [], 1
    while step <= epochs:
        steps.append(float(step))
        step *= ASHA_FACTOR
    return steps


class Sweeps:
    """Runs and reads the sweeps, in one scratch folder and GRIDRUN_HOME."""

    def __init__(self, folder: Path, epochs: int, epoch_time: float) -> None:
        env = common.subprocess_env(folder / "pycache", GRIDRUN_HOME=str(folder / "home"))
        self.runner = ScratchRunner(folder, env)
        self.grid = common.grid_command()
        self.epochs = epochs
        self.epoch_time = epoch_time

    def json(self, *args: str) -> object:
        self.runner.execute([*self.grid, "--output", "json", *args])
        return json.loads(self.runner.out.read_text())

    def run(self, case: str, name: str, rule: str | None) -> Run:
        early = ["--early_stop", rule] if rule else []
        command = [
            *self.grid,
            "run",
            "--name",
            name,
            "--max_parallel",
            str(PARALLEL),
            "--metric",
            METRIC,
            "--mode",
            "min",
            *early,
            "--timeout",
            "5m",
            "--python",
            sys.executable,
            str(SCRIPT),
            *(part for pair in GRID for part in pair),
            "--epochs",
            str(self.epochs),
            "--epoch_time",
            repr(self.epoch_time),
        ]
        timing = self.runner.execute(command)
        status = self.json("status", name)
        best = self.json("best", name, "--metric", METRIC, "--mode", "min")
        self.runner.execute([*self.grid, "export", name, "--format", "json", "--metrics_history"])
        history = json.loads(self.runner.out.read_text())
        assert isinstance(status, dict) and isinstance(best, dict)
        return self.check(case, name, rule, timing.wall_s, status, best, history)

    def check(
        self,
        case: str,
        name: str,
        rule: str | None,
        wall_s: float,
        status: dict,
        best: dict,
        history: list[dict],
    ) -> Run:
        """The run as recorded, after checking it (see the module's docstring)."""
        experiments = status["experiments"]
        check(status["state"] == "succeeded", f"run {name} is {status['state']}")
        check(len(experiments) == CONFIGURATIONS, f"{name}: {len(experiments)} experiments")
        curves: dict[str, dict[float, float]] = {}
        for row in history:
            points = row["history"][METRIC]
            curves[row["name"]] = {step: value for step, value, _ in points}
        pruned_at: Counter[float] = Counter()
        epochs_run = epochs_past = 0
        finals = []
        allowed = rungs(self.epochs)
        for e in experiments:
            curve = curves[e["name"]]
            epochs_run += int(max(curve))
            if e["state"] == "succeeded":
                check(sorted(curve) == [float(s) for s in range(1, self.epochs + 1)], e["name"])
                finals.append(curve[float(self.epochs)])
                continue
            check(rule is not None and e["state"] == "pruned", f"{e['name']} is {e['state']}")
            step, value = e["pruned_step"], e["pruned_value"]
            check(curve.get(step) == value, f"{e['name']}: pruned with {value}, not its value")
            if rule == "asha":
                check(step in allowed, f"{e['name']}: pruned at step {step}, not at a rung")
            pruned_at[step] += 1
            epochs_past += int(max(curve) - step)
        if rule is None:
            check(len(finals) == CONFIGURATIONS, f"{name}: not every experiment succeeded")
        check(best["value"] == min(finals), f"{name}: best {best['value']} is not the minimum")
        by_config = {config_key(e["params"]): curves[e["name"]] for e in experiments}
        return Run(
            case=case,
            name=name,
            wall_s=wall_s,
            experiment_s=sum(e["duration_s"] for e in experiments),
            epochs_run=epochs_run,
            epochs_past=epochs_past,
            succeeded=len(finals),
            pruned_at=pruned_at,
            best=best["params"],
            best_value=best["value"],
            curves=by_config,
        )


# -- reporting -------------------------------------------------------------------------------------


def rank_at(curves: dict[str, dict[float, float]], config: str, step: float) -> int:
    """The rank (1 = lowest val_loss) of `config` among the full grid's curves at `step`."""
    values = sorted(curve[step] for curve in curves.values())
    return values.index(curves[config][step]) + 1


def table(runs: list[Run], epochs: int, epoch_time: float) -> list[str]:
    full = runs[0]
    full_key = config_key(full.best)
    total_epochs = CONFIGURATIONS * epochs
    lines = [
        "| case | wall | experiment-seconds | ratio to full | epochs run | at nominal "
        "epoch time | start-up and stop | succeeded | pruned (at step: count) | epochs past "
        "the pruning step | best configuration | its val_loss | same best as full? | its rank "
        "in the full grid |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | --- "
        "| ---: |",
    ]
    for run in runs:
        key = config_key(run.best)
        nominal = run.epochs_run * epoch_time
        pruned = ", ".join(f"{s:g}: {n}" for s, n in sorted(run.pruned_at.items()))
        final = float(epochs)
        rank = rank_at(full.curves, key, final)
        lines.append(
            f"| {run.case} | {run.wall_s:.1f} s | {run.experiment_s:.1f} s "
            f"| {run.experiment_s / full.experiment_s:.2f} | {run.epochs_run} of {total_epochs} "
            f"| {nominal:.1f} s | {run.experiment_s - nominal:.1f} s | {run.succeeded} "
            f"| {sum(run.pruned_at.values())}{f' ({pruned})' if pruned else ''} "
            f"| {run.epochs_past} | `{key}` "
            f"| {run.best_value:.4f} | {'yes' if key == full_key else 'NO'} | {rank} |"
        )
    return lines


def diagnosis(runs: list[Run], epochs: int) -> list[str]:
    """Where the full grid's best and runner-up stand at each rung, and the verdict."""
    full = runs[0]
    curves = full.curves
    final = float(epochs)
    ordered = sorted(curves, key=lambda k: curves[k][final])
    lines = []
    for place, key in zip(("best", "runner-up"), ordered[:2], strict=True):
        ranks = ", ".join(f"{rank_at(curves, key, s)} at step {s:g}" for s in rungs(epochs))
        lines.append(
            f"- the full grid's {place} `{key}` (val_loss {curves[key][final]:.4f} at step "
            f"{epochs}) ranks {ranks} of {CONFIGURATIONS}"
        )
    asha = [r for r in runs if r.case.startswith("asha")]
    if asha:
        same = sum(config_key(r.best) == config_key(full.best) for r in asha)
        ratio = statistics.median(r.experiment_s / full.experiment_s for r in asha)
        found = "met" if same == len(asha) else "NOT MET"
        cheap = "met" if ratio <= GOAL_RATIO else "NOT MET"
        lines += [
            f"- asha found the full grid's best in {same} of {len(asha)} runs: {found}",
            f"- asha's experiment-seconds: median {ratio:.2f} of the full grid's "
            f"(goal ≤ {GOAL_RATIO}): {cheap}",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="asha runs (default 3)")
    parser.add_argument("--epochs", type=int, default=24, help="epochs (default 24)")
    parser.add_argument(
        "--epoch_time", type=float, default=0.2, help="seconds an epoch (default 0.2)"
    )
    parser.add_argument("--no_median", action="store_true", help="skip the median rule's run")
    options = parser.parse_args(argv)
    if options.repeat < 1 or options.epochs < 2 or options.epoch_time < 0:
        parser.error("--repeat ≥ 1, --epochs ≥ 2 and --epoch_time ≥ 0, please")
    started = time.perf_counter()
    load_before = common.load_now(pressure=True)
    cases = [("full grid", None)]
    cases += [(f"asha #{i}", "asha") for i in range(1, options.repeat + 1)]
    if not options.no_median:
        cases.append(("median", "median"))
    runs = []
    with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
        sweeps = Sweeps(Path(folder), options.epochs, options.epoch_time)
        for number, (case, rule) in enumerate(cases):
            run = sweeps.run(case, f"curve-{number}-{rule or 'full'}", rule)
            runs.append(run)
            print(
                f"  {case}: {run.wall_s:.1f} s wall, {run.experiment_s:.1f} experiment-seconds,"
                f" {sum(run.pruned_at.values())} pruned, best {config_key(run.best)}",
                file=sys.stderr,
            )
    print("## Early stopping\n")
    more = (
        f"- sweep: {CONFIGURATIONS} configurations × {options.epochs} epochs of "
        f"{options.epoch_time:g} s (nominal), max_parallel {PARALLEL}"
    )
    print("\n".join(common.machine_lines(gridrun.__version__, more, common.subprocesses_line())))
    print(f"- machine load: {load_before} before; {common.load_now(pressure=True)} after")
    print()
    print("\n".join(table(runs, options.epochs, options.epoch_time)))
    print()
    print("\n".join(diagnosis(runs, options.epochs)))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
