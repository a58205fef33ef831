"""The JAX fast path: `steps_per_execution = k` training steps as one compiled `lax.scan`.

Keras' JAX trainer loops k times in Python over a jitted single step; scanning instead removes
the per-step dispatch and host work, which dominate once a step is cheap (GPU, bfloat16).
`MultiLossTrainer.make_train_function` uses this module when `applies(model)`.

Interface with the model (a `keras.Model` mixing in `MultiLossTrainer`): `_jax_update(state,
batch)` (one step without metrics), `train_step`, `state_values()` and `state_terms` (logged
state recomputed from the final variables, or carried when `state_values()` is None),
`_term_trackers` (the running means), `_current_logs(state_values)`.

This is the only code that relies on Keras internals beyond the public API:
* `keras.Model._get_state_sharding_spec` (Keras' JAX trainer): the state layout under a
  `keras.distribution`, so the fused call returns the variables with their shardings;
* `keras.metrics.Mean.total` / `.count`: the running means' variables, which the loop updates
  as one vector;
* `Model.metrics_variables` order, as Keras' JAX trainer passes it in the state.
`check_keras_internals()` (run by the tests) fails loudly when a Keras upgrade removes one of the
first two, instead of the fast path breaking or silently slowing down; the third is covered by
the tests that compare fused and one-at-a-time training (`tests/test_device_batches.py`).
"""

from __future__ import annotations

import keras
from keras import ops

def check_keras_internals():
  """Raises RuntimeError naming every Keras internal this module uses that is missing."""
  missing = []
  if not callable(getattr(keras.Model, "_get_state_sharding_spec", None)):
    missing.append("keras.Model._get_state_sharding_spec")
  mean = keras.metrics.Mean()
  for name in ("total", "count"):
    if not isinstance(getattr(mean, name, None), keras.Variable):
      missing.append(f"keras.metrics.Mean.{name}")
  if missing:
    raise RuntimeError(f"Keras {keras.__version__} lacks {', '.join(missing)}, which the fused JAX "
                       "training loop (dynvae_keras.models.jax_fused) relies on; pin the Keras "
                       "version in pyproject.toml or update jax_fused.")


def applies(model):
  """Whether `fit` runs the fused loop: JAX, `steps_per_execution` > 1, jit, not eager."""
  return (keras.backend.backend() == "jax" and model.steps_per_execution > 1
          and not model.run_eagerly and bool(model.jit_compile))


def make_train_function(model):
  """The `train_function` Keras' JAX trainer calls: k batches from the iterator → one fused call.

  The k batches are stacked inside the compiled call (batches that already live on the device
  are not copied from the host, see `dynvae_keras.data.device_batches`). Logs are those after
  the last step; a final partial group of steps runs one step at a time. Under a
  `keras.distribution` (e.g. `DataParallel`) the batches arrive sharded and the state keeps its
  variables' shardings, as in Keras' own step.
  """
  import jax  # pylint: disable=g-import-not-at-top
  out_shardings = None
  if keras.distribution.distribution() is not None:
    out_shardings = (None, model._get_state_sharding_spec())  # pylint: disable=protected-access
  fused = jax.jit(model._jax_scan_steps, donate_argnums=0, out_shardings=out_shardings)  # pylint: disable=protected-access
  single = jax.jit(model.train_step, donate_argnums=0, out_shardings=out_shardings)
  k = model.steps_per_execution

  def iterator_step(state, iterator):
    batches = []
    for _ in range(k):
      try:
        batches.append(next(iterator))
      except StopIteration:
        break
    if not batches:
      raise StopIteration
    if len(batches) == k:
      return fused(state, batches)
    for batch in batches:
      logs, state = single(state, batch)
    return logs, state

  return iterator_step


def scan_steps(model, state, batches):
  """`len(batches)` training steps of `model` as one `lax.scan`: returns (last step's logs, state).

  Every value carried from one step to the next costs the device work of a kernel per step
  (a copy or an update), which shows once a step takes about a millisecond, so the loop carries
  only what it must. Nothing is stacked per step. The state terms are recomputed from the
  final state (`state_values`) or, for models that cannot, carried from the latest step. The
  running means' totals travel as one vector, updated by one addition per step, and go back
  into the trackers after the loop with their counts advanced by the number of steps: the
  same float32 additions, in the same order, as stepping one at a time (counts are exact
  below 2**24 steps per epoch). Weights and state come out bit-identical to stepping one at a
  time; a running mean can differ in its last bit, where XLA fuses (and contracts into FMAs)
  the computation of a term differently in the two programs.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  def recomputed(state):
    with keras.StatelessScope(state_mapping=list(zip(model.non_trainable_variables, state[1]))):
      return model.state_values()

  *model_state, metrics_variables = state
  terms_shape, _ = jax.eval_shape(model._jax_update, tuple(model_state), batches[0])  # pylint: disable=protected-access
  slots = mean_tracker_slots(model, terms_shape)
  carry_terms = recomputed(state) is None

  def body(carry, data):
    model_state, totals, last = carry
    terms, model_state = model._jax_update(model_state, data)  # pylint: disable=protected-access
    if slots is None:  # trackers other than scalar means: update them step by step
      _, totals = model._jax_logs(totals, terms)  # pylint: disable=protected-access
    else:
      totals = totals + jnp.stack([ops.cast(terms[name], totals.dtype) for name in slots])
    if carry_terms:
      last = {name: terms[name] for name in model.state_terms}
    return (model_state, totals, last), None

  if slots is None:
    totals = list(metrics_variables)
  else:
    totals = jnp.stack([metrics_variables[total] for total, _ in slots.values()])
  last = ({name: jnp.zeros(terms_shape[name].shape, terms_shape[name].dtype)
           for name in model.state_terms} if carry_terms else None)
  stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *batches)
  (model_state, totals, last), _ = jax.lax.scan(body, (tuple(model_state), totals, last), stacked)
  if slots is None:
    metrics_variables = totals
  else:
    metrics_variables = list(metrics_variables)
    for j, (total, count) in enumerate(slots.values()):
      metrics_variables[total] = totals[j]
      metrics_variables[count] = metrics_variables[count] + float(len(batches))
  state = (*model_state, metrics_variables)
  if not carry_terms:
    last = recomputed(state)
  with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, state[3]))):
    return model._current_logs(last), state  # pylint: disable=protected-access


def mean_tracker_slots(model, terms_shape):
  """{tracked term: (index of its tracker's total, of its count) in `metrics_variables`} when
  every tracker is a `keras.metrics.Mean` of a scalar term (each step then adds the term to
  the total and 1 to the count); None otherwise."""
  position = {id(variable): i for i, variable in enumerate(model.metrics_variables)}
  slots = {}
  for name, tracker in model._term_trackers.items():  # pylint: disable=protected-access
    if (type(tracker) is not keras.metrics.Mean or terms_shape[name].shape != ()  # pylint: disable=unidiomatic-typecheck
        or id(tracker.total) not in position or id(tracker.count) not in position):
      return None
    slots[name] = (position[id(tracker.total)], position[id(tracker.count)])
  return slots
