"""FLOP accounting of the VAE: per-layer forward FLOPs and the train step's total."""

from __future__ import annotations


def layer_flops(model) -> list[dict]:
    """Per-sample forward FLOPs (2 × multiply-adds) of every Conv2D/Conv2DTranspose/Dense
    layer of a built Keras model (nested models are walked), in call order."""
    import keras

    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            rows.extend(
                {**r, "layer": f"{layer.name}/{r['layer']}"} for r in layer_flops(layer)
            )
            continue
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kind = "Conv2DTranspose"
        elif isinstance(layer, keras.layers.Conv2D):
            kind = "Conv2D"
        elif isinstance(layer, keras.layers.Dense):
            kind = "Dense"
        else:
            continue
        kernel = tuple(layer.kernel.shape)
        if kind == "Dense":
            flops = 2 * kernel[0] * kernel[1]
        elif kind == "Conv2D":  # kernel (kh, kw, cin, cout); one MAC per output pixel per tap
            out_h, out_w = layer.output.shape[1:3]
            flops = 2 * out_h * out_w * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        else:  # Conv2DTranspose kernel (kh, kw, cout, cin); one MAC per INPUT pixel per tap
            in_h, in_w = layer.input.shape[1:3]
            flops = 2 * in_h * in_w * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        rows.append({"layer": layer.name, "kind": kind, "flops": int(flops)})
    return rows


def forward_flops_per_sample(vae) -> int:
    return sum(r["flops"] for r in layer_flops(vae))


def train_flops_per_sample(vae) -> int:
    """Forward + backward (input and weight gradients) minus the first layer's input gradient."""
    rows = layer_flops(vae)
    return 3 * sum(r["flops"] for r in rows) - rows[0]["flops"]
