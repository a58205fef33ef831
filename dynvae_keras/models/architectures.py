"""disentanglement_lib's network architectures as Keras functional models.

Each builder is registered under dlib's gin name (`@conv_encoder`, `@deconv_decoder`,
`@fc_encoder`, `@fc_decoder`, `@fc_discriminator`) and in :data:`ARCHITECTURES`, so models
can store the architecture by name in their config. `@mlp_encoder`/`@mlp_decoder` are a small
pair of our own for toy data (`dynvae_keras.data.Rectangles`) and tests.

Encoders map images (B, H, W, C) in [0, 1] to `(z_mean, z_logvar)`, each (B, num_latent);
decoders map latents (B, num_latent) to image logits (B, H, W, C); the discriminator maps
latents to 2 logits (index 0: "z from the joint", index 1: "z permuted").
"""

from __future__ import annotations

import gin
import keras
import numpy as np
from keras import layers

from dynvae_keras.models import registry


@gin.configurable("conv_encoder", allowlist=[])
def conv_encoder(input_shape, num_latent, name="encoder"):
  """dlib conv encoder: conv 32k4s2, 32k4s2, 64k2s2, 64k2s2 (ReLU, same) → dense 256 → mean, logvar."""
  images = keras.Input(shape=tuple(input_shape), name="images")
  h = images
  for i, (filters, kernel) in enumerate([(32, 4), (32, 4), (64, 2), (64, 2)], start=1):
    h = layers.Conv2D(filters, kernel, strides=2, padding="same", activation="relu", name=f"e{i}")(h)
  h = layers.Flatten()(h)
  h = layers.Dense(256, activation="relu", name="e5")(h)
  return _gaussian_encoder_model(images, h, num_latent, name)


def _gaussian_encoder_model(images, features, num_latent, name):
  """The encoder model: linear `means` and `log_var` heads on the features."""
  means = layers.Dense(num_latent, name="means")(features)
  log_var = layers.Dense(num_latent, name="log_var")(features)
  return keras.Model(images, [means, log_var], name=name)


@gin.configurable("deconv_decoder", allowlist=[])
def deconv_decoder(num_latent, output_shape, name="decoder"):
  """dlib deconv decoder: dense 256, 1024 → 4×4×64 → deconv 64, 32, 32 (k4 s2, ReLU) → deconv C (logits)."""
  height, width, channels = output_shape
  if height % 16 or width % 16:
    raise ValueError(f"deconv_decoder needs image sides divisible by 16; got {output_shape}.")
  latents = keras.Input(shape=(num_latent,), name="latent_vectors")
  h = layers.Dense(256, activation="relu", name="d1")(latents)
  h = layers.Dense(1024, activation="relu", name="d2")(h)
  h = layers.Reshape((4, 4, 64))(h)
  for i, filters in enumerate([64, 32, 32], start=3):
    h = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu", name=f"d{i}")(h)
  logits = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", name="d6")(h)
  if (height, width) != (64, 64):
    logits = layers.Resizing(height, width, name="resize")(logits)
  return keras.Model(latents, logits, name=name)


@gin.configurable("fc_encoder", allowlist=[])
def fc_encoder(input_shape, num_latent, name="encoder"):
  """dlib fully connected encoder: dense 1200, 1200 (ReLU) → mean, logvar."""
  images = keras.Input(shape=tuple(input_shape), name="images")
  h = layers.Flatten()(images)
  h = layers.Dense(1200, activation="relu", name="e1")(h)
  h = layers.Dense(1200, activation="relu", name="e2")(h)
  return _gaussian_encoder_model(images, h, num_latent, name)


@gin.configurable("fc_decoder", allowlist=[])
def fc_decoder(num_latent, output_shape, name="decoder"):
  """dlib fully connected decoder: dense 1200 ×3 (tanh) → dense H·W·C logits."""
  latents = keras.Input(shape=(num_latent,), name="latent_vectors")
  h = latents
  for i in range(1, 4):
    h = layers.Dense(1200, activation="tanh", name=f"d{i}")(h)
  h = layers.Dense(int(np.prod(output_shape)), name="d4")(h)
  logits = layers.Reshape(tuple(output_shape))(h)
  return keras.Model(latents, logits, name=name)


#: Units of each hidden layer of the small MLP pair.
MLP_UNITS = (256, 256)


@gin.configurable("mlp_encoder", allowlist=[])
def mlp_encoder(input_shape, num_latent, name="encoder"):
  """Small fully connected encoder (not in dlib): dense 256, 256 (ReLU) → mean, logvar.

  For toy data and tests, e.g. `Rectangles` at 32×32: a batch-64 step costs a few
  milliseconds on a CPU, against ~100 ms for dlib's `fc_encoder`/`fc_decoder`.
  """
  images = keras.Input(shape=tuple(input_shape), name="images")
  h = layers.Flatten()(images)
  for i, units in enumerate(MLP_UNITS, start=1):
    h = layers.Dense(units, activation="relu", name=f"e{i}")(h)
  return _gaussian_encoder_model(images, h, num_latent, name)


@gin.configurable("mlp_decoder", allowlist=[])
def mlp_decoder(num_latent, output_shape, name="decoder"):
  """Small fully connected decoder (not in dlib): dense 256, 256 (ReLU) → dense H·W·C logits."""
  latents = keras.Input(shape=(num_latent,), name="latent_vectors")
  h = latents
  for i, units in enumerate(MLP_UNITS, start=1):
    h = layers.Dense(units, activation="relu", name=f"d{i}")(h)
  h = layers.Dense(int(np.prod(output_shape)), name=f"d{len(MLP_UNITS) + 1}")(h)
  logits = layers.Reshape(tuple(output_shape))(h)
  return keras.Model(latents, logits, name=name)


@gin.configurable("fc_discriminator", allowlist=[])
def fc_discriminator(num_latent, name="discriminator"):
  """FactorVAE discriminator: 6 × dense 1000 (leaky ReLU, slope 0.2 as tf.nn.leaky_relu) → 2 logits.

  Layer names start with `discriminator_` so that optimizers can route its variables by path
  (see :data:`DISCRIMINATOR_VARIABLE_PATTERN`).
  """
  latents = keras.Input(shape=(num_latent,), name="latent_vectors")
  h = latents
  for i in range(1, 7):
    h = layers.Dense(1000, name=f"discriminator_d{i}")(h)
    h = layers.LeakyReLU(negative_slope=0.2, name=f"discriminator_leaky_relu{i}")(h)
  logits = layers.Dense(2, name="discriminator_logits")(h)
  return keras.Model(latents, logits, name=name)


#: Regex matching the paths of discriminator variables (for `keras.optimizers.OptimizerMap`).
DISCRIMINATOR_VARIABLE_PATTERN = r"(.*/)?discriminator_[^/]*/.*"

ARCHITECTURES = {
    "conv_encoder": conv_encoder,
    "fc_encoder": fc_encoder,
    "deconv_decoder": deconv_decoder,
    "fc_decoder": fc_decoder,
    "mlp_encoder": mlp_encoder,
    "mlp_decoder": mlp_decoder,
    "fc_discriminator": fc_discriminator,
}


def architecture_name(fn) -> str:
  """The registered name of an architecture given as a name or a (gin-wrapped) builder."""
  return registry.registered_name(fn, ARCHITECTURES, "architecture")
