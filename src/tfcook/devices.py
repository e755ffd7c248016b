"""Device, backend and strategy selection, shared by every recipe.

The runner calls `select(device)` from `--device`; a recipe calls `strategy()` when it builds
its model. Nothing here touches TensorFlow or JAX until a recipe asks, so a recipe can still split
the CPU into logical devices first (TensorFlow refuses once its runtime has started).

On the TensorFlow backend `strategy()` is a tf.distribute strategy. On the JAX backend (how Keras
reaches a Colab TPU) it is its counterpart: Keras's `DataParallel` distribution over the selected
devices, set for the whole run, behind the two members recipes use (`scope()`,
`num_replicas_in_sync`). TensorFlow then only feeds tf.data pipelines, on the CPU.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from typing import Any

from tfcook.errors import DeviceError

DEVICES = ("auto", "cpu", "gpu", "tpu")
BACKENDS = ("tensorflow", "jax")


def backend() -> str:
    """The Keras backend of this process: Keras's own answer once imported, else KERAS_BACKEND."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")

_requested = "auto"
_last: Any = None  # the strategy most recently handed to a recipe, for result.json


def select(device: str) -> None:
    """Record the `--device` choice and fail now, before any training, if it isn't there."""
    global _requested, _last
    if device not in DEVICES:
        raise DeviceError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    _requested, _last = device, None
    if backend() == "jax":
        _select_jax(device)
        return
    import tensorflow as tf

    # list_physical_devices does not start the TF runtime; list_logical_devices would.
    if device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise DeviceError("--device gpu: TensorFlow sees no GPU on this machine (check the CUDA install, or use --device cpu)")
    if device == "tpu" and not _tpu_present():
        raise DeviceError("--device tpu: TensorFlow sees no TPU (on a Colab TPU runtime, run a portable recipe with --backend jax)")
    if device == "cpu":
        _hide_gpus()


def _select_jax(device: str) -> None:
    import jax

    # TensorFlow only runs the input pipeline here: left with the GPUs, it would take their memory
    # from JAX at start-up (the Keras guide to tf.data under JAX hides them the same way).
    _hide_gpus()
    if device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    elif device in ("gpu", "tpu") and not _jax_has(device):
        where = "on Colab: a TPU runtime, see the README" if device == "tpu" else "install jax[cuda12], or use --device cpu"
        raise DeviceError(f"--device {device}: JAX sees no {device.upper()} ({where})")


def _jax_has(platform: str) -> bool:
    import jax

    try:
        return bool(jax.devices(platform))
    except RuntimeError:  # "Unknown backend" / "no devices of that platform"
        return False


def kind() -> str:
    """Where recipes run under the `--device` choice: "tpu", "gpu" or "cpu"."""
    if backend() == "jax":
        import jax

        return "cpu" if _requested == "cpu" else jax.default_backend()
    import tensorflow as tf

    if _requested in ("auto", "tpu") and _tpu_present():
        return "tpu"
    if _requested in ("auto", "gpu") and tf.config.list_physical_devices("GPU"):
        return "gpu"
    return "cpu"


def strategy(cpu_replicas: int = 1):
    """The tf.distribute strategy for the selected device.

    auto: TPUStrategy when a TPU is attached, MirroredStrategy over all GPUs when there are
    several, otherwise the default strategy (one GPU or the CPU).
    `cpu_replicas` > 1 mirrors over that many logical CPU devices when running on the CPU,
    which is how multi-device code is exercised on a machine without accelerators.
    """
    global _last
    if backend() == "jax":
        _last = _jax_strategy(cpu_replicas)
        return _last
    import tensorflow as tf

    where = kind()
    if where == "tpu":
        _last = _tpu_strategy()
    elif where == "gpu" and len(tf.config.list_physical_devices("GPU")) > 1:
        _last = tf.distribute.MirroredStrategy()
    elif cpu_replicas > 1 and where == "cpu":
        _last = tf.distribute.MirroredStrategy(cpu_devices(cpu_replicas))
    else:
        _last = tf.distribute.get_strategy()
    return _last


class JaxStrategy:
    """What recipes use of a tf.distribute strategy, on the JAX backend: Keras's DataParallel
    distribution (set for the whole run, since `fit` reads it to shard each batch) over `devices`."""

    def __init__(self, devices: list[str]):
        import keras

        self.devices = devices
        self.num_replicas_in_sync = len(devices)
        self.name = "DataParallel" if len(devices) > 1 else "OneDevice"  # for result.json
        self.distribution = keras.distribution.DataParallel(devices=devices) if len(devices) > 1 else None
        keras.distribution.set_distribution(self.distribution)

    def scope(self):
        # Variables made anywhere in the run are laid out by the global distribution already.
        return contextlib.nullcontext()


