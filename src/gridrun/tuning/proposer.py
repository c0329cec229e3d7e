"""The Bayesian strategy's proposer: Optuna's TPE through its ask-and-tell interface.

One in-memory study per drive, rebuilt from the store when the driver starts: every finished
experiment is added as a finished trial (its objective value, or pruned with its last
intermediate value, or failed), and every experiment that runs again with recorded values is
enqueued with them. So `grid resume` continues the search where it stopped. While several
experiments run at once, TPE's constant liar counts the running ones, so that parallel
proposals spread out instead of piling onto the same point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gridrun.errors import UserError
from gridrun.results import Objective
from gridrun.spec.space import SearchSpace
from gridrun.store.records import ExperimentRecord, MetricSummary, State
from gridrun.tuning.dimensions import Dimension, search_dimensions

INSTALL_HINT = "the bayesian strategy needs Optuna: pip install 'gridrun[bayes]'"


def import_optuna() -> Any:
    """Optuna, quiet; a `UserError` saying how to install it when it is missing."""
    try:
        import optuna
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class BayesianProposer:
    """Chooses the values of each experiment as it starts; learns from each as it ends."""

    def __init__(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        optuna = import_optuna()
        self.optuna = optuna
        self.space = space
        self.objective = objective
        self.dimensions, _ = search_dimensions(space)
        self.distributions = {d.flag: _distribution(optuna, d) for d in self.dimensions}
        self.seed = seed
        self.study = self._new_study(seed)
        self.trials: dict[int, Any] = {}
        """Experiment id → its running trial."""

    def _new_study(self, seed: int) -> Any:
        sampler = self.optuna.samplers.TPESampler(seed=seed % 2**32, constant_liar=True)
        direction = "minimize" if self.objective.mode == "min" else "maximize"
        return self.optuna.create_study(direction=direction, sampler=sampler)

    # -- rebuilding from the store -------------------------------------------------------------
    def restore(
        self,
        experiments: Iterable[ExperimentRecord],
        summaries: Mapping[int, Mapping[str, MetricSummary]],
        pruned_at: Mapping[int, tuple[float, float]],
    ) -> None:
        """Add the finished experiments of the run as finished trials.

        `pruned_at` gives the (step, value) at which each pruned experiment was stopped.
        The sampler is seeded anew from the run's seed and the number of finished trials, so
        that a resumed search draws new points rather than those it drew when it began.
        """
        finished: list[Any] = []
        for record in experiments:
            if not record.state.final or not record.params:
                continue
            params = self._parse(record.params)
            if params is None:
                continue
            trial_state, value, intermediate = self._outcome(
                record.state, summaries.get(record.id, {}), pruned_at.get(record.id)
            )
            if trial_state is None:
                continue
            finished.append(
                self.optuna.trial.create_trial(
                    params=params,
                    distributions=self.distributions,
                    state=trial_state,
                    value=value,
                    intermediate_values=intermediate,
                )
            )
        if finished:
            self.study = self._new_study(self.seed + 1_000_003 * len(finished))
            self.study.add_trials(finished)

    def _outcome(
        self,
        state: State,
        summary: Mapping[str, MetricSummary],
        pruned: tuple[float, float] | None,
    ) -> tuple[Any, float | None, dict[int, float] | None]:
        states = self.optuna.trial.TrialState
        if state is State.SUCCEEDED:
            value = self.objective.value(summary.get(self.objective.metric))
            if value is None or math.isinf(value):
                return states.FAIL, None, None
            return states.COMPLETE, value, None
        if state is State.PRUNED and pruned is not None:
            step, value = pruned
            return states.PRUNED, None, {int(step): value}
        if state is State.FAILED:
            return states.FAIL, None, None
        return None, None, None  # stopped, lost, preempted: they will run again

    def _parse(self, params: Mapping[str, str]) -> dict[str, Any] | None:
        try:
            return {d.flag: d.parse(params[d.flag]) for d in self.dimensions}
        except (KeyError, ValueError):
            return None  # recorded before the space changed: nothing to learn from

    # -- the drive -------------------------------------------------------------------------------
    def propose(self, record: ExperimentRecord) -> tuple[dict[str, str], list[str]]:
        """The values (params, script arguments) of an experiment about to start: its recorded
        values when it has some (a retry or a resume), else new ones from the sampler."""
        known = self._parse(record.params) if record.params else None
        if known is not None:
            self.study.enqueue_trial(known, skip_if_exists=False)
        trial = self.study.ask(self.distributions)
        self.trials[record.id] = trial
        combination = [d.render(trial.params[d.flag]) for d in self.dimensions]
        return self.space.params(combination), self.space.args(combination)

    def tell(
        self,
        experiment_id: int,
        state: State,
        summary: Mapping[str, MetricSummary],
        pruned: tuple[float, float] | None = None,
    ) -> None:
        """The experiment ended in `state` with these metrics (or was pruned at `pruned`)."""
        trial = self.trials.pop(experiment_id, None)
        if trial is None:
            return
        trial_state, value, intermediate = self._outcome(state, summary, pruned)
        if trial_state is None:  # stopped or lost: it may run again; forget this attempt
            trial_state = self.optuna.trial.TrialState.FAIL
        if intermediate:
            for step, reported in intermediate.items():
                trial.report(reported, step)
        if trial_state == self.optuna.trial.TrialState.COMPLETE:
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=trial_state)

    @property
    def best(self) -> tuple[float, dict[str, Any]] | None:
        """The best value so far and its values."""
        try:
            trial = self.study.best_trial
        except ValueError:
            return None
        return trial.value, trial.params


def _distribution(optuna: Any, dimension: Dimension) -> Any:
    distributions = optuna.distributions
    if dimension.kind == "categorical":
        return distributions.CategoricalDistribution(list(dimension.choices))
    if dimension.kind == "int":
        return distributions.IntDistribution(
            int(dimension.low), int(dimension.high), step=dimension.step
        )
    return distributions.FloatDistribution(dimension.low, dimension.high, log=dimension.log)


def pruned_points(experiments: Sequence[ExperimentRecord]) -> dict[int, tuple[float, float]]:
    """Where each pruned experiment was stopped, read back from its recorded reason."""
    from gridrun.tuning.pruning import parse_pruned_reason

    found: dict[int, tuple[float, float]] = {}
    for record in experiments:
        if record.state is State.PRUNED and record.reason:
            point = parse_pruned_reason(record.reason)
            if point is not None:
                found[record.id] = point
    return found
