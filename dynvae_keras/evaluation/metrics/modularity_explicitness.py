"""Modularity and explicitness (Ridgeway & Mozer 2018), dlib's `modularity_explicitness`."""

from __future__ import annotations

import gin
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import MultiLabelBinarizer

from dynvae_keras.evaluation.metrics import utils


@gin.configurable("modularity_explicitness",
                  denylist=["ground_truth_data", "representation_function", "random_state",
                            "artifact_dir"])
def compute_modularity_explicitness(ground_truth_data, representation_function, random_state,
                                    artifact_dir=None, num_train=10000, num_test=5000, batch_size=16):
  """Modularity from discrete MI, explicitness as one-vs-rest ROC-AUC of a logistic regression.

  Returns:
    {"modularity_score", "explicitness_score_train", "explicitness_score_test"}.
  """
  del artifact_dir
  mus_train, ys_train = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size)
  mus_test, ys_test = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_test, random_state, batch_size)
  mutual_information = utils.discrete_mutual_info(utils.make_discretizer(mus_train), ys_train)
  scores = {"modularity_score": modularity(mutual_information)}
  mus_train_norm, mean_mus, stddev_mus = utils.normalize_data(mus_train)
  mus_test_norm, _, _ = utils.normalize_data(mus_test, mean_mus, stddev_mus)
  explicit = np.array([explicitness_per_factor(mus_train_norm, ys_train[i, :], mus_test_norm, ys_test[i, :])
                       for i in range(ys_train.shape[0])])
  scores["explicitness_score_train"] = np.mean(explicit[:, 0])
  scores["explicitness_score_test"] = np.mean(explicit[:, 1])
  return scores


def explicitness_per_factor(mus_train, y_train, mus_test, y_test):
  """(train ROC-AUC, test ROC-AUC) of a logistic regression predicting one factor from all codes."""
  x_train, x_test = np.transpose(mus_train), np.transpose(mus_test)
  clf = LogisticRegression().fit(x_train, y_train)
  mlb = MultiLabelBinarizer()
  roc_train = roc_auc_score(mlb.fit_transform(np.expand_dims(y_train, 1)), clf.predict_proba(x_train))
  roc_test = roc_auc_score(mlb.fit_transform(np.expand_dims(y_test, 1)), clf.predict_proba(x_test))
  return roc_train, roc_test


def modularity(mutual_information):
  """Mean over codes of 1 − (Σ MI² − max MI²) / (max MI² · (num_factors − 1)); 0 for codes with no MI."""
  squared_mi = np.square(mutual_information)
  max_squared_mi = np.max(squared_mi, axis=1)
  numerator = np.sum(squared_mi, axis=1) - max_squared_mi
  denominator = max_squared_mi * (squared_mi.shape[1] - 1.)
  with np.errstate(divide="ignore", invalid="ignore"):
    modularity_score = 1. - numerator / denominator
  modularity_score[max_squared_mi == 0.] = 0.
  return np.mean(modularity_score)
