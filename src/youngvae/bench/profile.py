"""Same-process measurements: interleaved A/B train steps, per-layer times, input-pipeline rate."""

from __future__ import annotations

import math
import time

import numpy as np

from youngvae.bench.flops import layer_flops
from youngvae.bench.worker import bench_images, make_steps


def _step_fn(trainer: str, precision: str, image_size: int, batch: int, xla: bool = False,
             train: dict | None = None):
    """A zero-argument callable running one train step of the given trainer (TensorFlow)."""
    _, train_one, _ = make_steps(trainer, precision, bench_images(batch, image_size), batch, xla, train)
    return lambda: train_one(0)


def ab_compare(variants: dict, image_size: int = 256, batch: int = 32, rounds: int = 6,
               warmup: int = 2) -> dict:
    """Interleaved A/B/... steps in ONE process (same threads, same moment's machine load).

    ``variants``: name -> (trainer, precision) or (trainer, precision, TrainConfig settings of
    the youngvae trainer). Each round runs one step of every variant, in a
    rotating order, so a load that comes and goes hits all of them alike. Returns per variant the
    step times, median, min and the ratio of medians against the first variant (the baseline),
    plus the median of the per-round ratios (robust to slow load changes).
    """
    fns = {name: _step_fn(v[0], v[1], image_size, batch, train=v[2] if len(v) > 2 else None)
           for name, v in variants.items()}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t)
    base = names[0]
    out = {}
    for name in names:
        per_round = [b / t for b, t in zip(times[base], times[name])]
        out[name] = {
            "step_times": times[name],
            "median": float(np.median(times[name])),
            "min": float(np.min(times[name])),
            "speedup_vs_" + base: float(np.median(times[base]) / np.median(times[name])),
            "median_round_speedup": float(np.median(per_round)),
        }
    return out


#: ``python -m youngvae.bench --ab``: the train step against both plain Keras baselines.
AB_VARIANTS = {
    "plain Keras float32": ("keras", "float32"),
    "plain Keras mixed_bfloat16": ("keras", "mixed_bfloat16"),
    "youngvae train, mixed_bfloat16": ("youngvae", "mixed_bfloat16"),
    "youngvae train, mixed_bfloat16, output_conv compute": ("youngvae", "mixed_bfloat16",
                                                            {"output_conv": "compute"}),
}


