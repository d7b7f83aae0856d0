# Helpers shared by every stage: config checks, the chunk plan, input functions, resources.
import functools
import json
import os

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from youngvae.checks.config import check_config
from youngvae.checks import sizes
from youngvae.checks.resources import check_resources, sinfo, slurm_partitions
from youngvae.checks.studies import (
    dataset_name,
    expand_studies,
    study_datasets,
    varied_keys,
)
from youngvae.physics.plan import ChunkPlan
from youngvae.physics.systematics import Systematics

# Cross-key checks (min < max, chunk_size divides n_samples, ...): fail before any job runs.
check_config(config)


@functools.cache
def _chunk_plan(dataset_json):
    return ChunkPlan.from_config(json.loads(dataset_json))


def chunk_plan(dataset):
    """The ChunkPlan of a `dataset` section (cached: input functions ask for it per job)."""
    return _chunk_plan(json.dumps(dataset, sort_keys=True))


PLAN = chunk_plan(config["dataset"])
STORE = "results/dataset.zarr"


wildcard_constraints:
    chunk=r"\d{4}",


def chunk_markers():
    return expand("results/dataset/chunks/{chunk}.json", chunk=PLAN.chunk_ids())


def chunk_wavelengths_m(wildcards):
    """This chunk's wavelengths: a param, so a change reruns exactly the chunks it touches."""
    return job_plan(wildcards).chunk_wavelengths_m(int(wildcards.chunk)).tolist()


def chunk_size(wildcards):
    return job_plan(wildcards).chunk_size


def store_simulation(wildcards):
    """init_store's `simulation` param: the job's simulation section, with its `systematics`
    inside only when an effect is on. An ideal store keeps the params it had before systematics
    existed, so adding the (all-off) section reruns nothing; the chunk jobs read the
    systematics back from the store's attributes (a changed one re-inits the store, which
    reruns every chunk)."""
    cfg = job_config(wildcards)
    section = cfg.get("systematics")
    if Systematics.from_config(section).ideal:
        return cfg["simulation"]
    return canonical({**cfg["simulation"], "systematics": section})


def chunk_index(wildcards):
    return int(wildcards.chunk)


# Job sizes. Every rule declares threads, mem_mb (MB) and runtime (minutes), sized from the
# config by youngvae.checks.sizes; cluster profiles only map them (SLURM: --cpus-per-task, --mem,
# -t). Memory and runtime grow with the attempt number, so `--retries 1` resubmits an
# OOM/TIMEOUT job bigger. Threads of the TensorFlow rules: locally Snakemake gives
# min(TF_THREADS, --cores); on SLURM each job asks for TF_THREADS cores, capped at the largest
# node of the cluster (tf_threads). Change per rule with `--set-threads train=N`.
TF_THREADS = 8
MAIN_PROCESS = not (workflow.remote_exec or workflow.subprocess_exec)


def executor_name():
    """'local', 'slurm', 'dryrun', ... once Snakemake has chosen its executor (None while parsing)."""
    plugin = workflow.executor_plugin
    return plugin.name if plugin is not None else None


@functools.cache
def slurm_nodes():
    """Nodes of the reachable SLURM cluster (partition, CPUs, MB), [] without one."""
    return sizes.parse_sinfo(sinfo("%P %c %m") or "")


def tf_threads(wildcards=None):
    """TF_THREADS, capped on SLURM at the CPUs of the cluster's largest node: a job asking for
    more than any node has would stay pending forever (squeue reason PartitionConfig).
    """
    if executor_name() == "slurm" and slurm_nodes():
        return min(TF_THREADS, max(node.cpus for node in slurm_nodes()))
    return TF_THREADS


def job_config(wildcards=None):
    """The config of a job: a study run's (wildcards study and run), a study dataset store's
    (wildcard ds, its dataset-side sections), else the main config (also for wildcards None).
    """
    keys = wildcards.keys() if wildcards is not None else ()
    if "run" in keys:
        return run_config(wildcards)
    if "ds" in keys:
        return DATASETS[wildcards.ds]
    return config


def job_plan(wildcards=None):
    """The chunk plan of the job's dataset store."""
    return chunk_plan(job_config(wildcards)["dataset"])


def job_pixels_and_samples(wildcards):
    cfg = job_config(wildcards)
    return cfg["geometry"]["pixels"], cfg["dataset"]["n_samples"]


def small_mem_mb(wildcards, attempt):
    """Bookkeeping jobs (plan, create the empty store): the interpreter and its imports."""
    return 1000 * attempt


def store_mem_mb(wildcards, attempt):
    """Jobs that read the store (validation, plots, encoding): one copy of it, twice over."""
    pixels, n_samples = job_pixels_and_samples(wildcards)
    return sizes.store_mem_mb(n_samples, pixels) * attempt


def store_runtime_min(wildcards, attempt):
    """Minutes to read the store once (~1 s per 100 MB) plus start-up; at least 10."""
    pixels, n_samples = job_pixels_and_samples(wildcards)
    return int(10 + sizes.images_mb(n_samples, pixels) / 100 / 60) * attempt


