"""dlib's `DummyData`: random noise images with 10 factors of 5 values, for tests."""

from __future__ import annotations

from dynvae_keras.data.ground_truth_data import GroundTruthData


class DummyData(GroundTruthData):
  """Uniform-noise 64×64×1 images; 10 factors of 5 values drawn in one `randint` call (as dlib)."""

  @property
  def num_factors(self):
    return 10

  @property
  def factors_num_values(self):
    return [5] * 10

  @property
  def observation_shape(self):
    return [64, 64, 1]

  def sample_factors(self, num, random_state):
    return random_state.randint(5, size=(num, self.num_factors))

  def sample_observations_from_factors(self, factors, random_state):
    return random_state.random_sample(size=(factors.shape[0], 64, 64, 1)).astype("float32")
