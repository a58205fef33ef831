"""AnnealedVAE (Burgess et al. 2018): loss = reconstruction + γ·|KL − C|, C = min(c_max, c_max·t/threshold)."""

from __future__ import annotations

import keras
from keras import ops

from dynvae_keras.models.vae import VAE


@keras.saving.register_keras_serializable(package="dynvae_keras")
class AnnealedVAE(VAE):
  """AnnealedVAE with dlib's linear capacity schedule (t = dlib's global step, 0 at the first step).

  Args:
    gamma: weight of the capacity term (dlib `annealed_vae.gamma`, study default 1000).
    c_max: final capacity in nats (dlib `annealed_vae.c_max`).
    iteration_threshold: steps to reach c_max (dlib `annealed_vae.iteration_threshold`).
    capacity_schedule: optional `dynvae_keras.control.SetPoint` replacing the linear schedule
      (evaluated at t = step + 1, the controllers' convention), e.g. DynamicVAE's hybrid annealing.
  """

  state_terms = ("capacity",)
  tracked_terms = VAE.tracked_terms

  def __init__(self, gamma=1000.0, c_max=25.0, iteration_threshold=100000, capacity_schedule=None,
               **kwargs):
    super().__init__(**kwargs)
    if int(iteration_threshold) <= 0:
      raise ValueError(f"iteration_threshold must be > 0; got {iteration_threshold}.")
    self.gamma, self.c_max = float(gamma), float(c_max)
    self.iteration_threshold = int(iteration_threshold)
    if capacity_schedule is not None and not hasattr(capacity_schedule, "formula"):
      capacity_schedule = keras.saving.deserialize_keras_object(capacity_schedule)
    self.capacity_schedule = capacity_schedule

  def get_config(self):
    config = {**super().get_config(), "gamma": self.gamma, "c_max": self.c_max,
              "iteration_threshold": self.iteration_threshold}
    if self.capacity_schedule is not None:
      config["capacity_schedule"] = keras.saving.serialize_keras_object(self.capacity_schedule)
    return config

  def capacity(self):
    """C(t) = min(c_max, c_max·t / iteration_threshold) in nats, or the capacity schedule's C(t + 1)."""
    return self._capacity_at(self.training_step_index())

  def state_values(self):
    """The capacity of the last training step, from the step counter (the fused JAX loop then
    carries nothing for logging; see `MultiLossTrainer.state_values`)."""
    return {"capacity": self._capacity_at(ops.cast(ops.convert_to_tensor(self.step) - 1, "float32"))}

  def _capacity_at(self, t):
    if self.capacity_schedule is not None:
      return ops.cast(self.capacity_schedule(t + 1.0), "float32")
    return ops.minimum(self.c_max, self.c_max * t / self.iteration_threshold)

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    c = self.capacity()
    return self.gamma * ops.abs(kl_loss - c), {"capacity": c}
