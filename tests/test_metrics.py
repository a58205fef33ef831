"""Metric semantics (identity code scores high, random/constant codes low), configs and bad input."""

import glob
import os

import gin
import numpy as np
import pytest

from dynvae_keras import gin_utils
from dynvae_keras.evaluation import metrics
from dynvae_keras.evaluation.metrics import utils
from toy_data import ToyData, identity

SMALL = {
    "mig": dict(num_train=2000),
    "dci": dict(num_train=1000, num_test=500),
    "sap_score": dict(num_train=1000, num_test=500),
    "modularity_explicitness": dict(num_train=1000, num_test=500),
    "irs": dict(num_train=2000),
    "beta_vae_sklearn": dict(num_train=300, num_eval=200, batch_size=16),
    "factor_vae_score": dict(num_train=300, num_eval=200, num_variance_estimate=1000, batch_size=16),
    "unsupervised_metrics": dict(num_train=2000),
}


_NOISE = np.random.RandomState(123)


def noise_code(x):
  """Independent Gaussian dimensions that ignore the observation (from an RNG of their own)."""
  return _NOISE.normal(size=(len(x), 5))


def _run(name, code):
  np.random.seed(0)
  return metrics.METRICS[name](ToyData(), code, np.random.RandomState(0), **SMALL[name])


def test_identity_code_scores_high():
  assert _run("mig", identity)["discrete_mig"] >= 0.9
  dci = _run("dci", identity)
  assert dci["disentanglement"] >= 0.9 and dci["completeness"] >= 0.9
  assert _run("modularity_explicitness", identity)["modularity_score"] >= 0.9
  assert _run("irs", identity)["IRS"] >= 0.9
  assert _run("beta_vae_sklearn", identity)["eval_accuracy"] >= 0.9
  assert _run("factor_vae_score", identity)["eval_accuracy"] >= 0.9
  assert _run("sap_score", identity)["SAP_score"] > 0.1


def test_uninformative_code_scores_low():
  assert _run("mig", noise_code)["discrete_mig"] < 0.05
  dci = _run("dci", noise_code)
  assert dci["disentanglement"] < 0.2 and dci["informativeness_test"] < 0.4
  assert _run("sap_score", noise_code)["SAP_score"] < 0.05
  assert _run("factor_vae_score", noise_code)["eval_accuracy"] < 0.45
  unsupervised = _run("unsupervised_metrics", noise_code)
  assert unsupervised["gaussian_total_correlation"] < 0.01
  assert unsupervised["mutual_info_score"] < 0.1


def test_constant_code():
  constant = lambda x: np.zeros((len(x), 5))
  assert _run("factor_vae_score", constant) == {"train_accuracy": 0.0, "eval_accuracy": 0.0,
                                                 "num_active_dims": 0}
  assert _run("irs", constant) == {"IRS": 0.0, "num_active_dims": 0.0}
  assert _run("mig", constant)["discrete_mig"] == 0.0


def test_representation_nan_rejected():
  with pytest.raises(utils.RepresentationError, match="NaN"):
    _run("mig", lambda x: np.full((len(x), 5), np.nan))


def test_representation_wrong_batch_dimension_rejected():
  with pytest.raises(utils.RepresentationError, match="returned shape"):
    _run("mig", lambda x: identity(x)[:-1])
  with pytest.raises(utils.RepresentationError, match="returned shape"):
    _run("dci", lambda x: identity(x).ravel())


def test_zero_factors_rejected():
  class NoFactors(ToyData):
    num_factors = 0
  with pytest.raises(metrics.MetricDataError, match="compares the code with ground-truth factors"):
    metrics.compute_mig(NoFactors(), identity, np.random.RandomState(0), num_train=10)


def test_generate_batch_factor_code_matches_dlib_batching():
  calls = []

  def code(x):
    calls.append(len(x))
    return identity(x)

  mus, ys = utils.generate_batch_factor_code(ToyData(), code, 100, np.random.RandomState(3), 16)
  rs = np.random.RandomState(3)
  expected = [ToyData().sample_factors(min(16, 100 - i), rs) for i in range(0, 100, 16)]
  np.testing.assert_array_equal(ys, np.concatenate(expected).T)
  assert mus.shape == (5, 100) and calls == [100]  # one call instead of seven


def test_mig_on_fixed_data():
  data = ToyData()
  factors, observations = data.sample(2000, np.random.RandomState(0))
  fixed = metrics.mig.compute_mig_on_fixed_data(observations, factors.T, identity)
  assert fixed["discrete_mig"] >= 0.9


def test_downstream_task_keys():
  np.random.seed(0)
  scores = metrics.compute_downstream_task(ToyData(), identity, np.random.RandomState(0),
                                           num_train=[50], num_test=50)
  assert scores["50:mean_test_accuracy"] > 0.5
  assert {"50:min_train_accuracy", "50:train_accuracy_factor_4", "50:test_accuracy_factor_0"} <= set(scores)


