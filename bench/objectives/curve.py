"""A learning curve for early stopping: a one-hidden-layer network (ReLU, softmax) trained with
Adam on the digits, one epoch at a time, printing `epoch=E val_loss=V val_acc=A` after each.

The network is scikit-learn's MLPClassifier written out in numpy (the same Glorot
initialization, L2 penalty `alpha` and Adam), so that an experiment starts in 0.2 s instead of
the 1.5-3 s that importing scikit-learn takes: only the digits' CSV file is taken from the
installed scikit-learn, without importing it. Everything is seeded (split, initialization,
batches: 0), so the same flags give the same curve. Each epoch (10-60 ms of real work) is
padded with sleep to `--epoch_time` seconds, as if the model were bigger: a pruned experiment
then saves what a real one would.

    python curve.py --learning_rate_init 0.01 --alpha 0.01 --hidden 64 [--epochs 24]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time
from pathlib import Path

import numpy as np

EPOCHS = 24
EPOCH_TIME_S = 0.2
BATCH_SIZE = 64
DIVERGED = 10.0
"""The val_loss printed when the network diverged: worse than guessing (ln 10 = 2.30)."""


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits (1,797 8x8 images, 10 classes) split 70/30 at random (seed 0), standardized
    on the training part: (x_train, x_val, y_train, y_val)."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "curve.py reads scikit-learn's copy of the digits: pip install scikit-learn"
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    path = package / "datasets" / "data" / "digits.csv.gz"
    data = np.loadtxt(path, delimiter=",")
    x, y = data[:, :-1], data[:, -1].astype(int)
    order = np.random.default_rng(0).permutation(len(y))
    cut = round(len(y) * 0.7)
    train, val = order[:cut], order[cut:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    std[std == 0] = 1.0
    return (x[train] - mean) / std, (x[val] - mean) / std, y[train], y[val]


class Network:
    """64 inputs, `hidden` ReLU units, 10 softmax outputs; Adam on the log loss plus
    `alpha / 2 * |W|^2 / batch`, as MLPClassifier does."""

    def __init__(self, hidden: int, alpha: float, learning_rate: float, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.params = []
        for fan_in, fan_out in ((64, hidden), (hidden, 10)):
            bound = math.sqrt(6 / (fan_in + fan_out))
            self.params.append(self.rng.uniform(-bound, bound, (fan_in, fan_out)))
            self.params.append(self.rng.uniform(-bound, bound, fan_out))
        self.moments = [np.zeros_like(p) for p in self.params]
        self.squares = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w1, b1, w2, b2 = self.params
        hidden = np.maximum(x @ w1 + b1, 0.0)
        return hidden, hidden @ w2 + b2

    def epoch(self, x: np.ndarray, y: np.ndarray) -> None:
        """One pass over (x, y) in shuffled batches."""
        order = self.rng.permutation(len(y))
        for start in range(0, len(y), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            self.step(x[batch], y[batch])

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        w1, _, w2, _ = self.params
        hidden, logits = self.logits(x)
        probabilities = softmax(logits)
        probabilities[np.arange(len(y)), y] -= 1.0
        delta_out = probabilities / len(y)
        delta_hidden = (delta_out @ w2.T) * (hidden > 0)
        penalty = self.alpha / len(y)
        grads = [
            x.T @ delta_hidden + penalty * w1,
            delta_hidden.sum(axis=0),
            hidden.T @ delta_out + penalty * w2,
            delta_out.sum(axis=0),
        ]
        self.t += 1
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        rate = self.learning_rate * math.sqrt(1 - beta2**self.t) / (1 - beta1**self.t)
        for p, m, v, g in zip(self.params, self.moments, self.squares, grads, strict=True):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= rate * m / (np.sqrt(v) + eps)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Log loss and accuracy on (x, y); DIVERGED for a loss that is not finite."""
        _, logits = self.logits(x)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-np.maximum(log_p[np.arange(len(y)), y], math.log(1e-15)).mean())
        accuracy = float((logits.argmax(axis=1) == y).mean())
        return (loss if math.isfinite(loss) else DIVERGED), accuracy


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learning_rate_init", type=float, required=True, help="Adam's step")
    parser.add_argument("--alpha", type=float, required=True, help="L2 penalty")
    parser.add_argument("--hidden", type=int, required=True, help="units of the hidden layer")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--epoch_time", type=float, default=EPOCH_TIME_S, help="seconds")
    options = parser.parse_args(argv)
    x_train, x_val, y_train, y_val = digits()
    network = Network(options.hidden, options.alpha, options.learning_rate_init)
    with np.errstate(all="ignore"):
        for epoch in range(1, options.epochs + 1):
            began = time.monotonic()
            network.epoch(x_train, y_train)
            loss, accuracy = network.evaluate(x_val, y_val)
            time.sleep(max(0.0, options.epoch_time - (time.monotonic() - began)))
            print(f"epoch={epoch} val_loss={loss!r} val_acc={accuracy!r}", flush=True)


if __name__ == "__main__":
    main()
