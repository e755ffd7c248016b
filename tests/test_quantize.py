"""quantize: every variant evaluated in LiteRT; the int8 and QAT bars; the files are what they claim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_quantized_variants_meet_the_bar(run_recipe):
    result = run_recipe("quantize")
    metrics, out = result["metrics"], Path(result["out"]) / "tflite"
    rows = {row["variant"]: row for row in metrics["variants"]}
    assert list(rows) == ["float32", "dynamic_range", "float16", "int8", "qat_int8"]

    # The float32 conversion is faithful to the Keras model.
    assert abs(rows["float32"]["test_accuracy"] - metrics["keras_test_accuracy"]) <= 0.001
    assert rows["float32"]["test_accuracy"] >= 0.98
    # The catalog bar.
    assert rows["int8"]["smaller_x"] >= 3.5 and rows["int8"]["drop_pt"] <= 0.5, rows["int8"]
    assert rows["qat_int8"]["drop_pt"] <= 0.3, rows["qat_int8"]
    # Sizes are the files' sizes; float16 halves the weights.
    for name, row in rows.items():
        assert (out / f"mnist_{name}.tflite").stat().st_size / 1024 == pytest.approx(row["size_kb"], abs=0.1)
    assert 1.9 <= rows["float16"]["smaller_x"] <= 2.1
    int8_models_take_and_return_int8(out)


def int8_models_take_and_return_int8(out: Path) -> None:
    """Checked on the default run's files (a tiny run of its own cost 22 s more of the suite)."""
    from ai_edge_litert.interpreter import Interpreter

    for name in ("int8", "qat_int8"):
        interpreter = Interpreter(model_path=str(out / f"mnist_{name}.tflite"))
        assert interpreter.get_input_details()[0]["dtype"] == np.int8
        assert interpreter.get_output_details()[0]["dtype"] == np.int8
        # Full-integer: no float tensor anywhere (weights and activations int8, biases and shapes int32).
        dtypes = {t["name"]: t["dtype"] for t in interpreter.get_tensor_details()}
        assert set(dtypes.values()) == {np.int8, np.int32}, dtypes
