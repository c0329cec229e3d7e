"""Comparing experiments by their metrics: the objective, the ranking, the best, the rows.

Pure functions over what the store returns; the CLI, the export and `gridrun.load_run` share
them, so every view ranks experiments the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gridrun.errors import UserError
from gridrun.store.records import ExperimentRecord, MetricPoint, MetricSummary, State

MODES = ("min", "max")
SCOPES = ("last", "best")
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Objective:
    """Which metric decides, in which direction, over which value of each experiment."""

    metric: str
    mode: str = "min"
    scope: str = "last"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"--mode {self.mode!r}: expected min or max")
        if self.scope not in SCOPES:
            raise UserError(f"--scope {self.scope!r}: expected last or best")

    def value(self, summary: MetricSummary | None) -> float | None:
        """The experiment's value of the metric (its last, or its best over steps)."""
        if summary is None:
            return None
        if self.scope == "last":
            value = summary.last
        else:
            value = summary.min if self.mode == "min" else summary.max
        if value is None or math.isnan(value):
            return None
        return value

    def better(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b


def metric_names(summaries: Mapping[int, Mapping[str, MetricSummary]]) -> list[str]:
    """Every metric any experiment reported, sorted."""
    return sorted({name for per_experiment in summaries.values() for name in per_experiment})


def check_metric(
    objective: Objective, summaries: Mapping[int, Mapping[str, MetricSummary]], run: str
) -> None:
    """A `UserError` if no experiment of `run` reported the objective's metric."""
    names = metric_names(summaries)
    if objective.metric not in names:
        reported = ", ".join(names) if names else "no metric at all"
        raise UserError(
            f"no experiment of {run} reported the metric {objective.metric!r}; "
            f"they reported: {reported}"
        )


def ranked(
    experiments: Sequence[ExperimentRecord],
    summaries: Mapping[int, Mapping[str, MetricSummary]],
    objective: Objective,
) -> list[ExperimentRecord]:
    """The experiments, best first by the objective; those without a value last, by index."""

    def key(record: ExperimentRecord) -> tuple[int, float, int]:
        value = objective.value(summaries.get(record.id, {}).get(objective.metric))
        if value is None:
            return (1, 0.0, record.index)
        return (0, value if objective.mode == "min" else -value, record.index)

    return sorted(experiments, key=key)


def best(
    experiments: Sequence[ExperimentRecord],
    summaries: Mapping[int, Mapping[str, MetricSummary]],
    objective: Objective,
) -> ExperimentRecord | None:
    """The best succeeded experiment (or, if none succeeded yet, the best running one)."""
    for states in ((State.SUCCEEDED,), (State.RUNNING,)):
        candidates = [
            e
            for e in experiments
            if e.state in states
            and objective.value(summaries.get(e.id, {}).get(objective.metric)) is not None
        ]
        if candidates:
            return ranked(candidates, summaries, objective)[0]
    return None


def sparkline(points: Sequence[MetricPoint], width: int = 20) -> str:
    """A small curve of the values, downsampled to `width` characters."""
    values = [p.value for p in points if not (math.isnan(p.value) or math.isinf(p.value))]
    if not values:
        return ""
    if len(values) > width:
        values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return SPARK[3] * len(values)
    scale = (len(SPARK) - 1) / (high - low)
    return "".join(SPARK[round((v - low) * scale)] for v in values)


def format_value(value: float | None) -> str:
    """A metric value for a table: 4 significant digits."""
    if value is None:
        return ""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"
