"""The 6-D Hartmann function on [0, 1]^6, to minimize: `loss=VALUE` on one line.

Its global minimum is -3.32237, at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652,
0.6573). Standard library only: it starts in a few milliseconds.

    python hartmann6.py --x1 0.2 --x2 0.15 --x3 0.48 --x4 0.28 --x5 0.31 --x6 0.66
"""

from __future__ import annotations

import argparse
import math

OPTIMUM = -3.32237
ALPHA = (1.0, 1.2, 3.0, 3.2)
A = (
    (10, 3, 17, 3.5, 1.7, 8),
    (0.05, 10, 17, 0.1, 8, 14),
    (3, 3.5, 1.7, 10, 17, 8),
    (17, 8, 0.05, 10, 0.1, 14),
)
P = (
    (1312, 1696, 5569, 124, 8283, 5886),
    (2329, 4135, 8307, 3736, 1004, 9991),
    (2348, 1451, 3522, 2883, 3047, 6650),
    (4047, 8828, 8732, 5743, 1091, 381),
)


def hartmann6(x: list[float]) -> float:
    """-sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2), P scaled by 1e-4."""
    total = 0.0
    for alpha, a_row, p_row in zip(ALPHA, A, P, strict=True):
        inner = sum(a * (xj - p * 1e-4) ** 2 for a, xj, p in zip(a_row, x, p_row, strict=True))
        total += alpha * math.exp(-inner)
    return -total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for i in range(1, 7):
        parser.add_argument(f"--x{i}", type=float, required=True, help="in [0, 1]")
    options = parser.parse_args(argv)
    x = [getattr(options, f"x{i}") for i in range(1, 7)]
    print(f"loss={hartmann6(x)!r}")


if __name__ == "__main__":
    main()
