"""Names of runs (`adjective-animal-NNN`) and experiments (`<run>-exp<i>`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gridrun.errors import UserError

if TYPE_CHECKING:
    import random

ADJECTIVES = [
    "agile",
    "amber",
    "bold",
    "brave",
    "bright",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "curious",
    "daring",
    "eager",
    "fancy",
    "fearless",
    "gentle",
    "glad",
    "golden",
    "grand",
    "happy",
    "hardy",
    "humble",
    "jolly",
    "keen",
    "kind",
    "lively",
    "lucky",
    "mellow",
    "merry",
    "mighty",
    "nimble",
    "noble",
    "patient",
    "plucky",
    "polite",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "ready",
    "robust",
    "rosy",
    "shiny",
    "silent",
    "silver",
    "sleek",
    "smart",
    "snappy",
    "solid",
    "steady",
    "stellar",
    "sturdy",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zesty",
]
ANIMALS = [
    "alpaca",
    "badger",
    "beaver",
    "bison",
    "bobcat",
    "camel",
    "cheetah",
    "cobra",
    "condor",
    "corgi",
    "coyote",
    "crane",
    "dingo",
    "dolphin",
    "eagle",
    "falcon",
    "ferret",
    "finch",
    "fox",
    "gecko",
    "gazelle",
    "heron",
    "hippo",
    "ibis",
    "impala",
    "jackal",
    "jaguar",
    "koala",
    "lemur",
    "leopard",
    "lynx",
    "magpie",
    "marmot",
    "meerkat",
    "mink",
    "moose",
    "narwhal",
    "ocelot",
    "orca",
    "otter",
    "owl",
    "panda",
    "panther",
    "pelican",
    "penguin",
    "puffin",
    "quokka",
    "raven",
    "robin",
    "salmon",
    "seal",
    "sparrow",
    "stork",
    "tapir",
    "tiger",
    "toucan",
    "turtle",
    "walrus",
    "weasel",
    "wombat",
    "yak",
    "zebra",
]

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def random_run_name(rng: random.Random | None = None) -> str:
    """A fresh `adjective-animal-NNN` name (`rng` makes it deterministic in tests)."""
    if rng is None:
        import random  # here: a run given --name, a resume, a detached driver never need it

        rng = random.SystemRandom()
    return f"{rng.choice(ADJECTIVES)}-{rng.choice(ANIMALS)}-{rng.randrange(1000):03d}"


def check_run_name(name: str) -> str:
    """`name` if it can name a run (and its folder); a `UserError` saying why otherwise."""
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(
            f"invalid run name {name!r}: expected 1 to 100 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def experiment_name(run: str, index: int) -> str:
    """The name of a run's `index`-th experiment."""
    return f"{run}-exp{index}"
