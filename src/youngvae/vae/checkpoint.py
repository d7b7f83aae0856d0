"""Per-epoch, atomic, resumable training checkpoints (used by :func:`youngvae.vae.training.train_vae`).

Resume design
-------------
* Every finished epoch writes ONE file, ``<checkpoint_dir>/checkpoint.npz``: model weights
  (``vae.get_weights()``, including β), every optimizer variable (iteration counter, learning
  rate, slots), the history so far, the epoch counter and a fingerprint (the full TrainConfig,
  the data shapes and a BLAKE2 digest of x_train and x_val). It is written to a temp file in the
  same directory, fsync'ed, then ``os.replace``'d into place, so a kill at any moment leaves
  either the previous or the new checkpoint, never a torn one (leftover temp files are deleted
  on the next start). We do not use Keras' BackupAndRestore: it lost optimizer state after a
  full restart (keras#19389).
* ``train_vae`` called again with the same ``checkpoint_dir``, the same cfg and the same data
  rebuilds the model, loads weights and optimizer state and continues at the next epoch. The
  history returned holds all epochs (the first ones read from the checkpoint) and the log says
  "resumed". If every epoch is already done it trains nothing and returns the stored model.
* A checkpoint whose fingerprint differs (another cfg, other data) or that cannot be read is
  NOT reused: the log says why and training starts over from epoch 1 (the stale file is
  replaced by the first new checkpoint). Nothing is silently reused.
* Exact resume: randomness is seeded per epoch, not carried from process state. Epoch e
  shuffles with ``numpy.random.default_rng([seed, e])`` and resets the Sampling layer's seed
  generator to a value derived from (seed, e) before training and (seed, e, 1) before
  validation. Initial weights come from ``keras.utils.set_random_seed(seed)``. A resumed run
  therefore reproduces the uninterrupted run's weights (bit-for-bit on the same machine and
  thread count, as tested here).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Callable

import numpy as np

CHECKPOINT_NAME = "checkpoint.npz"
FORMAT = 1


def remove_stale_temp_files(checkpoint_dir: str) -> None:
    """Delete the temp files of a run killed mid-write."""
    for name in os.listdir(checkpoint_dir):
        if name.startswith(f".{CHECKPOINT_NAME}.") and name.endswith(".tmp"):
            os.remove(os.path.join(checkpoint_dir, name))


def fingerprint(cfg, x_train: np.ndarray, x_val: np.ndarray) -> dict:
    digest = hashlib.blake2b(digest_size=16)
    for x in (x_train, x_val):
        digest.update(repr(x.shape).encode())
        digest.update(memoryview(x).cast("B"))
    return {
        "format": FORMAT,
        "config": cfg.to_dict(),  # a TrainConfig
        "x_train_shape": list(x_train.shape),
        "x_val_shape": list(x_val.shape),
        "data_blake2b": digest.hexdigest(),
    }


def snapshot_arrays(vae, meta: dict) -> dict:
    """Copies (not views of TensorFlow buffers) of the weights and optimizer variables."""
    arrays = {"meta": np.array(json.dumps(meta))}
    arrays.update({f"w{i:04d}": np.array(a, copy=True) for i, a in enumerate(vae.get_weights())})
    arrays.update({f"o{i:04d}": np.array(v.numpy(), copy=True) for i, v in enumerate(vae.optimizer.variables)})
    return arrays


def write_checkpoint(path: str, vae, meta: dict) -> None:
    write_arrays(path, snapshot_arrays(vae, meta))


class BackgroundWriter:
    """Writes one checkpoint in a thread (np.savez + fsync + rename: I/O, little CPU) while the
    next epoch trains; ``join`` waits for it and re-raises its error. ``on_done(seconds)`` runs
    in the thread once the file is durably in place."""

    def __init__(self, path: str, arrays: dict, on_done: Callable[[float], object]):
        import threading

        self.error: BaseException | None = None

        def run():
            try:
                t = time.perf_counter()
                write_arrays(path, arrays)
                on_done(time.perf_counter() - t)
            except BaseException as exc:  # surfaced by join()
                self.error = exc

        self.thread = threading.Thread(target=run, name="youngvae-checkpoint", daemon=False)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def write_arrays(path: str, arrays: dict) -> None:
    """Atomic: temp file in the same directory, fsync, rename, fsync the directory."""
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    try:  # make the rename itself durable
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def read_checkpoint(path: str, vae, fingerprint: dict, log) -> dict | None:
    """Load a matching checkpoint into ``vae`` (weights + optimizer); return its meta or None."""
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            weights = [data[k] for k in sorted(k for k in data.files if k.startswith("w"))]
            opt_values = [data[k] for k in sorted(k for k in data.files if k.startswith("o"))]
    except Exception as exc:  # unreadable: do not reuse
        log(f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc}); starting over")
        return None
    if meta.get("fingerprint") != fingerprint:
        old = meta.get("fingerprint") or {}
        differs = sorted(
            [k for k in fingerprint["config"] if (old.get("config") or {}).get(k) != fingerprint["config"][k]]
            + [k for k in fingerprint if k != "config" and old.get(k) != fingerprint[k]]
        )
        log(f"checkpoint {path} is for a different config/data (differs in: {', '.join(differs)}); "
            "not reusing it, starting over")
        return None
    opt_vars = vae.optimizer.variables
    shapes_ok = len(weights) == len(vae.weights) and len(opt_values) == len(opt_vars)
    shapes_ok = shapes_ok and all(tuple(a.shape) == tuple(v.shape) for a, v in zip(weights, vae.weights))
    shapes_ok = shapes_ok and all(tuple(a.shape) == tuple(v.shape) for a, v in zip(opt_values, opt_vars))
    if not shapes_ok:
        log(f"checkpoint {path} does not fit this model's variables; starting over")
        return None
    vae.set_weights(weights)
    for variable, value in zip(opt_vars, opt_values):
        variable.assign(value)
    return meta
