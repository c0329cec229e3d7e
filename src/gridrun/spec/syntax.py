"""Writing domains back in the sweep syntax: `parse_value(to_syntax(d)) == d`.

A run records its space in this form, and the dashboard and `status` show it.
"""

from __future__ import annotations

from gridrun.spec.domains import Choice, Distribution, Domain, Drawn, Fixed, IntRange
from gridrun.spec.parser import parse_value
from gridrun.spec.tokens import WORD_STOPS


def quote(text: str) -> str:
    """`text` as one quoted string of the syntax (backslash and quote escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def list_item(text: str) -> str:
    """A list item as written in a list: bare when it reads back as itself, quoted otherwise."""
    bare = text and not any(c.isspace() or c in WORD_STOPS or c == "=" for c in text)
    return text if bare else quote(text)


def to_syntax(domain: Domain) -> str:
    """The value that parses back into `domain` (a `Drawn` domain as the list of its draws)."""
    if isinstance(domain, Fixed):
        try:
            if parse_value(domain.text) == domain:
                return domain.text
        except Exception:
            pass
        return quote(domain.text)
    if isinstance(domain, Choice):
        return "[" + ", ".join(list_item(item) for item in domain.items) + "]"
    if isinstance(domain, Drawn):
        return "[" + ", ".join(domain.texts) + "]"
    if isinstance(domain, IntRange):
        return f"range({domain.start}, {domain.stop}, {domain.step})"
    if isinstance(domain, Distribution):
        return domain.describe()
    raise TypeError(f"no syntax for {type(domain).__name__}")
