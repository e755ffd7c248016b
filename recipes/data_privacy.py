"""Data privacy: encrypted TFRecord shards read by tf.data, keyed pseudonyms, the Laplace mechanism

Summary: Encrypted TFRecords, keyed pseudonyms and Laplace noise, end to end
Category: privacy and systems
Origin: blog posts' snippets on "data security and privacy: encryption, anonymization, access control" (Fernet
    from `cryptography`) and the Laplace mechanism (`np.random.laplace(0, sensitivity / epsilon)`) (catalog
    `data_privacy`)
Accelerator: CPU (the input pipeline runs on the host; the decrypted batches feed any GPU or TPU)
Backends: tensorflow only (its subject is the tf.data pipeline and TFRecord shards themselves)
Bar: the encrypted round trip is bit-identical; a wrong key and a tampered shard are refused through the CLI (exit 2,
    one line naming the shard); the empirical Laplace noise scale over 20,000 releases is within 5 % of sensitivity/epsilon
Results: encrypted round trip bit-identical; read throughput 0.551x plain TFRecords
Peer: the same records as plain TFRecord shards: tf.data read throughput ratio (`make bench NAME=data_privacy`)
Run: make recipe NAME=data_privacy    (ARGS="--read_dir=DIR --key_file=FILE" verifies shards written earlier)

The document encrypts a whole dataset with Fernet and sketches the Laplace mechanism as one line of
NumPy. What a pipeline needs around those, in TensorFlow: keys, pseudonyms, encrypted shards
written and read back through tf.data, and the Laplace mechanism under a budget, section by
section below.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
import shutil
import struct
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import tfcook
import tfcook.plot

KEY_ENV = "TFCOOK_DATA_KEY"  # 64 hex characters, when no key file is given
MAGIC = b"TFCKGCM1"  # file format marker: magic, 12-byte nonce, ciphertext with its 16-byte tag
NONCE_BYTES = 12
SHARD_NAME = re.compile(r"train-(\d{5})-of-(\d{5})\.tfrecord\.enc")
PSEUDONYM_BYTES = 16  # HMAC-SHA256 truncated to 128 bits: collisions need ~2^64 IDs
FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),  # 784 raw uint8 pixels
    "label": tf.io.FixedLenFeature([], tf.int64),
    "id": tf.io.FixedLenFeature([], tf.string),  # the pseudonym, never the raw ID
}


"""## Settings

`Config` holds every setting with its type and reason; the defaults are the recorded run, and
`Config.tiny()` a check that takes seconds.
"""


@dataclasses.dataclass
class Config:
    shards: int = 8  # encrypted TFRecord shards the training set is split into
    examples: int = 0  # first N training images (0: all 60,000)
    # hex key file (64 hex characters, mode 600); empty: $TFCOOK_DATA_KEY, else a new key saved in the run folder
    key_file: str = ""
    # read and verify the encrypted shards in this folder instead of writing new ones (needs the key they were written with)
    read_dir: str = ""
    join_rows: int = 1000  # rows of the second table, keyed by raw ID, joined through pseudonyms
    epsilon_budget: float = 1.0  # total epsilon for released statistics
    histogram_epsilon: float = 0.5  # epsilon spent on the noisy label histogram
    mean_epsilon: float = 0.25  # epsilon spent on the noisy mean ink
    audit_releases: int = 20_000  # releases drawn per statistic to measure the noise scale
    read_repeats: int = 3  # timed passes over the plain and the encrypted shards (best one counts)

    def __post_init__(self):
        if self.shards < 1 or self.examples < 0 or self.join_rows < 0 or self.read_repeats < 1 or self.audit_releases < 2:
            raise ValueError("shards and read_repeats must be at least 1, audit_releases at least 2, examples and join_rows not negative")
        if 0 < self.examples < self.shards:
            raise ValueError(f"examples ({self.examples}) must be 0 or at least the number of shards ({self.shards})")
        if min(self.epsilon_budget, self.histogram_epsilon, self.mean_epsilon) <= 0:
            raise ValueError("epsilons must be positive")

    @classmethod
    def tiny(cls) -> Config:
        return cls(shards=2, examples=2048, join_rows=100, audit_releases=2000, read_repeats=1)


"""## Keys

