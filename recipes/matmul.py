"""Matrix multiplication: @tf.function and XLA matmul on the best device, and Strassen in TensorFlow

Summary: tf.matmul under tf.function and XLA, fp32 and bf16, and Strassen
Category: performance and distribution
Origin: a blog post's snippet, "efficient matrix multiplication": Strassen's algorithm, and a @tf.function
    matmul on the GPU (catalog `matmul`)
Accelerator: CPU, GPU, TPU (`--device` picks where the matmuls run; bf16 on CPU, TPU and GPUs of
    compute capability >= 8.0, which also get a "tf32" variant)
Backends: tensorflow only (the recipe is about tf.function, XLA and device placement)
Bar: fp32 ≤ 1e-5 and bf16 ≤ 1e-2 relative error vs float64 on 10 shapes from 1×1×1 to 4096³; each tf.function traced once per shape
Results: fp32 tf.function 217 GFLOP/s, 1.10x NumPy; bf16 405 GFLOP/s, 2.05x
Peer: `numpy.matmul`: GFLOP/s ratio; Strassen vs `tf.matmul` crossover (`make bench NAME=matmul`)
Run: make recipe NAME=matmul    (quick check: make recipe NAME=matmul ARGS=--tiny)

The document asks for two things: Strassen's algorithm, and a matmul compiled with @tf.function and
placed on the GPU. This recipe implements both and measures them against float64 NumPy (accuracy)
and numpy.matmul (speed), on the device `--device` selects (TPU, then GPU, then CPU).
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf

import tfcook

FP32_BAR = 1e-5  # max relative error vs float64 for every float32 variant
BF16_BAR = 1e-2  # ... and for bf16 (inputs rounded to 8-bit mantissas, output too)
# Pause before each shape: OpenBLAS threads spin for a while after numpy.matmul returns, which
# made a tf.matmul started right after it 1.5x slower on 2 cores.
SETTLE_S = 0.25
STRASSEN_WIN = 1.05  # Strassen counts as faster only by more than run-to-run noise (5 %)

DEFAULT_SHAPES = (
    "1x1x1", "1x7x3", "3x5x7", "17x31x13", "127x129x131", "255x257x511", "513x1000x777",
    "1024x1024x1024", "1537x1023x2049", "4096x4096x4096",
)  # fmt: skip


"""## Settings

`Config` holds every setting with its type and reason; the defaults are the recorded run, and
`Config.tiny()` a check that takes seconds. Shapes are written `MxKxN`.
"""


@dataclasses.dataclass
class Config:
    # products checked and timed, MxKxN = (m x k) @ (k x n); the largest is the throughput shape
    shapes: tuple[str, ...] = DEFAULT_SHAPES
    repeats: int = 3  # timed calls per variant and shape after one warm-up call; the median counts
    strassen_cutoff: int = 512  # Strassen calls tf.matmul once the smallest of m, k, n is <= this
    bf16: bool = True  # also run bfloat16 variants where the device supports them
    seed: int = 0  # seeds the NumPy generator that draws the input matrices

    def __post_init__(self):
        if not self.shapes:
            raise ValueError("shapes must name at least one MxKxN product")
        for shape in self.shapes:
            parse_shape(shape)  # raises ValueError with the offending text
        if self.repeats < 1 or self.strassen_cutoff < 1:
            raise ValueError("repeats and strassen_cutoff must be at least 1")

    @classmethod
    def tiny(cls) -> Config:
        """Seconds: shapes up to 256, one timed call, a cutoff low enough for 2 Strassen levels."""
        return cls(shapes=("1x1x1", "1x7x3", "3x5x7", "17x31x13", "100x64x80", "255x257x211"), repeats=1, strassen_cutoff=64)


def parse_shape(text: str) -> tuple[int, int, int]:
    """Parse "MxKxN" into (m, k, n)."""
    parts = text.lower().split("x")
    try:
        m, k, n = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"a shape is MxKxN with three positive integers, e.g. 127x129x131; got {text!r}") from None
    if min(m, k, n) < 1:
        raise ValueError(f"shape sizes must be at least 1, got {text!r}")
    return m, k, n


"""## The multiplications

