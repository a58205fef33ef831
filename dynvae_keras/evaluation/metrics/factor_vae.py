"""The FactorVAE disentanglement metric (Kim & Mnih 2018), dlib's `factor_vae_score`."""

from __future__ import annotations

import gin
import numpy as np

from dynvae_keras.evaluation.metrics import utils

SAMPLES_PER_CALL = 32


@gin.configurable("factor_vae_score",
                  denylist=["ground_truth_data", "representation_function", "random_state",
                            "artifact_dir"])
def compute_factor_vae(ground_truth_data, representation_function, random_state, artifact_dir=None,
                       batch_size=64, num_train=10000, num_eval=5000, num_variance_estimate=10000):
  """Majority-vote accuracy of predicting the fixed factor from the lowest normalised variance.

  Returns:
    {"train_accuracy", "eval_accuracy", "num_active_dims"}.
  """
  del artifact_dir
  utils.check_ground_truth_data(ground_truth_data)
  observations = ground_truth_data.sample_observations(num_variance_estimate, random_state)
  global_variances = np.var(utils.encode(representation_function, observations), axis=0, ddof=1)
  active_dims = prune_dims(global_variances)
  if not active_dims.any():
    return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
  training_votes = _generate_training_batch(ground_truth_data, representation_function, batch_size,
                                            num_train, random_state, global_variances, active_dims)
  classifier = np.argmax(training_votes, axis=0)
  other_index = np.arange(training_votes.shape[1])
  train_accuracy = np.sum(training_votes[classifier, other_index]) * 1. / np.sum(training_votes)
  eval_votes = _generate_training_batch(ground_truth_data, representation_function, batch_size,
                                        num_eval, random_state, global_variances, active_dims)
  eval_accuracy = np.sum(eval_votes[classifier, other_index]) * 1. / np.sum(eval_votes)
  # dlib reports len(active_dims): the length of the boolean mask, i.e. all code dimensions.
  return {"train_accuracy": train_accuracy, "eval_accuracy": eval_accuracy,
          "num_active_dims": len(active_dims)}


@gin.configurable("prune_dims", denylist=["variances"])
def prune_dims(variances, threshold=0.05):
  """Mask of code dimensions whose standard deviation is at least `threshold` (not collapsed)."""
  return np.sqrt(variances) >= threshold


def _generate_training_batch(ground_truth_data, representation_function, batch_size, num_points,
                             random_state, global_variances, active_dims):
  """(num_factors, num_codes) vote counts, sampled in dlib's order."""
  votes = np.zeros((ground_truth_data.num_factors, global_variances.shape[0]), dtype=np.int64)
  for start in range(0, num_points, SAMPLES_PER_CALL):
    indices, observations = [], []
    for _ in range(start, min(start + SAMPLES_PER_CALL, num_points)):
      factor_index = random_state.randint(ground_truth_data.num_factors)
      factors = ground_truth_data.sample_factors(batch_size, random_state)
      factors[:, factor_index] = factors[0, factor_index]
      indices.append(factor_index)
      observations.append(ground_truth_data.sample_observations_from_factors(factors, random_state))
    codes = utils.encode(representation_function, np.concatenate(observations, axis=0))
    codes = codes.reshape(len(indices), batch_size, codes.shape[1])
    local_variances = np.var(codes, axis=1, ddof=1)
    argmins = np.argmin(local_variances[:, active_dims] / global_variances[active_dims], axis=1)
    for factor_index, argmin in zip(indices, argmins):
      votes[factor_index, argmin] += 1
  return votes
