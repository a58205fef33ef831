"""Interventional Robustness Score (Suter et al. 2019), dlib's `irs`."""

from __future__ import annotations

import gin
import numpy as np

from dynvae_keras.evaluation.metrics import utils


@gin.configurable("irs", denylist=["ground_truth_data", "representation_function", "random_state",
                                   "artifact_dir"])
def compute_irs(ground_truth_data, representation_function, random_state, artifact_dir=None,
                diff_quantile=0.99, num_train=10000, batch_size=16):
  """IRS on the histogram-discretised factors and the non-constant code dimensions.

  dlib quirk kept because it defines the reported value: `num_active_dims` is the *sum of the
  active code values* (`np.sum(active_mus)`), not a count.

  Returns:
    {"IRS", "num_active_dims"}.
  """
  del artifact_dir
  mus, ys = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size)
  ys_discrete = utils.make_discretizer(ys)
  active_mus = _drop_constant_dims(mus)
  if not active_mus.any():
    irs_score = 0.0
  else:
    irs_score = scalable_disentanglement_score(ys_discrete.T, active_mus.T, diff_quantile)["avg_score"]
  return {"IRS": irs_score, "num_active_dims": np.sum(active_mus)}


def _drop_constant_dims(ys):
  ys = np.asarray(ys)
  if ys.ndim != 2:
    raise ValueError("Expecting a matrix")
  return ys[ys.var(axis=1) > 0., :]


def scalable_disentanglement_score(gen_factors, latents, diff_quantile=0.99):
  """IRS of latents (N, num_latents) against discrete factors (N, num_factors)."""
  num_gen, num_lat = gen_factors.shape[1], latents.shape[1]
  max_deviations = np.max(np.abs(latents - latents.mean(axis=0)), axis=0)
  cum_deviations = np.zeros([num_lat, num_gen])
  for i in range(num_gen):
    unique_factors = np.unique(gen_factors[:, i], axis=0)
    for value in unique_factors:
      match = gen_factors[:, i] == value
      e_loc = np.mean(latents[match, :], axis=0)
      cum_deviations[:, i] += np.quantile(np.abs(latents[match, :] - e_loc), q=diff_quantile, axis=0)
    cum_deviations[:, i] /= unique_factors.shape[0]
  irs_matrix = 1.0 - cum_deviations / max_deviations[:, np.newaxis]
  disentanglement_scores = irs_matrix.max(axis=1)
  if np.sum(max_deviations) > 0.0:
    avg_score = np.average(disentanglement_scores, weights=max_deviations)
  else:
    avg_score = np.mean(disentanglement_scores)
  return {"disentanglement_scores": disentanglement_scores, "avg_score": avg_score,
          "parents": irs_matrix.argmax(axis=1), "IRS_matrix": irs_matrix,
          "max_deviations": max_deviations}
