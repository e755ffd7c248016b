"""Training that survives a lost runtime: the state that decides a run's result, saved into its
folder after every epoch (or stage), and picked up by the same command.

    tfcook run cnn --out DIR      # killed in epoch 3 (a Colab disconnect, Ctrl-C, SIGKILL)
    tfcook run cnn --out DIR      # "resuming cnn in DIR: 2 of 5 epochs done"

A recipe asks for what it needs:

- `fit(model, data, epochs=..., ...)`: `model.fit` that starts at the last finished epoch, with the
  weights, optimizer slots and step counter (so the learning-rate schedule's position), random
  seed states (dropout, augmentation layers) and the input pipeline's shuffle order of an
  uninterrupted run, and the whole history;
- `stage(name, work)`: a stage of a multi-stage run (pretraining, one setting of a sweep) runs once;
  its JSON result is kept, and a finished stage is not run again;
- `save(name, variables, **state)` / `load(name, variables)`: the same for a custom loop, and
  `remember(name, value)` / `recall(name)` for what it must know even when killed between two.

Every file is written under a temporary name, flushed to disk and renamed into place, so a kill
mid-write leaves the previous file whole; each checkpoint's SHA-256 is kept beside it, and one that
doesn't match (cut off by a lost disk) is set aside for the one before it. Outside the runner (a
notebook, `run()` called directly) the same calls save into `tfcook.out_dir()`, but read nothing
back unless a run claimed that folder (the runner, or `run_in`): `run()` called twice in one
session trains twice, rather than the second call continuing the first's checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

FOLDER = "checkpoints"
RUN_FILE = "run.json"  # which recipe and settings a folder's run has: written when it starts
PROGRESS = "progress.json"  # when each epoch or stage was saved (what a test kills between)


def _claimed() -> bool:
    """Whether the current run folder was taken for a run (and so may hold one to resume)."""
    from tfcook.results import out_dir

    return (out_dir() / RUN_FILE).exists()


def folder() -> Path:
    from tfcook.results import out_dir

    path = out_dir() / FOLDER
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """`data` at `path`, never half-written: a temporary file beside it, synced, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the run folder ------------------------------------------------------------------------


