"""The recursive-descent parser of one sweep value. No `eval`, no `literal_eval`, no shell.

    value    := list | call | scalar
    list     := '[' item ((',')? item)* (',')? ']'        items split by commas or white space
    item     := STRING | WORD
    call     := NAME '(' argument (',' argument)* (',')? ')'
    argument := NUMBER | NAME '=' NUMBER

A value that starts with `[` is a list and one that starts with `name(` a call; anything else
is a fixed scalar, passed verbatim (or unquoted, when the whole of it is one quoted string).
"""

from __future__ import annotations

import math
import re
import sys

from gridrun.errors import SpecError
from gridrun.spec.domains import Choice, Distribution, Domain, Fixed, IntRange
from gridrun.spec.functions import (
    DISTRIBUTIONS,
    FunctionCallError,
    Number,
    bind,
    canonical_name,
    function_names,
)
from gridrun.spec.tokens import Kind, Token, tokenize

CALL_START = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_.]*\s*\(")
INTEGER = re.compile(r"[+-]?[0-9]+")
FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
QUOTE_HINT = "quote the whole value to pass it literally, e.g. \"'...'\""


def parse_value(value: str) -> Domain:
    """Parse one value of a flag into its domain. Raises `SpecError` (and nothing else)."""
    stripped = value.lstrip()
    if stripped.startswith("["):
        return _Parser(value).parse_list()
    if CALL_START.match(value):
        return _Parser(value).parse_call()
    return Fixed(_unquote_whole(value))


def parse_number(text: str) -> Number | None:
    """An int or float literal (`32`, `-1`, `1e-2`, `.5`), or None when `text` is not one.

    An integer with more digits than `int()` converts (4,300 by default) reads as +/-inf.
    """
    if INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than int() converts (sys.int_info): too large anyway
            return math.inf if not text.startswith("-") else -math.inf
    if FLOAT.fullmatch(text):
        return float(text)
    return None


def _unquote_whole(value: str) -> str:
    """`'bert'` and `"bert"` are `bert`; anything else is itself."""
    try:
        tokens = list(tokenize(value))
    except SpecError:
        return value
    if len(tokens) == 2 and tokens[0].kind is Kind.STRING:
        return tokens[0].text
    return value


class _Parser:
    """One pass over the tokens of one value."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.tokens = list(tokenize(value))
        self.position = 0

    # -- token helpers ------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind is not Kind.END:
            self.position += 1
        return token

    def error(self, message: str, token: Token, expected: str = "") -> SpecError:
        return SpecError(message, self.value, token.column, expected)

    def unexpected(self, token: Token, expected: str) -> SpecError:
        return self.error(f"unexpected {token.describe()}", token, expected)

    def expect(self, kind: Kind, expected: str) -> Token:
        token = self.peek()
        if token.kind is not kind:
            raise self.unexpected(token, expected)
        return self.advance()

    def expect_end(self, what: str) -> None:
        token = self.peek()
        if token.kind is not Kind.END:
            raise self.error(f"unexpected {token.describe()} after {what}", token, "nothing more")

    # -- lists --------------------------------------------------------------------------
    def parse_list(self) -> Choice:
        opening = self.expect(Kind.LBRACKET, "'['")
        items: list[str] = []
        while True:
            token = self.peek()
            if token.kind is Kind.RBRACKET:
                self.advance()
                break
            if token.kind is Kind.COMMA:
                if not items:
                    raise self.error("a list cannot start with ','", token, "a list item")
                self.advance()
                token = self.peek()
                if token.kind is Kind.RBRACKET:
                    continue
                if token.kind is Kind.COMMA:
                    raise self.error("empty list item", token, "a list item between commas")
            if token.kind in (Kind.STRING, Kind.WORD):
                items.append(self.advance().text)
            elif token.kind is Kind.END:
                raise self.error("unterminated list", token, "',', a list item or ']'")
            elif token.kind is Kind.LBRACKET:
                raise self.error("nested lists are not supported", token, "a list item")
            else:
                raise self.unexpected(token, "',', a list item or ']' (quote items holding it)")
        if not items:
            raise self.error("empty list", opening, "at least one item, e.g. [1, 2]")
        self.expect_end("the list")
        return Choice(tuple(items))

    # -- calls --------------------------------------------------------------------------
    def parse_call(self) -> Domain:
        name_token = self.expect(Kind.WORD, "a function name")
        name = canonical_name(name_token.text)
        if name != "range" and name not in DISTRIBUTIONS:
            raise self.error(
                f"unknown function {name_token.text!r}",
                name_token,
                f"one of {', '.join(function_names())}; {QUOTE_HINT}",
            )
        self.expect(Kind.LPAREN, "'('")
        positional: list[Number] = []
        keywords: dict[str, tuple[int, Number]] = {}
        argument_tokens: list[Token] = []
        while self.peek().kind is not Kind.RPAREN:
            if argument_tokens:
                self.expect(Kind.COMMA, "',' or ')'")
                if self.peek().kind is Kind.RPAREN:
                    break
            keyword, number, token = self.parse_argument()
            if keyword is None:
                if keywords:
                    raise self.error("positional argument after a named one", token, "name=value")
                positional.append(number)
            else:
                if keyword in keywords:
                    raise self.error(f"{name}() got {keyword!r} twice", token, "each name once")
                keywords[keyword] = (len(argument_tokens), number)
            argument_tokens.append(token)
        closing = self.advance()
        self.expect_end(f"{name}(...)")
        if name == "range":
            return self.build_range(positional, keywords, argument_tokens, closing)
        function = DISTRIBUTIONS[name]
        try:
            arguments, count = bind(function, positional, dict(keywords))
        except FunctionCallError as error:
            token = argument_tokens[error.index] if error.index is not None else closing
            if error.index is not None and error.index >= len(argument_tokens):
                token = closing
            raise self.error(error.message, token, error.expected) from None
        return Distribution(function, arguments, count)

    def parse_argument(self) -> tuple[str | None, Number, Token]:
        token = self.peek()
        if token.kind is not Kind.WORD:
            raise self.unexpected(token, "a number")
        self.advance()
        if self.peek().kind is Kind.EQUALS:
            if not NAME.fullmatch(token.text):
                raise self.error(f"{token.text!r} is not a parameter name", token, "name=value")
            self.advance()
            value_token = self.peek()
            if value_token.kind is not Kind.WORD:
                raise self.unexpected(value_token, "a number")
            self.advance()
            return token.text, self.number(value_token), token
        return None, self.number(token), token

    def number(self, token: Token) -> Number:
        number = parse_number(token.text)
        if number is None:
            raise self.error(f"{token.text!r} is not a number", token, "a number like 3, 0.1, 1e-5")
        if isinstance(number, float) and INTEGER.fullmatch(token.text):
            raise self.error(
                f"an integer of {len(token.text):,} digits is too large", token, "a smaller number"
            )
        return number

    def build_range(
        self,
        positional: list[Number],
        keywords: dict[str, tuple[int, Number]],
        tokens: list[Token],
        closing: Token,
    ) -> IntRange:
        usage = "range(stop), range(start, stop) or range(start, stop, step) with integers"
        if keywords:
            raise self.error("range() takes no named arguments", tokens[len(positional)], usage)
        if not 1 <= len(positional) <= 3:
            token = tokens[3] if len(positional) > 3 else closing
            raise self.error(f"range() takes 1 to 3 arguments, got {len(positional)}", token, usage)
        for number, token in zip(positional, tokens, strict=False):
            if not isinstance(number, int):
                raise self.error(f"range() needs integers, got {token.text}", token, usage)
        ints = [int(n) for n in positional]
        start, stop, step = (0, ints[0], 1) if len(ints) == 1 else (*ints[:2], 1)
        if len(ints) == 3:
            step = ints[2]
        if step == 0:
            raise self.error("range() step must not be zero", tokens[2], "a non-zero step")
        domain = IntRange(start, stop, step)
        try:
            length = len(domain)
        except OverflowError:  # len() is at most sys.maxsize
            raise self.error(
                f"range({start}, {stop}, {step}) has too many values",
                closing,
                f"a range of at most {sys.maxsize:,} values",
            ) from None
        if length == 0:
            raise self.error(
                f"range({start}, {stop}, {step}) is empty",
                closing,
                "a range with at least one value",
            )
        return domain
