"""Linear regression: the document's Dense(1) with SGD and Adam, against the closed-form least squares

Summary: Linear regression with SGD and Adam against closed-form least squares
Category: basics
Origin: a blog post's code snippet, "SGD/Adam on Dense(1)": `Dense(1)`, Adam, MSE, 10 epochs, fit on random x
    and y (catalog `regression`)
Accelerator: CPU, GPU, TPU (Keras `fit` under `tfcook.strategy()`, batches of one static shape; `lstsq` on the default device)
Backends: tensorflow, jax (the same file; `--backend jax` or KERAS_BACKEND=jax)
Bar: Adam (the document's model, 10 epochs, cosine-decayed LR) recovers the true w and b within 1e-2 and its training
    MSE is within 1 % of the closed form's; on the document's data (y independent of x) the test R^2 is ~0
Results: Adam within 0.0015 of the true w; training MSE 1.0003x the closed form's
Peer: none: the comparison (closed form, Adam, SGD) is the recipe's own table
Run: make recipe NAME=regression    (quick check: make recipe NAME=regression ARGS=--tiny)

The document fits `Dense(1)` with Adam and MSE for 10 epochs on data whose y is drawn
independently of x, so the model can only learn y's mean: the fit "works" (the loss goes down
to var(y)) and means nothing. This recipe keeps the model and makes the question answerable.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import tfcook
import tfcook.plot

"""## Settings

`Config` holds every setting with its type and reason; the defaults are the recorded run, and
`Config.tiny()` a check that takes seconds.
"""


@dataclasses.dataclass
class Config:
    examples: int = 10_000  # training examples of y = w.x + b + noise
    test_examples: int = 2_000  # held-out examples from the same relation
    features: int = 10  # d, the length of x and w
    noise: float = 0.1  # standard deviation of the Gaussian noise on y
    bias: float = 0.5  # the true b (w is drawn from U(-1, 1), seeded)
    epochs: int = 10  # the document's 10
    batch_size: int = 32  # Keras's default, which the document uses
    adam_lr: float = 1e-2  # the recipe's Adam: peak LR of a cosine decay to 0
    sgd_lr: float = 0.1  # SGD's LR (constant, and peak of the cosine decay)
    steps_per_execution: int = 50  # training steps per tf.function call
    seed: int = 0  # seeds the data, the initial weights and the shuffling

    def __post_init__(self):
        if self.examples < self.batch_size or self.batch_size < 1:
            raise ValueError(f"examples ({self.examples}) must be at least batch_size ({self.batch_size}) >= 1")
        if self.test_examples < 2 or self.features < 1 or self.epochs < 1 or self.steps_per_execution < 1:
            raise ValueError("test_examples must be >= 2; features, epochs and steps_per_execution >= 1")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if self.adam_lr <= 0 or self.sgd_lr <= 0:
            raise ValueError("learning rates must be positive")

    @classmethod
    def tiny(cls) -> Config:
        """Seconds: 2,000 examples, 2 epochs (does not converge; checks the plumbing)."""
        return cls(examples=2000, test_examples=500, epochs=2)


"""## Data with a known answer

y = w.x + b + N(0, noise^2), with x ~ N(0, 1), w ~ U(-1, 1) and b fixed, all seeded; a held-out
test set scores the fit. The document's data as written (x and y independent uniform draws) is
made too, with as many examples as the linear data, so the optimizers take the same steps on it.
"""


def make_linear_data(config: Config) -> dict[str, np.ndarray]:
    """y = w.x + b + noise with x ~ N(0, 1), w ~ U(-1, 1): train and test splits and the true w, b."""
    rng = np.random.default_rng(config.seed)
    w = rng.uniform(-1, 1, config.features).astype(np.float32)
    n = config.examples + config.test_examples
    x = rng.normal(size=(n, config.features)).astype(np.float32)
    y = (x @ w + config.bias + rng.normal(0, config.noise, n)).astype(np.float32)[:, None]
    split = config.examples
    return {"x": x[:split], "y": y[:split], "x_test": x[split:], "y_test": y[split:], "w": w, "b": np.float32(config.bias)}


def make_document_data(config: Config) -> dict[str, np.ndarray]:
    """The document's data as written: x and y drawn independently (np.random.rand), so no relation to learn."""
    rng = np.random.default_rng(config.seed + 1)
    n, split = config.examples + config.test_examples, config.examples  # as many as the linear data: same steps
    x = rng.random((n, config.features), dtype=np.float32)
    y = rng.random((n, 1), dtype=np.float32)
    return {"x": x[:split], "y": y[:split], "x_test": x[split:], "y_test": y[split:]}


