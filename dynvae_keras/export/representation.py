"""`representation_function_from_model`: a numpy-in/numpy-out encoder for dlib's metrics."""

from __future__ import annotations

import keras
import numpy as np


def compiled_encoder(model):
  """images (B, H, W, C) float32 → (mean, logvar) on the active backend, compiled once.

  JAX: one `jax.jit` of the encoder's stateless call (weights passed as arguments, so the
  function stays valid after further training). TensorFlow: a `tf.function` (no XLA: faster
  on CPU). torch: eager under `no_grad`. Callers should feed a fixed batch size to avoid
  retracing (see `representation_function_from_model`, which pads the last batch).
  """
  encoder = model.encoder
  backend = keras.backend.backend()
  if backend == "jax":
    import jax  # pylint: disable=g-import-not-at-top
    call = jax.jit(lambda trainable, non_trainable, x: encoder.stateless_call(
        trainable, non_trainable, x, training=False)[0])

    def encode(images):
      return call([v.value for v in encoder.trainable_variables],
                  [v.value for v in encoder.non_trainable_variables], images)
    return encode
  if backend == "tensorflow":
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.function(lambda x: encoder(x, training=False), reduce_retracing=True)
  if backend == "torch":
    import torch  # pylint: disable=g-import-not-at-top

    def encode(images):
      with torch.no_grad():
        return encoder(images, training=False)
    return encode
  return lambda images: encoder(images, training=False)


def representation_function_from_model(model, kind="mean", batch_size=1024, seed=0):
  """Returns f(images (B, H, W, C) float in [0, 1]) → codes (B, num_latent) float32 numpy.

  Args:
    model: a trained, built `VAE` (anything with an `encoder` sub-model returning
      (mean, logvar)).
    kind: 'mean' (dlib's `mean_representation`) or 'sampled' (mean + exp(logvar/2)·ε, with ε
      from a numpy RandomState seeded with `seed`, as dlib's `sampled_representation`).
    batch_size: images per encoder call; smaller calls are zero-padded to the next power of two
      so the compiled encoder is traced a few times at most.
  """
  if kind not in ("mean", "sampled"):
    raise ValueError(f"kind must be 'mean' or 'sampled'; got '{kind}'.")
  if not getattr(model, "built", False) or not hasattr(model, "encoder"):
    raise ValueError("The model is not built: train it, load it, or call it on a batch first.")
  noise = np.random.RandomState(seed)
  shape = tuple(getattr(model, "image_shape", ()) or ())
  encode = compiled_encoder(model)
  batch_size = int(batch_size)

  def representation(images):
    images = np.asarray(images, dtype=np.float32)
    if shape and images.shape[1:] != shape:
      raise ValueError(f"The model encodes images of shape {shape}; got a batch of shape {images.shape}.")
    num = len(images)
    step = min(batch_size, 1 << max(num - 1, 0).bit_length())
    means, logvars = [], []
    for start in range(0, num, step):
      chunk = images[start:start + step]
      if len(chunk) < step:
        chunk = np.concatenate([chunk, np.zeros((step - len(chunk),) + chunk.shape[1:], np.float32)])
      mean, logvar = encode(chunk)
      means.append(keras.ops.convert_to_numpy(mean)[:num - start].astype(np.float32))
      logvars.append(keras.ops.convert_to_numpy(logvar)[:num - start].astype(np.float32))
    if not means:
      return np.zeros((0, model.num_latent), np.float32)
    mean, logvar = np.concatenate(means), np.concatenate(logvars)
    if kind == "mean":
      return mean
    return (mean + np.exp(logvar / 2) * noise.normal(size=mean.shape)).astype(np.float32)

  return representation
