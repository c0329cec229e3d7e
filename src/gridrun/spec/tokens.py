"""The tokenizer of sweep values: text in, tokens that know their column out.

Tokens are punctuation (`[ ] ( ) , =`), quoted strings (`'...'` or `"..."`, where a
backslash escapes the quote character or itself) and words: maximal runs of anything else
but white space. Numbers are words; the parser decides where a word must be a number.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import NamedTuple

from gridrun.errors import SpecError


class Kind(Enum):
    """What a token is."""

    LBRACKET = "'['"
    RBRACKET = "']'"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    EQUALS = "'='"
    STRING = "a quoted string"
    WORD = "a word"
    END = "end of the value"


PUNCTUATION = {
    "[": Kind.LBRACKET,
    "]": Kind.RBRACKET,
    "(": Kind.LPAREN,
    ")": Kind.RPAREN,
    ",": Kind.COMMA,
    "=": Kind.EQUALS,
}
QUOTES = "'\""
WORD_STOPS = frozenset(PUNCTUATION) | frozenset(QUOTES)


class Token(NamedTuple):
    """One token: its kind, its text (a string's content, unquoted), and its 0-based column."""

    kind: Kind
    text: str
    column: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is Kind.END:
            return "end of the value"
        if self.kind is Kind.STRING:
            return f"the string {self.text!r}"
        if self.kind is Kind.WORD:
            return f"{self.text!r}"
        return self.kind.value


def tokenize(value: str) -> Iterator[Token]:
    """Yield the tokens of `value`, ending with one `END` token.

    Raises `SpecError` for an unterminated quoted string.
    """
    position = 0
    length = len(value)
    while position < length:
        char = value[position]
        if char.isspace():
            position += 1
        elif char in PUNCTUATION:
            yield Token(PUNCTUATION[char], char, position)
            position += 1
        elif char in QUOTES:
            text, end = _read_string(value, position)
            yield Token(Kind.STRING, text, position)
            position = end
        else:
            start = position
            while position < length:
                char = value[position]
                if char.isspace() or char in WORD_STOPS:
                    break
                position += 1
            yield Token(Kind.WORD, value[start:position], start)
    yield Token(Kind.END, "", length)


def _read_string(value: str, start: int) -> tuple[str, int]:
    """Read the quoted string that starts at `start`; return its content and the end column."""
    quote = value[start]
    chars: list[str] = []
    position = start + 1
    while position < len(value):
        char = value[position]
        if char == "\\" and position + 1 < len(value) and value[position + 1] in (quote, "\\"):
            chars.append(value[position + 1])
            position += 2
        elif char == quote:
            return "".join(chars), position + 1
        else:
            chars.append(char)
            position += 1
    raise SpecError("unterminated string", value, start, f"a closing {quote}")