def ab_table(result: dict) -> str:
    """Markdown table of :func:`ab_compare`'s result: median and min ms per step, and each
    variant's speed-up over every earlier variant (ratio of medians; > 1 = faster)."""
    names = list(result)
    header = "| variant | median ms | min ms | " + " | ".join(f"× {n}" for n in names[:-1]) + " |"
    lines = [header, "|" + "---|" * (3 + len(names) - 1)]
    for i, name in enumerate(names):
        r = result[name]
        ratios = [f"{result[b]['median'] / r['median']:.2f}" if j < i else "" for j, b in enumerate(names[:-1])]
        lines.append(f"| {name} | {r['median'] * 1e3:.1f} | {r['min'] * 1e3:.1f} | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


# ---- profiling ----------------------------------------------------------------------------


def layer_time_table(image_size: int = 256, batch_size: int = 32, precision: str = "mixed_bfloat16",
                     repeats: int = 3, step_time_s: float | None = None, plain_keras: bool = False) -> str:
    """Per-layer forward and forward+backward time (TensorFlow, this process' threads), Markdown.

    Each Conv2D/Conv2DTranspose/Dense layer of the VAE is run alone, in a tf.function, on an
    input of its real shape and dtype; forward+backward takes the gradient with respect to the
    weights and (except the first layer) the input, as in training. Best of ``repeats``.
    """
    import tensorflow as tf

    from youngvae.vae.model import build_vae

    vae = build_vae(image_size, 1, precision=precision, plain_keras=plain_keras)
    flops = {r["layer"]: r["flops"] for r in layer_flops(vae)}
    rng = np.random.default_rng(0)
    rows, total_fwd, total_train = [], 0.0, 0.0
    first = True
    for model in (vae.encoder, vae.decoder):
        for layer in model.layers:
            name = f"{model.name}/{layer.name}"
            if name not in flops:
                continue
            shape = (batch_size, *layer.input.shape[1:])
            x = tf.cast(tf.constant(rng.uniform(0, 1, shape).astype("float32")), layer.compute_dtype)
            need_input_grad = not first
            first = False

            @tf.function
            def fwd(x, layer=layer):
                return tf.reduce_sum(tf.cast(layer(x), "float32"))

            @tf.function
            def train(x, layer=layer, need_input_grad=need_input_grad):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.reduce_sum(tf.cast(layer(x), "float32"))
                sources = list(layer.trainable_weights) + ([x] if need_input_grad else [])
                return [tf.reduce_sum(tf.cast(g, "float32")) for g in tape.gradient(y, sources)]

            times = {}
            for key, fn in (("fwd", fwd), ("train", train)):
                best = math.inf
                for _ in range(repeats + 1):
                    t = time.perf_counter()
                    [float(v) for v in tf.nest.flatten(fn(x))]
                    best = min(best, time.perf_counter() - t)
                times[key] = best
            total_fwd += times["fwd"]
            total_train += times["train"]
            rows.append((name, type(layer).__name__, shape, flops[name], times))
    train_flops = 3 * sum(flops.values()) - next(iter(flops.values()))
    lines = [
        f"Per-layer time, {precision}, batch {batch_size}, {image_size}², best of {repeats}"
        f" (each layer alone in a tf.function; train = forward + weight and input gradients)",
        "",
        "| layer | kind | input | GFLOP fwd (batch) | fwd ms | fwd+bwd ms | fwd+bwd GFLOP/s | share of fwd+bwd |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, (name, kind, shape, f, times) in enumerate(rows):
        batch_flops = f * batch_size * (3 if i else 2)
        lines.append(
            f"| {name} | {kind} | {'×'.join(map(str, shape[1:]))} | {f * batch_size / 1e9:.2f} "
            f"| {1e3 * times['fwd']:.1f} | {1e3 * times['train']:.1f} "
            f"| {batch_flops / times['train'] / 1e9:.0f} | {100 * times['train'] / total_train:.0f} % |"
        )
    lines.append(
        f"| **sum** | | | {sum(flops.values()) * batch_size / 1e9:.2f} | {1e3 * total_fwd:.1f} "
        f"| {1e3 * total_train:.1f} | {train_flops * batch_size / total_train / 1e9:.0f} | 100 % |"
    )
    if step_time_s:
        lines += ["", f"Whole train step (measured separately): {1e3 * step_time_s:.0f} ms; "
                  f"the layers' fwd+bwd sum is {100 * total_train / step_time_s:.0f} % of it."]
    return "\n".join(lines) + "\n"


def input_pipeline_rates(store_path, indices=None, batch_size: int = 32,
                         s_per_step: float | None = None, repeats: int = 2) -> dict:
    """Samples/s read from the Zarr store (as training reads it) vs samples/s training consumes.

    ``s_per_step`` is the training step time at ``batch_size`` (measure it with the benchmark);
    the ratio read/consume must be >= 10 for the input not to matter.
    """
    from youngvae.data import store

    n = len(store.read_wavelengths(store_path))
    indices = np.arange(n) if indices is None else np.asarray(indices)
    best = math.inf
    nbytes = 0
    for _ in range(repeats):
        t = time.perf_counter()
        images = store.read_complete_images(store_path, indices)
        best = min(best, time.perf_counter() - t)
        nbytes = images.nbytes
    read_rate = len(indices) / best
    out = {"samples": int(len(indices)), "read_s": best, "read_samples_per_s": read_rate,
           "read_mb_per_s": nbytes / best / 2**20}
    if s_per_step:
        consume = batch_size / s_per_step
        out.update(train_samples_per_s=consume, ratio=read_rate / consume)
    return out
