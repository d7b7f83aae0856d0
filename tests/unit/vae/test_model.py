"""Contracts of youngvae.model: the paper's architecture, the loss, one training step, saving."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from youngvae.vae.model import (  # noqa: E402
    VAE,
    build_decoder,
    build_encoder,
    build_vae,
    load_decoder,
    load_encoder,
    load_vae,
    save_vae,
)


def _images(n=8, size=16, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, size, size)).astype("float32")


def _reset_sampling(vae, value=7):
    vae.sampling.seed_generator.state.assign(np.array([value, 0], dtype="int64"))


def test_parameter_counts_match_paper_tables_at_256px_latent_1():
    # Paper Table I (encoder) and Table II (decoder); 'same' padding, sampling not in the encoder.
    assert build_encoder(256, 1).count_params() == 33_647_202
    assert build_decoder(256, 1).count_params() == 2_115_905


def test_encoder_and_decoder_shapes_follow_image_and_latent_size():
    encoder, decoder = build_encoder(16, 3), build_decoder(16, 3)
    z_mean, z_log_var = encoder(np.zeros((2, 16, 16, 1), "float32"))
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (2, 3)
    assert tuple(decoder(np.zeros((2, 3), "float32")).shape) == (2, 16, 16, 1)
    assert [layer.name for layer in encoder.layers][1:] == [
        "conv1", "conv2", "conv3", "conv4", "flatten", "dense", "z_mean", "z_log_var"
    ]


@pytest.mark.parametrize("bad", [15, 0, -2, 16.0, True])
def test_image_size_must_be_an_even_integer(bad):
    with pytest.raises(ValueError, match="image_size"):
        build_vae(bad)


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_latent_dim_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="latent_dim"):
        build_encoder(16, bad)


def test_mixed_precision_keeps_heads_sampling_and_loss_in_float32():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        vae = build_vae(16, 1)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert vae.encoder.get_layer("conv1").compute_dtype == "bfloat16"
    z_mean, z_log_var = vae.encoder(_images()[..., None])
    assert z_mean.dtype == z_log_var.dtype == "float32"
    assert vae.decoder(z_mean).dtype == "float32"
    assert vae.sampling([z_mean, z_log_var]).dtype == "float32"
    losses = vae.compute_losses(_images())
    assert all(loss.dtype == "float32" for loss in losses)


def test_loss_is_summed_bce_plus_beta_times_kl_and_accepts_nhw_or_nhwc():
    vae = build_vae(16, 1)
    x = _images()
    _reset_sampling(vae)
    total, reconstruction, kl = (float(v) for v in vae.compute_losses(x))
    assert total == pytest.approx(reconstruction + kl, rel=1e-6)
    assert reconstruction > 16 * 16 * 0.5  # summed over 256 pixels, not averaged
    assert kl >= 0
    _reset_sampling(vae)
    assert float(vae.compute_losses(x[..., None])[0]) == pytest.approx(total, rel=1e-6)
    vae.beta.assign(0.0)
    _reset_sampling(vae)
    total0, reconstruction0, _ = (float(v) for v in vae.compute_losses(x))
    assert total0 == pytest.approx(reconstruction0, rel=1e-6)
    # the batch losses are the means of the per-sample ones (each sample's BCE summed over pixels)
    _reset_sampling(vae)
    bce, kl_each = (np.asarray(v) for v in vae.per_sample_losses(x))
    assert bce.shape == kl_each.shape == (len(x),)
    assert bce.mean() == pytest.approx(reconstruction0, rel=1e-6)
    assert np.all(kl_each >= 0)


def test_one_optimisation_step_lowers_the_loss_on_a_fixed_batch():
    keras.utils.set_random_seed(0)
    vae = build_vae(16, 1)
    vae.compile(optimizer=keras.optimizers.RMSprop(1e-3))
    x = _images(16)
    _reset_sampling(vae)
    before = float(vae.test_step(x)["loss"])
    vae.reset_metrics()
    vae.train_on_batch(x)
    vae.reset_metrics()
    _reset_sampling(vae)
    after = float(vae.test_step(x)["loss"])
    assert after < before


def test_metrics_are_loss_reconstruction_and_kl():
    vae = build_vae(16, 1)
    vae.compile(optimizer="rmsprop")
    logs = vae.evaluate(_images(), batch_size=4, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "reconstruction", "kl"}


def test_get_config_round_trips_beta_and_seed():
    vae = build_vae(16, 2, beta=0.5, seed=3)
    clone = VAE.from_config(vae.get_config())
    assert float(clone.beta.numpy()) == 0.5 and clone.seed == 3
    assert clone.encoder.count_params() == vae.encoder.count_params()


def test_save_vae_requires_a_keras_suffix(tmp_path):
    with pytest.raises(ValueError, match=".keras"):
        save_vae(build_vae(16), tmp_path / "vae.h5")


@pytest.mark.slow  # trains a model or starts fresh processes (seconds)
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_encoder_loads_alone_in_a_fresh_process_with_identical_z_mean(tmp_path, precision):
    keras.utils.set_random_seed(1)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        vae = build_vae(16, 2, beta=0.25)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    model_path, x_path, out_path = tmp_path / "vae.keras", tmp_path / "x.npy", tmp_path / "z.npy"
    save_vae(vae, model_path)
    x = _images(5)[..., None]
    np.save(x_path, x)
    expected = keras.ops.convert_to_numpy(vae.encoder(x, training=False)[0])
    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        from youngvae.vae.model import load_encoder, load_decoder
        encoder = load_encoder({str(model_path)!r})
        assert encoder.get_layer("conv1").dtype_policy.name == {precision!r}
        x = np.load({str(x_path)!r})
        np.save({str(out_path)!r}, keras.ops.convert_to_numpy(encoder(x, training=False)[0]))
        assert tuple(load_decoder({str(model_path)!r}).output.shape) == (None, 16, 16, 1)
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_array_equal(np.load(out_path), expected)
    # In this process too: the whole VAE (weights, beta) and the parts.
    loaded = load_vae(model_path)
    assert isinstance(loaded, VAE) and float(loaded.beta.numpy()) == 0.25
    z = np.array([[0.3, -1.0]], "float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(load_decoder(model_path)(z)), keras.ops.convert_to_numpy(vae.decoder(z))
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(load_encoder(model_path)(x)[1]), keras.ops.convert_to_numpy(vae.encoder(x)[1])
    )


_BACKEND_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from youngvae.vae.model import build_vae

    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(sys.argv[1])
    vae = build_vae(16, 1, plain_keras=True)
    vae.compile(optimizer=keras.optimizers.RMSprop(1e-3))
    x = np.random.default_rng(0).uniform(0.0, 1.0, (16, 16, 16)).astype("float32")
    before = vae.test_on_batch(x, return_dict=True)
    weights = [np.array(w) for w in vae.get_weights()]
    for _ in range(5):
        vae.train_on_batch(x)
    after = vae.test_on_batch(x, return_dict=True)
    moved = sum(not np.array_equal(a, np.array(b)) for a, b in zip(weights, vae.get_weights()))
    print("RESULT" + json.dumps({"backend": keras.backend.backend(), "before": before,
                                 "after": after, "moved": moved,
                                 "n_trainable": len(vae.trainable_weights),
                                 "beta": float(np.array(vae.beta.value))}))
    """
)


