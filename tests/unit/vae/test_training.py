"""Contracts of youngvae.training: config validation, splits, resumable training, no collapse."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.stats import spearmanr

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from youngvae.data.split import split_indices  # noqa: E402
from youngvae.vae.checkpoint import CHECKPOINT_NAME  # noqa: E402
from youngvae.vae.training import (  # noqa: E402
    HISTORY_COLUMNS,
    TrainConfig,
    train_vae,
)


def fringe_images(n, size, seed, period_min=0.4, period_span=0.3):
    """1-D cos² fringes under a Gaussian envelope; the period grows monotonically with a hidden
    scalar t ~ U(0, 1) (a stand-in for the wavelength). Returns images [n, size, size], t."""
    t = np.random.default_rng(seed).uniform(0.0, 1.0, n)
    x = np.linspace(-1.0, 1.0, size)
    period = period_min + period_span * t
    rows = np.exp(-(x**2) / 0.5) * np.cos(np.pi * x[None, :] / period[:, None]) ** 2
    return np.broadcast_to(rows[:, None, :], (n, size, size)).astype("float32"), t


# ---- configuration -------------------------------------------------------------------------


def test_config_defaults_are_rmsprop_bfloat16_latent_1():
    cfg = TrainConfig()
    assert (cfg.optimizer, cfg.precision, cfg.latent_dim, cfg.beta) == ("rmsprop", "mixed_bfloat16", 1, 1.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_config_from_dict_names_an_unknown_key():
    with pytest.raises(ValueError, match="n_trian"):
        TrainConfig.from_dict({"epochs": 2, "n_trian": 5})


@pytest.mark.parametrize(
    "field, value",
    [("epochs", 0), ("latent_dim", 0), ("batch_size", 0), ("epochs", 1.5), ("beta", -1.0),
     ("learning_rate", 0.0), ("precision", "float16"), ("optimizer", "lbfgs"), ("seed", -1),
     ("blur_renormalize", "yes"), ("output_conv", "bfloat16")],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig.from_dict({field: value})


def test_split_indices_are_disjoint_sorted_and_seeded():
    train, val = split_indices(100, 60, 30, seed=4)
    assert len(train) == 60 and len(val) == 30 and not set(train) & set(val)
    assert (np.diff(train) > 0).all() and (np.diff(val) > 0).all()
    again = split_indices(100, 60, 30, seed=4)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert not np.array_equal(train, split_indices(100, 60, 30, seed=5)[0])
    with pytest.raises(ValueError, match="exceeds n_samples"):
        split_indices(10, 8, 3, seed=0)


@pytest.mark.parametrize(
    "x_train, message",
    [(np.zeros((8, 16, 12), "float32"), "square"), (np.zeros((8, 15, 15), "float32"), "even"),
     (np.full((8, 16, 16), np.nan, "float32"), "non-finite"), (np.zeros((8, 16, 16, 1), "float32"), r"\[n, H, W\]")],
)
def test_train_vae_rejects_bad_images(tmp_path, x_train, message):
    with pytest.raises(ValueError, match=message):
        train_vae(x_train, np.zeros((4, 16, 16), "float32"), TrainConfig(epochs=1, batch_size=4), tmp_path)


def test_train_vae_rejects_batch_larger_than_training_set(tmp_path):
    x = np.zeros((8, 16, 16), "float32")
    with pytest.raises(ValueError, match="batch_size"):
        train_vae(x, x, TrainConfig(epochs=1, batch_size=9), tmp_path)


def test_loss_sampling_measures_excess_loss_against_the_target_the_loss_uses(tmp_path, monkeypatch):
    """With target_blur_px the BCE floor is the BLURRED image's entropy, not the sharp one's."""
    from youngvae.testing import reference_blur

    from youngvae.vae import batches

    seen = []
    original = batches.target_entropy

    def spy(images):
        seen.append(np.array(images))
        return original(images)

    monkeypatch.setattr(batches, "target_entropy", spy)
    x, _ = fringe_images(32, 16, seed=2)
    cfg = TrainConfig(epochs=1, batch_size=16, target_blur_px=1.5, encoder_blur_px=1.5)
    train_vae(x, x[:16], cfg, tmp_path / "ckpt", log=lambda s: None)
    expected = reference_blur(x, 1.5)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], expected, rtol=1e-5, atol=1e-6)


# ---- resume after a real kill ---------------------------------------------------------------

RESUME_CFG = dict(epochs=4, batch_size=16, seed=3)

TRAIN_RUN = """
import json, os, signal, sys, numpy as np
from youngvae.vae.training import TrainConfig, train_vae
kill_after = {kill_after!r}
lines = []
def log(line):
    print(line, flush=True)
    lines.append(line)
    if kill_after and line.startswith(f"epoch {{kill_after}}/"):
        os.kill(os.getpid(), signal.SIGKILL)  # the checkpoint is on disk: die the hard way
