"""Recognise a run whose settings leave it nothing to train on, whatever the recipe.

Each recipe's Config rejects the plain cases (train_examples below batch_size, say), but a value
that is valid alone can still combine into zero batches or zero steps: a batch larger than the
whole training set with `drop_remainder`, a few examples split into folds. Those surface deep in
Keras or in a recipe's loop as an error that names no setting, or worse, as Keras 3's `fit()`
returning an empty history after a warning. The runner calls `run()` inside `raising_on_no_data()`
and passes any error to `reason()`: a recognised one becomes a single sentence naming the
settings the user changed.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys


class NoData(Exception):
    """Keras 3's fit() ran no training step: its data gave no batch."""


@contextlib.contextmanager
def raising_on_no_data():
    """Within this block a Keras 3 `fit()` that ran no step raises NoData instead of returning an empty history.

    Keras 3 then only warns "Your input ran out of data", the same warning it gives at the end of
    every epoch of a dataset of unknown length, so the warning can't tell the two apart: the
    empty history can. (tf_keras raises a ValueError of its own, which `reason()` reads.)"""
    keras = sys.modules.get("keras")
    model = getattr(keras, "Model", None)
    if model is None or not str(getattr(keras, "__version__", "")).startswith("3"):
        yield
        return
    original = model.fit

    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        history = original(self, *args, **kwargs)
        if history is not None and not history.history:
            raise NoData("fit() ran no training step: its data gave no batch")
        return history

    model.fit = fit
    try:
        yield
    finally:
        model.fit = original


# (exception type, text its message contains, what it means for the run). The Python errors are what a
# training loop that ran no step raises; they are read so only when the user changed a setting.
SIGNS = (
    (NoData, "", "Keras got no batch from the data"),
    (ValueError, "Expected input data to be non-empty", "Keras got no batch from the data"),  # tf_keras
    (ValueError, "Unexpected result of `train_function` (Empty logs)", "Keras got no batch from the data"),  # tf_keras
    (ValueError, "decay_steps` must be > 0", "a learning-rate schedule got 0 steps"),
    (ValueError, "metric has not yet been built", "a metric saw no batch"),
    (ValueError, "range() arg 3 must not be zero", "Keras got 0 steps per execution"),
    (ZeroDivisionError, "", "a count of batches or steps came out 0"),
    (UnboundLocalError, "", "a training loop ran no step"),
    (ValueError, "Requested slice", "they ask for more examples than the dataset has"),
)


def reason(err: BaseException) -> str | None:
    """What went empty, if `err` is one of the ways a run with nothing to train on fails; else None."""
    for kind, text, meaning in SIGNS:
        if isinstance(err, kind) and text in str(err):
            return meaning
    return None


def sentence(name: str, settings: list[str], err: BaseException, meaning: str) -> str:
    detail = re.split(r"[;\n]|\. ", str(err))[0][:160]  # its first clause, e.g. "Your input ran out of data"
    return (f"{name} has nothing to train on with {' '.join(settings)}: {meaning} ({type(err).__name__}: {detail}); "
            "change those settings (more examples or epochs, a smaller batch_size)")
