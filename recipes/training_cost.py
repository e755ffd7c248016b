"""Training cost: FLOPs counted three ways, this machine's model FLOPs utilization, and time and money per accelerator

Summary: Training FLOPs from XLA's compiled step and 6·N·D; MFU and cloud cost
Category: privacy and systems
Origin: blog posts' questions on training cost: compute, time, money, "cost analysis / ROI" (catalog `training_cost`)
Accelerator: CPU, GPU, TPU (the counts are device-independent; the HLO is compiled for and timed on the selected device)
Backends: tensorflow only (the counts are read from TensorFlow's compiled XLA HLO)
Bar: the XLA count of the train step matches the analytic count within 1 % for the Dense and the Conv model; 6·N·D is within
    10 % of the analytic count for the transformer (the attention-score matmuls it leaves out are T/(6d) = 8 % here)
Results: XLA's FLOP count equals the analytic one for all three models; MLP MFU 35 %
Peer: none: the three counts check one another (`make recipe NAME=training_cost`)
Run: make recipe NAME=training_cost    (a 7 B model on 2 T tokens: ARGS="--params=7e9 --tokens=2e12 --count_models=false")

Three ways to count the floating-point operations of one training step, each checking the others;
then what a step costs here and what a large run would cost.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import tfcook

MODELS = ("mlp", "cnn", "transformer")

# Peak dense (no sparsity) bf16 FLOP/s per device and on-demand list price per device-hour (low, high).
ACCELERATORS = (
    {"accelerator": "TPU v6e (Trillium) chip", "peak_tflops": 918.0, "usd_per_hour": (2.70, 2.70),
     "peak_source": "cloud.google.com/tpu/docs/v6e", "price_source": "Google Cloud, Trillium GA announcement (on-demand from $2.70/chip-hour)",
     "price_date": "2024-12-12"},
    {"accelerator": "TPU v5p chip", "peak_tflops": 459.0, "usd_per_hour": (4.20, 4.20),
     "peak_source": "cloud.google.com/tpu/docs/v5p", "price_source": "Google Cloud, TPU v5p announcement ($4.20/chip-hour on-demand)",
     "price_date": "2023-12-06"},
    {"accelerator": "TPU v5e chip", "peak_tflops": 197.0, "usd_per_hour": (1.20, 1.20),
     "peak_source": "cloud.google.com/tpu/docs/v6e (v5e column)", "price_source": "Google Cloud, TPU v5e announcement ($1.20/chip-hour on-demand)",
     "price_date": "2023-08-29"},
    {"accelerator": "NVIDIA H100 SXM 80GB", "peak_tflops": 989.0, "usd_per_hour": (2.49, 3.99),
     "peak_source": "NVIDIA H100 datasheet (989 dense, 1,979 with sparsity)",
     "price_source": "typical on-demand range (Lambda, CoreWeave, Crusoe, RunPod), pricegpu.pages.dev/blog/h100-vs-a100-cloud-price",
     "price_date": "2026-01"},
    {"accelerator": "NVIDIA A100 SXM 80GB", "peak_tflops": 312.0, "usd_per_hour": (1.49, 2.49),
     "peak_source": "NVIDIA A100 datasheet (312 dense, 624 with sparsity)",
     "price_source": "typical on-demand range (Lambda, CoreWeave, vast.ai, RunPod), pricegpu.pages.dev/blog/h100-vs-a100-cloud-price",
     "price_date": "2026-01"},
)


"""## Settings

