"""kmeans: the catalog bar against scikit-learn on real MNIST; the Lloyd loop, its stopping rule and
empty-cluster re-seeding against scikit-learn from the same initial centroids; NMI and purity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")


@pytest.mark.realdata
def test_inertia_within_one_percent_of_scikit_learn_on_mnist(run_recipe):
    """Default config (all 60,000 training images, k = 10, n_init = 3): ~35 CPU-s, scikit-learn ~70."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    import tfcook.data

    result = run_recipe("kmeans")
    metrics, config = result["metrics"], result["config"]
    images, labels = tfcook.data.mnist_arrays("train")
    x = images.reshape(len(images), -1)
    assert metrics["examples"] == len(x) == 60_000 and config["clusters"] == 10

    reference = KMeans(
        config["clusters"], n_init=config["n_init"], tol=config["tol"], max_iter=config["max_iter"], algorithm="lloyd", random_state=0
    ).fit(x)
    assert abs(metrics["inertia"] - reference.inertia_) <= 0.01 * reference.inertia_, (metrics["inertia"], reference.inertia_)

    # The saved centroids and assignments are what the metrics describe.
    centers = np.load(metrics["centroids_file"]).astype(np.float64)
    assignments = np.load(metrics["assignments_file"])
    assert np.isfinite(centers).all() and centers.shape == (10, 784)
    inertia = ((x - centers[assignments]) ** 2).sum()
    assert inertia == pytest.approx(metrics["inertia"], rel=1e-5)
    distances = (x**2).sum(1)[:, None] - 2 * x @ centers.T + (centers**2).sum(1)[None]
    assert np.mean(distances.argmin(axis=1) == assignments) > 0.9999  # each point sits with its nearest centroid
    assert metrics["nmi"] == pytest.approx(normalized_mutual_info_score(labels, assignments), abs=1e-9)
    assert metrics["purity"] > 0.5  # far above the 0.11 of one cluster for all
    assert metrics["inertia"] == min(row["inertia"] for row in metrics["restarts"]) and len(metrics["restarts"]) == 3
    assert all(1 <= row["iterations"] <= config["max_iter"] for row in metrics["restarts"])
    assert Path(metrics["centroids_png"]).is_file() and Path(metrics["inertia_png"]).is_file()
    assert list((Path(result["out"]) / "tensorboard").rglob("events.out.tfevents.*"))


def blobs(seed=0, k=8, d=20, n=3000):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1.5, (k, d))
    return (means[rng.integers(0, k, n)] + rng.normal(0, 1, (n, d))).astype(np.float32)


def lloyd_from(x, init, tol, max_iter=300):
    """The recipe's XLA-compiled Lloyd loop from given centroids, on centred data as in the recipe."""
    import tensorflow as tf

    from tfcook.recipes import kmeans

    mean = x.mean(0)
    xc = tf.constant(x - mean)
    loop = tf.function(lambda x, c, t: kmeans.lloyd(x, tf.reduce_sum(x * x, 1), c, t, max_iter), jit_compile=True)
    centers, labels, iterations, _ = loop(xc, tf.constant(init - mean), tf.constant(kmeans.relative_tolerance(x, tol), tf.float32))
    return centers.numpy() + mean, labels.numpy(), int(iterations), float(kmeans.inertia_of(xc, centers, labels))


@pytest.mark.parametrize("tol", [0.0, 1e-2, 1e-1])
def test_lloyd_stops_where_scikit_learn_stops(tol):
    """Same initial centroids: same labels, same iteration count, same inertia (tol relative to the data variance)."""
    from sklearn.cluster import KMeans

    x = blobs()
    init = x[np.random.default_rng(1).choice(len(x), 8, replace=False)]
    centers, labels, iterations, inertia = lloyd_from(x, init, tol)
    reference = KMeans(8, init=init, n_init=1, tol=tol, max_iter=300, algorithm="lloyd").fit(x)
    assert iterations == reference.n_iter_
    np.testing.assert_array_equal(labels, reference.labels_)
    assert inertia == pytest.approx(reference.inertia_, rel=1e-5)
    np.testing.assert_allclose(centers, reference.cluster_centers_, atol=1e-4)


