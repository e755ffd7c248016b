"""DP-SGD: differentially private training on MNIST, written in TensorFlow, accounted with dp-accounting

Summary: Differentially private SGD: vectorized per-example gradients, PLD accounting
Category: privacy and systems
Origin: a blog post's question, "differential privacy for training" (catalog `dp_sgd`)
Accelerator: CPU, GPU, TPU (one `strategy.run` step on padded batches of one static shape; every replica adds its share of the noise)
Backends: tensorflow only (per-example gradients with tf.vectorized_map and per-replica noise under tf.distribute)
Bar: >= 95 % MNIST test accuracy at epsilon <= 3 (delta = 1e-5), epsilon recomputed from the run's noise multiplier,
    sampling rate and steps equals the reported one. CI runs `--epochs=3` (epsilon 1.04); the default is the bench run
Results: 97.02 % at epsilon 2.69 vs 98.41 % non-private; per-example gradients 14.7x a loop
Peer: the same model and batches trained without clipping or noise (`--private=false --learning_rate=0.3`: DP-SGD's
    rate diverges on unclipped gradients), and the per-example gradients computed by Python loops over the
    examples (`make bench NAME=dp_sgd`)
Run: make recipe NAME=dp_sgd    (quick check: make recipe NAME=dp_sgd ARGS=--tiny)

DP-SGD (Abadi et al. 2016) makes each training step a Gaussian mechanism on the batch: Poisson
sampling, per-example gradients, clipping, noise, and accounting, section by section below.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import dp_accounting
import keras
import numpy as np
import tensorflow as tf

import tfcook
import tfcook.plot

NUM_CLASSES = 10
TRAIN_SIZE = 60_000
# Published MNIST pixel statistics: public constants, so normalizing spends no privacy (computing
# them from the private images would be a release the accountant does not count).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
PAD_SIGMAS = 7  # a Poisson batch larger than mean + 7 std has probability ~1e-12 per step


"""## Settings

`Config` holds every setting with its type and reason; the defaults are the recorded run, and
`Config.tiny()` a check that takes seconds.
"""


@dataclasses.dataclass
class Config:
    epochs: int = 20  # passes over the training set, in expectation (steps = epochs / sampling rate)
    batch_size: int = 2048  # expected batch size q n; the sampling rate q is batch_size / n
    noise_multiplier: float = 1.5  # sigma: noise std as a multiple of the clipping norm
    l2_norm_clip: float = 1.0  # C: every example's gradient is clipped to this L2 norm
    learning_rate: float = 2.0  # SGD peak learning rate (cosine decay to 0)
    momentum: float = 0.9  # SGD momentum (post-processing of private gradients: free)
    delta: float = 1e-5  # the delta of (epsilon, delta); must be well below 1/n
    epsilon_budget: float = 3.0  # refuse settings that would spend more (0: no limit)
    private: bool = True  # false: the peer, the same model and batches without clipping and noise
    train_examples: int = 0  # use the first N training images (0: all 60,000)
    seed: int = 0  # seeds the weights, the Poisson sampling and the noise

    def __post_init__(self):
        if min(self.epochs, self.batch_size) < 1 or self.learning_rate <= 0 or not 0 <= self.momentum < 1:
            raise ValueError("epochs and batch_size must be at least 1, learning_rate positive, momentum in [0, 1)")
        if self.l2_norm_clip <= 0 or self.epsilon_budget < 0:
            raise ValueError("l2_norm_clip must be positive and epsilon_budget >= 0")
        if self.private and self.noise_multiplier <= 0:
            raise ValueError("noise_multiplier must be positive: without noise the privacy loss is unbounded (epsilon = inf)")
        if not 0 < self.delta < 1:
            raise ValueError("delta must be in (0, 1)")

    @classmethod
    def tiny(cls) -> Config:
        """Seconds: 4,096 images, one epoch of batches of 256."""
        return cls(train_examples=4096, batch_size=256, epochs=1, noise_multiplier=1.0, learning_rate=1.0, epsilon_budget=0)


"""## Privacy accounting

