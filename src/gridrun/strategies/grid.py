"""`grid_search`: every combination, in command-line order, the last flag varying fastest."""

from __future__ import annotations

from gridrun.strategies.base import Selection, Strategy, StrategySettings


class GridSearch(Strategy):
    name = "grid_search"

    def select(self, grid_size: int, settings: StrategySettings) -> Selection:
        notices: tuple[str, ...] = ()
        if settings.num_trials is not None:
            notices = ("--num_trials only applies to random_search; running the whole grid",)
        return Selection(range(grid_size), notices)
