"""What the rules of workflow/rules/model.smk call: train, encode, decode_grid.

Each function takes the paths of its rule and the config sections it needs as keyword
arguments named after the section (``dataset=``, ``train=``, ...), and writes the rule's
outputs; the scripts under workflow/scripts only forward arguments. TensorFlow is imported
lazily, after the data are checked and the job's threads are set.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from youngvae.analysis import calibration as calib
from youngvae.analysis import disentangle, generated, images, latent, plots, zgrid
from youngvae.data import store
from youngvae.data.split import split_table
from youngvae.data.zgrid import write_zgrid
from youngvae.physics import floors, optics
from youngvae.runtime import json_safe, write_json
from youngvae.threads import configure_threads


def load_split(store_path: str | Path, train: dict, seed: int) -> pd.DataFrame:
    """sample -> 'train' / 'val' / 'unused' for the store's samples (train.n_train, train.n_val)."""
    n = len(store.read_wavelengths(store_path))
    n_train, n_val = int(train["n_train"]), int(train["n_val"])
    if n_train + n_val > n:
        raise ValueError(
            f"train.n_train + train.n_val = {n_train + n_val} exceeds the {n} samples of "
            f"{store_path}"
        )
    return split_table(n, n_train, n_val, seed)


def train(
    *,
    store_path: str | Path,
    dataset: dict,
    train: dict,
    model_path: str | Path,
    history_path: str | Path,
    split_path: str | Path,
    figure_path: str | Path,
    checkpoint_dir: str | Path,
    threads: int = 1,
    log=print,
) -> pd.DataFrame:
    """Train the VAE on the store's train split; resumable through `checkpoint_dir`."""
    from youngvae.vae.training import TrainConfig

    # The split is tied to dataset.seed; train.seed (None: dataset.seed) seeds the initial
    # weights, the sampling noise and the shuffling.
    split_seed = int(dataset["seed"])
    train_seed = split_seed if train.get("seed") is None else int(train["seed"])
    cfg = TrainConfig.from_dict(
        {k: v for k, v in train.items() if k not in ("n_train", "n_val", "seed")}
        | {"seed": train_seed}
    )
    split = load_split(store_path, train, split_seed)
    t0 = time.perf_counter()
    x_train = store.read_complete_images(store_path, split.index[split["split"] == "train"])
    x_val = store.read_complete_images(store_path, split.index[split["split"] == "val"])
    # Only now, with the data checked, start TensorFlow.
    configure_threads(threads)
    from youngvae.vae.model import save_vae
    from youngvae.vae.training import train_vae

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


#: The per-sample store variable of the recorded wavelength (systematics.NUISANCES), and the
#: metrics encode also reports against it (prefixed ``recorded_``).
RECORDED = "recorded_wavelength_m"
RECORDED_METRICS = ("abs_spearman", "calibration_rmse_nm", "calibration_mae_nm", "calibration_max_abs_err_nm")


