"""training_cost: analytic and XLA FLOP counts agree; 6·N·D holds for the transformer; the estimate's arithmetic; the HLO rules."""

from __future__ import annotations

import math

import numpy as np
import pytest


def check_estimate(metrics: dict) -> None:
    from tfcook.recipes.training_cost import ACCELERATORS

    rows = {row["accelerator"]: row for row in metrics["estimate"]}
    for acc in ACCELERATORS:
        row = rows[acc["accelerator"]]
        hours = metrics["estimate_flops"] / (acc["peak_tflops"] * 1e12 * metrics["estimate_assumed_mfu"]) / 3600
        assert row["device_hours"] == pytest.approx(hours, rel=1e-9)
        assert row["usd_low"] == pytest.approx(hours * acc["usd_per_hour"][0]) and row["usd_high"] == pytest.approx(hours * acc["usd_per_hour"][1])


@pytest.mark.realdata
def test_xla_matches_analytic_for_dense_and_conv_and_6nd_holds_for_the_transformer(run_recipe):
    result = run_recipe("training_cost")
    m, config = result["metrics"], result["config"]
    models = {row["model"]: row for row in m["models"]}
    # The bar: XLA's count of the compiled train step within 1 % of the per-layer count.
    for name in ("mlp", "cnn"):
        assert abs(models[name]["xla_vs_analytic"]) <= 0.01, models[name]
        assert models[name]["xla_flops"] == pytest.approx(models[name]["analytic_flops"], rel=0.01)
    assert models["cnn"]["hlo_convolutions"] >= 4 and models["mlp"]["hlo_dots"] >= 5  # forward and backward were counted
    # 6·N·D within the stated 10 % of the analytic transformer count, and below it (it omits attention scores).
    transformer = models["transformer"]
    assert config["seq_len"] / (6 * config["d_model"]) <= 0.10
    assert -0.10 <= transformer["six_n_d_vs_analytic"] < 0, transformer
    assert transformer["six_n_d"] == 6 * transformer["non_embedding_params"] * config["seq_batch"] * config["seq_len"]
    assert abs(transformer["xla_vs_analytic"]) <= 0.01, transformer
    # The per-layer table adds up to each model's analytic count.
    for name, row in models.items():
        assert sum(r["train"] for r in m["per_layer"] if r["model"] == name) == row["analytic_flops"]
    check_estimate(m)
    assert m["estimate_flops"] == pytest.approx(6 * config["params"] * 20 * config["params"])  # tokens=0: 20 per parameter


@pytest.mark.realdata
def test_params_and_tokens_answer_what_a_run_would_cost(run_recipe):
    m = run_recipe("training_cost", "--params=7e9", "--tokens=2e12", "--count_models=false")["metrics"]
    assert m["estimate_flops"] == pytest.approx(6 * 7e9 * 2e12) and "models" not in m
    check_estimate(m)
    h100 = next(r for r in m["estimate"] if r["accelerator"].startswith("NVIDIA H100"))
    assert h100["device_hours"] == pytest.approx(8.4e22 / (989e12 * 0.4) / 3600)  # ~59,000 H100-hours at 40 % MFU


# --- the counting rules, against TensorFlow itself -------------------------------------------------


def compiled_hlo(fn, *args) -> str:
    import tensorflow as tf

    return tf.function(fn, jit_compile=True).experimental_get_compiler_ir(*args)(stage="optimized_hlo", platform_name="CPU")


@pytest.mark.parametrize("padding, strides, dilations", [("SAME", 1, 1), ("SAME", 2, 1), ("VALID", 1, 2), ("SAME", 3, 2)])
def test_convolution_flops_count_only_taps_inside_the_input(padding, strides, dilations):
    """All-ones input and kernel: each output is its number of valid taps, so their sum is an independent count."""
    import tensorflow as tf

    from tfcook.recipes.training_cost import hlo_flops

    x = tf.ones([3, 11, 9, 1])
    k = tf.ones([3, 4, 1, 1])
    taps = float(tf.reduce_sum(tf.nn.conv2d(x, k, strides, padding, dilations=dilations)))
    cin, cout = 5, 7
    flops = hlo_flops(compiled_hlo(lambda a, b: tf.nn.conv2d(a, b, strides, padding, dilations=dilations), tf.ones([3, 11, 9, cin]), tf.ones([3, 4, cin, cout])))
    assert flops["convolutions"] == 1 and flops["flops"] == 2 * taps * cin * cout


