"""The registry of sweep functions: `range` and the numpy distributions (plus `loguniform`).

Each distribution is called as numpy calls it, with the number of draws as the last
argument: `uniform(low, high, n)`. Arguments may also be named, and then parameters that
numpy gives a default may be left out: `normal(scale=2, n=4)`. Values are checked before
anything is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

Number = int | float

MAX_DRAWS = 10_000_000
"""The most values one distribution may draw (a guard against typing 1e9 by mistake)."""

COUNT_NAMES = ("n", "size")


class FunctionCallError(ValueError):
    """A sweep function called with arguments it does not take; `index` is the bad one."""

    def __init__(self, message: str, index: int | None = None, expected: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.expected = expected


class Parameter(NamedTuple):
    """One parameter of a sweep function: its name, its default, whether it is an integer."""

    name: str
    default: Number | None = None
    integer: bool = False


class SweepFunction(NamedTuple):
    """A distribution callable in a sweep value.

    `sampler(rng, *arguments, size=count)` draws; `check(arguments)` returns what is wrong
    with the arguments (or None) before numpy sees them; `discrete` distributions render
    their values as integers.
    """

    name: str
    parameters: tuple[Parameter, ...]
    sampler: Callable[..., Any]
    discrete: bool = False
    check: Callable[[tuple[Number, ...]], str | None] | None = None

    def signature(self) -> str:
        """How to call it, e.g. `uniform(low=0.0, high=1.0, n)`."""
        shown = [p.name if p.default is None else f"{p.name}={p.default}" for p in self.parameters]
        return f"{self.name}({', '.join([*shown, 'n'])})"

    def sample(self, rng: np.random.Generator, arguments: tuple[Number, ...], count: int):
        """Draw `count` values (a numpy array)."""
        return self.sampler(rng, *arguments, size=count)


def _numpy(method: str) -> Callable[..., Any]:
    def sample(rng: np.random.Generator, *arguments: Number, size: int):
        return getattr(rng, method)(*arguments, size=size)

    sample.__name__ = method
    return sample


def _loguniform(rng: np.random.Generator, low: float, high: float, size: int):
    import numpy as np

    return np.exp(rng.uniform(math.log(low), math.log(high), size=size))


def _low_below_high(arguments: tuple[Number, ...]) -> str | None:
    low, high = arguments[0], arguments[1]
    return None if low < high else f"low ({low}) must be less than high ({high})"


def _positive_low_below_high(arguments: tuple[Number, ...]) -> str | None:
    if arguments[0] <= 0:
        return f"low ({arguments[0]}) must be greater than 0 in log space"
    return _low_below_high(arguments)


def _distribution(
    name: str,
    *parameters: Parameter,
    discrete: bool = False,
    method: str | None = None,
    check: Callable[[tuple[Number, ...]], str | None] | None = None,
) -> SweepFunction:
    return SweepFunction(name, parameters, _numpy(method or name), discrete, check)


P = Parameter
DISTRIBUTIONS: Mapping[str, SweepFunction] = {
    f.name: f
    for f in (
        _distribution("uniform", P("low", 0.0), P("high", 1.0), check=_low_below_high),
        SweepFunction(
            "loguniform", (P("low"), P("high")), _loguniform, check=_positive_low_below_high
        ),
        _distribution("normal", P("loc", 0.0), P("scale", 1.0)),
        _distribution("lognormal", P("mean", 0.0), P("sigma", 1.0)),
        _distribution("exponential", P("scale", 1.0)),
        _distribution("beta", P("a"), P("b")),
        _distribution("gamma", P("shape"), P("scale", 1.0)),
        _distribution("chisquare", P("df")),
        _distribution("f", P("dfnum"), P("dfden")),
        _distribution("gumbel", P("loc", 0.0), P("scale", 1.0)),
        _distribution("laplace", P("loc", 0.0), P("scale", 1.0)),
        _distribution("logistic", P("loc", 0.0), P("scale", 1.0)),
        _distribution("noncentral_chisquare", P("df"), P("nonc")),
        _distribution("noncentral_f", P("dfnum"), P("dfden"), P("nonc")),
        _distribution("pareto", P("a")),
        _distribution("power", P("a")),
        _distribution("rayleigh", P("scale", 1.0)),
        _distribution("standard_cauchy"),
        _distribution("standard_exponential"),
        _distribution("standard_gamma", P("shape")),
        _distribution("standard_normal"),
        _distribution("standard_t", P("df")),
        _distribution("triangular", P("left"), P("mode"), P("right")),
        _distribution("vonmises", P("mu"), P("kappa")),
        _distribution("wald", P("mean"), P("scale")),
        _distribution("weibull", P("a")),
        _distribution(
            "randint",
            P("low", integer=True),
            P("high", integer=True),
            discrete=True,
            method="integers",
            check=_low_below_high,
        ),
        _distribution("binomial", P("n", integer=True), P("p"), discrete=True),
        _distribution("geometric", P("p"), discrete=True),
        _distribution(
            "hypergeometric",
            P("ngood", integer=True),
            P("nbad", integer=True),
            P("nsample", integer=True),
            discrete=True,
        ),
        _distribution("logseries", P("p"), discrete=True),
        _distribution("negative_binomial", P("n"), P("p"), discrete=True),
        _distribution("poisson", P("lam", 1.0), discrete=True),
        _distribution("zipf", P("a"), discrete=True),
    )
}

NUMPY_PREFIXES = ("np.random.", "numpy.random.", "random.")


def function_names() -> list[str]:
    """Every name a sweep value may call, sorted: `range` and the distributions."""
    return sorted(["range", *DISTRIBUTIONS])


def canonical_name(name: str) -> str:
    """`np.random.uniform` and `numpy.random.uniform` are `uniform`."""
    for prefix in NUMPY_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def bind(
    function: SweepFunction,
    positional: list[Number],
    keywords: dict[str, tuple[int, Number]],
) -> tuple[tuple[Number, ...], int]:
    """Match a call's arguments to `function`'s parameters; return (arguments, count).

    `keywords` maps a name to (the index of that argument in the call, its value). The count
    is the last positional argument unless given as `n=`/`size=`. A call of positional
    arguments only gives every parameter; numpy's defaults fill in only around named ones
    (`normal(scale=2, n=3)`). Raises FunctionCallError.
    """
    usage = function.signature()
    count_keyword = next((k for k in COUNT_NAMES if k in keywords), None)
    if count_keyword is None:
        if not positional:
            raise FunctionCallError("missing the number of values to draw", None, usage)
        count_index, count = len(positional) - 1, positional[-1]
        positional = positional[:-1]
    else:
        count_index, count = keywords.pop(count_keyword)
    wanted = len(function.parameters)
    if len(positional) > wanted or (not keywords and len(positional) < wanted):
        given = len(positional) + (count_keyword is None)
        raise FunctionCallError(
            f"{function.name}() takes {wanted + 1} arguments, the last one the number of "
            f"values to draw; got {given}",
            wanted if len(positional) > wanted else None,
            usage,
        )
    values: dict[str, Number] = dict(
        zip((p.name for p in function.parameters), positional, strict=False)
    )
    for name, (index, value) in keywords.items():
        if name not in {p.name for p in function.parameters}:
            raise FunctionCallError(f"{function.name}() has no parameter {name!r}", index, usage)
        if name in values:
            raise FunctionCallError(f"{function.name}() got {name!r} twice", index, usage)
        values[name] = value
    arguments: list[Number] = []
    for position, parameter in enumerate(function.parameters):
        if parameter.name in values:
            value = values[parameter.name]
        elif parameter.default is not None:
            value = parameter.default
        else:
            raise FunctionCallError(f"missing the parameter {parameter.name!r}", None, usage)
        index = keywords[parameter.name][0] if parameter.name in keywords else position
        if parameter.integer and not isinstance(value, int):
            raise FunctionCallError(f"{parameter.name} must be an integer", index, usage)
        if isinstance(value, float) and not math.isfinite(value):
            raise FunctionCallError(f"{parameter.name} must be finite", index, usage)
        arguments.append(value)
    if not isinstance(count, int) or count < 1:
        raise FunctionCallError(
            "the number of values to draw must be a positive integer", count_index, usage
        )
    if count > MAX_DRAWS:
        raise FunctionCallError(
            f"{count} draws is more than the {MAX_DRAWS:,} allowed", count_index, usage
        )
    checked = tuple(arguments)
    problem = function.check(checked) if function.check else None
    if problem is None:
        problem = _numpy_objection(function, checked)
    if problem is not None:
        raise FunctionCallError(problem, 0 if arguments else None, usage)
    return checked, count


def _numpy_objection(function: SweepFunction, arguments: tuple[Number, ...]) -> str | None:
    """What numpy says of these arguments, drawing one value.

    (Not zero: numpy skips some checks for size 0, e.g. `integers` with a `high` beyond int64.)
    """
    import numpy as np

    try:
        function.sample(np.random.default_rng(0), arguments, 1)
    except (ValueError, OverflowError, TypeError) as error:
        return f"{function.name}(): {error}"
    return None
