"""Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018), dlib's `dci`."""

from __future__ import annotations

import gin
import numpy as np
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier

from dynvae_keras.evaluation.metrics import utils


@gin.configurable("dci", denylist=["ground_truth_data", "representation_function", "random_state",
                                   "artifact_dir"])
def compute_dci(ground_truth_data, representation_function, random_state, artifact_dir=None,
                num_train=10000, num_test=5000, batch_size=16):
  """DCI from gradient-boosted-tree feature importances, one classifier per factor.

  The classifiers are built without a seed, as dlib does, so they draw from numpy's global
  RNG: seed it (`np.random.seed`) for repeatable scores (the evaluation step does).

  Returns:
    {"informativeness_train", "informativeness_test", "disentanglement", "completeness"}.
  """
  del artifact_dir
  mus_train, ys_train = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size)
  mus_test, ys_test = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_test, random_state, batch_size)
  return _compute_dci(mus_train, ys_train, mus_test, ys_test)


def _compute_dci(mus_train, ys_train, mus_test, ys_test):
  importance_matrix, train_err, test_err = compute_importance_gbt(mus_train, ys_train, mus_test, ys_test)
  return {"informativeness_train": train_err, "informativeness_test": test_err,
          "disentanglement": disentanglement(importance_matrix),
          "completeness": completeness(importance_matrix)}


def compute_importance_gbt(x_train, y_train, x_test, y_test):
  """(num_codes, num_factors) importances and mean train/test accuracies of per-factor GBTs."""
  num_factors, num_codes = y_train.shape[0], x_train.shape[0]
  importance_matrix = np.zeros(shape=[num_codes, num_factors], dtype=np.float64)
  train_loss, test_loss = [], []
  for i in range(num_factors):
    model = GradientBoostingClassifier()
    model.fit(x_train.T, y_train[i, :])
    importance_matrix[:, i] = np.abs(model.feature_importances_)
    train_loss.append(np.mean(model.predict(x_train.T) == y_train[i, :]))
    test_loss.append(np.mean(model.predict(x_test.T) == y_test[i, :]))
  return importance_matrix, np.mean(train_loss), np.mean(test_loss)


def disentanglement_per_code(importance_matrix):
  """1 − entropy (base num_factors) of each code's importance distribution over factors."""
  return 1. - scipy.stats.entropy(importance_matrix.T + 1e-11, base=importance_matrix.shape[1])


def disentanglement(importance_matrix):
  """Importance-weighted mean of the per-code disentanglement."""
  per_code = disentanglement_per_code(importance_matrix)
  if importance_matrix.sum() == 0.:
    importance_matrix = np.ones_like(importance_matrix)
  code_importance = importance_matrix.sum(axis=1) / importance_matrix.sum()
  return np.sum(per_code * code_importance)


def completeness_per_code(importance_matrix):
  """1 − entropy (base num_codes) of each factor's importance distribution over codes."""
  return 1. - scipy.stats.entropy(importance_matrix + 1e-11, base=importance_matrix.shape[0])


def completeness(importance_matrix):
  """Importance-weighted mean of the per-factor completeness."""
  per_factor = completeness_per_code(importance_matrix)
  if importance_matrix.sum() == 0.:
    importance_matrix = np.ones_like(importance_matrix)
  factor_importance = importance_matrix.sum(axis=0) / importance_matrix.sum()
  return np.sum(per_factor * factor_importance)
