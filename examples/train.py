"""A small, real training script: logistic regression in numpy on a synthetic data set.

It knows nothing of gridrun: it takes its hyperparameters as flags and prints its metrics as
`name=value` lines, one per epoch, which is all gridrun needs to sweep and compare it.

    python examples/train.py --learning_rate 0.1 --epochs 20 --l2 0.001 --batch_size 32
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def make_data(seed: int, samples: int = 2000, features: int = 20):
    """Two overlapping Gaussian classes, split 80/20 into train and validation."""
    rng = np.random.default_rng(seed)
    true_weights = rng.normal(0, 1, features)
    x = rng.normal(0, 1, (samples, features))
    logits = x @ true_weights + rng.normal(0, 2.0, samples)
    y = (logits > 0).astype(float)
    split = int(samples * 0.8)
    return (x[:split], y[:split]), (x[split:], y[split:])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--l2", type=float, default=0.0, help="weight decay")
    parser.add_argument("--seed", type=int, default=0, help="the data and shuffling seed")
    args = parser.parse_args()

    (x_train, y_train), (x_val, y_val) = make_data(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    weights = np.zeros(x_train.shape[1])
    bias = 0.0
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        for step in range(steps_per_epoch):
            batch = order[step * args.batch_size : (step + 1) * args.batch_size]
            xb, yb = x_train[batch], y_train[batch]
            error = sigmoid(xb @ weights + bias) - yb
            weights -= args.learning_rate * (xb.T @ error / len(batch) + args.l2 * weights)
            bias -= args.learning_rate * float(error.mean())
        train_loss = log_loss(y_train, sigmoid(x_train @ weights + bias))
        p_val = sigmoid(x_val @ weights + bias)
        val_loss = log_loss(y_val, p_val)
        val_acc = float(np.mean((p_val > 0.5) == y_val))
        print(
            f"epoch={epoch} train_loss={train_loss:.4f} val_loss={val_loss:.4f}",
            f"val_acc={val_acc:.4f}",
        )


if __name__ == "__main__":
    main()
