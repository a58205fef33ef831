"""InfoMEC (InfoM, InfoC, InfoE): hand-computed values, the semantics of each score on the toy
data of the dlib metric tests, reproducibility and the packaged gin config."""

import numpy as np
import pytest

from dynvae_keras import gin_utils
from dynvae_keras.evaluation import metrics
from dynvae_keras.evaluation.metrics import infomec
from toy_data import ToyData, identity, mixing


def _score(code, num_train=2000, seed=0):
  return infomec.compute_infomec(ToyData(), code, np.random.RandomState(seed), num_train=num_train)


def test_information_ratios_by_hand():
  # Latent 0 informs source 0 only; latent 1 informs source 1 (0.6) and a little source 0 (0.2).
  nmi = np.array([[0.8, 0.2], [0.0, 0.6]])
  infom, infoc = infomec.information_ratios(nmi, np.array([True, True]))
  # InfoM: latents' max/sum 1 and 0.75, mean 0.875, rescaled from [1/2, 1]: 0.75.
  # InfoC: sources' max/sum 0.8 and 1, mean 0.9, rescaled from [1/2, 1]: 0.8.
  assert infom == pytest.approx(0.75) and infoc == pytest.approx(0.8)
  # An inactive latent is left out of both: only latent 0 against 2 sources.
  infom, infoc = infomec.information_ratios(np.array([[0.8, 0.5, 0.1], [0.1, 0.5, 0.6]]),
                                            np.array([True, False, True]))
  assert infom == pytest.approx(((0.8 / 0.9 + 0.6 / 0.7) / 2 - 0.5) / 0.5)
  assert infoc == pytest.approx(((0.8 / 0.9 + 0.6 / 0.7) / 2 - 0.5) / 0.5)


def test_explicitness_by_hand():
  labels = np.repeat([0, 1, 2], 50)
  perfect = np.eye(3)[labels] * 10.0  # one-hot columns separate the classes exactly
  assert infomec.explicitness(perfect, labels[:, None]) == pytest.approx(1.0, abs=1e-3)
  useless = np.random.RandomState(0).normal(size=(150, 3))
  assert abs(infomec.explicitness(useless, labels[:, None])) < 0.05


def test_identity_code_is_at_the_top_of_every_scale():
  scores = _score(identity)
  assert scores["infom"] > 0.95 and scores["infoc"] > 0.95 and scores["infoe"] > 0.99
  assert scores["num_active_latents"] == 5


def test_mixed_code_keeps_explicitness_and_loses_modularity_and_compactness():
  identity_scores, mixed = _score(identity), _score(mixing)
  assert mixed["infoe"] > 0.99  # a rotation loses no linearly decodable information
  assert mixed["infom"] < identity_scores["infom"] - 0.3
  assert mixed["infoc"] < identity_scores["infoc"] - 0.3


def test_uninformative_code_has_no_explicitness():
  noise = lambda x: np.random.RandomState(7).normal(size=(len(x), 5))
  assert _score(noise)["infoe"] < 0.05


def test_a_dropped_factor_costs_its_share_of_explicitness_and_constant_latents_are_inactive():
  dropped = _score(lambda x: np.delete(identity(x), 2, axis=1))
  assert dropped["num_active_latents"] == 4
  assert 0.75 < dropped["infoe"] < 0.85  # four of five sources predictable
  padded = _score(lambda x: np.concatenate([identity(x), np.zeros((len(x), 3))], axis=1))
  assert padded["num_active_latents"] == 5 and padded["infom"] > 0.95


def test_reproducible_for_a_seed():
  assert _score(mixing, num_train=500, seed=3) == _score(mixing, num_train=500, seed=3)


def test_packaged_config_and_registry():
  gin_utils.parse(["metric/infomec.gin"])
  assert metrics.METRICS["infomec"] is metrics.compute_infomec
