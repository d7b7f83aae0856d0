"""Figures of the paper reproduction (Figs. 1-6).

Every function takes plain data plus an output path, writes a PNG (dpi 120),
releases the figure and returns the path. Figures are built with
``matplotlib.figure.Figure`` directly (Agg canvas), never through pyplot, so
no global backend/state is touched and nothing needs closing afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from youngvae.analysis.images import central_column_profile  # noqa: E402

DPI = 120
SPLIT_ORDER = ("train", "val", "unused")
SPLIT_PALETTE = {"train": "#1f77b4", "val": "#ff7f0e", "unused": "#7f7f7f"}

__all__ = [
    "DPI",
    "plot_example_patterns",
    "plot_latent_histogram",
    "plot_loss_curves",
    "plot_wavelength_histogram",
    "plot_z_vs_wavelength",
    "plot_zgrid",
]


def new_figure(figsize: tuple[float, float], layout: str | None = None) -> Figure:
    fig = Figure(figsize=figsize, dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike) -> str | os.PathLike:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=DPI, format="png")
    fig.clear()
    return path


def _images_3d(name: str, images: Any) -> np.ndarray:
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(
            f"{name}: expected [n, H, W] or [n, H, W, 1], got shape {np.shape(images)}"
        )
    return x


def _latent_label(latent: str) -> str:
    """'z (posterior mean)', naming the unit when the latent has several (z_mean_<unit>)."""
    unit = latent.rsplit("_", 1)[-1]
    return "z (posterior mean)" if unit == "0" else f"z of unit {unit} (posterior mean)"


def _one_per(name: str, values: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``values`` when it has one entry per z, else a ValueError naming ``name``."""
    if values.shape[0] != z.shape[0]:
        raise ValueError(f"{name}: expected {z.shape[0]} entries (one per z), got {values.shape[0]}")
    return values


def _hue_order(splits: pd.Series) -> list[str]:
    present = list(pd.unique(splits.astype(str)))
    return [s for s in SPLIT_ORDER if s in present] + sorted(
        s for s in present if s not in SPLIT_ORDER
    )


def light_window(images: Any, threshold: float = 0.01, margin: float = 0.15, min_pixels: int = 8) -> slice:
    """The central square that holds the light of every image: the rows/columns where some
    image reaches ``threshold`` × its own peak, widened by ``margin`` on each side, symmetric
    about the screen centre (the patterns are centred there), at least ``min_pixels`` wide.
    Returns one slice for both axes (square images)."""
    imgs = _images_3d("images", images)
    n = imgs.shape[1]
    peak = imgs.max(axis=(1, 2), keepdims=True)
    lit = imgs >= threshold * np.where(peak > 0, peak, np.inf)
    rows = np.flatnonzero(lit.any(axis=(0, 2)))
    cols = np.flatnonzero(lit.any(axis=(0, 1)))
    if rows.size == 0:
        return slice(0, n)
    centre = (n - 1) / 2
    half = max(np.abs(rows - centre).max(), np.abs(cols - centre).max()) + 0.5
    half = max(half * (1 + margin), min_pixels / 2)
    lo = max(0, int(np.floor(centre + 0.5 - half)))
    return slice(lo, n - lo)


def _window_extent_mm(coords_m: Any, window: slice) -> list[float]:
    """imshow extent [left, right, bottom, top] in mm of the pixels in ``window`` (pixel edges)."""
    c = np.asarray(coords_m, dtype=np.float64).reshape(-1)[window] * 1e3
    half_pitch = 0.5 * (c[1] - c[0]) if c.size > 1 else 0.5
    return [c[0] - half_pitch, c[-1] + half_pitch, c[0] - half_pitch, c[-1] + half_pitch]


def _crop_note(coords_m: Any, window: slice) -> str:
    """'central 4.1 of 20 mm': what part of the screen a cropped axis shows."""
    c = np.asarray(coords_m, dtype=np.float64).reshape(-1) * 1e3
    pitch = c[1] - c[0] if c.size > 1 else 0.0
    shown = (window.stop - window.start) * pitch
    full = c.size * pitch
    return f"central {shown:.3g} of {full:.3g} mm" if window.stop - window.start < c.size else f"{full:.3g} mm"


