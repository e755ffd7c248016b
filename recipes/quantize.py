"""Quantization: every TFLite variant of one MNIST model, measured in the LiteRT interpreter

Summary: Post-training and quantization-aware int8 TFLite: size, accuracy, latency
Category: compression
Origin: a blog post's `quantize_model(model)` snippet ("weights and activations to FP16 or INT8") and its interview
    question on inference efficiency: quantization, inference engine (catalog `quantize`)
Accelerator: CPU, GPU, TPU (training follows `--device`; the .tflite models run on the CPU in LiteRT/XNNPACK)
Backends: tensorflow only (tfmot and the TFLite converter need Keras 2 and TensorFlow graphs)
Bar: int8 ≥ 3.5× smaller than float32 .tflite with drop ≤ 0.5 pt; QAT int8 drop ≤ 0.3 pt
Results: int8 .tflite 3.84x smaller and 2.72x faster at batch 1; accuracy drop -0.01 pt
Peer: float32 .tflite: size, accuracy, batch-1 latency (`make bench NAME=quantize`)
Run: make recipe NAME=quantize

The document's `quantize_model(model)` stands for several different conversions. All of them,
from one trained Keras 3 model, each evaluated on the 10,000 test images by the LiteRT interpreter
(`ai_edge_litert`, the successor of `tf.lite.Interpreter`):

| variant        | weights | activations            | needs                      |
|----------------|---------|------------------------|----------------------------|
| float32        | float32 | float32                | nothing (the baseline)     |
| dynamic_range  | int8    | float32 (int8 matmuls) | nothing                    |
| float16        | float16 | float32 (GPU: float16) | nothing                    |
| int8           | int8    | int8, int8 input/output| a representative dataset   |
| qat_int8       | int8    | int8, int8 input/output| fine-tuning with fake-quant|
"""

from __future__ import annotations

import dataclasses
import sys

import keras
import tensorflow as tf

import tfcook

VARIANTS = ("float32", "dynamic_range", "float16", "int8", "qat_int8")


"""## Settings

`Config` holds every setting with its type and reason; the defaults are the recorded run, and
`Config.tiny()` a check that takes seconds.
"""


@dataclasses.dataclass
class Config:
    epochs: int = 2  # float training epochs (Keras 3)
    qat_epochs: int = 1  # quantization-aware fine-tuning epochs (tf_keras + tfmot); 0 skips QAT
    batch_size: int = 128  # training batch
    learning_rate: float = 1e-3  # Adam, for training; QAT fine-tunes at a tenth of it
    calibration_examples: int = 500  # training images the int8 converter calibrates activation ranges on
    latency_runs: int = 500  # batch-1 invocations timed per variant (median reported)
    threads: int = 1  # LiteRT interpreter threads (1: the phone-like, comparable setting)
    train_examples: int = 0  # first N training images (0: all 60,000)
    test_examples: int = 0  # first N test images (0: all 10,000)
    seed: int = 0  # seeds Python, NumPy and TensorFlow

    def __post_init__(self):
        if min(self.epochs, self.batch_size, self.calibration_examples, self.latency_runs, self.threads) < 1:
            raise ValueError("epochs, batch_size, calibration_examples, latency_runs and threads must be at least 1")
        if self.qat_epochs < 0:
            raise ValueError("qat_epochs must be 0 or more")

    @classmethod
    def tiny(cls) -> Config:
        return cls(epochs=1, train_examples=1024, test_examples=500, calibration_examples=64, latency_runs=20)


"""## The float model

A small convolutional net, written once for both Keras 3 and tf_keras (`keras_module`), since QAT
below needs a tf_keras twin of it. Its first convolution has stride 2 (MobileNet's stem): see
Notes for why that matters to int8.
"""


def build_model(keras_module=keras) -> keras.Model:
    """A small conv net with a stride-2 stem (the Notes say why).

    `keras_module` is Keras 3, or tf_keras for the QAT twin: same layers, same weights.
    """
    layers = keras_module.layers
    return keras_module.Sequential(
        [
            keras_module.Input((28, 28, 1)),
            layers.Conv2D(32, 3, strides=2, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),  # logits: argmax needs no softmax, and int8 logits keep their order
        ]
    )


def compile_model(model, keras_module, learning_rate: float) -> None:
    model.compile(
        optimizer=keras_module.optimizers.Adam(learning_rate),
        loss=keras_module.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def train_float_model(config: Config, train_ds) -> keras.Model:
    with tfcook.strategy().scope():
        model = build_model()
        compile_model(model, keras, config.learning_rate)
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(tfcook.out_dir() / "tensorboard" / "float"))
    # Saved after every epoch: the same command with --out resumes a lost run after its last one.
    tfcook.resume.fit(model, train_ds, epochs=config.epochs, name="float", callbacks=[tensorboard],
                      shuffle=False, verbose=tfcook.verbose())
    return model


"""## Converting: four post-training variants

Keras 3 models convert through a SavedModel: `model.export(dir)`, then
`TFLiteConverter.from_saved_model(dir)` (`from_keras_model` expects Keras 2 models). Full-integer
conversion calibrates each activation's range on ~500 training images (`representative_dataset`);
`inference_input_type=tf.int8` makes the model take int8 pixels, so the caller quantizes inputs
with the input tensor's (scale, zero_point).
"""


def representative_images(count: int):
    """The int8 converter's calibration data: a generator of single-image input lists."""
    images, _ = tfcook.data.mnist_arrays("train", count)

    def generate():
        for image in images:
            yield [image[None]]

    return generate


