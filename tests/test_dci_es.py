"""DCI-ES: hand-computed explicitness, the semantics of each score on the toy data of the dlib
metric tests, reproducibility, categorical factors and the packaged gin config."""

import numpy as np
import pytest

from dynvae_keras.evaluation import metrics
from dynvae_keras.evaluation.metrics import dci_es
from toy_data import SIZES, ToyData, identity, mixing

SMALL = dict(num_train=1000, num_test=500, capacities=(1, 2, 4, 8), num_trees=10)


def _score(code, seed=0, **params):
  return dci_es.compute_dci_es(ToyData(), code, np.random.RandomState(seed), **{**SMALL, **params})


def test_explicitness_by_hand():
  # Running minimum [0.5, 0.2, 0.2]; area above 0.2: trapezoid 0.5·(0.3 + 0)·1 = 0.15;
  # E = 1 − 2·0.15 / ((4 − 1)·1) = 0.9.
  assert dci_es.explicitness([1, 2, 4], [0.5, 0.2, 0.3], 1.0) == pytest.approx(0.9)
  # A baseline of 2/3 (a three-class factor) scales the normaliser: 1 − 2·0.15 / (3·2/3) = 0.85.
  assert dci_es.explicitness([1, 2, 4], [0.5, 0.2, 0.3], 2 / 3) == pytest.approx(0.85)
  # Falling linearly from the baseline to 0 over the range scores 0; at the best loss from the
  # smallest probe on, 1 (whatever that loss: the level is informativeness, not explicitness).
  assert dci_es.explicitness([0, 1, 2, 3], [1.0, 2 / 3, 1 / 3, 0.0], 1.0) == pytest.approx(0.0)
  assert dci_es.explicitness([1, 8, 32], [0.4, 0.4, 0.4], 1.0) == pytest.approx(1.0)
  # Above ℓ* = 0 instead: 1 − 2·(0.4·31) / (31·1) = 0.2.
  assert dci_es.explicitness([1, 8, 32], [0.4, 0.4, 0.4], 1.0, lowest_loss=0.0) == pytest.approx(0.2)


def test_identity_code_is_at_the_top_of_every_scale():
  scores = _score(identity)
  assert scores["informativeness"] > 0.99
  assert scores["disentanglement"] > 0.95 and scores["completeness"] > 0.95
  assert scores["explicitness"] > 0.8
  assert scores["size"] == 1.0  # five code dimensions for five factors


def test_mixed_code_loses_disentanglement_completeness_and_explicitness():
  identity_scores, mixed = _score(identity), _score(mixing)
  assert mixed["disentanglement"] < identity_scores["disentanglement"] - 0.3
  assert mixed["completeness"] < identity_scores["completeness"] - 0.3
  # Axis-aligned trees need more depth to cut a rotated code: the curve falls later.
  assert mixed["explicitness"] < identity_scores["explicitness"] - 0.1


def test_uninformative_code_has_no_informativeness_and_its_flat_curves_score_as_defined():
  noise = lambda x: np.random.RandomState(7).normal(size=(len(x), 5))
  scores = _score(noise)
  assert scores["informativeness"] < 0.1
  assert scores["disentanglement"] < 0.3 and scores["completeness"] < 0.4
  # Flat curves: at their own minimum from the smallest probe on (the authors' definition) ...
  assert scores["explicitness"] == pytest.approx(1.0)
  # ... and about 2·(1·range)/range above a zero floor: E ≈ −1.
  assert _score(noise, lowest_loss=0.0)["explicitness"] < -0.9
  assert _score(identity, lowest_loss=0.0)["explicitness"] > 0.8


def test_a_dropped_factor_costs_its_share_of_informativeness_and_size_counts_dimensions():
  dropped = _score(lambda x: np.delete(identity(x), 2, axis=1))
  assert 0.75 < dropped["informativeness"] < 0.82  # four of five factors predictable
  assert dropped["size"] == pytest.approx(5 / 4)
  padded = _score(lambda x: np.concatenate([identity(x), np.zeros((len(x), 5))], axis=1))
  assert padded["size"] == pytest.approx(0.5)


def test_categorical_factors_are_classified_with_a_chance_baseline(monkeypatch):
  fitted = []
  original = dci_es.ensemble.RandomForestClassifier

  class Recording(original):
    def fit(self, x, y, *args, **kwargs):
      fitted.append(len(np.unique(y)))
      return super().fit(x, y, *args, **kwargs)

  monkeypatch.setattr(dci_es.ensemble, "RandomForestClassifier", Recording)
  scores = _score(identity, categorical_factors=[0])
  assert fitted == [SIZES[0]] * len(SMALL["capacities"])  # factor 0 only, once per capacity
  assert scores["informativeness"] > 0.99  # accuracy 1 on the categorical factor
  with pytest.raises(ValueError, match="categorical_factors"):
    _score(identity, categorical_factors=[7])


def test_scores_are_reproducible_and_follow_the_seed():
  assert _score(mixing, seed=3) == _score(mixing, seed=3)
  assert _score(mixing, seed=3) != _score(mixing, seed=4)


def test_rejects_capacities_that_do_not_increase_and_unknown_floors():
  with pytest.raises(ValueError, match="capacities"):
    _score(identity, capacities=(4, 2))
  with pytest.raises(ValueError, match="lowest_loss"):
    dci_es.explicitness([1, 2], [0.5, 0.4], 1.0, lowest_loss="zero")


def test_registered_with_its_gin_name_and_packaged_config():
  assert metrics.METRICS["dci_es"] is dci_es.compute_dci_es
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  with open(gin_utils.resolve_config_path("metric/dci_es.gin"), encoding="utf-8") as f:
    assert "evaluation.evaluation_fn = @dci_es" in f.read()


def test_dsprites_shape_is_categorical():
  from dynvae_keras.data import DSprites  # pylint: disable=g-import-not-at-top
  data = DSprites([1, 2, 3, 4, 5], source="procedural")
  assert data.categorical_factors == (0,)
  assert DSprites(source="procedural").categorical_factors == (1,)  # color first when latent


def test_scores_do_not_depend_on_the_number_of_jobs():
  # Parallel prediction would sum the trees in completion order (last-bit differences).
  runs = [_score(mixing, n_jobs=n_jobs, num_trees=20) for n_jobs in (1, 2, 2, -1)]
  assert all(run == runs[0] for run in runs)