One 256-bit master key from a file holding 64 hex characters, refused when group or others
have any access (`chmod 600`), or from `$TFCOOK_DATA_KEY`; without either the run makes one
and saves it as `data.key` (mode 600) beside the shards. HKDF-SHA256 derives separate keys for
encryption and for pseudonyms from it, so neither use can weaken the other.
"""


def load_key(key_file: str) -> bytes | None:
    """The 32-byte master key from `key_file` or $TFCOOK_DATA_KEY; None when neither is given."""
    if key_file:
        path = Path(key_file)
        try:
            mode = path.stat().st_mode
        except OSError as err:
            raise tfcook.DataError(f"key file {path} can't be read ({err.strerror})") from None
        if mode & 0o077:
            raise tfcook.DataError(f"key file {path} is accessible by group or others (mode {mode & 0o777:o}); run `chmod 600 {path}`")
        return parse_key(path.read_text(), f"key file {path}")
    if os.environ.get(KEY_ENV):
        return parse_key(os.environ[KEY_ENV], f"${KEY_ENV}")
    return None


def parse_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise tfcook.DataError(f"{where} must hold 64 hex characters (a 256-bit key)")
    return key


def save_new_key(path: Path) -> bytes:
    """A fresh random key, written with mode 600 from the start (no window where others can read it)."""
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def derive_key(master: bytes, purpose: str) -> bytes:
    """A separate 256-bit key per purpose (HKDF-SHA256), so encryption and pseudonyms never share one."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"tfcook data_privacy {purpose}".encode()).derive(master)


"""## Pseudonyms

Each example's identifier (`mnist-train-00042`, a stand-in for a user ID)
is replaced by HMAC-SHA256(key, ID) truncated to 128 bits before it is written. The same ID
always gets the same pseudonym, so a second table keyed by the raw IDs, pseudonymized with the
same key, joins against the shards (`tf.lookup.StaticHashTable`); without the key the raw IDs
can't be recovered or guessed from a list of candidates, and another key gives unlinkable
pseudonyms. A plain SHA-256 would not do: IDs are few enough to hash them all and compare.
"""


def pseudonymize(ids: list[str], key: bytes) -> list[bytes]:
    """HMAC-SHA256(key, id), truncated to 128 bits, hex: deterministic under one key, unlinkable across keys."""
    return [hmac.new(key, i.encode(), hashlib.sha256).hexdigest()[: 2 * PSEUDONYM_BYTES].encode() for i in ids]


def join_by_pseudonym(shard_ids: tf.Tensor, table_ids: list[bytes], table_labels: np.ndarray) -> tf.Tensor:
    """Each shard row's label from the second table (-1 where it has none): a join on pseudonyms."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(table_ids), tf.constant(table_labels, tf.int64)), default_value=-1
    )
    return table.lookup(shard_ids)


"""## Writing encrypted shards

Encryption at rest, shard by shard: each TFRecord shard (the ordinary file, CRCs and all) is
encrypted with AES-256-GCM under a fresh random 96-bit nonce, and the shard's file name,
`train-00003-of-00008.tfrecord.enc`, is the associated data: GCM authenticates it with the
ciphertext, so a renamed, swapped or reordered shard fails exactly like a modified one, and the
`-of-N` suffix means a deleted shard is noticed. Fernet (AES-128-CBC + HMAC) would do too; GCM is
one pass and is what TLS uses. The plaintext is built in TensorFlow's in-memory file system
(`ram://`) by the ordinary `tf.io.TFRecordWriter`, so it never touches the disk.
"""


def shard_names(count: int) -> list[str]:
    return [f"train-{i:05d}-of-{count:05d}.tfrecord.enc" for i in range(count)]


def serialize(images: np.ndarray, labels: np.ndarray, pseudonyms: list[bytes]) -> list[bytes]:
    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    return [
        tf.train.Example(features=tf.train.Features(feature={"image": feature(im.tobytes()), "label": feature(lab), "id": feature(pid)})).SerializeToString()
        for im, lab, pid in zip(images, labels, pseudonyms)
    ]


def tfrecord_bytes(records: list[bytes]) -> bytes:
    """A TFRecord file's bytes (length, CRCs, data), built in TF's in-memory file system, never on disk."""
    path = f"ram://tfcook-data-privacy/{os.getpid()}-{time.monotonic_ns()}"
    try:
        with tf.io.TFRecordWriter(path) as writer:
            for record in records:
                writer.write(record)
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    finally:
        if tf.io.gfile.exists(path):
            tf.io.gfile.remove(path)


def encrypt_shard(plaintext: bytes, name: str, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)  # fresh per shard: a repeated (key, nonce) pair breaks GCM
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, name.encode())


def write_shards(records: list[bytes], folder: Path, key: bytes, count: int, plain_folder: Path | None = None) -> list[Path]:
    """Split `records` into `count` encrypted shards in `folder` (and, for the peer, plain copies)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, part in zip(shard_names(count), np.array_split(np.arange(len(records)), count)):
        plaintext = tfrecord_bytes([records[i] for i in part])
        (folder / name).write_bytes(encrypt_shard(plaintext, name, key))
        if plain_folder is not None:
            plain_folder.mkdir(parents=True, exist_ok=True)
            (plain_folder / name.removesuffix(".enc")).write_bytes(plaintext)
        paths.append(folder / name)
    return paths


