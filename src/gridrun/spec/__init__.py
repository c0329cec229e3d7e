"""The sweep syntax: tokenizer, parser, sweep functions, domains and the search space."""

from gridrun.spec.domains import Choice, Distribution, Domain, Drawn, Fixed, IntRange, Values
from gridrun.spec.parser import parse_value
from gridrun.spec.space import Flag, Grid, Positional, SearchSpace, parse_arguments

__all__ = [
    "Choice",
    "Distribution",
    "Domain",
    "Drawn",
    "Fixed",
    "Flag",
    "Grid",
    "IntRange",
    "Positional",
    "SearchSpace",
    "Values",
    "parse_arguments",
    "parse_value",
]