Strassen multiplies two 2x2 block matrices with 7 block products instead of 8, at the price of 18
block additions; applied recursively that is O(n^log2(7)) = O(n^2.807) instead of O(n^3). Here it
is plain TensorFlow: `strassen(a, b, cutoff)` recurses in Python on static shapes, so inside a
tf.function the recursion is unrolled once, at trace time, into one graph per input shape (7^levels
tf.matmul leaves); calling again with the same shape reuses that graph (the recipe counts traces).
Odd and non-power-of-two sizes are padded with a zero row/column to even at each level and the
result is sliced back; non-square m x k @ k x n splits all three dimensions; once the smallest of
m, k, n is <= `strassen_cutoff` it calls tf.matmul.

Why Strassen loses on a CPU (and mostly on GPUs): a tuned GEMM runs near peak because it reuses
each loaded element ~100 times from registers and cache; Strassen's additions are memory-bound
(each reads two blocks and writes one, 18 per level, plus the padding copies), so the 12.5 %
fewer flops per level are paid back in memory traffic, and its 7 smaller products run less
efficiently than one big one. Its error also grows with depth: the additions mix entries of
different magnitudes and the error bound grows by roughly a constant factor per level (measured:
3.5e-7 for tf.matmul, 5.8e-7 at 1 level, 2.3e-6 at 3 levels), still well under the 1e-5 fp32 bar.
"""


def strassen(a: tf.Tensor, b: tf.Tensor, cutoff: int) -> tf.Tensor:
    """a @ b by Strassen's recursion on static shapes, tf.matmul once min(m, k, n) <= cutoff.

    Works eagerly and inside tf.function, where the Python recursion runs once per input shape
    and leaves a graph of 7^levels tf.matmul calls.
    """
    (m, k), n = a.shape, b.shape[1]
    if None in (m, k, n):
        raise ValueError(f"strassen needs static shapes (it recurses at trace time), got {a.shape} @ {b.shape}")
    if min(m, k, n) <= cutoff:
        return tf.matmul(a, b)
    # Pad each dimension to even with zeros; the zero rows/columns don't change the product.
    m2, k2, n2 = m + m % 2, k + k % 2, n + n % 2
    if (m2, k2) != (m, k):
        a = tf.pad(a, [[0, m2 - m], [0, k2 - k]])
    if (k2, n2) != (k, n):
        b = tf.pad(b, [[0, k2 - k], [0, n2 - n]])
    h, d, w = m2 // 2, k2 // 2, n2 // 2
    a11, a12, a21, a22 = a[:h, :d], a[:h, d:], a[h:, :d], a[h:, d:]
    b11, b12, b21, b22 = b[:d, :w], b[:d, w:], b[d:, :w], b[d:, w:]

    def mul(x, y):
        return strassen(x, y, cutoff)

    p1 = mul(a11 + a22, b11 + b22)
    p2 = mul(a21 + a22, b11)
    p3 = mul(a11, b12 - b22)
    p4 = mul(a22, b21 - b11)
    p5 = mul(a11 + a12, b22)
    p6 = mul(a21 - a11, b11 + b12)
    p7 = mul(a12 - a22, b21 + b22)
    top = tf.concat([p1 + p4 - p5 + p7, p3 + p5], axis=1)
    bottom = tf.concat([p2 + p4, p1 - p2 + p3 + p6], axis=1)
    return tf.concat([top, bottom], axis=0)[:m, :n]


def strassen_levels(m: int, k: int, n: int, cutoff: int) -> int:
    """How many times `strassen` halves an m x k @ k x n product before calling tf.matmul."""
    levels = 0
    while min(m, k, n) > cutoff:
        m, k, n = (m + 1) // 2, (k + 1) // 2, (n + 1) // 2
        levels += 1
    return levels


def strassen_function(cutoff: int):
    """A tf.function of `strassen` with a fixed cutoff: one trace per input shape and dtype."""

    @tf.function
    def strassen_matmul(a, b):
        return strassen(a, b, cutoff)

    return strassen_matmul


def matmul_function(jit_compile: bool = False):
    """A fresh tf.function of tf.matmul (its own trace count), XLA-compiled if jit_compile."""

    @tf.function(jit_compile=jit_compile)
    def matmul(a, b):
        return tf.matmul(a, b)

    return matmul


"""## Variants, devices and measurements

Precision: on Ampere+ GPUs TensorFlow runs float32 matmuls as TF32 by default (10-bit mantissa
inputs, error ~1e-3), and TPUs use bf16 passes. `run` turns that off with
`tf.config.experimental.enable_tensor_float_32_execution(False)` for the fp32 check, reports TF32
as its own variant on GPUs of compute capability >= 8 (error measured, not held to 1e-5), and
restores the previous setting when it ends. bf16 variants get bf16-rounded inputs and produce a
bf16 output; their error is against the float64 product of the original fp32 inputs (bar 1e-2).

