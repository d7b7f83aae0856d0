"""youngvae.stages.model's guards: an incomplete or misshapen store stops training with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from youngvae.data import store
from youngvae.stages import model as chain


@pytest.fixture
def half_written_store(tmp_path):
    path = tmp_path / "s.zarr"
    centres = np.linspace(-1, 1, 8)
    store.create_store(path, 8, 4, centres, centres, {})
    store.write_chunk(path, slice(0, 4), np.full((4, 8, 8), 0.5), np.full(4, 5e-7))
    return path


def test_incomplete_store_is_refused_before_training(half_written_store, tmp_path):
    with pytest.raises(ValueError, match="incomplete.*first: 4"):
        store.read_complete_images(half_written_store, np.arange(8))
    with pytest.raises(ValueError, match="incomplete"):
        chain.train(
            store_path=half_written_store,
            dataset={"seed": 0},
            train={"epochs": 1, "n_train": 4, "n_val": 4, "batch_size": 2},
            model_path=tmp_path / "m.keras",
            history_path=tmp_path / "h.csv",
            split_path=tmp_path / "s.csv",
            figure_path=tmp_path / "f.png",
            checkpoint_dir=tmp_path / "ckpt",
        )
    assert not (tmp_path / "m.keras").exists()


def test_split_larger_than_store_names_the_keys(half_written_store):
    with pytest.raises(ValueError, match="train.n_train \\+ train.n_val"):
        chain.load_split(half_written_store, {"n_train": 6, "n_val": 4}, seed=0)


def test_split_is_deterministic_and_disjoint(half_written_store):
    a = chain.load_split(half_written_store, {"n_train": 5, "n_val": 2}, seed=3)
    b = chain.load_split(half_written_store, {"n_train": 5, "n_val": 2}, seed=3)
    assert a.equals(b)
    assert a["split"].value_counts().to_dict() == {"train": 5, "val": 2, "unused": 1}
