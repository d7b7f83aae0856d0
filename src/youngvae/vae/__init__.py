"""The paper's VAE: model (layers, save/load), training loop, resumable checkpoints."""
