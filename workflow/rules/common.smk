# Helpers shared by every stage: config checks, the chunk plan, input functions, resources.
from youngvae.config import check_config
from youngvae.plan import ChunkPlan

# Cross-key checks (min < max, chunk_size divides n_samples, ...): fail before any job runs.
check_config(config)

PLAN = ChunkPlan.from_config(config)
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


def simulate_mem_mb(wildcards, attempt):
    """Memory of one simulation job: the chunk's images plus LightPipes' fine complex grid."""
    n = config["geometry"]["pixels"]
    fine = n * config["simulation"].get("oversample", 4)
    images_mb = PLAN.chunk_size * n * n * 4 * 3 / 2**20
    grid_mb = fine * fine * 16 * 8 / 2**20
    return int(500 + images_mb + grid_mb) * attempt


def dataset_outputs():
    return [
        "results/dataset/validation.json",
        "results/dataset/wavelength_histogram.png",
        "results/dataset/example_patterns.png",
    ]


def train_mem_mb(wildcards, attempt):
    """The train + validation images in memory (float32), the model and its optimizer state."""
    n = config["geometry"]["pixels"]
    images_mb = (
        (config["train"]["n_train"] + config["train"]["n_val"]) * n * n * 4 / 2**20
    )
    return int(3000 + 3 * images_mb) * attempt


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


def get_final_outputs():
    return dataset_outputs() + model_outputs()
