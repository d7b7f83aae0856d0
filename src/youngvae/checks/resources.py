"""Start-up checks of the jobs' resources (threads, memory, runtime, SLURM partition).

Snakemake passes resources to the executor unchecked: locally a negative `mem_mb` is ignored,
on SLURM it becomes `sbatch --mem -1` and a `runtime` of 0 silently drops the time limit.
The workflow calls these checks once, after every rule is defined and every `--set-resources`,
`--set-threads` and `--default-resources` value (from the command line or a profile) is applied,
so a value that cannot work stops the run before any job, naming the rule and the resource.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping

# Resources that must be a whole number > 0 when set: sizes in MB/MiB, minutes, cores.
POSITIVE_INT = (
    "mem_mb",
    "mem_mib",
    "mem_mb_per_cpu",
    "disk_mb",
    "disk_mib",
    "runtime",
    "cpus_per_task",
    "gpu",
    "nodes",
)


class ResourceError(ValueError):
    """A rule's resource value that no executor can honour."""


def resource_problems(rule: str, threads: object, resources: Mapping[str, object]) -> list[str]:
    """Problems of one rule's concrete (already evaluated) threads and resources."""
    problems = []
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        problems.append(f"rule {rule}: threads={threads!r} must be a whole number >= 1")
    for name in POSITIVE_INT:
        value = resources.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            unit = {"runtime": " (minutes)"}.get(name, "")
            problems.append(
                f"rule {rule}: resource {name}={value!r}{unit} must be a whole number > 0"
            )
    partition = resources.get("slurm_partition")
    if partition is not None and (not isinstance(partition, str) or not partition.strip()):
        problems.append(f"rule {rule}: resource slurm_partition={partition!r} must be a name")
    return problems


def partition_problems(
    requested: Mapping[str, Iterable[str]], available: Iterable[str]
) -> list[str]:
    """`requested` maps a partition to the rules asking for it; `available` as sinfo lists them."""
    known = sorted(set(available))
    return [
        f"resource slurm_partition={name!r} (rules {', '.join(sorted(rules))}) is not a "
        f"partition of this SLURM cluster; sinfo lists: {', '.join(known) or 'none'}"
        for name, rules in sorted(requested.items())
        if name not in known
    ]


def sinfo(fmt: str) -> str | None:
    """``sinfo -h -o FMT`` of the reachable SLURM cluster, or None without one (no sinfo, no answer)."""
    exe = shutil.which("sinfo")
    if exe is None:
        return None
    try:
        return subprocess.run(
            [exe, "-h", "-o", fmt], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def slurm_partitions() -> list[str] | None:
    """Partitions of the reachable SLURM cluster, or None without one (no sinfo, no answer)."""
    out = sinfo("%R")
    return None if out is None else [line.strip() for line in out.splitlines() if line.strip()]


def check_resources(
    rules: Mapping[str, tuple[object, Mapping[str, object]]],
    available_partitions: Iterable[str] | None = None,
) -> None:
    """Raise ResourceError listing every bad value; `rules` maps a rule to (threads, resources).

    Partitions are checked only when `available_partitions` is given (a SLURM cluster answered).
    """
    problems = []
    requested: dict[str, set[str]] = {}
    for rule, (threads, resources) in rules.items():
        problems += resource_problems(rule, threads, resources)
        partition = resources.get("slurm_partition")
        if isinstance(partition, str) and partition.strip():
            requested.setdefault(partition, set()).add(rule)
    if available_partitions is not None:
        problems += partition_problems(requested, available_partitions)
    if problems:
        raise ResourceError(
            "bad job resources (from the rules, a profile, --set-resources, --set-threads or "
            "--default-resources):\n  " + "\n  ".join(problems)
        )
