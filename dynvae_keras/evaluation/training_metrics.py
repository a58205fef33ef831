"""Disentanglement metrics during training: a Keras callback scoring the model every N steps.

`DisentanglementMetrics` calls dlib metric functions (`compute_mig`, `compute_dci`, ..., or the
gin references `@mig`, `@dci` with their gin-bound sample sizes) on the model's mean
representation and adds the scores to the interval's logs, where the training driver's CSV
log and TensorBoard callback record them next to β, the set point and the KL. `dynvae train`
turns it on with `model.eval_metrics = [@mig]` and `model.eval_metrics_every = 500`.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from dynvae_keras.evaluation import metrics as metrics_lib
from dynvae_keras.evaluation.metrics import metric_name
from dynvae_keras.export.representation import representation_function_from_model


def reaches_multiple(step, steps_per_interval, every_steps):
  """Whether the interval ending at `step` reached a multiple of `every_steps` (the first
  interval end at or after each multiple, when intervals do not divide `every_steps`)."""
  return step // every_steps != (step - steps_per_interval) // every_steps


#: Logged with the scores: wall time of one evaluation of all metrics, in seconds.
SECONDS_KEY = "eval_metrics_seconds"


class DisentanglementMetrics(keras.callbacks.Callback):
  """Scores the model with dlib metrics every `every_steps` training steps and logs the scores.

  At the end of each Keras epoch (a logging interval of `steps_per_interval` steps) that
  reaches a multiple of `every_steps`, every metric is computed on
  `representation_function_from_model(model)` (the encoder mean) and each numeric entry of its
  result is added to the epoch's logs as `<metric>/<key>`, e.g. `mig/discrete_mig`, together
  with `eval_metrics_seconds`. Callbacks after this one in the list (CSV, TensorBoard) see them.

  The training is not disturbed: each metric draws from a fresh `np.random.RandomState(seed)`,
  with NumPy's global RNG (which dlib's DCI and downstream metrics use through scikit-learn)
  seeded with `seed` for the call and restored after it, and the mean representation draws
  no random numbers. So the weights, the sampling noise and the data stream are those of a run
  without the callback, and a score is a function of the weights at that step only (a resumed
  run logs what the uninterrupted one logs).

  Args:
    ground_truth_data: the data set scored on (a dlib `GroundTruthData`).
    metrics: metric functions with dlib's signature `fn(ground_truth_data,
      representation_function, random_state)` returning a dict (gin-configured ones carry
      their sample sizes), or a {name: fn} dict.
    every_steps: training steps between evaluations.
    steps_per_interval: training steps per Keras epoch (`steps_per_epoch` of `fit`).
    seed: seed of each evaluation's random state (dlib's `evaluation.random_seed`, 0).
  """

  def __init__(self, ground_truth_data, metrics, every_steps, steps_per_interval, seed=0):
    super().__init__()
    if isinstance(metrics, dict):
      self.metrics = dict(metrics)
    else:
      self.metrics = {metric_name(fn): fn for fn in metrics}
    if not self.metrics:
      raise ValueError("DisentanglementMetrics needs at least one metric function, e.g. [compute_mig].")
    for name, fn in self.metrics.items():
      if not callable(fn):
        raise ValueError(f"metric {name!r} is not callable: {fn!r}.")
    self.every_steps, self.steps_per_interval = int(every_steps), int(steps_per_interval)
    if self.every_steps < 1 or self.steps_per_interval < 1:
      raise ValueError(f"every_steps and steps_per_interval must be >= 1; got {every_steps}, "
                       f"{steps_per_interval}.")
    for name in self.metrics:
      metrics_lib.require_factors(name, ground_truth_data)
    self.ground_truth_data, self.seed = ground_truth_data, int(seed)

  def scores(self):
    """{`<metric>/<key>`: float} of the model now, plus `eval_metrics_seconds`."""
    start = time.perf_counter()
    representation = representation_function_from_model(self.model)
    out = {}
    global_state = np.random.get_state()
    try:
      for name, fn in self.metrics.items():
        # dlib's DCI and downstream metrics fit scikit-learn models seeded from NumPy's global
        # RNG: seed it for the evaluation and give the training its own state back.
        np.random.seed(self.seed)
        result = fn(self.ground_truth_data, representation, np.random.RandomState(self.seed))
        for key, value in result.items():
          if np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number):
            out[f"{name}/{key}"] = float(value)
    finally:
      np.random.set_state(global_state)
    out[SECONDS_KEY] = time.perf_counter() - start
    return out

  def on_epoch_end(self, epoch, logs=None):
    step = (epoch + 1) * self.steps_per_interval
    if logs is not None and reaches_multiple(step, self.steps_per_interval, self.every_steps):
      logs.update(self.scores())
