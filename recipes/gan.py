"""GAN: a class-conditional DCGAN on MNIST, scored by a classifier trained on real digits

Summary: conditional DCGAN with a custom `train_step`, a per-epoch fixed-noise sample grid, and honest scores: classifier confidence, class histogram, MNIST FID
Category: vision
Origin: catalog `gan`, doc 001 #11 "GAN image generation"; keras-io `generative/dcgan_overriding_train_step`
    and `generative/conditional_gan`; the TensorFlow DCGAN tutorial
Accelerator: CPU, GPU, TPU (`model.fit` under `tfcook.strategy()`, static batch shapes; `--jit_compile=true` for XLA on GPU)
Backends: tensorflow, jax (the same file; `--backend jax` or KERAS_BACKEND=jax)
Bar: >= 90 % of 10,000 samples labelled by the judge with confidence >= 0.9, every digit >= 5 % of them (catalog);
    CI checks it on a 5-epoch run (`--epochs=5`), the default trains 14
Results: CPU, 2 cores (AMD EPYC Zen 3), seed 0, default config (14 epochs): 95.07 % of 10,000 samples
    confidently recognised (catalog bar 90 %), every digit >= 9.07 % of them; MNIST FID 1.79 against a floor of 0.40:
    4.50x (goal <= 5x); 452 s of training, 499 s wall (goal <= 10 min). 10 epochs: 95.55 %, FID 5.78x, 344 s wall.
    CI (`--epochs=5`): 94.41 % confident, every digit >= 8.43 %, FID 11.2x the floor
Peer: the same DCGAN without the labels (`--conditional=false`), in its own process (`make bench NAME=gan`): 54.1 % confident, the rarest digit
    3.2 %, FID 36.1x the floor: conditional/plain FID 0.12; 407 s of training (time ratio conditional/plain 1.11)
Run: make recipe NAME=gan    (quick check: make recipe NAME=gan ARGS=--tiny)

The networks are DCGAN's (keras-io `dcgan_overriding_train_step`), small for 28x28 digits: the
generator maps noise (and an embedded digit) through Dense 7x7 and two stride-2 transposed convs
to a tanh image; the discriminator is two stride-2 LeakyReLU convs and a logit. Conditioning
works by projection (Miyato & Koyama 2018): the logit gains the dot product of the features with
a learned embedding of the digit. `GAN.train_step` updates the discriminator on a real and a
generated batch, then the generator with the non-saturating loss; `fit` runs it under
`tfcook.strategy()`. Samples come from an exponential moving average of the generator's weights
(decay 0.999, with a warm-up so the random initial weights are forgotten).

The judge is a small CNN trained inside the run on real MNIST (98.7 % after 2 epochs). It
scores 10,000 samples, 1,000 per digit: the share it labels with confidence >= 0.9, the share of
each digit among those (mode collapse shows as a missing digit) and MNIST FID, the Fréchet
distance between the judge's 128 penultimate features of the samples and of 10,000 real test
digits, next to the floor: the same distance from 10,000 real training digits.

What the settings were chosen on (4 epochs, seed 0; confident share, FID / floor):
- DCGAN's Adam 2e-4: 84.4 %, 86.1 % with the moving average; 5e-4 with it: 90.1 %, 16.9x.
- 1e-3: 100 % confident, every digit exactly 10 %, but FID 97x the floor: each digit had
  collapsed to nearly one image. The confidence bar alone rewards that collapse; FID exposes it.
- Width 16 instead of 32 (the generator's 7x7 layer and the discriminator's second conv 32
  channels, not 64): ~3.5x fewer multiply-adds per step, and at 5e-4 as good.
- No XLA: on this CPU it made the width-32 step slower (88 vs 81 ms per batch of 128).
- 14 epochs, not 10: the confident share is already there at 10 (95.55 %), but FID falls from
  5.78x to 4.50x the floor, inside the 5x goal, for 155 s more (499 s wall in all).

Artifacts: `samples_epoch_NNN.png` after every epoch (the same noise, one row per digit, also as
TensorBoard images), `samples.png` from fresh noise, and the averaged generator as `generator.keras`.
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

NUM_CLASSES = 10
GRID_COLUMNS = 10  # fixed noise vectors per digit in the sample grid


@dataclasses.dataclass
class Config:
    epochs: int = 14  # passes over the 60,000 training images
    batch_size: int = 128  # global batch of real images (and as many generated ones)
    latent_dim: int = 64  # size of the generator's noise vector
    width: int = 16  # channels of the discriminator's first conv (its second, and the generator's first, have 2x)
    learning_rate: float = 5e-4  # Adam for both networks, beta_1 0.5 (DCGAN's; its 2e-4 needs ~2x the epochs here)
    conditional: bool = True  # condition both networks on the digit class (False: a plain DCGAN)
    ema: float = 0.999  # sample from an exponential moving average of the generator's weights with this decay (0: off)
    train_examples: int = 0  # use the first N training images for the GAN and the judge (0: all 60,000)
    steps_per_execution: int = 10  # training steps per tf.function call
    jit_compile: bool = False  # compile the training step with XLA (on this CPU oneDNN's convolutions are faster)
    classifier_epochs: int = 2  # epochs of the judge: a small CNN trained on real MNIST
    # Generated images scored (the 10,000), split evenly over digits; FID compares them with as
    # many test images, and the floor is as many training images against the same test images.
    samples: int = 10_000
    confidence: float = 0.9  # a sample counts as recognisable when the judge's top probability reaches this
    seed: int = 0  # seeds Python, NumPy and TensorFlow

    def __post_init__(self):
        for name in ("epochs", "batch_size", "latent_dim", "width", "steps_per_execution", "classifier_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if 0 < self.train_examples < self.batch_size:
            raise ValueError(f"train_examples ({self.train_examples}) must be 0 or at least batch_size ({self.batch_size})")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if not 100 <= self.samples <= 10_000 or self.samples % NUM_CLASSES:
            raise ValueError(f"samples must be a multiple of {NUM_CLASSES} from 100 to 10,000 (the test set's size), got {self.samples}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")

    @classmethod
    def tiny(cls) -> Config:
        """Seconds: 1,024 real images, one epoch, a narrow pair of networks, 1,000 samples."""
        return cls(epochs=1, width=8, train_examples=1024, classifier_epochs=1, samples=1000)


# --- the two networks --------------------------------------------------------------------


def build_generator(config: Config) -> keras.Model:
    """Noise (and a digit) -> Dense 7x7 -> two stride-2 transposed convs -> a 28x28 image in [-1, 1]."""
    noise = keras.Input((config.latent_dim,), name="noise")
    inputs, h = [noise], noise
    if config.conditional:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        h = keras.layers.Concatenate()([noise, keras.layers.Embedding(NUM_CLASSES, config.latent_dim // 2)(label)])
    w = config.width
    h = keras.layers.Dense(7 * 7 * 2 * w, use_bias=False)(h)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    h = keras.layers.Reshape((7, 7, 2 * w))(h)
    h = keras.layers.Conv2DTranspose(w, 4, strides=2, padding="same", use_bias=False)(h)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    image = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", dtype="float32")(h)
    return keras.Model(inputs, image, name="generator")


def build_discriminator(config: Config) -> keras.Model:
    """Image (and its digit) -> two stride-2 convs -> one logit: "real".

    Conditioning by projection (Miyato & Koyama 2018): the logit is Dense(features) plus the
    dot product of the features with a learned embedding of the digit, so the network judges
    "a real image of *this* digit" at the cost of one extra vector per class.
    """
    image = keras.Input((28, 28, 1), name="image")
    w = config.width
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(w, 4, strides=2, padding="same")(image))
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(2 * w, 4, strides=2, padding="same")(h))
    features = keras.layers.Flatten()(h)
    logit = keras.layers.Dense(1)(features)
    inputs = [image]
    if config.conditional:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        embedded = keras.layers.Embedding(NUM_CLASSES, features.shape[-1])(label)
        logit = logit + keras.ops.sum(embedded * features, axis=-1, keepdims=True)
    return keras.Model(inputs, logit, name="discriminator")


class GAN(keras.Model):
    """Generator and discriminator trained against each other by `fit`, one `train_step` per batch.

    Each step: the discriminator learns to tell a real batch from a generated one, then the
    generator learns to make the (updated) discriminator call its images real (the
    non-saturating loss). Batches are (images in [-1, 1], labels).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, config: Config, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.conditional = config.latent_dim, config.conditional
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.ema_decay = config.ema
        self.ema_generator = keras.models.clone_model(generator) if config.ema else None
        # Both networks are built functional models, so this one has all its variables: marking it
        # built stops fit() under a MirroredStrategy or TPUStrategy from trying to build it by calling it.
        self.built = True

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        # Build the optimizers' slots now, outside the compiled step.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)
        if self.ema_generator is not None:
            for ema, w in zip(self.ema_generator.weights, self.generator.weights):
                ema.assign(w)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _inputs(self, x, labels):
        return [x, labels] if self.conditional else x

    def train_step(self, data):
        real, labels = data
        batch = tf.shape(real)[0]
        bce = keras.losses.BinaryCrossentropy(from_logits=True)

        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(self._inputs(noise, labels), training=True)
            real_logits = self.discriminator(self._inputs(real, labels), training=True)
            fake_logits = self.discriminator(self._inputs(fake, labels), training=True)
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))

        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(self._inputs(noise, labels), training=True)
            fake_logits = self.discriminator(self._inputs(fake, labels), training=True)
            g_loss = bce(tf.ones_like(fake_logits), fake_logits)  # "call these real"
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))

        if self.ema_generator is not None:
            # Warm-up: early on the average must not remember the random initial weights.
            step = tf.cast(self.g_optimizer.iterations, "float32")
            decay = tf.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
            # Assigned in replica context, as BatchNormalization assigns its moving statistics: the
            # trained weights are the same on every replica, so every copy of their average is too.
            for ema, w in zip(self.ema_generator.weights, self.generator.weights):
                ema.assign(decay * ema + (1.0 - decay) * w)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    def sampler(self) -> keras.Model:
        """The generator to draw samples from: the moving average when there is one."""
        return self.ema_generator if self.ema_generator is not None else self.generator


