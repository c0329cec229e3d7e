"""The registry of strategies, by the name `--strategy` takes."""

from __future__ import annotations

from gridrun.errors import UserError
from gridrun.strategies.base import Selection, Strategy, StrategySettings
from gridrun.strategies.bayesian import BayesianSearch
from gridrun.strategies.grid import GridSearch
from gridrun.strategies.none import NoSearch
from gridrun.strategies.random import RandomSearch

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (GridSearch, RandomSearch, BayesianSearch, NoSearch)
}


def strategy_names() -> list[str]:
    """The names `--strategy` accepts, in the order help lists them."""
    return list(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The strategy called `name`; a `UserError` naming the valid ones otherwise."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise UserError(
            f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}"
        ) from None


__all__ = ["Selection", "Strategy", "StrategySettings", "get_strategy", "strategy_names"]
