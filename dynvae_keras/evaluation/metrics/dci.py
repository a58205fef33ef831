"""Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018), dlib's `dci`."""

from __future__ import annotations

import os

import gin
import joblib
import numpy as np
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier

from dynvae_keras.evaluation.metrics import utils

#: sklearn's trees draw `randint(0, MAX_INT)` once per tree from the classifier's random state.
_TREE_SEED_MAX = np.iinfo(np.int32).max
_N_ESTIMATORS = 100


@gin.configurable("dci", denylist=["ground_truth_data", "representation_function", "random_state",
                                   "artifact_dir"])
def compute_dci(ground_truth_data, representation_function, random_state, artifact_dir=None,
                num_train=10000, num_test=5000, batch_size=16, n_jobs=None, preset="dlib"):
  """DCI from gradient-boosted-tree feature importances, one classifier per factor.

  `preset="fast"` (opt-in, **not dlib-identical**) replaces dlib's `GradientBoostingClassifier`
  with sklearn's histogram gradient boosting (`HistGradientBoostingClassifier`, seeded from
  `random_state`) and its split-gain importances; see docs/metrics.md for its measured speed
  and deviation. The sampled codes are the same; the default preset gives dlib's scores.

  The classifiers are built without a seed, as dlib does, so they draw from numpy's global
  RNG: seed it (`np.random.seed`) for repeatable scores (the evaluation step does). They are
  fitted in parallel (`n_jobs` processes, default: all cores) with each one's random state
  positioned where dlib's sequential loop would find the global RNG, so the scores and the
  global RNG afterwards are exactly dlib's.

  Returns:
    {"informativeness_train", "informativeness_test", "disentanglement", "completeness"}.
  """
  del artifact_dir
  mus_train, ys_train = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size)
  mus_test, ys_test = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_test, random_state, batch_size)
  if preset not in PRESETS:
    raise ValueError(f"dci.preset must be one of {sorted(PRESETS)}; got {preset!r}.")
  seed = random_state.randint(2 ** 31) if preset == "fast" else None
  return _compute_dci(mus_train, ys_train, mus_test, ys_test, n_jobs, preset, seed)


def _compute_dci(mus_train, ys_train, mus_test, ys_test, n_jobs=None, preset="dlib", seed=None):
  if preset == "fast":
    importance_matrix, train_err, test_err = compute_importance_hist_gbt(
        mus_train, ys_train, mus_test, ys_test, seed)
  else:
    importance_matrix, train_err, test_err = compute_importance_gbt(
        mus_train, ys_train, mus_test, ys_test, n_jobs)
  return {"informativeness_train": train_err, "informativeness_test": test_err,
          "disentanglement": disentanglement(importance_matrix),
          "completeness": completeness(importance_matrix)}


def sequential_random_states(y_train):
  """Random states that per-factor GBTs fitted one after another would see from the global RNG.

  Advances the global RNG past all of them, as the sequential loop would.
  """
  global_rng = np.random.mtrand._rand  # pylint: disable=protected-access
  states = []
  for y in y_train:
    state = np.random.RandomState()
    state.set_state(global_rng.get_state())
    states.append(state)
    num_classes = len(np.unique(y))
    for _ in range(_N_ESTIMATORS * (num_classes if num_classes > 2 else 1)):
      global_rng.randint(0, _TREE_SEED_MAX)
  return states


def _fit_factor(x_train, y, x_test, y_test, random_state):
  model = GradientBoostingClassifier(random_state=random_state)
  model.fit(x_train, y)
  return (np.abs(model.feature_importances_), np.mean(model.predict(x_train) == y),
          np.mean(model.predict(x_test) == y_test))


@gin.configurable("dci_on_fixed_data", denylist=["observations", "labels", "representation_function",
                                                 "test_observations", "test_labels"])
def compute_dci_on_fixed_data(observations, labels, representation_function, test_observations,
                              test_labels, n_jobs=None):
  """DCI on given train/test observations and labels (num_factors, N)."""
  codes = utils.encode_fixed_train_test(observations, labels, representation_function,
                                        test_observations, test_labels)
  return _compute_dci(*codes, n_jobs)


def compute_importance_gbt(x_train, y_train, x_test, y_test, n_jobs=None):
  """(num_codes, num_factors) importances and mean train/test accuracies of per-factor GBTs."""
  num_factors = y_train.shape[0]
  states = sequential_random_states(y_train)
  n_jobs = min(num_factors, n_jobs or os.cpu_count() or 1)
  fits = joblib.Parallel(n_jobs=n_jobs)(
      joblib.delayed(_fit_factor)(x_train.T, y_train[i, :], x_test.T, y_test[i, :], states[i])
      for i in range(num_factors))
  importance_matrix = np.stack([f[0] for f in fits], axis=1).astype(np.float64)
  return importance_matrix, np.mean([f[1] for f in fits]), np.mean([f[2] for f in fits])


def split_gain_importances(model, num_features):
  """Total split gain per feature over all trees of a fitted `HistGradientBoostingClassifier`,
  normalised to sum to 1 (the analogue of GBT's impurity-decrease `feature_importances_`)."""
  gains = np.zeros(num_features)
  for trees in model._predictors:  # pylint: disable=protected-access
    for tree in trees:
      nodes = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
      np.add.at(gains, nodes["feature_idx"], np.maximum(nodes["gain"], 0.0))
  total = gains.sum()
  return gains / total if total > 0 else gains


def compute_importance_hist_gbt(x_train, y_train, x_test, y_test, seed):
  """The `fast` preset of `compute_importance_gbt`: histogram GBT, split-gain importances."""
  from sklearn.ensemble import HistGradientBoostingClassifier  # pylint: disable=g-import-not-at-top
  num_factors, num_codes = y_train.shape[0], x_train.shape[0]
  importances, train_acc, test_acc = [], [], []
  for i in range(num_factors):
    # dlib's GBT shape: 100 rounds of depth-3 trees (≤ 8 leaves), learning rate 0.1.
    model = HistGradientBoostingClassifier(max_iter=_N_ESTIMATORS, max_depth=3, max_leaf_nodes=8,
                                           min_samples_leaf=1, early_stopping=False,
                                           random_state=seed)
    model.fit(x_train.T, y_train[i, :])
    importances.append(split_gain_importances(model, num_codes))
    train_acc.append(np.mean(model.predict(x_train.T) == y_train[i, :]))
    test_acc.append(np.mean(model.predict(x_test.T) == y_test[i, :]))
  return np.stack(importances, axis=1), np.mean(train_acc), np.mean(test_acc)


PRESETS = ("dlib", "fast")


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