def generate(generator: keras.Model, noise: np.ndarray, labels: np.ndarray, conditional: bool, batch: int = 500) -> np.ndarray:
    """Images in [0, 1], [N, 28, 28, 1], from the generator in inference mode (BatchNorm moving statistics)."""
    inputs = [noise, labels.astype("int32")] if conditional else noise
    images = generator.predict(inputs, batch_size=batch, verbose=0)
    return (images + 1.0) / 2.0


class SampleGrid(keras.callbacks.Callback):
    """After each epoch: the same noise, one row per digit, as a PNG and as a TensorBoard image."""

    def __init__(self, gan: GAN, config: Config, log_dir: str):
        super().__init__()
        self.gan, self.conditional = gan, config.conditional
        rng = np.random.default_rng(config.seed + 1)
        columns = rng.standard_normal((GRID_COLUMNS, config.latent_dim)).astype("float32")
        if config.conditional:  # the same 10 noise vectors in every row: style across columns, digit across rows
            self.noise = np.tile(columns, (NUM_CLASSES, 1))
        else:
            self.noise = rng.standard_normal((NUM_CLASSES * GRID_COLUMNS, config.latent_dim)).astype("float32")
        self.labels = np.repeat(np.arange(NUM_CLASSES), GRID_COLUMNS)
        self.writer = tf.summary.create_file_writer(log_dir)
        self.paths: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        images = generate(self.gan.sampler(), self.noise, self.labels, self.conditional)
        path = tfcook.out_dir() / f"samples_epoch_{epoch + 1:03d}.png"
        rows = [str(d) for d in range(NUM_CLASSES)] if self.conditional else None
        self.paths.append(tfcook.plot.image_grid(images, path, cols=GRID_COLUMNS, row_labels=rows, title=f"epoch {epoch + 1}"))
        with self.writer.as_default():
            tf.summary.image("samples", mosaic(images)[None], step=epoch + 1)
        self.writer.flush()


