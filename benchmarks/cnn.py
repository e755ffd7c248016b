"""Benchmark cnn: the recipe's default run against keras-io's `mnist_convnet` as published.

The peer, written here from its published description (https://keras.io/examples/vision/mnist_convnet/):
Conv2D(32, 3x3, relu) - MaxPool 2x2 - Conv2D(64, 3x3, relu) - MaxPool 2x2 - Flatten - Dropout(0.5) -
Dense(10, softmax); categorical cross-entropy, Adam (default LR), batch 128, 15 epochs,
validation_split=0.1, numpy arrays. Only the data source differs: TFDS's MNIST through
`tfcook.data.mnist_arrays` instead of `keras.datasets.mnist` (which downloads).

Each contender runs in its own fresh process. Wall times are the work alone (data loading,
training, evaluation; for the recipe also saving, reloading and plotting), not the imports;
CPU seconds are the whole child process, imports included, which is the fairer figure on a
shared machine. Goal: higher accuracy at <= 0.33x the peer's wall time.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import _bench


def peer(out_json: str, epochs: int) -> None:
    """keras-io mnist_convnet, as published."""
    import keras
    from keras import layers

    import tfcook.data

    keras.utils.set_random_seed(0)
    start = time.time()
    x_train, y_train = tfcook.data.mnist_arrays("train")  # float32 [N, 28, 28, 1] in [0, 1], like the example's
    x_test, y_test = tfcook.data.mnist_arrays("test")
    y_train, y_test = keras.utils.to_categorical(y_train, 10), keras.utils.to_categorical(y_test, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    fit_start = time.time()
    model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1, verbose=2)
    train_time = time.time() - fit_start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    record = {"test_accuracy": float(accuracy), "train_time_s": round(train_time, 2), "wall_time_s": round(time.time() - start, 2)}
    with open(out_json, "w") as f:
        json.dump(record, f)


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_peer(epochs: int) -> dict:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        proc = subprocess.run([sys.executable, __file__, "--peer-json", f.name, "--peer-epochs", str(epochs)], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"the keras-io peer failed:\n{proc.stderr[-3000:]}")
        return json.loads(open(f.name).read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seeds", default="0", help="comma-separated recipe seeds, each run once per repeat (e.g. 0,1,2)")
    parser.add_argument("--peer-json", help=argparse.SUPPRESS)  # internal: run the peer in this process
    parser.add_argument("--peer-epochs", type=int, default=15, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_json:
        peer(args.peer_json, args.peer_epochs)
        return
    rows, ratios, cpu_ratios = [], [], []
    for i in range(args.repeats):
        cpu0 = child_cpu()
        keras_io = run_peer(args.peer_epochs)
        peer_cpu = child_cpu() - cpu0
        rows.append({"run": "keras-io mnist_convnet", "repeat": i, "seed": 0, "test_accuracy": keras_io["test_accuracy"],
                     "wall_time_s": keras_io["wall_time_s"], "train_time_s": keras_io["train_time_s"], "process_cpu_s": round(peer_cpu, 1)})
        for seed in args.seeds.split(","):
            cpu0 = child_cpu()
            recipe = _bench.run("cnn", f"--seed={seed}")
            recipe_cpu = child_cpu() - cpu0
            m = recipe["metrics"]
            rows.append({"run": "cnn recipe", "repeat": i, "seed": int(seed), "test_accuracy": m["test_accuracy"],
                         "wall_time_s": recipe["wall_time_s"], "train_time_s": m["train_time_s"], "process_cpu_s": round(recipe_cpu, 1)})
            ratios.append(recipe["wall_time_s"] / keras_io["wall_time_s"])
            cpu_ratios.append(recipe_cpu / peer_cpu)
    _bench.report("cnn", rows, {
        "wall time ratio recipe/keras-io (median)": round(statistics.median(ratios), 3),
        "process CPU ratio recipe/keras-io (median)": round(statistics.median(cpu_ratios), 3),
        "goal": "<= 0.33 with higher test accuracy than keras-io (bar: >= 0.994)",
    })


if __name__ == "__main__":
    main()
