"""matmul: the catalog bar (fp32 within 1e-5 of float64, bf16 within 1e-2, sizes 1..4096), and Strassen itself."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.realdata
def test_default_config_meets_the_error_bars_up_to_4096_and_traces_once(run_recipe):
    result = run_recipe("matmul")
    metrics, config = result["metrics"], result["config"]
    shapes = [tuple(int(d) for d in s.split("x")) for s in config["shapes"]]
    sizes = {d for s in shapes for d in s}
    # Sizes 1..4096: ones, odd, non-square and non-powers of two are all covered.
    assert 1 in sizes and max(sizes) == 4096 and (4096, 4096, 4096) in shapes
    assert any(d % 2 for d in sizes if d > 1), "no odd size"
    assert any(len(set(s)) == 3 for s in shapes), "no fully non-square product"
    assert any(d & (d - 1) for d in sizes if d > 512), "no large non-power-of-two size"

    variants = {row["variant"]: row for row in metrics["variants"]}
    assert {"tf_function", "xla", "strassen", "numpy"} <= set(variants)
    if result["device"]["kind"] == "cpu":  # bf16 runs on every CPU (and TPU, Ampere+ GPU)
        assert {"tf_function_bf16", "xla_bf16"} <= set(variants)
    # The bar, shape by shape: every fp32 variant within 1e-5 of float64, every bf16 one within 1e-2.
    assert [row["shape"] for row in metrics["rel_errors"]] == config["shapes"]
    for row in metrics["rel_errors"]:
        for name, variant in variants.items():
            if name == "tf32":  # reported only: TF32 rounds inputs to 10 bits
                continue
            bar = 1e-2 if variant["dtype"] == "bfloat16" else 1e-5
            assert 0 <= row[name] <= bar, (row["shape"], name, row[name])
    assert metrics["max_rel_error_fp32"] <= 1e-5 and metrics["all_pass"] is True
    if metrics["max_rel_error_bf16"] is not None:
        assert metrics["max_rel_error_bf16"] <= 1e-2
    # Strassen really recursed at 4096 (so the bar covers it), and was traced once per shape.
    assert metrics["strassen_levels_at_throughput_shape"] >= 2
    assert metrics["strassen_traces_per_shape"] == 1
    assert all(row["traces_per_shape"] == 1 for name, row in variants.items() if name != "numpy")
    assert all(row["gflops"] > 0 for row in variants.values())


# --- Strassen itself, in process -------------------------------------------------------------


def _strassen(a, b, cutoff):
    import tensorflow as tf

    from tfcook.recipes.matmul import strassen

    return strassen(tf.constant(a), tf.constant(b), cutoff).numpy()


@pytest.mark.parametrize(
    "shape, cutoff, levels",
    [((33, 17, 45), 4, 3), ((64, 64, 64), 8, 3), ((65, 65, 65), 8, 4), ((40, 9, 70), 4, 2), ((1, 50, 3), 4, 0)],
)
def test_strassen_is_exact_on_small_integers(shape, cutoff, levels):
    """Integer inputs keep every fp32 sum exact, so any slip in the 7-product algebra, the padding
    or the slicing shows up as a wrong entry, at several recursion levels."""
    from tfcook.recipes.matmul import strassen_levels

    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.integers(-4, 5, (m, k)).astype(np.float32)
    b = rng.integers(-4, 5, (k, n)).astype(np.float32)
    assert strassen_levels(m, k, n, cutoff) == levels
    np.testing.assert_array_equal(_strassen(a, b, cutoff), a.astype(np.int64) @ b.astype(np.int64))


def test_strassen_error_vs_float64_on_random_odd_nonsquare_inputs():
    m, k, n = 127, 93, 151
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    c = _strassen(a, b, cutoff=8)  # 4 levels: 127x93x151 -> 64x47x76 -> 32x24x38 -> 16x12x19 -> 8x6x10
    assert c.shape == (m, n)
    assert np.linalg.norm(c - ref) / np.linalg.norm(ref) <= 1e-5


def test_strassen_graph_has_seven_matmuls_per_level():
    import tensorflow as tf

    from tfcook.recipes.matmul import strassen_function

    fn = strassen_function(cutoff=16)
    spec = (tf.TensorSpec((65, 70), tf.float32), tf.TensorSpec((70, 66), tf.float32))
    graph = fn.get_concrete_function(*spec).graph
    matmuls = [op for op in graph.get_operations() if op.type in ("MatMul", "BatchMatMulV2")]
    assert len(matmuls) == 7**3  # 65x70x66 -> 33x35x33 -> 17x18x17 -> 9x9x9: three levels, not 8**3


def test_strassen_function_traces_once_per_shape():
    import tensorflow as tf

    from tfcook.recipes.matmul import strassen_function

    fn = strassen_function(cutoff=8)  # 2 levels at 20x30x40
    rng = np.random.default_rng(3)

    def call(m, k, n):
        a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
        c = fn(tf.constant(a), tf.constant(b)).numpy()
        np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)

    call(20, 30, 40)
    call(20, 30, 40)  # fresh inputs, same shape: the recursion is not traced again
    assert fn.experimental_get_tracing_count() == 1
    call(21, 30, 40)  # a new shape is a new graph
    assert fn.experimental_get_tracing_count() == 2
    call(20, 30, 40)
    assert fn.experimental_get_tracing_count() == 2


@pytest.mark.parametrize("previous", [True, False])
def test_run_checks_in_full_fp32_and_restores_the_tf32_setting(previous):
    import tensorflow as tf

    from tfcook.recipes import matmul

    tf.config.experimental.enable_tensor_float_32_execution(previous)
    try:
        metrics = matmul.run(matmul.Config(shapes=("3x5x7", "40x33x70"), repeats=1, strassen_cutoff=8, bf16=False))
        assert tf.config.experimental.tensor_float_32_execution_enabled() is previous
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(True)
    assert metrics["max_rel_error_fp32"] <= 1e-5 and metrics["max_rel_error_bf16"] is None
    assert metrics["strassen_traces_per_shape"] == 1 and metrics["strassen_levels_at_throughput_shape"] == 3


def test_crossover_is_reported_only_where_strassen_keeps_winning():
    from tfcook.recipes.matmul import strassen_crossover

    shapes = [(8, 8, 8), (64, 64, 64), (128, 128, 128), (256, 256, 256)]

    def speeds(*strassen_wins):
        return {s: {"tf_function": 100.0, "strassen": 120.0 if win else 80.0} for s, win in zip(shapes, strassen_wins)}

    assert strassen_crossover(shapes, speeds(False, False, True, True), cutoff=16) == "128x128x128"
    assert strassen_crossover(shapes, speeds(True, True, False, True), cutoff=16) == "256x256x256"
    assert strassen_crossover(shapes, speeds(True, True, True, False), cutoff=16) == "none up to 256x256x256"
    assert strassen_crossover(shapes, speeds(True, True, True, True), cutoff=16) == "64x64x64"  # 8^3 never recursed
    assert strassen_crossover(shapes[:1], speeds(True), cutoff=16).startswith("not measured")


@pytest.mark.parametrize("bad", [{"shapes": ("3x5",)}, {"shapes": ("0x5x7",)}, {"shapes": ()}, {"repeats": 0}, {"strassen_cutoff": 0}])
def test_config_rejects_impossible_values(bad):
    from tfcook.recipes.matmul import Config

    with pytest.raises(ValueError):
        Config(**bad)
