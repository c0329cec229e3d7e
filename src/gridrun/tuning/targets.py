"""`--stop_when "val_loss<0.1"`: a target that ends the sweep once any experiment meets it."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from gridrun.errors import UserError

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_TARGET = re.compile(r"\s*([A-Za-z_][\w./-]*)\s*(<=|>=|<|>)\s*(\S+)\s*")
EXPECTED = "expected METRIC<VALUE, METRIC<=VALUE, METRIC>VALUE or METRIC>=VALUE, e.g. val_loss<0.1"


@dataclass(frozen=True)
class Target:
    """A comparison of one metric with a number."""

    metric: str
    comparison: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Target:
        """`val_loss<0.1` and the like; a `UserError` saying what is expected otherwise."""
        match = _TARGET.fullmatch(text)
        if match is None:
            raise UserError(f"--stop_when {text!r}: {EXPECTED}")
        metric, comparison, number = match.groups()
        try:
            threshold = float(number)
        except ValueError:
            raise UserError(
                f"--stop_when {text!r}: {number!r} is not a number; {EXPECTED}"
            ) from None
        if math.isnan(threshold):
            raise UserError(f"--stop_when {text!r}: the value must be a number, not NaN")
        return cls(metric, comparison, threshold)

    def met(self, value: float) -> bool:
        return not math.isnan(value) and _OPERATORS[self.comparison](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.metric}{self.comparison}{self.threshold:g}"
