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

A NaN value prunes at once (the experiment diverged). Neither rule stops an experiment at a
step as far as, or beyond, the last step of an experiment that succeeded: it is at its end
already, and stopping it would only lose its result (a script that prints its metric once, at
the end, is never pruned once one experiment finished). An attempt that ends without success
leaves no curve of its own behind: a retry is judged afresh. The rules keep their state in
plain dictionaries and rebuild it from the recorded metrics (`restore`), so a resumed run
prunes as the first drive did, and they need no library.
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
        self.last_steps: dict[int, float] = {}
        """Per experiment (its current attempt), the last step it reported."""
        self.horizon: float | None = None
        """The last step of the longest experiment that succeeded: nothing is stopped there
        or beyond."""

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    def report(self, experiment_id: int, step: float, value: float) -> Pruned | None:
        """A running experiment reported `value` at `step`: stop it (a `Pruned`) or not."""
        last = self.last_steps.get(experiment_id)
        self.last_steps[experiment_id] = step if last is None else max(last, step)
        decision = self._decide(experiment_id, step, value)
        if decision is not None and self.horizon is not None and step >= self.horizon:
            return None  # as far as a finished experiment went: it is at its end
        return decision

    @abstractmethod
    def _decide(self, experiment_id: int, step: float, value: float) -> Pruned | None:
        """Record `value` at `step` and decide (`report` keeps what every rule shares)."""

    def restore(
        self, experiment_id: int, points: Sequence[tuple[float, float]], finished: bool
    ) -> None:
        """Replay an experiment's recorded (step, value) points without deciding anything;
        `finished` when it succeeded (its curve is a reference for the others)."""
        if points:
            last = max(step for step, _ in points)
            known = self.last_steps.get(experiment_id)
            self.last_steps[experiment_id] = last if known is None else max(known, last)
        self._replay(experiment_id, points)
        if finished:
            self._succeeded(experiment_id)

    @abstractmethod
    def _replay(self, experiment_id: int, points: Sequence[tuple[float, float]]) -> None:
        """Record the points as `report` would, deciding nothing."""

    def finished(
        self,
        experiment_id: int,
        succeeded: bool,
        points: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        """The experiment's attempt ended. `points`, when given, are every (step, value) it
        recorded (those read only at its end were never reported live). When it succeeded,
        its curve becomes a reference for the others and its last step bounds where they
        may be stopped; otherwise its attempt is forgotten, so that a retry starts afresh."""
        if points:
            self.restore(experiment_id, points, finished=False)
        if succeeded:
            self._succeeded(experiment_id)
        else:
            self.last_steps.pop(experiment_id, None)
            self._forget(experiment_id)

    def _succeeded(self, experiment_id: int) -> None:
        last = self.last_steps.get(experiment_id)
        if last is not None and (self.horizon is None or last > self.horizon):
            self.horizon = last

    def _forget(self, experiment_id: int) -> None:  # noqa: B027
        """An attempt ended without success: drop what is its own (nothing by default)."""

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

    def _decide(self, experiment_id: int, step: float, value: float) -> Pruned | None:
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

    def _replay(self, experiment_id: int, points: Sequence[tuple[float, float]]) -> None:
        curve = self.curves.setdefault(experiment_id, {})
        for step, value in points:
            curve.setdefault(step, value)

    def _succeeded(self, experiment_id: int) -> None:
        super()._succeeded(experiment_id)
        if self.curves.get(experiment_id):
            self.completed.add(experiment_id)

    def _forget(self, experiment_id: int) -> None:
        """Not a reference; a retry reports its own values at the same steps."""
        self.curves.pop(experiment_id, None)


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

    def _decide(self, experiment_id: int, step: float, value: float) -> Pruned | None:
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

    def _replay(self, experiment_id: int, points: Sequence[tuple[float, float]]) -> None:
        rung = self.reached.get(experiment_id, 0)
        for step, value in points:
            if math.isnan(value):
                break
            while step >= self.promotion_step(rung):
                self._enter(rung, value)
                rung += 1
        self.reached[experiment_id] = rung

    def _forget(self, experiment_id: int) -> None:
        """Its values stay in the rungs (as a failed trial's do in Optuna); a retry goes
        through every rung again, as a new trial would."""
        self.reached.pop(experiment_id, None)


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
