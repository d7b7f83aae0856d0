"""Where and why the latent folds at the ends of the λ range: diagnostics of a trained VAE.

The measurements behind docs/recipe.md's explanation of the fold:

* per pattern: the posterior (``z_mean``, σ), its KL to the N(0, 1) prior, and the EXCESS
  reconstruction loss of the decoded posterior mean, BCE(x, decoder(z_mean)) − H(x): the binary
  cross-entropy above its floor, the binary entropy of the target itself (0 for a perfect
  reconstruction; the raw BCE grows with the bright area of a pattern, i.e. with λ, and would
  hide where the decoder fails);
* per λ bin: the medians of those;
* along z: the decoder's output at evenly spaced z, also beyond the range the data occupy,
  matched to the nearest real patterns (sum of squared differences): the wavelength the decoder
  can render at each z. Where that stops growing while the data's λ still grows, the decoder
  cannot produce the rarer end patterns, and the encoder has nowhere to put them.
* where in the encoder a fold is made (``--fold-below-nm``): for the pixels and for the output
  of each Conv2D/Dense layer, how steadily the representation moves away from each short-λ
  pattern as λ grows (:func:`fold_scores`). A layer whose scores drop is the first to fold.

Run it on a trained model (``python -m youngvae.analysis.tails --help``); the numbers in
docs/recipe.md come from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

EPS = 1e-7


def _clip(p: Any) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)


def _bce_sum(target: np.ndarray, pred: np.ndarray) -> np.ndarray:
    axes = tuple(range(1, target.ndim))
    return -(target * np.log(pred) + (1 - target) * np.log(1 - pred)).sum(axis=axes)


def excess_bce(x: Any, reconstruction: Any) -> np.ndarray:
    """Per sample Σ_pixels [BCE(x, r) − H(x)] = Σ KL(Bernoulli(x) ‖ Bernoulli(r)), in nats, ≥ 0.

    ``x`` and ``reconstruction``: [n, ...] in [0, 1] (clipped to [1e-7, 1 − 1e-7] like the
    loss). 0 where the reconstruction equals the target.
    """
    x, r = _clip(x), _clip(reconstruction)
    if x.shape != r.shape or x.ndim < 2:
        raise ValueError(f"x {x.shape} and reconstruction {r.shape} must be equal shapes [n, ...]")
    return _bce_sum(x, r) - _bce_sum(x, x)


def kl_to_prior(z_mean: Any, z_log_var: Any) -> np.ndarray:
    """KL(N(z_mean, exp(z_log_var)) ‖ N(0, 1)) per sample, summed over latent units, nats."""
    m = np.atleast_2d(np.asarray(z_mean, dtype=np.float64).T).T
    lv = np.atleast_2d(np.asarray(z_log_var, dtype=np.float64).T).T
    return (0.5 * (m**2 + np.exp(lv) - 1.0 - lv)).sum(axis=1)


def per_bin(wavelength_nm: Any, columns: dict[str, Any], edges_nm: Sequence[float]) -> pd.DataFrame:
    """Median of each column per λ bin (right-closed bins over ``edges_nm``), with the count."""
    lam = np.asarray(wavelength_nm, dtype=np.float64)
    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()})
    if len(frame) != len(lam):
        raise ValueError(f"{len(lam)} wavelengths but {len(frame)} rows of columns")
    bins = pd.cut(lam, np.asarray(edges_nm, dtype=np.float64))
    grouped = frame.groupby(bins, observed=True)
    table = grouped.median()
    table.insert(0, "count", grouped.size())
    table.index = [f"{iv.left:.0f}-{iv.right:.0f}" for iv in table.index]
    table.index.name = "wavelength_nm"
    return table


def nearest_wavelength(decoded: Any, images: Any, wavelength_nm: Any, k: int = 5) -> np.ndarray:
    """For each decoded image, the median λ of its ``k`` nearest real images (sum of squared
    differences): the wavelength the decoder renders there."""
    d = np.asarray(decoded, dtype=np.float64)
    x = np.asarray(images, dtype=np.float64)
    lam = np.asarray(wavelength_nm, dtype=np.float64)
    if d.shape[1:] != x.shape[1:] or len(x) != len(lam):
        raise ValueError(f"decoded {d.shape}, images {x.shape} and {len(lam)} wavelengths do not match")
    k = min(int(k), len(x))
    flat_x = x.reshape(len(x), -1)
    sq_x = (flat_x**2).sum(axis=1)
    out = np.empty(len(d))
    for i, img in enumerate(d.reshape(len(d), -1)):
        sse = sq_x - 2.0 * flat_x @ img + img @ img
        out[i] = np.median(lam[np.argpartition(sse, k - 1)[:k]])
    return out


def along_z(decode: Callable[[np.ndarray], np.ndarray], images: Any, wavelength_nm: Any,
            z_mean: Any, n_points: int = 21, margin: float = 1.5, band: float = 0.05) -> pd.DataFrame:
    """The decoder's rendered λ at ``n_points`` z from ``margin`` below the data's 0.5th
    percentile to ``margin`` above the 99.5th, with the λ range of the data encoded within
    ±``band`` of each z (NaN where none are)."""
    z = np.asarray(z_mean, dtype=np.float64)
    lam = np.asarray(wavelength_nm, dtype=np.float64)
    grid = np.linspace(np.percentile(z, 0.5) - margin, np.percentile(z, 99.5) + margin, n_points)
    rendered = nearest_wavelength(decode(grid), images, lam)
    rows = []
    for zi, ri in zip(grid, rendered):
        near = lam[np.abs(z - zi) <= band]
        rows.append({"z": zi, "decoder_renders_nm": ri,
                     "data_min_nm": near.min() if near.size else np.nan,
                     "data_max_nm": near.max() if near.size else np.nan})
    return pd.DataFrame(rows)


def fold_scores(features: Any, wavelength_nm: Any, window_nm: float = 40.0) -> np.ndarray:
    """Per pattern i: Spearman ρ between λ_j − λ_i and the distance ‖f_j − f_i‖ over the
    patterns j with λ_i < λ_j ≤ λ_i + ``window_nm`` (NaN where fewer than 3 are). 1 where the
    representation ``features`` [n, ...] moves steadily away from pattern i as λ grows; lower
    where it comes back toward i within the window: a fold."""
    from scipy.stats import spearmanr

    f = np.asarray(features)
    f = f if f.dtype in (np.float32, np.float64) else f.astype(np.float64)  # float32 stays: memory
    lam = np.asarray(wavelength_nm, dtype=np.float64)
    if len(f) != len(lam):
        raise ValueError(f"{len(lam)} wavelengths but {len(f)} feature rows")
    f = f.reshape(len(f), -1)
    out = np.full(len(lam), np.nan)
    for i in range(len(lam)):
        ahead = np.flatnonzero((lam > lam[i]) & (lam <= lam[i] + window_nm))
        if len(ahead) >= 3:
            dist = np.array([np.linalg.norm((f[j] - f[i]).astype(np.float64)) for j in ahead])
            out[i] = spearmanr(lam[ahead] - lam[i], dist).statistic
    return out


def fold_by_layer(encoder, images: Any, wavelength_nm: Any, window_nm: float = 40.0,
                  edges_nm: Sequence[float] = (380, 400, 420, 440, 460)) -> pd.DataFrame:
    """Median :func:`fold_scores` per λ bin (rows) for the pixels and for the output of each
    Conv2D/Dense layer of ``encoder`` (columns, in order): which layer first folds."""
    import keras

    x = np.asarray(images, dtype=np.float32)
    lam = np.asarray(wavelength_nm, dtype=np.float64)
    columns = {"pixels": fold_scores(x, lam, window_nm)}
    for layer in encoder.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            probe = keras.Model(encoder.inputs, layer.output)
            feats = np.concatenate([np.asarray(probe.predict_on_batch(x[s : s + 32, ..., None]), dtype=np.float32)
                                    for s in range(0, len(x), 32)])
            columns[layer.name] = fold_scores(feats, lam, window_nm)
    return per_bin(lam, columns, edges_nm)


def _markdown(table: pd.DataFrame, index: bool = True) -> str:
    frame = table.reset_index() if index else table
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m youngvae.analysis.tails", description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="the dataset's Zarr store")
    parser.add_argument("--model", required=True, help="the trained VAE (.keras)")
    parser.add_argument("--latent", required=True, help="encode's latent.csv of that model")
    parser.add_argument("--out", required=True, help="output prefix: <out>_bins.csv, <out>_along_z.csv")
    parser.add_argument("--bin-nm", type=float, default=50.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fold-below-nm", type=float, default=None,
                        help="also: where in the encoder the patterns below this λ fold (fold_by_layer)")
    parser.add_argument("--fold-window-nm", type=float, default=40.0)
    args = parser.parse_args(argv)

    from youngvae.data import store
    from youngvae.threads import configure_threads

    configure_threads(args.threads)
    from youngvae.vae.model import load_vae

    vae = load_vae(args.model)
    decoder = vae.decoder
    table = pd.read_csv(args.latent)
    lam = store.read_wavelengths(args.store) * 1e9
    images = store.read_complete_images(args.store, np.arange(len(lam)))
    targets = vae.loss_targets(images)  # what the decoder was taught to render (train.target_blur_px)
    z_mean, z_log_var = table["z_mean_0"].to_numpy(), table["z_log_var_0"].to_numpy()

    def decode(z: np.ndarray) -> np.ndarray:
        parts = [np.asarray(decoder.predict_on_batch(z[s : s + 64, None]))[..., 0] for s in range(0, len(z), 64)]
        return np.concatenate(parts)

    excess = excess_bce(targets, decode(z_mean))
    lo = np.floor(lam.min() / args.bin_nm) * args.bin_nm
    edges = np.arange(lo, lam.max() + args.bin_nm, args.bin_nm)
    bins = per_bin(lam, {"z_mean": z_mean, "sigma": np.exp(z_log_var / 2),
                         "kl_nats": kl_to_prior(z_mean, z_log_var), "excess_reconstruction_nats": excess},
                   edges)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    bins.to_csv(f"{path}_bins.csv")
    z_table = along_z(decode, targets[::2], lam[::2], z_mean[::2])  # every 2nd: memory
    z_table.to_csv(f"{path}_along_z.csv", index=False)
    print(_markdown(bins), "\n", _markdown(z_table, index=False), sep="\n")
    if args.fold_below_nm is not None:
        short = np.flatnonzero(lam <= args.fold_below_nm + args.fold_window_nm)
        edges = np.arange(np.floor(lam.min() / 20.0) * 20.0, args.fold_below_nm + 1e-9, 20.0)
        layers = fold_by_layer(vae.encoder, images[short], lam[short], args.fold_window_nm, edges)
        layers.to_csv(f"{path}_fold_by_layer.csv")
        print("", _markdown(layers), sep="\n")


if __name__ == "__main__":
    main()