INTENSITY_LABEL = "intensity / its peak"


# --------------------------------------------------------------------------- #
# Fig. 1
# --------------------------------------------------------------------------- #
def plot_example_patterns(
    images: Any,
    wavelength_m: Any,
    y_m: Any,
    path: str | os.PathLike,
    n: int = 4,
    indices: Sequence[int] | None = None,
) -> str | os.PathLike:
    """Fig. 1: ``n`` example patterns (λ in the title) and, beneath each, the
    central vertical intensity profile vs y in mm.

    By default the examples are spread evenly over the sorted wavelengths. ``y_m`` are the
    pixel centres (metres) of the images' rows (= columns: square images centred on the
    screen). Patterns and profiles show the central region that holds the light
    (:func:`light_window`, the same for every panel); the axis labels say which part of the
    screen that is.
    """
    imgs = _images_3d("images", images)
    lam = np.asarray(wavelength_m, dtype=np.float64).reshape(-1)
    y_mm = np.asarray(y_m, dtype=np.float64).reshape(-1) * 1e3
    if lam.shape[0] != imgs.shape[0]:
        raise ValueError(
            f"wavelength_m: expected {imgs.shape[0]} values, got {lam.shape[0]}"
        )
    if y_mm.shape[0] != imgs.shape[1]:
        raise ValueError(
            f"y_m: expected {imgs.shape[1]} values (image rows), got {y_mm.shape[0]}"
        )
    if indices is None:
        k = max(1, min(int(n), imgs.shape[0]))
        order = np.argsort(lam, kind="stable")
        pick = np.unique(np.round(np.linspace(0, imgs.shape[0] - 1, k)).astype(int))
        indices = [int(i) for i in order[pick]]
    indices = list(indices)
    k = len(indices)
    window = light_window(imgs[indices])
    ext = _window_extent_mm(y_m, window)
    note = _crop_note(y_m, window)

    fig = new_figure((2.9 * k + 1.0, 6.2), layout="constrained")
    axes = fig.subplots(2, k, squeeze=False, gridspec_kw={"height_ratios": [3, 2]})
    for c, i in enumerate(indices):
        ax = axes[0, c]
        image = ax.imshow(
            imgs[i][window, window],
            cmap="gray",
            vmin=0.0,
            vmax=float(imgs[i].max()) or 1.0,
            extent=ext,
            origin="lower",  # row 0 = the first (lowest) y
        )
        ax.set_title(f"λ = {lam[i] * 1e9:.0f} nm")
        ax.set_xlabel("x [mm]")
        ax.set_ylabel(f"y [mm] ({note})" if c == 0 else "")
        prof = central_column_profile(imgs[i])[window]
        axp = axes[1, c]
        axp.plot(y_mm[window], prof, lw=1.0, color="k")
        axp.set_xlim(ext[2], ext[3])
        axp.set_xlabel("y [mm], central column")
        axp.set_ylabel(INTENSITY_LABEL if c == 0 else "")
        axp.set_ylim(-0.02, max(1.02, float(np.max(prof)) * 1.02))
    fig.colorbar(image, ax=axes[0, :].tolist(), label=INTENSITY_LABEL, shrink=0.9)
    fig.suptitle("Young double-aperture patterns (apertures along y)")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- #
