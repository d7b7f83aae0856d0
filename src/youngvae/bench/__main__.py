"""``python -m youngvae.bench``: the per-layer table (``--layers``), or one worker (internal)."""

from __future__ import annotations

import argparse
import os
import sys

from youngvae.bench.profile import layer_time_table
from youngvae.bench.worker import worker_main
from youngvae.threads import configure_threads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m youngvae.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help="(internal) run one setting given as JSON")
    parser.add_argument("--layers", action="store_true", help="print the per-layer time table")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--plain-keras", action="store_true", help="stock Conv2D output layer")
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.layers:
        threads = args.threads or os.cpu_count() or 1
        configure_threads(threads, 1)
        print(layer_time_table(args.image_size, args.batch_size, args.precision,
                               plain_keras=args.plain_keras))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
