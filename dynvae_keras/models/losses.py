"""VAE loss terms with the reductions every controller assumes.

Conventions (DESIGN.md §2): reconstruction losses are **summed over pixels** and returned
per example (B,); the KL is **summed over latent dimensions** and returned per example (B,).
Models average both over the batch. All functions use `keras.ops` (any backend).
"""

from __future__ import annotations

import math

import gin
from keras import ops

from dynvae_keras.models import registry


def _decoded_mean(logits, activation):
  if activation == "logits":
    return ops.sigmoid(logits)
  if activation == "tanh":
    return ops.tanh(logits) / 2 + 0.5
  raise ValueError(f"Unknown decoder activation '{activation}'; use 'logits' or 'tanh'.")


def _flatten(x):
  return ops.reshape(x, (ops.shape(x)[0], -1))


@gin.configurable("bernoulli_loss", allowlist=["subtract_true_image_entropy"])
def bernoulli_loss(true_images, reconstructed, activation="logits", subtract_true_image_entropy=False):
  """Bernoulli negative log-likelihood summed over pixels, per example (B,).

  Args:
    true_images: (B, H, W, C) in [0, 1].
    reconstructed: decoder output (logits, or pre-tanh values with `activation='tanh'`).
    activation: 'logits' (default) or 'tanh', as dlib.
    subtract_true_image_entropy: subtract the entropy of the (non-binary) targets so that the
      loss is zero at a perfect reconstruction.
  """
  x, out = _flatten(true_images), _flatten(reconstructed)
  if activation == "logits":
    loss = ops.sum(ops.relu(out) - out * x + ops.log1p(ops.exp(-ops.abs(out))), axis=1)
  else:
    p = ops.clip(_decoded_mean(out, activation), 1e-6, 1 - 1e-6)
    loss = -ops.sum(x * ops.log(p) + (1 - x) * ops.log(1 - p), axis=1)
  if subtract_true_image_entropy:
    q = ops.clip(x, 1e-6, 1 - 1e-6)
    loss = loss + ops.sum(q * ops.log(q) + (1 - q) * ops.log(1 - q), axis=1)
  return loss


@gin.configurable("l2_loss", allowlist=[])
def l2_loss(true_images, reconstructed, activation="logits"):
  """Squared error between the images and the decoded means, summed over pixels, per example."""
  return ops.sum(ops.square(_flatten(true_images) - _flatten(_decoded_mean(reconstructed, activation))), axis=1)


@gin.configurable("gaussian_loss", allowlist=["sigma"])
def gaussian_loss(true_images, reconstructed, activation="logits", sigma=1.0):
  """Gaussian negative log-likelihood with fixed σ around the decoded mean, summed over pixels."""
  squared = ops.square(_flatten(true_images) - _flatten(_decoded_mean(reconstructed, activation)))
  const = math.log(sigma) + 0.5 * math.log(2 * math.pi)
  return ops.sum(0.5 * squared / (sigma ** 2) + const, axis=1)


RECONSTRUCTION_LOSSES = {"bernoulli_loss": bernoulli_loss, "l2_loss": l2_loss,
                         "gaussian_loss": gaussian_loss}
#: Losses that compare images with sigmoid(logits) by a squared error.
SQUARED_ERROR_LOSSES = ("l2_loss", "gaussian_loss")


def loss_name(fn) -> str:
  """Registered name of a reconstruction loss given as a name or a (gin-wrapped) function."""
  return registry.registered_name(fn, RECONSTRUCTION_LOSSES, "reconstruction loss")


def gaussian_kl(z_mean, z_logvar):
  """KL(N(mean, exp(logvar)) || N(0, I)) summed over latent dimensions, per example (B,)."""
  return 0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_logvar) - z_logvar - 1.0, axis=1)


def gaussian_log_density(samples, mean, log_var):
  """Elementwise log N(samples; mean, exp(log_var))."""
  inv_sigma = ops.exp(-log_var)
  diff = samples - mean
  return -0.5 * (diff * diff * inv_sigma + log_var + math.log(2.0 * math.pi))


def _pairwise_log_qz(z, z_mean, z_logvar):
  """log q(z_j | x_i) per latent dimension: (B_j, B_i, D)."""
  return gaussian_log_density(ops.expand_dims(z, 1), ops.expand_dims(z_mean, 0),
                              ops.expand_dims(z_logvar, 0))


def total_correlation(z, z_mean, z_logvar):
  """β-TCVAE minibatch estimate of TC(z), exactly as dlib (the log(N·M) constants dropped).

  E_j[log q(z_j) − Σ_l log q(z_jl)] with q(z) ≈ Σ_i q(z | x_i) over the batch. Dropping the
  constants shifts the estimate by −(D−1)·log(B·N), so it can be negative; it is the value
  dlib's β-TCVAE optimises.
  """
  log_qz_prob = _pairwise_log_qz(z, z_mean, z_logvar)
  log_qz_product = ops.sum(ops.logsumexp(log_qz_prob, axis=1), axis=1)
  log_qz = ops.logsumexp(ops.sum(log_qz_prob, axis=2), axis=1)
  return ops.mean(log_qz - log_qz_product)


def kl_decomposition(z, z_mean, z_logvar):
  """Minibatch estimates of the β-TCVAE decomposition of the average KL, treating the batch as the data.

  Returns a dict with `mutual_information` I(x; z), `total_correlation` TC(z) and
  `dimension_wise_kl` Σ_l KL(q(z_l) || p(z_l)), all normalised (log B subtracted), so that
  their sum is E[log q(z|x) − log p(z)], a Monte-Carlo estimate of the mean KL.
  """
  batch = ops.cast(ops.shape(z)[0], z.dtype)
  log_b = ops.log(batch)
  log_qz_prob = _pairwise_log_qz(z, z_mean, z_logvar)
  log_qz_given_x = ops.sum(gaussian_log_density(z, z_mean, z_logvar), axis=1)
  log_qz = ops.logsumexp(ops.sum(log_qz_prob, axis=2), axis=1) - log_b
  log_qz_dims = ops.sum(ops.logsumexp(log_qz_prob, axis=1) - log_b, axis=1)
  log_pz = ops.sum(gaussian_log_density(z, ops.zeros_like(z), ops.zeros_like(z)), axis=1)
  return {
      "mutual_information": ops.mean(log_qz_given_x - log_qz),
      "total_correlation": ops.mean(log_qz - log_qz_dims),
      "dimension_wise_kl": ops.mean(log_qz_dims - log_pz),
  }


def covariance(x):
  """Covariance of the rows of x (B, D) → (D, D), with 1/B normalisation (as dlib)."""
  mean = ops.mean(x, axis=0)
  return ops.mean(ops.expand_dims(x, 2) * ops.expand_dims(x, 1), axis=0) - ops.outer(mean, mean)


def dip_penalty(cov, lambda_od, lambda_d):
  """λ_od·Σ_{i≠j} Cov_ij² + λ_d·Σ_i (Cov_ii − 1)²."""
  diag = ops.diagonal(cov)
  off_diag = cov - ops.diag(diag)
  return lambda_od * ops.sum(ops.square(off_diag)) + lambda_d * ops.sum(ops.square(diag - 1.0))
