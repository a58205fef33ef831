"""`Rectangles`: a two-factor procedural data set on which a β-VAE disentangles in seconds.

A centred white rectangle on black, with anti-aliased edges; its width and height are the
factors. It exists to check that a model learns factors at all (the library's learning test,
`dynvae train` smoke runs), at a cost of seconds on a CPU, where dSprites needs hours.

Three properties make it learnable quickly, each the fix of a way smaller toys fail:

* **Continuous factors.** Each factor has `num_values` classes for the metrics, but an image
  draws its width (height) uniformly inside its class's interval, as a hidden within-class
  offset: training sees a continuum, so a decoder cannot pass by memorising a few hundred
  images as a lookup table.
* **Monotone effects.** Growing a side adds pixels and never moves any; a translated object,
  by contrast, traces a curve whose principal components are sine/cosine pairs of its
  position, which a VAE tends to encode with two latents, and translations of an isotropic
  blob are equally well coded by any rotation of (x, y).
* **Unequal importance.** The half-width spans 0.10–0.45 of the side, the half-height
  0.20–0.35: the factors change the image by different amounts, so the axes of a diagonal
  Gaussian posterior have a preferred orientation (two equally important factors leave every
  rotation of their code equally good, and a VAE mixes them).
"""

from __future__ import annotations

import numpy as np

from dynvae_keras.data.ground_truth_data import GroundTruthData

#: Half-width and half-height ranges, as fractions of the image side.
HALF_SIDE_RANGES = ((0.10, 0.45), (0.20, 0.35))


class Rectangles(GroundTruthData):
  """A centred anti-aliased rectangle; factors (width class, height class).

  Args:
    size: image side in pixels (square, one channel).
    num_values: classes per factor. Class k of a factor covers the k-th of `num_values`
      equal intervals of its range; the exact side is drawn uniformly inside it.
    half_side_ranges: ((low, high) of the half-width, (low, high) of the half-height), as
      fractions of the side, within (0, 0.5]; default `HALF_SIDE_RANGES`.

  Observations are float32 (N, size, size, 1) in [0, 1]; the edge pixels hold the covered
  fraction of each pixel along that axis.
  """

  def __init__(self, size=32, num_values=8, half_side_ranges=HALF_SIDE_RANGES):
    if int(size) < 8:
      raise ValueError(f"Rectangles needs size >= 8 pixels; got {size}.")
    if int(num_values) < 2:
      raise ValueError(f"Rectangles needs num_values >= 2 classes per factor; got {num_values}.")
    ranges = np.asarray(half_side_ranges, dtype=np.float64)
    if ranges.shape != (2, 2) or not np.all((0 < ranges) & (ranges <= 0.5)) or np.any(ranges[:, 0] >= ranges[:, 1]):
      raise ValueError("half_side_ranges must be ((low, high), (low, high)) with 0 < low < high <= 0.5 "
                       f"(fractions of the side); got {half_side_ranges}.")
    self.size, self.num_values, self.half_side_ranges = int(size), int(num_values), ranges
    self.source = (f"procedural rectangles {self.size}x{self.size}, {self.num_values} classes per factor, "
                   f"half-sides {ranges.tolist()}")
    self.factor_names = ["width", "height"]

  @property
  def num_factors(self):
    return 2

  @property
  def factors_num_values(self):
    return [self.num_values, self.num_values]

  @property
  def observation_shape(self):
    return [self.size, self.size, 1]

  def sample_factors(self, num, random_state):
    return random_state.randint(self.num_values, size=(num, 2))

  def sample_observations_from_factors(self, factors, random_state):
    factors = np.asarray(factors)
    fraction = (factors + random_state.random_sample(factors.shape)) / self.num_values
    ranges = self.half_side_ranges
    half = (ranges[:, 0] + (ranges[:, 1] - ranges[:, 0]) * fraction) * self.size  # (N, 2) px
    distance = np.abs(np.arange(self.size) + 0.5 - self.size / 2)  # pixel centre to image centre
    # Coverage of each pixel along one axis: 1 inside, 0 outside, linear across the edge pixel.
    cover = np.clip(half[:, :, None] - distance[None, None, :] + 0.5, 0.0, 1.0)  # (N, 2, size)
    images = cover[:, 1, :, None] * cover[:, 0, None, :]  # rows: height, columns: width
    return images[..., None].astype(np.float32)
