"""What rule plot_dataset (workflow/rules/dataset.smk) calls: the paper's Figs. 1 and 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from youngvae.analysis import plots
from youngvae.data import store
from youngvae.physics.plan import WavelengthDistribution


def plot_dataset(
    *,
    store_path: str | Path,
    dataset: dict,
    histogram_path: str | Path,
    examples_path: str | Path,
    n_examples: int = 4,
) -> None:
    """Paper Figs. 2 and 1: the wavelength histogram and example patterns with profiles."""
    wavelengths = store.read_wavelengths(store_path)
    plots.plot_wavelength_histogram(
        wavelengths,
        histogram_path,
        distribution=WavelengthDistribution.from_config(dataset["wavelength"]),
    )
    # Examples spread over the wavelength range: shortest, longest and between.
    order = np.argsort(wavelengths)
    picks = order[np.linspace(0, len(order) - 1, min(n_examples, len(order))).round().astype(int)]
    picks = np.sort(picks)
    images = store.read_images(store_path, picks)
    y_m = store.read_coordinate(store_path, "y")
    plots.plot_example_patterns(images, wavelengths[picks], y_m, examples_path, n=len(picks))
