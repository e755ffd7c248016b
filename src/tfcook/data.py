"""TFDS loading with a clear error, plain-file downloads checked by hash, and the MNIST pipeline.

`load` reads a prepared dataset from TFDS_DATA_DIR (default ~/tensorflow_datasets) and
downloads it only when it is missing there and the download host answers: offline, TFDS
would otherwise retry for minutes before failing with a traceback.

`fetch` does the same for a plain file that is not in TFDS (Cora, Palmer penguins): a prepared
copy in TFCOOK_DATA_DIR, else a download into the Keras cache, and either way its SHA-256 must
match the one the recipe states.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from urllib.parse import urlparse
from typing import Any, Callable

from tfcook.errors import DataError

DOWNLOAD_HOST = "storage.googleapis.com"  # where TFDS fetches MNIST and most datasets from


def data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR") or str(Path("~/tensorflow_datasets").expanduser())


def load(name: str, split: str, **kwargs: Any):
    """`tfds.load(name, split=split, as_supervised=True, **kwargs)`, or a DataError saying what to set."""
    import tensorflow_datasets as tfds

    kwargs.setdefault("as_supervised", True)
    # TFDS reads TFDS_DATA_DIR once, at import; passing it makes a later change count.
    kwargs.setdefault("data_dir", data_dir())
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


def fetch(name: str, url: str, sha256: str) -> Path:
    """A local copy of the file `name` (origin `url`) whose SHA-256 is `sha256`.

    Looks in TFCOOK_DATA_DIR first, then in the Keras cache (~/.keras/datasets), then downloads
    from `url` if its host answers. A copy whose hash differs is refused: never silently used.
    """
    prepared = os.environ.get("TFCOOK_DATA_DIR")
    if prepared and Path(prepared, name).is_file():
        return _verified(Path(prepared, name), sha256)
    cached = Path("~/.keras/datasets", name).expanduser()
    if cached.is_file():
        return _verified(cached, sha256)
    where = f"TFCOOK_DATA_DIR ({prepared})" if prepared else "TFCOOK_DATA_DIR (unset)"
    if not _can_download(host=urlparse(url).hostname):
        raise DataError(f"{name} is not in {where} and this machine can't download it from {url}; set TFCOOK_DATA_DIR to a folder that holds it")
    import keras

    try:
        path = keras.utils.get_file(name, origin=url, file_hash=sha256, hash_algorithm="sha256")
    except Exception as err:  # Keras deletes a download whose hash is wrong and raises
        raise DataError(f"downloading {name} from {url} failed ({err}); set TFCOOK_DATA_DIR to a folder that holds it") from None
    return _verified(Path(path), sha256)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, sha256: str) -> Path:
    actual = sha256_of(path)
    if actual != sha256:
        raise DataError(f"{path} has SHA-256 {actual[:12]}..., not the expected {sha256[:12]}...; delete or replace it")
    return path


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


def _can_download(timeout: float = 3.0, host: str | None = None) -> bool:
    try:
        socket.create_connection((host or DOWNLOAD_HOST, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
