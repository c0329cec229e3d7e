"""The sweep grammar and its expansion, as pure functions: nothing is launched here.

Covers `parse_value` (fixed values, lists, ranges, distributions, errors with their
columns), `parse_arguments` (how a script's argument list splits into flags and words),
grid order and the strategies through `plan_sweep`, and `to_syntax` round trips.
"""

from __future__ import annotations

import math
import re
import sys

import pytest

from gridrun.errors import SpecError, UserError
from gridrun.spec import (
    Choice,
    Distribution,
    Drawn,
    Fixed,
    Flag,
    IntRange,
    Positional,
    SearchSpace,
    parse_arguments,
    parse_value,
)
from gridrun.spec.domains import values_of
from gridrun.spec.functions import DISTRIBUTIONS, function_names
from gridrun.spec.syntax import to_syntax
from gridrun.strategies.random import sample_indices
from gridrun.sweep import SweepRequest, plan_sweep

# -- fixed values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("32", "32"),
        ("-7", "-7"),
        ("0.01", "0.01"),
        ("1e-2", "1e-2"),
        ("1E5", "1E5"),
        ("bert", "bert"),
        ("'bert'", "bert"),
        ('"bert"', "bert"),
        ("  'bert'  ", "bert"),
        ("'a b, c'", "a b, c"),
        ("'it\\'s'", "it's"),
        ("True", "True"),
        ("False", "False"),
        ("", ""),
        ("a=b", "a=b"),
        ("path/to/file.txt", "path/to/file.txt"),
        # only quotes around the whole value are removed
        ("'a' 'b'", "'a' 'b'"),
        ("'a'b", "'a'b"),
        ("it's", "it's"),
        ("'unterminated", "'unterminated"),
        # not a call: no name before the parenthesis
        ("(1, 2)", "(1, 2)"),
    ],
)
def test_fixed_values(value: str, text: str) -> None:
    domain = parse_value(value)
    assert domain == Fixed(text)
    assert not domain.swept
    assert len(domain) == 1


# -- lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "items"),
    [
        ("[32, 64, 128]", ("32", "64", "128")),
        ("[32,64,128]", ("32", "64", "128")),
        ("[32 64 128]", ("32", "64", "128")),
        ("  [ 32 ,  64\t128 ]  ", ("32", "64", "128")),
        ("['resnet18' 'transformer', 'resnet50']", ("resnet18", "transformer", "resnet50")),
        ("['a', 'b']", ("a", "b")),
        ('["a", "b"]', ("a", "b")),
        ("[True, False]", ("True", "False")),
        ("[1e-2, 0.10, -3]", ("1e-2", "0.10", "-3")),
        ("[1, 2,]", ("1", "2")),
        ("[1, 2, ]", ("1", "2")),
        ("[x]", ("x",)),
        ("['a b', 'c,d', 'e]f']", ("a b", "c,d", "e]f")),
        ('[\'it\\\'s\', "say \\"hi\\""]', ("it's", 'say "hi"')),
        ("['back\\\\slash']", ("back\\slash",)),
        ("['', x]", ("", "x")),
        ("[a\\b]", ("a\\b",)),
        ("[1, 1]", ("1", "1")),
        ("[uniform(1]", None),  # '(' is punctuation: an error, checked below
    ],
)
def test_lists(value: str, items: tuple[str, ...] | None) -> None:
    if items is None:
        with pytest.raises(SpecError):
            parse_value(value)
        return
    domain = parse_value(value)
    assert domain == Choice(items)
    assert domain.swept
    assert len(domain) == len(items)
    assert values_of(domain) == list(items)