def test_an_empty_cluster_is_reseeded_with_the_farthest_point_never_nan():
    """Two groups of points and a third initial centroid far from both: it gets no point on the first pass."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    left = rng.normal(0, 1, (60, 2))
    right = rng.normal(0, 1, (60, 2)) + [12, 0]
    right[0] = [25, 0]  # an outlier: the point farthest from its centroid
    x = np.concatenate([left, right]).astype(np.float32)
    init = np.array([[0, 0], [12, 0], [100, 100]], np.float32)

    centers, labels, _, inertia = lloyd_from(x, init, 1e-4)
    assert np.isfinite(centers).all()
    assert np.bincount(labels, minlength=3).min() >= 1  # no cluster left empty
    reference = KMeans(3, init=init, n_init=1, tol=1e-4, algorithm="lloyd").fit(x)  # relocates the same way
    assert inertia == pytest.approx(reference.inertia_, rel=1e-5)
    np.testing.assert_allclose(centers, reference.cluster_centers_, atol=1e-4)


def test_one_update_moves_the_farthest_point_into_the_empty_cluster():
    import tensorflow as tf

    from tfcook.recipes import kmeans

    x = np.array([[0, 0], [1, 0], [10, 0], [11, 0], [30, 0]], np.float32)
    labels = np.array([0, 0, 1, 1, 1], np.int32)  # cluster 2 is empty
    old = np.array([[0.5, 0], [17, 0], [50, 50]], np.float32)
    distances = ((x - old[labels]) ** 2).sum(1)  # the point at 30 is the farthest from its centroid
    new = kmeans.lloyd_update(tf.constant(x), tf.constant(labels), tf.constant(distances), tf.constant(old)).numpy()
    np.testing.assert_allclose(new, [[0.5, 0], [10.5, 0], [30, 0]])  # and it left cluster 1's mean


def test_kmeans_plusplus_picks_distinct_data_points_spread_over_the_blobs():
    import tensorflow as tf

    from tfcook.recipes import kmeans

    rng = np.random.default_rng(0)
    means = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], np.float32)
    x = (means.repeat(100, axis=0) + rng.normal(0, 1, (400, 2))).astype(np.float32)
    pick = tf.function(lambda x, s: kmeans.kmeans_plusplus(x, tf.reduce_sum(x * x, 1), 4, s))
    for seed in range(3):
        centers = pick(tf.constant(x), tf.constant([seed, 0])).numpy()
        rows = [np.flatnonzero((x == c).all(axis=1)) for c in centers]
        assert all(len(r) == 1 for r in rows), "every centre is one of the points"
        assert sorted(int(r[0]) // 100 for r in rows) == [0, 1, 2, 3], "one centre in each blob"


def test_nmi_and_purity_match_scikit_learn():
    from sklearn.metrics import normalized_mutual_info_score

    from tfcook.recipes import kmeans

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 5000)
    clusters = np.where(rng.random(5000) < 0.6, labels, rng.integers(0, 12, 5000))  # 60 % agree, 12 clusters
    assert kmeans.nmi(clusters, labels) == pytest.approx(normalized_mutual_info_score(labels, clusters), abs=1e-12)
    table = np.zeros((12, 10))
    np.add.at(table, (clusters, labels), 1)
    assert kmeans.purity(clusters, labels) == pytest.approx(table.max(1).sum() / 5000)
    assert kmeans.nmi(labels, labels) == pytest.approx(1.0)


def test_config_rejects_impossible_values():
    from tfcook.recipes.kmeans import Config

    for bad in ({"clusters": 1}, {"n_init": 0}, {"max_iter": 0}, {"tol": -1.0}, {"examples": 5}):
        with pytest.raises(ValueError):
            Config(**bad)
