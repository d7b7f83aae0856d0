"""youngvae.runtime: strict JSON files."""

from __future__ import annotations

import json

import numpy as np

from youngvae.runtime import write_json


def test_json_files_are_strict_nan_becomes_null_and_numpy_scalars_become_python(tmp_path):
    write_json(tmp_path / "m.json", {"r": float("nan"), "n": np.int64(3), "x": [np.inf], "b": np.bool_(1)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"r": None, "n": 3, "x": [None], "b": True}
