"""Frozen domains: *what* values a flag takes, kept apart from *how* they are drawn.

A `Domain` is what the parser makes of one value. `Fixed` is not swept. `Choice` and
`IntRange` are finite sequences already. A `Distribution` says which numpy distribution and
how many draws; `Distribution.draw(seed)` turns it into `Drawn` values, the only step that
needs randomness (and numpy).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gridrun.spec.functions import SweepFunction


class Domain(ABC):
    """The values one flag takes. A swept domain has a length and renders its i-th value.

    Domains are values: equal when of the same kind with equal fields.
    """

    __slots__ = ()
    swept: bool = True

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def describe(self) -> str:
        """A short human description, e.g. `3 items`, `range(1, 10, 2)`."""


class Values(Domain):
    """A swept domain whose values are known without randomness."""

    __slots__ = ()

    @abstractmethod
    def value(self, index: int) -> str:
        """The `index`-th value, rendered as the script will receive it."""


class Fixed(Domain):
    """One value, passed as it is (quotes around the whole value removed)."""

    __slots__ = ("text",)
    swept = False

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fixed) and other.text == self.text

    def __len__(self) -> int:
        return 1

    def value(self, index: int) -> str:
        return self.text

    def describe(self) -> str:
        return repr(self.text)


class Choice(Values):
    """A list: one experiment per item, each item rendered exactly as written."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[str, ...]) -> None:
        self.items = items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and other.items == self.items

    def __len__(self) -> int:
        return len(self.items)

    def value(self, index: int) -> str:
        return self.items[index]

    def describe(self) -> str:
        return f"list of {len(self.items)}"


class IntRange(Values):
    """Python's `range(start, stop, step)`, never materialized (it may be huge)."""

    __slots__ = ("start", "step", "stop")

    def __init__(self, start: int, stop: int, step: int) -> None:
        self.start = start
        self.stop = stop
        self.step = step

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntRange):
            return False
        return (self.start, self.stop, self.step) == (other.start, other.stop, other.step)

    def __len__(self) -> int:
        return _range_length(self.start, self.stop, self.step)

    def value(self, index: int) -> str:
        return str(self.start + index * self.step)

    def describe(self) -> str:
        return f"range({self.start}, {self.stop}, {self.step})"


def _range_length(start: int, stop: int, step: int) -> int:
    """len(range(start, stop, step)) for integers of any size."""
    if step > 0:
        return max(0, (stop - start + step - 1) // step)
    return max(0, (start - stop - step - 1) // -step)


class Distribution(Domain):
    """`count` draws from a sweep function (a numpy distribution, or `loguniform`)."""

    __slots__ = ("arguments", "count", "function")

    def __init__(
        self, function: SweepFunction, arguments: tuple[float | int, ...], count: int
    ) -> None:
        self.function = function
        self.arguments = arguments
        self.count = count

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Distribution):
            return False
        mine = (self.function, self.arguments, self.count)
        return mine == (other.function, other.arguments, other.count)

    def __len__(self) -> int:
        return self.count

    def describe(self) -> str:
        args = ", ".join(repr(a) for a in (*self.arguments, self.count))
        return f"{self.function.name}({args})"

    def draw(self, seed: int, key: str) -> Drawn:
        """The `count` values drawn with the stream of (`seed`, `key`).

        `key` (the flag) gives each flag its own stream, so adding or moving another flag
        does not change this one's values.
        """
        import numpy as np

        stream = zlib.crc32(key.encode("utf-8"))
        rng = np.random.default_rng([seed, stream])
        samples = self.function.sample(rng, self.arguments, self.count)
        if self.function.discrete:
            texts = tuple(repr(int(v)) for v in samples.tolist())
        else:
            texts = tuple(repr(float(v)) for v in samples.tolist())
        return Drawn(texts)


class Drawn(Values):
    """The values a `Distribution` drew, as Python's shortest round-trip `repr`."""

    __slots__ = ("texts",)

    def __init__(self, texts: tuple[str, ...]) -> None:
        self.texts = texts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Drawn) and other.texts == self.texts

    def __len__(self) -> int:
        return len(self.texts)

    def value(self, index: int) -> str:
        return self.texts[index]

    def describe(self) -> str:
        return f"{len(self.texts)} draws"


def values_of(domain: Values) -> Sequence[str]:
    """All values of a finite domain, in order (for tests and small displays)."""
    return [domain.value(i) for i in range(len(domain))]
