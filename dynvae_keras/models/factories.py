"""gin-configurable model factories under dlib's names.

gin cannot decorate `keras.Model` subclasses, so each model has a factory:
`model.model = @vae()` with `vae.beta = 4.`, `@annealed_vae()`, `@factor_vae()`,
`@dip_vae()`, `@beta_tc_vae()`. The shared settings come from dlib's `encoder`,
`decoder`, `reconstruction_loss` and `model.random_seed` bindings. Optimizers follow dlib's
`vae_optimizer.optimizer_fn = @AdamOptimizer` (TF1 parameter names accepted).

Defaults live once, in the classes' constructors: a factory's keyword defaults are read from
the constructor it calls (`constructor_defaults`), so gin's operative config records the values
used, and the gin files under `gin_configs/model/` bind only what differs from them (dlib's
`vae.beta`-style required settings, a study's schedule).
"""

from __future__ import annotations

import inspect

import gin
import keras

from dynvae_keras.control import (ConstantSetPoint, HybridAnnealingSetPoint,
                                  IncrementalPIController, LinearSetPoint, PIController,
                                  StaircaseSetPoint)

from dynvae_keras.models import architectures, losses
from dynvae_keras.models.annealed_vae import AnnealedVAE
from dynvae_keras.models.beta_tc_vae import BetaTCVAE
from dynvae_keras.models.beta_vae import BetaVAE
from dynvae_keras.models.dip_vae import DIPVAE
from dynvae_keras.models.beta_vae import ControlVAE, DynamicVAE
from dynvae_keras.models.factor_vae import FactorVAE, default_discriminator_optimizer
from dynvae_keras.models.learnable_vae import LVAE
from dynvae_keras.models.sigma_vae import SigmaVAE


def constructor_defaults(cls):
  """{argument: default} of `cls`'s constructor (arguments without a default are left out)."""
  return {name: parameter.default for name, parameter in inspect.signature(cls).parameters.items()
          if parameter.default is not inspect.Parameter.empty}


_STAIRCASE = constructor_defaults(StaircaseSetPoint)
_HYBRID = constructor_defaults(HybridAnnealingSetPoint)
_LINEAR = constructor_defaults(LinearSetPoint)
_PI = constructor_defaults(PIController)
_INCREMENTAL_PI = constructor_defaults(IncrementalPIController)
_LVAE = constructor_defaults(LVAE)


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
  optimizer = default_discriminator_optimizer() if optimizer_fn is None else optimizer_fn()
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


# Controlled models --------------------------------------------------------------------
@gin.configurable("constant_setpoint")
def constant_setpoint(value=gin.REQUIRED):
  return ConstantSetPoint(value)


@gin.configurable("staircase_setpoint")
def staircase_setpoint(start=_STAIRCASE["start"], step=_STAIRCASE["step"], every=_STAIRCASE["every"],
                       maximum=_STAIRCASE["maximum"]):
  """ControlVAE's set point: start + step every `every` steps, capped at `maximum`."""
  return StaircaseSetPoint(start, step, every, maximum)


@gin.configurable("hybrid_annealing_setpoint")
def hybrid_annealing_setpoint(start=_HYBRID["start"], step=_HYBRID["step"], period=_HYBRID["period"],
                              ramp=_HYBRID["ramp"], maximum=_HYBRID["maximum"]):
  """DynamicVAE's set point: +step ramped over `ramp` steps at the start of every `period` steps."""
  return HybridAnnealingSetPoint(start, step, period, ramp, maximum)


@gin.configurable("linear_setpoint")
def linear_setpoint(start=_LINEAR["start"], end=_LINEAR["end"], steps=_LINEAR["steps"]):
  return LinearSetPoint(start, end, steps)


@gin.configurable("control_vae", allowlist=["kp", "ki", "beta_min", "beta_max", "setpoint"])
def control_vae(kp=_PI["kp"], ki=_PI["ki"], beta_min=_PI["beta_min"], beta_max=_PI["beta_max"],
                setpoint=None, seed=None):
  """ControlVAE (positional PI on the batch KL); set point default `staircase_setpoint()`."""
  controller = PIController(setpoint or staircase_setpoint(), kp=kp, ki=ki, beta_min=beta_min,
                            beta_max=beta_max, name="controller")
  return ControlVAE(controller=controller, **shared_settings(seed))


@gin.configurable("dynamic_vae", allowlist=["beta_0", "beta_min", "beta_max", "kp", "ki", "window",
                                            "zero_init", "setpoint"])
def dynamic_vae(beta_0=_INCREMENTAL_PI["beta_0"], beta_min=_INCREMENTAL_PI["beta_min"],
                beta_max=_INCREMENTAL_PI["beta_max"], kp=_INCREMENTAL_PI["kp"],
                ki=_INCREMENTAL_PI["ki"], window=_INCREMENTAL_PI["window"],
                zero_init=_INCREMENTAL_PI["zero_init"], setpoint=None, seed=None):
  """DynamicVAE (incremental PI on a moving-average KL); set point default `hybrid_annealing_setpoint()`."""
  controller = IncrementalPIController(setpoint or hybrid_annealing_setpoint(), beta_0=beta_0,
                                       beta_min=beta_min, kp=kp, ki=ki, window=window,
                                       zero_init=zero_init, beta_max=beta_max, name="controller")
  return DynamicVAE(controller=controller, **shared_settings(seed))


@gin.configurable("l_vae", allowlist=["parameterisation", "regularizer", "regularizer_weight",
                                      "initial_beta", "weights_learning_rate"])
def l_vae(parameterisation=_LVAE["parameterisation"], regularizer=_LVAE["regularizer"],
          regularizer_weight=_LVAE["regularizer_weight"], initial_beta=_LVAE["initial_beta"],
          weights_learning_rate=_LVAE["weights_learning_rate"], seed=None):
  """L-VAE (learnable loss weights; our reading of the paper, see `LearnableLossWeights`)."""
  return LVAE(parameterisation=parameterisation, regularizer=regularizer,
              regularizer_weight=regularizer_weight, initial_beta=initial_beta,
              weights_learning_rate=weights_learning_rate, **shared_settings(seed))


@gin.configurable("sigma_vae", allowlist=[])
def sigma_vae(seed=None):
  """σ-VAE (calibrated Gaussian decoder, β = 1)."""
  # Its reconstruction term is its own: dlib's `reconstruction_loss` bindings are not read (and
  # so not recorded in the operative config).
  return SigmaVAE(**encoder_settings(), **decoder_settings(), seed=0 if seed is None else int(seed))
