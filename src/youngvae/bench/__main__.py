"""``python -m youngvae.bench``: the per-layer table (``--layers``), the layer routes against the
stock layers (``--routes``), oneDNN's primitive times of one step (``--primitives``), the
``train`` step against both plain Keras baselines in one process (``--ab``), or one worker
(internal)."""

from __future__ import annotations

import argparse
import os
import sys

from youngvae.bench.primitives import primitive_table, profile_train_step
from youngvae.bench.profile import AB_VARIANTS, ab_compare, ab_table, layer_time_table
from youngvae.bench.routes import route_table
from youngvae.bench.worker import worker_main
from youngvae.threads import configure_threads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m youngvae.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help="(internal) run one setting given as JSON")
    parser.add_argument("--layers", action="store_true", help="print the per-layer time table")
    parser.add_argument("--routes", action="store_true",
                        help="time each layer route against its stock layer and check the identity")
    parser.add_argument("--primitives", action="store_true",
                        help="oneDNN primitive times of one train step (fresh process, ONEDNN_VERBOSE)")
    parser.add_argument("--ab", action="store_true",
                        help="the train step against plain float32 and mixed_bfloat16 Keras, one process, interleaved")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds for --routes and --ab")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--plain-keras", action="store_true", help="stock Conv2D output layer")
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.layers or args.routes or args.ab:
        threads = args.threads or os.cpu_count() or 1
        configure_threads(threads, 1)
    if args.primitives:
        records, seconds = profile_train_step(args.image_size, args.batch_size, args.precision, args.threads)
        print(f"oneDNN primitives of one `train` step, {args.precision}, batch {args.batch_size}, "
              f"{args.image_size}²\n")
        print(primitive_table(records, seconds))
        return 0
    if args.ab:
        result = ab_compare(AB_VARIANTS, args.image_size, args.batch_size, rounds=args.rounds)
        print(f"One train step, batch {args.batch_size}, {args.image_size}², one process, "
              f"{args.rounds} interleaved rounds after 2 warm-up steps each\n")
        print(ab_table(result))
        return 0
    if args.routes:
        dtype = "float32" if args.precision == "float32" else "bfloat16"
        print(route_table(args.image_size, args.batch_size, dtype, args.rounds))
        return 0
    if args.layers:
        print(layer_time_table(args.image_size, args.batch_size, args.precision,
                               plain_keras=args.plain_keras))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
