"""disentanglement_lib's metrics with dlib's signatures, gin names, parameters and result keys.

Every function has the signature
`compute_X(ground_truth_data, representation_function, random_state, artifact_dir=None, **params)`
and returns dlib's scores for the same data, representation and seed: all randomness is drawn
from `random_state` in dlib's order. Observations are encoded in large batches (the
representation function draws no randomness), which makes the scores identical for any
representation function that treats rows independently.
"""

import functools

from dynvae_keras.evaluation.metrics import (beta_vae, dci, dci_es, downstream_task, factor_vae,
                                             infomec, irs, mig, modularity_explicitness, sap_score,
                                             unsupervised_metrics, utils)
from dynvae_keras.evaluation.metrics.beta_vae import compute_beta_vae_sklearn
from dynvae_keras.evaluation.metrics.dci import compute_dci
from dynvae_keras.evaluation.metrics.dci_es import compute_dci_es
from dynvae_keras.evaluation.metrics.downstream_task import compute_downstream_task
from dynvae_keras.evaluation.metrics.factor_vae import compute_factor_vae
from dynvae_keras.evaluation.metrics.infomec import compute_infomec
from dynvae_keras.evaluation.metrics.irs import compute_irs
from dynvae_keras.evaluation.metrics.mig import compute_mig
from dynvae_keras.evaluation.metrics.modularity_explicitness import compute_modularity_explicitness
from dynvae_keras.evaluation.metrics.sap_score import compute_sap

#: gin names of the evaluation functions (dlib's `@name` references).
METRICS = {
    "beta_vae_sklearn": compute_beta_vae_sklearn,
    "factor_vae_score": compute_factor_vae,
    "mig": compute_mig,
    "dci": compute_dci,
    "sap_score": compute_sap,
    "modularity_explicitness": compute_modularity_explicitness,
    "irs": compute_irs,
    # `unsupervised_metrics` stays the module (as in dlib); its function is the module's.
    "unsupervised_metrics": unsupervised_metrics.unsupervised_metrics,
    "downstream_task": compute_downstream_task,
    # Beyond dlib's set (not in dlib; same signature and conventions).
    "infomec": compute_infomec,
    "dci_es": compute_dci_es,
}

#: Metrics that use the codes only, not the ground-truth factors: they also score data sets
#: without factors (CelebA).
FACTOR_FREE_METRICS = ("unsupervised_metrics",)


MetricDataError = utils.MetricDataError


def metric_name(fn) -> str:
  """dlib's gin name of a metric function (`mig` for `compute_mig`, also through
  `functools.partial`), else its `__name__`."""
  while isinstance(fn, functools.partial):
    fn = fn.func
  for name, metric in METRICS.items():
    if fn is metric:
      return name
  return getattr(fn, "__name__", type(fn).__name__)


def require_factors(metric_name, ground_truth_data):
  """Raises MetricDataError when `metric_name` needs ground-truth factors the data set lacks
  (checked before a pipeline step starts, rather than inside the metric)."""
  if metric_name not in FACTOR_FREE_METRICS:
    utils.check_ground_truth_data(ground_truth_data, f"The {metric_name} metric")


__all__ = ["FACTOR_FREE_METRICS", "METRICS", "MetricDataError", "metric_name", "require_factors", "beta_vae", "compute_beta_vae_sklearn", "compute_dci", "compute_dci_es",
           "compute_downstream_task", "compute_factor_vae", "compute_infomec", "compute_irs", "compute_mig",
           "compute_modularity_explicitness", "compute_sap", "dci", "dci_es", "downstream_task",
           "factor_vae", "infomec", "irs", "mig", "modularity_explicitness", "sap_score",
           "unsupervised_metrics", "utils"]
