"""TF SavedModels with dlib's signatures, and loading them back as numpy functions.

`export_tfhub(model, path)` writes the trained model's `tfhub/` directory:

* ``gaussian_encoder``: `images` float32 [None, H, W, C] in [0, 1] → `mean`, `logvar` [None, D];
* ``decoder``: `latent_vectors` float32 [None, D] → `images` (decoder logits);
* ``reconstructions``: `images` → `images` (logits of the decoded posterior mean; deterministic,
  where dlib's module decodes a sample).

Built with `keras.export.ExportArchive`, so it works from the TensorFlow and the JAX backend
(TensorFlow must be installed; a torch-backend model is saved as `.keras` and exported from a
TensorFlow-backend process). `load_representation_function(path)` reads any of our SavedModels
(`representation` or `gaussian_encoder` signature) with nothing but `tf.saved_model.load`.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from dynvae_keras import atomic

SIGNATURES = ("gaussian_encoder", "decoder", "reconstructions")


def export_tfhub(model, path, overwrite=False):
  """Writes `model`'s dlib signatures as a TF SavedModel at `path` (atomically).

  Args:
    model: a built `VAE`.
    path: output directory (dlib: `<model_dir>/tfhub`).
    overwrite: replace an existing directory.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not getattr(model, "built", False) or not hasattr(model, "image_shape"):
    raise ValueError("Export needs a built model: train or load it first.")
  image_spec = tf.TensorSpec([None, *model.image_shape], tf.float32, name="images")
  latent_spec = tf.TensorSpec([None, model.num_latent], tf.float32, name="latent_vectors")

  def as_float(x):
    return keras.ops.cast(x, "float32")

  def gaussian_encoder(images):
    mean, logvar = model.encode(images, training=False)
    return {"mean": as_float(mean), "logvar": as_float(logvar)}

  def decoder(latent_vectors):
    return {"images": as_float(model.decode(latent_vectors, training=False))}

  def reconstructions(images):
    mean, _ = model.encode(images, training=False)
    return {"images": as_float(model.decode(mean, training=False))}

  archive = keras.export.ExportArchive()
  archive.track(model)
  kwargs = {}
  if keras.backend.backend() == "jax":
    # Without this a JAX-made SavedModel only runs on the platform it was exported on.
    kwargs["jax2tf_kwargs"] = {"native_serialization_platforms": ("cpu", "cuda")}
  for name, fn, spec in (("gaussian_encoder", gaussian_encoder, image_spec),
                         ("decoder", decoder, latent_spec),
                         ("reconstructions", reconstructions, image_spec)):
    archive.add_endpoint(name, fn, input_signature=[spec], **kwargs)
  with atomic.atomic_directory(path, overwrite=overwrite) as tmp:
    archive.write_out(tmp, verbose=False)
  return path


def export_model_dir(model_dir, overwrite=False):
  """Writes `<model_dir>/tfhub` from `<model_dir>/model.keras` (e.g. trained without TensorFlow,
  or on the torch backend); returns the SavedModel path."""
  # Registers our model classes for `load_model`.
  import dynvae_keras.models  # pylint: disable=g-import-not-at-top,unused-import
  path = os.path.join(model_dir, "model.keras")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path} does not exist: train the model first (dynvae train).")
  return export_tfhub(keras.saving.load_model(path), os.path.join(model_dir, "tfhub"),
                      overwrite=overwrite)


class SavedModelFunction:
  """numpy-in/numpy-out call of one signature of a TF SavedModel, in batches.

  Args:
    path: SavedModel directory.
    signature: signature name.
    batch_size: rows per call.
    module: the already loaded SavedModel at `path` (to avoid loading it twice).
  """

  def __init__(self, path, signature, batch_size=4096, module=None):
    self.module = module if module is not None else load_saved_model(path)
    if signature not in self.module.signatures:
      raise KeyError(f"{path} has no signature '{signature}'; it has {sorted(self.module.signatures)}.")
    self.function = self.module.signatures[signature]
    self.input_name = list(self.function.structured_input_signature[1])[0]
    self.batch_size = int(batch_size)

  def __call__(self, values):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    values = np.asarray(values, dtype=np.float32)
    outputs = []
    for start in range(0, len(values), self.batch_size):
      out = self.function(**{self.input_name: tf.constant(values[start:start + self.batch_size])})
      outputs.append({k: v.numpy() for k, v in out.items()})
    if not outputs:
      return {k: np.zeros((0,) + tuple(v.shape[1:]), np.float32)
              for k, v in self.function.structured_outputs.items()}
    return {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}


def load_saved_model(path):
  """`tf.saved_model.load(path)` with a clear error for a missing or unreadable directory."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(os.path.join(path, "saved_model.pb")):
    raise FileNotFoundError(f"No SavedModel at {path} (saved_model.pb missing): export the model "
                            "first (dynvae train writes <model_dir>/tfhub, dynvae postprocess "
                            "<output_dir>/tfhub).")
  return tf.saved_model.load(path)


def load_representation_function(path, batch_size=4096):
  """f(images (B, H, W, C) in [0, 1]) → codes (B, D) float32 from one of our SavedModels.

  `path` may be a postprocessed `tfhub/` (signature `representation` → `default`, as dlib's
  evaluation reads it) or a trained model's `tfhub/` (signature `gaussian_encoder` → `mean`).
  """
  module = load_saved_model(path)
  if "representation" in module.signatures:
    function, key = SavedModelFunction(path, "representation", batch_size, module), "default"
  elif "gaussian_encoder" in module.signatures:
    function, key = SavedModelFunction(path, "gaussian_encoder", batch_size, module), "mean"
  else:
    raise KeyError(f"{path} has neither a 'representation' nor a 'gaussian_encoder' signature.")

  def representation(images):
    return function(images)[key].astype(np.float32)

  return representation
