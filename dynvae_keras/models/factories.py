"""gin-configurable model factories under dlib's names.

gin cannot decorate `keras.Model` subclasses, so each model has a factory:
`model.model = @vae()` with `vae.beta = 4.`, `@annealed_vae()`, `@factor_vae()`,
`@dip_vae()`, `@beta_tc_vae()`. The shared settings come from dlib's `encoder`,
`decoder`, `reconstruction_loss` and `model.random_seed` bindings. Optimizers follow dlib's
`vae_optimizer.optimizer_fn = @AdamOptimizer` (TF1 parameter names accepted).
"""

from __future__ import annotations

import gin
import keras

from dynvae_keras.models import architectures, losses
from dynvae_keras.models.annealed_vae import AnnealedVAE
from dynvae_keras.models.beta_tc_vae import BetaTCVAE
from dynvae_keras.models.beta_vae import BetaVAE
from dynvae_keras.models.dip_vae import DIPVAE
from dynvae_keras.models.factor_vae import FactorVAE


@gin.configurable("encoder", allowlist=["num_latent", "encoder_fn"])
def encoder_settings(num_latent=gin.REQUIRED, encoder_fn=gin.REQUIRED):
  return {"num_latent": int(num_latent), "encoder_fn": architectures.architecture_name(encoder_fn)}


@gin.configurable("decoder", allowlist=["decoder_fn"])
def decoder_settings(decoder_fn=gin.REQUIRED):
  return {"decoder_fn": architectures.architecture_name(decoder_fn)}


@gin.configurable("reconstruction_loss", allowlist=["loss_fn", "activation"])
def reconstruction_settings(loss_fn=gin.REQUIRED, activation="logits"):
  return {"reconstruction_loss": losses.loss_name(loss_fn), "activation": activation}


@gin.configurable("discriminator", allowlist=["discriminator_fn"])
def discriminator_settings(discriminator_fn=gin.REQUIRED):
  return architectures.architecture_name(discriminator_fn)


def shared_settings(seed=None):
  """Keyword arguments common to every model, read from the gin bindings.

  The seed defaults to 0; the training driver re-seeds the model with `model.random_seed`.
  """
  return {**encoder_settings(), **decoder_settings(), **reconstruction_settings(),
          "seed": 0 if seed is None else int(seed)}


@gin.configurable("vae", allowlist=["beta"])
def vae(beta=gin.REQUIRED, seed=None):
  """β-VAE (dlib `vae`)."""
  return BetaVAE(beta=beta, **shared_settings(seed))


@gin.configurable("annealed_vae", allowlist=["gamma", "c_max", "iteration_threshold"])
def annealed_vae(gamma=gin.REQUIRED, c_max=gin.REQUIRED, iteration_threshold=gin.REQUIRED, seed=None):
  """AnnealedVAE (dlib `annealed_vae`)."""
  return AnnealedVAE(gamma=gamma, c_max=c_max, iteration_threshold=iteration_threshold,
                     **shared_settings(seed))


@gin.configurable("factor_vae", allowlist=["gamma"])
def factor_vae(gamma=gin.REQUIRED, seed=None):
  """FactorVAE (dlib `factor_vae`)."""
  return FactorVAE(gamma=gamma, discriminator_fn=discriminator_settings(), **shared_settings(seed))


@gin.configurable("dip_vae", allowlist=["lambda_od", "lambda_d_factor", "dip_type"])
def dip_vae(lambda_od=gin.REQUIRED, lambda_d_factor=gin.REQUIRED, dip_type="i", seed=None):
  """DIP-VAE (dlib `dip_vae`)."""
  return DIPVAE(lambda_od=lambda_od, lambda_d_factor=lambda_d_factor, dip_type=dip_type,
                **shared_settings(seed))


@gin.configurable("beta_tc_vae", allowlist=["beta"])
def beta_tc_vae(beta=gin.REQUIRED, seed=None):
  """β-TCVAE (dlib `beta_tc_vae`)."""
  return BetaTCVAE(beta=beta, **shared_settings(seed))


@gin.configurable("AdamOptimizer")
def adam_optimizer(learning_rate=1e-4, beta1=0.9, beta2=0.999, epsilon=1e-8, name="Adam",
                   use_locking=False):
  """dlib's `AdamOptimizer` binding (TF1 names) as a Keras Adam; `use_locking` is ignored."""
  del use_locking
  return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta1, beta_2=beta2,
                               epsilon=epsilon, name=name.lower())


@gin.configurable("vae_optimizer", allowlist=["optimizer_fn", "learning_rate"])
def vae_optimizer(optimizer_fn=gin.REQUIRED, learning_rate=None):
  """The VAE optimizer (dlib `vae_optimizer`); `learning_rate` overrides the optimizer's own."""
  optimizer = optimizer_fn()
  if learning_rate is not None:
    optimizer.learning_rate = learning_rate
  return optimizer


@gin.configurable("discriminator_optimizer", allowlist=["optimizer_fn", "learning_rate"])
def discriminator_optimizer(optimizer_fn=None, learning_rate=None):
  """The FactorVAE discriminator optimizer; default Adam(1e-4, 0.5, 0.9) as dlib's study."""
  if optimizer_fn is None:
    from dynvae_keras.models.factor_vae import default_discriminator_optimizer  # pylint: disable=g-import-not-at-top
    optimizer = default_discriminator_optimizer()
  else:
    optimizer = optimizer_fn()
  if learning_rate is not None:
    optimizer.learning_rate = learning_rate
  return optimizer


def compile_model(model, optimizer=None, **kwargs):
  """Compiles `model` with the gin-configured optimizers (and a discriminator's, if any)."""
  optimizer = optimizer if optimizer is not None else vae_optimizer()
  if isinstance(model, FactorVAE):
    model.compile(optimizer=optimizer, discriminator_optimizer=discriminator_optimizer(), **kwargs)
  else:
    model.compile(optimizer=optimizer, **kwargs)
  return model
