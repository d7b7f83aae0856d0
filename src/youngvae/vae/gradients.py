"""Accurate bias gradients under 16-bit mixed precision (TensorFlow).

Keras' TensorFlow backend adds a layer's bias with ``tf.nn.bias_add`` (so oneDNN can fuse it into
the convolution), and TensorFlow's gradient of that op is ``BiasAddGrad``, which on CPU sums the
incoming bfloat16 gradient IN bfloat16 (8 significant bits): a running sum stops growing once
its spacing exceeds the terms. Measured with TensorFlow 2.21 (tests/unit/vae/test_gradients.py):
the bias gradient of a Conv2D whose true value is 262,144 (a sum of ones over 32·128·128
positions) comes back as 512; on the VAE at 128² (batch 16) the decoder's Conv2DTranspose bias
gradient was 97 % off its float32 value, every other gradient 0.1–10 % (bf16 round-off).

:func:`accurate_bias_gradients` replaces, while it is active, the registered gradient of
``BiasAdd`` for bfloat16 and float16 by ``tf.reduce_sum`` (which accumulates in float32 on CPU
and only rounds the result). float32 graphs are untouched. Gradients are looked up when
``tape.gradient`` builds them, so wrapping that call is enough and nothing leaks outside it.
"""

from __future__ import annotations

import contextlib

__all__ = ["accurate_bias_gradients"]


@contextlib.contextmanager
def accurate_bias_gradients():
    """Within the block, the gradient of a 16-bit ``BiasAdd`` w.r.t. its bias sums in float32."""
    import tensorflow as tf
    from tensorflow.python.framework import ops

    entry = ops._gradient_registry._registry["BiasAdd"]  # private: checked by the unit tests
    original = entry["type"]

    def bias_add_grad(op, grad):
        if grad.dtype not in (tf.bfloat16, tf.float16):
            return original(op, grad)
        try:
            data_format = op.get_attr("data_format")
        except ValueError:
            data_format = None
        rank = grad.shape.rank
        channel = 1 if data_format in (b"NCHW", "NCHW") else rank - 1
        axes = [axis for axis in range(rank) if axis != channel]
        return grad, tf.reduce_sum(grad, axis=axes)

    entry["type"] = bias_add_grad
    try:
        yield
    finally:
        entry["type"] = original
