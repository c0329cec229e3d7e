"""gridrun's exceptions: one root, user errors that carry an exit code and print one clean line.

Every error a user can cause derives from `UserError`: the CLI prints its message (no
traceback unless `--debug` or `GRIDRUN_DEBUG=1`) and exits with its `exit_code`.
"""

from __future__ import annotations

from typing import NamedTuple


class GridrunError(Exception):
    """The root of every exception gridrun raises on purpose."""

    exit_code: int = 1


class UserError(GridrunError):
    """Bad input from the user: a clear message and exit code 2 (as click's usage errors)."""

    exit_code = 2


class Caret(NamedTuple):
    """Where in a piece of text an error points: `column` is 0-based, into `text`."""

    text: str
    column: int

    def render(self, indent: str = "  ") -> str:
        """The text and a caret under the column, on two lines."""
        column = max(0, min(self.column, len(self.text)))
        return f"{indent}{self.text}\n{indent}{' ' * column}^"


class SpecError(UserError):
    """A sweep value that does not parse, or a sweep function called wrongly.

    `value` is the text that was parsed, `column` (0-based) where the problem is, and
    `expected` says what would have been valid there. The CLI adds the flag and prints
    the value with a caret under the column.
    """

    def __init__(self, message: str, value: str, column: int, expected: str = "") -> None:
        self.message = message
        self.value = value
        self.column = column
        self.expected = expected
        self.flag: str | None = None
        super().__init__(self.__str__())

    def for_flag(self, flag: str | None) -> SpecError:
        """This error, told which flag's value it is about."""
        self.flag = flag
        self.args = (self.__str__(),)
        return self

    def headline(self) -> str:
        """The one-line summary: flag, what was wrong, at which column, what was expected."""
        where = f"invalid value for {self.flag}" if self.flag else "invalid sweep value"
        text = f"{where} at column {self.column + 1}: {self.message}"
        if self.expected:
            text += f"; expected {self.expected}"
        return text

    def caret(self) -> Caret:
        """The flag and its value, with the column marked."""
        prefix = f"{self.flag} " if self.flag else ""
        return Caret(prefix + self.value, len(prefix) + self.column)

    def __str__(self) -> str:
        return f"{self.headline()}\n{self.caret().render()}"
