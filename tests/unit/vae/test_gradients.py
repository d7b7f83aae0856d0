"""youngvae.vae.gradients: 16-bit bias gradients summed accurately, against exact sums."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from youngvae.vae.gradients import accurate_bias_gradients  # noqa: E402


def _bias_grad(layer, x, weights_out=None, fix=True):
    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            y = tf.cast(layer(x), tf.float32)
            loss = tf.reduce_sum(y * weights_out) if weights_out is not None else tf.reduce_sum(y)
        if fix:
            with accurate_bias_gradients():
                return tape.gradient(loss, layer.bias)
        return tape.gradient(loss, layer.bias)

    return grad(x).numpy().astype("float64")


@pytest.fixture
def bf16_policy():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("make, shape, terms", [
    (lambda: keras.layers.Conv2D(8, 3, padding="same"), (32, 64, 64, 4), 32 * 64 * 64),
    (lambda: keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same"), (16, 32, 32, 4), 16 * 64 * 64),
    (lambda: keras.layers.Dense(8), (70_000, 4), 70_000),
])
def test_bf16_bias_gradient_of_a_sum_of_ones_is_the_number_of_terms(bf16_policy, make, shape, terms):
    layer = make()
    x = tf.ones(shape)
    layer.build(x.shape)
    # d(sum of outputs)/d(bias_c) = number of output positions per channel, exactly.
    got = _bias_grad(layer, x)
    np.testing.assert_allclose(got, terms, rtol=2**-8)  # the result is rounded to bf16 once


def test_bf16_bias_gradient_with_mixed_signs_matches_a_float64_sum(bf16_policy):
    rng = np.random.default_rng(0)
    layer = keras.layers.Conv2D(6, 3, padding="same")
    x = tf.constant(rng.normal(size=(8, 64, 64, 3)).astype("float32"))
    layer.build(x.shape)
    w = rng.normal(size=(8, 64, 64, 6))
    # d(sum y·w)/d(bias_c) = sum of w over positions; w is rounded like the bf16 graph rounds it.
    w_bf16 = tf.cast(tf.cast(w, tf.bfloat16), tf.float32)
    exact = np.sum(w_bf16.numpy().astype("float64"), axis=(0, 1, 2))
    got = _bias_grad(layer, x, w_bf16)
    np.testing.assert_allclose(got, exact, atol=2**-7 * np.abs(exact).max() + 1e-3)


def test_float32_bias_gradients_are_untouched_and_the_registry_is_restored():
    from tensorflow.python.framework import ops

    before = ops._gradient_registry.lookup("BiasAdd")
    layer = keras.layers.Conv2D(4, 3, padding="same", dtype="float32")
    x = tf.ones((2, 16, 16, 3))
    layer.build(x.shape)
    np.testing.assert_array_equal(_bias_grad(layer, x), _bias_grad(layer, x, fix=False))
    assert ops._gradient_registry.lookup("BiasAdd") is before
    with pytest.raises(RuntimeError):
        with accurate_bias_gradients():
            assert ops._gradient_registry.lookup("BiasAdd") is not before
            raise RuntimeError("leaving the block by an exception restores the registry too")
    assert ops._gradient_registry.lookup("BiasAdd") is before
