"""`none`: every value passed verbatim, as one experiment (no sweep syntax at all)."""

from __future__ import annotations

from gridrun.strategies.base import Selection, Strategy, StrategySettings


class NoSearch(Strategy):
    name = "none"
    parses_values = False

    def select(self, grid_size: int, settings: StrategySettings) -> Selection:
        notices: tuple[str, ...] = ()
        if settings.num_trials is not None:
            notices = ("--num_trials has no effect with --strategy none",)
        return Selection(range(1), notices)
