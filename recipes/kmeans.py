"""K-means: Lloyd's algorithm in TensorFlow, k-means++ and restarts in one tf.function, the loop XLA-compiled

Summary: k-means on MNIST in TensorFlow: k-means++, matmul distances, an XLA-compiled loop
Category: basics
Origin: a blog post's interview question, "implement K-Means" (catalog `kmeans`)
Accelerator: CPU, GPU (one `tf.function`, its Lloyd loop `jit_compile=True`: static shapes, no host round trips);
    TPU not wired (the function would have to run under `TPUStrategy.run`, and the inertia sum uses float64)
Backends: tensorflow only (one XLA-compiled tf.function with TensorFlow's segment sums)
Bar: inertia within 1 % of scikit-learn's `KMeans` (same data, k, n_init, tol, max_iter); an empty cluster is
    re-seeded with the farthest point, never NaN
Results: inertia 2,352,828 vs scikit-learn's 2,352,822 in 0.781x its fit time
Peer: scikit-learn `KMeans(algorithm="lloyd")` with the same k, n_init, tol and max_iter: inertia and wall time
    (`make bench NAME=kmeans`)
Run: make recipe NAME=kmeans    (quick check: make recipe NAME=kmeans ARGS=--tiny)

The interview answer is a NumPy loop: pick k random points, assign every point to its nearest
centroid, move each centroid to the mean of its points, repeat. This recipe writes the same
algorithm the way TensorFlow runs it fast, with the details a library needs, section by section.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import tfcook
import tfcook.plot


"""## Settings

`Config` holds every setting with its type and reason; the defaults are the recorded run, and
`Config.tiny()` a check that takes seconds. `tol` and `max_iter` mean what they mean in
scikit-learn, so the benchmark can give both the same ones.
"""


@dataclasses.dataclass
class Config:
    clusters: int = 10  # k
    n_init: int = 3  # k-means++ restarts; the lowest inertia wins
    max_iter: int = 300  # Lloyd iterations per restart at most (scikit-learn's default)
    # stop when the summed squared centroid shift <= tol x mean per-feature variance (scikit-learn's tol)
    tol: float = 1e-4
    examples: int = 0  # cluster the first N training images (0: all 60,000)
    xla: bool = True  # compile the Lloyd loop with XLA (jit_compile=True)
    seed: int = 0  # seeds the k-means++ draws of every restart

    def __post_init__(self):
        if self.clusters < 2:
            raise ValueError(f"clusters must be at least 2, got {self.clusters}")
        if self.n_init < 1 or self.max_iter < 1:
            raise ValueError("n_init and max_iter must be at least 1")
        if self.tol < 0:
            raise ValueError(f"tol must be >= 0, got {self.tol}")
        if self.examples < 0 or 0 < self.examples < self.clusters:
            raise ValueError(f"examples must be 0 (all) or at least clusters ({self.clusters}), got {self.examples}")

    @classmethod
    def tiny(cls) -> Config:
        """Seconds: 2,000 real training images, two restarts."""
        return cls(n_init=2, examples=2000)


"""## Distances by one matmul

Each point is assigned to its nearest centroid by ||x||^2 - 2 x.c + ||c||^2: one [N, 784] x
[784, k] matmul per iteration instead of an [N, k, 784] difference tensor (1.9 GB at N = 60,000).
The data are centred first, as scikit-learn does, so the float32 cancellation in that formula
stays small.
"""


def squared_distances(x: tf.Tensor, x_sq: tf.Tensor, centers: tf.Tensor) -> tf.Tensor:
    """||x - c||^2 for every point and centre [N, k], as ||x||^2 - 2 x.c + ||c||^2 (one matmul), clipped at 0."""
    c_sq = tf.reduce_sum(tf.square(centers), axis=1)
    dots = tf.matmul(x, centers, transpose_b=True)
    return tf.maximum(x_sq[:, None] - 2.0 * dots + c_sq[None, :], 0.0)


"""## k-means++ initialisation

