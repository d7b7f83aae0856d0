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


def get_final_outputs():
    return dataset_outputs()