def mosaic(images: np.ndarray, cols: int = GRID_COLUMNS) -> np.ndarray:
    """[N, H, W, 1] -> one [rows*H, cols*W, 1] image (TensorBoard shows one picture, not N)."""
    n, h, w, c = images.shape
    rows = -(-n // cols)
    padded = np.zeros((rows * cols, h, w, c), images.dtype)
    padded[:n] = images
    return padded.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


def to_tanh_range(images: tf.Tensor) -> tf.Tensor:
    return images * 2.0 - 1.0


def train_gan(config: Config) -> tuple[GAN, SampleGrid, dict, float]:
    data = tfcook.data.mnist(
        "train", config.batch_size, shuffle=True, limit=config.train_examples, preprocess=to_tanh_range, drop_remainder=True
    )
    with tfcook.strategy().scope():
        gan = GAN(build_generator(config), build_discriminator(config), config)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=0.5),
            g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=0.5),
            steps_per_execution=config.steps_per_execution,
            jit_compile=config.jit_compile,
        )
    log_dir = tfcook.out_dir() / "tensorboard"
    grid = SampleGrid(gan, config, str(log_dir / "samples"))
    start = time.perf_counter()
    history = gan.fit(
        data, epochs=config.epochs, callbacks=[grid, keras.callbacks.TensorBoard(str(log_dir))], shuffle=False, verbose=tfcook.verbose()
    )
    return gan, grid, history.history, time.perf_counter() - start


# --- the judge: a classifier trained on real MNIST --------------------------------------


