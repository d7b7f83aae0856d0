"""The command line of :mod:`youngvae.analysis.robustness` (``python -m
youngvae.analysis.robustness --help``): the robustness studies of a config, whatever runs have
finished, against the ideal runs given."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import yaml
from snakemake.utils import update_config

from youngvae.analysis.robustness import RHO_LEVEL, robustness_studies, write_curves


def load_configs(paths: Sequence[str | Path]) -> dict:
    """The config of several files merged as Snakemake's ``--configfile`` merges them: mappings
    key by key, anything else replaced by the later file (Snakemake's own ``update_config``)."""
    config: dict = {}
    for path in paths:
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    return config


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
    parser.add_argument("--earlier", nargs="*", default=[],
                        help="one-row-per-run CSVs of earlier runs (this command's --csv, e.g. kept in "
                             "docs/figures/): their runs count as finished unless results/ has them")
    parser.add_argument("--source", default="",
                        help="where this root's runs were made (e.g. the session and machine), "
                             "written before their path in the CSV's source column")
    parser.add_argument("--figure", help="write the curves to this PNG")
    parser.add_argument("--csv", help="write one row per finished run to this CSV")
    parser.add_argument("--level", type=float, default=RHO_LEVEL, help="the |ρ| level (0.99)")
    parser.add_argument("--label", default="", help="a first line for the figure's title (e.g. the recipe)")
    args = parser.parse_args(argv)

    for option, paths in (("--baseline", args.baseline), ("--earlier", args.earlier)):
        for p in paths:
            if not Path(p).is_file():
                parser.error(f"{option}: no file {p}")
    text = write_curves(robustness_studies(load_configs(args.config), args.studies), args.baseline, root=args.root,
                        figure=args.figure, csv=args.csv, level=args.level, label=args.label,
                        earlier=args.earlier, source=args.source)
    print(text, end="")
    if args.figure:
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