# -- ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("range(5)", [0, 1, 2, 3, 4]),
        ("range(1, 4)", [1, 2, 3]),
        ("range(1, 10, 2)", [1, 3, 5, 7, 9]),
        ("range(10, 0, -3)", [10, 7, 4, 1]),
        ("range(-2, 2)", [-2, -1, 0, 1]),
        ("range(0, -5, -2)", [0, -2, -4]),
        ("range( 1 , 3 , )", [1, 2]),
        ("range(+1, 3)", [1, 2]),
    ],
)
def test_ranges(value: str, expected: list[int]) -> None:
    domain = parse_value(value)
    assert isinstance(domain, IntRange)
    assert len(domain) == len(expected)
    assert values_of(domain) == [str(i) for i in expected]


def test_huge_range_is_never_materialized() -> None:
    domain = parse_value("range(0, 1000000000000000000)")
    assert domain == IntRange(0, 10**18, 1)
    assert len(domain) == 10**18
    assert domain.value(10**18 - 1) == str(10**18 - 1)
    stepped = parse_value("range(1000000000000000000, -1000000000000000000, -7)")
    assert len(stepped) == len(range(10**18, -(10**18), -7))
    assert stepped.value(len(stepped) - 1) == str(range(10**18, -(10**18), -7)[-1])


def test_range_longer_than_maxsize_is_a_spec_error() -> None:
    value = f"range({sys.maxsize + 1})"
    with pytest.raises(SpecError) as raised:
        parse_value(value)
    assert raised.value.expected
    assert 0 <= raised.value.column <= len(value)
    assert len(parse_value(f"range({sys.maxsize})")) == sys.maxsize


# -- distributions --------------------------------------------------------------------------


def _finite(x: float) -> bool:
    return math.isfinite(x)


# name -> (arguments before n, whether a drawn value is in the support)
SUPPORT = {
    "uniform": ("2, 3", lambda x: 2 <= x < 3),
    "loguniform": ("1e-5, 1e-1", lambda x: 1e-5 <= x <= 1e-1),
    "normal": ("0, 1", _finite),
    "lognormal": ("0, 1", lambda x: 0 < x < math.inf),
    "exponential": ("2", lambda x: 0 <= x < math.inf),
    "beta": ("2, 5", lambda x: 0 <= x <= 1),
    "gamma": ("2, 1", lambda x: 0 <= x < math.inf),
    "chisquare": ("3", lambda x: 0 <= x < math.inf),
    "f": ("5, 10", lambda x: 0 <= x < math.inf),
    "gumbel": ("0, 1", _finite),
    "laplace": ("0, 1", _finite),
    "logistic": ("0, 1", _finite),
    "noncentral_chisquare": ("3, 2", lambda x: 0 <= x < math.inf),
    "noncentral_f": ("5, 10, 2", lambda x: 0 <= x < math.inf),
    "pareto": ("3", lambda x: 0 <= x < math.inf),
    "power": ("5", lambda x: 0 <= x <= 1),
    "rayleigh": ("1", lambda x: 0 <= x < math.inf),
    "standard_cauchy": ("", _finite),
    "standard_exponential": ("", lambda x: 0 <= x < math.inf),
    "standard_gamma": ("2", lambda x: 0 <= x < math.inf),
    "standard_normal": ("", _finite),
    "standard_t": ("5", _finite),
    "triangular": ("0, 1, 3", lambda x: 0 <= x <= 3),
    "vonmises": ("0, 1", lambda x: -math.pi <= x <= math.pi),
    "wald": ("1, 2", lambda x: 0 < x < math.inf),
    "weibull": ("2", lambda x: 0 <= x < math.inf),
    "randint": ("3, 8", lambda x: 3 <= x < 8),
    "binomial": ("10, 0.3", lambda x: 0 <= x <= 10),
    "geometric": ("0.3", lambda x: x >= 1),
    "hypergeometric": ("5, 7, 4", lambda x: 0 <= x <= 4),
    "logseries": ("0.5", lambda x: x >= 1),
    "negative_binomial": ("3, 0.5", lambda x: x >= 0),
    "poisson": ("4", lambda x: x >= 0),
    "zipf": ("2", lambda x: x >= 1),
}
DRAWS = 40
INTEGER_TEXT = re.compile(r"-?[0-9]+")


