"""The GroundTruthData protocol of disentanglement_lib.

A ground-truth data set exposes discrete factors of variation and observations rendered
from them. dlib's metrics draw every random number through the `random_state` they are
given, in a fixed call order; keeping that order is what makes our scores equal dlib's.
"""

from __future__ import annotations

import numpy as np


class GroundTruthData:
  """Abstract ground-truth data set with dlib's interface.

  Subclasses implement `num_factors`, `factors_num_values`, `observation_shape`,
  `sample_factors` and `sample_observations_from_factors`. Observations are float32
  NHWC images with values in [0, 1].
  """

  #: Indices of the latent factors whose values are unordered categories (dSprites' shape),
  #: which probes classify rather than regress (DCI-ES); the others are ordinal.
  categorical_factors: tuple = ()

  @property
  def num_factors(self) -> int:
    """Number of latent (observed by the metrics) factors of variation."""
    raise NotImplementedError()

  @property
  def factors_num_values(self) -> list[int]:
    """Number of classes of each latent factor, in factor order."""
    raise NotImplementedError()

  @property
  def observation_shape(self) -> list[int]:
    """Shape of one observation, [height, width, channels]."""
    raise NotImplementedError()

  def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
    """Samples a batch of latent factor class indices, int64 (num, num_factors)."""
    raise NotImplementedError()

  def sample_observations_from_factors(self, factors: np.ndarray,
                                       random_state: np.random.RandomState) -> np.ndarray:
    """Renders one observation per row of `factors`; hidden factors are drawn from `random_state`."""
    raise NotImplementedError()

  def sample(self, num: int, random_state: np.random.RandomState):
    """Samples `num` factors and their observations: returns (factors, observations)."""
    factors = self.sample_factors(num, random_state)
    return factors, self.sample_observations_from_factors(factors, random_state)

  def sample_observations(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
    """Samples `num` observations (float32 NHWC in [0, 1])."""
    return self.sample(num, random_state)[1]

  # Optional: data sets whose observation is a deterministic function of the full factor
  # vector ("atom") implement these, which lets metrics encode every atom once
  # (`dynvae_keras.evaluation.tabulated`).
  num_atoms: int | None = None

  def sample_atom_indices(self, factors, random_state):
    """Atom index (N,) of each row of `factors`, drawing hidden factors exactly as
    `sample_observations_from_factors` does."""
    raise NotImplementedError(f"{type(self).__name__} has no deterministic atom table.")

  def observations_for_atoms(self, atoms):
    """Observations (N, H, W, C) float32 of atom indices (N,)."""
    raise NotImplementedError(f"{type(self).__name__} has no deterministic atom table.")

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(factors_num_values={list(self.factors_num_values)}, "
            f"observation_shape={list(self.observation_shape)})")
