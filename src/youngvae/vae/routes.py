"""Other ways to compute the VAE's convolutions: the same function of the SAME (stock) weights.

Each route is a pure TensorFlow function of the input and of the stock Keras layer's kernel,
so its weights are the stock layer's weights by construction (they load into the stock layers
and back without conversion) and autodiff returns the gradient with respect to that kernel. The
rearranged kernels are built with ``tf.gather`` from the stock kernel padded with one zero tap,
which makes the rearrangement differentiable. Routes (issue 16; `python -m youngvae.bench
--routes` times each against its stock layer and checks the identity):

* :func:`conv_transpose_subpixel`: a stride-2 3×3 ``Conv2DTranspose`` ('same') as a stride-1
  2×2 convolution with 4·C_out channels followed by depth-to-space (the sub-pixel identity);
  16/9 of the stock FLOPs (zero taps).
* :func:`conv_space_to_depth`: a stride-1 3×3 convolution ('same') over the 2×2-blocked image:
  space-to-depth, a 3×3 convolution with 4·C_in → 4·C_out channels, depth-to-space; 4× the
  FLOPs, but a 1-channel input (conv1) or a 1-filter output (the decoder's image layer) becomes
  4 channels wide.
* :func:`conv_stride2_on_blocked`: a stride-2 3×3 convolution ('same', even input) applied to the
  space-to-depth form of its input as a stride-1 2×2 convolution (the encoder's conv1 → conv2
  pair without a depth-to-space between them); 16/9 of the FLOPs.

The padding is explicit (``tf.pad`` then a 'VALID' convolution): ``tf.nn.conv2d`` with an
explicit padding list fell off oneDNN's fast path here (bf16: 7 s instead of 0.2 s per step).
TensorFlow only: the Keras layers of :mod:`youngvae.vae.model` stay backend-neutral.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "subpixel_kernel",
    "blocked_kernel",
    "stride2_blocked_kernel",
    "conv_transpose_subpixel",
    "conv_space_to_depth",
    "conv_stride2_on_blocked",
    "space_to_depth",
    "depth_to_space",
    "conv_padded",
]

_ZERO = 3  # index of the zero tap appended to a 3-tap kernel axis


def _check_3x3(kernel, name: str):
    shape = tuple(kernel.shape)
    if len(shape) != 4 or shape[:2] != (3, 3):
        raise ValueError(f"{name} must be a 3×3 kernel (3, 3, a, b), got shape {shape}")


def _gather_taps(kernel, index):
    """kernel (3, 3, ...) → kernel[index[...], index[...]] with index value 3 meaning a zero tap.

    ``index`` is an integer array; the result has shape index.shape + index.shape + kernel.shape[2:].
    """
    import tensorflow as tf

    padded = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
    rows = tf.gather(padded, index, axis=0)  # index.shape + (4, a, b)
    return tf.gather(rows, index, axis=index.ndim)  # index.shape + index.shape + (a, b)


def subpixel_kernel(kernel):
    """Conv2DTranspose kernel (3, 3, C_out, C_in), stride 2, 'same' → (2, 2, C_in, 4·C_out).

    The transposed convolution is the adjoint of a stride-2 'same' convolution of an even input
    (TensorFlow pads that one 0 before and 1 after), so y[2p + a] = Σ_{2i + k = 2p + a} x[i]·W[k]:
    phase a = 0 takes x[p−1]·W[2] + x[p]·W[0], phase a = 1 takes x[p]·W[1]. Over the input padded
    by one row and column BEFORE, a 2-tap window [p−1, p] gives both phases; output channel
    (2a + b)·C_out + c is phase (a, b) of filter c, the order ``depth_to_space`` expects.
    """
    import tensorflow as tf

    _check_3x3(kernel, "kernel")
    index = np.array([[2, 0], [_ZERO, 1]])  # [phase, window tap] → stock tap
    k = _gather_taps(kernel, index)  # (a, r, b, s, C_out, C_in)
    c_out, c_in = kernel.shape[2], kernel.shape[3]
    k = tf.transpose(k, (1, 3, 5, 0, 2, 4))  # (r, s, C_in, a, b, C_out)
    return tf.reshape(k, (2, 2, c_in, 4 * c_out))


def blocked_kernel(kernel):
    """Stride-1 3×3 'same' kernel (3, 3, C_in, C_out) → its 2×2-blocked form (3, 3, 4·C_in, 4·C_out).

    Output pixel m = 2p + a' reads input rows m + k − 1 = 2(p + δ) + a, so the blocked tap δ + 1
    between input phase a and output phase a' carries stock tap k = 2δ + a − a' + 1 (zero where
    k is outside 0..2). Channel order (2a + b)·C + c on both sides, as in ``space_to_depth``.
    """
    import tensorflow as tf

    _check_3x3(kernel, "kernel")
    d = np.arange(3)[:, None, None] - 1
    a = np.arange(2)[None, :, None]
    a_out = np.arange(2)[None, None, :]
    k = 2 * d + a - a_out + 1
    index = np.where((k >= 0) & (k <= 2), k, _ZERO)  # [δ+1, a, a']
    g = _gather_taps(kernel, index)  # (dr, a, a', ds, b, b', C_in, C_out)
    c_in, c_out = kernel.shape[2], kernel.shape[3]
    g = tf.transpose(g, (0, 3, 1, 4, 6, 2, 5, 7))  # (dr, ds, a, b, C_in, a', b', C_out)
    return tf.reshape(g, (3, 3, 4 * c_in, 4 * c_out))


def stride2_blocked_kernel(kernel):
    """Stride-2 3×3 'same' kernel (3, 3, C_in, C_out) of an even input → (2, 2, 4·C_in, C_out) over
    the input's space-to-depth form: y[i] = Σ_k x[2i + k]·W[k] (TensorFlow pads 0 before, 1 after),
    and 2i + k = 2(i + δ) + a gives tap k = 2δ + a (δ ∈ {0, 1}, zero for k = 3)."""
    import tensorflow as tf

    _check_3x3(kernel, "kernel")
    k = 2 * np.arange(2)[:, None] + np.arange(2)[None, :]
    index = np.where(k <= 2, k, _ZERO)  # [δ, a]
    g = _gather_taps(kernel, index)  # (dr, a, ds, b, C_in, C_out)
    c_in, c_out = kernel.shape[2], kernel.shape[3]
    g = tf.transpose(g, (0, 2, 1, 3, 4, 5))  # (dr, ds, a, b, C_in, C_out)
    return tf.reshape(g, (2, 2, 4 * c_in, c_out))


def space_to_depth(x):
    import tensorflow as tf

    return tf.nn.space_to_depth(x, 2)


def depth_to_space(x):
    import tensorflow as tf

    return tf.nn.depth_to_space(x, 2)


def conv_padded(x, kernel, before: int, after: int):
    """Stride-1 convolution of x zero-padded by ``before``/``after`` rows and columns ('VALID')."""
    import tensorflow as tf

    x = tf.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
    return tf.nn.conv2d(x, tf.cast(kernel, x.dtype), 1, "VALID")


def conv_transpose_subpixel(x, kernel):
    """= ``tf.nn.conv2d_transpose(x, kernel, [n, 2H, 2W, C_out], 2, 'SAME')`` (no bias)."""
    return depth_to_space(conv_padded(x, subpixel_kernel(kernel), 1, 0))


def conv_space_to_depth(x, kernel):
    """= ``tf.nn.conv2d(x, kernel, 1, 'SAME')`` for a 3×3 kernel and an even-sized x (no bias)."""
    return depth_to_space(conv_padded(space_to_depth(x), blocked_kernel(kernel), 1, 1))


def conv_stride2_on_blocked(blocked, kernel):
    """= ``tf.nn.conv2d(depth_to_space(blocked), kernel, 2, 'SAME')`` for a 3×3 kernel (no bias)."""
    return conv_padded(blocked, stride2_blocked_kernel(kernel), 0, 1)
