"""The VAE chain as functions, one per Snakemake rule: train, encode, decode_grid.

Each takes paths and plain config dicts (the rule's params) and writes the rule's outputs; the
scripts under workflow/scripts only forward arguments. TensorFlow is imported lazily, after
the caller had the chance to redirect output and set the thread count.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from youngvae import analysis, plots, store

SPLIT_FILE_COLUMNS = ("sample", "split")


def configure_threads(threads: int) -> None:
    """Give TensorFlow this job's cores (before it runs its first op)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, int(threads)))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, int(threads))))
    except RuntimeError:  # TensorFlow already running in this process: keep its setting
        pass


def _json_safe(value):
    """NaN/inf -> None, so the metrics files are strict JSON (jq, JavaScript)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(path: str | Path, data: dict) -> None:
    Path(path).write_text(json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")


def load_split(store_path: str | Path, train_cfg: dict, seed: int) -> pd.DataFrame:
    """sample -> 'train' / 'val' / 'unused', from the seeded permutation of the store's samples."""
    from youngvae.training import split_indices

    n = len(store.read_wavelengths(store_path))
    n_train, n_val = int(train_cfg["n_train"]), int(train_cfg["n_val"])
    if n_train + n_val > n:
        raise ValueError(
            f"train.n_train + train.n_val = {n_train + n_val} exceeds the {n} samples of "
            f"{store_path}"
        )
    train_idx, val_idx = split_indices(n, n_train, n_val, seed)
    split = np.full(n, "unused", dtype=object)
    split[train_idx] = "train"
    split[val_idx] = "val"
    return pd.DataFrame({"sample": np.arange(n), "split": split})


def read_complete_images(store_path: str | Path, indices: np.ndarray) -> np.ndarray:
    """Images of `indices`; a clear error if any is missing (NaN) or the store is not square/even."""
    images = store.read_images(store_path, np.asarray(indices))
    if images.ndim != 3 or images.shape[1] != images.shape[2] or images.shape[1] % 2:
        raise ValueError(
            f"dataset store {store_path} has images of shape {images.shape[1:]}; the VAE needs "
            "square images with an even side"
        )
    missing = ~np.isfinite(images).all(axis=(1, 2))
    if missing.any():
        raise ValueError(
            f"dataset store {store_path} is incomplete: {int(missing.sum())} of the requested "
            f"samples (first: {int(np.asarray(indices)[missing][0])}) are missing or not finite; "
            "rerun the dataset rules"
        )
    return images


def train(
    store_path: str | Path,
    train_cfg: dict,
    seed: int,
    model_path: str | Path,
    history_path: str | Path,
    split_path: str | Path,
    figure_path: str | Path,
    checkpoint_dir: str | Path,
    threads: int = 1,
    log=print,
) -> pd.DataFrame:
    """Train the VAE on the store's train split; resumable through `checkpoint_dir`."""
    from youngvae.training import TrainConfig

    cfg = TrainConfig.from_dict(
        {k: v for k, v in train_cfg.items() if k not in ("n_train", "n_val")} | {"seed": seed}
    )
    split = load_split(store_path, train_cfg, seed)
    t0 = time.perf_counter()
    x_train = read_complete_images(store_path, split.index[split["split"] == "train"])
    x_val = read_complete_images(store_path, split.index[split["split"] == "val"])
    # Only now, with the data checked, start TensorFlow.
    configure_threads(threads)
    from youngvae.model import save_vae
    from youngvae.training import train_vae

    log(
        f"read {len(x_train)} train + {len(x_val)} validation images "
        f"{x_train.shape[1:]} in {time.perf_counter() - t0:.1f} s "
        f"({(x_train.nbytes + x_val.nbytes) / 2**20:.0f} MiB in memory)"
    )
    vae, history = train_vae(x_train, x_val, cfg, checkpoint_dir, log=log)
    save_vae(vae, model_path)
    history.to_csv(history_path, index=False)
    split.to_csv(split_path, index=False)
    plots.plot_loss_curves(history, figure_path)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)  # done: the model file supersedes it
    return history


