"""youngvae.vae.routes: each route equals TensorFlow's stock operation (an independent
implementation), in value and in the gradients w.r.t. the input and the STOCK kernel."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from youngvae.vae import routes as R  # noqa: E402


def _t(shape, seed, dtype=tf.float64):
    return tf.constant(np.random.default_rng(seed).normal(size=shape), dtype)


def _deconv(x, k):
    n, h, w, _ = x.shape
    return tf.nn.conv2d_transpose(x, k, [n, 2 * h, 2 * w, k.shape[2]], 2, "SAME")


IDENTITIES = {
    # name: (stock(x, k), route(x, k), x shape, kernel shape)
    "subpixel deconv": (_deconv, R.conv_transpose_subpixel, (2, 5, 6, 3), (3, 3, 4, 3)),
    "space-to-depth conv, 1 channel in": (lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"),
                                          R.conv_space_to_depth, (2, 8, 6, 1), (3, 3, 1, 5)),
    "space-to-depth conv, 1 filter out": (lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"),
                                          R.conv_space_to_depth, (2, 6, 8, 4), (3, 3, 4, 1)),
    "stride 2 on the blocked input": (lambda x, k: tf.nn.conv2d(x, k, 2, "SAME"),
                                      lambda x, k: R.conv_stride2_on_blocked(R.space_to_depth(x), k),
                                      (2, 8, 10, 3), (3, 3, 3, 4)),
}


def _value_and_grads(fn, x, k, w):
    with tf.GradientTape() as tape:
        tape.watch([x, k])
        y = fn(x, k)
        loss = tf.reduce_sum(y * w)
    return [y, *tape.gradient(loss, [x, k])]


@pytest.mark.parametrize("name", list(IDENTITIES))
def test_route_equals_the_stock_op_with_gradients_in_float64(name):
    stock, route, x_shape, k_shape = IDENTITIES[name]
    x, k = _t(x_shape, 1), _t(k_shape, 2)
    w = _t(stock(x, k).shape, 3)  # a random upstream gradient
    for a, b, what in zip(_value_and_grads(stock, x, k, w), _value_and_grads(route, x, k, w),
                          ("output", "d/dx", "d/dkernel")):
        assert a.shape == b.shape, what
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=0, atol=1e-12, err_msg=f"{name}: {what}")


@pytest.mark.parametrize("name", list(IDENTITIES))
def test_route_in_bfloat16_stays_within_bf16_round_off_of_the_exact_result(name):
    stock, route, x_shape, k_shape = IDENTITIES[name]
    x, k = _t(x_shape, 4), _t(k_shape, 5)
    exact = stock(x, k).numpy()
    got = route(tf.cast(x, tf.bfloat16), tf.cast(k, tf.bfloat16))
    assert got.dtype == tf.bfloat16
    # inputs and kernel rounded to 8 bits (2**-9 each), the output once more, sums of <= 36 terms
    np.testing.assert_allclose(tf.cast(got, tf.float64).numpy(), exact, rtol=0,
                               atol=2**-6 * np.abs(exact).max())


def test_routes_take_the_kernel_of_the_stock_keras_layers_as_it_is():
    deconv = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    conv = keras.layers.Conv2D(5, 3, padding="same", use_bias=False, dtype="float64")
    x = _t((2, 6, 6, 3), 6)
    expected = deconv(x)  # builds the stock layer's kernel
    np.testing.assert_allclose(R.conv_transpose_subpixel(x, deconv.kernel).numpy(), expected.numpy(), atol=1e-12)
    y = _t((2, 6, 6, 3), 7)
    expected = conv(y)
    np.testing.assert_allclose(R.conv_space_to_depth(y, conv.kernel).numpy(), expected.numpy(), atol=1e-12)


def test_rearranged_kernels_have_the_documented_shapes_and_zero_taps():
    k = _t((3, 3, 2, 5), 8)
    sub = R.subpixel_kernel(tf.transpose(k, (0, 1, 3, 2)))  # deconv kernel (3, 3, out 5, in 2)
    assert tuple(sub.shape) == (2, 2, 2, 20)
    # phase (1, 1) (last 5 channels) uses only the centre tap W[1, 1], at window position (1, 1)
    np.testing.assert_array_equal(sub[:1, :, :, 15:].numpy(), 0)
    np.testing.assert_array_equal(sub[1, 1, :, 15:].numpy(), tf.transpose(k, (0, 1, 3, 2))[1, 1].numpy().T)
    assert tuple(R.blocked_kernel(k).shape) == (3, 3, 8, 20)
    assert tuple(R.stride2_blocked_kernel(k).shape) == (2, 2, 8, 5)
    # 9 stock taps per (in, out) pair appear 4 times in the blocked kernel (once per output phase)
    assert int(tf.math.count_nonzero(R.blocked_kernel(k))) == 4 * 9 * 2 * 5
    assert int(tf.math.count_nonzero(R.stride2_blocked_kernel(k))) == 9 * 2 * 5


def test_non_3x3_kernels_are_refused_by_name():
    with pytest.raises(ValueError, match="3×3"):
        R.blocked_kernel(tf.zeros((5, 5, 1, 1)))
