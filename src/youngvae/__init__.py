"""youngvae: Young's double-aperture diffraction patterns and a 1-D-latent VAE.

Domain code of the Snakemake workflow (optics, Zarr store layout, model, training,
analysis); importable and unit-tested without Snakemake.
"""

__version__ = "0.1.0"