"""## Reading them back through tf.data

`Dataset.from_tensor_slices(shard_paths).map(tf.py_function(...))`
decrypts one shard per call (two in parallel, order kept), splits the TFRecord framing in memory
and yields that shard's records; `unbatch`, `batch`, vectorized `parse_example` follow. Nothing
decrypted is written anywhere. A shard whose tag doesn't verify (wrong key, a flipped bit, a
swapped name) raises before any of its bytes are used: `tfcook.DataError`, one sentence naming
the shard, exit status 2. Never garbage.
"""


REFUSED = "tfcook: shard refused"  # marks the assert that carries a refused shard's sentence


def decrypt_shard(path: Path, key: bytes) -> bytes:
    """The shard's TFRecord bytes, or DataError naming it: GCM checks key, content and name together."""
    blob = path.read_bytes()
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
        raise tfcook.DataError(f"shard {path.name} is not an encrypted tfcook shard (bad header)")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES :], path.name.encode())
    except InvalidTag:
        raise tfcook.DataError(f"shard {path.name} failed authentication: wrong key, or the file was modified or renamed") from None


def split_records(data: bytes) -> list[bytes]:
    """The records of a TFRecord file held in memory (GCM already vouched for every byte, so the CRCs are skipped)."""
    records, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        offset += 12  # uint64 length + uint32 masked CRC of the length
        records.append(data[offset : offset + length])
        offset += length + 4  # data + uint32 masked CRC of the data
    return records


def find_shards(folder: Path) -> list[Path]:
    """The shards in `folder`, checked complete against their `-of-N` names."""
    names = sorted(p.name for p in folder.glob("*.tfrecord.enc")) if folder.is_dir() else []
    if not names:
        raise tfcook.DataError(f"no encrypted shards (*.tfrecord.enc) in {folder}")
    total = int(SHARD_NAME.fullmatch(names[0])[2]) if SHARD_NAME.fullmatch(names[0]) else 0
    missing = sorted(set(shard_names(total)) - set(names)) if total else names
    if missing:
        raise tfcook.DataError(f"shard {missing[0]} is missing from {folder} (or misnamed)")
    return [folder / name for name in shard_names(total)]


def parse(records: tf.Tensor) -> dict:
    parsed = tf.io.parse_example(records, FEATURES)
    images = tf.reshape(tf.io.decode_raw(parsed["image"], tf.uint8), [-1, 28, 28, 1])
    return {"image": images, "label": parsed["label"], "id": parsed["id"]}


def encrypted_dataset(paths: list[Path], key: bytes, batch_size: int = 1024) -> tf.data.Dataset:
    """Batches of parsed examples, decrypted shard by shard inside tf.data."""

    def decrypt(path: tf.Tensor) -> tuple[np.ndarray, str]:
        try:
            return np.array(split_records(decrypt_shard(Path(path.numpy().decode()), key)), dtype=object), ""
        except tfcook.DataError as err:
            return np.array([], dtype=object), str(err)

    def decrypt_op(path):
        records, refused = tf.py_function(decrypt, [path], [tf.string, tf.string])
        records.set_shape([None])
        # The refusal is raised here, by a graph assert whose error carries only its sentence (`read_all` turns it
        # back into a DataError). Raised inside the py_function, the error carried the Python traceback, and TF
        # sometimes logged it from its reader thread when the other shard in flight failed too.
        with tf.control_dependencies([tf.debugging.Assert(tf.equal(refused, ""), [REFUSED, refused])]):
            return tf.identity(records)

    ds = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    ds = ds.map(decrypt_op, num_parallel_calls=2, deterministic=True).unbatch()
    return ds.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def plain_dataset(paths: list[Path], batch_size: int = 1024) -> tf.data.Dataset:
    # Sequential reads: with the files in the page cache, parallel reads only add interleaving overhead (2x the CPU here).
    ds = tf.data.TFRecordDataset([str(p) for p in paths])
    return ds.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def read_all(ds: tf.data.Dataset) -> dict[str, np.ndarray]:
    """Every batch, concatenated; a refused shard becomes a DataError with its one sentence."""
    batches = []
    try:
        for batch in ds:
            batches.append({k: v.numpy() for k, v in batch.items()})
    except tf.errors.OpError as err:
        found = re.search(REFUSED + r"\] \[(shard [^\]]*)\]", err.message)
        if found:
            raise tfcook.DataError(found[1].strip()) from None
        raise
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def read_throughput(make_ds, repeats: int) -> dict:
    """Examples per second of wall time and per CPU-second (all threads), best of `repeats` fresh full passes.

    The CPU rate is what a shared machine measures fairly; the wall rate is what a training job sees.
    """
    wall, cpu, count = 0.0, 0.0, 0
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        count = sum(int(b["label"].shape[0]) for b in make_ds())
        wall = max(wall, count / (time.perf_counter() - start))
        cpu = max(cpu, count / max(time.process_time() - start_cpu, 1e-9))
    return {"examples": count, "per_s": wall, "per_cpu_s": cpu}


