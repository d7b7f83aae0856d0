#!/usr/bin/env python3
"""Cluster job status for snakemake-executor-plugin-cluster-generic.

Called as `status.py <jobid>`; prints exactly one of `running`, `success`, `failed`.
The scheduler comes from $SCHEDULER (pbs, sge, lsf, slurm) or from the first of
qstat/bjobs/squeue found on PATH (qstat: PBS, unless $SGE_ROOT is set). A job the scheduler no
longer knows and whose result cannot be found is reported `failed`, never `running` forever.
Standard library only: it runs with whatever python3 the login node has.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys


def run(*cmd: str) -> tuple[int, str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        return 127, str(err)
    return proc.returncode, proc.stdout + proc.stderr


def pbs_status(jobid: str) -> str:
    """PBS Pro/OpenPBS: `qstat -x -f` keeps finished jobs (job_state F, Exit_status)."""
    code, out = run("qstat", "-x", "-f", jobid)
    if code != 0:
        # Torque has no -x; finished jobs stay a while as state C with exit_status.
        code, out = run("qstat", "-f", jobid)
        if code != 0:
            return "failed"
    state = re.search(r"job_state = (\w)", out)
    exit_status = re.search(r"(?i)exit_status = (-?\d+)", out)
    if state and state.group(1) in ("F", "C"):
        return "success" if exit_status and exit_status.group(1) == "0" else "failed"
    return "running"


def sge_status(jobid: str) -> str:
    """SGE/UGE: `qstat -j` while queued or running, `qacct -j` once finished."""
    code, out = run("qstat", "-j", jobid)
    if code == 0 and "jobs do not exist" not in out:
        return "failed" if re.search(r"(?m)^error reason", out) else "running"
    code, out = run("qacct", "-j", jobid)
    if code != 0:
        return "running"  # accounting lags a few seconds behind the end of a job
    failed = re.search(r"(?m)^failed\s+(\d+)", out)
    exit_status = re.search(r"(?m)^exit_status\s+(\d+)", out)
    ok = failed and failed.group(1) == "0" and exit_status and exit_status.group(1) == "0"
    return "success" if ok else "failed"


def lsf_status(jobid: str) -> str:
    """LSF: DONE or EXIT once finished (bjobs keeps them for CLEAN_PERIOD)."""
    code, out = run("bjobs", "-noheader", "-o", "stat", jobid)
    stat = out.strip().split()[-1] if out.strip() else ""
    if code != 0 or "not found" in out:
        return "failed"
    if stat == "DONE":
        return "success"
    if stat == "EXIT":
        return "failed"
    return "running"


SLURM_RUNNING = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING",
                 "SUSPENDED", "STAGE_OUT", "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED"}


def slurm_status(jobid: str) -> str:
    """SLURM: squeue while the controller remembers the job (MinJobAge), else sacct."""
    code, out = run("squeue", "-h", "--states=all", "-o", "%T", "-j", jobid)
    state = out.strip().split()[0] if code == 0 and out.strip() else ""
    if not state:
        code, out = run("sacct", "-n", "-X", "-P", "-o", "State", "-j", jobid)
        state = out.strip().split()[0] if code == 0 and out.strip() else ""
    if not state:
        return "failed"
    if state == "COMPLETED":
        return "success"
    return "running" if state in SLURM_RUNNING else "failed"


STATUS = {"pbs": pbs_status, "sge": sge_status, "lsf": lsf_status, "slurm": slurm_status}


def scheduler() -> str:
    if name := os.environ.get("SCHEDULER", "").lower():
        if name not in STATUS:
            sys.exit(f"status.py: SCHEDULER={name!r}: use one of {', '.join(STATUS)}")
        return name
    if shutil.which("qstat"):
        return "sge" if os.environ.get("SGE_ROOT") else "pbs"
    if shutil.which("bjobs"):
        return "lsf"
    if shutil.which("squeue"):
        return "slurm"
    sys.exit("status.py: no qstat, bjobs or squeue on PATH; set SCHEDULER")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.exit("usage: status.py <jobid>")
    # LSF's "Job <123> is submitted ..." or PBS's "123.server": the scheduler's own id.
    jobid = argv[1].strip()
    if m := re.match(r"Job <(\d+)>", jobid):
        jobid = m.group(1)
    print(STATUS[scheduler()](jobid))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