`Config` holds every setting with its type and reason; the defaults are the recorded run, and
`Config.tiny()` a check that takes seconds.
"""


@dataclasses.dataclass
class Config:
    params: float = 124e6  # parameters of the model to estimate (GPT-2 small: 124 M)
    tokens: float = 0.0  # training tokens to estimate (0: 20 per parameter, the Chinchilla-optimal ratio)
    assumed_mfu: float = 0.4  # model FLOPs utilization assumed on the accelerators (PaLM reached 0.46 on TPU v4)
    count_models: bool = True  # count and time the demo models; false: only the estimate
    models: tuple[str, ...] = ("mlp", "cnn", "transformer")  # which demo models to count and time
    matmul_size: int = 2048  # n of the n x n float32 matmul that measures this machine's practical peak
    batch_size: int = 128  # batch of the MLP and the CNN (MNIST images)
    seq_batch: int = 8  # sequences per transformer batch
    seq_len: int = 128  # transformer context T
    d_model: int = 256  # transformer width d
    layers: int = 2  # transformer blocks L
    heads: int = 4  # attention heads
    vocab: int = 256  # transformer vocabulary (bytes)
    timing_steps: int = 5  # timed train steps per model (the fastest counts), after two warm-up steps
    seed: int = 0  # seeds the models and the token batch

    def __post_init__(self):
        if self.params <= 0 or self.tokens < 0:
            raise ValueError("params must be positive and tokens not negative")
        if not 0 < self.assumed_mfu <= 1:
            raise ValueError(f"assumed_mfu must be in (0, 1], got {self.assumed_mfu}")
        if min(self.batch_size, self.seq_batch, self.seq_len, self.d_model, self.layers, self.heads, self.vocab, self.timing_steps) < 1:
            raise ValueError("batch sizes, model sizes and timing_steps must be at least 1")
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        unknown = set(self.models) - set(MODELS)
        if unknown or not self.models:
            raise ValueError(f"models must be some of {', '.join(MODELS)}, got {', '.join(self.models) or 'none'}")
        if self.matmul_size < 16:
            raise ValueError("matmul_size must be at least 16")

    @classmethod
    def tiny(cls) -> Config:
        return cls(models=("mlp",), batch_size=32, timing_steps=2, matmul_size=512)


"""## The models

Three small models whose FLOPs behave differently: an MLP, a CNN (a convolution reuses each
weight at every position) and a transformer (attention adds activation-activation matmuls).
"""


def build_mlp() -> keras.Model:
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(512, activation="relu"),
         keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)],
        name="mlp",
    )


def build_cnn() -> keras.Model:
    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
         keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(), keras.layers.Flatten(),
         keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)],
        name="cnn",
    )


class PositionEmbedding(keras.layers.Layer):
    """A learned vector per position, added to the token embeddings (no matmul: 0 counted FLOPs)."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=tuple(input_shape[1:]), initializer="random_normal", name="table")

    def call(self, x):
        return x + self.table


