"""Postprocessing (dlib's `postprocess`): a trained model's `tfhub/` → a representation SavedModel.

`postprocess(model_dir, output_dir)` reads `<model_dir>/tfhub` (signature `gaussian_encoder`),
applies the gin-configured `postprocess.postprocess_fn` (`@mean_representation` or
`@sampled_representation`) and writes `<output_dir>/tfhub` with the single signature
`representation` (`images` → `default`), which dlib's evaluation reads, plus
`<output_dir>/results` (the train results copied in, then the `postprocess` step). The data set
is taken from the model's `train.gin` when `dataset.name = "auto"`, as dlib does.

The sampled representation draws its noise with `tf.random.stateless_normal` keyed by
(`postprocess.random_seed`, call number): reproducible after a reload, unlike dlib's unseeded
`tf.random_normal`.
"""

from __future__ import annotations

import os
import time

import gin

from dynvae_keras import atomic, results
from dynvae_keras.errors import DynvaeError
from dynvae_keras.export import saved_model


class PipelineDirError(DynvaeError, RuntimeError):
  """An input directory of a pipeline step is missing or incomplete, or an output exists."""


@gin.configurable("mean_representation", denylist=["ground_truth_data", "gaussian_encoder", "random_state"])
def mean_representation(ground_truth_data=None, gaussian_encoder=None, random_state=None, save_path=None):
  """dlib's `mean_representation`: the encoder mean. Returns (transform_fn, None)."""
  del ground_truth_data, gaussian_encoder, random_state, save_path

  def transform_fn(mean, logvar, noise):
    del logvar, noise
    return mean

  return transform_fn, None


@gin.configurable("sampled_representation", denylist=["ground_truth_data", "gaussian_encoder", "random_state"])
def sampled_representation(ground_truth_data=None, gaussian_encoder=None, random_state=None, save_path=None):
  """dlib's `sampled_representation`: mean + exp(logvar / 2)·ε, ε ~ N(0, I). Returns (transform_fn, None)."""
  del ground_truth_data, gaussian_encoder, random_state, save_path

  def transform_fn(mean, logvar, noise):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return mean + tf.exp(logvar / 2) * noise(tf.shape(mean))

  return transform_fn, None


def require_results(directory, step):
  """Raises PipelineDirError unless `directory/results/gin/<step>.gin` exists."""
  path = os.path.join(directory, "results", "gin", f"{step}.gin")
  if not os.path.isfile(path):
    raise PipelineDirError(
        f"{directory} holds no finished '{step}' step ({path} is missing); run that step first "
        "or check the path.")
  return path


def resolve_auto_dataset(previous_dir, previous_step):
  """Binds `dataset.name` from the previous step's gin config when it is 'auto' (dlib's rule)."""
  if gin.query_parameter("dataset.name") != "auto":
    return
  name = results.dataset_name(require_results(previous_dir, previous_step))
  if name is None:
    raise PipelineDirError(f"{previous_dir}'s {previous_step}.gin has no dataset.name binding; "
                           "bind dataset.name explicitly.")
  with gin.unlock_config():
    gin.bind_parameter("dataset.name", name)


def refuse_existing(output_dir, overwrite):
  if os.path.exists(output_dir) and not overwrite:
    raise FileExistsError(f"{output_dir} already exists; pass --overwrite to replace it.")


def write_representation(encoder_module, output_path, transform_fn, seed):
  """Saves `transform_fn(mean, logvar, noise)` over a loaded model SavedModel's
  `gaussian_encoder` as the signature `representation`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  encode = encoder_module.signatures["gaussian_encoder"]
  image_spec = encode.structured_input_signature[1]["images"]

  class Representation(tf.Module):
    """The `representation` signature: images → default."""

    def __init__(self):
      super().__init__()
      self.encoder = encoder_module
      self.calls = tf.Variable(0, dtype=tf.int64, trainable=False, name="calls")

    @tf.function(input_signature=[tf.TensorSpec(image_spec.shape, tf.float32, name="images")])
    def representation(self, images):
      out = self.encoder.signatures["gaussian_encoder"](images=images)
      call = self.calls.assign_add(1)

      def noise(shape):
        return tf.random.stateless_normal(shape, seed=tf.stack([tf.constant(seed, tf.int64), call]))

      return {"default": transform_fn(out["mean"], out["logvar"], noise)}

  module = Representation()
  with atomic.atomic_directory(output_path, overwrite=True) as tmp:
    tf.saved_model.save(module, tmp, signatures={"representation": module.representation})


@gin.configurable("postprocess", denylist=["model_dir", "output_dir", "overwrite"])
def postprocess(model_dir, output_dir, overwrite=False, postprocess_fn=gin.REQUIRED,
                random_seed=gin.REQUIRED, name=""):
  """Writes `<output_dir>/tfhub` (signature `representation`) and `<output_dir>/results`.

  The whole output directory is built in a temporary sibling and renamed when complete.
  """
  del name  # recorded through the operative gin config, as in dlib
  start = time.time()
  require_results(model_dir, "train")
  refuse_existing(output_dir, overwrite)
  resolve_auto_dataset(model_dir, "train")
  from dynvae_keras.data import named_data, provenance  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  dataset = named_data.get_named_ground_truth_data()
  model_path = os.path.join(model_dir, "tfhub")
  encoder = saved_model.SavedModelFunction(model_path, "gaussian_encoder")
  with atomic.atomic_directory(output_dir, overwrite=overwrite) as tmp:
    transform_fn, _ = postprocess_fn(dataset, encoder, np.random.RandomState(random_seed), tmp)
    write_representation(encoder.module, os.path.join(tmp, "tfhub"), transform_fn, int(random_seed))
    results.update_result_directory(os.path.join(tmp, "results"), "postprocess",
                                    {"elapsed_time": time.time() - start},
                                    os.path.join(model_dir, "results"),
                                    extra_config=provenance.describe(dataset))
  return output_dir
