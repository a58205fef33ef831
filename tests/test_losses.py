"""Loss terms against hand-computed numpy values, and the β-TCVAE decomposition properties."""

import math

import numpy as np
import pytest
from keras import ops

from dynvae_keras.models import losses

RS = np.random.RandomState(0)
IMAGES = RS.uniform(size=(3, 4, 4, 2)).astype("float32")
LOGITS = RS.normal(size=(3, 4, 4, 2)).astype("float32") * 3


def _np(x):
  return ops.convert_to_numpy(x)


def test_bernoulli_loss_sums_over_pixels():
  p = 1 / (1 + np.exp(-LOGITS.astype(np.float64)))
  expected = -(IMAGES * np.log(p) + (1 - IMAGES) * np.log(1 - p)).reshape(3, -1).sum(1)
  np.testing.assert_allclose(_np(losses.bernoulli_loss(IMAGES, LOGITS)), expected, rtol=1e-5)


def test_bernoulli_loss_entropy_subtraction_is_zero_at_perfect_reconstruction():
  logits = np.log(IMAGES / (1 - IMAGES))
  out = losses.bernoulli_loss(IMAGES, logits, subtract_true_image_entropy=True)
  np.testing.assert_allclose(_np(out), 0.0, atol=2e-3)


def test_bernoulli_loss_extreme_logits_finite():
  out = _np(losses.bernoulli_loss(np.ones((1, 2, 2, 1), "float32"), np.full((1, 2, 2, 1), -200.0, "float32")))
  np.testing.assert_allclose(out, [800.0], rtol=1e-6)


def test_l2_and_gaussian_losses():
  mean = 1 / (1 + np.exp(-LOGITS.astype(np.float64)))
  sq = ((IMAGES - mean) ** 2).reshape(3, -1).sum(1)
  np.testing.assert_allclose(_np(losses.l2_loss(IMAGES, LOGITS)), sq, rtol=1e-5)
  n = IMAGES[0].size
  expected = 0.5 * sq / 0.25 + n * (math.log(0.5) + 0.5 * math.log(2 * math.pi))
  np.testing.assert_allclose(_np(losses.gaussian_loss(IMAGES, LOGITS, sigma=0.5)), expected, rtol=1e-5)


def test_gaussian_kl_summed_over_latents():
  mean = RS.normal(size=(5, 4)).astype("float32")
  logvar = RS.normal(size=(5, 4)).astype("float32")
  var = np.exp(logvar)
  expected = 0.5 * (mean ** 2 + var - logvar - 1).sum(1)
  np.testing.assert_allclose(_np(losses.gaussian_kl(mean, logvar)), expected, rtol=1e-5)
  assert np.allclose(_np(losses.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3)))), 0)


def test_dip_penalty_and_covariance():
  z = RS.normal(size=(50, 3))
  cov = np.cov(z.T, bias=True)
  np.testing.assert_allclose(_np(losses.covariance(z)), cov, rtol=1e-5, atol=1e-6)
  off = cov - np.diag(np.diag(cov))
  expected = 2.0 * (off ** 2).sum() + 7.0 * ((np.diag(cov) - 1) ** 2).sum()
  np.testing.assert_allclose(_np(losses.dip_penalty(cov, 2.0, 7.0)), expected, rtol=1e-5)


def test_total_correlation_matches_dlib_formula():
  z, mean, logvar = (RS.normal(size=(6, 3)) for _ in range(3))
  log_q = -0.5 * ((z[:, None] - mean[None]) ** 2 * np.exp(-logvar[None]) + logvar[None] + np.log(2 * np.pi))
  from scipy.special import logsumexp
  expected = np.mean(logsumexp(log_q.sum(2), axis=1) - logsumexp(log_q, axis=1).sum(1))
  np.testing.assert_allclose(_np(losses.total_correlation(z, mean, logvar)), expected, rtol=1e-6)


def _encoder_outputs(batch, correlated, seed):
  rs = np.random.RandomState(seed)
  base = rs.normal(size=(batch, 1))
  mean = np.concatenate([base, base + 0.3 * rs.normal(size=(batch, 1)), rs.normal(size=(batch, 2))], 1) if correlated \
      else rs.normal(size=(batch, 4))
  logvar = np.full((batch, 4), np.log(0.05))
  z = mean + np.exp(logvar / 2) * rs.normal(size=(batch, 4))
  return z.astype("float64"), mean, logvar


@pytest.mark.parametrize("correlated", [True, False])
def test_kl_decomposition_sums_to_kl_on_a_large_batch(correlated):
  z, mean, logvar = _encoder_outputs(4000, correlated, seed=1)
  terms = {k: float(_np(v)) for k, v in losses.kl_decomposition(z, mean, logvar).items()}
  kl = float(np.mean(_np(losses.gaussian_kl(mean, logvar))))
  assert sum(terms.values()) == pytest.approx(kl, rel=0.03)
  assert terms["total_correlation"] >= 0.0
  assert terms["mutual_information"] >= 0.0


def test_total_correlation_larger_for_dependent_codes():
  tc = lambda corr: float(_np(losses.kl_decomposition(*_encoder_outputs(2000, corr, seed=2))["total_correlation"]))
  assert tc(True) > tc(False) + 0.5
