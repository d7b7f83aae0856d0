"""Training the VAE: its settings, the train/validation split and the epoch loop.

Every finished epoch writes an atomic checkpoint (:mod:`youngvae.vae.checkpoint`, which explains
the resume design); ``train_vae`` called again with the same checkpoint folder, settings and data
continues at the next epoch and reproduces the uninterrupted run. Randomness is seeded per epoch:
epoch e draws its patterns with ``numpy.random.default_rng([seed, e])`` (a permutation, or from
epoch 2 with ``sampling: loss`` draws that follow the last per-pattern losses, which the
checkpoint keeps; :mod:`youngvae.vae.batches`) and resets the Sampling layer's seed generator
from (seed, e) before training and (seed, e, 1) before validation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import keras  # noqa: E402  (youngvae.vae.model sets KERAS_BACKEND first)
import numpy as np
import pandas as pd

from youngvae.vae import batches, checkpoint
from youngvae.vae.gradients import accurate_bias_gradients
from youngvae.vae.model import OUTPUT_CONVS, VAE, build_vae

__all__ = ["TrainConfig", "Trainer", "train_vae", "HISTORY_COLUMNS"]

HISTORY_COLUMNS = ["epoch", "loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"]
_OPTIMIZERS = ("rmsprop", "adam", "sgd")
_PRECISIONS = ("mixed_bfloat16", "float32")
_LR_SCHEDULES = ("constant", "cosine")
_BIAS_GRADIENTS = ("tensorflow", "float32")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the defaults are the shipped recipe (config.yaml, docs/recipe.md):
    rmsprop (Adam collapsed the posterior at two scales), batch 16, a warm-up over the first
    10 % of the steps then a cosine decay, bfloat16 mixed precision (≈1.8× faster on CPUs with
    AVX512_BF16), loss sampling. Except the two blurs: σ is in pixels and must suit the image
    size, so here they default to 0 (the paper's VAE, what the benchmark times); config.yaml
    ships 2 px for both."""

    epochs: int = 10
    batch_size: int = 16
    latent_dim: int = 1
    beta: float = 1.0
    optimizer: str = "rmsprop"
    learning_rate: float = 1e-3
    precision: str = "mixed_bfloat16"
    seed: int = 0
    #: Linear learning-rate warm-up from learning_rate/100 over this fraction of all steps.
    warmup_fraction: float = 0.1
    #: After the warm-up: "constant" (hold learning_rate) or "cosine" (decay to 0 at the end).
    lr_schedule: str = "cosine"
    #: KL weight ramped linearly from 0 to beta over this fraction of all steps (0: beta throughout).
    kl_warmup_fraction: float = 0.0
    #: How 16-bit bias gradients are summed: "tensorflow" (its BiasAddGrad, which accumulates in
    #: bfloat16 on CPU and stalls: 512 for a true 262,144) or "float32" (accurate; gradients.py).
    #: The recipe was measured with "tensorflow"; "float32" did not train better (docs/recipe.md).
    bias_gradients: str = "tensorflow"
    #: Which patterns an epoch trains on: "loss" (from epoch 2, drawn in proportion to each one's
    #: last excess reconstruction loss; batches.py) or "uniform" (a permutation of all, the
    #: paper's way and the recipe before 2026-12-01).
    sampling: str = "loss"
    #: With sampling "loss": the share of the draw probability spread evenly over all patterns.
    sampling_floor: float = 0.5
    #: σ in pixels of a fixed Gaussian blur of the ENCODER's input (0: none, the paper's
    #: encoder); what the decoder reconstructs is target_blur_px's (model.GaussianBlur).
    encoder_blur_px: float = 0.0
    #: σ in pixels of a fixed Gaussian blur of the reconstruction TARGET (0: the sharp image,
    #: the paper's loss). With encoder_blur_px equal to it the VAE models blurred images.
    target_blur_px: float = 0.0
    #: Divide each blurred image (the encoder's input and the target) by its maximum, as the
    #: store's per-image normalization does after a detector blur (False: the blurred images'
    #: peak varies with λ).
    blur_renormalize: bool = False
    #: The decoder's output convolution in "float32" (its 32-channel input cast up; every run up
    #: to 2026-12-02) or in the "compute" dtype (bfloat16 under mixed_bfloat16), the sigmoid and
    #: the loss in float32 either way (model.build_decoder; docs/performance.md).
    output_conv: str = "float32"

    def __post_init__(self):
        for name in ("warmup_fraction", "kl_warmup_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
        if self.sampling not in batches.SAMPLINGS:
            raise ValueError(f"sampling must be one of {batches.SAMPLINGS}, got {self.sampling!r}")
        floor = self.sampling_floor
        if isinstance(floor, bool) or not isinstance(floor, (int, float, np.floating)) or not 0 < floor <= 1:
            raise ValueError(f"sampling_floor must be a number in (0, 1], got {floor!r}")
        if self.bias_gradients not in _BIAS_GRADIENTS:
            raise ValueError(f"bias_gradients must be one of {_BIAS_GRADIENTS}, got {self.bias_gradients!r}")
        if self.lr_schedule not in _LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {_LR_SCHEDULES}, got {self.lr_schedule!r}")
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
        if not isinstance(self.blur_renormalize, (bool, np.bool_)):
            raise ValueError(f"blur_renormalize must be true or false, got {self.blur_renormalize!r}")
        if self.output_conv not in OUTPUT_CONVS:
            raise ValueError(f"output_conv must be one of {OUTPUT_CONVS}, got {self.output_conv!r}")
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


def steps_per_epoch(cfg: TrainConfig, n_train: int) -> int:
    return math.ceil(n_train / cfg.batch_size)


def learning_rate_schedule(cfg: TrainConfig, total_steps: int):
    """The learning rate per step for a run of ``total_steps`` optimizer steps.

    A linear warm-up from learning_rate/100 over ``warmup_fraction`` of the run (per-parameter
    optimizers move every weight by ~lr, rmsprop ~3 lr, on their first steps; over the encoder
    Dense's 1 M inputs at 256² that coherent jump blew the latent up, KL ~1e18, in the first
    epoch at lr 1e-3 without warm-up), then ``lr_schedule``: constant, or a cosine decay to 0
    at the last step. Relative to the run, so a short run at a small scale warms up as a long one.
    """
    if not _is_int(total_steps) or total_steps < 1:
        raise ValueError(f"total_steps must be an integer >= 1, got {total_steps!r}")
    warmup = int(round(cfg.warmup_fraction * total_steps))
    if not warmup and cfg.lr_schedule == "constant":
        return cfg.learning_rate
    cosine = cfg.lr_schedule == "cosine"
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 100 if warmup else cfg.learning_rate,
        decay_steps=max(1, total_steps - warmup) if cosine else 1,
        alpha=0.0 if cosine else 1.0,  # alpha=1: no decay after the warm-up
        warmup_target=cfg.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def kl_weight(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """β at optimizer step ``step`` (0-based): ramped linearly from 0 over
    ``kl_warmup_fraction`` of the run, reaching cfg.beta at the end of the ramp."""
    ramp = cfg.kl_warmup_fraction * total_steps
    if ramp <= 0:
        return float(cfg.beta)
    return float(cfg.beta) * min(1.0, (step + 1) / ramp)


def bias_gradient_rule(cfg: TrainConfig):
    """The context ``tape.gradient`` runs in: TensorFlow's own bias gradients, or float32 sums."""
    return accurate_bias_gradients() if cfg.bias_gradients == "float32" else contextlib.nullcontext()


def _make_optimizer(cfg: TrainConfig, total_steps: int):
    classes = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    return classes[cfg.optimizer](learning_rate=learning_rate_schedule(cfg, total_steps))


def _seed_state(*entropy: int) -> np.ndarray:
    """A Keras SeedGenerator state [seed, counter] derived from the given integers."""
    return np.array([np.random.SeedSequence(list(entropy)).generate_state(1)[0] >> 1, 0], dtype="int64")


class Trainer:
    """The model, its optimizer and the compiled train/validation steps of :func:`train_vae`.

    Speed (measured in ``youngvae.bench``): the data go to TensorFlow ONCE per run as float32
    NHWC tensors and each batch is gathered inside the compiled step (no per-step numpy
    slicing, copying and conversion, no per-``fit`` data adapter); one traced step function is
    reused for every epoch; the optimizer update runs as one XLA-fused kernel. The math is that
    of ``VAE.train_step``/``test_step``.
    ``jit_compile`` (XLA) is available but off: on this CPU it made a bfloat16 step about 3.5×
    slower (XLA's CPU convolutions do not use oneDNN).
    """

    def __init__(self, image_size: int, cfg: TrainConfig, n_train: int, jit_compile: bool = False):
        import tensorflow as tf

        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch(cfg, n_train)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        keras.utils.set_random_seed(cfg.seed)
        self.vae = build_vae(
            image_size, cfg.latent_dim, beta=cfg.beta, seed=cfg.seed, precision=cfg.precision,
            encoder_blur_px=cfg.encoder_blur_px, target_blur_px=cfg.target_blur_px,
            blur_renormalize=cfg.blur_renormalize, output_conv=cfg.output_conv,
        )
        self.vae.compile(optimizer=_make_optimizer(cfg, self.total_steps), jit_compile=jit_compile)
        self.vae.optimizer.build(self.vae.trainable_variables)
        vae = self.vae
        weights = vae.trainable_weights
        # Each training pattern's summed BCE when the run last trained on it (sampling "loss").
        self.sample_reconstruction = tf.Variable(tf.zeros([n_train]), trainable=False)
        last_reconstruction = self.sample_reconstruction

        # The RMSprop update of 36 M float32 weights is a chain of element-wise passes over
        # ~140 MB arrays; XLA fuses them into one (measured: 92 -> 30-50 ms per step here).
        # XLA for the whole step is slower on CPU (see above), so only the update is compiled.
        apply_gradients = tf.function(
            lambda grads: vae.optimizer.apply_gradients(zip(grads, weights)), jit_compile=True
        )

        def train_step(data, idx):  # = VAE.train_step, with the update compiled by XLA
            with tf.GradientTape() as tape:
                per_sample = vae.per_sample_losses(tf.gather(data, idx), training=True)
                losses = vae.reduce_losses(*per_sample)
            with bias_gradient_rule(cfg):
                grads = tape.gradient(losses[0], weights)
            apply_gradients(grads)
            last_reconstruction.scatter_update(tf.IndexedSlices(per_sample[0], idx))
            vae.update_trackers(*losses)

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

    def train_batches(self, data, order, epoch: int = 1) -> dict:
        """Epoch ``epoch`` (1-based): one pass over ``data[order]`` in batches of
        cfg.batch_size (the last may be short), β following :func:`kl_weight`; returns the
        epoch means of loss, reconstruction and kl (the reported loss uses each step's β)."""
        first = (epoch - 1) * self.steps_per_epoch
        betas = [kl_weight(self.cfg, first + i, self.total_steps) for i in range(self.steps_per_epoch)]
        return self._run_batches(self._train_step, data, order, betas)

    def evaluate(self, data, order) -> dict:
        """Validation at the full β (the objective the run ends on)."""
        return self._run_batches(self._test_step, data, order, [float(self.cfg.beta)])

    def _run_batches(self, step, data, order, betas) -> dict:
        import tensorflow as tf

        for metric in self.vae.metrics:
            metric.reset_state()
        order = np.asarray(order, dtype=np.int32)
        bs = self.cfg.batch_size
        for i, start in enumerate(range(0, len(order), bs)):
            beta = betas[min(i, len(betas) - 1)]
            if float(self.vae.beta.numpy()) != beta:
                self.vae.beta.assign(beta)
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
    checkpoint_path = os.path.join(checkpoint_dir, checkpoint.CHECKPOINT_NAME)
    checkpoint.remove_stale_temp_files(checkpoint_dir)

    trainer = Trainer(image_size, cfg, len(x_train))
    vae = trainer.vae

    fingerprint = checkpoint.fingerprint(cfg, x_train, x_val)
    meta = checkpoint.read_checkpoint(checkpoint_path, vae, fingerprint, log)
    rows = list(meta["history"]) if meta else []
    if meta and "sample_reconstruction" in meta:
        trainer.sample_reconstruction.assign(np.asarray(meta["sample_reconstruction"], dtype=np.float32))
    entropy = batches.target_entropy(vae.loss_targets(x_train)) if cfg.sampling == "loss" else None
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
        excess = trainer.sample_reconstruction.numpy() - entropy if entropy is not None else None
        order = batches.epoch_order(cfg.sampling, cfg.sampling_floor, cfg.seed, epoch, len(x_train), excess)
        seed_state.assign(_seed_state(cfg.seed, epoch))
        fit = trainer.train_batches(train_data, order, epoch)
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
        saved = {"epoch": epoch, "history": list(rows), "fingerprint": fingerprint}
        if entropy is not None:  # what the next epoch's draws follow, for a bit-identical resume
            saved["sample_reconstruction"] = trainer.sample_reconstruction.numpy().tolist()
        arrays = checkpoint.snapshot_arrays(vae, saved)
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
        writer = checkpoint.BackgroundWriter(
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