Accounting: the steps compose into (epsilon, delta) with dp-accounting's PLD accountant (the RDP
bound is reported beside it; it is looser). epsilon is computed before training, and a run
whose settings would spend more than `epsilon_budget` is refused before it touches the data.
"""


def dp_event(noise_multiplier: float, sampling_rate: float, steps: int) -> dp_accounting.DpEvent:
    """`steps` compositions of the Poisson-subsampled Gaussian mechanism: what DP-SGD releases."""
    step = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, steps)


def epsilon(noise_multiplier: float, sampling_rate: float, steps: int, delta: float, accountant: str = "pld") -> float:
    """epsilon at `delta` for the run: PLD (tight) or RDP (the classic, looser bound)."""
    if accountant == "pld":
        acc = dp_accounting.pld.PLDAccountant()
    else:
        acc = dp_accounting.rdp.RdpAccountant()
    return float(acc.compose(dp_event(noise_multiplier, sampling_rate, steps)).get_epsilon(delta))


def check_accountable(config: Config, n: int) -> tuple[float, int]:
    """(sampling rate, steps), or a ConfigError that says why the run could not be accounted for."""
    q = config.batch_size / n
    if q > 1:
        raise tfcook.ConfigError(f"batch_size {config.batch_size} is larger than the {n} training examples: "
                                 "the sampling rate q = batch_size / n must be at most 1")
    if config.private and config.delta >= 1 / n:
        raise tfcook.ConfigError(f"delta {config.delta:g} is not below 1/n = {1 / n:.2g}: a mechanism that publishes one "
                                 "random training example outright satisfies that delta, so it promises nothing")
    return q, max(1, round(config.epochs / q))


"""## Poisson-sampled batches

Sampling: every training example joins the step's batch independently with probability
q = batch_size / n (Poisson sampling, what the accountant's `PoissonSampledDpEvent` assumes;
shuffled fixed-size batches would need a different analysis, so the recipe does not use them).

Poisson batches vary in size; each is padded to one static size (mean + 7 standard deviations,
a multiple of 8 per replica) with zero-weight rows, so the step compiles once and shards evenly over replicas.
"""


def padded_size(n: int, q: float, multiple: int = 64) -> int:
    """Static batch size every Poisson batch is padded to: mean + PAD_SIGMAS std, rounded up to `multiple`."""
    mean, std = n * q, math.sqrt(n * q * (1 - q))
    return min(multiple * math.ceil(n / multiple), multiple * math.ceil((mean + PAD_SIGMAS * std + 1) / multiple))


def poisson_batches(x: np.ndarray, y: np.ndarray, q: float, steps: int, size: int, seed: int, start: int = 0):
    """Yields (images, labels, weights) per step from step `start` on: each example in with probability q,
    padded to `size` with weight 0. The draws of the steps before `start` are made and dropped."""
    rng = np.random.default_rng(seed)
    for _ in range(start):
        rng.random(len(x))
    for _ in range(start, steps):
        idx = np.flatnonzero(rng.random(len(x)) < q)
        if len(idx) > size:  # ~1e-12 per step; truncating would break the accounting, so stop instead
            raise RuntimeError(f"a Poisson batch of {len(idx)} examples exceeds the padded size {size}")
        pad = size - len(idx)
        weights = np.r_[np.ones(len(idx), np.float32), np.zeros(pad, np.float32)]
        yield np.concatenate([x[idx], np.zeros((pad, *x.shape[1:]), x.dtype)]), np.r_[y[idx], np.zeros(pad, y.dtype)], weights


def train_dataset(x: np.ndarray, y: np.ndarray, q: float, steps: int, size: int, seed: int,
                  strategy: tf.distribute.Strategy, start: int = 0):
    """The Poisson batches, each cut into one slice per replica (`distribute_datasets_from_function` takes
    consecutive elements for the replicas of a step)."""
    replicas = strategy.num_replicas_in_sync
    per_replica = size // replicas

    def slices():
        for batch in poisson_batches(x, y.astype(np.int64), q, steps, size, seed, start):
            for r in range(replicas):
                yield tuple(part[r * per_replica : (r + 1) * per_replica] for part in batch)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        if context.num_input_pipelines > 1:  # one worker samples for all: the accountant's q is over the whole set
            raise tfcook.ConfigError("dp_sgd samples its batches on one worker; run it on one machine's devices")
        signature = (tf.TensorSpec((per_replica, *x.shape[1:]), tf.float32), tf.TensorSpec((per_replica,), tf.int64),
                     tf.TensorSpec((per_replica,), tf.float32))
        return tf.data.Dataset.from_generator(slices, output_signature=signature).prefetch(2 * replicas)

    return strategy.distribute_datasets_from_function(dataset_fn)


"""## The model and the private step

