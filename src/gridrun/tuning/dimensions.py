"""The search space as a Bayesian strategy sees it: each swept flag a categorical, integer or
continuous dimension. Pure (no Optuna), so that a space that does not fit fails at once,
before anything is recorded.

A list is a categorical choice, `range(...)` an integer range, `uniform(a, b, n)` and
`loguniform(a, b, n)` the continuous interval (the count `n` is ignored, with a notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gridrun.errors import UserError
from gridrun.spec.domains import Choice, Distribution, IntRange
from gridrun.spec.space import SearchSpace

SUPPORTED = "a list [a, b, ...], range(start, stop, step), uniform(a, b, n), loguniform(a, b, n)"

Value = str | int | float


@dataclass(frozen=True)
class Dimension:
    """One swept flag: its kind and bounds (or choices)."""

    flag: str
    kind: Literal["categorical", "int", "float"]
    choices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0
    step: int = 1
    log: bool = False

    def parse(self, text: str) -> Value:
        """A recorded value (the text the script was given) as the sampler knows it."""
        if self.kind == "categorical":
            if text not in self.choices:
                raise ValueError(f"{text!r} is not one of {self.flag}'s choices")
            return text
        if self.kind == "int":
            return int(text)
        return float(text)

    def render(self, value: Value) -> str:
        """A proposed value as the script's argument."""
        if self.kind == "categorical":
            return str(value)
        if self.kind == "int":
            return str(int(value))
        return repr(float(value))


def search_dimensions(space: SearchSpace) -> tuple[tuple[Dimension, ...], tuple[str, ...]]:
    """The dimensions of `space`, in command-line order, and notices for the user.

    Raises `UserError` naming the flag and what is supported when a swept value cannot be
    searched, and when nothing is swept at all.
    """
    dimensions: list[Dimension] = []
    ignored: list[str] = []
    for _, flag in space.dimensions:
        domain = flag.domain
        if isinstance(domain, Choice):
            dimensions.append(Dimension(flag.name, "categorical", choices=domain.items))
        elif isinstance(domain, IntRange):
            last = domain.start + (len(domain) - 1) * domain.step
            low, high = min(domain.start, last), max(domain.start, last)
            dimensions.append(
                Dimension(flag.name, "int", low=low, high=high, step=abs(domain.step))
            )
        elif isinstance(domain, Distribution) and domain.function.name in ("uniform", "loguniform"):
            low, high = (float(a) for a in domain.arguments[:2])
            log = domain.function.name == "loguniform"
            if not low < high:
                raise UserError(
                    f"{flag.name}: {domain.describe()} is an empty interval for the bayesian "
                    "strategy; expected low < high"
                )
            dimensions.append(Dimension(flag.name, "float", low=low, high=high, log=log))
            ignored.append(flag.name)
        else:
            described = domain.describe() if domain is not None else "a fixed value"
            raise UserError(
                f"{flag.name}: the bayesian strategy cannot search {described}; "
                f"expected {SUPPORTED}"
            )
    if not dimensions:
        raise UserError(
            "the bayesian strategy needs at least one swept flag, "
            'e.g. --lr "uniform(1e-4, 1e-1, 1)"'
        )
    notices: tuple[str, ...] = ()
    if ignored:
        notices = (
            f"bayesian searches the whole interval of {', '.join(ignored)}: "
            "the count of draws is ignored",
        )
    return tuple(dimensions), notices
