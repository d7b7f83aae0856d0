"""What every job process needs, in one place: its log, strict JSON files, provenance.

Lowest layer of the package: imports nothing of youngvae and no framework, so every rule's
env can use it (the thread setup of the ML frameworks is in :mod:`youngvae.threads`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np


def log_to(path: str | Path) -> logging.Logger:
    """Redirect file descriptors 1 and 2 to `path` (appending) and return a logger writing there.

    Redirecting the descriptors, not just ``sys.stdout``, also catches what C++ libraries print.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.captureWarnings(True)
    return logging.getLogger("youngvae")


def json_safe(value):
    """NaN/inf -> None and numpy scalars -> Python, so files are strict JSON (jq, JavaScript)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(path: str | Path, data: dict) -> None:
    """`data` as indented strict JSON (see :func:`json_safe`), creating the parent folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")


def package_versions(names=("youngvae", "numpy", "scipy", "LightPipes", "zarr")) -> dict[str, str]:
    """Installed versions of `names` ('not installed' where absent), for provenance attributes."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
