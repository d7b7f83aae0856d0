# Young's double-aperture diffraction -> Zarr dataset -> VAE -> analysis.
# Reproduces "Shedding Light on Variational Autoencoders" (2018); see README.md.
import os
import sys

from snakemake.utils import min_version, validate

# The domain package lives in src/; jobs (local, conda or cluster) find it via PYTHONPATH.
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
)


min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/studies.smk"


# Every rule's threads and resources, after profiles and --set-resources: fail before any job.
check_job_resources()
# What the config implies in bytes (printed, dry runs too); a store larger than the free disk stops here.
check_sizes()


# Once the executor is known (real runs): jobs must fit this machine or the SLURM partition's largest node.
onstart:
    check_machine_fits()


rule all:
    default_target: True
    input:
        get_final_outputs(),
