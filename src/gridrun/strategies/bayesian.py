"""`bayesian`: Optuna's TPE proposes each experiment's values from the results so far.

The run records `num_trials` placeholders; the driver asks the proposer
(`gridrun.tuning.proposer`) for the values of each one as it starts. Everything the proposer
knows is rebuilt from the store, so `grid resume` continues the search instead of starting over.
"""

from __future__ import annotations

from gridrun.errors import UserError
from gridrun.spec.space import SearchSpace
from gridrun.strategies.base import Selection, Strategy, StrategySettings

MAX_TRIALS = 100_000


class BayesianSearch(Strategy):
    name = "bayesian"
    adaptive = True

    def check_space(self, space: SearchSpace) -> tuple[str, ...]:
        from gridrun.tuning.dimensions import search_dimensions

        return search_dimensions(space)[1]

    def select(self, grid_size: int, settings: StrategySettings) -> Selection:
        trials = settings.num_trials
        if trials is None:
            raise UserError(
                "the bayesian strategy needs --num_trials N (how many experiments to run), "
                "and --metric NAME --mode min|max (what to optimize)"
            )
        if not 1 <= trials <= MAX_TRIALS:
            raise UserError(
                f"--num_trials must be in [1, {MAX_TRIALS:,}] for bayesian, got {trials}"
            )
        return Selection(range(trials))
