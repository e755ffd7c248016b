"""memory: the pooled loop's memory stays flat over 1,000 steps; the pool refuses misuse clearly; a leak would show."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.realdata
def test_pooled_loop_memory_is_flat_over_1000_steps_and_the_pool_refuses_misuse(run_recipe):
    result = run_recipe("memory", "--device=cpu")
    m, config = result["metrics"], result["config"]
    assert config["steps"] == 1000 and m["memory_measure"] == "process RSS"
    pooled, unpooled = m["loops"]
    # The bar, recomputed from the samples: mean of the last 10 after warm-up vs the first 10.
    samples = np.array(m["memory_samples_mb"]["pooled"])
    after = samples[config["warmup_steps"] // config["sample_every"] :]
    assert len(samples) == 100 and after[-10:].mean() - after[:10].mean() == pytest.approx(m["growth_mb"], abs=0.01)
    assert m["flat"] is True and m["growth_mb"] <= m["tolerance_mb"] == 4.0
    # Steady state created nothing: the pool's 5 buffers served all 250 cycles, and the step traced once per branch.
    assert pooled["variables_created"] == 5 and pooled["pool_allocations"] == 5 * 1000 // config["micro_batches"]
    assert pooled["traces"] == 2 and unpooled["variables_created"] == 1250
    # Both loops trained the same model on the same batches: the pool changes where scratch lives, not the math.
    assert pooled["final_loss"] == pytest.approx(unpooled["final_loss"], rel=1e-4) and pooled["final_loss"] < 0.5
    assert "already released" in m["double_release_error"] and "all 1 float32[4] buffers are in use" in m["exhausted_error"]
    assert Path(m["memory_png"]).is_file()
    assert list((Path(result["out"]) / "tensorboard").rglob("events.out.tfevents.*"))


# --- the pool ----------------------------------------------------------------------------------


@pytest.fixture
def pool():
    from tfcook.recipes.memory import BufferPool

    return BufferPool({((2, 3), "float32"): 2, ((5,), "int32"): 1}, device="/CPU:0")


def test_buffers_are_preallocated_and_reused(pool):
    import tensorflow as tf

    a = pool.allocate((2, 3), tf.float32)
    b = pool.allocate([2, 3], "float32")
    assert a is not b and a.shape == (2, 3) and a.dtype == tf.float32 and pool.in_use == 2
    pool.release(a)
    assert pool.allocate((2, 3), "float32") is a  # the same Variable back, nothing new created
    assert pool.created == 3 and pool.allocations == 3
    assert pool.allocate((5,), tf.int32).dtype == tf.int32


def test_exhaustion_double_release_foreign_and_unknown_buffers_raise_clear_errors(pool):
    import tensorflow as tf

    from tfcook.recipes.memory import DoubleRelease, PoolError, PoolExhausted

    a = pool.allocate((5,), "int32")
    with pytest.raises(PoolExhausted, match=r"all 1 int32\[5\] buffers are in use"):
        pool.allocate((5,), "int32")
    pool.release(a)
    with pytest.raises(DoubleRelease, match=r"int32\[5\] buffer .* was already released"):
        pool.release(a)
    with pytest.raises(PoolError, match="does not belong to this pool"):
        pool.release(tf.Variable(tf.zeros([5], tf.int32)))
    with pytest.raises(PoolError, match=r"holds no float64\[2, 3\] buffers \(it holds float32\[2, 3\], int32\[5\]\)"):
        pool.allocate((2, 3), "float64")
    assert pool.in_use == 0


def test_threads_never_get_the_same_buffer(pool):
    from tfcook.recipes.memory import PoolExhausted

    holders, errors, lock = {}, [], threading.Lock()

    def worker():
        for _ in range(200):
            try:
                buf = pool.allocate((2, 3), "float32")
            except PoolExhausted:
                continue
            with lock:
                assert id(buf) not in holders, "one buffer handed to two users"
                holders[id(buf)] = threading.get_ident()
            with lock:
                del holders[id(buf)]
            pool.release(buf)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pool.in_use == 0 and not errors


def test_the_rss_measure_sees_a_leak_the_size_the_tolerance_is_meant_to_catch():
    """Keeping 50 cycles' scratch (1.16 MB each) must move RSS by far more than the 4 MB tolerance.

    Measured in a fresh process: in a long pytest run, pages freed by earlier tests are reused
    and hide part of any growth.
    """
    code = (
        "import tensorflow as tf\n"
        "from tfcook.recipes.memory import memory_mb\n"
        "before = memory_mb('/CPU:0')\n"
        "scratch = 784 * 256 + 256 + 256 * 10 + 10 + 128 * 784\n"  # the accumulators and the staged batch
        "kept = [tf.Variable(tf.random.uniform([scratch])) for _ in range(50)]\n"
        "print(memory_mb('/CPU:0') - before, 50 * scratch * 4 / 2**20)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    grown, kept_mb = map(float, proc.stdout.split()[-2:])
    assert grown >= 0.9 * kept_mb, (grown, kept_mb)  # 58 MB: nearly all of it shows


def test_impossible_configs_are_rejected():
    from tfcook.recipes.memory import Config

    for bad in ({"steps": 0}, {"warmup_steps": 900}, {"tolerance_mb": 0.0}, {"train_examples": 64}, {"gpu_memory_limit_mb": -1}):
        with pytest.raises(ValueError):
            Config(**bad)
