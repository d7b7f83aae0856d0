"""Each layer route of :mod:`youngvae.vae.routes` against the stock layer it replaces, same run.

``python -m youngvae.bench --routes`` prints one row per route: forward + backward time (weight
gradients, and the input gradient except for the first layer, as in training) of the stock
computation and of the route at the paper's shapes, their ratio, and the identity check (largest
difference of the outputs and of every gradient, relative to the stock value's largest
magnitude, in the measured precision). Stock and route run in the same process, interleaved
round by round; times are medians. Bias and activation are included on both sides (the stock
forward fuses them into the convolution).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from youngvae.vae import routes as R
from youngvae.vae.gradients import accurate_bias_gradients


@dataclass(frozen=True)
class Case:
    """One comparison: ``stock`` and ``route`` are functions (x, *weights) → output."""

    name: str
    input_shape: tuple  # per sample, NHWC without the batch
    weight_shapes: tuple  # shapes of the stock weights
    stock: Callable
    route: Callable
    input_grad: bool = True
    note: str = ""


def _tf():
    import tensorflow as tf

    return tf


def _bias_act(y, bias, act):
    tf = _tf()
    y = tf.nn.bias_add(y, tf.cast(bias, y.dtype))
    return act(y) if act else y


def _conv(x, kernel, stride=1):
    tf = _tf()
    return tf.nn.conv2d(x, tf.cast(kernel, x.dtype), stride, "SAME")


def _deconv(x, kernel):
    tf = _tf()
    n, h, w, _ = x.shape
    return tf.nn.conv2d_transpose(x, tf.cast(kernel, x.dtype), [n, 2 * h, 2 * w, kernel.shape[2]], 2, "SAME")


def _depthwise_sum(x, kernel):
    """The decoder's OneFilterConv2D: a depthwise convolution summed over channels."""
    tf = _tf()
    y = tf.nn.depthwise_conv2d(x, tf.cast(kernel, x.dtype), [1, 1, 1, 1], "SAME")
    return tf.reduce_sum(y, axis=-1, keepdims=True)


def _layer_case(name, input_shape, kernel_shape, n_out, stock_op, route_op, act, **kwargs) -> Case:
    """One layer: op(x, kernel) + bias, then the activation, stock op against route op."""
    return Case(name, input_shape, (kernel_shape, (n_out,)),
                lambda x, k, b: _bias_act(stock_op(x, k), b, act),
                lambda x, k, b: _bias_act(route_op(x, k), b, act), **kwargs)


def cases(image_size: int = 256) -> list[Case]:
    """The routes at the VAE's shapes for ``image_size`` (the paper: 256)."""
    tf = _tf()
    relu, sigmoid = tf.nn.relu, tf.sigmoid
    s, h = image_size, image_size // 2

    def blocked_bias_relu(y, b):  # the bias of each channel, repeated for its 4 phases
        return relu(y + tf.cast(tf.tile(b, [4]), y.dtype))

    def blocked_image(x, k, b):  # deconv output in blocked form → the image layer, blocked
        y = R.depth_to_space(R.conv_padded(x, R.blocked_kernel(k), 1, 1))
        return _bias_act(y, b, sigmoid)

    def subpixel_blocked(x, k, b):  # sub-pixel deconv WITHOUT its depth-to-space
        return blocked_bias_relu(R.conv_padded(x, R.subpixel_kernel(k), 1, 0), b)

    return [
        _layer_case("decoder deconv: Conv2DTranspose → sub-pixel conv + depth-to-space", (h, h, 64),
                    (3, 3, 32, 64), 32, _deconv, R.conv_transpose_subpixel, relu, note="16/9 of the FLOPs"),
        _layer_case("decoder image 32→1: Conv2D → depthwise + sum (the train default)", (s, s, 32),
                    (3, 3, 32, 1), 1, _conv, _depthwise_sum, sigmoid),
        _layer_case("decoder image 32→1: Conv2D → space-to-depth conv (4 filters)", (s, s, 32),
                    (3, 3, 32, 1), 1, _conv, R.conv_space_to_depth, sigmoid, note="4× the FLOPs"),
        _layer_case("encoder conv1 1→32: Conv2D → space-to-depth conv (4 channels in)", (s, s, 1),
                    (3, 3, 1, 32), 32, _conv, R.conv_space_to_depth, relu, input_grad=False,
                    note="4× the FLOPs"),
        Case("encoder conv1 → conv2, blocked between them (no depth-to-space)",
             (s, s, 1), ((3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,)),
             lambda x, k1, b1, k2, b2: _bias_act(_conv(_bias_act(_conv(x, k1), b1, relu), k2, 2), b2, relu),
             lambda x, k1, b1, k2, b2: _bias_act(R.conv_stride2_on_blocked(blocked_bias_relu(
                 R.conv_padded(R.space_to_depth(x), R.blocked_kernel(k1), 1, 1), b1), k2), b2, relu),
             input_grad=False, note="conv1 4×, conv2 16/9 of the FLOPs"),
        Case("decoder deconv → image, blocked between them (sub-pixel, no depth-to-space)",
             (h, h, 64), ((3, 3, 32, 64), (32,), (3, 3, 32, 1), (1,)),
             lambda x, k1, b1, k2, b2: _bias_act(
                 _depthwise_sum(_bias_act(_deconv(x, k1), b1, relu), k2), b2, sigmoid),
             lambda x, k1, b1, k2, b2: blocked_image(subpixel_blocked(x, k1, b1), k2, b2),
             note="stock side: the train default (depthwise image layer)"),
    ]


