"""DIP-VAE-I/II (Kumar et al. 2018): KL + covariance penalties on the aggregate posterior."""

from __future__ import annotations

import keras
from keras import ops

from dynvae_keras.models import losses
from dynvae_keras.models.vae import VAE


@keras.saving.register_keras_serializable(package="dynvae_keras")
class DIPVAE(VAE):
  """DIP-VAE; regularizer = KL + λ_od·Σ_{i≠j}Cov_ij² + λ_d·Σ(Cov_ii − 1)² with λ_d = lambda_d_factor·λ_od.

  Args:
    lambda_od: off-diagonal weight (dlib `dip_vae.lambda_od`).
    lambda_d_factor: λ_d / λ_od (dlib `dip_vae.lambda_d_factor`: 10 for type i, 1 for type ii).
    dip_type: 'i' (Cov[μ]) or 'ii' (Cov[μ] + E[diag exp(logvar)]).
  """

  tracked_terms = VAE.tracked_terms + ("dip_penalty",)

  def __init__(self, lambda_od=1.0, lambda_d_factor=10.0, dip_type="i", **kwargs):
    super().__init__(**kwargs)
    if dip_type not in ("i", "ii"):
      raise ValueError(f"dip_type must be 'i' or 'ii'; got '{dip_type}'.")
    self.lambda_od, self.lambda_d_factor, self.dip_type = float(lambda_od), float(lambda_d_factor), dip_type

  def get_config(self):
    return {**super().get_config(), "lambda_od": self.lambda_od,
            "lambda_d_factor": self.lambda_d_factor, "dip_type": self.dip_type}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    cov = losses.covariance(z_mean)
    if self.dip_type == "ii":
      cov = cov + ops.diag(ops.mean(ops.exp(z_logvar), axis=0))
    penalty = losses.dip_penalty(cov, self.lambda_od, self.lambda_d_factor * self.lambda_od)
    return kl_loss + penalty, {"dip_penalty": penalty}
