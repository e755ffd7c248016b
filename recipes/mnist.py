"""MNIST trainer: the document's 784-128-10 network, trained the TensorFlow 2 way

Summary: The 784-128-10 MLP on MNIST with tf.data, deskewing and a cosine LR
Category: basics
Origin: a blog post's interview task, "write a simple NN training program":
    Dense(128, relu) -> Dense(10, softmax), Adam, sparse categorical cross-entropy, 5 epochs, evaluate (catalog `mnist`)
Accelerator: CPU, GPU, TPU (one file; `--device` picks the tf.distribute strategy)
Backends: tensorflow, jax (the same file; `--backend jax` or KERAS_BACKEND=jax)
Bar: ≥ 98.0 % test accuracy with the same 784-128-10 architecture, 5 epochs; the reloaded `.keras` model scores the same
Results: 98.52 % vs the document's snippet 97.48 % in 0.437x its wall time
Peer: doc 000's snippet as written (numpy arrays, batch 32): accuracy and wall time (`make bench NAME=mnist`)
Run: make recipe NAME=mnist    (quick check: make recipe NAME=mnist ARGS=--tiny)

The document's program reaches ~97.5 %: five epochs leave its small network underfit. This recipe
keeps the network and changes how it is fed and trained, one section at a time below.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import keras
import tensorflow as tf

import tfcook

TRAIN_SIZE = 60_000
EVAL_BATCH = 1000  # divides the 10,000 test images: TPUs want every batch the same shape

"""## Settings

`Config` holds every setting, each with its type and why it has its value; the defaults are the
recorded run. `Config.tiny()` is a check that takes seconds. From the command line each field is
a flag: `tfcook run mnist --epochs=1`.
"""


@dataclasses.dataclass
class Config:
    epochs: int = 5  # passes over the training set (the document's 5)
    batch_size: int = 256  # global batch, split across replicas (the document: 32)
    learning_rate: float = 1e-2  # Adam's peak LR, cosine-decayed to 0 by the last step
    dropout: float = 0.2  # dropout after the hidden layer (0: none)
    deskew: bool = True  # shear each digit upright before training and testing
    train_examples: int = 0  # use the first N training images (0: all 60,000)
    test_examples: int = 0  # evaluate on the first N test images (0: all 10,000)
    steps_per_execution: int = 20  # training steps per tf.function call (TPUs like 50+)
    # Run doc 000's program as written instead: numpy arrays, batch 32, constant LR 1e-3, no
    # dropout or deskewing. Uses only epochs, the example counts and seed from this Config.
    snippet: bool = False
    seed: int = 0  # seeds Python, NumPy and TensorFlow

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.steps_per_execution < 1:
            raise ValueError("epochs, batch_size and steps_per_execution must be at least 1")
        if 0 < self.train_examples < self.batch_size and not self.snippet:
            raise ValueError(f"train_examples ({self.train_examples}) must be 0 or at least batch_size ({self.batch_size})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.test_examples % EVAL_BATCH and not self.snippet:
            raise ValueError(f"test_examples must be a multiple of {EVAL_BATCH} (0 for all)")

    @classmethod
    def tiny(cls) -> Config:
        """Seconds on a laptop: 2,048 real training images, one epoch."""
        return cls(epochs=1, train_examples=2048, test_examples=1000)


"""## The data: MNIST through tf.data, deskewed

Deskewing (from LeCun's MNIST page) shears each digit so its principal axis is upright, which
removes the slant the 128 hidden units would otherwise spend capacity on: +0.6 points. It runs
vectorized in the input pipeline, once, before the cache. The saved model expects deskewed input:
call `deskew` on images before `model.predict`.

The pipeline decodes and normalizes once, caches, reshuffles every epoch, batches and
prefetches, so the accelerator never waits on Python.
"""


def deskew(images: tf.Tensor) -> tf.Tensor:
    """Shear each image [B, 28, 28, 1] so the digit's principal axis is vertical.

    From the image moments: the row-column covariance over the row variance is the slant;
    the inverse shear about the centre of mass also moves the digit to the image centre.
    """
    pixels = images[..., 0]
    grid = tf.range(28, dtype=tf.float32)
    rows, cols = tf.meshgrid(grid, grid, indexing="ij")
    mass = tf.reduce_sum(pixels, axis=[1, 2]) + 1e-6

    def mean(values):
        return tf.reduce_sum(values * pixels, axis=[1, 2]) / mass

    row_c, col_c = mean(rows), mean(cols)
    d_row = rows - row_c[:, None, None]
    slant = mean(d_row * (cols - col_c[:, None, None])) / (mean(d_row**2) + 1e-6)
    one, zero = tf.ones_like(slant), tf.zeros_like(slant)
    # Maps each output pixel (x=col, y=row) to the input pixel it samples.
    transform = tf.stack([one, slant, col_c - 14.0 * slant - 14.0, zero, one, row_c - 14.0, zero, zero], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transform, output_shape=[28, 28], fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT"
    )


def make_datasets(config: Config) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    preprocess = deskew if config.deskew else None
    # drop_remainder keeps every training batch the same shape (required on TPU; costs <0.2 %).
    train = tfcook.data.mnist(
        "train", config.batch_size, shuffle=True, limit=config.train_examples, preprocess=preprocess, drop_remainder=True
    )
    test = tfcook.data.mnist("test", EVAL_BATCH, limit=config.test_examples, preprocess=preprocess)
    return train, test


"""## The model

The document's network, unchanged: 784 inputs, 128 ReLU units, 10 softmax outputs (101,770
weights). The only addition is dropout 0.2 after the hidden layer, which adds no weights: the
higher learning rate below overfits without it.
"""


def build_model(dropout: float = 0.0) -> keras.Model:
    """The document's network: 784 inputs -> Dense(128, relu) -> Dense(10, softmax)."""
    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="mnist_mlp")