def build_transformer(config: Config) -> keras.Model:
    """A decoder-only transformer: pre-norm blocks of causal self-attention and a 4d MLP, untied output head."""
    tokens = keras.Input((config.seq_len,), dtype="int32")
    x = keras.layers.Embedding(config.vocab, config.d_model, name="token_embedding")(tokens)
    x = PositionEmbedding(name="position_embedding")(x)
    for i in range(config.layers):
        h = keras.layers.LayerNormalization(name=f"ln_attn_{i}")(x)
        h = keras.layers.MultiHeadAttention(config.heads, config.d_model // config.heads, name=f"attention_{i}")(h, h, use_causal_mask=True)
        x = keras.layers.Add()([x, h])
        h = keras.layers.LayerNormalization(name=f"ln_mlp_{i}")(x)
        h = keras.layers.Dense(4 * config.d_model, activation="gelu", name=f"mlp_up_{i}")(h)
        x = keras.layers.Add()([x, keras.layers.Dense(config.d_model, name=f"mlp_down_{i}")(h)])
    x = keras.layers.LayerNormalization(name="ln_final")(x)
    return keras.Model(tokens, keras.layers.Dense(config.vocab, name="head")(x), name="transformer")


"""## Way 1: analytic, per layer

A matmul of [m, k] by [k, n] is 2·m·k·n FLOPs (a multiply and an add per
term). A Dense layer's forward pass over B·T rows is 2·B·T·in·out; backpropagation computes the
gradient for the weights (the same again) and, unless nothing before the layer is trainable, for
its input (the same again): 3x forward, 2x for the first trainable layer. A valid-padded Conv2D
is 2·B·Ho·Wo·K²·Cin·Cout forward, with the same rule. Attention adds two activation-activation
matmuls per layer (Q·Kᵀ and scores·V), 4·B·T²·d forward. Bias adds, activations, softmax,
normalization, pooling and the optimizer are O(parameters + activations) and not counted, as
is usual for "model FLOPs".
"""

NO_MATMUL = (keras.layers.InputLayer, keras.layers.Flatten, keras.layers.MaxPooling2D, keras.layers.LayerNormalization,
             keras.layers.Add, keras.layers.Dropout, keras.layers.Activation, keras.layers.Embedding, PositionEmbedding)


def layer_forward_flops(layer: keras.layers.Layer, batch: int) -> int:
    """Matmul FLOPs of one forward pass of `layer` over `batch` examples."""
    if isinstance(layer, keras.layers.Dense):
        rows = batch * math.prod(layer.input.shape[1:-1])  # Dense on [B, T, d] acts on B·T rows
        return 2 * rows * layer.input.shape[-1] * layer.units
    if isinstance(layer, keras.layers.Conv2D):
        if layer.padding != "valid" or layer.groups != 1 or layer.data_format != "channels_last":
            raise ValueError(f"{layer.name}: the analytic count covers valid-padded, ungrouped, channels-last Conv2D only")
        _, ho, wo, cout = layer.output.shape
        kh, kw = layer.kernel_size
        return 2 * batch * ho * wo * kh * kw * layer.input.shape[-1] * cout
    if isinstance(layer, keras.layers.MultiHeadAttention):  # self-attention: query, key and value are one sequence
        query = layer.input[0] if isinstance(layer.input, (list, tuple)) else layer.input
        _, t, d = query.shape
        inner = layer.num_heads * layer.key_dim
        projections = 2 * batch * t * d * inner * 3 + 2 * batch * t * inner * d  # Q, K, V in; O out
        return projections + 2 * 2 * batch * layer.num_heads * t * t * layer.key_dim  # Q·Kᵀ and scores·V
    if isinstance(layer, NO_MATMUL) or not layer.weights:
        return 0
    raise ValueError(f"no analytic FLOP count for layer {layer.name} ({type(layer).__name__})")


def analytic_flops(model: keras.Model, batch: int) -> list[dict]:
    """Per layer: forward, backward (weights + input gradients) and training FLOPs of one step."""
    rows, trainable_before = [], False
    for layer in model.layers:
        forward = layer_forward_flops(layer, batch)
        # Weight gradient: same as forward; input gradient: same again, unless nothing before is trainable.
        backward = forward * (2 if trainable_before else 1) if layer.trainable_weights else forward * trainable_before
        if forward:
            rows.append({"layer": layer.name, "forward": forward, "backward": backward, "train": forward + backward})
        trainable_before = trainable_before or bool(layer.trainable_weights)
    return rows


"""## Way 2: XLA's HLO of the compiled train step

`tf.function(jit_compile=True).experimental_get_compiler_ir(...)(stage="optimized_hlo")`
returns the HLO XLA actually compiles for the train step (TF 2.21 offers HLO text, serialized
protos and DOT graphs at several stages, but no cost-analysis call: JAX's `compiled.cost_analysis()`
wraps XLA's C++ `HloCostAnalysis`, which TF does not expose). The recipe applies
HloCostAnalysis's rules for the two instructions that carry the FLOPs: a `dot` is
2 x (output elements) x (contracted elements); a `convolution` is 2 x batch x output features x
input features per group x, for every spatial dimension, the (output, kernel) position pairs
that land inside the input (padding and dilation holes don't count). The optimized stage
matters: the unoptimized HLO still contains the input gradient of the first layer, which XLA
then removes as dead code.

Way 3 is 6·N·D (Kaplan et al. 2020, "Scaling laws"): 2 FLOPs per parameter per token forward, 4
backward, with N the non-embedding parameters and D the tokens. It leaves out attention's
12·L·T·d FLOPs per token, a fraction T/(6d) of the rest: small when the context T is short
next to the width d, and why the transformer here is compared within 10 %. It is a transformer
rule: each weight is used once per token. For the MLP it overcounts by 34 % (the first layer
needs no input gradient, and "tokens" are images), and for the CNN it undercounts by 91 % (a
convolution reuses each weight at every one of the 26x26 or 11x11 positions).
"""

DEF = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(\w+)\[([\d,]*)\]")
OPERANDS = re.compile(r"\b(dot|convolution)\(([^)]*)\)")


def parse_shapes(hlo: str) -> dict[str, list[int]]:
    """Every instruction's array shape by name (names are unique in an HLO module)."""
    shapes = {}
    for line in hlo.splitlines():
        found = DEF.match(line)
        if found:
            shapes[found[1]] = [int(d) for d in found[3].split(",") if d]
    return shapes


def operand_shapes(args: str, shapes: dict[str, list[int]]) -> list[list[int]]:
    """Operand shapes: printed inline (`f32[2,8]{1,0} %x`) in some stages, looked up by name in others."""
    result = []
    for arg in args.split(", "):
        inline = re.match(r"\s*\w+\[([\d,]*)\]", arg)
        if inline:
            result.append([int(d) for d in inline[1].split(",") if d])
        else:
            result.append(shapes[arg.strip().lstrip("%")])
    return result


def dims(attr: str, line: str) -> list[int]:
    found = re.search(attr + r"=\{([\d,]*)\}", line)
    return [int(d) for d in found[1].split(",") if d] if found else []


def dot_flops(line: str, out: list[int], lhs: list[int]) -> int:
    """HloCostAnalysis::HandleDot: 2 x output elements x contracted elements."""
    return 2 * math.prod(out) * math.prod(lhs[d] for d in dims("lhs_contracting_dims", line))


def valid_taps(in_size: int, out_size: int, kernel: int, stride=1, pad_lo=0, lhs_dilation=1, rhs_dilation=1) -> int:
    """(output, kernel) position pairs that read a real input element: not padding, not a dilation hole."""
    count = 0
    for k in range(kernel):
        for o in range(out_size):
            pos = o * stride - pad_lo + k * rhs_dilation
            if pos % lhs_dilation == 0 and 0 <= pos // lhs_dilation < in_size:
                count += 1
    return count


def convolution_flops(line: str, out: list[int], lhs: list[int], rhs: list[int]) -> int:
    """HloCostAnalysis::HandleConvolution: 2 x batch x out features x in features/group x valid taps per spatial dim."""
    labels = re.search(r"dim_labels=(\w+)_(\w+)->(\w+)", line)
    lhs_l, rhs_l, out_l = labels[1], labels[2], labels[3]
    window = re.search(r"window=\{([^}]*)\}", line)[1]
    field = lambda name, n, default: [int(v) for v in re.search(name + r"=([\dx_]+)", window)[1].replace("_", "x").split("x")] if name + "=" in window else [default] * n
    spatial = [c for c in lhs_l if c.isdigit()]
    n = len(spatial)
    size, stride, lhs_dil, rhs_dil = field("size", n, 1), field("stride", n, 1), field("lhs_dilate", n, 1), field("rhs_dilate", n, 1)
    pad = field("pad", 2 * n, 0)[0::2]  # low padding of each dimension ("lo_hi" pairs)
    fgc = int(re.search(r"feature_group_count=(\d+)", line)[1]) if "feature_group_count" in line else 1
    bgc = int(re.search(r"batch_group_count=(\d+)", line)[1]) if "batch_group_count" in line else 1
    taps = 1
    for i, s in enumerate(spatial):
        taps *= valid_taps(lhs[lhs_l.index(s)], out[out_l.index(s)], size[i], stride[i], pad[i], lhs_dil[i], rhs_dil[i])
    batch = lhs[lhs_l.index("b")] // bgc
    return 2 * batch * out[out_l.index("f")] * (lhs[lhs_l.index("f")] // fgc) * taps


def hlo_flops(hlo: str) -> dict:
    """FLOPs of every dot and convolution in an HLO module, by XLA's cost rules."""
    shapes = parse_shapes(hlo)
    total, counts = 0, {"dot": 0, "convolution": 0}
    for line in hlo.splitlines():
        found = DEF.match(line)
        op = OPERANDS.search(line)
        if not found or not op or not line.split("=", 1)[1].lstrip().split(" ", 1)[1].startswith(op[1] + "("):
            continue
        out = [int(d) for d in found[3].split(",") if d]
        operands = operand_shapes(op[2], shapes)
        total += dot_flops(line, out, operands[0]) if op[1] == "dot" else convolution_flops(line, out, *operands[:2])
        counts[op[1]] += 1
    return {"flops": total, "dots": counts["dot"], "convolutions": counts["convolution"]}


def make_train_step(model: keras.Model):
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(jit_compile=True)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    return train_step


def time_steps(step, x, y, steps: int) -> tuple[float, float]:
    """(wall, CPU) seconds per train step, the fastest of `steps` calls, after two warm-ups (XLA compiles on the first).

    CPU time counts every thread of the process, so FLOPs per CPU-second stay fair on a shared machine.
    """
    for _ in range(2):
        float(step(x, y))
    wall = cpu = math.inf
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        float(step(x, y))  # float(): wait for the result
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return wall, cpu


"""## This machine: peak and utilization

Model FLOPs utilization (MFU, PaLM's term) is the analytic FLOPs of a step divided by its
measured time, over the device's peak. On this CPU the peak is cores x clock x 32 FP32 FLOPs per
cycle (two 256-bit FMA units, clock from /proc/cpuinfo). On a shared machine the wall-clock MFU
says more about the neighbours than the model (4-15x lower here under load), so the recipe also
reports FLOPs per CPU-second over one core's peak, which is the same number when the step has the
cores to itself: a 2048² matmul reaches 0.66 of the peak, the MLP 0.62, the transformer 0.44 (its
softmax, layer norms and GELU are FLOPs the count leaves out) and the CNN 0.14 (XLA's CPU
convolutions, and its backward ones most, are far from the matmul's efficiency). The estimate for `--params`/`--tokens`
divides 6·N·D by peak x `assumed_mfu` for each accelerator in `ACCELERATORS` (peak dense bf16
FLOP/s and on-demand prices per device-hour, each with its source and date: list prices at that
date, not quotes; check them before spending money). Multi-device runs cost the same device-hours
if they scale perfectly; they don't quite.
"""


def cpu_peak_flops() -> dict:
    """Theoretical FP32 peak: cores x clock x FLOPs/cycle (2 FMA units x vector width x 2)."""
    info = tfcook.devices.cpu()
    mhz = 0.0
    try:
        with open("/proc/cpuinfo") as f:
            mhz = next(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, StopIteration):
        pass
    lanes = 16 if "avx512f" in info["features"] else 8 if "avx2" in info["features"] else 4
    per_cycle = 2 * lanes * 2 if "fma" in info["features"] else lanes * 2
    cores = os.cpu_count() or 1
    return {"cores": cores, "ghz": round(mhz / 1000, 3), "flops_per_cycle": per_cycle, "peak_flops": cores * mhz * 1e6 * per_cycle}


def matmul_flops_per_s(n: int, repeats: int = 5) -> tuple[float, float]:
    """FLOP/s of a large float32 matmul (wall, and per CPU-second): the practical ceiling for the models' MFU."""
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
    float(matmul(a, b))
    wall = cpu = math.inf
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        float(matmul(a, b))
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return 2 * n**3 / wall, 2 * n**3 / cpu


"""## The estimate, and counting each model

`estimate` turns FLOPs into device-hours and dollars per accelerator; `count_model` puts the three
counts of one model side by side with its measured step time.
"""


def estimate(flops: float, assumed_mfu: float, cpu: dict | None = None) -> list[dict]:
    """Device-hours and dollars to do `flops` of training on each accelerator at `assumed_mfu`."""
    rows = []
    for acc in ACCELERATORS:
        hours = flops / (acc["peak_tflops"] * 1e12 * assumed_mfu) / 3600
        low, high = acc["usd_per_hour"]
        rows.append({"accelerator": acc["accelerator"], "peak_tflops": acc["peak_tflops"], "mfu": assumed_mfu, "device_hours": hours,
                     "usd_low": hours * low, "usd_high": hours * high, "price_per_hour": f"${low:.2f}" + (f"-{high:.2f}" if high != low else ""),
                     "price_date": acc["price_date"], "source": acc["price_source"]})
    if cpu:
        hours = flops / (cpu["peak_flops"] * cpu["mfu"]) / 3600
        rows.append({"accelerator": f"this CPU ({cpu['cores']} cores, fp32)", "peak_tflops": round(cpu["peak_flops"] / 1e12, 4),
                     "mfu": round(cpu["mfu"], 3), "device_hours": hours, "usd_low": None, "usd_high": None, "price_per_hour": "-",
                     "price_date": "-", "source": "measured here (the transformer step's FLOPs per CPU-second, else a matmul's)"})
    return rows


def count_model(name: str, model: keras.Model, x, y, batch: int, tokens_per_step: int, config: Config, peak: float, cores: int) -> dict:
    """Analytic and XLA counts of one train step, and its measured speed."""
    per_layer = analytic_flops(model, batch)
    analytic = sum(r["train"] for r in per_layer)
    step = make_train_step(model)
    print(f"{name}: compiling the train step and reading its optimized HLO", flush=True)
    # platform_name="CPU": on a GPU the optimized HLO turns dots and convolutions into cuBLAS/cuDNN custom-calls;
    # the CPU compilation of the same function keeps them as HLO instructions (the FLOPs are the math's, not the device's).
    xla = hlo_flops(step.experimental_get_compiler_ir(x, y)(stage="optimized_hlo", platform_name="CPU"))
    seconds, cpu_seconds = time_steps(step, x, y, config.timing_steps)
    non_embedding = sum(int(np.prod(w.shape)) for layer in model.layers if not isinstance(layer, (keras.layers.Embedding, PositionEmbedding))
                        for w in layer.trainable_weights)
    return {
        "model": name,
        "params": model.count_params(),
        "non_embedding_params": non_embedding,
        "analytic_flops": analytic,
        "xla_flops": xla["flops"],
        "xla_vs_analytic": round(xla["flops"] / analytic - 1, 5),
        "six_n_d": 6 * non_embedding * tokens_per_step,
        "six_n_d_vs_analytic": round(6 * non_embedding * tokens_per_step / analytic - 1, 4),
        "hlo_dots": xla["dots"],
        "hlo_convolutions": xla["convolutions"],
        "step_ms": round(1000 * seconds, 3),
        "achieved_gflops": round(analytic / seconds / 1e9, 2),
        "mfu": round(analytic / seconds / peak, 4),
        # FLOPs per CPU-second over one core's peak: the same as mfu when the step has the cores to itself.
        "mfu_cpu_time": round(analytic / cpu_seconds / (peak / cores), 4),
        "per_layer": per_layer,
    }


"""## Run it

`run(config)` counts the three models three ways (unless `count_models` is off), measures this machine's
matmul peak, and estimates the run given by `params` and `tokens` on each accelerator.
"""


def run(config: Config) -> dict:
    keras.utils.set_random_seed(config.seed)
    tokens = config.tokens or 20 * config.params
    flops = 6 * config.params * tokens
    cpu = cpu_peak_flops()
    metrics: dict = {"cpu_peak_gflops": round(cpu["peak_flops"] / 1e9, 1), "cpu_clock_ghz": cpu["ghz"], "cpu_flops_per_cycle": cpu["flops_per_cycle"]}
    if config.count_models:
        device = tfcook.devices.device_name()
        matmul, matmul_per_cpu_s = matmul_flops_per_s(config.matmul_size)
        metrics.update(matmul_gflops=round(matmul / 1e9, 1), matmul_fraction_of_peak=round(matmul / cpu["peak_flops"], 3),
                       matmul_fraction_of_peak_cpu_time=round(matmul_per_cpu_s / (cpu["peak_flops"] / cpu["cores"]), 3))
        images, labels = tfcook.data.mnist_arrays("train", config.batch_size)
        x, y = tf.constant(images), tf.constant(labels)
        token_ids = tf.constant(np.random.default_rng(config.seed).integers(0, config.vocab, (config.seq_batch, config.seq_len + 1)), tf.int32)
        demos = {  # name: (builder, inputs, batch, tokens per step)
            "mlp": (build_mlp, (x, y), config.batch_size, config.batch_size),
            "cnn": (build_cnn, (x, y), config.batch_size, config.batch_size),
            # Next-token prediction: the values don't change the FLOPs, so random bytes stand in for text.
            "transformer": (lambda: build_transformer(config), (token_ids[:, :-1], token_ids[:, 1:]), config.seq_batch, config.seq_batch * config.seq_len),
        }
        models = []
        with tf.device(device):
            for name in config.models:
                build, inputs, batch, tokens_per_step = demos[name]
                models.append(count_model(name, build(), *inputs, batch, tokens_per_step, config, cpu["peak_flops"], cpu["cores"]))
        metrics["models"] = [{k: v for k, v in m.items() if k != "per_layer"} for m in models]
        metrics["per_layer"] = [{"model": m["model"], **row} for m in models for row in m["per_layer"]]
        metrics["attention_share_expected"] = round(config.seq_len / (6 * config.d_model), 4)  # T/(6d): what 6·N·D leaves out
        # The CPU row of the estimate runs at the transformer's measured efficiency per CPU-second (else the matmul's):
        # what the step reaches with the cores to itself, not what a loaded machine leaves it.
        cpu["mfu"] = next((m["mfu_cpu_time"] for m in models if m["model"] == "transformer"), metrics["matmul_fraction_of_peak_cpu_time"])
    else:
        cpu = None
    metrics.update(estimate_params=config.params, estimate_tokens=tokens, estimate_flops=flops, estimate_assumed_mfu=config.assumed_mfu)
    metrics["estimate"] = estimate(flops, config.assumed_mfu, cpu)
    return metrics

"""## Notes

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): CPU, 2 cores, under load: the XLA
count of the optimized train step equals the analytic count exactly (0.000 %) for the MLP (308 MFLOP/step),
the CNN (1.97 GFLOP) and the transformer (10.9 GFLOP); 6·N·D is 7.0 % below the analytic transformer count;
FLOPs per CPU-second over one core's 78 GFLOP/s peak: matmul 0.66, MLP 0.62, transformer 0.44, CNN 0.14;
GPT-2-small size (124 M params, 2.48 B tokens, 1.85e18 FLOPs) at 40 % MFU: 1.3 H100-hours ($3.2-5.2), 1.4 TPU
v6e chip-hours ($3.8), 4.1 A100-hours ($6.1-10.2)
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run training_cost`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
