"""β-VAE (Higgins et al. 2017): loss = reconstruction + β·KL, with β fixed or driven by a controller."""

from __future__ import annotations

import keras
from keras import ops

from dynvae_keras.models.trainer import cross_replica_mean
from dynvae_keras.models.vae import VAE

CONTROLLER_TERMS = ("beta", "kl_setpoint", "kl_feedback", "p_term", "i_term")


def deserialize_controller(controller):
  if controller is None or isinstance(controller, keras.layers.Layer):
    return controller
  return keras.saving.deserialize_keras_object(controller)


def controller_config(controller):
  """The config entry of an optional controller: {} or {"controller": serialised}."""
  return {} if controller is None else {"controller": keras.saving.serialize_keras_object(controller)}


def controller_logs(controller, feedback, training):
  """Advances `controller` on `feedback` (no gradient) when training; else its last logged values.

  Under data parallelism the controller sees the global-batch feedback (the mean over
  replicas), so every replica computes the same β.
  """
  if not training:
    return controller.last_logs()
  return controller.update(ops.stop_gradient(cross_replica_mean(feedback)))


def _refuse_fixed_beta(name, kwargs):
  """A controlled model's β comes from its controller: a `beta` argument would be ignored."""
  if "beta" in kwargs:
    raise ValueError(
        f"{name} sets β with its controller; beta={kwargs['beta']!r} would be ignored. Set the "
        f"controller's initial β instead (e.g. `dynamic_vae.beta_0` or "
        f"IncrementalPIController(beta_0=...)), or use BetaVAE(beta=...) for a fixed β.")


@keras.saving.register_keras_serializable(package="dynvae_keras")
class BetaVAE(VAE):
  """β-VAE; β is a non-trainable variable, set by `controller` each training step when given.

  Args:
    beta: KL weight (dlib `vae.beta`), default 1 (the plain VAE). Only without a controller:
      with one, β starts at the controller's initial β and passing `beta` is an error.
    controller: optional closed-loop controller (`dynvae_keras.control.PIController`,
      `IncrementalPIController`, ...): called once per training step with the batch KL (no
      gradient flows through it) and returns that step's β.
    **kwargs: see :class:`VAE`.
  """

  def __init__(self, beta=None, controller=None, **kwargs):
    super().__init__(**kwargs)
    if controller is not None and beta is not None:
      _refuse_fixed_beta(type(self).__name__, {"beta": beta})
    beta = 1.0 if beta is None else beta
    if float(beta) < 0:
      raise ValueError(f"beta must be >= 0; got {beta}.")
    self.controller = deserialize_controller(controller)
    self.initial_beta = float(beta) if self.controller is None else float(
        ops.convert_to_numpy(self.controller.beta))
    self.beta = self.add_weight(name="beta", shape=(), trainable=False,
                                initializer=keras.initializers.Constant(self.initial_beta))

  @property
  def state_terms(self):
    return ("beta",) if self.controller is None else CONTROLLER_TERMS

  def state_values(self):
    if self.controller is None:
      return {"beta": ops.convert_to_tensor(self.beta)}
    return self.controller.last_logs()

  def get_config(self):
    if self.controller is None:
      return {**super().get_config(), "beta": self.initial_beta}
    return {**super().get_config(), **controller_config(self.controller)}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    if self.controller is None:
      beta = ops.copy(ops.convert_to_tensor(self.beta))
      return beta * kl_loss, {"beta": beta}
    logs = controller_logs(self.controller, kl_loss, training)
    if training:
      self.beta.assign(logs["beta"])
    return logs["beta"] * kl_loss, dict(logs)


@keras.saving.register_keras_serializable(package="dynvae_keras")
class ControlVAE(BetaVAE):
  """ControlVAE (Shao et al. 2020): β from a positional PI controller on the batch KL.

  Args:
    controller: default `PIController()` — Kp 0.01, Ki 0.001, β_min 1, staircase set point
      0.5 + 0.15 every 5000 steps up to 18 (the official dSprites settings).
  """

  def __init__(self, controller=None, **kwargs):
    from dynvae_keras.control import PIController  # pylint: disable=g-import-not-at-top
    _refuse_fixed_beta(type(self).__name__, kwargs)
    super().__init__(controller=deserialize_controller(controller) or PIController(name="controller"),
                     **kwargs)


@keras.saving.register_keras_serializable(package="dynvae_keras")
class DynamicVAE(BetaVAE):
  """DynamicVAE (Shao et al. 2021): β from an incremental PI controller on a moving-average KL.

  β starts large (β₀ = 50) to disentangle and falls below 1 (floor 0.1) as the hybrid-annealed
  set point rises, so that reconstruction improves late in training.

  Args:
    controller: default `IncrementalPIController()` — β₀ 50, β_min 0.1, Kp 0.01, Ki 0.005,
      window 5, hybrid annealing 0.5, +0.15 per 6000 steps ramped over 1000, to 20.
  """

  def __init__(self, controller=None, **kwargs):
    from dynvae_keras.control import IncrementalPIController  # pylint: disable=g-import-not-at-top
    _refuse_fixed_beta(type(self).__name__, kwargs)
    super().__init__(
        controller=deserialize_controller(controller) or IncrementalPIController(name="controller"),
        **kwargs)
