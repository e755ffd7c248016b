"""TFDS loading with a clear error, and the MNIST input pipeline most recipes share.

`load` reads a prepared dataset from TFDS_DATA_DIR (default ~/tensorflow_datasets) and
downloads it only when it is missing there and the download host answers: offline, TFDS
would otherwise retry for minutes before failing with a traceback.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable

from tfcook.errors import DataError

DOWNLOAD_HOST = "storage.googleapis.com"  # where TFDS fetches MNIST and most datasets from


def data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR") or str(Path("~/tensorflow_datasets").expanduser())


def load(name: str, split: str, **kwargs: Any):
    """`tfds.load(name, split=split, as_supervised=True, **kwargs)`, or a DataError saying what to set."""
    import tensorflow_datasets as tfds

    kwargs.setdefault("as_supervised", True)
    try:
        return tfds.load(name, split=split, download=False, **kwargs)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"TFDS has no dataset named {name!r}") from None
    except AssertionError:  # TFDS's way of saying "not prepared in data_dir"
        pass
    if not _can_download():
        raise DataError(
            f"dataset {name!r} is not in {data_dir()} and this machine can't download it; "
            f"set TFDS_DATA_DIR to a folder that holds it in TFDS format"
        )
    try:
        return tfds.load(name, split=split, download=True, **kwargs)
    except Exception as err:  # network and parsing failures surface as many types
        raise DataError(f"downloading dataset {name!r} into {data_dir()} failed ({err}); set TFDS_DATA_DIR to a folder that holds it") from None


def mnist(
    split: str,
    batch_size: int,
    *,
    shuffle: bool = False,
    limit: int = 0,
    preprocess: Callable | None = None,
    drop_remainder: bool = False,
):
    """MNIST as a batched tf.data pipeline of (float32 [28, 28, 1] in [0, 1], int64 label).

    `limit` keeps the first N examples (0: all). `preprocess(images)` gets float batches
    [B, 28, 28, 1] and runs once per example, before the cache, so it is free after epoch 1.
    """
    import tensorflow as tf

    def to_float(images, labels):
        images = tf.cast(images, tf.float32) / 255.0
        return (preprocess(images) if preprocess else images), labels

    ds = load("mnist", f"{split}[:{limit}]" if limit else split)
    size = int(ds.cardinality())
    # Vectorized map: one call per 1024 images instead of per image, then cache the floats
    # (47 MB for the training set) so decoding and preprocessing happen once. unbatch() forgets
    # the size, which Keras needs to find the end of an epoch: assert it back.
    ds = ds.batch(1024).map(to_float, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    ds = ds.apply(tf.data.experimental.assert_cardinality(size)).cache()
    if shuffle:
        ds = ds.shuffle(size, reshuffle_each_iteration=True)  # a full shuffle: MNIST fits in memory
    # Prefetch overlaps preparing the next batch with the current training step.
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def mnist_arrays(split: str, limit: int = 0):
    """MNIST as numpy arrays (images float32 [N, 28, 28, 1] in [0, 1], labels int64 [N])."""
    import tensorflow_datasets as tfds

    images, labels = tfds.as_numpy(load("mnist", f"{split}[:{limit}]" if limit else split, batch_size=-1))
    return images.astype("float32") / 255.0, labels


def _can_download(timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((DOWNLOAD_HOST, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
