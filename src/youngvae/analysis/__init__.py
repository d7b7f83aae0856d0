"""Analysis of a trained model: latent metrics, z->λ calibration, image comparison, figures, tables."""
