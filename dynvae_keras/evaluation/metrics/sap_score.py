"""Separated Attribute Predictability (Kumar et al. 2018), dlib's `sap_score`."""

from __future__ import annotations

import gin
import numpy as np
from sklearn import svm

from dynvae_keras.evaluation.metrics import utils


@gin.configurable("sap_score", denylist=["ground_truth_data", "representation_function",
                                         "random_state", "artifact_dir"])
def compute_sap(ground_truth_data, representation_function, random_state, artifact_dir=None,
                num_train=10000, num_test=5000, batch_size=16, continuous_factors=False):
  """Mean over factors of the gap between the two codes that predict it best.

  Returns:
    {"SAP_score"}.
  """
  del artifact_dir
  mus, ys = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size)
  mus_test, ys_test = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_test, random_state, batch_size)
  return _compute_sap(mus, ys, mus_test, ys_test, continuous_factors)


def _compute_sap(mus, ys, mus_test, ys_test, continuous_factors):
  if mus.shape[0] < 2:
    raise utils.RepresentationError("SAP needs a representation with at least 2 dimensions.")
  score_matrix = compute_score_matrix(mus, ys, mus_test, ys_test, continuous_factors)
  sorted_matrix = np.sort(score_matrix, axis=0)
  return {"SAP_score": np.mean(sorted_matrix[-1, :] - sorted_matrix[-2, :])}


@gin.configurable("sap_score_on_fixed_data", denylist=["observations", "labels", "representation_function",
                                                       "test_observations", "test_labels"])
def compute_sap_on_fixed_data(observations, labels, representation_function, test_observations,
                              test_labels, continuous_factors=False):
  """SAP on given train/test observations and labels (num_factors, N)."""
  codes = utils.encode_fixed_train_test(observations, labels, representation_function,
                                        test_observations, test_labels)
  return _compute_sap(*codes, continuous_factors)


def compute_score_matrix(mus, ys, mus_test, ys_test, continuous_factors):
  """(num_codes, num_factors): R² (continuous) or linear-SVM test accuracy (discrete) per pair."""
  num_latents, num_factors = mus.shape[0], ys.shape[0]
  score_matrix = np.zeros([num_latents, num_factors])
  for i in range(num_latents):
    for j in range(num_factors):
      mu_i, y_j = mus[i, :], ys[j, :]
      if continuous_factors:
        cov = np.cov(mu_i, y_j, ddof=1)
        var_mu, var_y = cov[0, 0], cov[1, 1]
        score_matrix[i, j] = cov[0, 1] ** 2 / (var_mu * var_y) if var_mu > 1e-12 else 0.
      else:
        classifier = svm.LinearSVC(C=0.01, class_weight="balanced")
        classifier.fit(mu_i[:, np.newaxis], y_j)
        pred = classifier.predict(mus_test[i, :][:, np.newaxis])
        score_matrix[i, j] = np.mean(pred == ys_test[j, :])
  return score_matrix
