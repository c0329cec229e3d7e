"""A script's argument list as a search space, and the realized grid of its values.

`parse_arguments` splits the arguments after SCRIPT into positional words (passed as is),
bare flags, and flags with a value (`--flag value` or `--flag=value`), parsing each value
into a domain. `SearchSpace.realize(seed)` draws the distributions and gives a `Grid`: the
cartesian product of the swept flags, in command-line order, the last flag varying fastest,
addressed by index so that it is never built whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cached_property
from typing import NamedTuple

from gridrun.errors import Caret, SpecError, UserError
from gridrun.spec.domains import Distribution, Domain, Fixed, Values
from gridrun.spec.parser import parse_number, parse_value

NON_FINITE = re.compile(r"-(inf|infinity|nan)", re.IGNORECASE)


class Positional(NamedTuple):
    """A word that is not a flag nor a flag's value: passed as it is."""

    text: str

    def render(self, value: str | None = None) -> list[str]:
        return [self.text]


class Flag(NamedTuple):
    """A flag, with its value's domain (None for a bare flag) and how it was written."""

    name: str
    domain: Domain | None = None
    joined: bool = False
    """Written `--name=value` (and so rendered that way), rather than `--name value`."""

    def render(self, value: str | None = None) -> list[str]:
        if self.domain is None:
            return [self.name]
        text = value if value is not None else self.domain_text()
        return [f"{self.name}={text}"] if self.joined else [self.name, text]

    def domain_text(self) -> str:
        assert isinstance(self.domain, Fixed)
        return self.domain.text


Argument = Positional | Flag


def is_flag(token: str) -> bool:
    """`-x`, `--name`, `--name=v` are flags; `-1`, `-1e-3`, `-inf`, `-` and `--` are not."""
    if len(token) < 2 or not token.startswith("-") or token == "--":
        return False
    return parse_number(token) is None and not NON_FINITE.fullmatch(token)


def parse_arguments(args: Sequence[str], verbatim: bool = False) -> tuple[Argument, ...]:
    """The arguments after SCRIPT, each value parsed (or kept verbatim when `verbatim`).

    Raises `SpecError` (told its flag) for a malformed value, and `UserError` for a flag
    swept twice.
    """
    parsed: list[Argument] = []
    swept_flags: set[str] = set()
    position = 0
    while position < len(args):
        token = args[position]
        position += 1
        if not is_flag(token):
            parsed.append(Positional(token))
            continue
        name, joined, value = token, False, None
        if "=" in token:
            name, value = token.split("=", 1)
            joined = True
        elif position < len(args) and not is_flag(args[position]):
            value = args[position]
            position += 1
        if value is None:
            parsed.append(Flag(name))
            continue
        try:
            domain = Fixed(value) if verbatim else parse_value(value)
        except SpecError as error:
            raise error.for_flag(name) from None
        if domain.swept:
            if name in swept_flags:
                raise UserError(
                    f"{name} is swept twice; give each swept flag one value expression\n"
                    + Caret(" ".join(args), _offset(args, position - 1)).render()
                )
            swept_flags.add(name)
        parsed.append(Flag(name, domain, joined))
    return tuple(parsed)


def _offset(args: Sequence[str], index: int) -> int:
    return sum(len(a) + 1 for a in args[:index])


class SearchSpace:
    """The parsed arguments of a script; the swept flags are its dimensions."""

    def __init__(self, arguments: tuple[Argument, ...]) -> None:
        self.arguments = arguments

    @classmethod
    def from_args(cls, args: Sequence[str], verbatim: bool = False) -> SearchSpace:
        return cls(parse_arguments(args, verbatim))

    @cached_property
    def dimensions(self) -> tuple[tuple[int, Flag], ...]:
        """(position in `arguments`, flag) of each swept flag, in command-line order."""
        return tuple(
            (i, a)
            for i, a in enumerate(self.arguments)
            if isinstance(a, Flag) and a.domain is not None and a.domain.swept
        )

    @property
    def size(self) -> int:
        """How many combinations the swept flags make (1 when nothing is swept)."""
        return math.prod(len(flag.domain) for _, flag in self.dimensions if flag.domain)

    def realize(self, seed: int) -> Grid:
        """Draw every distribution with `seed` and return the grid of concrete values."""
        values: list[Values] = []
        for _, flag in self.dimensions:
            domain = flag.domain
            if isinstance(domain, Distribution):
                values.append(domain.draw(seed, flag.name))
            else:
                assert isinstance(domain, Values)
                values.append(domain)
        return Grid(self, tuple(values))

    def describe(self) -> dict[str, str]:
        """Each swept flag and its domain, in words (what a run records of its space)."""
        return {flag.name: flag.domain.describe() for _, flag in self.dimensions if flag.domain}

    def params(self, combination: Sequence[str]) -> dict[str, str]:
        """The swept flags and their values, e.g. `{"--lr": "0.1"}` (one value per dimension,
        in command-line order)."""
        return {
            flag.name: value for (_, flag), value in zip(self.dimensions, combination, strict=True)
        }

    def args(self, combination: Sequence[str]) -> list[str]:
        """The script's whole argument list with these values of the swept flags."""
        chosen = {
            position: value
            for (position, _), value in zip(self.dimensions, combination, strict=True)
        }
        rendered: list[str] = []
        for position, argument in enumerate(self.arguments):
            rendered.extend(argument.render(chosen.get(position)))
        return rendered


class Grid:
    """The cartesian product of a space's realized values, addressed by index."""

    def __init__(self, space: SearchSpace, values: tuple[Values, ...]) -> None:
        self.space = space
        self.values = values

    @cached_property
    def radices(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    @cached_property
    def size(self) -> int:
        return math.prod(self.radices)

    def combination(self, index: int) -> tuple[str, ...]:
        """The values of the `index`-th combination, the last flag varying fastest."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        digits: list[str] = []
        for values, radix in zip(reversed(self.values), reversed(self.radices), strict=True):
            index, digit = divmod(index, radix)
            digits.append(values.value(digit))
        digits.reverse()
        return tuple(digits)

    def params(self, combination: tuple[str, ...]) -> dict[str, str]:
        """The swept flags and their values, e.g. `{"--lr": "0.1"}`."""
        return self.space.params(combination)

    def args(self, combination: tuple[str, ...]) -> list[str]:
        """The script's whole argument list for one combination."""
        return self.space.args(combination)
