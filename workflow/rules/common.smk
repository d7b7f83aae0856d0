# Helpers shared by every stage: config checks, the chunk plan, input functions, resources.
from youngvae.checks.config import check_config
from youngvae.checks.resources import check_resources, slurm_partitions
from youngvae.physics.plan import ChunkPlan

# Cross-key checks (min < max, chunk_size divides n_samples, ...): fail before any job runs.
check_config(config)

PLAN = ChunkPlan.from_config(config["dataset"])
STORE = "results/dataset.zarr"


wildcard_constraints:
    chunk=r"\d{4}",


def chunk_markers():
    return expand("results/dataset/chunks/{chunk}.json", chunk=PLAN.chunk_ids())


def chunk_wavelengths_m(wildcards):
    """This chunk's wavelengths: a param, so a change reruns exactly the chunks it touches."""
    return PLAN.chunk_wavelengths_m(int(wildcards.chunk)).tolist()


def chunk_index(wildcards):
    return int(wildcards.chunk)


# Job sizes. Every rule declares threads, mem_mb (MB) and runtime (minutes), sized from the
# config below; cluster profiles only map them (SLURM: --cpus-per-task, --mem, -t). Memory and
# runtime grow with the attempt number, so `--retries 1` resubmits an OOM/TIMEOUT job bigger.
# Threads of the TensorFlow rules: locally Snakemake gives min(TF_THREADS, --cores); on a cluster
# each job asks for TF_THREADS cores. Change per rule with `--set-threads train=N`.
TF_THREADS = 8


def images_mb(n_samples):
    """MB of `n_samples` float32 patterns."""
    return n_samples * config["geometry"]["pixels"] ** 2 * 4 / 2**20


def small_mem_mb(wildcards, attempt):
    """Bookkeeping jobs (plan, create the empty store): the interpreter and its imports."""
    return 1000 * attempt


def store_mem_mb(wildcards, attempt):
    """Jobs that read the store (validation, plots, encoding): one copy of it, twice over."""
    return int(1000 + 2 * images_mb(config["dataset"]["n_samples"])) * attempt


def store_runtime_min(wildcards, attempt):
    """Minutes to read the store once (~1 s per 100 MB) plus start-up; at least 10."""
    return int(10 + images_mb(config["dataset"]["n_samples"]) / 100 / 60) * attempt


def simulate_runtime_min(wildcards, attempt):
    """One chunk: ~0.2 s per pattern per 1024² fine grid (LightPipes Forvard), at least 30."""
    fine = config["geometry"]["pixels"] * config["simulation"].get("oversample", 4)
    seconds = PLAN.chunk_size * 0.2 * (fine / 1024) ** 2
    return max(30, int(10 + 5 * seconds / 60)) * attempt


def simulate_mem_mb(wildcards, attempt):
    """Memory of one simulation job: the chunk's images plus LightPipes' fine complex grid."""
    n = config["geometry"]["pixels"]
    fine = n * config["simulation"].get("oversample", 4)
    grid_mb = fine * fine * 16 * 8 / 2**20
    return int(500 + 3 * images_mb(PLAN.chunk_size) + grid_mb) * attempt


def dataset_outputs():
    return [
        "results/dataset/validation.json",
        "results/dataset/wavelength_histogram.png",
        "results/dataset/example_patterns.png",
    ]


def train_mem_mb(wildcards, attempt):
    """The train + validation images in memory (float32), the model and its optimizer state."""
    split_mb = images_mb(config["train"]["n_train"] + config["train"]["n_val"])
    return int(3000 + 3 * split_mb) * attempt


def train_runtime_min(wildcards, attempt):
    """Minutes: ~60 s per paper-scale epoch on 2 CPU cores, scaled by pixels² and samples."""
    n = config["geometry"]["pixels"]
    per_epoch_s = 60 * (n / 256) ** 2 * (config["train"]["n_train"] / 2048)
    return int(10 + config["train"]["epochs"] * per_epoch_s / 60 * 2) * attempt


def model_outputs():
    return [
        "results/model/vae.keras",
        "results/train/history.csv",
        "results/encode/metrics.json",
        "results/decode/metrics.json",
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


def check_job_resources():
    """Stop before any job on resources that cannot work: threads < 1, mem_mb or runtime <= 0,
    a SLURM partition the cluster does not have (checked where `sinfo` answers, in the main
    process only). Sees the values of the rules after profiles, --set-resources, --set-threads
    and --default-resources are applied."""
    rules = {}
    for spec in workflow.rules:
        threads = evaluated(spec.resources["_cores"])
        values = {
            name: evaluated(res, threads if isinstance(threads, int) else 1)
            for name, res in spec.resources.items()
            if not name.startswith("_")
        }
        rules[spec.name] = (threads, values)
    wants_partition = any(v.get("slurm_partition") for _, v in rules.values())
    main_process = not (workflow.remote_exec or workflow.subprocess_exec)
    partitions = slurm_partitions() if wants_partition and main_process else None
    check_resources(rules, partitions)