"""## The Laplace mechanism and a budget

A statistic f released as f(D) + Laplace(0, b) with b = sensitivity /
epsilon is epsilon-differentially private, where the sensitivity is the most one person's
record can change f. The label histogram: adding or removing one image changes one count by 1,
so the L1 sensitivity is 1 (the ten counts cost one epsilon together: parallel composition).
The mean ink (mean pixel value, each image's clipped to [0, 1]) with n public, neighbours
differing by one replaced image: sensitivity 1/n. A `PrivacyBudget` adds up the epsilons spent
(sequential composition) and refuses a query that would exceed the total. The audit draws
`audit_releases` releases of each statistic and checks the maximum-likelihood scale of the noise,
mean |release - true value|, against b. Not for production as is: floating-point Laplace noise
leaks through the low bits (Mironov 2012; use a snapping or discrete mechanism) and NumPy's
generator is not a cryptographic one; Google's differential-privacy libraries handle both.
"""


class BudgetExhausted(tfcook.UserError):
    """A query that would spend more epsilon than the budget has left."""


class PrivacyBudget:
    """Sequential composition: the epsilons of the releases add up, and the total is capped."""

    def __init__(self, epsilon: float):
        self.total, self.spent, self.ledger = epsilon, 0.0, []

    def spend(self, epsilon: float, query: str) -> None:
        if epsilon <= 0:
            raise ValueError(f"query {query!r}: epsilon must be positive, got {epsilon}")
        if self.spent + epsilon > self.total * (1 + 1e-9):
            raise BudgetExhausted(
                f"query {query!r} needs epsilon {epsilon:g} but only {self.total - self.spent:g} of the budget {self.total:g} is left"
            )
        self.spent += epsilon
        self.ledger.append({"query": query, "epsilon": epsilon, "spent": round(self.spent, 12)})


def laplace_noise(sensitivity: float, epsilon: float, rng: np.random.Generator, size=None) -> np.ndarray:
    """Laplace(0, b) noise with b = sensitivity / epsilon: what makes a release epsilon-DP."""
    return rng.laplace(0.0, sensitivity / epsilon, size)


def release(value, sensitivity: float, epsilon: float, budget: PrivacyBudget, query: str, rng: np.random.Generator):
    """value + Laplace noise, after charging `epsilon` to the budget (refused, and nothing released, if it can't pay)."""
    budget.spend(epsilon, query)
    return np.asarray(value, np.float64) + laplace_noise(sensitivity, epsilon, rng, np.shape(value))


def label_histogram(labels: np.ndarray) -> np.ndarray:
    """Counts per digit. One image added or removed changes one count by 1: L1 sensitivity 1."""
    return np.bincount(labels, minlength=10).astype(np.float64)


def mean_ink(images: np.ndarray) -> float:
    """Mean pixel value in [0, 1]. With n public and one image replaced, it moves by at most 1/n."""
    per_image = np.clip(images.reshape(len(images), -1).mean(axis=1) / 255.0, 0.0, 1.0)
    return float(per_image.mean())