Greedy, as scikit-learn does it: at each step 2 + ln k candidates are drawn with probability
proportional to the squared distance to the nearest chosen centre, and the one that lowers the
potential most is kept. Indexing `x[i]` with a tensor `i` would be a strided slice whose start
XLA must know at compile time, which silently made the whole data set a compile-time constant
(30 s of constant folding on 2,000 images): `tf.gather(x, [i])` is a dynamic gather.
"""


def kmeans_plusplus(x: tf.Tensor, x_sq: tf.Tensor, k: int, seed: tf.Tensor) -> tf.Tensor:
    """Greedy k-means++: k rows of x, each new one the best of 2 + ln k candidates drawn by D^2 weighting."""
    n = x.shape[0]
    trials = 2 + int(math.log(k))
    first = tf.random.stateless_uniform([], seed, 0, n, dtype=tf.int32)
    chosen = tf.gather(x, [first])  # gather, not x[i]: XLA wants slice starts at compile time, and x would become a constant
    centers = tf.tensor_scatter_nd_update(tf.zeros([k, x.shape[1]], x.dtype), [[0]], chosen)
    closest = squared_distances(x, x_sq, chosen)[:, 0]  # squared distance to the nearest centre so far
    for c in tf.range(1, k):
        cumulative = tf.cumsum(closest)
        draws = tf.random.stateless_uniform([trials], tf.stack([seed[0], seed[1] + c])) * cumulative[-1]
        # searchsorted(cumulative, draws): the first index whose running sum reaches each draw.
        candidates = tf.minimum(tf.reduce_sum(tf.cast(cumulative[None, :] < draws[:, None], tf.int32), axis=1), n - 1)
        after = tf.minimum(closest[:, None], squared_distances(x, x_sq, tf.gather(x, candidates)))  # [N, trials]
        best = tf.argmin(tf.reduce_sum(after, axis=0), output_type=tf.int32)
        closest = tf.gather(after, best, axis=1)
        centers = tf.tensor_scatter_nd_update(centers, [[c]], tf.gather(x, tf.gather(candidates, [best])))
    return centers


"""## Empty clusters

An empty cluster would divide 0 by 0 and turn its centroid into NaN. It is re-seeded with the
point farthest from its own centroid (the j-th empty cluster gets the j-th farthest point), and
that point's contribution is taken out of the cluster it leaves.
"""


def reseed_empty(x, labels, distances, sums, counts):
    """Give each empty cluster one of the points farthest from their centroids (j-th empty, j-th farthest).

    The moved point's coordinates leave the sums of the cluster it was assigned to, so no point
    counts twice. Returns the corrected (sums, counts); every count is then >= 1 unless a donor
    cluster had that one point only, which the caller guards against.
    """
    k = sums.shape[0]
    empty = tf.equal(counts, 0.0)
    farthest = tf.math.top_k(distances, k=k).indices  # more than enough donors: at most k - 1 are empty
    rank = tf.maximum(tf.cumsum(tf.cast(empty, tf.int32)) - 1, 0)
    donor = tf.gather(farthest, rank)  # [k]: a donor point for each cluster, used where empty
    moved = tf.gather(x, donor)
    weight = tf.cast(empty, x.dtype)
    old = tf.gather(labels, donor)
    sums -= tf.math.unsorted_segment_sum(moved * weight[:, None], old, k)
    counts -= tf.math.unsorted_segment_sum(weight, old, k)
    sums = tf.where(empty[:, None], moved, sums)
    counts = tf.where(empty, 1.0, counts)
    return sums, counts


"""## The update and the Lloyd loop