def simulate_runtime_min(wildcards, attempt):
    """One chunk: ~0.2 s per pattern per 1024² fine grid (LightPipes Forvard), at least 30."""
    cfg = job_config(wildcards)
    fine = cfg["geometry"]["pixels"] * cfg["simulation"].get("oversample", 4)
    seconds = job_plan(wildcards).chunk_size * 0.2 * (fine / 1024) ** 2
    return max(30, int(10 + 5 * seconds / 60)) * attempt


def simulate_mem_mb(wildcards, attempt):
    """One simulation job: the chunk's images plus LightPipes' fine complex grid."""
    cfg = job_config(wildcards)
    oversample = cfg["simulation"].get("oversample", 4)
    return (
        sizes.simulate_mem_mb(
            job_plan(wildcards).chunk_size, cfg["geometry"]["pixels"], oversample
        )
        * attempt
    )


def dataset_outputs():
    return [
        "results/dataset/validation.json",
        "results/dataset/wavelength_histogram.png",
        "results/dataset/example_patterns.png",
    ]


def train_mem_mb(wildcards, attempt):
    """The train + validation images in memory (float32), the model and its optimizer state."""
    cfg = job_config(wildcards)
    tr, pixels = cfg["train"], cfg["geometry"]["pixels"]
    mb = sizes.train_mem_mb(tr["n_train"], tr["n_val"], pixels, tr.get("latent_dim", 1))
    return mb * attempt


def train_runtime_min(wildcards, attempt):
    """Minutes: ~60 s per paper-scale epoch on 2 CPU cores, scaled by pixels² and samples."""
    cfg = job_config(wildcards)
    tr, pixels = cfg["train"], cfg["geometry"]["pixels"]
    per_epoch_s = 60 * (pixels / 256) ** 2 * (tr["n_train"] / 2048)
    return int(10 + tr["epochs"] * per_epoch_s / 60 * 2) * attempt


def model_outputs():
    return [
        "results/model/vae.keras",
        "results/train/history.csv",
        "results/encode/metrics.json",
        "results/decode/metrics.json",
        "results/generated/generated_vs_real.json",
    ]


def report_outputs():
    """The tables `snakemake --report` shows beside the figures (workflow/rules/report.smk)."""
    return [
        "results/report/training_history.html",
        "results/report/encode_metrics.html",
        "results/report/decode_metrics.html",
        "results/report/job_benchmarks.html",
    ]


def benchmark_outputs():
    return [
        "results/benchmark/benchmark.csv",
        "results/benchmark/machine.json",
        "results/benchmark/table_iv.md",
        "results/benchmark/epoch_time_vs_threads.png",
    ]


def get_final_outputs():
    in_all = config.get("benchmark", {}).get("in_default_target", False)
    benchmark = benchmark_outputs() if in_all else []
    return dataset_outputs() + model_outputs() + benchmark + report_outputs()


def evaluated(resource, threads=1):
    """A resource's value for attempt 1, or None where it needs a job (its input files)."""
    try:
        value = resource.evaluate(
            None, input=[], attempt=1, threads=threads, rulename="", async_run=None
        )
        return value.value
    except Exception:
        return None


def rule_resources():
    """{rule: (threads, {resource: value})} for attempt 1, after profiles, --set-resources,
    --set-threads and --default-resources are applied."""
    rules = {}
    for spec in workflow.rules:
        threads = evaluated(spec.resources["_cores"])
        values = {
            name: evaluated(res, threads if isinstance(threads, int) else 1)
            for name, res in spec.resources.items()
            if not name.startswith("_")
        }
        rules[spec.name] = (threads, values)
    return rules


def check_job_resources():
    """Stop before any job on resources that cannot work: threads < 1, mem_mb or runtime <= 0,
    a SLURM partition the cluster does not have (checked where `sinfo` answers, in the main
    process only)."""
    rules = rule_resources()
    wants_partition = any(v.get("slurm_partition") for _, v in rules.values())
    partitions = slurm_partitions() if wants_partition and MAIN_PROCESS else None
    check_resources(rules, partitions)


def check_sizes():
    """Say what the config implies (dry runs too) and stop dataset stores (the main one and the
    studies') that cannot fit on the disk of results/, before any job (main process only).
    """
    if not MAIN_PROCESS:
        return
    stores = {STORE: config}
    stores.update(
        {f"{dataset_dir(name)}/dataset.zarr": cfg for name, cfg in DATASETS.items()}
    )
    needed = {
        path: sizes.store_bytes(cfg["dataset"]["n_samples"], cfg["geometry"]["pixels"])
        for path, cfg in stores.items()
    }
    text = sizes.summary(config)
    if DATASETS:
        text += (
            f"; {len(DATASETS)} study dataset store(s) under results/datasets/, "
            f"{sizes.human(sum(needed.values()) - needed[STORE])} together"
        )
    logger.info(text)
    where = (
        STORE if not DATASETS else f"{STORE} and the studies' under results/datasets/"
    )
    problem = sizes.disk_problem(
        sum(needed.values()),
        sum(sizes.directory_bytes(path) for path in stores),
        sizes.free_disk_bytes(STORE),
        where=where,
    )
    if problem:
        raise WorkflowError(problem)


