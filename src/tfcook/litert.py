"""Running .tflite models in the LiteRT interpreter: test accuracy and batch-1 latency.

`ai_edge_litert` is the successor of the deprecated `tf.lite.Interpreter`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def accuracy(model_path: Path | str, images: np.ndarray, labels: np.ndarray, batch: int = 500) -> float:
    """Fraction of `images` whose argmax output equals `labels`, `batch` images per invoke."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    hits = 0
    for start in range(0, len(images), batch):
        chunk = to_input(images[start : start + batch], inp)
        if start == 0 or len(chunk) < batch:  # size the input for this batch (again for a short last one)
            interpreter.resize_tensor_input(inp["index"], list(chunk.shape))
            interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], chunk)
        interpreter.invoke()
        # argmax works on int8 outputs too: dequantizing (positive scale) keeps the order.
        hits += int((interpreter.get_tensor(out["index"]).argmax(-1) == labels[start : start + batch]).sum())
    return hits / len(images)


def to_input(images: np.ndarray, detail: dict) -> np.ndarray:
    """Float images as the input tensor wants them: quantized with its (scale, zero_point) if integer."""
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero_point = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        return np.clip(np.round(images / scale + zero_point), info.min, info.max).astype(detail["dtype"])
    return images.astype(detail["dtype"])


def latency_us(model_path: Path | str, image: np.ndarray, runs: int = 500, threads: int = 1) -> float:
    """Median wall time of one batch-1 `invoke()` in microseconds, after warm-up."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], to_input(image[None], inp))
    for _ in range(20):  # warm-up: the first invokes pack weights and fill caches
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e6)