The model is the small tanh CNN of Papernot et al. 2021 ("Tempered sigmoid activations for deep
learning with differential privacy"): bounded activations keep clipped gradients informative.

Per-example gradients: `tf.vectorized_map` over the examples of one `GradientTape.gradient`
(pfor turns it into batched ops: one pass, not one per example). The convolutions' kernel
gradients are written as an einsum over patches (`BatchableConv2D`), because pfor has no
batched form of TensorFlow's own and would loop over the examples there.

Clipping: each example's gradient is scaled to L2 norm <= C (over all weights at once), so no
single image moves the sum by more than C: the sensitivity.

Noise: N(0, (sigma C)^2) is added to the sum, which is divided by the *expected* batch size q n
(dividing by the actual size would leak it). With R replicas each adds N(0, (sigma C)^2 / R):
the all-reduce sums them to exactly the noise the accountant is told about.
"""


def conv2d_batchable(x: tf.Tensor, kernel: tf.Tensor, strides: list[int], padding: str) -> tf.Tensor:
    """tf.nn.conv2d whose kernel gradient is written as patches times output gradients.

    Inside `tf.vectorized_map`, TensorFlow's own kernel gradient (Conv2DBackpropFilter) has no batched
    form: pfor falls back to a while_loop over the examples. Here the patches come from a convolution
    with an identity kernel (one output channel per patch entry; pfor batches a forward convolution),
    and the kernel gradient is one einsum over them, which pfor batches too (measured: per-example
    gradients of 256 images 88 -> 23 ms here). The same values as Conv2D's to ~1e-7."""
    kh, kw, cin, _ = kernel.shape
    size = kh * kw * cin

    @tf.custom_gradient
    def conv(x, kernel):
        def grad(dy):
            dx = tf.nn.conv2d_transpose(dy, kernel, tf.shape(x), strides, padding)
            eye = tf.reshape(tf.eye(size, dtype=x.dtype), [kh, kw, cin, size])
            patches = tf.nn.conv2d(x, eye, strides, padding)  # [batch, out_h, out_w, kh * kw * cin]
            return dx, tf.reshape(tf.einsum("bhwk,bhwc->kc", patches, dy), kernel.shape)

        return tf.nn.conv2d(x, kernel, strides, padding), grad

    return conv(x, tf.convert_to_tensor(kernel))


class BatchableConv2D(keras.layers.Conv2D):
    """Conv2D (channels last, no dilation) computed by `conv2d_batchable`: per-example gradients stay batched."""

    def convolution_op(self, inputs, kernel):
        if self.data_format != "channels_last" or max(self.dilation_rate) > 1:
            raise ValueError("BatchableConv2D supports channels_last without dilation only")
        return conv2d_batchable(inputs, kernel, list(self.strides), self.padding.upper())


def build_model(conv: type = BatchableConv2D) -> keras.Model:
    """Papernot et al.'s tanh CNN (26,010 weights): 16 8x8/2 conv, 32 4x4/2 conv, 32 dense, 10 logits."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Rescaling(1 / MNIST_STD, offset=-MNIST_MEAN / MNIST_STD),  # zero mean, unit variance: tanh's linear range
            conv(16, 8, strides=2, padding="same", activation="tanh"),
            layers.MaxPool2D(2, 1),
            conv(32, 4, strides=2, padding="valid", activation="tanh"),
            layers.MaxPool2D(2, 1),
            layers.Flatten(),
            layers.Dense(32, activation="tanh"),
            layers.Dense(NUM_CLASSES),
        ],
        name="tanh_cnn",
    )


def per_example_gradients(model: keras.Model, images: tf.Tensor, labels: tf.Tensor) -> list[tf.Tensor]:
    """One gradient per example, each variable's with a leading batch axis: tape.gradient vectorized by pfor."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def one(example):
        image, label = example
        with tf.GradientTape() as tape:
            loss = loss_fn(label[None], model(image[None], training=True))
        return tape.gradient(loss, model.trainable_variables)

    return tf.vectorized_map(one, (images, labels))


def clipped_sum(grads: list[tf.Tensor], weights: tf.Tensor, clip: float) -> tuple[list[tf.Tensor], tf.Tensor]:
    """Sum over examples of each gradient scaled to L2 norm <= clip (padding rows have weight 0); and the norms."""
    squares = [tf.reduce_sum(tf.reshape(g, [tf.shape(g)[0], -1]) ** 2, axis=1) for g in grads]
    norms = tf.sqrt(tf.add_n(squares))
    scale = weights * tf.minimum(1.0, clip / tf.maximum(norms, 1e-12))
    return [tf.tensordot(scale, g, axes=1) for g in grads], norms


class Trainer:
    """DP-SGD (or, with `private=False`, plain SGD on the same batches) as one replica step under a strategy."""

    def __init__(self, config: Config, model: keras.Model, strategy: tf.distribute.Strategy, expected_batch: float, steps: int):
        self.config, self.model, self.strategy = config, model, strategy
        self.expected_batch = expected_batch
        with strategy.scope():
            schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
            self.optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum)
            self.optimizer.build(model.trainable_variables)  # mirrored slots, not per-replica ones
            # Created in the strategy's scope, a generator gives every replica its own stream.
            self.noise = tf.random.Generator.from_seed(config.seed + 1)

    def replica_step(self, images, labels, weights):
        config, variables = self.config, self.model.trainable_variables
        replicas = self.strategy.num_replicas_in_sync
        if config.private:
            summed, norms = clipped_sum(per_example_gradients(self.model, images, labels), weights, config.l2_norm_clip)
            # Each replica adds N(0, (sigma C)^2 / R); the all-reduce in apply_gradients sums them to N(0, (sigma C)^2).
            std = config.noise_multiplier * config.l2_norm_clip / math.sqrt(replicas)
            grads = [(s + self.noise.normal(tf.shape(s), stddev=std)) / self.expected_batch for s in summed]
            clipped = tf.reduce_sum(weights * tf.cast(norms > config.l2_norm_clip, tf.float32))
        else:
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(weights * loss_fn(labels, self.model(images, training=True))) / self.expected_batch
            grads = tape.gradient(loss, variables)
            clipped = tf.constant(0.0)
        self.optimizer.apply_gradients(zip(grads, variables))
        return tf.stack([tf.reduce_sum(weights), clipped])

    @tf.function
    def step(self, images, labels, weights):
        """[examples in the batch, examples whose gradient was clipped], summed over replicas."""
        return self.strategy.reduce("SUM", self.strategy.run(self.replica_step, args=(images, labels, weights)), axis=None)


