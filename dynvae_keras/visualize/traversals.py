"""Latent traversals in dlib's styles: values along one latent while the others stay fixed.

* ``std_gaussian``: quantiles of N(0, 1), the prior;
* ``fitted_gaussian``: quantiles of N(μ_i, σ_i) fitted to the encoded means of latent i over a
  sample of observations (dlib's "fitted Gaussian cumulative distribution traversal");
* ``interval``: evenly spaced between the 2nd and 98th percentile of latent i's means.

Each style cycles the latent from the base code's own value out to one tail, back through the
other and home again, so the GIF loops smoothly.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

STYLES = ("std_gaussian", "fitted_gaussian", "interval")


def cycle_probabilities(start_probability, num_frames):
  """Probabilities from `start` up to 0.999, down to 0.001 and back to `start` (a triangle wave)."""
  phase = np.linspace(0.0, 2.0, num_frames, endpoint=False) + start_probability
  phase = np.mod(phase, 2.0)
  wave = np.where(phase <= 1.0, phase, 2.0 - phase)
  return np.clip(wave, 0.001, 0.999)


def traversal_values(style, base_value, means, num_frames):
  """Values of one latent for the frames of a traversal.

  Args:
    style: one of STYLES.
    base_value: the latent's value in the base code.
    means: encoded means of this latent over a sample of observations (fitted styles).
    num_frames: frames per loop.
  """
  if style == "std_gaussian":
    return stats.norm.ppf(cycle_probabilities(stats.norm.cdf(base_value), num_frames))
  if style == "fitted_gaussian":
    loc, scale = float(np.mean(means)), float(np.std(means)) + 1e-6
    return stats.norm.ppf(cycle_probabilities(stats.norm.cdf(base_value, loc, scale), num_frames), loc, scale)
  if style == "interval":
    low, high = np.percentile(means, [2, 98])
    start = float(np.clip((base_value - low) / max(high - low, 1e-6), 0, 1))
    return low + (high - low) * cycle_probabilities(start, num_frames)
  raise ValueError(f"Unknown traversal style '{style}'; use one of {STYLES}.")


def traversal_codes(base_code, latent, values):
  """(len(values), D) codes equal to `base_code` except latent `latent` set to each value."""
  codes = np.repeat(np.asarray(base_code, np.float32)[None], len(values), axis=0)
  codes[:, latent] = values
  return codes
