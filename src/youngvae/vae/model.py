"""The paper's variational autoencoder (Keras 3), parameterized by image size and latent size.

Shape follows the Keras 3 VAE example (keras-io examples/generative/vae.py): functional
encoder and decoder, a ``Sampling`` layer owning a seeded ``SeedGenerator``, and a ``VAE``
model with ``train_step``/``test_step`` and Mean trackers. Math is in ``keras.ops``.

Architecture (paper Tables I and II; at 256² and latent 1 the encoder has 33,647,202 and the
decoder 2,115,905 parameters, with exactly the layers below and 'same' padding everywhere):

    encoder: Input(H, W, 1) → Conv2D 32 3×3 relu → Conv2D 64 3×3 stride 2 relu
             → Conv2D 64 3×3 relu → Conv2D 64 3×3 relu → Flatten → Dense 32 leaky_relu
             → Dense latent (z_mean), Dense latent (z_log_var)
    decoder: Input(latent) → Dense H/2·W/2·64 relu → Reshape (H/2, W/2, 64)
             → Conv2DTranspose 32 3×3 stride 2 relu → Conv2D 1 3×3 sigmoid

``encoder_blur_px`` > 0 (``train.encoder_blur_px``; 0 = the paper's encoder) puts a fixed
:class:`GaussianBlur` (no weights) between the encoder's input and conv1: the encoder sees the
image blurred. ``target_blur_px`` > 0 (:class:`VAE`, ``train.target_blur_px``) blurs the
reconstruction target alike: the decoder learns to render the blurred image. The shipped config
sets both to 2 px (docs/recipe.md). ``blur_renormalize`` divides each blurred image (input and
target) by its maximum, as a store does after a detector blur. Parameter counts and every other
layer stay the paper's.

The decoder's output layer is a :class:`OneFilterConv2D`: a ``Conv2D`` subclass with the same
weights and the same function, computed as a depthwise convolution summed over channels
(faster on CPU; ``plain_keras=True`` builds the stock ``Conv2D`` for comparison).

The sampling step is not part of the encoder (so the encoder loads and runs on its own); it
lives in the VAE. Under a mixed precision policy the two encoder heads, the decoder's output
layer, the sampling and the loss run in float32.

Saving: ONE ``.keras`` file holds the whole VAE (encoder and decoder as nested functional
models). ``load_encoder``/``load_decoder`` load that file (uncompiled) and return the part.
Importing this module registers the custom classes under the package name "youngvae".
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

from youngvae.threads import has_amx_bf16  # noqa: E402

__all__ = [
    "GaussianBlur",
    "Sampling",
    "OneFilterConv2D",
    "VAE",
    "build_encoder",
    "build_decoder",
    "build_vae",
    "OUTPUT_CONVS",
    "save_vae",
    "load_vae",
    "load_encoder",
    "load_decoder",
]


def _check_image_size(image_size: int) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 2:
        raise ValueError(f"image_size must be an even integer >= 2, got {image_size!r}")
    if image_size % 2:
        raise ValueError(f"image_size must be even (stride-2 layers), got {image_size}")
    return image_size


def _check_blur(blur_px, image_size: int, name: str = "encoder_blur_px") -> float:
    if isinstance(blur_px, bool) or not isinstance(blur_px, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number of pixels, got {blur_px!r}")
    if not math.isfinite(blur_px) or not 0 <= blur_px <= image_size / 8:
        raise ValueError(f"{name} must be in [0, image_size/8 = {image_size / 8:g}] pixels, got {blur_px!r}")
    return float(blur_px)


def _check_latent_dim(latent_dim: int) -> int:
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be an integer >= 1, got {latent_dim!r}")
    return latent_dim


@keras.saving.register_keras_serializable(package="youngvae")
class Sampling(layers.Layer):
    """Reparameterization trick: z = z_mean + exp(z_log_var / 2) · ε, ε ~ N(0, 1), in float32."""

    def __init__(self, seed: int = 0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        z_mean = ops.cast(z_mean, "float32")
        z_log_var = ops.cast(z_log_var, "float32")
        epsilon = keras.random.normal(ops.shape(z_mean), dtype="float32", seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def gaussian_kernel(sigma_px: float) -> np.ndarray:
    """The normalized 2-D Gaussian of standard deviation ``sigma_px`` pixels, truncated at 4 σ,
    as a depthwise kernel [k, k, 1, 1] (float32)."""
    sigma = float(sigma_px)
    if not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"blur sigma must be a finite number > 0 pixels, got {sigma_px!r}")
    r = math.ceil(4 * sigma)
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g).astype(np.float32)[:, :, None, None]


@keras.saving.register_keras_serializable(package="youngvae")
class GaussianBlur(layers.Layer):
    """A fixed Gaussian blur of one-channel images (σ in pixels, truncated at 4 σ, zero padding
    outside the image), in float32; no weights. ``renormalize``: divide each blurred image by
    its maximum afterwards (max 1, as a store normalizes each image after a detector blur)."""

    def __init__(self, sigma_px: float = 1.0, renormalize: bool = False, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.sigma_px = float(sigma_px)
        self.renormalize = bool(renormalize)
        self._kernel = gaussian_kernel(self.sigma_px)

    def call(self, images):
        kernel = ops.convert_to_tensor(self._kernel, dtype=images.dtype)
        blurred = ops.depthwise_conv(images, kernel, padding="same")
        if not self.renormalize:
            return blurred
        peak = ops.max(blurred, axis=(1, 2), keepdims=True)
        return blurred / ops.maximum(peak, ops.cast(1e-12, blurred.dtype))  # a dark image stays 0

    def get_config(self):
        return {**super().get_config(), "sigma_px": self.sigma_px, "renormalize": self.renormalize}


@keras.saving.register_keras_serializable(package="youngvae")
class OneFilterConv2D(layers.Conv2D):
    """A ``Conv2D`` with ONE output filter, computed as a depthwise convolution summed over the
    input channels: the same function of the same weights (kernel (kh, kw, c_in, 1), bias (1,)),
    only the summation order differs (float round-off). oneDNN's direct convolution with a
    single output channel is badly vectorised on CPU; the depthwise form ran the decoder's
    32→1 output layer (forward + backward, batch 32, 256²) about 2× faster here. In bfloat16 on
    a CPU with AMX tiles it computes the stock convolution instead (:meth:`use_depthwise`).
    """

    @staticmethod
    def use_depthwise(dtype) -> bool:
        """The depthwise form, except for bfloat16 on a CPU with AMX tiles, where oneDNN's stock
        convolution runs on the tiles and was faster (2026-12-02, batch 32, 256², bf16: 89 against
        134 ms forward + backward); float32 takes the depthwise form everywhere (measured faster
        on the AMX machine too, where float32 has no tiles)."""
        return not (keras.backend.standardize_dtype(dtype) == "bfloat16" and has_amx_bf16())

    def convolution_op(self, inputs, kernel):
        if self.filters != 1 or self.groups != 1 or not self.use_depthwise(inputs.dtype):
            return super().convolution_op(inputs, kernel)
        y = ops.depthwise_conv(
            inputs,
            kernel,
            strides=tuple(self.strides),
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        channel_axis = -1 if self.data_format == "channels_last" else 1
        return ops.sum(y, axis=channel_axis, keepdims=True)


def build_encoder(image_size: int, latent_dim: int = 1, blur_px: float = 0.0,
                  blur_renormalize: bool = False) -> keras.Model:
    """Encoder: image [H, W, 1] → (z_mean, z_log_var), each [latent_dim] float32; ``blur_px``
    > 0 blurs the input first (:class:`GaussianBlur`, no weights; ``blur_renormalize``: each
    blurred image then divided by its maximum)."""
    size = _check_image_size(image_size)
    latent_dim = _check_latent_dim(latent_dim)
    blur_px = _check_blur(blur_px, size)
    inputs = keras.Input(shape=(size, size, 1), name="image")
    x = GaussianBlur(blur_px, blur_renormalize, name="blur")(inputs) if blur_px > 0 else inputs
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Flatten(name="flatten")(x)
    # leaky_relu, not the Keras template's relu: at 256² this layer sums 1,048,576 inputs, and
    # rmsprop's coherent early steps drove all 32 relu units negative for every input (no
    # gradient to the encoder: posterior collapse in two paper-scale runs). Same parameters.
    x = layers.Dense(32, activation="leaky_relu", name="dense")(x)
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


OUTPUT_CONVS = ("float32", "compute")


def build_decoder(image_size: int, latent_dim: int = 1, *, plain_keras: bool = False,
                  output_conv: str = "float32") -> keras.Model:
    """Decoder: z [latent_dim] → image [H, W, 1] in (0, 1), float32.

    ``plain_keras=True`` builds the output layer as a stock ``Conv2D`` (the benchmark's
    baseline) instead of the equivalent, faster :class:`OneFilterConv2D`. ``output_conv``:
    'float32' runs the output convolution and its sigmoid in float32 (the 32-channel input cast
    up); 'compute' runs the convolution in the policy's compute dtype (bfloat16 under
    mixed_bfloat16: on the AMX tiles where the CPU has them) and only the sigmoid, in a weightless
    ``Activation`` layer, in float32. The same weights either way; under a float32 policy the
    same function.
    """
    size = _check_image_size(image_size)
    latent_dim = _check_latent_dim(latent_dim)
    if output_conv not in OUTPUT_CONVS:
        raise ValueError(f"output_conv must be one of {OUTPUT_CONVS}, got {output_conv!r}")
    half = size // 2
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(half * half * 64, activation="relu", name="dense")(inputs)
    x = layers.Reshape((half, half, 64), name="reshape")(x)
    x = layers.Conv2DTranspose(
        32, 3, strides=2, padding="same", activation="relu", name="deconv"
    )(x)
    output_layer = layers.Conv2D if plain_keras else OneFilterConv2D
    if output_conv == "compute":
        x = output_layer(1, 3, padding="same", name="image")(x)
        outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(x)
    else:
        outputs = output_layer(
            1, 3, padding="same", activation="sigmoid", dtype="float32", name="image"
        )(x)
    return keras.Model(inputs, outputs, name="decoder")


def _as_nhwc(images):
    """[n, H, W] or [n, H, W, 1] → [n, H, W, 1] float32."""
    images = ops.convert_to_tensor(images, dtype="float32")
    if len(images.shape) == 3:
        images = ops.expand_dims(images, -1)
    return images


@keras.saving.register_keras_serializable(package="youngvae")
class VAE(keras.Model):
    """Encoder + sampling + decoder, trained on BCE(summed over pixels) + β·KL.

    ``beta`` lives in a non-trainable float32 variable (``vae.beta.assign(...)`` from a
    schedule). ``call`` returns the reconstruction of z_mean (deterministic); training and
    evaluation go through ``train_step``/``test_step``, which sample z. ``target_blur_px`` > 0
    blurs the reconstruction TARGET (:class:`GaussianBlur`): the decoder learns to render the
    images as seen through that blur (0: the sharp image, the paper's loss);
    ``blur_renormalize``: each blurred target divided by its maximum.
    """

    def __init__(self, encoder, decoder, beta: float = 1.0, seed: int = 0, target_blur_px: float = 0.0,
                 blur_renormalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.seed = int(seed)
        self.target_blur_px = _check_blur(target_blur_px, int(encoder.inputs[0].shape[1]), "target_blur_px")
        self.blur_renormalize = bool(blur_renormalize)
        self.target_blur = (GaussianBlur(self.target_blur_px, self.blur_renormalize, name="target_blur")
                            if self.target_blur_px > 0 else None)
        self.sampling = Sampling(seed=self.seed, name="sampling")
        self.beta = keras.Variable(
            float(beta), dtype="float32", trainable=False, autocast=False, name="beta"
        )
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def build(self, input_shape=None):
        # Encoder and decoder are functional models (built on creation); Sampling has no weights.
        latent_shape = tuple(self.decoder.inputs[0].shape)
        self.sampling.build([latent_shape, latent_shape])
        self.built = True

    def call(self, inputs, training=False):
        z_mean, _ = self.encoder(_as_nhwc(inputs), training=training)
        return self.decoder(z_mean, training=training)

    def per_sample_losses(self, data, training=False):
        """(reconstruction, kl), each [batch] float32: the summed BCE over pixels and the KL to
        the prior of every sample of the batch (z sampled from its posterior)."""
        data = _as_nhwc(data)
        z_mean, z_log_var = self.encoder(data, training=training)
        z = self.sampling([z_mean, z_log_var])
        bce = self.reconstruction_losses(data, self.decoder(z, training=training))
        z_mean = ops.cast(z_mean, "float32")
        z_log_var = ops.cast(z_log_var, "float32")
        kl = -0.5 * (1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        return bce, ops.sum(kl, axis=1)

    def reconstruction_losses(self, data, reconstruction):
        """[batch] float32: the BCE of ``reconstruction`` against the images ``data`` (blurred
        first where ``target_blur_px`` > 0), summed over pixels."""
        data = _as_nhwc(data)
        # clipped: float32 round-off can lift a blurred saturated region a few ulp above 1
        target = ops.clip(self.target_blur(data), 0.0, 1.0) if self.target_blur is not None else data
        reconstruction = ops.cast(reconstruction, "float32")
        return ops.sum(keras.losses.binary_crossentropy(target, reconstruction), axis=(1, 2))

    def loss_targets(self, images, chunk: int = 256) -> np.ndarray:
        """The images [n, H, W] as the reconstruction loss sees them: blurred where
        ``target_blur_px`` > 0 (in chunks of ``chunk`` images), else the images themselves."""
        if self.target_blur is None:
            return images
        images = np.asarray(images, dtype=np.float32)
        parts = [ops.convert_to_numpy(self.target_blur(images[i : i + chunk, ..., None]))[..., 0]
                 for i in range(0, len(images), chunk)]
        return np.clip(np.concatenate(parts), 0.0, 1.0)  # as reconstruction_losses

    def reduce_losses(self, reconstruction, kl):
        """(total, reconstruction, kl) batch means from :meth:`per_sample_losses`."""
        reconstruction_loss = ops.mean(reconstruction)
        kl_loss = ops.mean(kl)
        total_loss = reconstruction_loss + ops.cast(self.beta, "float32") * kl_loss
        return total_loss, reconstruction_loss, kl_loss

    def compute_losses(self, data, training=False):
        """(total, reconstruction, kl) for one batch, all float32 scalars."""
        return self.reduce_losses(*self.per_sample_losses(data, training=training))

    def update_trackers(self, total_loss, reconstruction_loss, kl_loss):
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}

    @staticmethod
    def _images(data):
        # fit/evaluate may hand over (x,) or (x, y) tuples; the VAE only uses x.
        if isinstance(data, (tuple, list)):
            data = data[0]
        return data

    def train_step(self, *args):
        # A custom train_step is backend-specific in Keras 3 (its guides give one per backend);
        # `fit`/`train_on_batch` call it as train_step(data), or train_step(state, data) on JAX.
        backend = keras.backend.backend()
        if backend == "jax":
            return self._jax_train_step(*args)
        data = self._images(args[0])
        if backend == "torch":
            import torch

            self.zero_grad()
            losses = self.compute_losses(data, training=True)
            losses[0].backward()
            grads = [v.value.grad for v in self.trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(grads, self.trainable_weights)
            return self.update_trackers(*losses)
        import tensorflow as tf

        with tf.GradientTape() as tape:
            losses = self.compute_losses(data, training=True)
        grads = tape.gradient(losses[0], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self.update_trackers(*losses)

    def _stateless_losses(self, trainable, non_trainable, data, training):
        """compute_losses as a pure function of the variables' values (JAX)."""
        mapping = list(zip(self.trainable_variables, trainable))
        mapping += list(zip(self.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses = self.compute_losses(data, training=training)
        new_non_trainable = [scope.get_current_value(v) for v in self.non_trainable_variables]
        return losses[0], (losses, new_non_trainable)

    def _stateless_trackers(self, metrics_variables, losses):
        logs, new_variables, start = {}, [], 0
        for metric, value in zip(self.metrics, losses):
            own = metrics_variables[start : start + len(metric.variables)]
            start += len(metric.variables)
            own = metric.stateless_update_state(own, value)
            logs[metric.name] = metric.stateless_result(own)
            new_variables += list(own)
        return logs, new_variables

    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_variables, metrics_variables = state
        grad_fn = jax.value_and_grad(self._stateless_losses, has_aux=True)
        (_, (losses, non_trainable)), grads = grad_fn(
            trainable, non_trainable, self._images(data), True
        )
        trainable, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable
        )
        logs, metrics_variables = self._stateless_trackers(metrics_variables, losses)
        return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)

    def _jax_test_step(self, state, data):
        trainable, non_trainable, metrics_variables = state
        _, (losses, non_trainable) = self._stateless_losses(
            trainable, non_trainable, self._images(data), False
        )
        logs, metrics_variables = self._stateless_trackers(metrics_variables, losses)
        return logs, (trainable, non_trainable, metrics_variables)

    def test_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_test_step(*args)
        return self.update_trackers(*self.compute_losses(self._images(args[0]), training=False))

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": float(self.beta.numpy()),
            "seed": self.seed,
            "target_blur_px": self.target_blur_px,
            "blur_renormalize": self.blur_renormalize,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def build_vae(
    image_size: int,
    latent_dim: int = 1,
    beta: float = 1.0,
    seed: int = 0,
    *,
    precision: str | None = None,
    plain_keras: bool = False,
    encoder_blur_px: float = 0.0,
    target_blur_px: float = 0.0,
    blur_renormalize: bool = False,
    output_conv: str = "float32",
) -> VAE:
    """The paper's VAE for square images of side ``image_size`` (even) and ``latent_dim``.

    ``precision`` (a Keras dtype policy: 'float32', 'mixed_bfloat16', 'mixed_float16') is
    applied while the layers are built and the previous global policy restored afterwards; None
    builds with the current global policy. ``output_conv``: see :func:`build_decoder`. The
    returned model is built (all weights exist) but not compiled.
    """
    _check_image_size(image_size)
    _check_latent_dim(latent_dim)
    previous = keras.mixed_precision.global_policy()
    if precision is not None:
        keras.mixed_precision.set_global_policy(precision)
    try:
        vae = VAE(
            build_encoder(image_size, latent_dim, blur_px=encoder_blur_px, blur_renormalize=blur_renormalize),
            build_decoder(image_size, latent_dim, plain_keras=plain_keras, output_conv=output_conv),
            beta=beta,
            seed=seed,
            target_blur_px=target_blur_px,
            blur_renormalize=blur_renormalize,
            name="vae",
        )
        vae.build((None, image_size, image_size, 1))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return vae


def save_vae(vae: VAE, path) -> None:
    """Save the VAE (architecture + weights, no optimizer state) to one ``.keras`` file.

    Written to a temp file beside ``path``, then renamed into place. Training state lives in
    the checkpoints of :func:`youngvae.vae.training.train_vae`, not here.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"path must end with '.keras', got {path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp.keras")
    if getattr(vae, "optimizer", None) is not None:
        # A .keras save always includes the optimizer of a compiled model (include_optimizer is
        # honoured only by legacy .h5), doubling the file; save an uncompiled copy instead.
        copy = VAE.from_config(vae.get_config())
        copy.build(tuple(vae.encoder.inputs[0].shape))
        copy.set_weights(vae.get_weights())
        vae = copy
    try:
        vae.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_vae(path) -> VAE:
    """Load a VAE saved by :func:`save_vae` (uncompiled: compile it before ``fit``/``evaluate``)."""
    return keras.saving.load_model(os.fspath(path), compile=False)


def load_encoder(path) -> keras.Model:
    """The encoder (image [n, H, W, 1] → [z_mean, z_log_var]) from a :func:`save_vae` file."""
    return load_vae(path).encoder


def load_decoder(path) -> keras.Model:
    """The decoder (z [n, latent] → image [n, H, W, 1]) from a :func:`save_vae` file."""
    return load_vae(path).decoder
