"""β-TCVAE (Chen et al. 2018): KL + (β − 1)·TC with dlib's minibatch-weighted TC estimator."""

from __future__ import annotations

import keras

from dynvae_keras.models import losses
from dynvae_keras.models.vae import GaussianVAE


@keras.saving.register_keras_serializable(package="dynvae_keras")
class BetaTCVAE(GaussianVAE):
  """β-TCVAE; regularizer = KL + (β − 1)·TC, TC estimated on the batch (log N·M constant dropped).

  Args:
    beta: TC weight + 1 (dlib `beta_tc_vae.beta`).
  """

  tracked_terms = GaussianVAE.tracked_terms + ("tc",)

  def __init__(self, beta=6.0, **kwargs):
    super().__init__(**kwargs)
    self.beta_value = float(beta)

  def get_config(self):
    return {**super().get_config(), "beta": self.beta_value}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    tc = losses.total_correlation(z_sampled, z_mean, z_logvar)
    return kl_loss + (self.beta_value - 1.0) * tc, {"tc": tc}