# Fig. 2
# --------------------------------------------------------------------------- #
def plot_wavelength_histogram(
    wavelength_m: Any,
    path: str | os.PathLike,
    distribution: Any = None,
    bins: int | str = "auto",
) -> str | os.PathLike:
    """Fig. 2: histogram (density) of λ in nm, with the density the samples were drawn from.

    ``distribution`` (e.g. :class:`youngvae.physics.plan.WavelengthDistribution`) supplies
    ``pdf_nm`` and its bounds ``min_nm``/``max_nm`` (and ``mean_nm``/``std_nm`` for the
    legend): the same object that drew the plan, so the curve cannot disagree with it.
    """
    lam_nm = np.asarray(wavelength_m, dtype=np.float64).reshape(-1) * 1e9
    fig = new_figure((6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(
        lam_nm,
        bins=bins,
        density=True,
        color="#4c72b0",
        alpha=0.7,
        edgecolor="white",
        label=f"samples (n={lam_nm.size})",
    )
    if distribution is not None:
        d = distribution
        xs = np.linspace(d.min_nm, d.max_nm, 400)
        ax.plot(
            xs,
            d.pdf_nm(xs),
            color="#c44e52",
            lw=2,
            label=f"truncated N({d.mean_nm:g}, {d.std_nm:g}²) on [{d.min_nm:g}, {d.max_nm:g}]",
        )
    ax.set_xlabel("wavelength λ [nm]")
    ax.set_ylabel("density")
    ax.set_title("Wavelength distribution")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------- #
# Fig. 3
# --------------------------------------------------------------------------- #
_LOSS_FAMILIES = (
    ("loss", ("loss", "total_loss")),
    (
        "reconstruction",
        ("reconstruction_loss", "reconstruction", "recon_loss", "recon"),
    ),
    ("KL", ("kl_loss", "kl")),
)


def plot_loss_curves(
    history_df: pd.DataFrame, path: str | os.PathLike
) -> str | os.PathLike:
    """Fig. 3: one panel per available loss term (loss, reconstruction, KL),
    training and ``val_`` curves vs epoch (epoch column, else 1..n)."""
    df = history_df.reset_index(drop=True)
    epoch = (
        df["epoch"].to_numpy() if "epoch" in df.columns else np.arange(1, len(df) + 1)
    )
    panels = []
    for title, names in _LOSS_FAMILIES:
        col = next((c for c in names if c in df.columns), None)
        vcol = next((f"val_{c}" for c in names if f"val_{c}" in df.columns), None)
        if col or vcol:
            panels.append((title, col, vcol))
    if not panels:
        raise ValueError(f"history_df: no loss columns found among {list(df.columns)}")
    fig = new_figure((4.2 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, col, vcol) in zip(axes, panels):
        values = []
        if col:
            values.append(df[col].to_numpy(dtype=float))
            ax.plot(epoch, values[-1], marker=".", label="train")
        if vcol:
            values.append(df[vcol].to_numpy(dtype=float))
            ax.plot(epoch, values[-1], marker=".", label="validation")
        finite = np.concatenate(values)
        finite = finite[np.isfinite(finite)]
        # The losses span orders of magnitude (the first epoch dwarfs the rest): log axis
        # where every value is positive.
        if finite.size and finite.min() > 0:
            ax.set_yscale("log")
            ax.set_ylabel(f"{title} (log scale)")
        else:
            ax.set_ylabel(title)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------- #
# Fig. 4
# --------------------------------------------------------------------------- #
def plot_zgrid(
    z: Any,
    images: Any,
    path: str | os.PathLike,
    wavelengths_nm: Any = None,
    simulated: Any = None,
    max_cols: int = 9,
    coords_m: Any = None,
    simulated_label: str = "simulated\nat λ",
) -> str | os.PathLike:
    """Fig. 4: decoded image for each z (one panel per z, titled with z and,
    if given, the calibrated λ). With ``simulated``, each row of decoded
    images is followed by a row of simulated patterns at the calibrated λ
    (their row labelled ``simulated_label``).

    All panels show the same central window that holds the light (:func:`light_window`
    over decoded and simulated images), on one grey scale 0..1 (the images' own scale);
    with ``coords_m`` (pixel centres, metres) the axes are in mm.
    """
    zz = np.asarray(z, dtype=np.float64).reshape(len(np.atleast_1d(z)), -1)[:, 0]
    dec = _images_3d("images", images)
    if dec.shape[0] != zz.shape[0]:
        raise ValueError(
            f"images: expected {zz.shape[0]} images (one per z), got {dec.shape[0]}"
        )
    sim = None if simulated is None else _one_per("simulated", _images_3d("simulated", simulated), zz)
    lam = None
    if wavelengths_nm is not None:
        lam = _one_per("wavelengths_nm", np.asarray(wavelengths_nm, dtype=np.float64).reshape(-1), zz)
    window = light_window(dec if sim is None else np.concatenate([dec, sim]))
    if coords_m is not None:
        ext = _window_extent_mm(coords_m, window)
        shown = f"{_crop_note(coords_m, window)} of the screen"
    else:
        ext = [window.start - 0.5, window.stop - 0.5, window.start - 0.5, window.stop - 0.5]
        shown = f"pixels {window.start}–{window.stop - 1} of {dec.shape[1]}"
    n = zz.shape[0]
    ncols = max(1, min(n, int(max_cols)))
    nblocks = -(-n // ncols)
    rows_per_block = 2 if sim is not None else 1
    nrows = nblocks * rows_per_block
    fig = new_figure((1.6 * ncols + 1.2, 1.75 * nrows + 0.7), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    image = None

    def show(ax, img, row_label, col):
        ax.set_axis_on()
        shown = ax.imshow(img[window, window], cmap="gray", vmin=0.0, vmax=1.0, extent=ext,
                          origin="lower")
        ax.set_xticks([])
        ax.set_yticks([])
        if col == 0:
            ax.set_ylabel(row_label, fontsize="small")
        return shown

    for i in range(n):
        blk, col = divmod(i, ncols)
        r = blk * rows_per_block
        image = show(axes[r, col], dec[i], "decoded", col)
        title = f"z = {zz[i]:.2f}"
        if lam is not None:
            title += f"\nλ ≈ {lam[i]:.0f} nm"
        axes[r, col].set_title(title, fontsize="small")
        if sim is not None:
            show(axes[r + 1, col], sim[i], simulated_label, col)
    fig.colorbar(image, ax=axes.ravel().tolist(), label="intensity (0–1)", shrink=0.8)
    fig.suptitle(f"Decoder output along the latent axis (each panel: {shown}, x and y)",
                 fontsize="medium")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- #
# Fig. 5
# --------------------------------------------------------------------------- #
def plot_latent_histogram(
    table: pd.DataFrame,
    path: str | os.PathLike,
    latent: str = "z_mean_0",
    bins: int | str = "auto",
) -> str | os.PathLike:
    """Fig. 5: histogram of the posterior means ``z_mean_0``, hue by split
    (per-split densities, so splits of different size are comparable)."""
    df = table[[latent, "split"]].copy()
    df["split"] = df["split"].astype(str)
    fig = new_figure((6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    sns.histplot(
        data=df,
        x=latent,
        hue="split",
        hue_order=_hue_order(df["split"]),
        palette=SPLIT_PALETTE,
        stat="density",
        common_norm=False,
        element="step",
        bins=bins,
        ax=ax,
    )
    ax.set_xlabel(_latent_label(latent))
    ax.set_ylabel("density")
    ax.set_title("Latent distribution")
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------- #
# Fig. 6
# --------------------------------------------------------------------------- #
def plot_z_vs_wavelength(
    table: pd.DataFrame,
    calibration: Any,
    path: str | os.PathLike,
    latent: str = "z_mean_0",
    max_points: int = 20000,
) -> str | os.PathLike:
    """Fig. 6: scatter of z (posterior mean) vs λ [nm], hue by split, with the
    calibration curve (``calibration.predict`` in metres, or None) overlaid."""
    df = table[[latent, "wavelength_m", "split"]].copy()
    df["split"] = df["split"].astype(str)
    df["wavelength_nm"] = df["wavelength_m"].astype(float) * 1e9
    if len(df) > max_points:
        df = df.sample(n=max_points, random_state=0)
    fig = new_figure((6.0, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    sns.scatterplot(
        data=df,
        x=latent,
        y="wavelength_nm",
        hue="split",
        hue_order=_hue_order(df["split"]),
        palette=SPLIT_PALETTE,
        s=10,
        alpha=0.5,
        linewidth=0,
        ax=ax,
    )
    if calibration is not None:
        zmin, zmax = float(df[latent].min()), float(df[latent].max())
        pad = 0.05 * (zmax - zmin) if zmax > zmin else 0.5
        zs = np.linspace(zmin - pad, zmax + pad, 400)
        ax.plot(
            zs,
            np.asarray(calibration.predict(zs), dtype=float) * 1e9,
            color="k",
            lw=1.8,
            label="calibration",
        )
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(_latent_label(latent))
    ax.set_ylabel("wavelength λ [nm]")
    ax.set_title("Latent vs wavelength")
    fig.tight_layout()
    return save_figure(fig, path)
