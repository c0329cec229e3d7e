"""Expansion: from what the user typed to the experiments of a run. A pure function.

`plan_sweep` parses the script's arguments into a search space, realizes its grid with the
seed, lets the strategy choose the combinations, and returns a `Plan` whose experiments are
built lazily, one by one, so that even a large plan costs nothing until it is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NamedTuple

from gridrun.errors import UserError
from gridrun.launcher import script_command
from gridrun.names import experiment_name
from gridrun.spec.space import Grid, SearchSpace
from gridrun.strategies import Selection, StrategySettings, get_strategy

MAX_EXPERIMENTS = 10_000_000
"""The most experiments one run may hold."""

SEED_BOUND = 2**63
"""Seeds are integers in [0, SEED_BOUND)."""


class SweepRequest(NamedTuple):
    """What the user asked for: the script, its arguments, and the strategy's settings."""

    script: str
    script_args: tuple[str, ...] = ()
    strategy: str = "grid_search"
    num_trials: int | None = None
    seed: int | None = None
    python: str | None = None


class Experiment(NamedTuple):
    """One experiment: its place in the run, swept values, script arguments, full argv."""

    index: int
    name: str
    params: dict[str, str]
    args: tuple[str, ...]
    command: tuple[str, ...]


class Plan:
    """The experiments of a run, in launch order; built on demand.

    `grid` is None for an adaptive strategy, whose values are chosen as experiments start.
    """

    __slots__ = ("grid", "prefix", "run", "seed", "selection", "space", "strategy")

    def __init__(
        self,
        run: str,
        strategy: str,
        seed: int,
        space: SearchSpace,
        grid: Grid | None,
        selection: Selection,
        prefix: tuple[str, ...],
    ) -> None:
        self.run = run
        self.strategy = strategy
        self.seed = seed
        self.space = space
        self.grid = grid
        self.selection = selection
        self.prefix = prefix

    def renamed(self, run: str) -> Plan:
        """The same plan for a run named `run` (its experiments are named after the run)."""
        return Plan(
            run, self.strategy, self.seed, self.space, self.grid, self.selection, self.prefix
        )

    @property
    def adaptive(self) -> bool:
        return self.grid is None

    @property
    def notices(self) -> tuple[str, ...]:
        return self.selection.notices

    def __len__(self) -> int:
        return len(self.selection.indices)

    def experiment(self, position: int) -> Experiment:
        """The experiment at `position` (0-based) in the run; for an adaptive strategy a
        placeholder, without values or command until it starts."""
        if self.grid is None:
            name = experiment_name(self.run, position)
            return Experiment(index=position, name=name, params={}, args=(), command=())
        combination = self.grid.combination(self.selection.indices[position])
        args = tuple(self.grid.args(combination))
        return Experiment(
            index=position,
            name=experiment_name(self.run, position),
            params=self.grid.params(combination),
            args=args,
            command=(*self.prefix, *args),
        )

    def __iter__(self) -> Iterator[Experiment]:
        return (self.experiment(position) for position in range(len(self)))


def draw_seed() -> int:
    """A fresh random seed, for a run that was given none (it is recorded and printed)."""
    return int.from_bytes(os.urandom(4), "little")


def check_seed(seed: int) -> int:
    if not 0 <= seed < SEED_BOUND:
        raise UserError(f"--seed must be an integer in [0, 2**63), got {seed}")
    return seed


def _count(selection: Selection, grid_size: int) -> int:
    try:
        return len(selection.indices)
    except OverflowError:  # a range beyond sys.maxsize
        return grid_size


def plan_sweep(request: SweepRequest, run: str, seed: int) -> Plan:
    """The experiments of `request`, named after `run`, drawn with `seed`.

    Raises `SpecError` for a malformed value and `UserError` for settings that do not fit,
    before anything is launched or recorded.
    """
    check_seed(seed)
    strategy = get_strategy(request.strategy)
    space = SearchSpace.from_args(request.script_args, verbatim=not strategy.parses_values)
    settings = StrategySettings(seed, request.num_trials)
    if strategy.adaptive:
        notices = strategy.check_space(space)
        grid = None
        selection = strategy.select(space.size, settings)
        selection = Selection(selection.indices, (*notices, *selection.notices))
        count = len(selection.indices)
    else:
        grid = space.realize(seed)
        selection = strategy.select(grid.size, settings)
        count = _count(selection, grid.size)
    if count > MAX_EXPERIMENTS:
        raise UserError(
            f"the sweep makes {count:,} experiments, more than the {MAX_EXPERIMENTS:,} a run "
            "may hold; use --strategy random_search --num_trials N to run a sample"
        )
    prefix = script_command(request.script, request.python)
    return Plan(run, strategy.name, seed, space, grid, selection, prefix)
