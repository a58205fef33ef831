"""Unsupervised scores from the code covariance and discrete MI, dlib's `unsupervised_metrics`."""

from __future__ import annotations

import gin
import numpy as np
import scipy.linalg

from dynvae_keras.evaluation.metrics import utils


@gin.configurable("unsupervised_metrics",
                  denylist=["ground_truth_data", "representation_function", "random_state",
                            "artifact_dir"])
def unsupervised_metrics(ground_truth_data, representation_function, random_state,
                         artifact_dir=None, num_train=10000, batch_size=16):
  """Gaussian total correlation, Gaussian Wasserstein correlation (+ normalised), mean pairwise MI.

  Returns:
    {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
     "gaussian_wasserstein_correlation_norm", "mutual_info_score"}.
  """
  del artifact_dir
  mus_train, _ = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size,
      require_factors=False)
  num_codes = mus_train.shape[0]
  if num_codes < 2:
    raise utils.RepresentationError("unsupervised_metrics needs at least 2 code dimensions.")
  cov_mus = np.cov(mus_train)
  scores = {"gaussian_total_correlation": gaussian_total_correlation(cov_mus),
            "gaussian_wasserstein_correlation": gaussian_wasserstein_correlation(cov_mus)}
  scores["gaussian_wasserstein_correlation_norm"] = (
      scores["gaussian_wasserstein_correlation"] / np.sum(np.diag(cov_mus)))
  mus_discrete = utils.make_discretizer(mus_train)
  mutual_info_matrix = utils.discrete_mutual_info(mus_discrete, mus_discrete)
  np.fill_diagonal(mutual_info_matrix, 0)
  scores["mutual_info_score"] = np.sum(mutual_info_matrix) / (num_codes ** 2 - num_codes)
  return scores


def gaussian_total_correlation(cov):
  """KL between N(0, cov) and the product of its marginals."""
  return 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])


def gaussian_wasserstein_correlation(cov):
  """Squared 2-Wasserstein distance between N(0, cov) and the product of its marginals."""
  sqrtm = scipy.linalg.sqrtm(cov * np.expand_dims(np.diag(cov), axis=1))
  return 2 * np.trace(cov) - 2 * np.trace(sqrtm)
