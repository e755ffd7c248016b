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
# TensorFlow 2.20, as Colab ships it, writes the same notes in its own format.
START_UP_2_20 = (
    "2026-12-07 17:05:44.425404: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:31] Could not find cuda drivers.\n"
    "2026-12-07 17:05:44.425744: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\n"
    "2026-12-07 17:05:44.541477: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized.\n"
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.\n"
    "2026-12-07 17:05:52.508504: E external/local_xla/xla/stream_executor/cuda/cuda_platform.cc:51] failed call to cuInit\n"
)
KEPT = "W0000 00:00:1796309507.4    5290 some_op.cc:10] a real warning\nE0000 00:00:1796309507.5    5290 other.cc:1] a real error\nplain text\n"


@pytest.mark.parametrize("notes", [START_UP, START_UP_2_20], ids=["tf2.21", "tf2.20"])
@pytest.mark.parametrize("level", ["1", "2"])
def test_quiet_drops_tensorflows_start_up_notes_below_the_level(level, notes, capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    with startup.quiet():
        os.write(2, (notes + KEPT).encode())
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
unknown_length = one_batch.filter(lambda x, y: True)
cases = ((one_batch.take(0), 1, None), (unknown_length.take(0), 1, None), (unknown_length, 2, None), (one_batch, 1, 3))
for data, epochs, steps in cases:
    try:
        with empty_run.raising_on_no_data():
            model.fit(data, epochs=epochs, steps_per_epoch=steps, verbose=0)
    except Exception as err:
        print(empty_run.reason(err))
    else:
        print("fit returned")
"""


@pytest.mark.parametrize("keras_import", ["import keras", "import tf_keras as keras"], ids=["keras3", "tf_keras"])
def test_fit_on_no_batch_is_an_error_and_an_epoch_of_unknown_length_is_not(keras_import):
    """No batch (of known or unknown cardinality): Keras 3 returns an empty history after a warning, tf_keras raises;
    both become NoData's reason. Two epochs of a dataset of unknown length (Keras 3 gives the same warning at each
    epoch's end) and fewer batches than steps_per_epoch (some training happened) are not errors."""
    code = FIT_ON_NO_BATCHES.format(keras_import=keras_import)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    empty = "Keras got no batch from the data"
    assert proc.stdout.strip().splitlines()[-4:] == [empty, empty, "fit returned", "fit returned"], proc.stderr[-2000:]


def test_only_the_known_signs_of_an_empty_run_are_read_as_one():
    assert empty_run.reason(ValueError("Argument `decay_steps` must be > 0. Received: decay_steps=0"))
    assert empty_run.reason(UnboundLocalError("cannot access local variable 'loss'"))
    assert empty_run.reason(ValueError("Input 0 of layer 'dense' is incompatible")) is None
    assert empty_run.reason(KeyError("d_loss")) is None
