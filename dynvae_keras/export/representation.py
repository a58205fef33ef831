"""`representation_function_from_model`: a numpy-in/numpy-out encoder for dlib's metrics."""

from __future__ import annotations

import keras
import numpy as np


def representation_function_from_model(model, kind="mean", batch_size=1024, seed=0):
  """Returns f(images (B, H, W, C) float in [0, 1]) → codes (B, num_latent) float32 numpy.

  Args:
    model: a trained `GaussianVAE` (anything with `encode(images) -> (mean, logvar)`).
    kind: 'mean' (dlib's `mean_representation`) or 'sampled' (mean + exp(logvar/2)·ε, with ε
      from a numpy RandomState seeded with `seed`, as dlib's `sampled_representation`).
    batch_size: images per encoder call.
  """
  if kind not in ("mean", "sampled"):
    raise ValueError(f"kind must be 'mean' or 'sampled'; got '{kind}'.")
  noise = np.random.RandomState(seed)
  shape = tuple(getattr(model, "image_shape", ()) or ())

  def representation(images):
    images = np.asarray(images, dtype=np.float32)
    if shape and images.shape[1:] != shape:
      raise ValueError(f"The model encodes images of shape {shape}; got a batch of shape {images.shape}.")
    means, logvars = [], []
    for start in range(0, len(images), batch_size):
      mean, logvar = model.encode(images[start:start + batch_size], training=False)
      means.append(keras.ops.convert_to_numpy(mean))
      logvars.append(keras.ops.convert_to_numpy(logvar))
    mean, logvar = np.concatenate(means), np.concatenate(logvars)
    if kind == "mean":
      return mean
    return (mean + np.exp(logvar / 2) * noise.normal(size=mean.shape)).astype(np.float32)

  return representation
