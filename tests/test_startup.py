"""What the runner keeps from TensorFlow's start-up output, and what a run with nothing to train on says."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tfcook import empty_run, startup

START_UP = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796309500.352719    5290 port.cc:153] oneDNN custom operations are on.\n"
    "I0000 00:00:1796309500.354773    5290 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
    "I0000 00:00:1796309500.98    5290 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions.\n"
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.\n"
    "E0000 00:00:1796309507.311599    5290 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
)
KEPT = "W0000 00:00:1796309507.4    5290 some_op.cc:10] a real warning\nE0000 00:00:1796309507.5    5290 other.cc:1] a real error\nplain text\n"


@pytest.mark.parametrize("level", ["1", "2"])
def test_quiet_drops_tensorflows_start_up_notes_below_the_level(level, capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    with startup.quiet():
        os.write(2, (START_UP + KEPT).encode())
    assert capfd.readouterr().err == (KEPT if level == "1" else KEPT.split("\n", 1)[1])  # level 2 hides warnings too


def test_level_0_shows_everything(capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    with startup.quiet():
        os.write(2, START_UP.encode())
    assert capfd.readouterr().err == START_UP


def test_quiet_passes_the_output_on_when_the_block_fails(capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    with pytest.raises(KeyboardInterrupt), startup.quiet():
        os.write(2, b"partial output\n")
        raise KeyboardInterrupt
    assert capfd.readouterr().err == "partial output\n"


FIT_ON_NO_BATCHES = """
import numpy as np, tensorflow as tf
{keras_import}
from tfcook import empty_run
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
model.compile("sgd", "mse")
one_batch = tf.data.Dataset.from_tensor_slices((np.zeros((8, 3)), np.zeros((8, 1)))).batch(8)
for data, steps in ((one_batch.take(0), None), (one_batch.filter(lambda x, y: True).take(0), None), (one_batch, 3)):
    try:
        with empty_run.raising_on_no_data():
            model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    except Exception as err:
        print(empty_run.reason(err))
    else:
        print("fit returned")
"""


@pytest.mark.parametrize("keras_import", ["import keras", "import tf_keras as keras"], ids=["keras3", "tf_keras"])
def test_fit_short_of_batches_is_an_error_in_both_keras_versions(keras_import):
    """No batch (known or unknown cardinality) or fewer than steps_per_epoch: Keras 3 warns, tf_keras raises or
    logs, and without the guard both return a history as if nothing were wrong."""
    code = FIT_ON_NO_BATCHES.format(keras_import=keras_import)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    reasons = proc.stdout.strip().splitlines()[-3:]
    assert len(reasons) == 3 and all(r.startswith("Keras got no batch") for r in reasons), (reasons, proc.stderr[-2000:])


def test_only_the_known_signs_of_an_empty_run_are_read_as_one():
    assert empty_run.reason(ValueError("Argument `decay_steps` must be > 0. Received: decay_steps=0"))
    assert empty_run.reason(UnboundLocalError("cannot access local variable 'loss'"))
    assert empty_run.reason(ValueError("Input 0 of layer 'dense' is incompatible")) is None
    assert empty_run.reason(KeyError("d_loss")) is None
