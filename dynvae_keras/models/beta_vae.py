"""β-VAE (Higgins et al. 2017): loss = reconstruction + β·KL."""

from __future__ import annotations

import keras
from keras import ops

from dynvae_keras.models.vae import GaussianVAE


@keras.saving.register_keras_serializable(package="dynvae_keras")
class BetaVAE(GaussianVAE):
  """β-VAE; β is a non-trainable variable so that controllers and callbacks can drive it.

  Args:
    beta: KL weight (dlib `vae.beta`); β = 1 is the plain VAE.
    **kwargs: see :class:`GaussianVAE`.
  """

  state_terms = ("beta",)

  def __init__(self, beta=1.0, **kwargs):
    super().__init__(**kwargs)
    if float(beta) < 0:
      raise ValueError(f"beta must be >= 0; got {beta}.")
    self.initial_beta = float(beta)
    self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(self.initial_beta),
                                trainable=False)

  def get_config(self):
    return {**super().get_config(), "beta": self.initial_beta}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    beta = ops.copy(ops.convert_to_tensor(self.beta))
    return beta * kl_loss, {"beta": beta}