def claim(out: Path, recipe: str, settings: dict[str, Any]) -> bool:
    """Take `out` for a run of `recipe` with `settings` (its config and backend); True when it
    resumes an unfinished run there. A finished run, or an unfinished one of another recipe or
    other settings, is never written over: ConfigError, in one sentence."""
    from tfcook.errors import ConfigError

    if (out / "result.json").exists():
        raise ConfigError(f"{out} holds a finished run (result.json), which a new run would "
                          "overwrite: give another --out, or delete that folder to run again")
    record = out / RUN_FILE
    if not record.exists():
        text = json.dumps({"recipe": recipe, "settings": settings}, indent=1)
        write_atomically(record, text.encode())
        return False
    before = json.loads(record.read_text())
    if before["recipe"] != recipe:
        raise ConfigError(f"{out} holds an unfinished run of {before['recipe']}, not {recipe}: "
                          "give another --out")
    old, new = before["settings"], json.loads(json.dumps(settings))
    differ = [f"{k}={old.get(k)!r} there, {new.get(k)!r} now"
              for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
    if differ:
        raise ConfigError(f"{out} holds an unfinished {recipe} run with other settings "
                          f"({'; '.join(differ)}): give the same settings to resume it, "
                          "or another --out")
    return True


def run_in(root: Path | str, recipe: str, run: Callable[[Any], dict], config: Any) -> dict:
    """`run(config)` in a folder of `root` named for the recipe and its settings, the notebooks' way
    of running: the same cells again after a lost runtime resume the run; once it has finished,
    they show its result instead of training again. Returns the metrics."""
    import dataclasses

    from tfcook.devices import backend
    from tfcook.results import use, write

    settings = {**dataclasses.asdict(config), "backend": backend()}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    out = use(Path(root) / f"{recipe}-{key}")
    if (out / "result.json").exists():
        print(f"Finished before, in {out.resolve()}: its result (delete the folder to train again)")
        return json.loads((out / "result.json").read_text())["metrics"]
    resumed = claim(out, recipe, settings)
    doing = "Resuming the unfinished run in" if resumed else "Files:"
    print(f"{doing} {out.resolve()}", flush=True)
    metrics = run(config)
    write(out / "result.json", {"recipe": recipe, "metrics": metrics, "config": settings})
    return metrics


# --- checkpoints of variables ---------------------------------------------------------------


def save(name: str, variables: list, **state: Any) -> None:
    """Keep `variables` (Keras or TF variables, in a fixed order) and the JSON-ready `state` as
    checkpoint `name`; the previous one stays as a fallback until this one is whole."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in variables])
    data = buffer.getvalue()
    target = folder() / f"{name}.npz"
    if target.exists():
        os.replace(target, folder() / f"{name}.previous.npz")
        meta = folder() / f"{name}.json"
        if meta.exists():
            os.replace(meta, folder() / f"{name}.previous.json")
    write_atomically(target, data)
    record = {"sha256": _digest(data), "count": len(variables), "state": state}
    write_atomically(folder() / f"{name}.json", json.dumps(record).encode())
    _saved(name)


def load(name: str, variables: list) -> dict[str, Any] | None:
    """Restore checkpoint `name` into `variables` and return its state, or None when there is none.
    A checkpoint whose bytes don't match its recorded SHA-256 is skipped for the previous one."""
    import io

    import numpy as np

    if not _claimed():
        return None
    for stem in (name, f"{name}.previous"):
        data_path, meta_path = folder() / f"{stem}.npz", folder() / f"{stem}.json"
        if not (data_path.exists() and meta_path.exists()):
            continue
        data, record = data_path.read_bytes(), json.loads(meta_path.read_text())
        arrays = np.load(io.BytesIO(data)) if _digest(data) == record["sha256"] else None
        shapes = [tuple(v.shape) for v in variables]
        if arrays is None or [arrays[f"arr_{i}"].shape for i in range(record["count"])] != shapes:
            print(f"tfcook: checkpoint {data_path} is damaged or from another model; "
                  "using the one before it")
            continue
        for i, variable in enumerate(variables):
            variable.assign(arrays[f"arr_{i}"])
        return record["state"]
    return None


# --- stages ----------------------------------------------------------------------------------


def stage(name: str, work: Callable[[], Any]) -> Any:
    """The JSON-ready result of `work()`, run once: a resumed run reads it from the folder."""
    path = folder() / f"stage-{name}.json"
    if path.exists() and _claimed():
        return json.loads(path.read_text())["result"]
    result = work()
    write_atomically(path, json.dumps({"result": result}).encode())
    _saved(f"stage-{name}")
    return result


def remember(name: str, value: Any) -> None:
    """Keep a JSON-ready `value` in the run folder now (what a custom loop must know even if it is
    killed before its next checkpoint: DP-SGD's steps charged to the privacy budget, say)."""
    write_atomically(folder() / f"note-{name}.json", json.dumps(value).encode())


def recall(name: str, default: Any = None) -> Any:
    path = folder() / f"note-{name}.json"
    return json.loads(path.read_text()) if path.exists() and _claimed() else default


def _saved(what: str) -> None:
    """Note in progress.json that `what` was saved, and when."""
    import time

    path = folder() / PROGRESS
    saved = json.loads(path.read_text()) if path.exists() else []
    saved.append({"saved": what, "time": time.time()})
    write_atomically(path, json.dumps(saved).encode())


# --- Keras fit -------------------------------------------------------------------------------


def model_variables(model, also: tuple = ()) -> list:
    """Everything of a compiled Keras model that decides what training does next, in a fixed
    order: its variables (weights, and the seed states of dropout and random layers), those of its
    optimizers (step counts, slots; a GAN has two) and of the layers in `also` (a data augmenter)."""
    keras = _keras_of(model)
    optimizers = [v for _, v in sorted(vars(model).items())
                  if isinstance(v, keras.optimizers.Optimizer)]
    found = list(model.variables)
    for owner in [*optimizers, *also]:
        found += [v for v in owner.variables if all(v is not seen for seen in found)]
    return found


def fit(model, data, *, epochs: int, name: str = "fit", callbacks: list | None = None,
        also: tuple = (), **kwargs):
    """`model.fit(data, epochs=epochs, ...)` that saves after every epoch and, when the run folder
    holds this fit's checkpoint, starts after its last finished epoch with everything as it was.
    Returns the History of the whole run. `also`: layers outside the model whose state counts too
    (an augmenter in the input pipeline, whose seed moves with every batch).

    `data` is a tf.data pipeline that reshuffles itself: each iterator made of it draws the next
    shuffle order. Keras makes iterators as it sees fit (one ahead, say), so the draws are counted
    as they happen, and a resumed run draws as many before training: its next epoch gets the order
    an uninterrupted run's would have had. A tf_keras model (tfmot's) gets tf_keras's callbacks.
    """
    keras = _keras_of(model)
    _build_optimizer(model)
    counted, draws = _counting_draws(data)
    state = load(name, model_variables(model, also))
    done = state["epoch"] if state else 0
    history = state["history"] if state else {}
    if done:
        print(f"tfcook: resuming {name} after epoch {done} of {epochs}", flush=True)

    class EveryEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if state and epoch == done:
                # Keras may have drawn already (JAX's fit looks at a batch first): top up.
                replay()

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            save(name, model_variables(self.model, also), epoch=epoch + 1, history=history,
                 draws=int(draws.numpy()))

    def replay():
        """Draw the shuffle orders the lost run had drawn, then put back what those batches moved
        (the random state of maps in the pipeline: an augmenter)."""
        while int(draws.numpy()) < state["draws"]:
            drawn = iter(counted)
            next(drawn)
            del drawn  # stops its prefetching
        load(name, model_variables(model, also))

    if state and done >= epochs:
        replay()  # finished: a later fit on the same data must find the orders it found before
    if done < epochs:
        model.fit(counted, epochs=epochs, initial_epoch=done,
                  callbacks=[*(callbacks or []), EveryEpoch()], **kwargs)
    result = keras.callbacks.History()
    result.set_model(model)
    result.history, result.epoch = history, list(range(len(next(iter(history.values()), []))))
    return result


def _keras_of(model):
    """The Keras that made `model`: Keras 3, or tf_keras (Keras 2) for tfmot's models."""
    import importlib

    legacy = type(model).__module__.split(".")[0] == "tf_keras"
    return importlib.import_module("tf_keras" if legacy else "keras")


def _counting_draws(data):
    """`data` behind a counter of its iterators that read at least one element (each drew a shuffle
    order), and the counter. The length, when known, is kept (Keras reads it for its progress
    bar)."""
    import tensorflow as tf

    draws = tf.Variable(0, dtype=tf.int64, trainable=False)
    start = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
    counted = start.map(lambda _: draws.assign_add(1))
    counted = counted.flat_map(lambda _: data)
    if int(data.cardinality()) >= 0:
        counted = counted.apply(tf.data.experimental.assert_cardinality(data.cardinality()))
    return counted, draws


def _build_optimizer(model) -> None:
    """Create the optimizer's slots now (fit would, later), so a checkpoint can fill them."""
    optimizer = getattr(model, "optimizer", None)
    # Keras 3 says `built`; tf_keras's optimizer keeps it private as `_built`.
    built = getattr(optimizer, "built", getattr(optimizer, "_built", False))
    if optimizer is not None and not built:
        optimizer.build(model.trainable_variables)
