"""Early stopping: rules that end an experiment which is clearly losing, from the values of
one metric it reports along the way (`step` or `epoch` on its metric lines, else the order of
the lines). The rules follow Optuna's pruners, step for step:

- `median` (Optuna's `MedianPruner`): once `startup` experiments have finished, an experiment
  whose best value so far is worse than the median of the finished experiments' values at
  the same step is stopped.
- `asha` (asynchronous successive halving, Li et al. 2018; Optuna's
  `SuccessiveHalvingPruner`): rungs at steps `min_steps * factor**k`; an experiment reaching
  a rung goes on only if its value there is within the best `1/factor` of the values every
  experiment had at that rung (the first ones to arrive go on while there are fewer than
  `factor`, if they lead).

A NaN value prunes at once (the experiment diverged). The rules keep their state in plain
dictionaries and rebuild it from the recorded metrics (`restore`), so a resumed run prunes as
the first drive did, and they need no library.
"""

from __future__ import annotations

import math
import statistics
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from gridrun.errors import UserError

RULES = ("median", "asha")


@dataclass(frozen=True)
class Pruned:
    """The decision to stop an experiment: where, with what value, and why."""

    step: float
    value: float
    reason: str


class PruningRule(ABC):
    """Decides from one metric's intermediate values whether an experiment goes on."""

    name: str

    def __init__(self, metric: str, mode: str) -> None:
        self.metric = metric
        self.mode = mode

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    @abstractmethod
    def report(self, experiment_id: int, step: float, value: float) -> Pruned | None:
        """A running experiment reported `value` at `step`: stop it (a `Pruned`) or not."""

    @abstractmethod
    def restore(
        self, experiment_id: int, points: Sequence[tuple[float, float]], finished: bool
    ) -> None:
        """Replay an experiment's recorded (step, value) points without deciding anything;
        `finished` when it succeeded (its curve is a reference for the others)."""

    def finished(self, experiment_id: int, succeeded: bool) -> None:  # noqa: B027
        """The experiment ended (its curve becomes a reference when it succeeded); nothing
        to do for a rule that keeps no reference curves."""

    def _nan(self, step: float, value: float) -> Pruned | None:
        if math.isnan(value):
            return Pruned(
                step, value, f"pruned by {self.name} at step {step:g}: {self.metric} is NaN"
            )
        return None


class MedianRule(PruningRule):
    """Optuna's MedianPruner: best so far against the median of finished ones at the step."""

    name = "median"

    def __init__(self, metric: str, mode: str, startup: int = 5, warmup_steps: float = 0) -> None:
        super().__init__(metric, mode)
        self.startup = startup
        self.warmup_steps = warmup_steps
        self.curves: dict[int, dict[float, float]] = {}
        self.completed: set[int] = set()

    def report(self, experiment_id: int, step: float, value: float) -> Pruned | None:
        curve = self.curves.setdefault(experiment_id, {})
        curve.setdefault(step, value)
        nan = self._nan(step, value)
        if nan is not None:
            return nan
        if len(self.completed) < self.startup or step < self.warmup_steps:
            return None
        finite = [v for v in curve.values() if not math.isnan(v)]
        best = min(finite) if self.mode == "min" else max(finite)
        others = [
            self.curves[other][step]
            for other in self.completed
            if step in self.curves[other] and not math.isnan(self.curves[other][step])
        ]
        if not others:
            return None
        median = statistics.median(others)
        if not self.better(median, best):
            return None
        return Pruned(
            step,
            value,
            f"pruned by median at step {step:g}: best {self.metric} so far {best:.6g} is worse "
            f"than the median {median:.6g} of {len(others)} finished experiment(s) there",
        )

    def restore(
        self, experiment_id: int, points: Sequence[tuple[float, float]], finished: bool
    ) -> None:
        curve = self.curves.setdefault(experiment_id, {})
        for step, value in points:
            curve.setdefault(step, value)
        if finished:
            self.completed.add(experiment_id)

    def finished(self, experiment_id: int, succeeded: bool) -> None:
        if succeeded and experiment_id in self.curves:
            self.completed.add(experiment_id)


class AshaRule(PruningRule):
    """Asynchronous successive halving, as Optuna's SuccessiveHalvingPruner does it."""

    name = "asha"

    def __init__(self, metric: str, mode: str, min_steps: float = 1, factor: int = 3) -> None:
        super().__init__(metric, mode)
        self.min_steps = min_steps
        self.factor = factor
        self.rungs: list[list[float]] = []
        """Per rung, the values every experiment had when it reached it."""
        self.reached: dict[int, int] = {}
        """Per experiment, how many rungs it has reached."""

    def promotion_step(self, rung: int) -> float:
        return self.min_steps * self.factor**rung

    def _enter(self, rung: int, value: float) -> list[float]:
        while len(self.rungs) <= rung:
            self.rungs.append([])
        self.rungs[rung].append(value)
        return self.rungs[rung]

    def report(self, experiment_id: int, step: float, value: float) -> Pruned | None:
        nan = self._nan(step, value)
        if nan is not None:
            return nan
        rung = self.reached.get(experiment_id, 0)
        while step >= self.promotion_step(rung):
            competing = sorted(self._enter(rung, value), reverse=self.mode == "max")
            self.reached[experiment_id] = rung + 1
            keep = max(1, len(competing) // self.factor)
            if self.better(value, competing[keep - 1]) or value == competing[keep - 1]:
                rung += 1
                continue
            return Pruned(
                step,
                value,
                f"pruned by asha at step {step:g}: {self.metric}={value:.6g} is not in the best "
                f"{keep} of the {len(competing)} experiment(s) that reached step "
                f"{self.promotion_step(rung):g}",
            )
        return None

    def restore(
        self, experiment_id: int, points: Sequence[tuple[float, float]], finished: bool
    ) -> None:
        rung = self.reached.get(experiment_id, 0)
        for step, value in points:
            if math.isnan(value):
                break
            while step >= self.promotion_step(rung):
                self._enter(rung, value)
                rung += 1
        self.reached[experiment_id] = rung


def make_rule(name: str, metric: str | None, mode: str) -> PruningRule:
    """The rule `--early_stop NAME` asks for; a `UserError` when it cannot work."""
    if name not in RULES:
        raise UserError(f"--early_stop {name!r}: expected one of {', '.join(RULES)}")
    if not metric:
        raise UserError(
            f"--early_stop {name} needs --metric NAME (and --mode min|max): the metric whose "
            "intermediate values decide"
        )
    return MedianRule(metric, mode) if name == "median" else AshaRule(metric, mode)
