"""A small real model to tune: scikit-learn's MLPClassifier on the digits, trained for a fixed
number of epochs, printing `val_loss=... val_acc=...` on a fixed validation split.

The digits (8x8 images, 10 classes, 1,797 samples) are split 70/30, stratified, with a fixed
random_state, and standardized on the training part; the weights are seeded too
(random_state 0), so the same flags give the same numbers. Training takes 0.1-0.5 s;
importing scikit-learn takes longer (1.5-2 s here).

    python sklearn_model.py --learning_rate_init 0.003 --alpha 1e-4 --hidden 64 --batch_size 64
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

EPOCHS = 20
CLASSES = np.arange(10)
DIVERGED = 10.0
"""The val_loss printed when the model diverged (NaN or infinite): worse than guessing (ln 10
= 2.30), and finite, so that every strategy can rank it."""


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and validation features and labels: (x_train, x_val, y_train, y_val)."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_val), y_train, y_val


def validation_metrics(
    model: MLPClassifier, x_val: np.ndarray, y_val: np.ndarray
) -> tuple[float, float]:
    """The model's log loss (DIVERGED when not finite) and accuracy on the validation split."""
    probabilities = model.predict_proba(x_val)
    accuracy = float(np.mean(CLASSES[np.nan_to_num(probabilities).argmax(axis=1)] == y_val))
    if not np.all(np.isfinite(probabilities)):
        return DIVERGED, accuracy
    loss = float(log_loss(y_val, probabilities, labels=CLASSES))
    return (loss if math.isfinite(loss) else DIVERGED), accuracy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learning_rate_init", type=float, required=True, help="Adam's step")
    parser.add_argument("--alpha", type=float, required=True, help="L2 penalty")
    parser.add_argument("--hidden", type=int, required=True, help="units of the hidden layer")
    parser.add_argument("--batch_size", type=int, required=True)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    options = parser.parse_args(argv)
    warnings.filterwarnings("ignore")  # ConvergenceWarning: the epochs are fixed on purpose
    x_train, x_val, y_train, y_val = digits_split()
    model = MLPClassifier(
        hidden_layer_sizes=(options.hidden,),
        alpha=options.alpha,
        learning_rate_init=options.learning_rate_init,
        batch_size=options.batch_size,
        max_iter=options.epochs,
        random_state=0,
    )
    model.fit(x_train, y_train)
    loss, accuracy = validation_metrics(model, x_val, y_val)
    print(f"val_loss={loss!r} val_acc={accuracy!r}")


if __name__ == "__main__":
    main()
