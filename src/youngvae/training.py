"""Training the VAE with per-epoch, atomic, resumable checkpoints.

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

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from youngvae.model import VAE, build_vae

import keras  # noqa: E402  (youngvae.model sets KERAS_BACKEND first)

__all__ = ["TrainConfig", "split_indices", "train_vae", "CHECKPOINT_NAME", "HISTORY_COLUMNS"]

CHECKPOINT_NAME = "checkpoint.npz"
HISTORY_COLUMNS = ["epoch", "loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"]
_CHECKPOINT_FORMAT = 1
_OPTIMIZERS = ("rmsprop", "adam", "sgd")
_PRECISIONS = ("mixed_bfloat16", "float32")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. Defaults: rmsprop (Adam collapsed the posterior at small scale, see
    STACK.md), bfloat16 mixed precision (≈1.8× faster on CPUs with AVX512_BF16)."""

    epochs: int = 10
    batch_size: int = 32
    latent_dim: int = 1
    beta: float = 1.0
    optimizer: str = "rmsprop"
    learning_rate: float = 1e-3
    precision: str = "mixed_bfloat16"
    seed: int = 0
    #: Linear learning-rate warm-up from learning_rate/100 over this many steps (0: none).
    warmup_steps: int = 0

    def __post_init__(self):
        if not _is_int(self.warmup_steps) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")
        for name in ("epochs", "batch_size", "latent_dim"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**31:
            raise ValueError(f"seed must be an integer in [0, 2**31), got {self.seed!r}")
        for name in ("beta", "learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
        if self.precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {self.precision!r}")

    @classmethod
    def from_dict(cls, d: Mapping) -> "TrainConfig":
        """Build from a mapping (e.g. the config's ``train`` section); unknown keys raise."""
        if not isinstance(d, Mapping):
            raise ValueError(f"expected a mapping of TrainConfig fields, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown TrainConfig key(s): {', '.join(map(repr, unknown))}; "
                f"known keys: {', '.join(sorted(known))}"
            )
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def split_indices(n_samples: int, n_train: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint train/validation sample indices drawn from one seeded permutation.

    ``numpy.random.default_rng(seed).permutation(n_samples)``: the first n_train entries are the
    training set, the next n_val the validation set. Each is returned SORTED ascending (int64),
    which keeps reads from a chunked store in order; training shuffles per epoch anyway.
    """
    for name, value in (("n_samples", n_samples), ("n_train", n_train), ("n_val", n_val), ("seed", seed)):
        if not _is_int(value) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if n_train < 1:
        raise ValueError(f"n_train must be >= 1, got {n_train}")
    if n_train + n_val > n_samples:
        raise ValueError(f"n_train + n_val = {n_train + n_val} exceeds n_samples = {n_samples}")
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[:n_train]), np.sort(order[n_train : n_train + n_val])


def _check_images(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{name} must be [n, H, W], got shape {x.shape}")
    n, h, w = x.shape
    if n < 1:
        raise ValueError(f"{name} is empty")
    if h != w or h % 2:
        raise ValueError(f"{name} images must be square with an even side, got {h}x{w}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1], got [{x.min()}, {x.max()}]")
    return x


def _fingerprint(cfg: TrainConfig, x_train: np.ndarray, x_val: np.ndarray) -> dict:
    digest = hashlib.blake2b(digest_size=16)
    for x in (x_train, x_val):
        digest.update(repr(x.shape).encode())
        digest.update(memoryview(x).cast("B"))
    return {
        "format": _CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "x_train_shape": list(x_train.shape),
        "x_val_shape": list(x_val.shape),
        "data_blake2b": digest.hexdigest(),
    }


def learning_rate_schedule(cfg: TrainConfig):
    """cfg.learning_rate, or with cfg.warmup_steps a linear warm-up from 1/100 of it, then flat.

    Per-parameter optimizers move every weight by ~lr (rmsprop: ~3 lr) on their first steps;
    over the encoder Dense's 1 M inputs at 256² that coherent jump blew the latent up
    (KL ~1e18) in the first epoch at lr 1e-3 without warm-up.
    """
    if not cfg.warmup_steps:
        return cfg.learning_rate
    return keras.optimizers.schedules.CosineDecay(  # alpha=1: no decay after the warm-up
        initial_learning_rate=cfg.learning_rate / 100,
        decay_steps=1,
        alpha=1.0,
        warmup_target=cfg.learning_rate,
        warmup_steps=cfg.warmup_steps,
    )


def _make_optimizer(cfg: TrainConfig):
    classes = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    return classes[cfg.optimizer](learning_rate=learning_rate_schedule(cfg))


def _seed_state(*entropy: int) -> np.ndarray:
    """A Keras SeedGenerator state [seed, counter] derived from the given integers."""
    return np.array([np.random.SeedSequence(list(entropy)).generate_state(1)[0] >> 1, 0], dtype="int64")


def _checkpoint_arrays(vae: VAE, meta: dict) -> dict:
    """Copies (not views of TensorFlow buffers) of the weights and optimizer variables."""
    arrays = {"meta": np.array(json.dumps(meta))}
    arrays.update({f"w{i:04d}": np.array(a, copy=True) for i, a in enumerate(vae.get_weights())})
    arrays.update({f"o{i:04d}": np.array(v.numpy(), copy=True) for i, v in enumerate(vae.optimizer.variables)})
    return arrays


def _write_checkpoint(path: str, vae: VAE, meta: dict) -> None:
    _write_arrays(path, _checkpoint_arrays(vae, meta))


class _BackgroundWriter:
    """Writes one checkpoint in a thread (np.savez + fsync + rename: I/O, little CPU) while the
    next epoch trains; ``join`` waits for it and re-raises its error. ``on_done(seconds)`` runs
    in the thread once the file is durably in place."""

    def __init__(self, path: str, arrays: dict, on_done: Callable[[float], object]):
        import threading

        self.error: BaseException | None = None

        def run():
            try:
                t = time.perf_counter()
                _write_arrays(path, arrays)
                on_done(time.perf_counter() - t)
            except BaseException as exc:  # surfaced by join()
                self.error = exc

        self.thread = threading.Thread(target=run, name="youngvae-checkpoint", daemon=False)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _write_arrays(path: str, arrays: dict) -> None:
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


def _read_checkpoint(path: str, vae: VAE, fingerprint: dict, log) -> dict | None:
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


class _Trainer:
    """The model, its optimizer and the compiled train/validation steps of :func:`train_vae`.

    Speed (measured in ``youngvae.bench``): the data go to TensorFlow ONCE per run as float32
    NHWC tensors and each batch is gathered inside the compiled step (no per-step numpy
    slicing, copying and conversion, no per-``fit`` data adapter); one traced step function is
    reused for every epoch; the optimizer update runs as one XLA-fused kernel. The math is that
    of ``VAE.train_step``/``test_step``.
    ``jit_compile`` (XLA) is available but off: on this CPU it made a bfloat16 step about 3.5×
    slower (XLA's CPU convolutions do not use oneDNN).
    """

    def __init__(self, image_size: int, cfg: TrainConfig, jit_compile: bool = False):
        import tensorflow as tf

        self.cfg = cfg
        keras.utils.set_random_seed(cfg.seed)
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(cfg.precision)
        try:
            self.vae = build_vae(image_size, cfg.latent_dim, beta=cfg.beta, seed=cfg.seed)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        self.vae.compile(optimizer=_make_optimizer(cfg), jit_compile=jit_compile)
        self.vae.optimizer.build(self.vae.trainable_variables)
        vae = self.vae
        weights = vae.trainable_weights

        # The RMSprop update of 36 M float32 weights is a chain of element-wise passes over
        # ~140 MB arrays; XLA fuses them into one (measured: 92 -> 30-50 ms per step here).
        # XLA for the whole step is slower on CPU (see above), so only the update is compiled.
        apply_gradients = tf.function(
            lambda grads: vae.optimizer.apply_gradients(zip(grads, weights)), jit_compile=True
        )

        def train_step(data, idx):  # = VAE.train_step, with the update compiled by XLA
            with tf.GradientTape() as tape:
                losses = vae.compute_losses(tf.gather(data, idx), training=True)
            apply_gradients(tape.gradient(losses[0], weights))
            vae._update_trackers(*losses)

        def test_step(data, idx):
            vae.test_step(tf.gather(data, idx))

        self._train_step = tf.function(train_step, jit_compile=jit_compile, reduce_retracing=True)
        self._test_step = tf.function(test_step, jit_compile=jit_compile, reduce_retracing=True)

    @staticmethod
    def to_device(x: np.ndarray):
        import tensorflow as tf

        return tf.constant(np.asarray(x, dtype=np.float32)[..., None])

    def _results(self) -> dict:
        return {m.name: float(m.result()) for m in self.vae.metrics}

    def train_batches(self, data, order) -> dict:
        """One pass over ``data[order]`` in batches of cfg.batch_size (the last may be short);
        returns the epoch means of loss, reconstruction and kl."""
        return self._run_batches(self._train_step, data, order)

    def evaluate(self, data, order) -> dict:
        return self._run_batches(self._test_step, data, order)

    def _run_batches(self, step, data, order) -> dict:
        import tensorflow as tf

        for metric in self.vae.metrics:
            metric.reset_state()
        order = np.asarray(order, dtype=np.int32)
        bs = self.cfg.batch_size
        for start in range(0, len(order), bs):
            step(data, tf.constant(order[start : start + bs]))
        return self._results()


def train_vae(
    x_train,
    x_val,
    cfg: TrainConfig,
    checkpoint_dir,
    log: Callable[[str], object] = print,
) -> tuple[VAE, pd.DataFrame]:
    """Train the paper's VAE on images [n, H, W] in [0, 1]; resume from ``checkpoint_dir``.

    Images must be square with an even side, finite and within [0, 1] (BCE targets); sets the
    Keras global seeds; the mixed-precision policy is applied while building the model only
    (the global policy is restored afterwards). Each epoch runs the compiled train step
    (``VAE.train_step``) over a seeded permutation of x_train, then the test step over x_val.

    Returns the trained (compiled) VAE and the history, one row per epoch with columns
    ``HISTORY_COLUMNS``. ``log`` receives one line per epoch (written after that epoch's
    checkpoint) plus a line when a checkpoint is resumed or rejected.
    """
    if not isinstance(cfg, TrainConfig):
        raise ValueError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    x_train = _check_images(x_train, "x_train")
    x_val = _check_images(x_val, "x_val")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ValueError(f"x_train images {x_train.shape[1:]} and x_val images {x_val.shape[1:]} differ in size")
    if cfg.batch_size > len(x_train):
        raise ValueError(f"batch_size {cfg.batch_size} exceeds the number of training samples {len(x_train)}")
    image_size = x_train.shape[1]
    checkpoint_dir = os.fspath(checkpoint_dir)
    os.makedirs(checkpoint_dir, exist_ok=True)
    checkpoint_path = os.path.join(checkpoint_dir, CHECKPOINT_NAME)
    for name in os.listdir(checkpoint_dir):  # temp files of a run killed mid-write
        if name.startswith(f".{CHECKPOINT_NAME}.") and name.endswith(".tmp"):
            os.remove(os.path.join(checkpoint_dir, name))

    trainer = _Trainer(image_size, cfg)
    vae = trainer.vae

    fingerprint = _fingerprint(cfg, x_train, x_val)
    meta = _read_checkpoint(checkpoint_path, vae, fingerprint, log)
    rows = list(meta["history"]) if meta else []
    first_epoch = meta["epoch"] + 1 if meta else 1
    if meta:
        log(f"resumed from {checkpoint_path}: {meta['epoch']}/{cfg.epochs} epochs done, "
            f"continuing at epoch {first_epoch}")

    seed_state = vae.sampling.seed_generator.state
    train_data = val_data = None
    writer = None
    for epoch in range(first_epoch, cfg.epochs + 1):
        if train_data is None:  # once: the data as tensors (float32 NHWC), batches gathered in-graph
            train_data, val_data = trainer.to_device(x_train), trainer.to_device(x_val)
        start = time.perf_counter()
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(x_train))
        seed_state.assign(_seed_state(cfg.seed, epoch))
        fit = trainer.train_batches(train_data, order)
        seed_state.assign(_seed_state(cfg.seed, epoch, 1))
        val = trainer.evaluate(val_data, np.arange(len(x_val)))
        seconds = time.perf_counter() - start
        row = {
            "epoch": epoch,
            **{k: float(fit[k]) for k in ("loss", "reconstruction", "kl")},
            **{f"val_{k}": float(val[k]) for k in ("loss", "reconstruction", "kl")},
        }
        rows.append(row)
        t0 = time.perf_counter()
        arrays = _checkpoint_arrays(vae, {"epoch": epoch, "history": list(rows), "fingerprint": fingerprint})
        line = (
            f"epoch {epoch}/{cfg.epochs}: loss {row['loss']:.4f} (reconstruction {row['reconstruction']:.4f}, "
            f"kl {row['kl']:.4f}), val_loss {row['val_loss']:.4f} (reconstruction "
            f"{row['val_reconstruction']:.4f}, kl {row['val_kl']:.4f}), {seconds:.1f} s "
            f"+ checkpoint snapshot {time.perf_counter() - t0:.1f} s"
        )
        if writer is not None:
            writer.join()  # checkpoints land (and are logged) in epoch order
        # The epoch's line is logged once its checkpoint is on disk (a kill after the line
        # resumes after this epoch); the write overlaps the next epoch's training.
        writer = _BackgroundWriter(
            checkpoint_path, arrays, lambda s, line=line: log(f"{line}, written in {s:.1f} s (background)")
        )
        del arrays
    if writer is not None:
        writer.join()
    if first_epoch > cfg.epochs and meta:
        log(f"all {cfg.epochs} epochs were already done; nothing to train")
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    history = history.astype({"epoch": "int64"})
    return vae, history
