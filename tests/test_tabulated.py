"""Tabulated codes: every metric scores identically with the code table as with the encoder."""

import numpy as np
import pytest

from dynvae_keras import data
from dynvae_keras.evaluation import metrics, tabulated

SMALL = {
    "mig": dict(num_train=300), "dci": dict(num_train=300, num_test=100),
    "sap_score": dict(num_train=300, num_test=100),
    "modularity_explicitness": dict(num_train=300, num_test=100), "irs": dict(num_train=300),
    "beta_vae_sklearn": dict(num_train=60, num_eval=30, batch_size=8),
    "factor_vae_score": dict(num_train=60, num_eval=30, num_variance_estimate=200, batch_size=8),
    "unsupervised_metrics": dict(num_train=300),
}


def _grid_data():
  rs = np.random.RandomState(0)
  labels = np.array([(a, b, c) for a in range(3) for b in range(4) for c in range(5)])
  order = rs.permutation(len(labels))
  images = rs.randint(0, 256, size=(60, 8, 8, 1)).astype(np.uint8)
  projection = np.random.RandomState(1).normal(size=(64, 4))

  def representation(x):
    return (x.reshape(len(x), -1) @ projection).astype(np.float32)

  return data.ArrayGroundTruthData(images[order], labels[order]), representation


@pytest.mark.parametrize("name", sorted(SMALL))
def test_scores_identical_with_tabulated_codes(name):
  ground_truth, representation = _grid_data()
  view, lookup = tabulated.tabulate(ground_truth, representation)
  np.random.seed(0)
  direct = metrics.METRICS[name](ground_truth, representation, np.random.RandomState(0), **SMALL[name])
  np.random.seed(0)
  looked_up = metrics.METRICS[name](view, lookup, np.random.RandomState(0), **SMALL[name])
  assert looked_up == direct


def test_dsprites_atoms_match_sampled_observations(data_root):
  ds = data.get_named_ground_truth_data("dsprites_noshape")  # shape is a hidden factor
  factors = ds.sample_factors(20, np.random.RandomState(0))
  observations = ds.sample_observations_from_factors(factors, np.random.RandomState(4))
  atoms = ds.sample_atom_indices(factors, np.random.RandomState(4))
  np.testing.assert_array_equal(ds.observations_for_atoms(atoms), observations)
  assert ds.num_atoms == 737280


def test_stochastic_variants_cannot_be_tabulated(data_root):
  noisy = data.get_named_ground_truth_data("noisy_dsprites")
  assert not tabulated.supports_tabulation(noisy)
  with pytest.raises(ValueError, match="cannot be tabulated"):
    tabulated.tabulate(noisy, lambda x: x.reshape(len(x), -1)[:, :3])