"""## The best any optimizer can do

The least-squares solution, in closed form with `tf.linalg.lstsq` on [x, 1] (Cholesky of the
normal equations). Each optimizer's training MSE is reported as a ratio to it, and its weights as
the distance to the true w and b (the closed form itself is off by the noise: about
noise / sqrt(N) per weight).
"""


def closed_form(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares on [x, 1] with `tf.linalg.lstsq`: the (w, b) minimizing the training MSE."""
    design = tf.concat([x, tf.ones([len(x), 1])], axis=1)
    solution = tf.linalg.lstsq(design, y)[:, 0].numpy()
    return solution[:-1], float(solution[-1])


"""## The model and its training

The document's `Dense(1)` with MSE, fed by tf.data (shuffle, batch, prefetch), with
`steps_per_execution` so a step this small is not dominated by Python, and TensorBoard logs per
method. Adam at its default rate (1e-3, what `optimizer="adam"` gives) is still 0.7-2.4 % above
the optimum after 10 epochs: each step moves a weight by at most about the rate. Adam at 1e-2
with the rate decayed to 0 by a cosine schedule converges and then stops jittering; a constant
rate leaves the weights hopping around the optimum by about the rate times the gradient noise
(the SGD rows show the same with and without decay).
"""


def build_model(features: int) -> keras.Model:
    """The document's model: one Dense unit, y = w.x + b."""
    return keras.Sequential([keras.Input((features,)), keras.layers.Dense(1)], name="dense1")


def make_optimizer(name: str, lr: float, decay_steps: int) -> keras.optimizers.Optimizer:
    """'adam' or 'sgd'; decay_steps > 0 decays the LR to 0 over that many steps by a cosine."""
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps) if decay_steps else lr
    return {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[name](schedule)


def train(data: dict, optimizer_name: str, lr: float, decay: bool, config: Config, log_name: str):
    """Fit Dense(1) with MSE; returns (w, b, per-epoch training loss, seconds)."""
    n = len(data["x"])
    steps = n // config.batch_size
    train_ds = (
        tf.data.Dataset.from_tensor_slices((data["x"], data["y"]))
        .shuffle(n, seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size, drop_remainder=True)  # one static batch shape (TPUs need it)
        .prefetch(tf.data.AUTOTUNE)
    )
    with tfcook.strategy().scope():
        model = build_model(data["x"].shape[1])
        model.compile(
            optimizer=make_optimizer(optimizer_name, lr, config.epochs * steps if decay else 0),
            loss="mse",
            steps_per_execution=config.steps_per_execution,
        )
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(tfcook.out_dir() / "tensorboard" / log_name))
    start = time.perf_counter()
    # The dataset shuffles; saved after every epoch, per run: --out resumes a lost run.
    history = tfcook.resume.fit(model, train_ds, epochs=config.epochs, name=f"fit-{log_name}",
                                callbacks=[tensorboard], shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    kernel, bias = model.layers[-1].get_weights()
    return kernel[:, 0], float(bias[0]), history.history["loss"], seconds


"""## Scores

Training and test MSE, and R^2 on the test set: on the document's data it is ~0 (slightly
negative: the fitted weights are noise), while train R^2 is ~d / N.
"""


def mse(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    return float(np.mean((x.astype(np.float64) @ w + b - y[:, 0]) ** 2))


def r2(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """Coefficient of determination: 1 - residual sum of squares / total sum of squares around y's mean."""
    return 1.0 - mse(x, y, w, b) / float(np.var(y[:, 0].astype(np.float64)))


def score(method: str, data_name: str, data: dict, w: np.ndarray, b: float, seconds: float, reference_mse: float | None) -> dict:
    """One table row: distance to the true weights (if known), MSEs, R^2, time."""
    train_mse = mse(data["x"], data["y"], w, b)
    known = "w" in data
    return {
        "method": method,
        "data": data_name,
        "w_max_abs_error": float(np.max(np.abs(w - data["w"]))) if known else None,
        "b_abs_error": abs(b - float(data["b"])) if known else None,
        "train_mse": train_mse,
        "mse_over_closed_form": train_mse / reference_mse if reference_mse else 1.0,
        "test_mse": mse(data["x_test"], data["y_test"], w, b),
        "train_r2": r2(data["x"], data["y"], w, b),
        "test_r2": r2(data["x_test"], data["y_test"], w, b),
        "time_s": round(seconds, 3),
    }


def fit_closed_form(data: dict, data_name: str) -> dict:
    start = time.perf_counter()
    w, b = closed_form(data["x"], data["y"])
    return score("closed form (tf.linalg.lstsq)", data_name, data, w, b, time.perf_counter() - start, None)


"""## Run it

`run(config)` fits the closed form and four optimizer settings on the linear data, the closed form
and the two Adams on the document's, draws the loss curves (`loss_curves.png`) and returns the
table as JSON-ready metrics.
"""


def run(config: Config) -> dict:
    keras.utils.set_random_seed(config.seed)
    linear, document = make_linear_data(config), make_document_data(config)
    rows = [fit_closed_form(linear, "linear")]
    best_mse = rows[0]["train_mse"]
    # (label, optimizer, lr, cosine decay, TensorBoard folder)
    methods = [
        ("Adam 1e-3 constant (document)", "adam", 1e-3, False, "adam_default"),
        (f"Adam {config.adam_lr:g} cosine (recipe)", "adam", config.adam_lr, True, "adam_cosine"),
        (f"SGD {config.sgd_lr:g} constant", "sgd", config.sgd_lr, False, "sgd_constant"),
        (f"SGD {config.sgd_lr:g} cosine", "sgd", config.sgd_lr, True, "sgd_cosine"),
    ]
    curves = {"closed form": [best_mse] * config.epochs}
    for label, name, lr, decay, log_name in methods:
        w, b, losses, seconds = train(linear, name, lr, decay, config, log_name)
        rows.append(score(label, "linear", linear, w, b, seconds, best_mse))
        curves[label] = losses

    doc_name = "document (y independent of x)"
    doc_rows = [fit_closed_form(document, doc_name)]
    for label, name, lr, decay, log_name in methods[:2]:  # the document's Adam as written, and the recipe's
        w, b, losses, seconds = train(document, name, lr, decay, config, "document_" + log_name)
        doc_rows.append(score(label, doc_name, document, w, b, seconds, doc_rows[0]["train_mse"]))
        curves[f"document's data, {label}"] = losses

    png = tfcook.plot.curves(
        {k: (np.arange(1, len(v) + 1), v) for k, v in curves.items()}, tfcook.out_dir() / "loss_curves.png",
        xlabel="epoch", ylabel="training MSE (mean over the epoch)", title="Dense(1) on y = w.x + b + noise, and on the document's data", logy=True,
    )
    recipe = rows[2]
    return {
        "w_max_abs_error": recipe["w_max_abs_error"],
        "b_abs_error": recipe["b_abs_error"],
        "mse_over_closed_form": recipe["mse_over_closed_form"],
        "closed_form_w_max_abs_error": rows[0]["w_max_abs_error"],
        "document_data_test_r2": doc_rows[2]["test_r2"],  # the recipe's Adam, converged
        "document_data_closed_form_test_r2": doc_rows[0]["test_r2"],
        "document_snippet_test_r2": doc_rows[1]["test_r2"],  # Adam 1e-3, 10 epochs: not converged
        "methods": rows + doc_rows,
        "loss_curves_png": png,
    }

"""## Notes

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): CPU, 2 cores (seed 0): Adam 1e-2 with
cosine decay is within 0.0014 of the true w and 0.0005 of b (the closed form: 0.0011, 0.0008), training MSE
1.0001x the closed form's; Adam 1e-3 (the document's) 1.024x, SGD 0.1 constant 1.064x, SGD 0.1 cosine 1.0001x;
the document's data: test R^2 -0.005 (closed form -0.006). Seed 1: 0.0009, 1.0002x, R^2 -0.001. ~20 CPU-
seconds. JAX (`--backend jax`, jax 0.10.2, seed 0): Adam within 0.00098 of the true w and 0.0002 of b,
training MSE 1.0002x the closed form's, the document's data R^2 -0.006: inside TensorFlow's seeds 0-1
(0.0009-0.0014 of w, 1.0001-1.0002x)
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run regression`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
