"""`MovingAverage`: the DynamicVAE feedback filter, a FIFO of the last T batch KLs."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dynvae_keras")
class MovingAverage(keras.layers.Layer):
  """Mean of the last `window` values pushed, state in non-trainable variables.

  With `zero_init=True` (the official DynamicVAE code) the FIFO starts with window − 1 zeros,
  so the first window − 1 averages are biased low (the first one is y₁ / T). With
  `zero_init=False` the mean is over the values seen so far, counted in a `count` variable
  (the zero-initialised mean has none: it always divides by T). Inputs, state and mean are float32
  whatever the global dtype policy (under `mixed_bfloat16` they would be rounded to bfloat16).

  Args:
    window: T ≥ 1.
    zero_init: see above.

  Example:
    >>> average = MovingAverage(5)
    >>> average(3.0)   # 0.6 with zero_init=True
  """

  def __init__(self, window=5, zero_init=True, **kwargs):
    super().__init__(**{**kwargs, "dtype": "float32"})  # float32 whatever the policy
    if int(window) < 1:
      raise ValueError(f"window must be >= 1; got {window}.")
    self.window, self.zero_init = int(window), bool(zero_init)
    self.buffer = self.add_weight(name="buffer", shape=(self.window,), initializer="zeros", trainable=False)
    if not self.zero_init:
      self.count = self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)

  def __call__(self, value, **kwargs):
    return super().__call__(ops.convert_to_tensor(value, "float32"), **kwargs)

  def call(self, value):
    """Pushes `value` (a scalar) and returns the average including it."""
    value = ops.cast(ops.reshape(value, (1,)), self.buffer.dtype)
    buffer = ops.concatenate([ops.convert_to_tensor(self.buffer)[1:], value], axis=0)
    self.buffer.assign(buffer)
    count = None
    if not self.zero_init:
      count = ops.minimum(ops.convert_to_tensor(self.count) + 1.0, float(self.window))
      self.count.assign(count)
    return self._average(buffer, count)

  def value(self):
    """The average after the last push (0 before any), without pushing."""
    count = None if self.zero_init else ops.convert_to_tensor(self.count)
    return self._average(ops.convert_to_tensor(self.buffer), count)

  def _average(self, buffer, count):
    # The sum is written out element by element (T is small and static): unlike a reduction,
    # XLA fuses it with the controller's scalar arithmetic, one kernel less per training step.
    total = buffer[0]
    for i in range(1, self.window):
      total = total + buffer[i]
    if self.zero_init:
      return total / float(self.window)
    return total / ops.maximum(count, 1.0)

  def get_config(self):
    return {**super().get_config(), "window": self.window, "zero_init": self.zero_init}