The update is `tf.math.unsorted_segment_sum` of the points and of ones (the counts): one pass
over the data. A one-hot [N, k]^T x [N, 784] matmul does the same sums with k times the
arithmetic (0.057 against 0.026 CPU-s per update here). The loop stops when no label changes,
when the summed squared centroid shift falls to `tol` x the mean per-feature variance of the data
(scikit-learn's definition of `tol`, so the same setting stops both at the same point), or at
`max_iter`.
"""


def lloyd_update(x, labels, distances, centers):
    """New centroids: segment means of the assigned points; empty clusters re-seeded; never NaN."""
    k = centers.shape[0]
    sums = tf.math.unsorted_segment_sum(x, labels, k)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(distances), labels, k)
    sums, counts = tf.cond(
        tf.reduce_any(tf.equal(counts, 0.0)),
        lambda: reseed_empty(x, labels, distances, sums, counts),
        lambda: (sums, counts),
    )
    return tf.where(counts[:, None] > 0, sums / tf.maximum(counts, 1.0)[:, None], centers)


def lloyd(x, x_sq, centers, tol, max_iter: int):
    """Lloyd iterations from `centers` until no label changes, the squared shift <= tol, or max_iter.

    Returns (centers, labels, iterations, inertia per iteration [max_iter], zero-padded).
    """
    n, k = x.shape[0], centers.shape[0]

    def keep_going(i, centers, labels, changed, shift, history):
        return (i < max_iter) & changed & (shift > tol)

    def step(i, centers, labels, changed, shift, history):
        distances = squared_distances(x, x_sq, centers)
        new_labels = tf.argmin(distances, axis=1, output_type=tf.int32)
        nearest = tf.reduce_min(distances, axis=1)
        new_centers = lloyd_update(x, new_labels, nearest, centers)
        shift = tf.reduce_sum(tf.square(new_centers - centers))
        changed = tf.reduce_any(tf.not_equal(new_labels, labels))
        history = tf.tensor_scatter_nd_update(history, [[i]], [tf.reduce_sum(nearest)])
        return i + 1, new_centers, new_labels, changed, shift, history

    start = (0, centers, tf.fill([n], -1), tf.constant(True), tf.constant(np.inf, x.dtype), tf.zeros([max_iter], x.dtype))
    i, centers, _, _, _, history = tf.while_loop(keep_going, step, start)
    labels = tf.argmin(squared_distances(x, x_sq, centers), axis=1, output_type=tf.int32)  # labels of the final centres
    return centers, labels, i, history


def inertia_of(x, centers, labels):
    """Sum of squared distances to the assigned centroid, computed directly (no cancellation), summed in float64."""
    per_point = tf.reduce_sum(tf.square(x - tf.gather(centers, labels)), axis=1)
    return tf.reduce_sum(tf.cast(per_point, tf.float64))


"""## Everything in one tf.function, the loop compiled by XLA

k-means++, the `tf.while_loop` over iterations, the loop over the `n_init` restarts and the pick
of the best are one `tf.function`: nothing returns to Python until the best restart is chosen.
The Lloyd loop inside it is `jit_compile=True`: XLA fuses the distance arithmetic, the argmin and
the re-seeding, and halves the time per iteration. k-means++ (k short steps per restart) stays
uncompiled: compiling it and the restart loop as well doubled the compile time (6.7 against 3.3
CPU-s) for no measurable gain on the full run.
"""


def make_fit(clusters: int, n_init: int, max_iter: int, xla: bool, progress: bool = True):
    """The whole fit as one tf.function: `fit(x, tol, seed)` -> the best restart and every restart's results.

    The Lloyd loop, where the time goes, is its own `jit_compile` function: XLA compiles it once
    (~2 CPU-seconds) and every restart reuses it. k-means++ (k small steps) and the restart loop
    stay in the plain graph, where compiling them would cost more than it saves.
    """
    lloyd_loop = tf.function(lambda x, x_sq, centers, tol: lloyd(x, x_sq, centers, tol, max_iter), jit_compile=xla)

    @tf.function
    def fit(x, tol, seed):
        mean = tf.reduce_mean(x, axis=0)
        x = x - mean  # centred: smaller norms, less float32 cancellation in ||x||^2 - 2 x.c + ||c||^2
        x_sq = tf.reduce_sum(tf.square(x), axis=1)
        best = (tf.constant(np.inf, tf.float64), tf.zeros([clusters, x.shape[1]]), tf.zeros([x.shape[0]], tf.int32))
        inertias = tf.zeros([n_init], tf.float64)
        iterations = tf.zeros([n_init], tf.int32)
        histories = tf.zeros([n_init, max_iter])
        for r in tf.range(n_init):
            centers = kmeans_plusplus(x, x_sq, clusters, tf.stack([seed, r]))
            centers, labels, iters, history = lloyd_loop(x, x_sq, centers, tol)
            inertia = inertia_of(x, centers, labels)
            if progress:
                tf.print("restart", r + 1, "of", n_init, ": inertia", inertia, "after", iters, "iterations", output_stream=sys.stdout)
            inertias = tf.tensor_scatter_nd_update(inertias, [[r]], [inertia])
            iterations = tf.tensor_scatter_nd_update(iterations, [[r]], [iters])
            histories = tf.tensor_scatter_nd_update(histories, [[r]], history[None])
            best = tf.cond(inertia < best[0], lambda: (inertia, centers, labels), lambda: best)
        return {
            "inertia": best[0], "centers": best[1] + mean, "labels": best[2],
            "inertias": inertias, "iterations": iterations, "histories": histories,
        }

    return fit


"""## Scoring the clusters

Inertia (the sum of squared distances to the assigned centroids) is what k-means minimises and
what the bar compares with scikit-learn's. Purity and normalized mutual information say how well
the clusters match the digit labels the algorithm never saw.
"""


def relative_tolerance(x: np.ndarray, tol: float) -> float:
    """scikit-learn's tol: a fraction of the mean per-feature variance of the data."""
    return float(np.mean(np.var(x, axis=0)) * tol)


def purity(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of points whose cluster's most common label is their own."""
    table = contingency(clusters, labels)
    return float(table.max(axis=1).sum() / table.sum())


def contingency(clusters: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Counts [cluster, label]."""
    table = np.zeros((clusters.max() + 1, labels.max() + 1), np.int64)
    np.add.at(table, (clusters, labels), 1)
    return table


def nmi(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Normalized mutual information, I(C; L) / mean(H(C), H(L)) (scikit-learn's "arithmetic" normalisation)."""
    joint = contingency(clusters, labels) / len(labels)
    pc, pl = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    mutual = float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pc, pl)[nz])))

    def entropy(p):
        p = p[p > 0]
        return float(-np.sum(p * np.log(p)))

    denominator = (entropy(pc) + entropy(pl)) / 2
    return mutual / denominator if denominator > 0 else 1.0