STUDY = {
    "beta_vae_sklearn.gin": {"beta_vae_sklearn.batch_size": 64, "beta_vae_sklearn.num_train": 10000,
                             "beta_vae_sklearn.num_eval": 5000},
    "factor_vae_metric.gin": {"factor_vae_score.num_variance_estimate": 10000, "prune_dims.threshold": 0.05},
    "mig.gin": {"mig.num_train": 10000, "mig.batch_size": 16, "discretizer.num_bins": 20},
    "dci.gin": {"dci.num_train": 10000, "dci.num_test": 5000, "dci.batch_size": 16},
    "dci_fast.gin": {"dci.preset": "fast", "dci.num_train": 10000, "dci.num_test": 5000},
    "sap_score.gin": {"sap_score.continuous_factors": False},
    "modularity_explicitness.gin": {"modularity_explicitness.num_test": 5000},
    "irs.gin": {"irs.diff_quantile": 0.99, "irs.batch_size": 16},
    "unsupervised.gin": {"unsupervised_metrics.num_train": 10000},
    "downstream_logistic_regression.gin": {"downstream_task.num_train": [10, 100, 1000, 10000]},
    "downstream_boosted_trees.gin": {"downstream_task.num_test": 5000},
    "infomec.gin": {"infomec.num_train": 10000, "infomec.batch_size": 16},  # not a dlib metric
    "dci_es.gin": {"dci_es.num_train": 10000, "dci_es.num_test": 5000,  # not a dlib metric
                   "dci_es.lowest_loss": "curve"},
}


@pytest.mark.parametrize("name", sorted(STUDY))
def test_metric_configs_have_study_parameters(name):
  gin_utils.register_configurables()
  gin.clear_config()
  try:
    gin_utils.parse([str(gin_utils.GIN_CONFIG_DIR / "metric" / name)])
    for key, value in STUDY[name].items():
      assert gin.query_parameter(key) == value
  finally:
    gin.clear_config()


def test_every_metric_config_is_checked():
  shipped = {os.path.basename(p) for p in glob.glob(str(gin_utils.GIN_CONFIG_DIR / "metric" / "*.gin"))}
  assert shipped == set(STUDY)


def test_parallel_gbt_equals_dlib_sequential_loop():
  from sklearn.ensemble import GradientBoostingClassifier
  from dynvae_keras.evaluation.metrics import dci
  rs = np.random.RandomState(0)
  factors, observations = ToyData().sample(600, rs)
  codes = identity(observations).T  # discrete codes: many tied splits, so the tree seeds matter
  codes = np.concatenate([codes, codes[:2] + 0.0], axis=0)  # duplicated features tie exactly
  ys = factors.T
  np.random.seed(5)
  expected = []
  for y in ys:  # dlib's loop, drawing from the global RNG
    model = GradientBoostingClassifier().fit(codes.T, y)
    expected.append(model.feature_importances_)
  after_sequential = np.random.get_state()[1].copy()
  np.random.seed(5)
  importance, _, _ = dci.compute_importance_gbt(codes, ys, codes, ys, n_jobs=2)
  np.testing.assert_array_equal(importance, np.stack(expected, axis=1))
  np.testing.assert_array_equal(np.random.get_state()[1], after_sequential)


def test_on_fixed_data_variants_match_sampled_metrics():
  data = ToyData()
  factors, observations = data.sample(1000, np.random.RandomState(0))
  test_factors, test_observations = data.sample(500, np.random.RandomState(1))
  np.random.seed(0)
  fixed = metrics.dci.compute_dci_on_fixed_data(observations, factors.T, identity, test_observations,
                                                test_factors.T)
  assert fixed["disentanglement"] >= 0.9
  sap = metrics.sap_score.compute_sap_on_fixed_data(observations, factors.T, identity, test_observations,
                                                    test_factors.T)
  assert sap["SAP_score"] > 0.1
  with pytest.raises(ValueError, match="labels must be"):
    metrics.mig.compute_mig_on_fixed_data(observations, factors, identity)


def test_dci_fast_preset_keeps_semantic_ranges_and_is_labelled():
  from dynvae_keras.evaluation import metrics  # pylint: disable=g-import-not-at-top
  data = ToyData()
  fast = metrics.compute_dci(data, identity, np.random.RandomState(0), num_train=1000, num_test=500,
                             preset="fast")
  assert fast["disentanglement"] >= 0.9 and fast["completeness"] >= 0.9
  again = metrics.compute_dci(data, identity, np.random.RandomState(0), num_train=1000, num_test=500,
                              preset="fast")
  assert again == fast   # seeded from random_state: repeatable without the global RNG
  noise = metrics.compute_dci(data, lambda x: np.random.RandomState(3).normal(size=(len(x), 5)),
                              np.random.RandomState(0), num_train=1000, num_test=500, preset="fast")
  assert noise["disentanglement"] < 0.3
  with pytest.raises(ValueError, match="preset"):
    metrics.compute_dci(data, identity, np.random.RandomState(0), num_train=10, num_test=10, preset="quick")
