"""The toy ground-truth data and codes of ../shared/reference/README.md."""

import numpy as np

from dynvae_keras.data import GroundTruthData

SIZES = [3, 6, 10, 8, 8]
OFFSETS = np.cumsum([0] + SIZES[:-1])


class ToyData(GroundTruthData):
  """Five discrete factors; observations are concatenated one-hot vectors (reference README)."""

  num_factors = 5
  factors_num_values = SIZES
  observation_shape = [35]

  def sample_factors(self, num, random_state):
    factors = np.zeros((num, 5), dtype=np.int64)
    for i, size in enumerate(SIZES):
      factors[:, i] = random_state.randint(size, size=num)
    return factors

  def sample_observations_from_factors(self, factors, random_state):
    out = np.zeros((len(factors), 35), dtype=np.float32)
    for i in range(5):
      out[np.arange(len(factors)), OFFSETS[i] + factors[:, i]] = 1.0
    return out


def identity(x):
  return np.stack([np.argmax(x[:, o:o + s], axis=1) / max(s - 1, 1) for o, s in zip(OFFSETS, SIZES)],
                  axis=1).astype(np.float32)


Q, _ = np.linalg.qr(np.random.RandomState(1234).normal(size=(5, 5)))


def mixing(x):
  return identity(x) @ Q
