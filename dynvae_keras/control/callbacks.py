"""Callback forms of β control, for users who prefer them to in-step controllers.

Prefer the in-step controllers (`BetaVAE(controller=...)`, `ControlVAE`, `DynamicVAE`): they
run inside the compiled step, work with `steps_per_execution > 1` and multiple devices, and
cost nothing extra. The callbacks below run on the host after every step, which forces a
device→host sync of the logs each step (measured in DESIGN §9 at ≈ 40 % of step time with
JAX on CPU), and β computed from step t's KL takes effect at step t + 1.
"""

from __future__ import annotations

import keras
import numpy as np


def _scalar(value):
  return float(np.asarray(keras.ops.convert_to_numpy(value)))


class BetaControllerCallback(keras.callbacks.Callback):
  """Drives `model.beta` (a non-trainable variable) with `controller` after every training step.

  The batch KL is recovered exactly from the running mean Keras logs for `kl_metric`
  (x_n = n·mean_n − (n − 1)·mean_{n−1} within an epoch), so the model must be compiled with
  `steps_per_execution=1`.

  Args:
    controller: e.g. `dynvae_keras.control.PIController(...)` (stepped eagerly on the host).
    kl_metric: the logged KL term (default `kl_loss`, summed over latents, batch-averaged).

  Example:
    >>> model = BetaVAE(beta=1.0); model.compile("adam")
    >>> model.fit(data, callbacks=[BetaControllerCallback(PIController())])
  """

  def __init__(self, controller, kl_metric="kl_loss"):
    super().__init__()
    self.controller, self.kl_metric = controller, kl_metric
    self.history = []
    self._previous_mean = 0.0

  def on_train_begin(self, logs=None):
    if int(getattr(self.model, "steps_per_execution", 1)) != 1:
      raise ValueError("BetaControllerCallback needs steps_per_execution=1 (it reads every step's KL); "
                       "use an in-step controller (BetaVAE(controller=...)) to fuse steps.")
    if not hasattr(self.model, "beta"):
      raise ValueError("BetaControllerCallback needs a model with a `beta` variable (e.g. BetaVAE).")

  def on_epoch_begin(self, epoch, logs=None):
    self._previous_mean = 0.0

  def on_train_batch_end(self, batch, logs=None):
    mean = _scalar(logs[self.kl_metric])
    kl = (batch + 1) * mean - batch * self._previous_mean
    self._previous_mean = mean
    result = {k: _scalar(v) for k, v in self.controller.update(kl).items()}
    self.model.beta.assign(result["beta"])
    self.history.append(result)


class ControllerTensorBoard(keras.callbacks.Callback):
  """Writes β, set point, feedback KL, P and I terms as TensorBoard scalars every `every` steps.

  Reads the values the in-step controllers log (`beta`, `kl_setpoint`, `kl_feedback`,
  `p_term`, `i_term`, and `kl_loss`); each write syncs the logs to the host.
  """

  TAGS = ("beta", "kl_setpoint", "kl_feedback", "p_term", "i_term", "kl_loss")

  def __init__(self, log_dir, every=1):
    super().__init__()
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self.every, self._tf = int(every), tf
    self.writer = tf.summary.create_file_writer(log_dir)
    self._step = 0

  def on_train_batch_end(self, batch, logs=None):
    self._step += 1
    if self._step % self.every:
      return
    with self.writer.as_default(step=self._step):
      for tag in self.TAGS:
        if tag in (logs or {}):
          self._tf.summary.scalar(f"control/{tag}", _scalar(logs[tag]))

  def on_train_end(self, logs=None):
    self.writer.flush()
