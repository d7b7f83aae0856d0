"""Data layouts on disk: the dataset and z-grid Zarr stores, the train/validation split."""
