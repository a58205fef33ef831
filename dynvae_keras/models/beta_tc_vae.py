"""β-TCVAE (Chen et al. 2018): KL + (β − 1)·TC with dlib's minibatch-weighted TC estimator."""

from __future__ import annotations

import keras

from dynvae_keras.models import losses
from dynvae_keras.models.beta_vae import (CONTROLLER_TERMS, controller_config, controller_logs,
                                          deserialize_controller)
from dynvae_keras.models.vae import GaussianVAE


@keras.saving.register_keras_serializable(package="dynvae_keras")
class BetaTCVAE(GaussianVAE):
  """β-TCVAE; regularizer = KL + (β − 1)·TC, TC estimated on the batch (log N·M constant dropped).

  Args:
    beta: TC weight + 1 (dlib `beta_tc_vae.beta`).
    controller: optional controller driving the TC weight (β − 1) from the batch TC estimate
      (its set point is then a TC target); logged as `beta`, `kl_setpoint`, ... like β-VAE's.
  """

  tracked_terms = GaussianVAE.tracked_terms + ("tc",)

  def __init__(self, beta=6.0, controller=None, **kwargs):
    super().__init__(**kwargs)
    self.beta_value = float(beta)
    self.controller = deserialize_controller(controller)

  @property
  def state_terms(self):
    return () if self.controller is None else CONTROLLER_TERMS

  def state_values(self):
    return {} if self.controller is None else self.controller.last_logs()

  def get_config(self):
    return {**super().get_config(), "beta": self.beta_value, **controller_config(self.controller)}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    tc = losses.total_correlation(z_sampled, z_mean, z_logvar)
    if self.controller is None:
      return kl_loss + (self.beta_value - 1.0) * tc, {"tc": tc}
    logs = controller_logs(self.controller, tc, training)
    return kl_loss + logs["beta"] * tc, {"tc": tc, **logs}
