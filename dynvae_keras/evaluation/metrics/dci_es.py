"""DCI-ES (Eastwood et al. 2023, "DCI-ES: An Extended Disentanglement Framework with Connections
to Identifiability"): DCI with explicitness (E) and size (S), random-forest probes.

Computed as the authors' code computes it with random-forest probes
(`andreinicolicioiu/DCI-ES`: `src/loss_capacity/train_model_random_forest.py`,
`metrics/explitcitness.py`, `src/simple_gather.py`, `configs/random_forest/`):

* One probe per factor and capacity: a random forest of 100 trees, `max_depth` = the capacity
  κ ∈ {1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32}, no leaf limit, trained on `num_train` codes
  and scored on `num_test` others. A categorical factor gets a classifier scored by accuracy;
  the others a regressor scored by R² (of the factor's index; R² does not depend on the
  authors' rescaling to [0, 1]). The probe's loss is ℓ = 1 − score.
* Loss–capacity curve of factor j: the running minimum of ℓ over increasing κ (x = κ itself,
  not its logarithm, for forests). Its baseline loss ℓᵇⱼ is that of a constant prediction:
  1 − 1/Kⱼ for a categorical factor with Kⱼ values (chance accuracy), 1 for R².
* Explicitness Eⱼ = 1 − 2·A/((κ_max − κ_min)·ℓᵇⱼ), A the trapezoidal area between the curve and
  its own minimum (the authors' "global" mode, used by their results script). E = mean over j.
  E = 1 when the smallest probe already reaches the curve's best loss; a curve falling linearly
  from ℓᵇ to 0 over the capacity range scores 0; slower than linear is negative. Because the
  area is taken above the curve's own minimum, E says how soon a factor's best loss is reached,
  not how low it is: a code that predicts nothing has a flat curve and E = 1. Read E with I.
  `lowest_loss=0.0` measures the area above ℓ* = 0 instead (the assumption the authors' code
  states for the normaliser): the same flat curve at ℓᵇ then scores −1.
* D, C and I at the capacity with the best mean test score: the importance matrix R (codes ×
  factors) holds the forests' |feature importances| (mean impurity decrease), D and C are dlib's
  importance-weighted entropies (`dci.disentanglement`, `dci.completeness`), I is that best mean
  score.
* Size S = (number of factors) / (code dimensions), the paper's ratio (1 for one code dimension
  per factor, smaller for larger codes). The authors' code does not compute it.

Deviations: the authors seed every forest with one fixed seed; we draw that seed from
`random_state` (after sampling the points) so scores follow the evaluation's seed. Their
results script calls the explicitness helper with an argument its released version does not
accept; we follow the version that accepts it (same formula). Which factors are categorical
is a property of the data set (`categorical_factors`, e.g. dSprites' shape; the authors list
them per data set); data sets that do not say are treated as all-ordinal.
"""

from __future__ import annotations

import gin
import numpy as np
from sklearn import ensemble

from dynvae_keras.evaluation.metrics import dci, utils

#: The authors' random-forest capacities (max_depth), `configs/random_forest/config.yaml`.
CAPACITIES = (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32)
NUM_TREES = 100


@gin.configurable("dci_es", denylist=["ground_truth_data", "representation_function", "random_state",
                                      "artifact_dir"])
def compute_dci_es(ground_truth_data, representation_function, random_state, artifact_dir=None,
                   num_train=10000, num_test=5000, batch_size=16, capacities=CAPACITIES,
                   num_trees=NUM_TREES, categorical_factors="auto", lowest_loss="curve",
                   n_jobs=-1):
  """DCI-ES of the representation with random-forest probes.

  Args:
    num_train, num_test: points to train and score the probes on (dlib's DCI sampling).
    capacities: the forests' max_depth values, increasing.
    num_trees: trees per forest.
    categorical_factors: indices of the factors probed by classification; "auto" reads the
      data set's `categorical_factors` (none if it has no such attribute).
    lowest_loss: the loss the curve's area is measured above: "curve" (its own minimum, the
      authors' code) or a number (e.g. 0.0).
    n_jobs: parallel jobs fitting each forest (scikit-learn's convention; default -1: all cores,
      1.5× a single job on 2 cores, bench/dci_es_cost.py). The scores do not depend on it: the
      forests predict with one job, which adds the trees' outputs in a fixed order.

  Returns:
    {"explicitness", "disentanglement", "completeness", "informativeness", "size",
    "best_capacity", "explicitness_factor_<j>" for each factor j}.
  """
  del artifact_dir
  mus_train, ys_train = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_train, random_state, batch_size)
  mus_test, ys_test = utils.generate_batch_factor_code(
      ground_truth_data, representation_function, num_test, random_state, batch_size)
  if isinstance(categorical_factors, str):
    if categorical_factors != "auto":
      raise ValueError(f"dci_es.categorical_factors must be 'auto' or a list of factor indices; "
                       f"got {categorical_factors!r}.")
    categorical_factors = getattr(ground_truth_data, "categorical_factors", ())
  return dci_es_from_codes(mus_train.T, ys_train.T, mus_test.T, ys_test.T,
                           ground_truth_data.factors_num_values, categorical_factors,
                           seed=random_state.randint(2 ** 31), capacities=capacities,
                           num_trees=num_trees, lowest_loss=lowest_loss, n_jobs=n_jobs)


