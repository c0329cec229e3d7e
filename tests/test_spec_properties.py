"""Properties of the sweep grammar, checked with Hypothesis.

The parser raises only `SpecError` whatever it is given; what `to_syntax` writes parses
back to the same domain and reaches the script verbatim; drawn values are exact round-trip
reprs; random_search's sample of indices is distinct, sorted, in range and reproducible.
"""

from __future__ import annotations

import math
import sys
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridrun.errors import SpecError, UserError
from gridrun.spec import Choice, Distribution, Domain, IntRange, SearchSpace, parse_value
from gridrun.spec.functions import DISTRIBUTIONS
from gridrun.spec.space import parse_arguments
from gridrun.spec.syntax import to_syntax
from gridrun.strategies.random import sample_indices

FEW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces of the grammar, so that generated text reaches deep into the parser rather than
# stopping at the first character as most arbitrary text does.
FRAGMENTS = st.sampled_from(
    [
        "[",
        "]",
        "(",
        ")",
        ",",
        "=",
        "'",
        '"',
        "\\",
        " ",
        "\t",
        "range",
        "uniform",
        "loguniform",
        "randint",
        "normal",
        "np.random.",
        "foo",
        "n",
        "low",
        "0",
        "1",
        "-1",
        "1.5",
        "1e-2",
        "1e999",
        "99999999999999999999",
        "9" * 4400,
        "x",
        "é",
    ]
)
GRAMMAR_SOUP = st.lists(FRAGMENTS, max_size=12).map("".join)
VALUE_TEXT = st.one_of(st.text(), GRAMMAR_SOUP)


@MANY
@given(VALUE_TEXT)
def test_parse_value_raises_only_spec_error(value: str) -> None:
    try:
        domain = parse_value(value)
    except SpecError as error:
        assert error.value == value
        assert 0 <= error.column <= len(value)
        assert error.expected
        return
    assert isinstance(domain, Domain)
    assert len(domain) >= 1


@MANY
@given(st.lists(st.one_of(st.text(max_size=20), GRAMMAR_SOUP, st.sampled_from(["--a", "-b"]))))
def test_parse_arguments_raises_only_user_errors(args: list[str]) -> None:
    try:
        arguments = parse_arguments(args)
    except (SpecError, UserError):
        return
    space = SearchSpace(arguments)
    assert space.size >= 1


# -- rendering round trips ------------------------------------------------------------------


@MANY
@given(st.lists(st.text(min_size=0), min_size=1))
def test_list_round_trips_and_reaches_the_script_verbatim(items: list[str]) -> None:
    choice = Choice(tuple(items))
    text = to_syntax(choice)
    assert parse_value(text) == choice
    space = SearchSpace.from_args(["pos", "--x", text, "--y=1"])
    grid = space.realize(seed=0)
    assert grid.size == len(items)
    for index, item in enumerate(items):
        assert grid.args(grid.combination(index)) == ["pos", "--x", item, "--y=1"]


@MANY
@given(st.integers(), st.integers(), st.integers().filter(lambda step: step != 0))
def test_range_round_trips(start: int, stop: int, step: int) -> None:
    expected = range(start, stop, step)
    if not expected:
        return
    domain = IntRange(start, stop, step)
    try:
        length = len(expected)
    except OverflowError:
        try:
            parse_value(to_syntax(domain))
        except SpecError as error:
            assert error.expected
        else:
            raise AssertionError("a range longer than sys.maxsize parsed")
        return
    assert length <= sys.maxsize
    assert parse_value(to_syntax(domain)) == domain
    assert len(domain) == length
    assert domain.value(0) == str(expected[0])
    assert domain.value(length - 1) == str(expected[-1])
    middle = length // 2
    assert domain.value(middle) == str(expected[middle])


@MANY
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_float_reprs_parse_back_exactly(floats: list[float]) -> None:
    texts = [repr(x) for x in floats]
    domain = parse_value("[" + ", ".join(texts) + "]")
    assert domain == Choice(tuple(texts))
    assert [float(text) for text in domain.items] == floats


# -- drawn values ---------------------------------------------------------------------------