def check_machine_fits():
    """Once the executor is known (onstart, real runs only): a local job must fit in this
    machine's memory; a SLURM job's threads and memory in the largest node of its partition.
    """
    rules = rule_resources()
    if executor_name() == "local":
        ram_mb = sizes.machine_memory_mb()
        problems = sizes.memory_problems(rules, ram_mb) if ram_mb else []
    elif executor_name() == "slurm":
        problems = sizes.node_problems(rules, slurm_nodes())
    else:
        problems = []
    if problems:
        raise WorkflowError(
            "jobs that cannot run here (estimates from the config; override with "
            "--set-resources / --set-threads):\n  " + "\n  ".join(problems)
        )


# ---- studies (workflow/rules/studies.smk) -------------------------------------------------
def check_run_config(run_config):
    """One study run's config: the main schema, then the cross-key checks."""
    validate(
        run_config,
        os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"),
    )
    check_config(run_config)


STUDIES = expand_studies(config, check_run_config)
RUNS = {(run.study, run.name): run for runs in STUDIES.values() for run in runs}
MAIN = {k: v for k, v in config.items() if k != "studies"}
# Dataset stores the studies need beyond the main one: {name: dataset-side sections}.
DATASETS = study_datasets(STUDIES, MAIN)


wildcard_constraints:
    study=r"[A-Za-z_][A-Za-z0-9_]*",
    run=r"[^/]+=[^/]+",
    ds=r"[^/]+=[^/]+",


def dataset_dir(name):
    """Where a dataset store and its files live: results/ for the main one (results/dataset.zarr,
    results/dataset/...), results/datasets/<name>/ for a study's."""
    return "results" if not name else f"results/datasets/{name}"


def run_dataset_dir(wildcards):
    return dataset_dir(dataset_name(RUNS[(wildcards.study, wildcards.run)]))


def run_store(wildcards):
    return f"{run_dataset_dir(wildcards)}/dataset.zarr"


def run_validation(wildcards):
    return f"{run_dataset_dir(wildcards)}/dataset/validation.json"


def ds_section(section):
    """A params function of a study dataset store's job: one of its dataset-side sections."""

    def params(wildcards):
        return canonical(DATASETS[wildcards.ds][section])

    return params


def ds_chunk_markers(wildcards):
    plan = job_plan(wildcards)
    return expand(
        "results/datasets/{ds}/dataset/chunks/{chunk}.json",
        ds=wildcards.ds,
        chunk=plan.chunk_ids(),
    )


def run_config(wildcards):
    """The complete config of one study run (the main config with its overrides)."""
    return RUNS[(wildcards.study, wildcards.run)].config(MAIN)


def canonical(value):
    """Mappings with their keys sorted, recursively: Snakemake compares params by their text,
    and a --configfile that sets a key moves it (and its section) in the merged mapping; the
    order must not look like a change."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    return value


def run_section(section):
    """A params function: one section of a study run's config (a change of that section in the
    main config reruns the run only where the run does not override the changed key).

    Canonical (sorted) where the run overrides a key of the section, and for `train` and
    `decode` (always so); otherwise the main config's section as it is, so a run that varies no
    dataset-side key has the params it had before dataset-side keys could vary."""

    def params(wildcards):
        values = run_config(wildcards)[section]
        overrides = RUNS[(wildcards.study, wildcards.run)].overrides
        overridden = any(key.split(".", 1)[0] == section for key, _ in overrides)
        if section in ("train", "decode"):
            return dict(sorted(values.items()))
        return canonical(values) if overridden else values

    return params


def study_checkpoint_dir(wildcards):
    return f"results/studies/{wildcards.study}/{wildcards.run}/train/checkpoint"


def study_run_files(wildcards):
    """The files of every run of one study that its summary reads, keyed by '<kind>/<run>'."""
    files = {}
    for run in STUDIES[wildcards.study]:
        base = f"results/studies/{wildcards.study}/{run.name}"
        files[f"history/{run.name}"] = f"{base}/train/history.csv"
        files[f"encode/{run.name}"] = f"{base}/encode/metrics.json"
        files[f"decode/{run.name}"] = f"{base}/decode/metrics.json"
        files[f"generated/{run.name}"] = f"{base}/generated/generated_vs_real.json"
        files[f"benchmark/{run.name}"] = (
            f"benchmarks/studies/{wildcards.study}/{run.name}/train.tsv"
        )
    return files


def study_keys(wildcards):
    return varied_keys(STUDIES[wildcards.study])


def study_run_overrides(wildcards):
    """[[run name, {dotted key: value}], ...]: a param, so adding a run reruns the summary."""
    return [[run.name, dict(run.overrides)] for run in STUDIES[wildcards.study]]
