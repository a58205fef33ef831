"""Mutual Information Gap (Chen et al. 2018), dlib's `mig`."""

from __future__ import annotations

import gin
import numpy as np

from dynvae_keras.evaluation.metrics import utils


@gin.configurable("mig", denylist=["ground_truth_data", "representation_function", "random_state",
                                   "artifact_dir"])
def compute_mig(ground_truth_data, representation_function, random_state, artifact_dir=None,
                num_train=10000, batch_size=16):
  """Mean over factors of (top − second) discrete MI between codes and the factor, over its entropy.

  Returns:
    {"discrete_mig"}.
  """
  del artifact_dir
  mus_train, ys_train = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size)
  return _compute_mig(mus_train, ys_train)


def _compute_mig(mus_train, ys_train):
  if mus_train.shape[0] < 2:
    raise utils.RepresentationError("MIG needs a representation with at least 2 dimensions.")
  m = utils.discrete_mutual_info(utils.make_discretizer(mus_train), ys_train)
  entropy = utils.discrete_entropy(ys_train)
  sorted_m = np.sort(m, axis=0)[::-1]
  return {"discrete_mig": np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy[:]))}


@gin.configurable("mig_on_fixed_data", denylist=["observations", "labels", "representation_function"])
def compute_mig_on_fixed_data(observations, labels, representation_function, batch_size=100):
  """MIG on given observations (N, H, W, C) and factor labels (num_factors, N), as dlib's variant."""
  del batch_size
  return _compute_mig(*utils.encode_fixed_data(observations, labels, representation_function))
