"""Downstream classification accuracy per factor, dlib's `downstream_task`."""

from __future__ import annotations

import gin
import numpy as np

from dynvae_keras.evaluation.metrics import utils


@gin.configurable("downstream_task", denylist=["ground_truth_data", "representation_function",
                                               "random_state", "artifact_dir"])
def compute_downstream_task(ground_truth_data, representation_function, random_state,
                            artifact_dir=None, num_train=(10, 100, 1000, 10000), num_test=5000,
                            batch_size=16):
  """Accuracy of the configured predictor (`predictor.predictor_fn`) per factor and train size.

  Returns:
    For each train size n: "n:mean_train_accuracy", "n:mean_test_accuracy",
    "n:min_train_accuracy", "n:min_test_accuracy", "n:train_accuracy_factor_i",
    "n:test_accuracy_factor_i".
  """
  del artifact_dir
  scores = {}
  for train_size in num_train:
    mus_train, ys_train = utils.generate_batch_factor_code(
        ground_truth_data, representation_function, train_size, random_state, batch_size)
    mus_test, ys_test = utils.generate_batch_factor_code(
        ground_truth_data, representation_function, num_test, random_state, batch_size)
    predictor_model = utils.make_predictor_fn()
    train_err, test_err = _compute_loss(np.transpose(mus_train), ys_train, np.transpose(mus_test),
                                        ys_test, predictor_model)
    size = str(train_size)
    scores[size + ":mean_train_accuracy"] = np.mean(train_err)
    scores[size + ":mean_test_accuracy"] = np.mean(test_err)
    scores[size + ":min_train_accuracy"] = np.min(train_err)
    scores[size + ":min_test_accuracy"] = np.min(test_err)
    for i, (train_acc, test_acc) in enumerate(zip(train_err, test_err)):
      scores[size + f":train_accuracy_factor_{i}"] = train_acc
      scores[size + f":test_accuracy_factor_{i}"] = test_acc
  return scores


def _compute_loss(x_train, y_train, x_test, y_test, predictor_fn):
  train_loss, test_loss = [], []
  for i in range(y_train.shape[0]):
    model = predictor_fn()
    model.fit(x_train, y_train[i, :])
    train_loss.append(np.mean(model.predict(x_train) == y_train[i, :]))
    test_loss.append(np.mean(model.predict(x_test) == y_test[i, :]))
  return train_loss, test_loss
