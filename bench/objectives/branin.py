"""The Branin function on [-5, 10] x [0, 15], to minimize: `loss=VALUE` on one line.

Its global minimum is 0.397887, at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475). With
`--noise SIGMA`, Gaussian noise of that standard deviation is added, seeded by `--noise_seed`
or else by the experiment's index (GRID_EXPERIMENT_ID), so each experiment is deterministic.
Standard library only: it starts in a few milliseconds.

    python branin.py --x 1.5 --y 3.0 [--noise 0.1] [--noise_seed 7]
"""

from __future__ import annotations

import argparse
import math
import os
import random

OPTIMUM = 0.397887


def branin(x: float, y: float) -> float:
    """Branin-Hoo with its usual constants."""
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--x", type=float, required=True, help="in [-5, 10]")
    parser.add_argument("--y", type=float, required=True, help="in [0, 15]")
    parser.add_argument("--noise", type=float, default=0.0, help="noise standard deviation")
    parser.add_argument("--noise_seed", type=int, default=None, help="default: the experiment id")
    options = parser.parse_args(argv)
    value = branin(options.x, options.y)
    if options.noise > 0:
        seed = options.noise_seed
        if seed is None:
            seed = int(os.environ.get("GRID_EXPERIMENT_ID", "0"))
        value += random.Random(seed).gauss(0.0, options.noise)
    print(f"loss={value!r}")


if __name__ == "__main__":
    main()