@pytest.mark.slow  # trains a model or starts fresh processes (seconds)
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_train_on_batch_learns_on_every_installed_keras_backend(backend, precision):
    """The VAE's custom train_step exists once per backend (Keras 3 has no common one): each
    must apply gradients to every weight and lower the loss. Backends not installed are
    skipped (CI has TensorFlow only; `pip install -r requirements-backends.txt` adds them)."""
    if backend != "tensorflow":
        pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _BACKEND_SCRIPT, precision], env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    result = json.loads(lines[-1][len("RESULT"):])
    assert result["backend"] == backend
    before, after = result["before"], result["after"]
    assert set(before) == {"loss", "reconstruction", "kl"}
    for logs in (before, after):
        assert np.isfinite(list(logs.values())).all()
        assert logs["loss"] == pytest.approx(logs["reconstruction"] + logs["kl"], rel=1e-4)
    assert after["loss"] < before["loss"]
    # every trainable weight moved (20: 10 kernels + 10 biases), the fixed beta did not
    assert result["n_trainable"] == 20 and result["moved"] == 20
    assert result["beta"] == 1.0


def test_one_filter_conv_is_the_same_function_as_conv2d():
    import keras

    from youngvae.vae.model import OneFilterConv2D

    x = np.random.default_rng(0).uniform(size=(2, 12, 12, 5)).astype("float32")
    plain = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")
    fast = OneFilterConv2D(1, 3, padding="same", activation="sigmoid")
    plain.build(x.shape)
    fast.build(x.shape)
    fast.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in plain.get_weights()])
    plain.set_weights(fast.get_weights())
    assert fast.count_params() == plain.count_params() == 3 * 3 * 5 + 1
    np.testing.assert_allclose(np.asarray(fast(x)), np.asarray(plain(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sigma", [0.7, 2.0])
def test_gaussian_blur_turns_a_point_into_the_gaussian_of_its_width(sigma):
    from youngvae.vae.model import GaussianBlur

    point = np.zeros((1, 33, 33, 1), "float32")
    point[0, 16, 16, 0] = 1.0
    out = np.asarray(GaussianBlur(sigma)(point))[0, :, :, 0].astype(np.float64)
    assert out.sum() == pytest.approx(1.0, abs=1e-5)  # conserved away from the edges
    y, x = np.mgrid[-16:17, -16:17]
    # its variance per axis (a sampled Gaussian's is σ² to 0.3 % at 0.7 px, exact as σ grows)
    assert (out * y**2).sum() == pytest.approx(sigma**2, rel=5e-3)
    assert (out * x**2).sum() == pytest.approx(sigma**2, rel=5e-3)
    # the sampled Gaussian exp(-r²/2σ²) up to normalization, where not truncated
    expected = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    r = np.ceil(4 * sigma)  # truncated to the square of half-width ceil(4σ)
    inside = (np.abs(x) <= r) & (np.abs(y) <= r)
    assert np.all(out[~inside] == 0)
    np.testing.assert_allclose(out[inside], (expected / expected[inside].sum())[inside], rtol=1e-5, atol=1e-9)


def test_renormalized_blur_divides_each_blurred_image_by_its_maximum():
    from youngvae.testing import reference_blur
    from youngvae.vae.model import GaussianBlur

    images = _images(3, 16) * np.array([1.0, 0.5, 0.0], "float32")[:, None, None]  # one dark
    blurred = reference_blur(images[:2], 1.5)
    expected = blurred / blurred.max(axis=(1, 2), keepdims=True)
    out = np.asarray(GaussianBlur(1.5, renormalize=True)(images[..., None]))[..., 0]
    np.testing.assert_allclose(out[:2], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:2].max(axis=(1, 2)), 1.0, rtol=1e-6)
    assert np.all(out[2] == 0)  # a dark image stays dark, no division by zero
    plain = np.asarray(GaussianBlur(1.5)(images[..., None]))[..., 0]
    np.testing.assert_allclose(plain[:2], blurred, rtol=1e-5, atol=1e-6)  # off: the blur only


def test_blur_renormalize_reaches_input_and_target_and_survives_save_and_load(tmp_path):
    from youngvae.testing import reference_blur

    images = _images(4, 16) * 0.6
    vae = build_vae(16, 1, encoder_blur_px=1.5, target_blur_px=1.5, blur_renormalize=True)
    blurred = reference_blur(images, 1.5)
    np.testing.assert_allclose(vae.loss_targets(images), blurred / blurred.max(axis=(1, 2), keepdims=True),
                               rtol=1e-5, atol=1e-6)
    assert vae.encoder.get_layer("blur").renormalize
    path = tmp_path / "vae.keras"
    save_vae(vae, path)
    again = load_vae(path)
    assert again.blur_renormalize and again.encoder.get_layer("blur").renormalize
    np.testing.assert_array_equal(again.loss_targets(images), vae.loss_targets(images))
    assert not build_vae(16, 1, encoder_blur_px=1.5).encoder.get_layer("blur").renormalize


def test_encoder_blur_adds_no_weights_and_survives_save_and_load(tmp_path):
    plain, blurred = build_encoder(16, 1), build_encoder(16, 1, blur_px=1.5)
    assert blurred.count_params() == plain.count_params()
    assert [layer.name for layer in blurred.layers][1:3] == ["blur", "conv1"]
    assert "blur" not in [layer.name for layer in plain.layers]  # 0: the paper's encoder
    vae = build_vae(16, 1, encoder_blur_px=1.5)
    images = _images()
    path = tmp_path / "vae.keras"
    save_vae(vae, path)
    again = load_encoder(path)
    assert again.get_layer("blur").sigma_px == 1.5
    np.testing.assert_array_equal(np.asarray(again(images[..., None])[0]), np.asarray(vae.encoder(images[..., None])[0]))
    for bad in (-1.0, float("nan"), 3.0, True):  # 3 > 16/8
        with pytest.raises(ValueError, match="encoder_blur_px"):
            build_encoder(16, 1, blur_px=bad)


def test_target_blur_scores_the_reconstruction_against_the_blurred_image(tmp_path):
    from youngvae.testing import reference_blur

    sigma = 1.5  # scipy truncates at int(4σ + 0.5) = 6 px = ceil(4σ), as GaussianBlur does
    images = _images(4, 16)
    reconstruction = _images(4, 16, seed=1)[..., None] * 0.98 + 0.01
    vae = build_vae(16, 1, target_blur_px=sigma)
    target = reference_blur(images, sigma)
    y = reconstruction[..., 0].astype(np.float64)
    # Keras clips y to [ε, 1 - ε] with ε = 1e-7; y here is inside (0.01, 0.99)
    expected = -(target * np.log(y) + (1 - target) * np.log(1 - y)).sum(axis=(1, 2))
    got = np.asarray(vae.reconstruction_losses(images, reconstruction))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    sharp = np.asarray(build_vae(16, 1).reconstruction_losses(images, reconstruction))
    assert not np.allclose(sharp, expected, rtol=1e-3)  # 0: the sharp image, the paper's loss
    expected_sharp = -(images * np.log(y) + (1 - images) * np.log(1 - y)).sum(axis=(1, 2))
    np.testing.assert_allclose(sharp, expected_sharp, rtol=1e-5)
    path = tmp_path / "vae.keras"
    save_vae(vae, path)
    assert load_vae(path).target_blur_px == sigma
    np.testing.assert_allclose(np.asarray(load_vae(path).reconstruction_losses(images, reconstruction)), got, rtol=1e-6)
    assert vae.count_params() == build_vae(16, 1).count_params()  # no weights
    for bad in (-1.0, float("nan"), 3.0, True):  # 3 > 16/8
        with pytest.raises(ValueError, match="target_blur_px"):
            build_vae(16, 1, target_blur_px=bad)


def test_a_blurred_saturated_region_stays_a_valid_target():
    """float32 round-off can lift a blurred flat region of 1.0 above 1 (1.000000238 at σ 1.5):
    the targets are clipped, so their entropy (loss sampling) stays finite."""
    from youngvae.vae.batches import target_entropy

    flat = np.ones((2, 48, 48), "float32")
    vae = build_vae(48, 1, target_blur_px=np.int64(1) + 0.5)
    targets = vae.loss_targets(flat)
    assert targets.max() <= 1.0 and targets.min() >= 0.0
    assert np.isfinite(target_entropy(targets)).all()
    assert build_vae(16, 1, target_blur_px=np.int64(1)).target_blur_px == 1.0  # numpy integers are numbers


def _same_weights(a, b):
    b.set_weights([np.random.default_rng(3).normal(0, 0.05, w.shape).astype("float32") for w in b.get_weights()])
    a.set_weights(b.get_weights())


def test_output_conv_compute_runs_the_convolution_in_bf16_and_only_the_sigmoid_in_float32(tmp_path):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        fast, stock = build_decoder(16, 1, output_conv="compute"), build_decoder(16, 1)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert fast.count_params() == stock.count_params()
    assert fast.get_layer("image").compute_dtype == "bfloat16"
    assert stock.get_layer("image").compute_dtype == "float32"
    assert fast.get_layer("sigmoid").compute_dtype == "float32" and not fast.get_layer("sigmoid").weights
    _same_weights(fast, stock)
    z = np.linspace(-2, 2, 5, dtype="float32")[:, None]
    out, ref = np.asarray(fast(z)), np.asarray(stock(z))
    assert out.dtype == "float32" and np.all((out > 0) & (out < 1))
    # the same function up to the bf16 rounding of the convolution's output (logits |x| < 2 here)
    np.testing.assert_allclose(out, ref, atol=2e-2)
    vae = build_vae(16, 1, precision="mixed_bfloat16", output_conv="compute")
    save_vae(vae, tmp_path / "vae.keras")
    again = load_vae(tmp_path / "vae.keras")
    assert again.decoder.get_layer("image").compute_dtype == "bfloat16"
    np.testing.assert_array_equal(np.asarray(again.decoder(z)), np.asarray(vae.decoder(z)))


def test_output_conv_compute_is_the_same_function_under_a_float32_policy():
    fast, stock = build_decoder(16, 1, output_conv="compute"), build_decoder(16, 1)
    _same_weights(fast, stock)
    z = np.linspace(-2, 2, 5, dtype="float32")[:, None]
    np.testing.assert_allclose(np.asarray(fast(z)), np.asarray(stock(z)), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="output_conv"):
        build_decoder(16, 1, output_conv="bfloat16")


def test_one_filter_conv_takes_the_stock_convolution_for_bf16_on_amx_only(monkeypatch):
    from youngvae.vae import model

    for amx, dtype, depthwise in [(True, "bfloat16", False), (True, "float32", True),
                                  (False, "bfloat16", True), (False, "float32", True)]:
        monkeypatch.setattr(model, "has_amx_bf16", lambda amx=amx: amx)
        assert model.OneFilterConv2D.use_depthwise(dtype) is depthwise, (amx, dtype)
    # both forms in bf16: the same function within bf16 round-off
    x = np.random.default_rng(0).uniform(size=(2, 12, 12, 32)).astype("float32")
    out = {}
    for amx in (True, False):
        monkeypatch.setattr(model, "has_amx_bf16", lambda amx=amx: amx)
        layer = model.OneFilterConv2D(1, 3, padding="same", dtype="mixed_bfloat16")
        layer.build(x.shape)
        layer.set_weights([np.full((3, 3, 32, 1), 0.01, "float32"), np.zeros(1, "float32")])
        out[amx] = np.asarray(keras.ops.cast(layer(x), "float32"))
    np.testing.assert_allclose(out[True], out[False], rtol=2e-2)
