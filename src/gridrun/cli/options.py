"""Option helpers: Grid's underscore spelling and the hyphenated one, both accepted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def option(name: str, *extra: str, dest: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:
    """A click option named `--name_with_underscores`, also spelled `--name-with-underscores`;
    its value goes to the parameter `dest` (default: `name`)."""
    flag = f"--{name}"
    spellings = [flag]
    if "_" in name:
        spellings.append(f"--{name.replace('_', '-')}")
    return click.option(*spellings, *extra, dest or name, **kwargs)
