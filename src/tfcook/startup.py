"""TensorFlow's start-up lines, held back as TF_CPP_MIN_LOG_LEVEL says they should be.

Since TensorFlow 2.20 its C++ start-up notes (oneDNN on, CPU features, no CUDA driver) are logged
through absl before absl's log is initialised, and absl then writes every message to stderr
whatever its level, once per TensorFlow library that loads (so twice). `quiet()` collects file
descriptor 2 while TensorFlow loads and lists its devices, then passes on only the lines at or
above TF_CPP_MIN_LOG_LEVEL (the runner's default is 2: errors), without absl's note about its
uninitialised log, and without the failed CUDA probe of a machine that has no GPU driver unless
the level is 0 (the run's own device line says what it runs on). Other text passes unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

ABSL_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ")  # severity, date, time, thread, file:line
# TensorFlow 2.20 (Colab's) writes its own format: date time: severity path/file:line]
TSL_LINE = re.compile(r"\d{4}-\d\d-\d\d [\d:.]+: ([IWEF]) [\w/.-]+:\d+\] ")
LEVEL = {"I": 0, "W": 1, "E": 2, "F": 3}  # TF_CPP_MIN_LOG_LEVEL hides severities below it
UNINITIALISED = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
CONTINUED = "To enable the following instructions:"  # the second line of cpu_feature_guard's INFO message
NO_GPU_DRIVER = "failed call to cuInit"


def keep(line: str, level: int) -> bool:
    """Whether TensorFlow would have written `line` at TF_CPP_MIN_LOG_LEVEL=level, had absl been initialised."""
    if level <= 0:
        return True
    match = ABSL_LINE.match(line) or TSL_LINE.match(line)
    if match:
        return LEVEL[match[1]] >= level and NO_GPU_DRIVER not in line
    return not line.startswith((UNINITIALISED, CONTINUED))


def min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


@contextlib.contextmanager
def quiet():
    """Within this block, TensorFlow's start-up lines below TF_CPP_MIN_LOG_LEVEL never reach stderr."""
    level = min_log_level()
    if level <= 0:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if keep(line, level)))
            sys.stderr.flush()


def list_devices() -> None:
    """List TensorFlow's devices if it is loaded: its first listing probes for CUDA (inside `quiet()`, then)."""
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].config.list_physical_devices()
