"""What a config implies in bytes, and whether this machine or cluster can hold it.

One source for the jobs' memory estimates (workflow/rules/common.smk sizes every rule from
these functions) and for the start-up checks that stop a config no job could finish: a store
larger than the free disk, a job needing more memory than the machine has (local runs) or more
cores or memory than any node of its SLURM partition (cluster runs, where such a job would wait
in the queue forever). Every message carries the estimate it was judged by.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MB = 2**20

#: A hard cap on geometry.pixels (also in the schema): one 4096² LightPipes field at the
#: default 4× refinement is a 16384² complex grid (4 GiB) per copy; the VAE's encoder Dense
#: layer has (pixels/2)² · 64 · 32 weights (8.6 G at 4096).
MAX_PIXELS = 4096


def images_mb(n_samples: int, pixels: int) -> float:
    """MB (MiB) of ``n_samples`` float32 patterns of pixels²."""
    return n_samples * pixels**2 * 4 / MB


def store_bytes(n_samples: int, pixels: int) -> int:
    """Bytes of the dataset store's images (uncompressed float32; the rest is negligible)."""
    return int(n_samples) * int(pixels) ** 2 * 4


def vae_parameters(pixels: int, latent_dim: int = 1) -> int:
    """The paper's VAE's parameter count at ``pixels`` (33,647,202 + 2,115,905 at 256, latent 1)."""
    flat = (pixels // 2) ** 2 * 64
    encoder = 320 + 18_496 + 2 * 36_928 + flat * 32 + 32 + 2 * (32 * latent_dim + latent_dim)
    decoder = latent_dim * flat + flat + 18_464 + 289
    return encoder + decoder


def simulate_mem_mb(chunk_size: int, pixels: int, oversample: int) -> int:
    """One simulation job: the chunk's images (3 copies) plus LightPipes' fine complex grid
    (about 8 complex128 arrays of (pixels · oversample)²) and the interpreter."""
    fine = pixels * oversample
    grid_mb = fine * fine * 16 * 8 / MB
    return int(500 + 3 * images_mb(chunk_size, pixels) + grid_mb)


def store_mem_mb(n_samples: int, pixels: int) -> int:
    """Jobs that read the whole store (validation, plots, encoding): one copy of it, twice over."""
    return int(1000 + 2 * images_mb(n_samples, pixels))


def train_mem_mb(n_train: int, n_val: int, pixels: int, latent_dim: int = 1) -> int:
    """Training: the split's images (3 copies: numpy, tensors, batches), the model's float32
    weights six times over (weights, gradients, optimizer slot, checkpoint snapshot, save copy,
    bf16 casts) and TensorFlow itself."""
    model_mb = 6 * 4 * vae_parameters(pixels, latent_dim) / MB
    return int(3000 + 3 * images_mb(n_train + n_val, pixels) + model_mb)


def human(n_bytes: float) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} PiB"


def directory_bytes(path: str | os.PathLike) -> int:
    """Bytes of the files under ``path`` (0 when it does not exist)."""
    root = Path(path)
    if not root.exists():
        return 0
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def free_disk_bytes(path: str | os.PathLike) -> int:
    """Free bytes on the file system that holds ``path`` (or its nearest existing parent)."""
    p = Path(path).resolve()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def machine_memory_mb() -> int | None:
    """This machine's physical memory in MB, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / MB)
    except (ValueError, OSError, AttributeError):
        return None


def disk_problem(needed_bytes: int, existing_bytes: int, free_bytes: int, where: str) -> str | None:
    """A store of ``needed_bytes`` where ``existing_bytes`` are already written (a rerun
    rewrites them) must fit in ``free_bytes``."""
    missing = needed_bytes - existing_bytes
    if missing > free_bytes:
        return (
            f"the dataset store needs {human(needed_bytes)} ({where}), but only {human(free_bytes)} "
            f"are free there{f' beside the {human(existing_bytes)} it holds' if existing_bytes else ''}: "
            "lower dataset.n_samples or geometry.pixels, or free disk space"
        )
    return None


def memory_problems(rules: Mapping[str, tuple[object, Mapping[str, object]]], ram_mb: int) -> list[str]:
    """Rules whose mem_mb exceeds this machine's memory (a local run would die of it)."""
    return [
        f"rule {rule}: needs mem_mb={res['mem_mb']} ({human(int(res['mem_mb']) * MB)} estimated from "
        f"the config), but this machine has {human(ram_mb * MB)}"
        for rule, (_, res) in sorted(rules.items())
        if isinstance(res.get("mem_mb"), int) and res["mem_mb"] > ram_mb
    ]


@dataclass(frozen=True)
class Node:
    """One line of ``sinfo -h -o '%P %c %m'``: a partition ('*' = the default), cores, memory MB."""

    partition: str
    cpus: int
    mem_mb: int

    @property
    def is_default(self) -> bool:
        return self.partition.endswith("*")

    @property
    def name(self) -> str:
        return self.partition.rstrip("*")


def parse_sinfo(text: str) -> list[Node]:
    """Nodes from ``sinfo -h -o '%P %c %m'`` output (memory like '7900' or '7900+' as sinfo
    writes a range's minimum)."""
    nodes = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        partition, cpus, mem = parts
        try:
            nodes.append(Node(partition, int(cpus.rstrip("+")), int(mem.rstrip("+"))))
        except ValueError:
            continue
    return nodes


def node_problems(
    rules: Mapping[str, tuple[object, Mapping[str, object]]], nodes: Iterable[Node]
) -> list[str]:
    """Rules whose threads or mem_mb exceed the largest node of their partition (the rule's
    slurm_partition, else the cluster's default): SLURM would keep such a job pending forever."""
    nodes = list(nodes)
    default = next((n.name for n in nodes if n.is_default), None)
    problems = []
    for rule, (threads, res) in sorted(rules.items()):
        partition = res.get("slurm_partition") or default
        members = [n for n in nodes if n.name == partition]
        if not members:
            continue  # an unknown partition is reported by checks.resources
        max_cpus = max(n.cpus for n in members)
        max_mem = max(n.mem_mb for n in members)
        if isinstance(threads, int) and threads > max_cpus:
            problems.append(
                f"rule {rule}: threads={threads}, but the largest node of partition {partition!r} "
                f"has {max_cpus} CPUs (sinfo); lower it with --set-threads {rule}={max_cpus} or "
                f"--max-threads {max_cpus}"
            )
        mem = res.get("mem_mb")
        if isinstance(mem, int) and mem > max_mem:
            problems.append(
                f"rule {rule}: mem_mb={mem} ({human(mem * MB)} estimated from the config), but the "
                f"largest node of partition {partition!r} has {max_mem} MB (sinfo)"
            )
    return problems


def summary(config: Mapping) -> str:
    """One paragraph of what the config implies, printed at start-up (dry runs too)."""
    ds, geo, sim, tr = config["dataset"], config["geometry"], config["simulation"], config["train"]
    pixels = int(geo["pixels"])
    oversample = int(sim.get("oversample") or 4)
    return (
        f"sizes implied by the config: dataset store {human(store_bytes(ds['n_samples'], pixels))} "
        f"({ds['n_samples']} × {pixels}² float32); per simulation job "
        f"~{human(simulate_mem_mb(ds['chunk_size'], pixels, oversample) * MB)}; train "
        f"~{human(train_mem_mb(tr['n_train'], tr['n_val'], pixels, tr.get('latent_dim', 1)) * MB)} "
        f"(VAE {vae_parameters(pixels, tr.get('latent_dim', 1)):,} parameters)"
    )
