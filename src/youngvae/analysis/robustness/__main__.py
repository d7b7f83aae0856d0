"""The command line of :mod:`youngvae.analysis.robustness` (``python -m
youngvae.analysis.robustness --help``): the robustness studies of a config, whatever runs have
finished, against the ideal runs given."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from youngvae.analysis.robustness import RHO_LEVEL, robustness_studies, write_curves


def merge(into: dict, new: Mapping) -> dict:
    """Merge ``new`` into ``into`` recursively (mappings merge, anything else replaces)."""
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), Mapping):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m youngvae.analysis.robustness",
                                     description="Robustness curves: every robustness study against the ideal data.")
    parser.add_argument("--config", nargs="+", default=["config.yaml"],
                        help="the config file(s) whose studies to read, merged as Snakemake's "
                             "--configfile merges them (later files win)")
    parser.add_argument("--studies", nargs="+", help="study names (default: every robustness_*)")
    parser.add_argument("--root", default=".", help="the workflow directory holding results/")
    parser.add_argument("--baseline", nargs="*", default=[],
                        help="encode/metrics.json of ideal runs with the same recipe")
    parser.add_argument("--figure", help="write the curves to this PNG")
    parser.add_argument("--csv", help="write one row per finished run to this CSV")
    parser.add_argument("--level", type=float, default=RHO_LEVEL, help="the |ρ| level (0.99)")
    args = parser.parse_args(argv)

    for p in args.baseline:
        if not Path(p).is_file():
            parser.error(f"--baseline: no file {p}")
    config: dict = {}
    for path in args.config:
        merge(config, yaml.safe_load(Path(path).read_text()) or {})
    text = write_curves(robustness_studies(config, args.studies), args.baseline, root=args.root,
                        figure=args.figure, csv=args.csv, level=args.level)
    print(text, end="")
    if args.figure:
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
