"""σ-VAE (Rybkin et al. 2021): a Gaussian decoder whose variance is calibrated to the batch MSE."""

from __future__ import annotations

import math

import keras
from keras import ops

from dynvae_keras.models.losses import _decoded_mean
from dynvae_keras.models.vae import VAE

LOG_SIGMA_MIN = -6.0


def softclip(x, minimum):
  """Soft lower clip: minimum + softplus(x − minimum)."""
  return minimum + ops.softplus(x - minimum)


@keras.saving.register_keras_serializable(package="dynvae_keras")
class SigmaVAE(VAE):
  """σ-VAE with the optimal shared σ: σ*² = MSE over the batch and all pixels; β = 1.

  The reconstruction loss per example is Σ_pixels [½((x − μ)/σ)² + log σ + ½ log 2π] with
  μ = sigmoid(decoder logits) and log σ = −6 + softplus(log σ* + 6) (soft-clipped at −6), as
  the official code (`orybkin/sigma-vae-pytorch`, optimal-σ variant). Logged: `log_sigma`.

  Deviation from the official code: the decoder's output bias starts at the logit of the
  data's mean pixel (`VAE.initialize_output_bias`, done by the training driver). The
  official demo trains on SVHN, whose mean image is mid-grey; on sparse binary images
  (dSprites, mean pixel 0.042) a decoder starting at sigmoid(0) = 0.5 saturates towards black
  and the KL collapses (measured; docs/control.md).
  """

  tracked_terms = VAE.tracked_terms + ("log_sigma",)
  squared_error_decoder = True  # starts from the data's mean pixel (`initialize_output_bias`)

  def __init__(self, reconstruction_loss=None, **kwargs):
    if reconstruction_loss is not None:
      raise ValueError(
          f"SigmaVAE's reconstruction term is its calibrated Gaussian; reconstruction_loss="
          f"{reconstruction_loss!r} would be ignored. Leave it unset.")
    super().__init__(reconstruction_loss=None, **kwargs)

  def reconstruction(self, images, logits):
    mean = ops.cast(_decoded_mean(logits, self.activation), "float32")
    images = ops.cast(images, "float32")
    squared = ops.reshape(ops.square(images - mean), (ops.shape(images)[0], -1))
    log_sigma = softclip(0.5 * ops.log(ops.mean(squared)), LOG_SIGMA_MIN)
    per_pixel = 0.5 * squared * ops.exp(-2.0 * log_sigma) + log_sigma + 0.5 * math.log(2 * math.pi)
    return ops.sum(per_pixel, axis=1), {"log_sigma": log_sigma}