def _grad_fn(fn, input_grad: bool):
    tf = _tf()

    @tf.function
    def run(x, *weights):
        with tf.GradientTape() as tape:
            tape.watch([x, *weights])
            y = fn(x, *weights)
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        sources = list(weights) + ([x] if input_grad else [])
        with accurate_bias_gradients():  # as in training (TF's bf16 BiasAddGrad sums in bf16)
            return [y] + tape.gradient(loss, sources)

    return run


def _relative_error(stock, route) -> float:
    tf = _tf()
    a, b = tf.cast(stock, tf.float64), tf.cast(route, tf.float64)
    scale = float(tf.reduce_max(tf.abs(a)))
    return float(tf.reduce_max(tf.abs(a - b))) / (scale or 1.0)


def compare_case(case: Case, batch: int, dtype: str = "bfloat16", rounds: int = 5, warmup: int = 1,
                 seed: int = 0) -> dict:
    """Time stock and route (fwd + bwd, interleaved, medians) and check the identity."""
    tf = _tf()
    rng = np.random.default_rng(seed)
    x = tf.cast(tf.constant(rng.uniform(0, 1, (batch, *case.input_shape)).astype("float32")), dtype)
    # Weights stay float32 (as Keras keeps them); the functions cast them to the compute dtype.
    weights = [tf.constant(rng.normal(0, 0.1, shape).astype("float32")) for shape in case.weight_shapes]
    fns = {"stock": _grad_fn(case.stock, case.input_grad), "route": _grad_fn(case.route, case.input_grad)}
    outputs = {}
    for name, fn in fns.items():
        for _ in range(warmup + 1):
            outputs[name] = [v.numpy() for v in fn(x, *weights)]
    times = {name: [] for name in fns}
    for r in range(rounds):
        for name in (("stock", "route") if r % 2 == 0 else ("route", "stock")):
            t = time.perf_counter()
            [v.numpy() for v in fns[name](x, *weights)]
            times[name].append(time.perf_counter() - t)
    labels = ["output"] + [f"d/dweight{i}" for i in range(len(weights))] + (["d/dinput"] if case.input_grad else [])
    errors = {label: _relative_error(a, b) for label, a, b in zip(labels, outputs["stock"], outputs["route"])}
    stock_ms, route_ms = (1e3 * float(np.median(times[n])) for n in ("stock", "route"))
    return {"name": case.name, "batch": batch, "dtype": dtype, "stock_ms": stock_ms, "route_ms": route_ms,
            "speedup": stock_ms / route_ms, "max_rel_error": max(errors.values()), "errors": errors,
            "note": case.note}


def route_table(image_size: int = 256, batch: int = 32, dtype: str = "bfloat16", rounds: int = 5) -> str:
    """Markdown: every route at the given scale against its stock layer(s)."""
    rows = [compare_case(c, batch, dtype, rounds) for c in cases(image_size)]
    lines = [
        f"Layer routes against the stock layers, {dtype}, batch {batch}, {image_size}²; forward + "
        f"backward (weight and input gradients as in training), median of {rounds} interleaved rounds",
        "",
        "| route | stock ms | route ms | stock / route | max rel. difference (output, gradients) | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['stock_ms']:.1f} | {r['route_ms']:.1f} | {r['speedup']:.2f} "
                     f"| {r['max_rel_error']:.1e} | {r['note']} |")
    return "\n".join(lines) + "\n"