def dci_es_from_codes(codes_train, factors_train, codes_test, factors_test, factors_num_values,
                      categorical_factors=(), seed=0, capacities=CAPACITIES, num_trees=NUM_TREES,
                      lowest_loss="curve", n_jobs=None):
  """DCI-ES from codes (N, num_codes) and factor indices (N, num_factors)."""
  capacities = np.asarray(capacities, dtype=np.float64)
  if capacities.size < 2 or np.any(np.diff(capacities) <= 0):
    raise ValueError(f"dci_es.capacities must be at least two increasing values; got {list(capacities)}.")
  num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
  categorical = set(int(j) for j in categorical_factors)
  if not categorical <= set(range(num_factors)):
    raise ValueError(f"dci_es.categorical_factors {sorted(categorical)} must index the "
                     f"{num_factors} factors.")
  scores = np.zeros((capacities.size, num_factors))
  importances = np.zeros((capacities.size, num_codes, num_factors))
  for c, depth in enumerate(capacities):
    for j in range(num_factors):
      forest_type = ensemble.RandomForestClassifier if j in categorical else ensemble.RandomForestRegressor
      forest = forest_type(n_estimators=num_trees, max_depth=int(depth), random_state=seed, n_jobs=n_jobs)
      forest.fit(codes_train, factors_train[:, j])
      # Parallel prediction sums the trees' outputs in completion order (last-bit noise in the
      # scores); one job sums them in tree order, so scores do not depend on n_jobs.
      forest.set_params(n_jobs=1)
      scores[c, j] = forest.score(codes_test, factors_test[:, j])
      importances[c, :, j] = np.abs(forest.feature_importances_)
  baselines = np.array([1.0 - 1.0 / factors_num_values[j] if j in categorical else 1.0
                        for j in range(num_factors)])
  per_factor = np.array([explicitness(capacities, 1.0 - scores[:, j], baselines[j], lowest_loss)
                        for j in range(num_factors)])
  best = int(np.argmax(scores.mean(axis=1)))
  result = {"explicitness": float(per_factor.mean()),
            "disentanglement": float(dci.disentanglement(importances[best])),
            "completeness": float(dci.completeness(importances[best])),
            "informativeness": float(scores[best].mean()),
            "size": num_factors / num_codes,
            "best_capacity": float(capacities[best])}
  result.update({f"explicitness_factor_{j}": float(e) for j, e in enumerate(per_factor)})
  return result


def explicitness(capacities, losses, baseline_loss, lowest_loss="curve"):
  """E of one loss–capacity curve: 1 − 2·(area above ℓ*) / ((κ_max − κ_min)·baseline).

  `losses` are the probes' test losses at increasing `capacities`; the curve is their running
  minimum (a bigger probe can always do what a smaller one did). ℓ* is the curve's own minimum
  (`lowest_loss="curve"`, the authors' code) or the number given.
  """
  if isinstance(lowest_loss, str) and lowest_loss != "curve":
    raise ValueError(f"dci_es.lowest_loss must be 'curve' or a number; got {lowest_loss!r}.")
  capacities = np.asarray(capacities, dtype=np.float64)
  curve = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
  excess = curve - (curve.min() if isinstance(lowest_loss, str) else float(lowest_loss))
  area = np.sum(0.5 * (excess[:-1] + excess[1:]) * np.diff(capacities))
  return 1.0 - 2.0 * area / ((capacities[-1] - capacities[0]) * baseline_loss)
