"""Helpers for the tests and the tools: a throw-away copy of the workflow, Snakemake runs in it.

Outside the package's layers (nothing imports it but tests/ and tools/). The repository root is
found from this file (the package lives in <repo>/src/youngvae) or given explicitly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICK = REPO / "tests" / "configs" / "quick.yaml"
WORKFLOW_FILES = (
    "Snakefile",
    "config.yaml",
    "workflow",
    "src",
    "tests/configs",
    "profiles",
)


def copy_workflow(dest: Path, repo: Path = REPO) -> Path:
    """Copy what a run needs (not results/, .snakemake/) from `repo` into `dest`."""
    if not (repo / "Snakefile").is_file():
        raise FileNotFoundError(f"{repo} holds no Snakefile: pass the repository root as repo=")
    for name in WORKFLOW_FILES:
        src = repo / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, target)
    return dest


def snakemake(workdir: Path, *args: str, env: dict | None = None, check: bool = True):
    """Run the snakemake of this interpreter's environment in `workdir`; return the result."""
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe) if exe.exists() else "snakemake", *args]
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    result = subprocess.run(
        cmd, cwd=workdir, env=full_env, capture_output=True, text=True, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def planned_jobs(workdir: Path, *args: str) -> list[str]:
    """Jobs a dry run of ``snakemake *args`` would execute, sorted: 'rule', or 'rule[w1,w2]'
    with the job's wildcard values (e.g. 'simulate_chunk[0001]'). Targets go first in `args`
    (``--configfile`` takes several values). Checked against Snakemake's own job count."""
    out = snakemake(workdir, *args, "--dry-run")
    text = out.stdout + out.stderr
    jobs: list[str] = []
    rule = None
    for line in text.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):$", line.rstrip()):
            rule = m.group(1)
            jobs.append(rule)
        elif rule and (m := re.match(r"^\s+wildcards: (.+)$", line)):
            values = [kv.split("=", 1)[1] for kv in m.group(1).split(", ")]
            jobs[-1] = f"{rule}[{','.join(values)}]"
        elif not line.startswith((" ", "\t")):
            rule = None
    if "Nothing to be done" in text:
        if jobs:
            raise AssertionError(f"'Nothing to be done' but jobs were listed:\n{text}")
    else:
        total = re.search(r"^total\s+(\d+)\s*$", text, re.MULTILINE)
        if not (total and int(total.group(1)) == len(jobs)):
            raise AssertionError(f"parsed {len(jobs)} jobs, Snakemake's total differs:\n{text}")
    return sorted(jobs)


def reference_blur(images, sigma: float):
    """An independent reference for :class:`youngvae.vae.model.GaussianBlur` on images [n, H, W]:
    scipy's ``gaussian_filter`` per image in float64, zero padding, truncated at 4 σ (scipy's
    radius int(4σ + 0.5) equals GaussianBlur's ceil(4σ) for σ = 1.5 and 2). σ 0: the images."""
    import numpy as np
    from scipy.ndimage import gaussian_filter

    if not sigma:
        return images
    return np.stack([gaussian_filter(np.asarray(x, dtype=np.float64), sigma, mode="constant", truncate=4.0) for x in images])
