"""The β-VAE disentanglement metric (Higgins et al. 2017), dlib's `beta_vae_sklearn`."""

from __future__ import annotations

import gin
import numpy as np
from sklearn import linear_model

from dynvae_keras.evaluation.metrics import utils

#: Training samples whose observations are encoded in one call (each has 2·batch_size images).
SAMPLES_PER_CALL = 16


@gin.configurable("beta_vae_sklearn",
                  denylist=["ground_truth_data", "representation_function", "random_state",
                            "artifact_dir"])
def compute_beta_vae_sklearn(ground_truth_data, representation_function, random_state,
                             artifact_dir=None, batch_size=64, num_train=10000, num_eval=5000):
  """Accuracy of a logistic regression predicting the fixed factor from |z1 − z2| averages.

  Returns:
    {"train_accuracy", "eval_accuracy"}.
  """
  del artifact_dir
  utils.check_ground_truth_data(ground_truth_data)
  train_points, train_labels = _generate_training_batch(
      ground_truth_data, representation_function, batch_size, num_train, random_state)
  model = linear_model.LogisticRegression(random_state=random_state)
  model.fit(train_points, train_labels)
  train_accuracy = np.mean(model.predict(train_points) == train_labels)
  eval_points, eval_labels = _generate_training_batch(
      ground_truth_data, representation_function, batch_size, num_eval, random_state)
  eval_accuracy = model.score(eval_points, eval_labels)
  return {"train_accuracy": train_accuracy, "eval_accuracy": eval_accuracy}


def _generate_training_batch(ground_truth_data, representation_function, batch_size, num_points,
                             random_state):
  """(num_points, num_codes) features and (num_points,) fixed-factor labels, sampled as dlib."""
  labels = np.zeros(num_points, dtype=np.int64)
  features = []
  for start in range(0, num_points, SAMPLES_PER_CALL):
    observations = []
    for i in range(start, min(start + SAMPLES_PER_CALL, num_points)):
      labels[i] = random_state.randint(ground_truth_data.num_factors)
      factors1 = ground_truth_data.sample_factors(batch_size, random_state)
      factors2 = ground_truth_data.sample_factors(batch_size, random_state)
      factors2[:, labels[i]] = factors1[:, labels[i]]
      observations.append(ground_truth_data.sample_observations_from_factors(factors1, random_state))
      observations.append(ground_truth_data.sample_observations_from_factors(factors2, random_state))
    codes = utils.encode(representation_function, np.concatenate(observations, axis=0))
    codes = codes.reshape(-1, 2, batch_size, codes.shape[1])
    features.append(np.mean(np.abs(codes[:, 0] - codes[:, 1]), axis=1))
  return np.concatenate(features, axis=0).astype(np.float64), labels
