"""Send a job's output, including C-level output (TensorFlow, oneDNN), to its Snakemake log."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path


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
