"""The chunk plan: which wavelengths each simulation job draws.

Each chunk's wavelengths come from a NumPy Generator seeded with ``[seed, chunk_index]``: they
depend on nothing but the seed, the distribution and the chunk's index, so a job can compute its
own wavelengths without reading a shared file, and every chunk is reproducible alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import truncnorm

NM = 1e-9


@dataclass(frozen=True)
class WavelengthDistribution:
    """A Gaussian of the wavelength truncated to [min_nm, max_nm]."""

    mean_nm: float
    std_nm: float
    min_nm: float
    max_nm: float

    @classmethod
    def from_config(cls, cfg: dict) -> WavelengthDistribution:
        return cls(
            float(cfg["mean_nm"]),
            float(cfg["std_nm"]),
            float(cfg["min_nm"]),
            float(cfg["max_nm"]),
        )

    def _frozen(self):
        a = (self.min_nm - self.mean_nm) / self.std_nm
        b = (self.max_nm - self.mean_nm) / self.std_nm
        return truncnorm(a, b, loc=self.mean_nm, scale=self.std_nm)

    def sample_nm(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._frozen().rvs(size=n, random_state=rng)

    def pdf_nm(self, wavelength_nm: np.ndarray) -> np.ndarray:
        return self._frozen().pdf(wavelength_nm)


@dataclass(frozen=True)
class ChunkPlan:
    n_samples: int
    chunk_size: int
    seed: int
    wavelength: WavelengthDistribution

    def __post_init__(self) -> None:
        if self.chunk_size < 1 or self.n_samples % self.chunk_size:
            raise ValueError(
                f"chunk_size ({self.chunk_size}) must be >= 1 and divide n_samples "
                f"({self.n_samples})"
            )

    @classmethod
    def from_config(cls, dataset: dict) -> ChunkPlan:
        """Build from the config's ``dataset`` section."""
        ds = dataset
        return cls(
            int(ds["n_samples"]),
            int(ds["chunk_size"]),
            int(ds["seed"]),
            WavelengthDistribution.from_config(ds["wavelength"]),
        )

    @property
    def n_chunks(self) -> int:
        return self.n_samples // self.chunk_size

    def chunk_ids(self) -> list[str]:
        """Chunk names used in file paths: zero-padded indices, sorted as text and as numbers."""
        return [chunk_id(i) for i in range(self.n_chunks)]

    def chunk_slice(self, index: int) -> slice:
        self._check_index(index)
        return slice(index * self.chunk_size, (index + 1) * self.chunk_size)

    def chunk_wavelengths_m(self, index: int) -> np.ndarray:
        self._check_index(index)
        rng = np.random.default_rng([self.seed, index])
        return self.wavelength.sample_nm(self.chunk_size, rng) * NM

    def all_wavelengths_m(self) -> np.ndarray:
        return np.concatenate([self.chunk_wavelengths_m(i) for i in range(self.n_chunks)])

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.n_chunks:
            raise IndexError(f"chunk index {index} outside 0..{self.n_chunks - 1}")


def chunk_id(index: int) -> str:
    return f"{index:04d}"
