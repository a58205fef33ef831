"""Helpers shared by the metrics (dlib's `metrics.utils`), with batched encoding.

Conventions as dlib: codes and factors are returned transposed, (num_codes, num_points) and
(num_factors, num_points).
"""

from __future__ import annotations

import gin
import numpy as np
import sklearn.metrics
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold

from dynvae_keras.errors import DynvaeError

#: Images per call to the representation function (dlib calls it with the metric's batch_size).
ENCODE_BATCH = 4096


class RepresentationError(DynvaeError, ValueError):
  """The representation function returned something a metric cannot use."""


class MetricDataError(DynvaeError, ValueError):
  """A metric cannot score the given data set (e.g. a factor-based metric on CelebA)."""


def check_ground_truth_data(ground_truth_data, metric_name="This metric"):
  """Raises MetricDataError for a data set without ground-truth factors (CelebA)."""
  if int(ground_truth_data.num_factors) < 1:
    raise MetricDataError(
        f"{metric_name} compares the code with ground-truth factors, and "
        f"{type(ground_truth_data).__name__} has none. Fix: score it with the unsupervised "
        f"metrics (--gin_config metric/unsupervised.gin), or choose a data set with factors.")


def encode(representation_function, observations, encode_batch=ENCODE_BATCH):
  """Representations (N, D) float of observations (N, H, W, C), computed in batches of `encode_batch`.

  Raises RepresentationError if the function returns a wrong number of rows, not a matrix, or
  non-finite values.
  """
  outputs = []
  for start in range(0, len(observations), encode_batch):
    chunk = observations[start:start + encode_batch]
    codes = np.asarray(representation_function(chunk))
    if codes.ndim != 2 or codes.shape[0] != len(chunk):
      raise RepresentationError(
          f"The representation function must map a batch of {len(chunk)} observations to a "
          f"({len(chunk)}, num_codes) array; it returned shape {codes.shape}.")
    outputs.append(codes)
  codes = np.concatenate(outputs, axis=0) if outputs else np.zeros((0, 0))
  if not np.all(np.isfinite(codes)):
    raise RepresentationError("The representation function returned NaN or Inf values; check the "
                              "model (did training diverge?) and its input range [0, 1].")
  return codes


def generate_batch_factor_code(ground_truth_data, representation_function, num_points,
                               random_state, batch_size, require_factors=True):
  """Samples `num_points` (factors, observations) in dlib's batch order and encodes them.

  `require_factors=False` lets a metric that uses the codes only run on data sets without
  ground-truth factors (CelebA); the factors returned then have no rows.

  Returns:
    representations (num_codes, num_points) and factors (num_factors, num_points).
  """
  if require_factors:
    check_ground_truth_data(ground_truth_data)
  factors, codes, pending = [], [], []
  pending_count = 0
  i = 0
  while i < num_points:
    num_points_iter = min(num_points - i, batch_size)
    current_factors, current_observations = ground_truth_data.sample(num_points_iter, random_state)
    factors.append(current_factors)
    pending.append(current_observations)
    pending_count += num_points_iter
    i += num_points_iter
    if pending_count >= ENCODE_BATCH or i >= num_points:
      codes.append(encode(representation_function, np.concatenate(pending, axis=0)))
      pending, pending_count = [], 0
  return np.transpose(np.concatenate(codes, axis=0)), np.transpose(np.concatenate(factors, axis=0))


def encode_fixed_data(observations, labels, representation_function):
  """(codes (num_codes, N), factors (num_factors, N)) for given observations and labels (num_factors, N)."""
  labels = np.asarray(labels)
  if labels.ndim != 2 or labels.shape[1] != len(observations):
    raise ValueError(f"labels must be (num_factors, N={len(observations)}); got shape {labels.shape}.")
  if labels.shape[0] < 1:
    raise ValueError("labels have 0 factors; metrics need at least one ground-truth factor.")
  return np.transpose(encode(representation_function, observations)), labels


def encode_fixed_train_test(observations, labels, representation_function, test_observations,
                            test_labels):
  """`encode_fixed_data` for a train and a test set: (mus, ys, mus_test, ys_test)."""
  return (*encode_fixed_data(observations, labels, representation_function),
          *encode_fixed_data(test_observations, test_labels, representation_function))


def discrete_mutual_info(mus, ys):
  """Mutual information (nats) between each discretised code row and each factor row: (num_codes, num_factors)."""
  m = np.zeros([mus.shape[0], ys.shape[0]])
  for i in range(mus.shape[0]):
    for j in range(ys.shape[0]):
      m[i, j] = sklearn.metrics.mutual_info_score(ys[j, :], mus[i, :])
  return m


def discrete_entropy(ys):
  """Entropy (nats) of each factor row."""
  return np.array([sklearn.metrics.mutual_info_score(y, y) for y in ys], dtype=np.float64)


@gin.configurable("discretizer", denylist=["target"])
def make_discretizer(target, num_bins=20, discretizer_fn=None):
  """Discretises each row of `target` with `discretizer_fn` (default: the histogram discretizer)."""
  discretizer_fn = histogram_discretize if discretizer_fn is None else discretizer_fn
  return discretizer_fn(target, num_bins)


@gin.configurable("histogram_discretizer", denylist=["target"])
def histogram_discretize(target, num_bins=20):
  """Each row mapped to the index (1..num_bins) of its equal-width histogram bin (dtype kept, as dlib)."""
  discretized = np.zeros_like(target)
  for i in range(target.shape[0]):
    discretized[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
  return discretized


def normalize_data(data, mean=None, stddev=None):
  """Standardises each row; returns (normalised, mean, stddev)."""
  if mean is None:
    mean = np.mean(data, axis=1)
  if stddev is None:
    stddev = np.std(data, axis=1)
  return (data - mean[:, np.newaxis]) / stddev[:, np.newaxis], mean, stddev


@gin.configurable("predictor")
def make_predictor_fn(predictor_fn=None):
  """The downstream-task predictor factory (default: logistic regression with 5-fold CV)."""
  return logistic_regression_cv if predictor_fn is None else predictor_fn


@gin.configurable("logistic_regression_cv")
def logistic_regression_cv():
  """Logistic regression with 5-fold cross-validation over 10 values of C."""
  return LogisticRegressionCV(Cs=10, cv=KFold(n_splits=5))


@gin.configurable("gradient_boosting_classifier")
def gradient_boosting_classifier():
  """sklearn's default gradient boosting classifier (unseeded: draws from numpy's global RNG)."""
  return GradientBoostingClassifier()