"""## Run it

`run(config)` checks the settings are accountable and within the budget before touching the data,
trains, evaluates after every epoch, and draws `accuracy_vs_epsilon.png`: test accuracy against
the epsilon spent so far.
"""


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float((np.argmax(model.predict(x, batch_size=2000, verbose=0), axis=1) == y).mean())


def train(config: Config, data: dict, q: float, steps: int) -> dict:
    strategy = tfcook.strategy()
    n = len(data["x"])
    size = padded_size(n, q, 8 * strategy.num_replicas_in_sync)
    with strategy.scope():
        model = build_model()
    trainer = Trainer(config, model, strategy, n * q, steps)
    # Evaluate at the end of each (expected) epoch: `epochs` points, the last after the last step.
    checkpoints = sorted({round(k * steps / config.epochs) for k in range(1, config.epochs + 1)})
    # What a resumed run needs: weights, momentum, step count (the schedule's position), the noise
    # generator's state, and how many noisy steps the interruptions cost (see `lost_steps`).
    state_variables = [*model.variables, *trainer.optimizer.variables, trainer.noise.state]
    state = tfcook.resume.load("dp_sgd", state_variables) or {"step": 0, "seen": 0.0, "clipped": 0.0, "curve": [], "lost": 0}
    lost = lost_steps(config, q, steps, state)
    dataset = train_dataset(data["x"], data["y"], q, steps, size, config.seed, strategy, start=state["step"])
    writer = tf.summary.create_file_writer(str(tfcook.out_dir() / "tensorboard" / ("dp_sgd" if config.private else "non_private")))
    progress = keras.utils.Progbar(steps, verbose=tfcook.verbose(), stateful_metrics=["test_accuracy", "epsilon"])
    curve, seen, clipped, start = state["curve"], state["seen"], state["clipped"], time.perf_counter()
    # Charged before they are taken: if the runtime is lost, the steps since the last checkpoint
    # count too (their noisy updates may have reached the logs or the checkpoint being written).
    tfcook.resume.remember("charged", next(c for c in checkpoints if c > state["step"]))
    for step, (images, labels, weights) in enumerate(dataset, state["step"] + 1):
        counts = trainer.step(images, labels, weights).numpy()
        seen, clipped = seen + counts[0], clipped + counts[1]
        if step in checkpoints:
            point = {"step": step, "epoch": round(step * q, 2), "test_accuracy": round(evaluate(model, data["x_test"], data["y_test"]), 4)}
            if config.private:
                point["epsilon"] = round(epsilon(config.noise_multiplier, q, step + lost, config.delta), 4)
            curve.append(point)
            with writer.as_default(step=step):
                for key in ("test_accuracy", "epsilon"):
                    if key in point:
                        tf.summary.scalar(key, point[key])
            progress.update(step, [(k, point[k]) for k in ("test_accuracy", "epsilon") if k in point])
            tfcook.resume.save("dp_sgd", state_variables, step=step, seen=float(seen), clipped=float(clipped), curve=curve,
                               lost=lost)
            tfcook.resume.remember("charged", next((c for c in checkpoints if c > step), step))
    return {"model": model, "curve": curve, "train_time_s": time.perf_counter() - start, "padded_batch": size,
            "mean_batch": seen / steps, "clipped_fraction": clipped / max(seen, 1), "lost_steps": lost}


