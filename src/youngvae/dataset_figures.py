"""Dataset figures from the store (paper Figs. 1 and 2): store + plots, no simulation code."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from youngvae import plots, store


def plot_dataset(
    store_path: str | Path,
    wavelength_cfg: dict,
    histogram_path: str | Path,
    examples_path: str | Path,
    n_examples: int = 4,
) -> None:
    """Paper Figs. 2 and 1: the wavelength histogram and example patterns with profiles."""
    wavelengths = store.read_wavelengths(store_path)
    plots.plot_wavelength_histogram(
        wavelengths,
        histogram_path,
        mean_nm=wavelength_cfg["mean_nm"],
        std_nm=wavelength_cfg["std_nm"],
    )
    # Examples spread over the wavelength range: shortest, longest and between.
    order = np.argsort(wavelengths)
    picks = order[np.linspace(0, len(order) - 1, min(n_examples, len(order))).round().astype(int)]
    picks = np.sort(picks)
    images = store.read_images(store_path, picks)
    y_m = store.read_coordinate(store_path, "y")
    plots.plot_example_patterns(images, wavelengths[picks], y_m, examples_path, n=len(picks))
