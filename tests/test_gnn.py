"""gnn: the catalog bar on the karate club and Cora, the restricted unpickler, and the graph pieces."""

from __future__ import annotations

import collections
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import data_missing


@pytest.mark.realdata
def test_gcn_reaches_81_percent_on_cora_and_places_the_karate_club(run_recipe):
    """The default run: 5 seeds per model on Cora's Planetoid split, then the karate club."""
    result = run_recipe("gnn")
    metrics, config = result["metrics"], result["config"]
    assert config["seeds"] == 5 and config["epochs"] == 200 and config["hidden"] == 16  # the paper's setup
    models = {row["model"]: row for row in metrics["cora_models"]}
    assert set(models) == {"gcn", "appnp", "mlp"}
    runs = [run for run in metrics["cora_runs"] if run["model"] == "gcn"]
    assert sorted(run["seed"] for run in runs) == [0, 1, 2, 3, 4]
    # The catalog bar: mean over the 5 seeds, recomputed from the runs.
    gcn_mean = np.mean([run["test_accuracy"] for run in runs])
    assert gcn_mean == pytest.approx(models["gcn"]["test_accuracy_mean"], abs=1e-4)
    assert gcn_mean >= 0.810, models["gcn"]
    # The graph is worth something: the graph-free MLP on the same features and split is far behind.
    assert models["mlp"]["test_accuracy_mean"] <= gcn_mean - 0.15, models
    assert models["appnp"]["test_accuracy_mean"] >= 0.80, models["appnp"]
    assert metrics["cora"] | {"curves_png": None} == {
        "nodes": 2708, "edges": 5278, "features": 1433, "train": 140, "val": 500, "test": 1000, "curves_png": None}

    # Karate club: at least 90 % of the members in the faction they joined, for every seed,
    # and also counting only the 32 members whose faction the model was not told.
    assert len(metrics["karate_accuracy_seeds"]) == 5
    assert min(metrics["karate_accuracy_seeds"]) >= 0.90, metrics["karate_accuracy_seeds"]
    assert metrics["karate_accuracy_unlabelled"] >= 0.90
    assert len(metrics["karate_misplaced_members"]) == round(34 * (1 - metrics["karate_accuracy"]))
    out = Path(result["out"])
    for png in ("karate_embedding.png", "cora_accuracy.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((out / "tensorboard").rglob("events.out.tfevents.*"))) == 3 * 5 + 5


def evil_pickle(module: str, name: str) -> bytes:
    """A protocol-2 pickle that calls module.name("echo owned") on load, as a malicious file would."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\n\x00\x00\x00echo owned\x85R."


@pytest.mark.parametrize("module,name", [("os", "system"), ("builtins", "eval"), ("subprocess", "getoutput"), ("numpy", "load")])
def test_unpickler_refuses_any_other_class(module, name):
    from tfcook.recipes.gnn import restricted_load

    payload = evil_pickle(module, name)
    if module == "os":  # the payload is real: plain pickle would run it (checked without running it)
        import pickletools

        assert ("GLOBAL", "os system") in {(op.name, arg) for op, arg, _ in pickletools.genops(payload)}
    with pytest.raises(pickle.UnpicklingError, match=rf"{module}\.{name}"):
        restricted_load(payload)


def test_unpickler_refuses_arrays_of_python_objects():
    from tfcook.recipes.gnn import restricted_load

    payload = pickle.dumps(np.array([1, "a"], dtype=object), protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="object"):
        restricted_load(payload)


def test_unpickler_reads_arrays_graphs_and_csr_matrices_without_scipy():
    scipy_sparse = pytest.importorskip("scipy.sparse")  # only to write the test pickle
    from tfcook.recipes.gnn import CSRMatrix, restricted_load

    dense = np.array([[0, 1.5, 0], [0, 0, 0], [2, 0, 3]], np.float32)
    matrix = restricted_load(pickle.dumps(scipy_sparse.csr_matrix(dense), protocol=4))
    assert isinstance(matrix, CSRMatrix) and matrix.shape == (3, 3)
    np.testing.assert_array_equal(matrix.to_dense(), dense)

    labels = np.eye(3, dtype=np.int32)
    np.testing.assert_array_equal(restricted_load(pickle.dumps(labels, protocol=4)), labels)
    graph = collections.defaultdict(list, {0: [1, 2], 2: [0]})
    assert restricted_load(pickle.dumps(graph, protocol=4)) == graph


def test_normalized_adjacency_matches_the_dense_formula():
    import tensorflow as tf

    from tfcook.recipes.gnn import KARATE_EDGES, normalized_adjacency

    a = np.zeros((34, 34))
    for u, v in KARATE_EDGES:
        a[u, v] = a[v, u] = 1
    a_hat = a + np.eye(34)
    d = np.diag(1 / np.sqrt(a_hat.sum(axis=1)))
    sparse = normalized_adjacency(np.array(KARATE_EDGES), 34)
    assert sparse.values.shape[0] == 2 * 78 + 34
    np.testing.assert_allclose(tf.sparse.to_dense(sparse).numpy(), d @ a_hat @ d, rtol=1e-6)
    # The indices are in row-major order, as sparse kernels require.
    assert tf.sparse.reorder(sparse).indices.numpy().tolist() == sparse.indices.numpy().tolist()


def test_karate_club_data_is_zacharys():
    from tfcook.recipes.gnn import KARATE_EDGES, KARATE_INSTRUCTOR_FACTION

    edges = {tuple(sorted(e)) for e in KARATE_EDGES}
    assert len(edges) == len(KARATE_EDGES) == 78 and all(u != v for u, v in edges)
    degree = np.bincount(np.array(KARATE_EDGES).ravel(), minlength=34)
    assert degree[0] == 16 and degree[33] == 17 and degree.min() == 1  # the instructor and the administrator
    assert len(KARATE_INSTRUCTOR_FACTION) == 17 and 0 in KARATE_INSTRUCTOR_FACTION and 33 not in KARATE_INSTRUCTOR_FACTION


def test_sparse_dropout_keeps_a_fraction_and_rescales():
    import keras
    import tensorflow as tf

    from tfcook.recipes.gnn import dropout

    keras.utils.set_random_seed(0)
    x = tf.sparse.from_dense(tf.ones([100, 100]))
    dropped = dropout(x, 0.5, keras.random.SeedGenerator(1), training=True)
    kept = dropped.values.numpy()
    assert 4500 < len(kept) < 5500 and np.all(kept == 2.0)
    assert dropout(x, 0.5, keras.random.SeedGenerator(1), training=False) is x


def test_cora_loads_into_the_planetoid_split():
    if not Path(os.environ.get("TFCOOK_DATA_DIR", ""), "ind.cora.x").is_file():
        data_missing("ind.cora.* not in TFCOOK_DATA_DIR")
    import tensorflow as tf

    from tfcook.recipes.gnn import cora_graph, load_cora_arrays

    arrays = load_cora_arrays()
    assert sorted(arrays["test.index"].tolist()) == list(range(1708, 2708))
    graph = cora_graph(arrays)
    assert graph.labels.shape == (2708,) and graph.classes == 7 and graph.edges == 5278
    assert graph.train.tolist() == list(range(140)) and graph.val.tolist() == list(range(140, 640))
    assert np.bincount(graph.labels[graph.train]).tolist() == [20] * 7  # Planetoid: 20 labelled per class
    # Test rows were put back in node order: node test_index[i] carries row i of tx and ty.
    first = arrays["test.index"][0]
    np.testing.assert_array_equal(graph.labels[first], arrays["ty"][0].argmax())
    features = tf.sparse.to_dense(graph.features).numpy()
    np.testing.assert_allclose(features[first] * arrays["tx"][0].sum(), arrays["tx"][0], rtol=1e-6)
    np.testing.assert_allclose(features.sum(axis=1), 1.0, rtol=1e-5)  # rows normalized


@pytest.mark.parametrize("override", [{"dropout": 1.0}, {"models": ()}, {"models": ("gcn", "gcn")}, {"seeds": 0},
                                      {"karate": False, "cora": False}, {"appnp_alpha": 0.0}])  # fmt: skip
def test_config_rejects_impossible_values(override):
    from tfcook.recipes.gnn import Config

    with pytest.raises(ValueError):
        Config(**override)