def test_support_table_covers_every_distribution() -> None:
    assert set(SUPPORT) == set(DISTRIBUTIONS)


def _call(name: str, count: int) -> str:
    arguments = SUPPORT[name][0]
    return f"{name}({arguments}, {count})" if arguments else f"{name}({count})"


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_distribution_draws_within_support(name: str) -> None:
    domain = parse_value(_call(name, DRAWS))
    assert isinstance(domain, Distribution)
    assert domain.function is DISTRIBUTIONS[name]
    assert len(domain) == DRAWS
    drawn = domain.draw(seed=7, key="--x")
    assert isinstance(drawn, Drawn)
    assert len(drawn) == DRAWS
    in_support = SUPPORT[name][1]
    for text in drawn.texts:
        if DISTRIBUTIONS[name].discrete:
            assert INTEGER_TEXT.fullmatch(text), text
            value: float = int(text)
        else:
            value = float(text)
            assert repr(value) == text  # the shortest round-trip repr
        assert in_support(value), (name, text)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_distribution_draws_are_reproducible(name: str) -> None:
    domain = parse_value(_call(name, DRAWS))
    assert isinstance(domain, Distribution)
    first = domain.draw(seed=123, key="--x")
    assert domain.draw(seed=123, key="--x") == first
    assert domain.draw(seed=124, key="--x") != first
    assert domain.draw(seed=123, key="--y") != first  # each flag has its own stream


def test_keyword_arguments() -> None:
    normal = parse_value("normal(scale=2, n=3)")
    assert normal == Distribution(DISTRIBUTIONS["normal"], (0.0, 2), 3)
    assert parse_value("normal(1, scale=2, size=4)") == Distribution(
        DISTRIBUTIONS["normal"], (1, 2), 4
    )
    assert parse_value("uniform(high=5, low=1, n=2)") == Distribution(
        DISTRIBUTIONS["uniform"], (1, 5), 2
    )
    assert parse_value("poisson(lam=2, n=3)") == Distribution(DISTRIBUTIONS["poisson"], (2,), 3)


@pytest.mark.parametrize("prefix", ["np.random.", "numpy.random.", "random.", ""])
def test_numpy_prefix_is_accepted(prefix: str) -> None:
    domain = parse_value(f"{prefix}uniform(1e-5, 1e-1, 3)")
    assert domain == Distribution(DISTRIBUTIONS["uniform"], (1e-5, 1e-1), 3)
    assert domain.describe() == "uniform(1e-05, 0.1, 3)"


def test_distribution_arguments_are_numbers_as_written() -> None:
    domain = parse_value("uniform(-1, .5, 2)")
    assert isinstance(domain, Distribution)
    assert domain.arguments == (-1, 0.5)
    assert isinstance(domain.arguments[0], int)
    assert domain.count == 2


# -- errors ---------------------------------------------------------------------------------


ERRORS = [
    "uniform(1e-5, 1e-1",
    "[1, 2",
    "range(1, 10, 0)",
    "foo(1, 2)",
    "__import__('os').getcwd()",
    "uniform(1, 2)",
    "normal(0,1,2,3)",
    "[1,,2]",
    "[]",
    "[ ]",
    "[[1]]",
    "randint(1.5, 3, 2)",
    "range(5, 1)",
    "uniform(2, 1, 3)",
    "uniform(0, 1, 0)",
    "loguniform(0, 1, 3)",
    "['a', 'unterminated]",
    "[1, 'unterminated",
    "[,1]",
    "[1] 2",
    "[a=b]",
    "[a(b)]",
    "range(1.5)",
    "range()",
    "range(1, 2, 3, 4)",
    "range(n=3)",
    "range(x)",
    "uniform(1, 2, 3) x",
    "uniform(1, 2, 2.5)",
    "uniform(1, 2, -1)",
    "uniform(0, 1e999, 3)",
    "uniform(low=1, 2, 3)",
    "uniform(1, 2, bogus=3, n=2)",
    "uniform(1, low=1, n=2)",
    "uniform(low=0, low=0.5, n=3)",
    "uniform(n=1, n=2)",
    "uniform()",
    "uniform(1, 2, 3",
    "uniform(1 2 3)",
    "uniform(,)",
    "normal(0, 1, 10000001)",
    "os.system('ls')",
    "exec('1')",
    "randint(0, 100000000000000000000000000000, 3)",
    "range(" + "9" * 5000 + ")",
    "uniform(0, 1, " + "9" * 5000 + ")",
]


