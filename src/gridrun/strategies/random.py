"""`random_search`: `num_trials` distinct combinations, drawn uniformly, listed in grid order.

The indices are drawn with Floyd's algorithm, O(num_trials) in time and memory whatever the
size of the grid (10^18 combinations or more), from `random.Random(seed)`, whose integer
draws are stable across Python versions.
"""

from __future__ import annotations

from gridrun.errors import UserError
from gridrun.strategies.base import Selection, Strategy, StrategySettings


class RandomSearch(Strategy):
    name = "random_search"

    def select(self, grid_size: int, settings: StrategySettings) -> Selection:
        trials = settings.num_trials
        if trials is None:
            raise UserError(
                "random_search needs --num_trials N (how many combinations to draw), "
                f"out of the {grid_size:,} in the grid"
            )
        if trials < 1:
            raise UserError(f"--num_trials must be at least 1, got {trials}")
        if trials > 10_000_000:
            raise UserError(f"--num_trials {trials} is more than the 10,000,000 a run may hold")
        if trials >= grid_size:
            notices: tuple[str, ...] = ()
            if trials > grid_size:
                notices = (
                    f"--num_trials {trials} is more than the {grid_size:,} combinations "
                    "in the grid; running the whole grid",
                )
            return Selection(range(grid_size), notices)
        return Selection(sample_indices(grid_size, trials, settings.seed))


def sample_indices(population: int, count: int, seed: int) -> list[int]:
    """`count` distinct integers from `range(population)`, uniformly, sorted (Floyd, 1987)."""
    import random  # here: only a sample of the grid needs it

    rng = random.Random(seed)
    chosen: set[int] = set()
    for upper in range(population - count, population):
        candidate = rng.randrange(upper + 1)
        chosen.add(upper if candidate in chosen else candidate)
    return sorted(chosen)