def test_convolution_gradients_count_the_same_macs_as_the_forward_pass():
    import tensorflow as tf

    from tfcook.recipes.training_cost import hlo_flops

    x, k = tf.random.normal([2, 12, 12, 3]), tf.Variable(tf.random.normal([3, 3, 3, 8]))

    def step(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.nn.conv2d(x, k, 1, "VALID") ** 2)
        return tape.gradient(y, x), tape.gradient(y, k)

    forward = 2 * 2 * 10 * 10 * 9 * 3 * 8
    assert hlo_flops(compiled_hlo(step, x))["flops"] == 3 * forward  # forward, input gradient, filter gradient


def test_dot_flops_with_batch_dimensions():
    import tensorflow as tf

    from tfcook.recipes.training_cost import hlo_flops

    a, b = tf.ones([4, 6, 5]), tf.ones([4, 5, 3])
    assert hlo_flops(compiled_hlo(lambda a, b: tf.einsum("bij,bjk->bik", a, b), a, b)) == {"flops": 2 * 4 * 6 * 5 * 3, "dots": 1, "convolutions": 0}


def test_shapes_are_read_inline_or_by_name():
    from tfcook.recipes.training_cost import hlo_flops

    by_name = """
  %p0 = f32[8,16]{1,0} parameter(0)
  %p1 = f32[16,4]{1,0} parameter(1)
  ROOT %dot.1 = f32[8,4]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
"""
    inline = "  %MatMul.8 = f32[8,4]{1,0} dot(f32[8,16]{1,0} %a, f32[16,4]{1,0} %b), lhs_contracting_dims={1}, rhs_contracting_dims={0}\n"
    assert hlo_flops(by_name)["flops"] == hlo_flops(inline)["flops"] == 2 * 8 * 16 * 4


def test_analytic_count_of_a_small_model_by_hand():
    import keras

    from tfcook.recipes.training_cost import analytic_flops

    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3), keras.layers.Flatten(), keras.layers.Dense(5)])
    rows = {r["layer"]: r for r in analytic_flops(model, batch=4)}
    conv, dense = rows[model.layers[0].name], rows[model.layers[2].name]
    assert conv["forward"] == 2 * 4 * 4 * 4 * 9 * 2 * 3 and conv["train"] == 2 * conv["forward"]  # no input gradient
    assert dense["forward"] == 2 * 4 * 48 * 5 and dense["train"] == 3 * dense["forward"]
    with pytest.raises(ValueError, match="valid-padded"):
        analytic_flops(keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, padding="same")]), 1)


def test_every_accelerator_has_a_peak_a_price_a_source_and_a_date():
    from tfcook.recipes.training_cost import ACCELERATORS, estimate

    for acc in ACCELERATORS:
        assert acc["peak_tflops"] > 0 and 0 < acc["usd_per_hour"][0] <= acc["usd_per_hour"][1]
        assert acc["peak_source"] and acc["price_source"] and acc["price_date"][:2] == "20"
    rows = estimate(1e21, 0.5, {"cores": 2, "peak_flops": 1e11, "mfu": 0.25})
    assert rows[-1]["device_hours"] == pytest.approx(1e21 / 2.5e10 / 3600) and rows[-1]["usd_low"] is None
    assert all(math.isfinite(r["device_hours"]) for r in rows) and len(rows) == len(ACCELERATORS) + 1


def test_impossible_configs_are_rejected():
    from tfcook.recipes.training_cost import Config

    for bad in ({"params": 0.0}, {"assumed_mfu": 1.5}, {"d_model": 100, "heads": 3}, {"models": ("resnet",)}, {"tokens": -1.0}):
        with pytest.raises(ValueError):
            Config(**bad)
    assert np.isclose(Config().params, 124e6)