"""## Data, logs and pictures

The 60,000 training images as one [N, 784] float32 array in [0, 1]. Each restart's inertia per
iteration goes to TensorBoard; `centroids.png` shows the centroids as images, titled with each
cluster's majority digit and its share, and `inertia.png` each restart's convergence.
"""


def load_images(examples: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = tfcook.data.mnist_arrays("train", examples)
    return images.reshape(len(images), -1), labels.astype(np.int64)


def log_to_tensorboard(histories: np.ndarray, iterations: np.ndarray, inertias: np.ndarray) -> None:
    writer = tf.summary.create_file_writer(str(tfcook.out_dir() / "tensorboard"))
    with writer.as_default():
        for r, (history, n) in enumerate(zip(histories, iterations)):
            for i in range(n):
                tf.summary.scalar(f"inertia/restart_{r}", history[i], step=i)
            tf.summary.scalar("final_inertia", inertias[r], step=r)
    writer.close()


def save_pictures(centers: np.ndarray, clusters: np.ndarray, labels: np.ndarray, histories, iterations) -> dict:
    table = contingency(clusters, labels)
    majority = table.argmax(axis=1)
    share = table.max(axis=1) / np.maximum(table.sum(axis=1), 1)
    titles = [f"{c}: '{majority[c]}' {share[c]:.0%}" for c in range(len(centers))]
    out = tfcook.out_dir()
    grid = tfcook.plot.image_grid(
        centers.reshape(-1, 28, 28), out / "centroids.png", titles=titles, cols=min(10, len(centers)),
        title="k-means centroids (cluster: majority digit, its share)",
    )
    best = min(float(h[n - 1]) for h, n in zip(histories, iterations))
    curves = tfcook.plot.curves(
        {f"restart {r}": (np.arange(1, n + 1), np.maximum(h[:n] / best - 1, 1e-7)) for r, (h, n) in enumerate(zip(histories, iterations))},
        out / "inertia.png", xlabel="iteration", ylabel="inertia / lowest final inertia - 1", title="Lloyd iterations", logy=True,
    )
    return {"centroids_png": grid, "inertia_png": curves}


"""## Run it

`run(config)` fits, scores and returns JSON-ready metrics; `tfcook run kmeans` writes them to
`result.json` beside the logs, the pictures and the centroids.
"""


def run(config: Config) -> dict:
    keras.utils.set_random_seed(config.seed)
    x, labels = load_images(config.examples)
    tol = relative_tolerance(x, config.tol)
    fit = make_fit(config.clusters, config.n_init, config.max_iter, config.xla)
    start, cpu = time.perf_counter(), time.process_time()
    result = fit(tf.constant(x), tf.constant(tol, tf.float32), tf.constant(config.seed))
    result = {k: v.numpy() for k, v in result.items()}
    fit_time, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    centers, clusters = result["centers"], result["labels"]
    if not np.isfinite(centers).all():
        raise RuntimeError("a centroid came out NaN or infinite")
    log_to_tensorboard(result["histories"], result["iterations"], result["inertias"])
    np.save(tfcook.out_dir() / "centroids.npy", centers)
    np.save(tfcook.out_dir() / "assignments.npy", clusters)
    best = int(np.argmin(result["inertias"]))
    restarts = [
        {"restart": r, "inertia": float(result["inertias"][r]), "iterations": int(result["iterations"][r]), "best": r == best}
        for r in range(config.n_init)
    ]
    return {
        "inertia": float(result["inertia"]),
        "iterations": int(result["iterations"][best]),
        "purity": purity(clusters, labels),
        "nmi": nmi(clusters, labels),
        "cluster_sizes": np.bincount(clusters, minlength=config.clusters).tolist(),
        "fit_time_s": round(fit_time, 2),  # includes tracing and the XLA compile
        "fit_cpu_s": round(fit_cpu, 2),  # CPU time of all threads (the machine may be shared)
        "examples": len(x),
        "tol_absolute": tol,
        "restarts": restarts,
        **save_pictures(centers, clusters, labels, result["histories"], result["iterations"]),
        "centroids_file": str(tfcook.out_dir() / "centroids.npy"),
        "assignments_file": str(tfcook.out_dir() / "assignments.npy"),
    }


"""## Notes

Measured (all 60,000 images, k = 10, n_init = 3, seed 0, CPU time because the machine was
shared): with XLA the fit took 22.4 CPU-s for 227 iterations (0.10 s each, compile included),
without XLA 45.7 CPU-s for 228 (0.20 s each); scikit-learn's Cython Lloyd 61.5 CPU-s (its BLAS
kernel was not recorded then; Results has the comparison against a peer on OpenBLAS's own
kernel). On MNIST the restarts end within 0.3 % of each other (2.3528e6 to 2.3599e6): k-means++
makes the starting point good, and n_init buys the last fraction of a percent.

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): CPU, 2 cores: inertia 2,352,828 (seeds
0 and 1), scikit-learn 2,352,822 (+0.0002 %); purity 0.591, NMI 0.491. `make bench NAME=kmeans` (2026-12-03,
Intel Xeon family 6 model 207, AVX-512; scikit-learn in its own process on OpenBLAS's own kernel, SkylakeX, 2
threads): 228 Lloyd iterations over the 3 restarts in 13.0 s (19.1 CPU-s) against scikit-learn's 15.1 s (28.1
CPU-s): wall-time ratio 0.87, CPU-time ratio 0.68 (goal <= 1.0)
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run kmeans`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