x_train, x_val = np.load({x_train!r}), np.load({x_val!r})
vae, history = train_vae(x_train, x_val, TrainConfig(**{cfg!r}), {ckpt!r}, log=log)
np.savez({out!r}, *vae.get_weights(), *[v.numpy() for v in vae.optimizer.variables],
         history=history.to_numpy())
"""


def run_training(tmp_path, ckpt, out, kill_after=None, cfg=RESUME_CFG):
    """Train in a fresh process (same thread settings for every run, whatever this one has)."""
    script = TRAIN_RUN.format(
        x_train=str(tmp_path / "x_train.npy"), x_val=str(tmp_path / "x_val.npy"),
        cfg=cfg, ckpt=str(ckpt), out=str(out), kill_after=kill_after,
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.slow  # trains a model or starts fresh processes (seconds)
def test_training_resumes_after_sigkill_and_matches_an_uninterrupted_run(tmp_path):
    x_train, _ = fringe_images(64, 16, seed=0)
    x_val, _ = fringe_images(16, 16, seed=1)
    np.save(tmp_path / "x_train.npy", x_train)
    np.save(tmp_path / "x_val.npy", x_val)
    ckpt = tmp_path / "ckpt"
    killed = run_training(tmp_path, ckpt, tmp_path / "killed.npz", kill_after=2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert "epoch 2/4" in killed.stdout and "epoch 3/4" not in killed.stdout
    assert not (tmp_path / "killed.npz").exists()
    # A temp file left by a kill in mid-write must not matter.
    (ckpt / f".{CHECKPOINT_NAME}.999999.tmp").write_bytes(b"torn")

    resumed = run_training(tmp_path, ckpt, tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    lines = [line for line in resumed.stdout.splitlines() if line.strip()]
    assert "resumed" in lines[0] and "2/4 epochs done" in lines[0]
    assert not (ckpt / f".{CHECKPOINT_NAME}.999999.tmp").exists()
    assert [line.split(":")[0] for line in lines[1:]] == ["epoch 3/4", "epoch 4/4"]

    reference = run_training(tmp_path, tmp_path / "uninterrupted", tmp_path / "reference.npz")
    assert reference.returncode == 0, reference.stderr[-3000:]
    with np.load(tmp_path / "resumed.npz") as a, np.load(tmp_path / "reference.npz") as b:
        assert a.files == b.files
        for name in a.files:  # weights, optimizer variables and history: bit-identical
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert a["history"][:, 0].tolist() == [1, 2, 3, 4]

    cfg = TrainConfig(**RESUME_CFG)
    vae, history = train_vae(x_train, x_val, cfg, ckpt, log=lambda _: None)
    assert list(history.columns) == HISTORY_COLUMNS
    with np.load(tmp_path / "resumed.npz") as a:
        np.testing.assert_array_equal(history.to_numpy(), a["history"])

    # Calling again after the last epoch trains nothing and returns the same model.
    lines = []
    again, again_history = train_vae(x_train, x_val, cfg, ckpt, log=lines.append)
    assert not any(line.startswith("epoch ") for line in lines)
    np.testing.assert_array_equal(again.get_weights()[1], vae.get_weights()[1])
    assert again_history.equals(history)


@pytest.mark.slow  # trains a model or starts fresh processes (seconds)
def test_checkpoint_of_another_config_is_not_reused(tmp_path):
    x, _ = fringe_images(32, 16, seed=0)
    train_vae(x, x, TrainConfig(epochs=1, batch_size=16, precision="float32"), tmp_path, log=lambda _: None)
    lines = []
    _, history = train_vae(x, x, TrainConfig(epochs=1, batch_size=16, precision="float32", learning_rate=5e-4),
                           tmp_path, log=lines.append)
    assert "different config" in lines[0] and "learning_rate" in lines[0]
    assert lines[1].startswith("epoch 1/1") and history["epoch"].tolist() == [1]


# ---- the shipped defaults learn the hidden parameter ----------------------------------------


@pytest.mark.slow  # trains a model or starts fresh processes (seconds)
def test_default_config_does_not_collapse_and_z_tracks_the_hidden_parameter(tmp_path):
    x_train, _ = fringe_images(256, 32, seed=0)
    x_val, t_val = fringe_images(128, 32, seed=1)
    cfg = TrainConfig(epochs=20)  # everything else at the shipped defaults (|rho| >= 0.977 for seeds 0-5)
    vae, history = train_vae(x_train, x_val, cfg, tmp_path, log=lambda _: None)
    assert history["val_kl"].iloc[-1] > 0.5  # collapse drives KL to ~0
    z_mean, _ = vae.encoder.predict(x_val[..., None], verbose=0)
    assert abs(spearmanr(z_mean[:, 0], t_val).statistic) > 0.9
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]


def test_warmup_ramps_the_learning_rate_linearly_then_holds_it():
    from youngvae.vae.training import learning_rate_schedule

    cfg = TrainConfig(learning_rate=1e-3, warmup_fraction=0.1, lr_schedule="constant")
    schedule = learning_rate_schedule(cfg, total_steps=1000)  # warm-up: 100 steps
    rates = [float(schedule(step)) for step in (0, 50, 100, 1000)]
    np.testing.assert_allclose(rates, [1e-5, 0.5 * (1e-5 + 1e-3), 1e-3, 1e-3], rtol=1e-5)
    # relative to the run: a run of 160 steps warms up over 16
    short = learning_rate_schedule(cfg, total_steps=160)
    np.testing.assert_allclose([float(short(8)), float(short(16))], [0.5 * (1e-5 + 1e-3), 1e-3], rtol=1e-5)
    flat = TrainConfig(learning_rate=1e-3, warmup_fraction=0, lr_schedule="constant")
    assert learning_rate_schedule(flat, total_steps=10) == 1e-3


def test_cosine_schedule_decays_from_the_peak_to_zero_at_the_last_step():
    from youngvae.vae.training import learning_rate_schedule

    cfg = TrainConfig(learning_rate=2e-3, warmup_fraction=0.2, lr_schedule="cosine")
    schedule = learning_rate_schedule(cfg, total_steps=100)  # 20 warm-up + 80 cosine steps
    for step in (20, 40, 60, 80, 100):
        expected = 2e-3 * 0.5 * (1 + np.cos(np.pi * (step - 20) / 80))  # the closed form
        np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-5, atol=1e-10)
    no_warmup = learning_rate_schedule(TrainConfig(learning_rate=1e-3, warmup_fraction=0), total_steps=10)
    np.testing.assert_allclose([float(no_warmup(0)), float(no_warmup(5))], [1e-3, 0.5e-3], rtol=1e-5)


def test_kl_weight_ramps_linearly_to_beta_over_its_fraction_of_the_run():
    from youngvae.vae.training import kl_weight

    cfg = TrainConfig(beta=2.0, kl_warmup_fraction=0.25)
    assert [kl_weight(cfg, s, 100) for s in (0, 11, 24, 25, 99)] == [2 * 1 / 25, 2 * 12 / 25, 2.0, 2.0, 2.0]
    assert kl_weight(TrainConfig(beta=0.5), 0, 100) == 0.5


@pytest.mark.parametrize("key, value", [("warmup_fraction", 1.0), ("warmup_fraction", -0.1),
                                        ("kl_warmup_fraction", 1), ("kl_warmup_fraction", True),
                                        ("lr_schedule", "step"), ("bias_gradients", "bf16")])
def test_bad_schedule_settings_are_refused_by_name(key, value):
    with pytest.raises(ValueError, match=key):
        TrainConfig(**{key: value})


@pytest.mark.slow  # trains a model (seconds)
def test_kl_warmup_trains_at_the_ramped_weight_and_validates_at_beta(tmp_path):
    """The loss reported for epoch 1 is reconstruction + β_step·KL averaged over its steps
    (β ramping from 0), the validation loss is at the full β."""
    x, _ = fringe_images(64, 16, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=16, precision="float32", kl_warmup_fraction=0.5)
    _, history = train_vae(x, x, cfg, tmp_path, log=lambda _: None)
    first = history.iloc[0]
    assert first["loss"] < first["reconstruction"] + first["kl"] - 1e-3  # β < 1 on its steps
    for row in history.itertuples():
        np.testing.assert_allclose(row.val_loss, row.val_reconstruction + row.val_kl, rtol=1e-5)


def test_bias_gradient_rule_follows_the_setting():
    from youngvae.vae.gradients import accurate_bias_gradients
    from youngvae.vae.training import bias_gradient_rule

    assert isinstance(bias_gradient_rule(TrainConfig()), contextlib.nullcontext)  # TensorFlow's own
    chosen = bias_gradient_rule(TrainConfig(bias_gradients="float32"))
    assert type(chosen) is type(accurate_bias_gradients())


@pytest.mark.slow  # trains in fresh processes (seconds)
def test_loss_sampling_shares_the_first_epoch_with_uniform_sampling_then_differs(tmp_path):
    """(Resuming a loss-sampled run, the default, is the sigkill test above.)"""
    x_train, _ = fringe_images(64, 16, seed=0)
    x_val, _ = fringe_images(16, 16, seed=1)
    np.save(tmp_path / "x_train.npy", x_train)
    np.save(tmp_path / "x_val.npy", x_val)
    histories = {}
    for sampling in ("uniform", "loss"):
        cfg = {**RESUME_CFG, "epochs": 2, "sampling": sampling}
        run = run_training(tmp_path, tmp_path / sampling, tmp_path / f"{sampling}.npz", cfg=cfg)
        assert run.returncode == 0, run.stderr[-3000:]
        with np.load(tmp_path / f"{sampling}.npz") as a:
            histories[sampling] = a["history"]
    np.testing.assert_array_equal(histories["uniform"][0], histories["loss"][0])  # same permutation
    assert not np.array_equal(histories["uniform"][1], histories["loss"][1])