@pytest.mark.parametrize("value", ERRORS)
def test_malformed_values_raise_spec_error(value: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_value(value)
    error = raised.value
    assert type(error) is SpecError
    assert error.value == value
    assert 0 <= error.column <= len(value)
    assert error.expected
    assert error.message
    assert isinstance(error, UserError)
    assert error.exit_code == 2


@pytest.mark.parametrize(
    ("value", "column"),
    [
        ("uniform(1e-5, 1e-1", 18),  # the end of the value
        ("[1, 2", 5),  # the end of the value
        ("range(1, 10, 0)", 13),  # the step
        ("foo(1, 2)", 0),  # the name
        ("__import__('os').getcwd()", 0),
        ("uniform(1, 2)", 12),  # the closing parenthesis: an argument is missing
        ("normal(0,1,2,3)", 11),  # the first argument too many
        ("[1,,2]", 3),  # the second comma
        ("[]", 0),
        ("[[1]]", 1),
        ("randint(1.5, 3, 2)", 8),  # the non-integer low
        ("range(5, 1)", 10),
        ("uniform(2, 1, 3)", 8),
        ("uniform(0, 1, 0)", 14),  # the count
        ("loguniform(0, 1, 3)", 11),
        ("['a', 'unterminated]", 6),  # the opening quote
        ("uniform(low=0, low=0.5, n=3)", 15),  # the repeated name
    ],
)
def test_error_columns(value: str, column: int) -> None:
    with pytest.raises(SpecError) as raised:
        parse_value(value)
    assert raised.value.column == column


def test_unknown_function_lists_valid_names() -> None:
    with pytest.raises(SpecError) as raised:
        parse_value("foo(1, 2)")
    error = raised.value
    assert "foo" in error.message
    for name in function_names():
        assert name in error.expected
    assert "range" in error.expected and "uniform" in error.expected


def test_error_message_renders_flag_value_and_caret() -> None:
    with pytest.raises(SpecError) as raised:
        parse_arguments(["--lr", "uniform(1e-5, 1e-1"])
    error = raised.value
    assert error.flag == "--lr"
    assert str(error).splitlines() == [
        "invalid value for --lr at column 19: unexpected end of the value; expected ',' or ')'",
        "  --lr uniform(1e-5, 1e-1",
        "                         ^",
    ]


# -- parse_arguments ------------------------------------------------------------------------


def test_flag_with_separate_value() -> None:
    assert parse_arguments(["--lr", "0.1"]) == (Flag("--lr", Fixed("0.1")),)
    assert parse_arguments(["-l", "[1, 2]"]) == (Flag("-l", Choice(("1", "2"))),)


def test_flag_with_joined_value_renders_with_equals() -> None:
    arguments = parse_arguments(["--lr=[0.1, 0.2]", "--model='bert'", "--x=a=b"])
    assert arguments == (
        Flag("--lr", Choice(("0.1", "0.2")), joined=True),
        Flag("--model", Fixed("bert"), joined=True),
        Flag("--x", Fixed("a=b"), joined=True),
    )
    grid = SearchSpace(arguments).realize(seed=0)
    assert [grid.args(grid.combination(i)) for i in range(grid.size)] == [
        ["--lr=0.1", "--model=bert", "--x=a=b"],
        ["--lr=0.2", "--model=bert", "--x=a=b"],
    ]


def test_bare_flags() -> None:
    assert parse_arguments(["--verbose"]) == (Flag("--verbose"),)
    assert parse_arguments(["--verbose", "--lr", "0.1", "--debug"]) == (
        Flag("--verbose"),
        Flag("--lr", Fixed("0.1")),
        Flag("--debug"),
    )
    space = SearchSpace.from_args(["--verbose", "--lr", "[1, 2]", "--debug"])
    grid = space.realize(seed=0)
    assert grid.args(grid.combination(1)) == ["--verbose", "--lr", "2", "--debug"]


def test_positional_words_are_never_swept() -> None:
    arguments = parse_arguments(["train", "[1,2]", "--lr", "0.1", "range(3)", "uniform(0,1,2)"])
    assert arguments == (
        Positional("train"),
        Positional("[1,2]"),
        Flag("--lr", Fixed("0.1")),
        Positional("range(3)"),
        Positional("uniform(0,1,2)"),
    )
    space = SearchSpace(arguments)
    assert space.dimensions == ()
    assert space.size == 1
    grid = space.realize(seed=0)
    assert grid.args(grid.combination(0)) == [
        "train",
        "[1,2]",
        "--lr",
        "0.1",
        "range(3)",
        "uniform(0,1,2)",
    ]


def test_malformed_positional_word_is_not_an_error() -> None:
    assert parse_arguments(["x", "[1,"]) == (Positional("x"), Positional("[1,"))


@pytest.mark.parametrize("number", ["-1e-3", "-1", "-0.5", "-.5", "-inf", "-nan", "-Infinity"])
def test_negative_numbers_are_values(number: str) -> None:
    assert parse_arguments(["--lr", number]) == (Flag("--lr", Fixed(number)),)


def test_lone_dash_and_double_dash_are_values() -> None:
    assert parse_arguments(["--in", "-"]) == (Flag("--in", Fixed("-")),)
    assert parse_arguments(["--sep", "--"]) == (Flag("--sep", Fixed("--")),)


def test_swept_flag_given_twice_is_a_user_error() -> None:
    with pytest.raises(UserError) as raised:
        parse_arguments(["--lr", "[1, 2]", "--lr", "[3, 4]"])
    assert not isinstance(raised.value, SpecError)
    assert "--lr" in str(raised.value)
    with pytest.raises(UserError):
        parse_arguments(["--lr=range(3)", "--lr", "uniform(0, 1, 2)"])


def test_fixed_flag_given_twice_is_passed_twice() -> None:
    arguments = parse_arguments(["--tag", "a", "--tag", "b"])
    assert arguments == (Flag("--tag", Fixed("a")), Flag("--tag", Fixed("b")))


def test_verbatim_mode_parses_nothing() -> None:
    arguments = parse_arguments(
        ["--lr", "[1,2]", "--x=uniform(1,", "--q", "'bert'", "pos"], verbatim=True
    )
    assert arguments == (
        Flag("--lr", Fixed("[1,2]")),
        Flag("--x", Fixed("uniform(1,"), joined=True),
        Flag("--q", Fixed("'bert'")),
        Positional("pos"),
    )
    assert SearchSpace(arguments).size == 1


# -- grid order and strategies --------------------------------------------------------------


def _plan(*args: str, strategy: str = "grid_search", num_trials=None, seed: int = 0):
    request = SweepRequest("train.py", tuple(args), strategy, num_trials, seed)
    return plan_sweep(request, "brave-otter-001", seed)


def test_grid_is_the_cartesian_product_last_flag_fastest() -> None:
    plan = _plan("pos", "--a", "[1, 2, 3]", "--fixed", "x", "--b", "['p' 'q']", "--on")
    assert len(plan) == 6
    assert plan.grid.size == 6
    assert [e.params for e in plan] == [
        {"--a": a, "--b": b} for a in ("1", "2", "3") for b in ("p", "q")
    ]
    first = plan.experiment(0)
    assert first.args == ("pos", "--a", "1", "--fixed", "x", "--b", "p", "--on")
    assert first.command == (sys.executable, "train.py", *first.args)
    assert [e.name for e in plan] == [f"brave-otter-001-exp{i}" for i in range(6)]
    assert [e.index for e in plan] == list(range(6))


def test_docs_example_is_alpha_major() -> None:
    plan = _plan("--alpha", "uniform(1e-5, 1e-1, 3)", "--beta", "[1, 2, 3, 4]", seed=42)
    assert len(plan) == 12
    experiments = list(plan)
    alphas = [e.params["--alpha"] for e in experiments]
    betas = [e.params["--beta"] for e in experiments]
    assert betas == ["1", "2", "3", "4"] * 3
    assert alphas[0:4] == [alphas[0]] * 4
    assert alphas[4:8] == [alphas[4]] * 4
    assert alphas[8:12] == [alphas[8]] * 4
    assert len({alphas[0], alphas[4], alphas[8]}) == 3
    for alpha in alphas:
        assert 1e-5 <= float(alpha) < 1e-1


def test_grid_combination_is_addressed_by_index() -> None:
    space = SearchSpace.from_args(["--a", "range(10)", "--b", "range(100)", "--c", "range(7)"])
    grid = space.realize(seed=0)
    assert grid.size == 7000
    assert grid.combination(0) == ("0", "0", "0")
    assert grid.combination(1) == ("0", "0", "1")
    assert grid.combination(7) == ("0", "1", "0")
    assert grid.combination(6999) == ("9", "99", "6")
    assert grid.combination(3 * 700 + 42 * 7 + 5) == ("3", "42", "5")
    with pytest.raises(IndexError):
        grid.combination(7000)
    with pytest.raises(IndexError):
        grid.combination(-1)


def test_nothing_swept_is_one_experiment() -> None:
    plan = _plan("--lr", "0.1", "data")
    assert len(plan) == 1
    assert plan.experiment(0).params == {}
    assert plan.experiment(0).args == ("--lr", "0.1", "data")


def test_grid_search_over_too_many_is_a_user_error() -> None:
    with pytest.raises(UserError):
        _plan(*[arg for i in range(6) for arg in (f"--p{i}", "range(1000)")])


def test_random_search_picks_distinct_combinations_in_grid_order() -> None:
    args = ("--a", "range(10)", "--b", "['x', 'y', 'z']", "--c", "uniform(0, 1, 4)")
    plan = _plan(*args, strategy="random_search", num_trials=20, seed=5)
    whole = _plan(*args, seed=5)
    assert len(plan) == 20
    indices = list(plan.selection.indices)
    assert indices == sorted(set(indices))
    assert all(0 <= i < 120 for i in indices)
    assert [e.args for e in plan] == [whole.experiment(i).args for i in indices]
    assert [e.name for e in plan] == [f"brave-otter-001-exp{i}" for i in range(20)]
    assert plan.notices == ()


def test_random_search_same_seed_same_experiments() -> None:
    args = ("--a", "range(50)", "--b", "normal(0, 1, 20)")
    first = _plan(*args, strategy="random_search", num_trials=10, seed=99)
    again = _plan(*args, strategy="random_search", num_trials=10, seed=99)
    other = _plan(*args, strategy="random_search", num_trials=10, seed=100)
    assert [e.args for e in first] == [e.args for e in again]
    assert [e.args for e in first] != [e.args for e in other]


def test_random_search_num_trials_at_least_size_runs_whole_grid() -> None:
    args = ("--a", "[1, 2]", "--b", "[3, 4, 5]")
    exact = _plan(*args, strategy="random_search", num_trials=6)
    assert list(exact.selection.indices) == list(range(6))
    assert exact.notices == ()
    larger = _plan(*args, strategy="random_search", num_trials=100)
    assert list(larger.selection.indices) == list(range(6))
    assert len(larger.notices) == 1
    assert "100" in larger.notices[0] and "whole grid" in larger.notices[0]


def test_random_search_needs_num_trials() -> None:
    with pytest.raises(UserError) as raised:
        _plan("--a", "[1, 2]", strategy="random_search")
    assert "--num_trials" in str(raised.value)
    with pytest.raises(UserError):
        _plan("--a", "[1, 2]", strategy="random_search", num_trials=0)


def test_random_search_over_a_huge_space() -> None:
    args = [arg for i in range(6) for arg in (f"--p{i}", "range(1000)")]
    plan = _plan(*args, strategy="random_search", num_trials=1000, seed=3)
    assert plan.grid.size == 10**18
    indices = list(plan.selection.indices)
    assert len(indices) == 1000
    assert indices == sorted(set(indices))
    assert all(0 <= i < 10**18 for i in indices)
    last = plan.experiment(999)
    digits = f"{indices[-1]:018d}"
    assert [last.params[f"--p{i}"] for i in range(6)] == [
        str(int(digits[3 * i : 3 * i + 3])) for i in range(6)
    ]


def test_grid_search_ignores_num_trials_with_a_notice() -> None:
    plan = _plan("--a", "[1, 2]", num_trials=1)
    assert len(plan) == 2
    assert len(plan.notices) == 1


def test_strategy_none_keeps_values_verbatim() -> None:
    plan = _plan("--a", "[1,2]", "--b", "uniform(1,", "--c", "'q'", "--d=range(3)", strategy="none")
    assert len(plan) == 1
    experiment = plan.experiment(0)
    assert experiment.args == ("--a", "[1,2]", "--b", "uniform(1,", "--c", "'q'", "--d=range(3)")
    assert experiment.params == {}


def test_unknown_strategy_is_a_user_error() -> None:
    with pytest.raises(UserError) as raised:
        _plan("--a", "1", strategy="bogus")
    assert "grid_search" in str(raised.value)


def test_sample_indices_examples() -> None:
    assert sample_indices(10, 10, seed=1) == list(range(10))
    assert sample_indices(10**30, 3, seed=1) == sample_indices(10**30, 3, seed=1)
    assert len(set(sample_indices(5, 4, seed=2))) == 4


# -- to_syntax round trips ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "text"),
    [
        (Choice(("32", "64", "128")), "[32, 64, 128]"),
        (Choice(("a b", "c,d", "it's", "")), "['a b', 'c,d', 'it\\'s', '']"),
        (Choice(("x=y", "[", "back\\slash")), "['x=y', '[', back\\slash]"),
        (IntRange(1, 10, 2), "range(1, 10, 2)"),
        (IntRange(10, 0, -3), "range(10, 0, -3)"),
        (IntRange(0, 10**18, 1), "range(0, 1000000000000000000, 1)"),
        (Fixed("bert"), "bert"),
        (Fixed("1e-2"), "1e-2"),
        (Fixed("[1,2]"), "'[1,2]'"),
        (Fixed("range(3)"), "'range(3)'"),
        (Fixed("'q'"), "'\\'q\\''"),
        (Fixed(""), ""),
    ],
)
def test_to_syntax(domain, text: str) -> None:
    assert to_syntax(domain) == text
    assert parse_value(text) == domain


@pytest.mark.parametrize(
    "value",
    [
        "uniform(1e-5, 1e-1, 3)",
        "loguniform(1e-5, 1e-1, 3)",
        "normal(scale=2, n=3)",
        "randint(1, 10, 3)",
        "standard_normal(4)",
        "triangular(-1.5, 0, 2.25, 5)",
        "np.random.poisson(3, 2)",
    ],
)
def test_to_syntax_distributions(value: str) -> None:
    domain = parse_value(value)
    assert isinstance(domain, Distribution)
    assert parse_value(to_syntax(domain)) == domain


def test_to_syntax_drawn_values() -> None:
    domain = parse_value("uniform(0, 1, 5)")
    assert isinstance(domain, Distribution)
    drawn = domain.draw(seed=1, key="--x")
    assert parse_value(to_syntax(drawn)) == Choice(drawn.texts)