def encode_all(encoder, images_fn, n: int, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """z_mean, z_log_var [n, k] of samples 0..n-1, read and encoded one batch at a time."""
    means, log_vars = [], []
    for start in range(0, n, batch_size):
        batch = images_fn(np.arange(start, min(n, start + batch_size)))
        z_mean, z_log_var = encoder.predict_on_batch(batch[..., None])
        means.append(np.asarray(z_mean, dtype=np.float64))
        log_vars.append(np.asarray(z_log_var, dtype=np.float64))
    return np.concatenate(means), np.concatenate(log_vars)


def encode(
    store_path: str | Path,
    model_path: str | Path,
    split_path: str | Path,
    latent_path: str | Path,
    metrics_path: str | Path,
    calibration_path: str | Path,
    histogram_path: str | Path,
    scatter_path: str | Path,
    threads: int = 1,
    log=print,
) -> dict:
    """Encode every pattern; correlations and a monotone z -> λ calibration (paper Figs. 5, 6)."""
    configure_threads(threads)
    from youngvae.model import load_encoder

    encoder = load_encoder(model_path)
    split = pd.read_csv(split_path)
    wavelengths = store.read_wavelengths(store_path)
    z_mean, z_log_var = encode_all(
        encoder, lambda idx: read_complete_images(store_path, idx), len(wavelengths)
    )
    table = analysis.latent_table(
        np.arange(len(wavelengths)), wavelengths, split["split"].to_numpy(), z_mean, z_log_var
    )
    calibration = analysis.fit_calibration_from_table(table)
    metrics = analysis.encode_metrics(table, calibration)
    table.to_csv(latent_path, index=False, float_format="%.9g")
    write_json(metrics_path, metrics)
    write_json(calibration_path, calibration.to_dict())
    plots.plot_latent_histogram(table, histogram_path)
    plots.plot_z_vs_wavelength(table, calibration, scatter_path)
    log(f"encode metrics: {json.dumps(_json_safe(metrics))}")
    return metrics


def decode_grid(
    model_path: str | Path,
    calibration_path: str | Path,
    decode_cfg: dict,
    geometry_cfg: dict,
    simulation_cfg: dict,
    zarr_path: str | Path,
    metrics_path: str | Path,
    figure_path: str | Path,
    threads: int = 1,
    log=print,
) -> dict:
    """Decode the z-grid (paper Fig. 4) and compare with patterns simulated at λ(z)."""
    configure_threads(threads)
    from youngvae import optics
    from youngvae.dataset import simulate_from_config
    from youngvae.model import load_decoder

    calibration = analysis.Calibration.from_dict(json.loads(Path(calibration_path).read_text()))
    z = analysis.decode_z_values(decode_cfg, calibration)
    decoder = load_decoder(model_path)
    latent_dim = decoder.inputs[0].shape[-1]
    z_full = np.zeros((len(z), latent_dim), dtype=np.float32)
    z_full[:, 0] = z  # the grid walks the first latent axis; others stay at the prior mean
    decoded = analysis.decode_in_batches(
        lambda b: np.asarray(decoder.predict_on_batch(b)), z_full
    )
    wavelengths = np.atleast_1d(calibration.predict(z)).astype(np.float64)
    simulated = simulate_from_config(wavelengths, geometry_cfg, simulation_cfg)
    if simulated.shape[1:] != decoded.shape[1:]:
        raise ValueError(
            f"decoder makes {decoded.shape[1:]} images but geometry.pixels gives "
            f"{simulated.shape[1:]}: the model was trained on another geometry"
        )
    comparison = analysis.compare_decoded(decoded, simulated, z=z)
    for row, lam, zi in zip(comparison, wavelengths, z):
        row["wavelength_nm"] = float(lam * 1e9)
        # outside the training patterns' z range the decoder extrapolates and the
        # calibration clamps λ to its end: say so per z
        row["in_training_range"] = bool(calibration.z_min <= zi <= calibration.z_max)
    centres = optics.Geometry.from_config(geometry_cfg).pixel_centres_m()
    write_zgrid(zarr_path, z, decoded, wavelengths, centres)
    plots.plot_zgrid(z, decoded, figure_path, wavelengths_nm=wavelengths * 1e9, simulated=simulated)
    metrics = {
        "z": z.tolist(),
        "grid": decode_cfg.get("grid", "paper"),
        "training_z_range": [calibration.z_min, calibration.z_max],
        "n_outside_training_range": int(sum(not r["in_training_range"] for r in comparison)),
        "per_z": comparison,
        "mean_ssim": float(np.mean([r["ssim"] for r in comparison])),
        "mean_mse": float(np.mean([r["mse"] for r in comparison])),
    }
    write_json(metrics_path, metrics)
    log(f"decoded {len(z)} z values ({metrics['grid']} grid, {metrics['n_outside_training_range']} outside "
        f"the training patterns' z range {calibration.z_min:.2f} … {calibration.z_max:.2f}); "
        f"mean SSIM {metrics['mean_ssim']:.3f}")
    return metrics


def write_zgrid(path, z, images, wavelengths_m, centres_m) -> None:
    """results/decode/zgrid.zarr: images [z, y, x], z [z], calibrated wavelength_m [z]."""
    import zarr

    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    arr = group.create_array(
        "images", shape=images.shape, dtype="float32", dimension_names=["z", "y", "x"]
    )
    arr[:] = images.astype(np.float32)
    for name, values, dims, units in (
        ("z", z, ["z"], "1"),
        ("wavelength_m", wavelengths_m, ["z"], "m"),
        ("y", centres_m, ["y"], "m"),
        ("x", centres_m, ["x"], "m"),
    ):
        a = group.create_array(name, shape=(len(values),), dtype="float64", dimension_names=dims)
        a[:] = values
        a.attrs["units"] = units
    group.attrs["description"] = "VAE decoder output on a z-grid; wavelength_m = calibration(z)"
