"""Callbacks used by the training driver: atomic checkpoints, a per-interval CSV log, NaN guard,
TensorBoard events.

The driver runs `fit` with one Keras "epoch" per logging interval, so these act at epoch
ends only and never force a per-step host sync: Keras then reads each call's logs in a
background thread instead of waiting for the device after every compiled call.
"""

from __future__ import annotations

import csv
import math
import os

import keras

from dynvae_keras import atomic
from dynvae_keras.errors import DynvaeError
from dynvae_keras.evaluation.training_metrics import reaches_multiple


class NonFiniteLossError(DynvaeError, FloatingPointError):
  """Training produced a NaN or infinite loss."""


def _to_float(value):
  return float(keras.ops.convert_to_numpy(value))


class IntervalCSVLogger(keras.callbacks.Callback):
  """Appends one row per logging interval to a CSV: `step` and every logged value.

  Values logged only at some intervals (disentanglement metrics every N steps) leave their
  cells empty elsewhere; a column first logged after the header was written is added to it
  (the file is rewritten atomically with the wider header).

  Args:
    path: CSV file (created, or appended to when resuming).
    steps_per_interval: training steps per Keras epoch.
  """

  def __init__(self, path, steps_per_interval):
    super().__init__()
    self.path, self.steps_per_interval = path, int(steps_per_interval)

  def on_epoch_end(self, epoch, logs=None):
    logs = {k: _to_float(v) for k, v in (logs or {}).items()}
    row = {"step": (epoch + 1) * self.steps_per_interval, **logs}
    rows, header, new_columns = [], [], []
    if os.path.exists(self.path):
      with open(self.path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        new_columns = [k for k in row if k not in header]
        if header and new_columns:  # only then are the earlier rows needed
          rows = list(reader)
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    if header and new_columns:  # rewrite with the wider header
      with atomic.atomic_file(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header + new_columns)
        writer.writeheader()
        writer.writerows(rows + [row])
      return
    with open(self.path, "a", newline="", encoding="utf-8") as f:
      writer = csv.DictWriter(f, fieldnames=header or list(row), extrasaction="ignore")
      if not header:
        writer.writeheader()
      writer.writerow(row)


class FiniteLossGuard(keras.callbacks.Callback):
  """Stops training with :class:`NonFiniteLossError` when a logged value becomes NaN/Inf.

  The error names the interval's last step and the last finite value of every logged term.
  """

  def __init__(self, steps_per_interval):
    super().__init__()
    self.steps_per_interval = int(steps_per_interval)
    self.last_finite = {}

  def on_epoch_end(self, epoch, logs=None):
    values = {k: _to_float(v) for k, v in (logs or {}).items()}
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if bad:
      step = (epoch + 1) * self.steps_per_interval
      last = ", ".join(f"{k}={v:.6g}" for k, v in sorted(self.last_finite.items())) or "none yet"
      raise NonFiniteLossError(
          f"Non-finite {', '.join(bad)} in the logging interval ending at step {step}. Last finite "
          f"values: {last}. The last checkpoint before this interval is still loadable; lower the "
          f"learning rate or check the input data.")
    self.last_finite = values


class AtomicCheckpoint(keras.callbacks.Callback):
  """Saves the whole model (weights, optimizer, controller state) every `every_steps` steps and at the end.

  The file is written under a temporary name and renamed, so a crash never leaves a partial
  checkpoint behind. `on_save(step)` is called after each save.
  """

  def __init__(self, path, every_steps, steps_per_interval, on_save=None):
    super().__init__()
    self.path, self.every_steps = path, int(every_steps)
    self.steps_per_interval, self.on_save = int(steps_per_interval), on_save
    self._last_step = self._saved_step = None

  def on_epoch_end(self, epoch, logs=None):
    step = (epoch + 1) * self.steps_per_interval
    self._last_step = step
    if reaches_multiple(step, self.steps_per_interval, self.every_steps):
      self.save(step)

  def on_train_end(self, logs=None):
    if self._last_step is not None and self._saved_step != self._last_step:
      self.save(self._last_step)

  def save(self, step):
    self._saved_step = step
    with atomic.atomic_file(self.path) as tmp:
      self.model.save(tmp)
    if self.on_save is not None:
      self.on_save(step)


class IntervalTensorBoard(keras.callbacks.TensorBoard):
  """Keras' TensorBoard callback writing the logged values once per logging interval (Keras
  epoch) and doing nothing per step.

  With `update_freq="epoch"` Keras' callback still works on every batch (a summary call per
  logged value, on logs it first reads back from the device, waiting for it): 2–4 ms per
  compiled call in `bench/fit_overhead.py`, which a GPU call of 100 fused bf16 steps
  (about 90 ms) would wait for. This one keeps only the epoch-end summaries (and is marked
  `async_safe`, so it lets Keras hand per-batch logs to a background thread).

  Args:
    log_dir: the events directory (Keras writes `train/` under it).
  """

  async_safe = True

  def __init__(self, log_dir):
    super().__init__(log_dir=log_dir, update_freq="epoch", write_graph=False)

  def on_train_batch_begin(self, batch, logs=None):
    pass

  def on_train_batch_end(self, batch, logs=None):
    pass