@MANY
@given(st.floats(allow_nan=False))
def test_float_repr_round_trips(value: float) -> None:
    text = repr(float(value))
    assert float(text) == value
    assert repr(float(text)) == text


CONTINUOUS = sorted(name for name, f in DISTRIBUTIONS.items() if not f.discrete)
CALLS = {
    "uniform": "uniform(-3, 7.5, {n})",
    "loguniform": "loguniform(1e-6, 1e3, {n})",
    "normal": "normal(0, 1e3, {n})",
    "exponential": "exponential(2, {n})",
    "beta": "beta(0.5, 0.5, {n})",
    "standard_cauchy": "standard_cauchy({n})",
    "randint": "randint(-1000000, 1000000, {n})",
    "poisson": "poisson(1000, {n})",
}


@FEW
@given(st.sampled_from(sorted(CALLS)), st.integers(0, 2**63 - 1), st.text(max_size=10))
def test_drawn_values_are_exact_reprs(name: str, seed: int, key: str) -> None:
    domain = parse_value(CALLS[name].format(n=8))
    assert isinstance(domain, Distribution)
    drawn = domain.draw(seed, key)
    assert len(drawn) == 8
    assert drawn == domain.draw(seed, key)
    for text in drawn.texts:
        if domain.function.discrete:
            assert repr(int(text)) == text
        else:
            value = float(text)
            assert math.isfinite(value)
            assert repr(value) == text


NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30),
    st.integers(-5, 5),
    st.floats(allow_nan=False).map(repr),
    st.sampled_from(["0", "1", "0.5", "1e-9", "-1e-9", "1e300", "2", "10"]),
)


@MANY
@given(st.data(), st.sampled_from(sorted(DISTRIBUTIONS)), st.integers(1, 4))
def test_an_accepted_distribution_can_draw(data: st.DataObject, name: str, count: int) -> None:
    size = len(DISTRIBUTIONS[name].parameters)
    numbers = data.draw(st.lists(NUMBERS, min_size=size, max_size=size), label="numbers")
    value = f"{name}({', '.join(str(n) for n in [*numbers, count])})"
    try:
        domain = parse_value(value)
    except SpecError:
        return
    assert isinstance(domain, Distribution)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # e.g. overflow to inf
        drawn = domain.draw(seed=0, key="--x")
    assert len(drawn) == count


DISCRETE = sorted(name for name, f in DISTRIBUTIONS.items() if f.discrete)
INT64_EDGES = [2**31, 2**32, 2**63 - 1, 2**63, 2**64, 10**30]
BIG_INTEGERS = st.one_of(
    st.integers(0, 100),
    st.sampled_from([*INT64_EDGES, *(-n for n in INT64_EDGES), -(2**63) - 1]),
    st.integers(-(2**70), 2**70),
)


@MANY
@given(st.data(), st.sampled_from(DISCRETE))
def test_an_accepted_discrete_distribution_can_draw(data: st.DataObject, name: str) -> None:
    size = len(DISTRIBUTIONS[name].parameters)  # as many as it takes, to get past the count
    numbers = data.draw(st.lists(BIG_INTEGERS, min_size=size, max_size=size), label="numbers")
    value = f"{name}({', '.join(str(n) for n in numbers)}, 3)"
    try:
        domain = parse_value(value)
    except SpecError:
        return
    assert isinstance(domain, Distribution)
    drawn = domain.draw(seed=0, key="--x")
    assert len(drawn) == 3
    assert all(repr(int(text)) == text for text in drawn.texts)


# -- random_search's sample -----------------------------------------------------------------


@MANY
@given(st.data(), st.integers(1, 10**30), st.integers(0, 2**64))
def test_sample_indices(data: st.DataObject, population: int, seed: int) -> None:
    count = data.draw(st.integers(1, min(population, 200)), label="count")
    indices = sample_indices(population, count, seed)
    assert len(indices) == count
    assert indices == sorted(set(indices))
    assert all(0 <= i < population for i in indices)
    assert sample_indices(population, count, seed) == indices
    if count == population:
        assert indices == list(range(population))