def _jax_strategy(cpu_replicas: int) -> JaxStrategy:
    """DataParallel over every device of the selected kind; on the CPU over `cpu_replicas` faked
    devices, or over as many as XLA_FLAGS=--xla_force_host_platform_device_count made."""
    import keras

    if cpu_replicas > 1 and _requested in ("auto", "cpu"):
        _split_jax_cpu(cpu_replicas)
    where = kind()
    devices = keras.distribution.list_devices(where)  # "tpu:0", "tpu:1", ...
    if where == "cpu" and cpu_replicas > 1:
        devices = devices[:cpu_replicas]
    return JaxStrategy(devices)


def _split_jax_cpu(count: int) -> None:
    import jax
    from jax._src import xla_bridge

    if len(jax.devices("cpu") if xla_bridge.backends_are_initialized() else []) >= count:
        return
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # JAX has started: its CPU client exists with its device count
        raise DeviceError(
            f"cannot split the CPU into {count} JAX devices once JAX has started; "
            f"set XLA_FLAGS=--xla_force_host_platform_device_count={count} before starting"
        ) from None


def device_name() -> str:
    """The first device of the selected kind, for code placed with `tf.device` (e.g. "/GPU:0")."""
    where = kind()
    if where == "tpu":
        _tpu_strategy()  # TPU devices exist only once the TPU system is initialized
    return f"/{where.upper()}:0"


def cpu_devices(count: int) -> list[str]:
    """Names of `count` logical CPU devices, splitting the physical CPU if TF hasn't started yet."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu) or []
    if len(configured) < count:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError:
            raise DeviceError(
                f"cannot split the CPU into {count} devices once TensorFlow has started; run this in a fresh process"
            ) from None
    return [f"/cpu:{i}" for i in range(count)]


# CPU features that change results: bf16/fp16 matmuls are native (and ~4x faster) only with these.
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")


@functools.cache
def cpu() -> dict:
    """The CPU model, core count and which of CPU_FEATURES it has (from /proc/cpuinfo on Linux)."""
    import os
    import platform

    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
                if key.strip() == "flags":
                    break  # the first processor's block is enough
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields:  # virtual machines often hide the marketing name ("AMD EPYC")
        model += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    flags = set(fields.get("flags", "").split())
    return {"model": model, "cores": os.cpu_count(), "features": [f for f in CPU_FEATURES if f in flags]}


def cpu_summary() -> str:
    """One line for tables and READMEs, e.g. "AMD EPYC, 2 cores, avx2 fma (no AVX-512, no AMX)"."""
    info = cpu()
    features = info["features"]
    missing = [name for name, prefix in (("AVX-512", "avx512"), ("AMX", "amx")) if not any(f.startswith(prefix) for f in features)]
    return f"{info['model']}, {info['cores']} cores, {' '.join(features) or 'no listed features'}" + (
        f" (no {', no '.join(missing)})" if missing else ""
    )


def describe() -> dict:
    """What the run used, for result.json."""
    if backend() == "jax":
        import jax

        physical = [f"{d.platform}:{d.id}" for d in jax.devices()]
    else:
        import tensorflow as tf

        physical = [d.name for d in tf.config.list_physical_devices()]
    info = {"requested": _requested, "physical": physical, "cpu": cpu()}
    if _last is not None:
        info.update(
            strategy=getattr(_last, "name", type(_last).__name__.lstrip("_")),
            replicas=_last.num_replicas_in_sync,
        )
    info["kind"] = kind()
    return info


def _hide_gpus() -> None:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        tf.config.set_visible_devices([], "GPU")


def _tpu_present() -> bool:
    import tensorflow as tf

    # On TPU VMs (Colab, Kaggle) libtpu registers TPU devices at import, so this is a cheap
    # check that neither blocks nor starts the runtime.
    return bool(tf.config.list_physical_devices("TPU"))


@functools.cache
def _tpu_strategy():
    """Connect to the attached TPU once per process (initializing twice wipes its memory)."""
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.NotFoundError) as err:
        raise DeviceError(f"a TPU is listed but could not be initialized ({err.__class__.__name__})") from None
    return tf.distribute.TPUStrategy(resolver)