def convert(saved_model_dir: str, variant: str, calibration) -> bytes:
    """TFLite flatbuffer of the SavedModel for one post-training variant."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # alone: int8 weights, float activations
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        converter.representative_dataset = calibration
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]  # fail rather than fall back to float
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


"""## Quantization-aware training

QAT needs tfmot, which only works with Keras 2 (`tf_keras`): the trained weights are copied into a
tf_keras twin, wrapped by `quantize_model` (fake-quant ops that round weights and activations to
int8 in the forward pass), fine-tuned for an epoch, and converted.
"""


def quantization_aware_training(model: keras.Model, config: Config, train_ds) -> bytes:
    """Fine-tune a tf_keras twin of `model` with fake-quant ops (tfmot), then convert it to int8."""
    # Imported here, not at the top: importing tfmot switches tf.keras to tf_keras for the whole
    # process (TF_USE_LEGACY_KERAS=1), which the post-training paths should not impose on a user.
    import tensorflow_model_optimization as tfmot
    import tf_keras

    twin = build_model(tf_keras)
    twin.set_weights(model.get_weights())
    qat_model = tfmot.quantization.keras.quantize_model(twin)
    compile_model(qat_model, tf_keras, config.learning_rate / 10)
    tensorboard = tf_keras.callbacks.TensorBoard(log_dir=str(tfcook.out_dir() / "tensorboard" / "qat"))
    tfcook.resume.fit(qat_model, train_ds, epochs=config.qat_epochs, name="qat",
                      callbacks=[tensorboard], verbose=tfcook.verbose())

    converter = tf.lite.TFLiteConverter.from_keras_model(qat_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # the ranges come from training: no calibration
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def build_variants(model: keras.Model, config: Config, train_ds) -> dict[str, bytes]:
    saved_model = str(tfcook.out_dir() / "saved_model")
    model.export(saved_model, verbose=False)
    calibration = representative_images(config.calibration_examples)
    flatbuffers = {v: convert(saved_model, v, calibration) for v in ("float32", "dynamic_range", "float16", "int8")}
    if config.qat_epochs:
        flatbuffers["qat_int8"] = quantization_aware_training(model, config, train_ds)
    return flatbuffers


"""## Measuring in the LiteRT interpreter

Every variant is scored on the 10,000 test images by `ai_edge_litert` (the successor of
`tf.lite.Interpreter`), and timed at batch 1 with one interpreter thread: `invoke()` alone, the
median of many calls.
"""


def measure(flatbuffers: dict[str, bytes], config: Config, images, labels) -> list[dict]:
    """One row per variant: size, accuracy and batch-1 latency, with ratios against float32."""
    folder = tfcook.out_dir() / "tflite"
    folder.mkdir(exist_ok=True)
    rows = []
    for variant, flatbuffer in flatbuffers.items():
        path = folder / f"mnist_{variant}.tflite"
        path.write_bytes(flatbuffer)
        print(f"evaluating {path.name}", flush=True)
        rows.append(
            {
                "variant": variant,
                "size_kb": round(len(flatbuffer) / 1024, 1),
                "test_accuracy": tfcook.litert.accuracy(path, images, labels),
                "latency_us": round(tfcook.litert.latency_us(path, images[0], config.latency_runs, config.threads), 1),
            }
        )
    base = rows[0]
    for row in rows:
        row["smaller_x"] = round(base["size_kb"] / row["size_kb"], 2)
        row["drop_pt"] = round(100 * (base["test_accuracy"] - row["test_accuracy"]), 2)
        row["faster_x"] = round(base["latency_us"] / row["latency_us"], 2)
    return rows


"""## Run it

`run(config)` trains the float model, builds every variant and returns the size, accuracy and
latency table.
"""


def run(config: Config) -> dict:
    keras.utils.set_random_seed(config.seed)
    train_ds = tfcook.data.mnist("train", config.batch_size, shuffle=True, limit=config.train_examples)
    model = train_float_model(config, train_ds)
    images, labels = tfcook.data.mnist_arrays("test", config.test_examples)
    _, keras_accuracy = model.evaluate(images, labels, batch_size=1000, verbose=0)
    rows = measure(build_variants(model, config, train_ds), config, images, labels)
    by_name = {row["variant"]: row for row in rows}
    metrics = {
        "keras_test_accuracy": float(keras_accuracy),
        "int8_smaller_x": by_name["int8"]["smaller_x"],
        "int8_drop_pt": by_name["int8"]["drop_pt"],
        "int8_faster_x": by_name["int8"]["faster_x"],
    }
    if "qat_int8" in by_name:
        metrics["qat_int8_drop_pt"] = by_name["qat_int8"]["drop_pt"]
    metrics["variants"] = rows
    return metrics


"""## Notes

Where int8 is fast, and where not: XNNPACK (LiteRT's CPU backend) runs a convolution over the
1-channel input image 5x slower in int8 than in float32 (27 vs 5 us here): its float path has a
dedicated kernel for few-channel inputs, its int8 path does not. With the usual pooling-after-
first-conv design that one layer ate the whole gain (int8 1.4x faster than float32). A stride-2
first convolution (MobileNet's stem) does 4x less work there: int8 is then 2.8x faster, at the
same size. Dynamic-range quantization sidesteps it differently: it leaves that small kernel in
float and quantizes only the big ones.

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): CPU, 2 cores, 1 interpreter thread:
float32 .tflite 883 KB, 98.64 %, 43 us; int8 230 KB (3.84x smaller), 98.66 % (drop -0.02 pt), 15 us (2.84x
faster); QAT int8 98.77 % (drop -0.13 pt)
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run quantize`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
