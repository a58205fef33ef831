"""KL set-point schedules C(t): pure functions of the training step t (counted from 1).

Each schedule evaluates on Python/numpy numbers (for plots) and on backend tensors inside a
compiled training step, through the same formula. Schedules are Keras-serialisable so that
controllers holding them save and reload with the model.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _ops_for(t):
  return np if isinstance(t, (int, float, np.ndarray, np.generic)) else ops


class SetPoint:
  """Base class: `schedule(t)` returns C(t) for step t ≥ 1 (float or tensor)."""

  def __call__(self, t):
    return self.formula(t, _ops_for(t))

  def formula(self, t, xp):
    raise NotImplementedError

  def values(self, steps):
    """C(t) for an array of steps, as float64 numpy (for plots)."""
    return np.asarray(self.formula(np.asarray(steps, dtype=np.float64), np), dtype=np.float64)

  def get_config(self):
    return dict(self._config)

  @classmethod
  def from_config(cls, config):
    return cls(**config)

  def __repr__(self):
    args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
    return f"{type(self).__name__}({args})"


def _require(condition, message):
  if not condition:
    raise ValueError(message)


@keras.saving.register_keras_serializable(package="dynvae_keras")
class ConstantSetPoint(SetPoint):
  """C(t) = value."""

  def __init__(self, value):
    self.value = float(value)
    self._config = {"value": self.value}

  def formula(self, t, xp):
    return xp.zeros_like(t * 1.0) + self.value


@keras.saving.register_keras_serializable(package="dynvae_keras")
class StaircaseSetPoint(SetPoint):
  """ControlVAE: C(t) = min(maximum, start + step·floor(t / every)); first rise at t = every.

  Args:
    start: C at t < every (nats).
    step: increment per stair (nats).
    every: steps per stair.
    maximum: cap (C_max).
  """

  def __init__(self, start=0.5, step=0.15, every=5000, maximum=18.0):
    _require(int(every) > 0, f"every must be > 0; got {every}.")
    _require(float(maximum) >= float(start), f"maximum ({maximum}) must be >= start ({start}).")
    self.start, self.step, self.every, self.maximum = float(start), float(step), int(every), float(maximum)
    self._config = {"start": self.start, "step": self.step, "every": self.every, "maximum": self.maximum}

  def formula(self, t, xp):
    return xp.minimum(self.maximum, self.start + self.step * xp.floor(t / self.every))


@keras.saving.register_keras_serializable(package="dynvae_keras")
class HybridAnnealingSetPoint(SetPoint):
  """DynamicVAE hybrid step + ramp: from step N on, C rises by s/M per step during the first M steps of every N-step window.

  C(t) = start for t < N, else min(maximum, start + s·(k−1) + s·min(r+1, M)/M) with t = kN + r.

  Args:
    start: initial C (nats).
    step: rise per window, s (nats).
    period: window length N (steps).
    ramp: ramp length M ≤ N (steps).
    maximum: cap C_max.
  """

  def __init__(self, start=0.5, step=0.15, period=6000, ramp=1000, maximum=20.0):
    _require(int(period) > 0 and int(ramp) > 0, f"period and ramp must be > 0; got {period}, {ramp}.")
    _require(int(ramp) <= int(period), f"ramp ({ramp}) must not exceed period ({period}).")
    _require(float(maximum) >= float(start), f"maximum ({maximum}) must be >= start ({start}).")
    self.start, self.step = float(start), float(step)
    self.period, self.ramp, self.maximum = int(period), int(ramp), float(maximum)
    self._config = {"start": self.start, "step": self.step, "period": self.period, "ramp": self.ramp,
                    "maximum": self.maximum}

  def formula(self, t, xp):
    k = xp.floor(t / self.period)
    r = t - k * self.period
    rising = self.start + self.step * (k - 1) + self.step * xp.minimum(r + 1, self.ramp) / self.ramp
    return xp.where(k < 1, self.start + 0 * t, xp.minimum(self.maximum, rising))


@keras.saving.register_keras_serializable(package="dynvae_keras")
class LinearSetPoint(SetPoint):
  """C(t) = start + (end − start)·min(t / steps, 1)."""

  def __init__(self, start=0.0, end=25.0, steps=100000):
    _require(int(steps) > 0, f"steps must be > 0; got {steps}.")
    self.start, self.end, self.steps = float(start), float(end), int(steps)
    self._config = {"start": self.start, "end": self.end, "steps": self.steps}

  def formula(self, t, xp):
    return self.start + (self.end - self.start) * xp.minimum(t / self.steps, 1.0)