def physical_factors(store_path: str | Path, wavelengths: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The physical parameters that vary over ``rows`` of the store: the true λ and every
    drawn geometry/detector nuisance (not the recorded λ: a label, not a parameter)."""
    columns = {"wavelength_m": wavelengths}
    for name in store.sample_variable_names(store_path):
        if name != RECORDED:
            columns[name] = store.read_sample_variable(store_path, name)
    return disentangle.varied_factors({k: v[rows] for k, v in columns.items()})


#: The nominal aperture-to-screen distance of a store (attrs) and its per-sample draw.
DISTANCE = "distance_m"


def distance_floor_metrics(store_path: str | Path, wavelengths: np.ndarray, split: np.ndarray) -> dict:
    """The λz floor of a store whose distance was jittered, in nm
    (:func:`youngvae.physics.floors.distance_floor` on its drawn distances, fitted on the
    ``split == 'train'`` samples, scored on ``'val'``): the calibration error no model can beat
    under that jitter alone. Empty where the distance does not vary (ideal stores, other
    effects)."""
    distance = store.read_sample_variable(store_path, DISTANCE)
    if distance is None or np.ptp(distance) == 0:
        return {}
    nominal = float(store.read_attrs(store_path)["geometry"][DISTANCE])
    floor = floors.distance_floor(np.asarray(wavelengths) * 1e9, distance, nominal,
                                  np.flatnonzero(split == "train"), np.flatnonzero(split == "val"))
    return {"distance_floor_rmse_nm": floor["rmse"], "distance_floor_max_abs_err_nm": floor["max_abs"]}


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
    *,
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
    from youngvae.vae.model import load_encoder

    encoder = load_encoder(model_path)
    split = pd.read_csv(split_path)
    wavelengths = store.read_wavelengths(store_path)
    z_mean, z_log_var = encode_all(
        encoder, lambda idx: store.read_complete_images(store_path, idx), len(wavelengths)
    )
    table = latent.latent_table(
        np.arange(len(wavelengths)), wavelengths, split["split"].to_numpy(), z_mean, z_log_var
    )
    recorded = store.read_sample_variable(store_path, RECORDED)
    label = "wavelength_m"
    if recorded is not None:  # systematics: the labels an experiment has carry an error
        table.insert(2, RECORDED, recorded)
        label = RECORDED
    usage = latent.latent_usage(table, label=label)
    unit = f"z_mean_{usage['unit']}"  # the active unit most correlated with λ (train split)
    # fitted on the labels the experiment has; scored against the true λ (and the recorded one)
    calibration = calib.fit_calibration_from_table(table, latent=unit, label=label)
    metrics = latent.encode_metrics(table, calibration, latent=unit) | usage
    metrics["calibration_fitted_on"] = label
    metrics["calibration_knots"] = len(calibration.knots_z)
    if recorded is not None:
        against_recorded = latent.encode_metrics(table, calibration, latent=unit, label=RECORDED)
        metrics |= {f"recorded_{k}": against_recorded[k] for k in RECORDED_METRICS}
    splits = split["split"].to_numpy()
    factors = physical_factors(store_path, wavelengths, splits == "val")
    if len(factors) > 1:  # the data vary in more than λ: which unit reads which parameter
        units = usage["active_unit_indices"] or list(range(z_mean.shape[1]))
        metrics["disentanglement"] = disentangle.disentanglement(z_mean[splits == "val"], units, factors)
    metrics |= distance_floor_metrics(store_path, wavelengths, splits)
    metrics["collapsed"] = bool(metrics["latent_collapsed"] or usage["active_units"] == 0)
    table.to_csv(latent_path, index=False, float_format="%.9g")
    write_json(metrics_path, metrics)
    write_json(calibration_path, calibration.to_dict())
    plots.plot_latent_histogram(table, histogram_path, latent=unit)
    plots.plot_z_vs_wavelength(table, calibration, scatter_path, latent=unit)
    log(f"encode metrics: {json.dumps(json_safe(metrics))}")
    return metrics


def decode_grid(
    *,
    model_path: str | Path,
    calibration_path: str | Path,
    decode: dict,
    geometry: dict,
    simulation: dict,
    zarr_path: str | Path,
    metrics_path: str | Path,
    figure_path: str | Path,
    threads: int = 1,
    log=print,
) -> dict:
    """Decode the z-grid (paper Fig. 4) and compare with patterns simulated at λ(z), blurred
    as the model's reconstruction target was (``train.target_blur_px``; 0: as simulated)."""
    configure_threads(threads)
    from youngvae.vae.model import load_vae

    calibration = calib.Calibration.from_dict(json.loads(Path(calibration_path).read_text()))
    z = zgrid.decode_z_values(decode, calibration)
    vae = load_vae(model_path)
    decoder = vae.decoder
    decoded = _decode(decoder, _along_unit(z, calibration.unit, decoder))
    wavelengths = np.atleast_1d(calibration.predict(z)).astype(np.float64)
    simulated = optics.simulate_from_config(wavelengths, geometry, simulation)
    if simulated.shape[1:] != decoded.shape[1:]:
        raise ValueError(
            f"decoder makes {decoded.shape[1:]} images but geometry.pixels gives "
            f"{simulated.shape[1:]}: the model was trained on another geometry"
        )
    simulated = vae.loss_targets(simulated)
    comparison = images.compare_decoded(decoded, simulated, z=z)
    for row, lam, zi in zip(comparison, wavelengths, z):
        row["wavelength_nm"] = float(lam * 1e9)
        # outside the training patterns' z range the decoder extrapolates and the
        # calibration clamps λ to its end: say so per z
        row["in_training_range"] = bool(calibration.z_min <= zi <= calibration.z_max)
    centres = optics.Geometry.from_config(geometry).pixel_centres_m()
    write_zgrid(zarr_path, z, decoded, wavelengths, centres)
    plots.plot_zgrid(
        z, decoded, figure_path, wavelengths_nm=wavelengths * 1e9, simulated=simulated, coords_m=centres,
        simulated_label=(f"simulated at λ,\nblurred {vae.target_blur_px:g} px"
                         + (", max 1" if vae.blur_renormalize else "") if vae.target_blur_px else "simulated\nat λ"),
    )
    metrics = {
        "z": z.tolist(),
        "grid": decode.get("grid", "paper"),
        "simulated_blurred_px": vae.target_blur_px,
        "simulated_blur_renormalized": vae.blur_renormalize,
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


def _decode(decoder, z: np.ndarray) -> np.ndarray:
    """Images [n, H, W] the decoder makes of latent vectors z [n, latent_dim], batch by batch."""
    return zgrid.decode_in_batches(lambda b: np.asarray(decoder.predict_on_batch(b)), z)


def _along_unit(values, unit: int, decoder) -> np.ndarray:
    """Latent vectors with ``values`` on the calibrated ``unit``, the other units at the prior
    mean (0)."""
    z = np.zeros((len(values), int(decoder.inputs[0].shape[-1])), dtype=np.float32)
    z[:, unit] = values
    return z


def compare_generated(
    *,
    store_path: str | Path,
    model_path: str | Path,
    latent_path: str | Path,
    calibration_path: str | Path,
    geometry: dict,
    dataset: dict,
    json_path: str | Path,
    figure_path: str | Path,
    seed: int = 0,
    n_permutations: int = 500,
    threads: int = 1,
    log=print,
) -> dict:
    """Generated against real validation patterns (:mod:`youngvae.analysis.generated`): the same
    physical features on patterns decoded from the prior N(0, I) and from the aggregate
    posterior of the training split (one draw per validation pattern each), two-sample tests,
    and each validation pattern against the one decoded at its calibrated z(λ). Where the
    model was trained against blurred targets (``train.target_blur_px``), the real patterns are
    blurred alike: the decoder was taught to render them so."""
    configure_threads(threads)
    from youngvae.vae.model import load_vae

    table = pd.read_csv(latent_path)
    val = table[table["split"] == "val"]
    train_rows = table[table["split"] == "train"]
    vae = load_vae(model_path)
    real = vae.loss_targets(store.read_complete_images(store_path, val["sample"].to_numpy()))
    calibration = calib.Calibration.from_dict(json.loads(Path(calibration_path).read_text()))
    decoder = vae.decoder
    latent_dim = int(decoder.inputs[0].shape[-1])

    rng = np.random.default_rng(seed)
    n = len(val)
    mu = train_rows[[f"z_mean_{i}" for i in range(latent_dim)]].to_numpy()
    sigma = np.exp(0.5 * train_rows[[f"z_log_var_{i}" for i in range(latent_dim)]].to_numpy())
    pick = rng.integers(0, len(train_rows), n)
    sets = {
        "real (validation)": real,
        "generated, prior": _decode(decoder, rng.standard_normal((n, latent_dim))),
        "generated, aggregate posterior": _decode(decoder, mu[pick] + sigma[pick] * rng.standard_normal((n, latent_dim))),
    }
    geom = optics.Geometry.from_config(geometry)
    wl = dataset["wavelength"]
    fringe = generated.FringeGeometry(geom.pixel_pitch_m, geom.aperture_separation_m, geom.distance_m,
                                      wl["min_nm"] * 1e-9, wl["max_nm"] * 1e-9)
    features = {name: generated.pattern_features(images_, fringe) for name, images_ in sets.items()}
    real_features = features["real (validation)"]
    z_cal = generated.wavelength_to_z(calibration, val["wavelength_m"])
    at_z = _decode(decoder, _along_unit(z_cal, calibration.unit, decoder))
    comparison = images.compare_decoded(at_z, real)
    per_wavelength = pd.DataFrame({"wavelength_m": val["wavelength_m"].to_numpy(),
                                   "ssim": [r["ssim"] for r in comparison],
                                   "mse": [r["mse"] for r in comparison]})
    result = {
        "n_real": n,
        "seed": seed,
        "real_blurred_px": vae.target_blur_px,
        "real_blur_renormalized": vae.blur_renormalize,
        "prior": generated.compare_features(real_features, features["generated, prior"], n_permutations, seed),
        "aggregate_posterior": generated.compare_features(
            real_features, features["generated, aggregate posterior"], n_permutations, seed),
        "decoded_at_calibrated_z": {
            "mean_ssim": float(per_wavelength["ssim"].mean()),
            "mean_mse": float(per_wavelength["mse"].mean()),
            "wavelength_nm": (per_wavelength["wavelength_m"] * 1e9).tolist(),
            "ssim": per_wavelength["ssim"].tolist(),
            "mse": per_wavelength["mse"].tolist(),
        },
    }
    write_json(json_path, result)
    generated.plot_generated_vs_real(features, per_wavelength, figure_path)
    log(f"generated vs real: energy-distance p {result['prior']['energy']['p_value']:.3g} (prior), "
        f"{result['aggregate_posterior']['energy']['p_value']:.3g} (aggregate posterior); "
        f"mean SSIM at the calibrated z {result['decoded_at_calibrated_z']['mean_ssim']:.3f}")
    return result