def audit_noise_scale(sensitivity: float, epsilon: float, releases: int, rng: np.random.Generator) -> dict:
    """Draw many releases (a test of the mechanism, not a release: nothing leaves) and estimate b."""
    noise = laplace_noise(sensitivity, epsilon, rng, releases)
    expected = sensitivity / epsilon
    measured = float(np.mean(np.abs(noise)))  # the maximum-likelihood estimate of b
    return {"expected_scale": expected, "measured_scale": measured, "relative_error": abs(measured / expected - 1), "noise": noise}


def plot_noise(audits: dict[str, dict], path: Path) -> str:
    series = {}
    for name, audit in audits.items():
        b = audit["expected_scale"]
        edges = np.linspace(-6, 6, 61)
        density, _ = np.histogram(audit["noise"] / b, bins=edges, density=True)
        centres = (edges[:-1] + edges[1:]) / 2
        series[f"{name}: noise / b, measured"] = (centres, density)
    series["Laplace(0, 1) density"] = (centres, 0.5 * np.exp(-np.abs(centres)))
    return tfcook.plot.curves(series, path, xlabel="noise / (sensitivity / epsilon)", ylabel="density", title="Laplace mechanism: released - true", logy=True)


"""## The run

`run(config)` writes the encrypted shards (or, with `read_dir`, verifies shards written earlier),
reads them back bit for bit, joins by pseudonym, times the read against plain shards, and audits
the Laplace releases.
"""


def load_mnist(examples: int) -> tuple[np.ndarray, np.ndarray]:
    """The training images as uint8 [N, 28, 28, 1] and their labels, exactly as stored."""
    split = f"train[:{examples}]" if examples else "train"
    images, labels = tfds.as_numpy(tfcook.data.load("mnist", split, batch_size=-1))
    return images, labels


def verify_shards(config: Config) -> dict:
    """--read_dir: decrypt every shard through tf.data; any refusal is a DataError (exit 2)."""
    key = load_key(config.key_file)
    if key is None:
        raise tfcook.DataError(f"--read_dir needs the key the shards were written with: --key_file or ${KEY_ENV}")
    paths = find_shards(Path(config.read_dir))
    data = read_all(encrypted_dataset(paths, derive_key(key, "encryption")))
    return {"shards_verified": len(paths), "examples": int(len(data["label"])), "label_counts": np.bincount(data["label"], minlength=10).tolist()}


