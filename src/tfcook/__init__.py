"""tfcook: TensorFlow/Keras recipes that run, are tested on real data, and report measured results.

The helpers recipes share (importing tfcook does not import TensorFlow):

    tfcook.strategy()        the tf.distribute strategy for `--device` (auto: TPU > GPUs > CPU)
    tfcook.out_dir()         the folder this run writes to (result.json, TensorBoard logs, models)
    tfcook.verbose()         Keras `verbose=`: a progress bar on a terminal, a line per epoch in logs
    tfcook.data.load(...)    tfds.load that says what to set when the data is missing
    tfcook.data.mnist(...)   the MNIST tf.data pipeline
    tfcook.litert            accuracy and batch-1 latency of .tflite models in the LiteRT interpreter
    tfcook.resume            training that resumes after a lost runtime (fit, stage, save/load)
    tfcook.run_main(module)  what a recipe's main() calls: same flags as `tfcook run NAME`

Imported on their own: `tfcook.plot` (PNG figures, Matplotlib) and `tfcook.text` (imports Keras: the
SST-2 recipes' standardizer, registered so that their saved models load after `import tfcook.text`).
"""

from tfcook import data, devices, litert, results, resume
from tfcook.cli import run_main
from tfcook.devices import strategy
from tfcook.errors import ConfigError, DataError, DeviceError, UserError
from tfcook.results import out_dir, verbose

__all__ = [
    "ConfigError",
    "DataError",
    "DeviceError",
    "UserError",
    "data",
    "devices",
    "litert",
    "out_dir",
    "results",
    "resume",
    "run_main",
    "strategy",
    "verbose",
]
__version__ = "0.1.0"