def lost_steps(config: Config, q: float, steps: int, state: dict) -> int:
    """Noisy steps taken by runs that were lost after the last checkpoint: charged to the budget too,
    and a resumed run that would go over it is refused."""
    lost = state["lost"] + max(0, tfcook.resume.recall("charged", 0) - state["step"])
    if lost and config.private:
        spent = epsilon(config.noise_multiplier, q, steps + lost, config.delta)
        print(f"resuming at step {state['step']}: {lost} noisy steps of an interrupted run are charged too "
              f"(epsilon {spent:.3f} for the whole run)", flush=True)
        if config.epsilon_budget and spent > config.epsilon_budget:
            raise tfcook.ConfigError(f"resuming would spend epsilon = {spent:.2f}, over the budget of {config.epsilon_budget:g}, "
                                     f"counting the {lost} steps an interrupted run took after its last checkpoint")
    return lost


def run(config: Config) -> dict:
    # The privacy cost is known before training: refuse an over-budget run before touching the data.
    n = min(config.train_examples or TRAIN_SIZE, TRAIN_SIZE)
    q, steps = check_accountable(config, n)
    eps = epsilon(config.noise_multiplier, q, steps, config.delta) if config.private else math.inf
    if config.private and config.epsilon_budget and eps > config.epsilon_budget:
        raise tfcook.ConfigError(f"these settings spend epsilon = {eps:.2f} at delta = {config.delta:g}, over the budget of "
                                 f"{config.epsilon_budget:g}: lower --epochs, or raise --noise_multiplier or --epsilon_budget")
    keras.utils.set_random_seed(config.seed)
    x, y = tfcook.data.mnist_arrays("train", config.train_examples)
    x_test, y_test = tfcook.data.mnist_arrays("test")
    assert len(x) == n, "the sampling rate was computed for another training-set size"
    print(f"{'DP-SGD' if config.private else 'non-private SGD'}: {steps} steps, sampling rate {q:.5f}, "
          f"epsilon {eps:.3f} at delta {config.delta:g}", flush=True)
    trained = train(config, {"x": x, "y": y, "x_test": x_test, "y_test": y_test}, q, steps)
    charged = steps + trained["lost_steps"]
    metrics = {
        "private": config.private,
        "test_accuracy": trained["curve"][-1]["test_accuracy"],
        # Every noisy step counts, those of interrupted runs too (`steps_charged`).
        "epsilon": round(epsilon(config.noise_multiplier, q, charged, config.delta), 4) if config.private else None,
        "epsilon_rdp": round(epsilon(config.noise_multiplier, q, charged, config.delta, "rdp"), 4) if config.private else None,
        "delta": config.delta,
        "accountant": "PLD (dp_accounting.pld.PLDAccountant), Poisson-sampled Gaussian",
        "noise_multiplier": config.noise_multiplier if config.private else 0.0,
        "sampling_rate": q,
        "steps": steps,
        "steps_charged": charged,
        "train_examples": len(x),
        "mean_batch": round(trained["mean_batch"], 1),
        "padded_batch": trained["padded_batch"],
        "clipped_fraction": round(trained["clipped_fraction"], 4),
        "params": trained["model"].count_params(),
        "train_time_s": round(trained["train_time_s"], 1),
        "curve": trained["curve"],
    }
    if config.private:
        metrics["curve_png"] = plot_curve(trained["curve"], config.delta)
    return metrics