def build_classifier() -> keras.Model:
    """A small CNN (~99 % on MNIST); its 128-unit `features` layer is the FID embedding."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(128, activation="relu", name="features"),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="judge",
    )


def train_classifier(config: Config) -> keras.Model:
    data = tfcook.data.mnist("train", 128, shuffle=True, limit=config.train_examples)
    with tfcook.strategy().scope():
        model = build_classifier()
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data, epochs=config.classifier_epochs, shuffle=False, verbose=tfcook.verbose())
    return model


def probabilities_and_features(classifier: keras.Model, *image_sets: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(probabilities, float64 features) for each set, from one two-output model built once."""
    both = keras.Model(classifier.inputs, [classifier.outputs[0], classifier.get_layer("features").output])
    outputs = []
    for images in image_sets:
        probs, features = both.predict(images, batch_size=1000, verbose=0)
        outputs.append((probs, features.astype(np.float64)))
    return outputs


def confident_histogram(probs: np.ndarray, threshold: float) -> tuple[float, np.ndarray]:
    """The fraction of images whose top probability is >= threshold, and per digit the fraction of
    *all* images confidently labelled that digit (these sum to the first number)."""
    confident = probs.max(axis=1) >= threshold
    labels = probs.argmax(axis=1)[confident]
    return float(confident.mean()), np.bincount(labels, minlength=probs.shape[1]) / len(probs)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a [N, D] and b [M, D].

    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2), where tr (S_a S_b)^1/2 is the sum of the
    square roots of the eigenvalues of S_a^1/2 S_b S_a^1/2 (symmetric, so `eigh` applies and
    no SciPy `sqrtm` is needed); eigenvalues rounding below 0 are clipped.
    """
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_root)


def score(config: Config, gan: GAN, classifier: keras.Model) -> dict:
    """Judge `config.samples` generated images against the real test set (and train vs test as the floor)."""
    # Three sets of the same size (FID is biased by N): samples, test images, training images.
    x_test, y_test = tfcook.data.mnist_arrays("test", config.samples)
    reference, _ = tfcook.data.mnist_arrays("train", config.samples)
    rng = np.random.default_rng(config.seed + 2)

    labels = np.repeat(np.arange(NUM_CLASSES), config.samples // NUM_CLASSES)
    noise = rng.standard_normal((config.samples, config.latent_dim)).astype("float32")
    fakes = generate(gan.sampler(), noise, labels, config.conditional)

    (test_probs, test_features), (_, train_features), (fake_probs, fake_features) = probabilities_and_features(
        classifier, x_test, reference, fakes
    )

    confident, histogram = confident_histogram(fake_probs, config.confidence)
    real_confident, _ = confident_histogram(test_probs, config.confidence)
    fid, floor = frechet_distance(fake_features, test_features), frechet_distance(train_features, test_features)
    agreement = fake_probs.argmax(axis=1) == labels
    rows = [
        {
            "digit": d,
            "confident_share": round(float(histogram[d]), 4),
            **({"asked_for": round(float((labels == d).mean()), 4), "agreement": round(float(agreement[labels == d].mean()), 4)} if config.conditional else {}),
        }
        for d in range(NUM_CLASSES)
    ]
    metrics = {
        "confident_fraction": round(confident, 4),
        "min_digit_share": round(float(histogram.min()), 4),
        "mnist_fid": round(fid, 3),
        "mnist_fid_floor": round(floor, 3),
        "fid_over_floor": round(fid / floor, 2),
        "classifier_test_accuracy": round(float((test_probs.argmax(axis=1) == y_test).mean()), 4),
        "classifier_confident_on_real_test": round(real_confident, 4),
    }
    if config.conditional:
        metrics["label_agreement"] = round(float(agreement.mean()), 4)
    metrics["digits"] = rows
    return metrics


def run(config: Config) -> dict:
    keras.utils.set_random_seed(config.seed)
    print("training the judge (a CNN on real MNIST)", flush=True)
    classifier = train_classifier(config)
    print("training the GAN", flush=True)
    gan, grid, history, train_time = train_gan(config)
    metrics = score(config, gan, classifier)
    samples = tfcook.out_dir() / "samples.png"
    final = np.repeat(np.arange(NUM_CLASSES), GRID_COLUMNS)
    rng = np.random.default_rng(config.seed + 3)
    images = generate(gan.sampler(), rng.standard_normal((len(final), config.latent_dim)).astype("float32"), final, config.conditional)
    metrics.update(
        d_loss=round(float(history["d_loss"][-1]), 4),
        g_loss=round(float(history["g_loss"][-1]), 4),
        train_time_s=round(train_time, 1),
        generator_params=gan.generator.count_params(),
        discriminator_params=gan.discriminator.count_params(),
        samples_png=tfcook.plot.image_grid(images, samples, cols=GRID_COLUMNS, title="fresh noise, one row per digit" if config.conditional else "fresh noise"),
        epoch_grids=grid.paths,
    )
    gan.sampler().save(tfcook.out_dir() / "generator.keras")
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run gan`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
