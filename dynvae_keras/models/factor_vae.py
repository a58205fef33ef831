"""FactorVAE (Kim & Mnih 2018): KL + γ·TC, TC estimated by a discriminator trained alongside."""

from __future__ import annotations

import re

import keras
from keras import ops

from dynvae_keras.models import architectures
from dynvae_keras.models.vae import VAE


#: dlib's `make_discriminator` clips the softmax probabilities to [1e-6, 1 − 1e-6].
PROBABILITY_CLIP = 1e-6


def permute_dims(z, seed):
  """Shuffles each latent dimension independently across the batch (B, D)."""
  order = ops.argsort(keras.random.uniform(ops.shape(z), seed=seed), axis=0)
  return ops.take_along_axis(z, order, axis=0)


def discriminator_loss(logits_real, logits_permuted):
  """Cross-entropy of telling codes (class 0) from permuted codes (class 1), dlib's way.

  dlib's discriminator clips its softmax probabilities to [1e-6, 1 − 1e-6] before the log, so
  a confidently wrong batch costs at most −log(1e-6) ≈ 13.8 nats per example and sends no
  gradient. Returns the negative of dlib's `discriminator_loss` (a log-likelihood).
  """
  p_real = ops.clip(ops.softmax(logits_real, axis=1), PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP)
  p_perm = ops.clip(ops.softmax(logits_permuted, axis=1), PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP)
  return -0.5 * (ops.mean(ops.log(p_real[:, 0])) + ops.mean(ops.log(p_perm[:, 1])))


def default_discriminator_optimizer():
  """dlib's discriminator optimizer: Adam(lr 1e-4, β1 0.5, β2 0.9)."""
  return keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.5, beta_2=0.9, epsilon=1e-8,
                               name="discriminator_adam")


@keras.saving.register_keras_serializable(package="dynvae_keras")
class FactorVAE(VAE):
  """FactorVAE: loss = reconstruction + KL + γ·TC with TC = mean(logit_D(z)[0] − logit_D(z)[1]).

  The discriminator (`discriminator`, dlib `fc_discriminator`) sees z and the dimension-wise
  permuted z of the same batch and minimises `discriminator_loss`, the cross-entropy of telling
  them apart (dlib logs the negative of this, a log-likelihood). Its variables get only the
  gradient of `discriminator_loss` and their own optimizer: `compile` wraps the VAE optimizer
  and `discriminator_optimizer` into a `keras.optimizers.MultiOptimizer`.

  Step counting: dlib passes its `global_step` to both `minimize` calls, so each iteration
  (one VAE and one discriminator update) advances dlib's step by 2 and dlib's "300k steps" are
  150k iterations. `global_steps_per_iteration = 2` says so to the training driver, which reads
  `model.training_steps` in dlib's steps and runs ⌈training_steps / 2⌉ iterations.

  Args:
    gamma: TC weight (dlib `factor_vae.gamma`).
    discriminator_fn: discriminator architecture (dlib `discriminator.discriminator_fn`).
  """

  tracked_terms = VAE.tracked_terms + ("tc", "discriminator_loss", "discriminator_accuracy")
  global_steps_per_iteration = 2

  def __init__(self, gamma=10.0, discriminator_fn="fc_discriminator", **kwargs):
    super().__init__(**kwargs)
    self.gamma = float(gamma)
    self.discriminator_fn = architectures.architecture_name(discriminator_fn)
    self.permutation_seed = keras.random.SeedGenerator(self.seed + 1, name="permutation_seed")

  def build_extra(self, image_shape):
    self.discriminator = architectures.ARCHITECTURES[self.discriminator_fn](self.num_latent)

  def get_config(self):
    return {**super().get_config(), "gamma": self.gamma, "discriminator_fn": self.discriminator_fn}

  extra_optimizer_args = ("discriminator_optimizer",)

  def optimizer_routes(self, discriminator_optimizer=None):
    """The discriminator's variables go to `discriminator_optimizer` (compile argument)."""
    optimizer = keras.optimizers.get(discriminator_optimizer or default_discriminator_optimizer())
    return {architectures.DISCRIMINATOR_VARIABLE_PATTERN: optimizer}

  def loss_key_for(self, variable):
    if re.fullmatch(architectures.DISCRIMINATOR_VARIABLE_PATTERN, variable.path):
      return "discriminator_loss"
    return "loss"

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    logits_z = ops.cast(self.discriminator(z_sampled, training=training), "float32")
    tc = ops.mean(logits_z[:, 0] - logits_z[:, 1])
    # The discriminator learns on codes it cannot move: no gradient to the encoder.
    z_fixed = ops.stop_gradient(z_sampled)
    z_permuted = permute_dims(z_fixed, self.permutation_seed)
    logits_real = ops.cast(self.discriminator(z_fixed, training=training), "float32")
    logits_perm = ops.cast(self.discriminator(z_permuted, training=training), "float32")
    d_loss = discriminator_loss(logits_real, logits_perm)
    accuracy = 0.5 * (ops.mean(ops.cast(logits_real[:, 0] > logits_real[:, 1], "float32")) +
                      ops.mean(ops.cast(logits_perm[:, 1] > logits_perm[:, 0], "float32")))
    return kl_loss + self.gamma * tc, {"tc": tc, "discriminator_loss": d_loss,
                                       "discriminator_accuracy": accuracy}
