"""A ground-truth data set backed by an image array indexed by full factor vectors.

The file-backed dlib data sets (Shapes3D, SmallNORB, Cars3D, MPI3D) and user arrays share
this: latent factors are sampled dlib-style, hidden factors are completed from the random
state, and the image row is found through a :class:`StateSpaceAtomIndex` (any stored order)
or the C-order bases (official order).
"""

from __future__ import annotations

import numpy as np

from dynvae_keras.data.ground_truth_data import GroundTruthData
from dynvae_keras.data.state_space import SplitDiscreteStateSpace, StateSpaceAtomIndex


class IndexedImageData(GroundTruthData):
  """Images (N, H, W, C) — uint8 (scaled by 1/255) or float in [0, 1] — with discrete factors.

  Args:
    images: the stored images, one per factor combination.
    factor_sizes: classes of every factor (latent and hidden).
    latent_factor_indices: which factors the metrics see.
    features: optional int (N, num_factors) factor classes of each stored row; when None the
      rows are in C order over `factor_sizes`.
    source: a description of where the images came from (logged and kept as `.source`).
  """

  def __init__(self, images, factor_sizes, latent_factor_indices, features=None, source=""):
    self.images = images
    self.factor_sizes = [int(s) for s in factor_sizes]
    self.latent_factor_indices = list(latent_factor_indices)
    self.state_space = SplitDiscreteStateSpace(self.factor_sizes, self.latent_factor_indices)
    self.source = source
    num_atoms = int(np.prod(self.factor_sizes))
    if len(images) != num_atoms:
      raise ValueError(
          f"{source or 'images'}: {len(images)} images for {num_atoms} factor combinations "
          f"{self.factor_sizes}; every combination must have exactly one image.")
    if features is None:
      self._index = None
      self._bases = num_atoms // np.cumprod(self.factor_sizes)
    else:
      self._index = StateSpaceAtomIndex(self.factor_sizes, features)

  @property
  def num_factors(self):
    return self.state_space.num_latent_factors

  @property
  def factors_num_values(self):
    return [self.factor_sizes[i] for i in self.latent_factor_indices]

  @property
  def observation_shape(self):
    return list(self.images.shape[1:])

  def sample_factors(self, num, random_state):
    return self.state_space.sample_latent_factors(num, random_state)

  def sample_observations_from_factors(self, factors, random_state):
    return self.observations_for_atoms(self.sample_atom_indices(factors, random_state))

  @property
  def num_atoms(self):
    return len(self.images)

  def sample_atom_indices(self, factors, random_state):
    """Stored-row indices (N,) of the factors completed with freshly drawn hidden factors."""
    all_factors = self.state_space.sample_all_factors(factors, random_state)
    if self._index is None:
      return all_factors @ self._bases
    return self._index.features_to_index(all_factors)

  def observations_for_atoms(self, atoms):
    images = self.images[np.asarray(atoms, dtype=np.int64)]
    if images.dtype == np.uint8:
      return images.astype(np.float32) / np.float32(255.0)
    return images.astype(np.float32)
