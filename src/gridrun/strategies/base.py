"""The strategy contract: which combinations of the grid a run is made of.

A strategy is a pure function of the grid's size and its settings: called again with the
same seed it chooses the same combinations in the same order, so a run (or its resume)
rebuilds its plan from what is recorded, with no state of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, NamedTuple

if TYPE_CHECKING:
    from gridrun.spec.space import SearchSpace


class StrategySettings(NamedTuple):
    """What the user asked of the strategy. `seed` is always set (drawn if not given)."""

    seed: int
    num_trials: int | None = None


class Selection(NamedTuple):
    """The chosen grid indices, in the order the experiments are listed and launched."""

    indices: Sequence[int]
    notices: tuple[str, ...] = ()


class Strategy(ABC):
    """Chooses which combinations of a grid become experiments.

    Subclasses set `name`. `parses_values` is False for a strategy that passes every
    value verbatim. `select` must not build the grid, which may hold 10^18 combinations.
    """

    name: ClassVar[str]
    parses_values: ClassVar[bool] = True
    adaptive: ClassVar[bool] = False
    """An adaptive strategy chooses each experiment's values when it starts, from the results
    so far: the run records placeholders (no values yet) that the driver fills in."""

    def check_space(self, space: SearchSpace) -> tuple[str, ...]:
        """Raise `UserError` if the strategy cannot search `space`; return notices."""
        return ()

    @abstractmethod
    def select(self, grid_size: int, settings: StrategySettings) -> Selection:
        """The indices (each in `range(grid_size)`) of the experiments, in order.

        Raises `UserError` when the settings do not fit the strategy.
        """
