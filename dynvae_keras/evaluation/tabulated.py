"""Encode every observation of a data set once, then let the metrics look codes up.

dlib's metrics sample millions of observations (the β-VAE metric alone draws 1.92M images
with the study parameters), most of them repeats of the 737,280 dSprites images. When the
observation is a deterministic function of the full factor vector (the data set implements
`sample_atom_indices` / `observations_for_atoms`) and the representation is deterministic
(e.g. the mean representation), :func:`tabulate` renders and encodes every atom once and
returns a data view plus a lookup representation with which every metric draws the same
random numbers and returns the same scores as with the original pair, without re-rendering
or re-encoding anything.

Do not tabulate a *sampled* representation: it draws noise per call and would be frozen.
"""

from __future__ import annotations

import os

import numpy as np

from dynvae_keras import atomic
from dynvae_keras.data.ground_truth_data import GroundTruthData
from dynvae_keras.evaluation.metrics import utils


def supports_tabulation(ground_truth_data) -> bool:
  """True when the data set can enumerate its observations (see module docstring)."""
  return getattr(ground_truth_data, "num_atoms", None) is not None


class AtomIndexData(GroundTruthData):
  """A view of a data set whose 'observations' are atom indices (N, 1) int64, sampled identically."""

  def __init__(self, data):
    self.data = data

  @property
  def num_factors(self):
    return self.data.num_factors

  @property
  def factors_num_values(self):
    return self.data.factors_num_values

  @property
  def categorical_factors(self):
    return getattr(self.data, "categorical_factors", ())

  @property
  def observation_shape(self):
    return [1]

  def sample_factors(self, num, random_state):
    return self.data.sample_factors(num, random_state)

  def sample_observations_from_factors(self, factors, random_state):
    return np.asarray(self.data.sample_atom_indices(factors, random_state), dtype=np.int64)[:, None]


def encode_all_atoms(ground_truth_data, representation_function, batch_size=utils.ENCODE_BATCH):
  """Codes (num_atoms, D) of every observation of the data set, in atom order."""
  if not supports_tabulation(ground_truth_data):
    raise ValueError(f"{ground_truth_data!r} does not render deterministically from its factors; "
                     f"it cannot be tabulated (use the representation directly).")
  num_atoms = int(ground_truth_data.num_atoms)
  chunks = []
  for start in range(0, num_atoms, batch_size):
    atoms = np.arange(start, min(start + batch_size, num_atoms))
    chunks.append(utils.encode(representation_function, ground_truth_data.observations_for_atoms(atoms),
                               encode_batch=batch_size))
  return np.concatenate(chunks, axis=0)


def tabulate(ground_truth_data, representation_function, codes=None):
  """Returns (data view, lookup representation) equivalent to (ground_truth_data, representation_function).

  Args:
    ground_truth_data: a data set with `num_atoms` (plain dSprites, Shapes3D, MPI3D, ...).
    representation_function: a deterministic representation.
    codes: precomputed `encode_all_atoms` output (e.g. cached on disk); computed when None.
  """
  table = encode_all_atoms(ground_truth_data, representation_function) if codes is None else np.asarray(codes)
  if len(table) != ground_truth_data.num_atoms:
    raise ValueError(f"code table has {len(table)} rows for {ground_truth_data.num_atoms} atoms.")

  def lookup(atoms):
    return table[np.asarray(atoms)[:, 0]]

  return AtomIndexData(ground_truth_data), lookup


def cached_tabulate(cache_path, ground_truth_data, representation_function):
  """`tabulate` with the code table kept in `cache_path` (.npy): computed and written atomically
  on the first call, read on later ones (e.g. by the other metrics of a study)."""
  if os.path.isfile(cache_path):
    return tabulate(ground_truth_data, representation_function, codes=np.load(cache_path))
  codes = encode_all_atoms(ground_truth_data, representation_function)
  os.makedirs(os.path.dirname(cache_path) or ".", exist_ok=True)
  with atomic.atomic_file(cache_path) as tmp, open(tmp, "wb") as f:
    np.save(f, codes)
  return tabulate(ground_truth_data, representation_function, codes=codes)