Timing: GFLOP/s = 2*m*n*k / seconds (the classical count, also for Strassen), the median of
`repeats` back-to-back calls right after the variant's warm-up call (tracing, XLA compilation);
each timed call fetches one element of the result, since GPU/TPU ops run asynchronously. NumPy
runs last for each shape, and a pause follows it: OpenBLAS's threads keep spinning after a call,
and a tf.matmul timed right after numpy.matmul ran 1.5x slower (190 vs 285-307 GFLOP/s at 2048).
"""


@dataclasses.dataclass
class Variant:
    name: str
    dtype: str  # input dtype: "float32" or "bfloat16"
    bar: float | None  # max relative error allowed (None: reported only)
    call: Callable[[Any, Any], Any]
    function: Any = None  # the tf.function behind `call`, whose traces are counted (None: NumPy)
    what: str = ""


def device_support(device: str) -> dict[str, Any]:
    """Which reduced-precision modes the device runs: bf16 everywhere but pre-Ampere GPUs; TF32 on Ampere+."""
    if not device.startswith("/GPU"):
        return {"bf16": True, "tf32": False, "device_model": device.strip("/")}
    gpu = tf.config.list_physical_devices("GPU")[0]
    details = tf.config.experimental.get_device_details(gpu)
    capability = tuple(details.get("compute_capability", (0, 0)))  # absent on non-NVIDIA GPUs
    ampere = capability >= (8, 0)
    return {"bf16": ampere, "tf32": ampere, "device_model": f"{details.get('device_name', gpu.name)} (cc {capability})"}


def with_tf32(function) -> Callable[[Any, Any], Any]:
    """Call `function` with TF32 enabled, switching back to full fp32 afterwards.

    The GPU matmul kernel reads the setting when it is launched, which the call does before returning.
    """

    def call(a, b):
        tf.config.experimental.enable_tensor_float_32_execution(True)
        try:
            return function(a, b)
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(False)

    return call


def make_variants(config: Config, support: dict[str, Any]) -> list[Variant]:
    plain, xla, stras = matmul_function(), matmul_function(jit_compile=True), strassen_function(config.strassen_cutoff)
    variants = [
        Variant("tf_function", "float32", FP32_BAR, plain, plain, "@tf.function tf.matmul"),
        Variant("xla", "float32", FP32_BAR, xla, xla, "@tf.function(jit_compile=True)"),
        Variant("strassen", "float32", FP32_BAR, stras, stras, f"@tf.function Strassen, tf.matmul at <= {config.strassen_cutoff}"),
    ]
    if support["tf32"]:
        tf32 = matmul_function()
        variants.append(Variant("tf32", "float32", None, with_tf32(tf32), tf32, "@tf.function tf.matmul, TF32 on"))
    if config.bf16 and support["bf16"]:
        bf16, xla_bf16 = matmul_function(), matmul_function(jit_compile=True)
        variants.append(Variant("tf_function_bf16", "bfloat16", BF16_BAR, bf16, bf16, "@tf.function tf.matmul, bf16"))
        variants.append(Variant("xla_bf16", "bfloat16", BF16_BAR, xla_bf16, xla_bf16, "@tf.function(jit_compile=True), bf16"))
    variants.append(Variant("numpy", "float32", FP32_BAR, np.matmul, None, "numpy.matmul (the peer)"))
    return variants


def random_inputs(rng: np.random.Generator, m: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)


def relative_error(c: Any, reference: np.ndarray) -> float:
    """||C - C_ref||_F / ||C_ref||_F, computed in float64."""
    c = np.asarray(c.numpy() if isinstance(c, tf.Tensor) else c, dtype=np.float64)
    return float(np.linalg.norm(c - reference) / np.linalg.norm(reference))


def materialize(c: Any) -> None:
    """Wait for a result: fetching one element forces the (possibly asynchronous) device work."""
    if isinstance(c, tf.Tensor):
        c[0, 0].numpy()


def time_median(call: Callable[[], Any], repeats: int) -> float:
    """Median seconds of `repeats` back-to-back calls, each waited for (call it once before: warm-up)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        materialize(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check_shape(variants: list[Variant], m: int, k: int, n: int, rng: np.random.Generator, device: str, repeats: int) -> tuple[dict, dict]:
    """Relative error of the first call (which is also the warm-up) and GFLOP/s (median of timed calls) per variant.

    Each variant's timed calls directly follow its own warm-up, TensorFlow's first and NumPy last,
    then the float64 reference; a pause lets NumPy's BLAS threads go idle before the next shape.
    """
    a, b = random_inputs(rng, m, k, n)
    time.sleep(SETTLE_S)
    results, seconds = {}, {}
    with tf.device(device):
        on_device = {"float32": (tf.identity(a), tf.identity(b))}
        if any(v.dtype == "bfloat16" for v in variants):
            on_device["bfloat16"] = tuple(tf.cast(x, tf.bfloat16) for x in on_device["float32"])
        for v in sorted(variants, key=lambda v: v.function is None):  # NumPy last
            args = on_device[v.dtype] if v.function is not None else (a, b)
            results[v.name] = v.call(*args)
            materialize(results[v.name])
            seconds[v.name] = time_median(lambda v=v, args=args: v.call(*args), repeats)
    reference = a.astype(np.float64) @ b.astype(np.float64)
    errors = {v.name: relative_error(results[v.name], reference) for v in variants}
    gflops = {name: 2 * m * n * k / s / 1e9 for name, s in seconds.items()}
    return errors, gflops


"""## The run

`run(config)` checks every variant on every shape (error against float64, traces, GFLOP/s) and
reports where Strassen would cross over tf.matmul, if anywhere.
"""


def summarize(variants: list[Variant], shapes: list[tuple[int, int, int]], errors: dict, gflops: dict) -> list[dict]:
    """One row per variant: worst error over all shapes, and speed at the throughput shape."""
    big = max(shapes, key=lambda s: s[0] * s[1] * s[2])
    rows = []
    for v in variants:
        worst = max(errors[s][v.name] for s in shapes)
        rows.append({
            "variant": v.name,
            "dtype": v.dtype,
            "max_rel_error": worst,
            "bar": v.bar if v.bar is not None else "reported",
            "pass": worst <= v.bar if v.bar is not None else None,
            "gflops": round(gflops[big][v.name], 1),
            "vs_numpy": round(gflops[big][v.name] / gflops[big]["numpy"], 3),
            # Every call of every shape counted: 1.0 only if each distinct shape was traced exactly once.
            "traces_per_shape": v.function.experimental_get_tracing_count() / len(set(shapes)) if v.function is not None else None,
            "what": v.what,
        })  # fmt: skip
    return rows


def strassen_crossover(shapes, gflops, cutoff: int) -> str:
    """The smallest shape (by flops) from which Strassen beats tf_function (by > 5 %) at every larger shape where it recursed."""
    recursed = sorted((s for s in shapes if strassen_levels(*s, cutoff) > 0), key=lambda s: s[0] * s[1] * s[2])
    if not recursed:
        return f"not measured: no shape has all sizes > strassen_cutoff={cutoff}"
    wins = [gflops[s]["strassen"] > STRASSEN_WIN * gflops[s]["tf_function"] for s in recursed]
    for i, s in enumerate(recursed):
        if all(wins[i:]):
            return "x".join(map(str, s))
    return f"none up to {'x'.join(map(str, recursed[-1]))}"


def run(config: Config) -> dict:
    rng = np.random.default_rng(config.seed)
    shapes = [parse_shape(s) for s in config.shapes]
    device = tfcook.devices.device_name()
    support = device_support(device)
    previous_tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    # One trace per shape is the design (and is counted below): hush tf.function's retracing warning.
    logger, previous_level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")
    # Full fp32 for the check: no TF32 on Ampere+ GPUs, no bf16 passes on TPUs.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        variants = make_variants(config, support)
        print(f"{device} ({support['device_model']}): {', '.join(v.name for v in variants)}", flush=True)
        errors, gflops = {}, {}
        for i, shape in enumerate(shapes, 1):
            start = time.perf_counter()
            errors[shape], gflops[shape] = check_shape(variants, *shape, rng, device, config.repeats)
            worst = max(errors[shape][v.name] for v in variants if v.bar == FP32_BAR)
            print(
                f"  [{i}/{len(shapes)}] {'x'.join(map(str, shape))}: max fp32 rel. error {worst:.1e}, GFLOP/s "
                f"tf_function {gflops[shape]['tf_function']:.3g}, numpy {gflops[shape]['numpy']:.3g} ({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(previous_tf32)
        logger.setLevel(previous_level)

    table = summarize(variants, shapes, errors, gflops)
    by_name = {row["variant"]: row for row in table}
    big = max(shapes, key=lambda s: s[0] * s[1] * s[2])

    def worst(dtype):
        values = [r["max_rel_error"] for r in table if r["dtype"] == dtype and r["variant"] not in ("numpy", "tf32")]
        return max(values) if values else None

    metrics = {
        "device": device,
        "device_model": support["device_model"],
        "throughput_shape": "x".join(map(str, big)),
        "max_rel_error_fp32": worst("float32"),
        "max_rel_error_bf16": worst("bfloat16"),
        "all_pass": all(r["pass"] is not False for r in table),
        "strassen_traces_per_shape": by_name["strassen"]["traces_per_shape"],
        "strassen_levels_at_throughput_shape": strassen_levels(*big, config.strassen_cutoff),
        "tf_function_vs_numpy": by_name["tf_function"]["vs_numpy"],
        "xla_vs_numpy": by_name["xla"]["vs_numpy"],
        "strassen_vs_tf_function": round(by_name["strassen"]["gflops"] / by_name["tf_function"]["gflops"], 3),
        "strassen_crossover": strassen_crossover(shapes, gflops, config.strassen_cutoff),
    }
    if "tf32" in by_name:
        metrics["max_rel_error_tf32"] = by_name["tf32"]["max_rel_error"]
    if "tf_function_bf16" in by_name:
        metrics["bf16_vs_numpy"] = by_name["tf_function_bf16"]["vs_numpy"]
    metrics["variants"] = table
    names = [v.name for v in variants]
    metrics["rel_errors"] = [{"shape": "x".join(map(str, s)), **{n: errors[s][n] for n in names}} for s in shapes]
    metrics["gflops"] = [{"shape": "x".join(map(str, s)), **{n: float(f"{gflops[s][n]:.3g}") for n in names}} for s in shapes]
    return metrics


"""## Notes

Measured on the earlier 2-core CI machine (Intel, with AMX), which other jobs shared, with NumPy in the
benchmark's own process then (the header's Results have the 2026-12-03 run against NumPy in a process of
its own) (`make bench NAME=matmul`, square n; rows
where this process got under 1.75 of the 2 cores are left out, the rest still vary by ~10 %):
- n >= 1024: tf.function fp32 runs at 0.95-1.10x numpy.matmul (OpenBLAS), both ~300-335 GFLOP/s
  at 4096. At n = 256-512 it is 0.2-0.7x: a tf.function call costs ~0.15-0.25 ms more than an
  eager op here, and the one-element fetch 0.08 ms, while numpy.matmul of 256^3 takes 0.15 ms.
- XLA (jit_compile) doesn't help a single matmul on CPU: 0.83-0.93x tf.function at n = 1024-4096.
- bf16 tf.matmul runs on the CPU's AMX units: 1000-1340 GFLOP/s from n = 1024, 3.4-4.3x numpy's
  fp32; XLA's bf16 dot doesn't use them (fp32 speed).
- Strassen with cutoff 512 runs at 0.76-0.87x tf.matmul at n = 1024-4096 (1-3 levels). Even one
  level (7 tf.matmuls of n/2) stays at or below break-even (0.88-0.90x at 1024-2048, 0.96-1.03x
  at 4096). No crossover up to 4096. GPUs and TPUs are not measured here (CI has neither).

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): errors (10 shapes 1x1x1..4096^3, CPU):
max relative error vs float64 3.5e-07 (tf.function), 4.1e-07 (XLA), 2.3e-06 (Strassen, 3 levels at 4096),
4.6e-03 (bf16); each tf.function traced once per shape. Speed (`make bench NAME=matmul`, 2026-12-03, 2 cores
of an Intel Xeon family 6 model 207: AVX-512 with bf16, no AMX), against numpy.matmul in its own process on
OpenBLAS's own kernel (0.3.31, SkylakeX, 2 threads), medians of 3 alternating rounds: tf.function 258 / 301 /
293 GFLOP/s at n = 1024 / 2048 / 4096 = 0.90x / 1.15x / 1.43x NumPy (goal >= 1.0x at n >= 1024: met from 2048,
not at 1024, where NumPy's 286 GFLOP/s is ~97 % of the cores' FMA peak at base clock); XLA 0.86-1.07x; bf16
without AMX 0.51-0.66x; Strassen 0.64-0.73x tf.matmul, no crossover up to 4096. bf16 on the earlier CI machine
with AMX: 1265 GFLOP/s at 4096, 4.0x NumPy
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run matmul`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