def plot_curve(curve: list[dict], delta: float) -> str:
    series = {"test accuracy": ([p["epsilon"] for p in curve], [p["test_accuracy"] for p in curve])}
    return tfcook.plot.curves(series, tfcook.out_dir() / "accuracy_vs_epsilon.png", xlabel=f"epsilon spent (delta = {delta:g})",
                              ylabel="MNIST test accuracy", title="DP-SGD: accuracy against privacy spent")

"""## Notes

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): CPU, 2 cores, seed 0, default (20
epochs, 586 steps of ~2,048, sigma 1.5, C 1): 96.98 % test accuracy at epsilon 2.69 (PLD; RDP bound 2.95),
delta 1e-5, 168 s of training on an Intel Xeon family 6 model 207 (2026-12-03, batchable convolutions); before
them 97.00 % in 575 s on an AMD EPYC Zen 3 beside light jobs. CI run (`--epochs=3`, 88 steps): 95.74 % at
epsilon 1.04 (RDP 1.19), 29 s on the Xeon; 4 epochs: 96.03 % at 1.19. Per-example gradients of 256 images
(`make bench`, the Xeon): vectorized_map 18.9 ms against 0.90 s for the faster loop of compiled single-example
calls (47x; 25x in a second, 2-repeat run; 9.6x and 7.2x on the Zen 3 before the convolutions' kernel
gradients were batchable) and 5.4 s for an eager loop. The non-private peer reaches 98.50 %
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run dp_sgd`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
