"""youngvae: Young's double-aperture diffraction patterns and a 1-D-latent VAE.

The domain code of the Snakemake workflow, importable and tested without Snakemake. Layers,
lowest first; a module imports only from its own layer or the ones above it in this list:

    runtime     a job's log, strict JSON files, provenance;  threads  the frameworks' threads
    physics     optics engines, the independent reference integral, the wavelength plan
    data        the Zarr store layouts and the train/validation split
    vae         the paper's model, its training loop and checkpoints
    analysis    latent metrics, calibration, image comparison, figures and report tables
    checks      start-up checks of the config and of the jobs' resources
    stages      what the rules call: one module per workflow/rules/*.smk
    bench       the performance lab: benchmark matrix, engines, the CPU ceiling, comparisons
"""

__version__ = "0.1.0"