"""## Training

Batch 256 with Adam's learning rate at 1e-2, decayed to 0 by a cosine schedule over the whole run:
the higher peak makes more progress per step and the decay settles it, with 8x fewer steps than
the document's batch 32. `steps_per_execution=20` runs 20 steps per call into the compiled
function, cutting Python overhead (TPUs want 50 or more). TensorBoard logs go to the run folder.
"""


def compile_model(model: keras.Model, config: Config, total_steps: int) -> None:
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total_steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=config.steps_per_execution,
    )


def train(model: keras.Model, train_ds: tf.data.Dataset, epochs: int) -> keras.callbacks.History:
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(tfcook.out_dir() / "tensorboard"))
    # tfcook.resume.fit is model.fit that saves the training state after every epoch and, run again
    # into the same folder, resumes after the last one. shuffle=False: the pipeline reshuffles
    # itself.
    return tfcook.resume.fit(model, train_ds, epochs=epochs, callbacks=[tensorboard], shuffle=False,
                             verbose=tfcook.verbose())


"""## Evaluate, save, reload

The trained model is scored on the test set, saved as `.keras`, reloaded and scored again: the
run fails if the two scores differ, since then saving lost some state.
"""


def evaluate(model: keras.Model, test_ds: tf.data.Dataset) -> tuple[float, float]:
    loss, accuracy = model.evaluate(test_ds, verbose=0)
    return float(loss), float(accuracy)


def save_and_reload(model: keras.Model, path: str) -> keras.Model:
    model.save(path)
    return keras.models.load_model(path)


"""## The document's program, for comparison

`--snippet` runs the original as written: NumPy arrays, batch 32, Adam at a constant 1e-3, no
dropout or deskewing. `make bench NAME=mnist` runs it beside the default in its own process.
"""


def run_snippet(config: Config) -> dict:
    """Doc 000's program as written (data from TFDS instead of keras.datasets, which downloads)."""
    x_train, y_train = tfcook.data.mnist_arrays("train", config.train_examples)
    x_test, y_test = tfcook.data.mnist_arrays("test", config.test_examples)
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=config.epochs, verbose=tfcook.verbose())
    train_time = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {
        "test_accuracy": accuracy,
        "test_loss": loss,
        "train_accuracy": history.history["accuracy"][-1],
        "train_time_s": round(train_time, 2),
    }


"""## Run it

`run(config)` trains, evaluates and returns JSON-ready metrics; `tfcook run mnist` writes them to
`result.json` beside the TensorBoard logs and the saved model.
"""


def run(config: Config) -> dict:
    keras.utils.set_random_seed(config.seed)
    if config.snippet:
        return run_snippet(config)
    train_ds, test_ds = make_datasets(config)
    steps_per_epoch = (config.train_examples or TRAIN_SIZE) // config.batch_size
    strategy = tfcook.strategy()
    with strategy.scope():
        model = build_model(config.dropout)
        compile_model(model, config, config.epochs * steps_per_epoch)

    start = time.perf_counter()
    history = train(model, train_ds, config.epochs)
    train_time = time.perf_counter() - start
    loss, accuracy = evaluate(model, test_ds)

    path = str(tfcook.out_dir() / "mnist.keras")
    with strategy.scope():
        reloaded = save_and_reload(model, path)
    _, reloaded_accuracy = evaluate(reloaded, test_ds)
    if reloaded_accuracy != accuracy:
        raise RuntimeError(f"the reloaded model scores {reloaded_accuracy} but the trained one {accuracy}: saving lost state")
    return {
        "test_accuracy": accuracy,
        "test_loss": loss,
        "reloaded_test_accuracy": reloaded_accuracy,
        "train_accuracy": history.history["accuracy"][-1],
        "train_time_s": round(train_time, 2),
        "params": model.count_params(),
        "model_file": path,
    }


"""## Notes

Measured (seed 0, all 60,000 / 10,000 images): without deskewing the same schedule gives
97.9-98.0 %; label smoothing, input standardization and weight EMA gave nothing; batch 128
scored the same as 256 (98.40-98.52 % over seeds 0-3) in 25 % more time.

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): CPU, 2 cores: test accuracy 98.46 % in
8.8 s (seeds 0-2: 98.46-98.54 %); the document's snippet 97.48 % in 23.9 s; median time ratio 0.38 (`make
bench NAME=mnist`). JAX (`--backend jax`, jax 0.10.2, same machine, seed 0): 98.49 %, and 98.49 % under
DataParallel on 2 faked CPU devices (the CI test); inside TensorFlow's seed spread (98.46-98.54 %)
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run mnist`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
