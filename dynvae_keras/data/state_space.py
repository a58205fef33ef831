"""Discrete factor state spaces (dlib's `SplitDiscreteStateSpace` and `StateSpaceAtomIndex`)."""

from __future__ import annotations

import numpy as np


class SplitDiscreteStateSpace:
  """Factors split into latent ones (seen by metrics) and hidden ones (drawn at render time).

  Sampling draws `random_state.randint(size, size=num)` for each latent factor in order;
  completing a latent sample draws each hidden factor the same way, in index order.

  Args:
    factor_sizes: number of classes of every factor, latent and hidden.
    latent_factor_indices: indices (into `factor_sizes`) of the latent factors.
  """

  def __init__(self, factor_sizes, latent_factor_indices):
    self.factor_sizes = [int(s) for s in factor_sizes]
    self.num_factors = len(self.factor_sizes)
    self.latent_factor_indices = [int(i) for i in latent_factor_indices]
    bad = [i for i in self.latent_factor_indices if not 0 <= i < self.num_factors]
    if bad:
      raise ValueError(f"latent factor indices {bad} out of range for {self.num_factors} factors.")
    self.observation_factor_indices = [
        i for i in range(self.num_factors) if i not in self.latent_factor_indices]

  @property
  def num_latent_factors(self) -> int:
    return len(self.latent_factor_indices)

  def sample_latent_factors(self, num, random_state):
    """Samples latent factor classes, int64 (num, num_latent_factors)."""
    factors = np.zeros((num, self.num_latent_factors), dtype=np.int64)
    for pos, i in enumerate(self.latent_factor_indices):
      factors[:, pos] = random_state.randint(self.factor_sizes[i], size=num)
    return factors

  def sample_all_factors(self, latent_factors, random_state):
    """Completes latent factor classes with freshly drawn hidden ones, int64 (num, num_factors)."""
    latent_factors = np.asarray(latent_factors)
    if latent_factors.ndim != 2 or latent_factors.shape[1] != self.num_latent_factors:
      raise ValueError(
          f"factors must have shape (N, {self.num_latent_factors}); got {latent_factors.shape}.")
    num = latent_factors.shape[0]
    all_factors = np.zeros((num, self.num_factors), dtype=np.int64)
    all_factors[:, self.latent_factor_indices] = latent_factors
    for i in self.observation_factor_indices:
      all_factors[:, i] = random_state.randint(self.factor_sizes[i], size=num)
    return all_factors


class StateSpaceAtomIndex:
  """Maps full factor class vectors to row indices of a data array stored in any order.

  Args:
    factor_sizes: number of classes of every factor.
    features: int array (num_rows, num_factors): the factor classes of each stored row. Must
      cover every factor combination exactly once.
  """

  def __init__(self, factor_sizes, features):
    self.factor_sizes = np.asarray(factor_sizes, dtype=np.int64)
    num_atoms = int(np.prod(self.factor_sizes))
    self.factor_bases = num_atoms // np.cumprod(self.factor_sizes)
    state_index = self._state_space_index(np.asarray(features))
    if state_index.size != num_atoms or np.unique(state_index).size != num_atoms:
      raise ValueError(
          f"The factor labels do not cover the state space {list(self.factor_sizes)} exactly "
          f"once ({np.unique(state_index).size} distinct of {num_atoms} combinations, "
          f"{state_index.size} rows).")
    self._lookup = np.zeros(num_atoms, dtype=np.int64)
    self._lookup[state_index] = np.arange(num_atoms)

  def features_to_index(self, features):
    """Row indices (N,) of the stored observations with these factor classes (N, num_factors)."""
    return self._lookup[self._state_space_index(np.asarray(features))]

  def _state_space_index(self, features):
    if features.ndim != 2 or features.shape[1] != len(self.factor_sizes):
      raise ValueError(f"features must have shape (N, {len(self.factor_sizes)}); got {features.shape}.")
    if np.any(features >= self.factor_sizes[None, :]) or np.any(features < 0):
      raise ValueError(f"Factor classes must lie in [0, size-1] for sizes {list(self.factor_sizes)}.")
    return features.astype(np.int64) @ self.factor_bases
