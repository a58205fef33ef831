"""β-TCVAE (Chen et al. 2018): KL + (β − 1)·TC with dlib's minibatch-weighted TC estimator."""

from __future__ import annotations

import math

import keras
from keras import ops

from dynvae_keras.models import losses
from dynvae_keras.models.beta_vae import controller_config, controller_logs, deserialize_controller
from dynvae_keras.models.vae import VAE

#: Logged under a controller: β = 1 + the TC weight, and the controller's terms for the TC.
CONTROLLED_TC_TERMS = ("beta", "tc_weight", "tc_setpoint", "tc_feedback", "p_term", "i_term")


@keras.saving.register_keras_serializable(package="dynvae_keras")
class BetaTCVAE(VAE):
  """β-TCVAE; regularizer = KL + (β − 1)·TC, TC estimated on the batch as dlib does.

  `beta` means dlib's β in both modes: the regularizer is KL + (β − 1)·TC, and the TC weight
  is β − 1. The logged `tc` is dlib's estimate, which drops the constant (D − 1)·log(B·N)
  (B the batch, N the data set size): it is TC − (D − 1)·log(B·N), not a TC in nats.

  With a `controller`, the controller sets the TC weight (β − 1) each step from the TC in
  nats, tc + (D − 1)·log(B·N), so that its set point is a TC in nats; that needs
  `dataset_size`. Logged then: `beta` (1 + TC weight), `tc_weight`, `tc_setpoint`,
  `tc_feedback` (the TC in nats the controller saw), `p_term`, `i_term`.

  Args:
    beta: dlib `beta_tc_vae.beta` (default 6); not with a controller.
    controller: optional controller of the TC weight (`PIController`, ...).
    dataset_size: N, the number of distinct observations (dSprites: 737,280); required with a
      controller.
  """

  tracked_terms = VAE.tracked_terms + ("tc",)

  def __init__(self, beta=None, controller=None, dataset_size=None, **kwargs):
    super().__init__(**kwargs)
    self.controller = deserialize_controller(controller)
    if self.controller is not None:
      if beta is not None:
        raise ValueError(f"BetaTCVAE's TC weight comes from its controller; beta={beta!r} would be "
                         f"ignored. Set the controller's initial output instead.")
      if dataset_size is None or int(dataset_size) < 1:
        raise ValueError(
            "A controlled BetaTCVAE needs dataset_size (the number of distinct observations, e.g. "
            "737280 for dSprites): dlib's TC estimate drops (D − 1)·log(batch·dataset_size), and "
            "the controller's set point is a TC in nats only with that constant added back.")
    self.beta_value = 6.0 if beta is None else float(beta)
    self.dataset_size = None if dataset_size is None else int(dataset_size)

  @property
  def state_terms(self):
    return () if self.controller is None else CONTROLLED_TC_TERMS

  def state_values(self):
    return {} if self.controller is None else self._controlled_logs(self.controller.last_logs())

  def get_config(self):
    config = {**super().get_config(), **controller_config(self.controller)}
    if self.controller is None:
      return {**config, "beta": self.beta_value}
    return {**config, "dataset_size": self.dataset_size}

  def tc_in_nats(self, tc_estimate, batch_size):
    """dlib's TC estimate plus the dropped constant (D − 1)·log(batch_size·dataset_size)."""
    shift = (self.num_latent - 1) * (ops.log(ops.cast(batch_size, "float32")) +
                                     math.log(self.dataset_size))
    return tc_estimate + shift

  @staticmethod
  def _controlled_logs(logs):
    return {"beta": 1.0 + logs["beta"], "tc_weight": logs["beta"], "tc_setpoint": logs["kl_setpoint"],
            "tc_feedback": logs["kl_feedback"], "p_term": logs["p_term"], "i_term": logs["i_term"]}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    tc = losses.total_correlation(z_sampled, z_mean, z_logvar)
    if self.controller is None:
      return kl_loss + (self.beta_value - 1.0) * tc, {"tc": tc}
    feedback = self.tc_in_nats(tc, ops.shape(z_sampled)[0])
    logs = self._controlled_logs(controller_logs(self.controller, feedback, training))
    return kl_loss + logs["tc_weight"] * tc, {"tc": tc, **logs}
