"""InfoMEC (Hsu et al. 2023, "Disentanglement via Latent Quantization"): InfoM, InfoC, InfoE.

Computed as the authors' code computes them (`kylehkhsu/latent_quantization`,
`disentangle/metrics/infomec.py`, continuous latents), on `num_train` points sampled as dlib's
metrics sample them. With sources s_i (the ground-truth factor classes, S of them) and latents
z_j (the mean representation):

* NMI[i, j] = I(s_i; z_j) / H(s_i). I is scikit-learn's k-nearest-neighbour estimate for a
  continuous feature and a discrete target (`mutual_info_classif`, k = 10) on the standardised
  latent; H(s_i) the plug-in entropy of the source's classes. Both in nats.
* Active latents: those whose range exceeds 1/20 of the largest latent range (A of them).
* InfoM (modularity) = (mean over active j of max_i NMI[i, j] / Σ_i NMI[i, j] − 1/S) / (1 − 1/S).
* InfoC (compactness) = (mean over i of max_j NMI[i, j] / Σ_j NMI[i, j] − 1/A) / (1 − 1/A),
  j over the active latents.
* InfoE (explicitness) = mean over i of (H_null − H_pred) / H_null: H_pred the log loss on the
  same points of an unpenalised multinomial logistic regression (L-BFGS, at most 100
  iterations, balanced class weights) from the standardised latents to s_i; H_null that of the
  same regression from all-zero inputs (the classes' marginal under balanced weights).

Ranges: InfoM and InfoC in [0, 1] (1: each active latent informs one source / each source is
informed by one latent); InfoE ≤ 1 (1: every source predicted exactly; ≈ 0: nothing predicted).
As in the authors' code, InfoM is NaN if an active latent has zero estimated information about
every source, and InfoC is undefined (division by zero) with a single active latent.

Deviation: the kNN estimator adds noise of relative size 1e-10 to continuous features; the
authors leave its generator unseeded, we seed it from `random_state` so scores are reproducible.
"""

from __future__ import annotations

import warnings

import gin
import numpy as np
from sklearn import exceptions, feature_selection, linear_model, metrics, preprocessing

from dynvae_keras.evaluation.metrics import utils

#: Neighbours of the kNN mutual-information estimator (the authors' value).
NEIGHBOURS = 10
#: A latent is active when its range exceeds this fraction of the largest range.
ACTIVE_RANGE_FRACTION = 1 / 20


@gin.configurable("infomec", denylist=["ground_truth_data", "representation_function", "random_state",
                                       "artifact_dir"])
def compute_infomec(ground_truth_data, representation_function, random_state, artifact_dir=None,
                    num_train=10000, batch_size=16):
  """InfoM, InfoC and InfoE of the representation on `num_train` sampled points.

  Returns:
    {"infom", "infoc", "infoe", "num_active_latents"}.
  """
  del artifact_dir
  mus, ys = utils.generate_batch_factor_code(ground_truth_data, representation_function, num_train,
                                             random_state, batch_size)
  return infomec_from_codes(mus.T, ys.T, random_state)


def infomec_from_codes(latents, sources, random_state):
  """InfoMEC of latents (N, num_latents) against sources (N, num_sources) of class labels."""
  latents = np.asarray(latents, dtype=np.float64)
  sources = np.stack([preprocessing.LabelEncoder().fit_transform(s) for s in np.asarray(sources).T], 1)
  nmi = normalized_mutual_information(latents, sources, random_state)
  ranges = latents.max(axis=0) - latents.min(axis=0)
  active = ranges > ranges.max() * ACTIVE_RANGE_FRACTION
  infom, infoc = information_ratios(nmi, active)
  return {"infom": infom, "infoc": infoc, "infoe": explicitness(latents, sources),
          "num_active_latents": int(active.sum())}


def information_ratios(nmi, active):
  """(InfoM, InfoC) from NMI (num_sources, num_latents) and the active-latent mask."""
  pruned = nmi[:, active]
  num_sources, num_active = pruned.shape
  with np.errstate(divide="ignore", invalid="ignore"):
    infom = (np.mean(pruned.max(axis=0) / pruned.sum(axis=0)) - 1 / num_sources) / (1 - 1 / num_sources)
    infoc = ((np.mean(pruned.max(axis=1) / pruned.sum(axis=1)) - 1 / num_active) / (1 - 1 / num_active)
             if num_active > 1 else np.nan)
  return float(infom), float(infoc)


def normalized_mutual_information(latents, sources, random_state):
  """NMI (num_sources, num_latents): kNN I(s_i; standardised z_j) over the plug-in H(s_i)."""
  standardized = preprocessing.StandardScaler().fit_transform(latents)
  nmi = np.empty((sources.shape[1], latents.shape[1]))
  for i in range(sources.shape[1]):
    for j in range(latents.shape[1]):
      nmi[i, j] = feature_selection.mutual_info_classif(
          standardized[:, j:j + 1], sources[:, i], discrete_features=False, n_neighbors=NEIGHBOURS,
          random_state=random_state.randint(2 ** 31 - 1))[0]
    nmi[i] /= metrics.mutual_info_score(sources[:, i], sources[:, i])
  return nmi


def explicitness(latents, sources):
  """InfoE: mean over sources of the normalised predictive information of a logistic regression."""
  standardized = preprocessing.StandardScaler().fit_transform(latents)
  null = np.zeros_like(latents)
  scores = []
  for i in range(sources.shape[1]):
    predictive = _log_loss_of_fit(standardized, sources[:, i])
    marginal = _log_loss_of_fit(null, sources[:, i])
    scores.append((marginal - predictive) / marginal)
  return float(np.mean(scores))


def _log_loss_of_fit(features, labels):
  """Training log loss (nats) of an unpenalised multinomial logistic regression, as the authors fit it."""
  model = linear_model.LogisticRegression(C=np.inf, tol=1e-4, fit_intercept=True, class_weight="balanced",
                                          solver="lbfgs", max_iter=100)
  with warnings.catch_warnings():  # 100 iterations, as the authors; unconverged fits are theirs too
    warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
    model.fit(features, labels)
  return metrics.log_loss(labels, model.predict_proba(features), labels=model.classes_)
