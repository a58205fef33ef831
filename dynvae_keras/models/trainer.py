"""The one backend-specific place: a training step with several losses for `model.fit`.

Models mixing in :class:`MultiLossTrainer` implement `compute_loss_terms(x, training)`,
which returns a dict of scalar tensors (and may assign non-trainable state variables, e.g.
a β controller), and `loss_key_for(variable)`, which names the term each trainable variable
descends ("loss" for the VAE, "discriminator_loss" for a FactorVAE discriminator). One
forward pass per step; each variable gets the gradient of its own loss; one optimizer call
(a `keras.optimizers.MultiOptimizer` routes variables to sub-optimizers when needed).

Logged per step: every term in `tracked_terms` as a running mean over the epoch (Keras'
convention for losses), and every term in `state_terms` (β, set point, ...) as its current
value.
"""

from __future__ import annotations

import inspect

import keras
from keras import ops

from dynvae_keras.models import jax_fused


def cross_replica_mean(value):
  """The mean of a per-replica scalar over replicas (identity outside a replicated step).

  TensorFlow `tf.distribute` runs the step once per replica on its slice of the batch, so a
  batch statistic (e.g. the KL that drives a controller) is all-reduced here. JAX
  `keras.distribution.DataParallel` compiles one SPMD program over the global batch, where a
  batch mean is already global; torch has no replicated step in Keras.
  """
  if keras.backend.backend() != "tensorflow":
    return value
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  context = tf.distribute.get_replica_context()
  if context is None or context.num_replicas_in_sync == 1:
    return value
  return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def _replica_scale():
  """1 / replicas under `tf.distribute` (gradients are summed over replicas), else 1."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return 1.0 / tf.distribute.get_strategy().num_replicas_in_sync


class MultiLossTrainer:
  """Mixin for `keras.Model`: per-backend `train_step`/`test_step` over `compute_loss_terms`."""

  tracked_terms: tuple = ("loss",)
  state_terms: tuple = ()

  def _create_trackers(self):
    self._term_trackers = {name: keras.metrics.Mean(name=name) for name in self.tracked_terms}

  @property
  def metrics(self):
    return list(self._term_trackers.values())

  def _loss_groups(self):
    """{loss key: [indices into self.trainable_variables]} in first-seen order."""
    groups = {}
    for i, variable in enumerate(self.trainable_variables):
      groups.setdefault(self.loss_key_for(variable), []).append(i)
    return groups

  def _logs(self, terms):
    for name, tracker in self._term_trackers.items():
      tracker.update_state(terms[name])
    return self._current_logs(terms)

  def state_values(self):
    """The `state_terms` of the last training step, recomputed from the variables; or None.

    A model whose state terms are functions of its non-trainable state (a fixed β, a
    controller's β and terms) returns them, and the fused JAX loop then carries nothing per
    step for logging (each carried value costs a copy per step). None (the default, e.g. for
    terms computed from weights the optimizer has since updated) makes the loop carry them.
    """
    return None

  def _current_logs(self, state_values):
    """The trackers' running means and, for each of `state_terms`, its value in `state_values`."""
    logs = {name: tracker.result() for name, tracker in self._term_trackers.items()}
    logs.update({name: state_values[name] for name in self.state_terms})
    return logs

  def _unpack(self, data):
    x = data[0] if isinstance(data, (tuple, list)) else data
    return ops.convert_to_tensor(x)

  def fit(self, *args, **kwargs):
    """`keras.Model.fit`, except that a step-indexed stream is never shuffled.

    Our training streams (`ObservationBatches`, `DeviceBatches` and `make_tf_dataset`'s tf.data
    stream, marked `step_indexed = True`) already draw every batch at random, with replacement
    as dlib trains, and batch i is a pure function of (seed, i): that is what lets a resumed
    run see the batches of an uninterrupted one. Keras' default `shuffle=True` would permute the
    steps (by Python's global RNG) and make `DeviceBatches` draw on the device once per batch
    instead of once per chunk (on tf.data Keras ignores it, with a warning), so it is turned
    off for them, whatever was passed.
    """
    bound = inspect.signature(keras.Model.fit).bind(self, *args, **kwargs)
    if getattr(bound.arguments.get("x"), "step_indexed", False):
      bound.arguments["shuffle"] = False
    return super().fit(*bound.args[1:], **bound.kwargs)

  # Dispatch ------------------------------------------------------------------------
  def train_step(self, *args):
    backend = keras.backend.backend()
    if backend == "jax":
      return self._jax_train_step(*args)
    if backend == "tensorflow":
      return self._tf_train_step(*args)
    if backend == "torch":
      return self._torch_train_step(*args)
    raise NotImplementedError(f"Training is not implemented for the {backend} backend.")

  def test_step(self, *args):
    if keras.backend.backend() == "jax":
      return self._jax_test_step(*args)
    terms = self.compute_loss_terms(self._unpack(args[0]), training=False)
    return self._logs(terms)

  # TensorFlow ----------------------------------------------------------------------
  def _tf_train_step(self, data):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    x = self._unpack(data)
    if not self.built or not self.optimizer.built:
      # TF defers building to the first trace: create the variables outside the graph.
      with tf.init_scope():
        if not self.built:
          self.build(tuple(x.shape))
        self.optimizer.build(self.trainable_variables)
    groups = self._loss_groups()
    variables = self.trainable_variables
    scale = _replica_scale()  # gradients are summed over replicas: average them
    with tf.GradientTape(persistent=len(groups) > 1) as tape:
      terms = self.compute_loss_terms(x, training=True)
      targets = {key: terms[key] * scale if scale != 1.0 else terms[key] for key in groups}
    grads = [None] * len(variables)
    for key, indices in groups.items():
      group_grads = tape.gradient(targets[key], [variables[i] for i in indices])
      for i, g in zip(indices, group_grads):
        grads[i] = g if g is not None else tf.zeros_like(variables[i])
    del tape
    self.optimizer.apply(grads, variables)
    return self._logs(terms)

  # PyTorch -------------------------------------------------------------------------
  def _torch_train_step(self, data):
    import torch  # pylint: disable=g-import-not-at-top
    x = self._unpack(data)
    groups = self._loss_groups()
    variables = self.trainable_variables
    terms = self.compute_loss_terms(x, training=True)
    grads = [None] * len(variables)
    keys = list(groups)
    for n, key in enumerate(keys):
      tensors = [variables[i].value for i in groups[key]]
      group_grads = torch.autograd.grad(terms[key], tensors, retain_graph=n < len(keys) - 1,
                                        allow_unused=True)
      for i, t, g in zip(groups[key], tensors, group_grads):
        grads[i] = g if g is not None else torch.zeros_like(t)
    with torch.no_grad():
      self.optimizer.apply(grads, variables)
    return self._logs({k: v.detach() if hasattr(v, "detach") else v for k, v in terms.items()})

  # JAX -----------------------------------------------------------------------------
  def _jax_terms(self, trainable, non_trainable, optimizer_variables, x, training):
    """Stateless `compute_loss_terms`: returns (terms, new non-trainable values)."""
    mapping = list(zip(self.trainable_variables, trainable))
    mapping += list(zip(self.non_trainable_variables, non_trainable))
    if optimizer_variables is not None:
      mapping += list(zip(self.optimizer.variables, optimizer_variables))
    with keras.StatelessScope(state_mapping=mapping) as scope:
      terms = self.compute_loss_terms(x, training=training)
    new_non_trainable = [scope.get_current_value(v) for v in self.non_trainable_variables]
    new_non_trainable = [n if n is not None else old for n, old in zip(new_non_trainable, non_trainable)]
    return terms, new_non_trainable

  def _jax_logs(self, metrics_variables, terms):
    mapping = list(zip(self.metrics_variables, metrics_variables))
    with keras.StatelessScope(state_mapping=mapping) as scope:
      logs = self._logs(terms)
    new_metrics = [scope.get_current_value(v) for v in self.metrics_variables]
    new_metrics = [n if n is not None else old for n, old in zip(new_metrics, metrics_variables)]
    return logs, new_metrics

  def _jax_update(self, state, data):
    """One training step without the metrics: (trainable, non_trainable, optimizer variables)
    → (loss terms, their new values)."""
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    trainable, non_trainable, optimizer_variables = state
    x = self._unpack(data)
    groups = self._loss_groups()
    keys = list(groups)

    def losses(train_values):
      terms, new_nt = self._jax_terms(train_values, non_trainable, optimizer_variables, x, True)
      return jnp.stack([terms[k] for k in keys]), (terms, new_nt)

    _, pullback, (terms, non_trainable) = jax.vjp(losses, list(trainable), has_aux=True)
    grads = [None] * len(trainable)
    for n, key in enumerate(keys):
      (group_grads,) = pullback(jnp.zeros((len(keys),), jnp.float32).at[n].set(1.0))
      for i in groups[key]:
        grads[i] = group_grads[i]
    trainable, optimizer_variables = self.optimizer.stateless_apply(
        optimizer_variables, grads, trainable)
    return terms, (trainable, non_trainable, optimizer_variables)

  def _jax_train_step(self, state, data):
    *model_state, metrics_variables = state
    terms, model_state = self._jax_update(tuple(model_state), data)
    logs, metrics_variables = self._jax_logs(metrics_variables, terms)
    return logs, (*model_state, metrics_variables)

  def make_train_function(self, force=False):
    """On JAX with `steps_per_execution` > 1 and jit, the fused `lax.scan` loop of
    `dynvae_keras.models.jax_fused`; otherwise Keras' own."""
    if not jax_fused.applies(self):
      return super().make_train_function(force)
    if self.train_function is not None and not force:
      return None
    self.train_function = jax_fused.make_train_function(self)
    return None

  def _jax_scan_steps(self, state, batches):
    """`len(batches)` training steps as one `lax.scan` (`jax_fused.scan_steps`)."""
    return jax_fused.scan_steps(self, state, batches)

  def _jax_test_step(self, state, data):
    trainable, non_trainable, metrics_variables = state
    terms, non_trainable = self._jax_terms(trainable, non_trainable, None, self._unpack(data), False)
    logs, metrics_variables = self._jax_logs(metrics_variables, terms)
    return logs, (trainable, non_trainable, metrics_variables)