def run(config: Config) -> dict:
    # Nothing is seeded: the only randomness is the key, the nonces and the DP noise, and none of them may be predictable.
    if config.read_dir:
        return verify_shards(config)
    out = tfcook.out_dir()
    key, key_source = load_key(config.key_file), config.key_file or f"${KEY_ENV}"
    if key is None:
        key, key_source = save_new_key(out / "data.key"), str(out / "data.key")
    enc_key, id_key = derive_key(key, "encryption"), derive_key(key, "pseudonyms")

    images, labels = load_mnist(config.examples)
    raw_ids = [f"mnist-train-{i:05d}" for i in range(len(labels))]
    pseudonyms = pseudonymize(raw_ids, id_key)
    records = serialize(images, labels, pseudonyms)
    paths = write_shards(records, out / "shards", enc_key, config.shards, plain_folder=out / "plain")
    plain_paths = sorted((out / "plain").glob("*.tfrecord"))

    # Round trip: what tf.data decrypts is what was written, bit for bit and in order.
    decrypted = read_all(encrypted_dataset(paths, enc_key))
    round_trip = bool(
        np.array_equal(decrypted["image"], images) and np.array_equal(decrypted["label"], labels) and list(decrypted["id"]) == pseudonyms
    )
    plain_rate = read_throughput(lambda: plain_dataset(plain_paths), config.read_repeats)
    enc_rate = read_throughput(lambda: encrypted_dataset(paths, enc_key), config.read_repeats)
    if plain_rate["examples"] != enc_rate["examples"]:
        raise RuntimeError(f"the plain shards hold {plain_rate['examples']} examples but the encrypted ones {enc_rate['examples']}")
    shutil.rmtree(out / "plain")  # the peer's plaintext copy: not kept beside the encrypted shards

    # Pseudonyms: a second table keyed by raw IDs joins through them; another key links nothing; no raw ID is stored.
    rng = np.random.default_rng()  # OS entropy: DP noise must not be reproducible from a known seed
    rows = rng.choice(len(raw_ids), size=min(config.join_rows, len(raw_ids)), replace=False)
    table_labels = labels[rows]
    joined = join_by_pseudonym(tf.constant(decrypted["id"]), pseudonymize([raw_ids[i] for i in rows], id_key), table_labels).numpy()
    other_key = join_by_pseudonym(tf.constant(decrypted["id"]), pseudonymize([raw_ids[i] for i in rows], os.urandom(32)), table_labels).numpy()
    raw_ids_written = b"".join(records).count(b"mnist-train-")  # in the plaintext that was encrypted

    # Released statistics under one budget; the third query is refused.
    n = len(labels)
    budget = PrivacyBudget(config.epsilon_budget)
    noisy_hist = release(label_histogram(labels), 1.0, config.histogram_epsilon, budget, "label histogram", rng)
    noisy_mean = release(mean_ink(images), 1.0 / n, config.mean_epsilon, budget, "mean ink", rng)
    refused = ""
    try:
        release(label_histogram(labels), 1.0, config.histogram_epsilon, budget, "label histogram, again", rng)
    except BudgetExhausted as err:
        refused = str(err)
    audits = {
        "count": audit_noise_scale(1.0, config.histogram_epsilon, config.audit_releases, rng),
        "mean": audit_noise_scale(1.0 / n, config.mean_epsilon, config.audit_releases, rng),
    }
    png = plot_noise(audits, out / "laplace_noise.png")

    return {
        "examples": n,
        "shards": len(paths),
        "round_trip_identical": round_trip,
        "encrypted_mb": round(sum(p.stat().st_size for p in paths) / 2**20, 2),
        "plain_examples_per_s": round(plain_rate["per_s"]),
        "encrypted_examples_per_s": round(enc_rate["per_s"]),
        "throughput_ratio": round(enc_rate["per_s"] / plain_rate["per_s"], 3),  # encrypted / plain, wall time
        "plain_examples_per_cpu_s": round(plain_rate["per_cpu_s"]),
        "encrypted_examples_per_cpu_s": round(enc_rate["per_cpu_s"]),
        "cpu_throughput_ratio": round(enc_rate["per_cpu_s"] / plain_rate["per_cpu_s"], 3),  # encrypted / plain, CPU time
        "key_source": key_source,
        "shard_dir": str(out / "shards"),
        "join_matched": int((joined >= 0).sum()),
        # the joined rows are exactly the table's, and each brings the label its image has
        "join_correct": bool(np.array_equal(np.flatnonzero(joined >= 0), np.sort(rows))
                             and np.array_equal(joined[joined >= 0], decrypted["label"][joined >= 0])),
        "join_matched_other_key": int((other_key >= 0).sum()),
        "raw_ids_written": raw_ids_written,
        "true_histogram": label_histogram(labels).astype(int).tolist(),
        "released_histogram": np.round(noisy_hist, 1).tolist(),
        "true_mean_ink": round(mean_ink(images), 6),
        "released_mean_ink": round(float(noisy_mean), 6),
        "epsilon_spent": budget.spent,
        "refused_query": refused,
        "noise_audit": [{"statistic": name, **{k: v for k, v in a.items() if k != "noise"}, "releases": config.audit_releases} for name, a in audits.items()],
        "budget_ledger": budget.ledger,
        "noise_png": png,
    }


"""## Notes

The throughput peer is the same records as plain TFRecord shards read by `TFRecordDataset` (the
plain copy is deleted after timing). Per 60,000 examples the encrypted path spends, in CPU time,
~30 ms reading files, ~85 ms in AES-GCM (600 MB/s), ~40 ms splitting records in Python, and the
py_function hand-over and `unbatch`: 7 us per example against 4.5 us for plain shards, so 0.6-0.7x
the throughput per CPU-second. In wall time the gap is wider (0.3-0.5x on this loaded machine),
since the Python part holds the GIL and two decryptions can't overlap it. For a training job that
reads MNIST-sized examples at >100 k/s either way, the input pipeline is still not the bottleneck.

Earlier measurements (before the reference records; each on the machine it names, and "CPU, 2 cores" alone
meaning that session's CI machine, an AMD EPYC Zen 3 or an Intel Xeon): CPU, 2 cores, under load: 60,000
images in 8 shards (50.5 MB), round trip bit-identical; wrong key and a flipped bit refused, exit 2; read
throughput encrypted/plain 0.60-0.72 in CPU time (134-138 k vs 193-221 k examples per CPU-second), 0.32-0.53
in wall time; Laplace noise scale within 0.8 % of sensitivity/epsilon (2 runs)
"""


def main(argv: list[str] | None = None) -> int:
    """Run from the command line with the same flags as `tfcook run data_privacy`."""
    return tfcook.run_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
