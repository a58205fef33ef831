"""The training driver (dlib's `train.train`): gin → data set + model → fit → checkpoints → results.

`model_dir` layout after a run:

* `model.keras`: the trained model (weights, optimizer and controller state);
* `checkpoints/checkpoint.keras` + `checkpoints/checkpoint.json` (step, sittings): the last
  checkpoint;
* `logs/`: TensorBoard events and `metrics.csv` (one row per logging interval);
* `results/{gin,json,aggregate}`: dlib's results for the step `train`; its config adds the data
  set's provenance (`dataset.*`) and `runtime.sittings`, a JSON list with one entry per sitting
  of the run (the first start and every resume): its first step, CPU, accelerator, software
  versions and CPU settings (`cpu_runtime.sitting`).

A run whose `model_dir` holds an unfinished checkpoint resumes from it; a finished run is
refused unless `overwrite=True`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import sys
import time

import gin
import keras
import numpy as np

from dynvae_keras import atomic, cpu_runtime, results
from dynvae_keras.data import input_pipeline, named_data, provenance
from dynvae_keras.pipeline.data_parallel import data_parallel_scope
from dynvae_keras.errors import DynvaeError, TrainingDataError
from dynvae_keras.evaluation import training_metrics
from dynvae_keras.models import factories, precision
from dynvae_keras.pipeline.callbacks import (AtomicCheckpoint, FiniteLossGuard, IntervalCSVLogger,
                                          IntervalTensorBoard)

logger = logging.getLogger(__name__)

CHECKPOINT = os.path.join("checkpoints", "checkpoint.keras")
CHECKPOINT_STATE = os.path.join("checkpoints", "checkpoint.json")
FINAL_MODEL = "model.keras"
TRAIN_RESULTS = os.path.join("results", "json", "train_results.json")


class ModelDirError(DynvaeError, RuntimeError):
  """The model directory cannot be used as asked (finished run, foreign content, ...)."""


class ConfigValueError(DynvaeError, ValueError):
  """A `model.*` setting has the wrong type or range."""


def _integer(name, value, minimum):
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ConfigValueError(f"model.{name} must be an integer >= {minimum}; got {value!r}. "
                           f"Fix the binding, e.g. --gin_bindings 'model.{name} = {max(minimum, 1)}'.")
  return int(value)


def check_observations(batch, observation_shape=None):
  """Rejects a training batch that is not float NHWC in [0, 1] without NaN, with the fix in the message."""
  batch = np.asarray(batch)
  if batch.ndim != 4:
    raise TrainingDataError(f"Training images must be a 4-D NHWC batch; got shape {batch.shape}. "
                     f"Add a channel axis to (N, H, W) images.")
  if observation_shape is not None and list(batch.shape[1:]) != list(observation_shape):
    raise TrainingDataError(f"Training images have shape {batch.shape[1:]} but the data set declares "
                     f"{list(observation_shape)}.")
  if batch.shape[-1] not in (1, 3):
    raise TrainingDataError(f"Training images must have 1 or 3 channels (NHWC); got {batch.shape[-1]}. "
                     f"Channels-first data must be transposed to NHWC.")
  if not np.all(np.isfinite(batch)):
    raise TrainingDataError("Training images contain NaN or Inf pixels.")
  if batch.min() < 0 or batch.max() > 1:
    raise TrainingDataError(f"Training images must lie in [0, 1]; got [{batch.min():.3g}, {batch.max():.3g}]. "
                     f"Divide uint8 images by 255.")


def _interval(iterations, log_every, steps_per_execution):
  """Iterations per Keras epoch: the largest divisor of `iterations` ≤ log_every, a multiple of steps_per_execution."""
  for candidate in range(min(log_every, iterations), 0, -1):
    if iterations % candidate == 0 and candidate % steps_per_execution == 0:
      return candidate
  raise ConfigValueError(f"The run's {iterations} training iterations are not a multiple of "
                         f"model.steps_per_execution={steps_per_execution}; change one of them.")


#: Training images averaged for a squared-error decoder's initial output bias.
OUTPUT_BIAS_SAMPLES = 1024


def mean_pixel(data, seed, num=OUTPUT_BIAS_SAMPLES):
  """Mean pixel value per channel (C,) over `num` observations drawn apart from the training stream."""
  images = input_pipeline.sample_batch(data, num, seed, 2 ** 31 - 1)  # a step no run reaches
  return images.reshape(-1, images.shape[-1]).mean(axis=0)


def _prepare_model_dir(model_dir, overwrite):
  """Returns the checkpointed step to resume from (None: fresh start)."""
  if not os.path.exists(model_dir):
    return None
  if overwrite:
    shutil.rmtree(model_dir)
    return None
  if os.path.exists(os.path.join(model_dir, TRAIN_RESULTS)):
    raise ModelDirError(f"{model_dir} holds a finished training run; pass --overwrite to retrain.")
  if os.path.exists(os.path.join(model_dir, CHECKPOINT_STATE)):
    return int(atomic.load_json(os.path.join(model_dir, CHECKPOINT_STATE))["step"])
  if os.listdir(model_dir):
    raise ModelDirError(f"{model_dir} exists and is not a dynvae model directory; choose another "
                        f"--model_dir or pass --overwrite to delete it.")
  return None


def _sittings(model_dir, step, dtype_policy):
  """The run's sittings up to this one: those of the checkpoint resumed from (started before
  `step`) and this one, starting at `step`."""
  state = os.path.join(model_dir, CHECKPOINT_STATE)
  earlier = atomic.load_json(state).get("sittings", []) if step and os.path.isfile(state) else []
  return [s for s in earlier if s["from_step"] < step] + [cpu_runtime.sitting(step, dtype_policy)]


def _truncate_log(path, step):
  """Drops rows logged after `step` (intervals run before a crash, which the resumed run redoes)."""
  if not os.path.exists(path):
    return
  with open(path, encoding="utf-8") as f:
    lines = f.readlines()
  kept = lines[:1] + [line for line in lines[1:] if int(float(line.split(",", 1)[0])) <= step]
  with atomic.atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.writelines(kept)


def _has_tensorflow():
  """Whether TensorFlow is installed (SavedModel export and TensorBoard events need it)."""
  return importlib.util.find_spec("tensorflow") is not None


def _export(model, model_dir):
  """`<model_dir>/tfhub` with dlib's signatures (needs TensorFlow; skipped with a warning without)."""
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  if not _has_tensorflow():
    logger.warning("TensorFlow is not installed: %s/tfhub was not written. Export later with "
                   "`dynvae export --model_dir %s` where TensorFlow is installed.", model_dir, model_dir)
    return
  if keras.backend.backend() == "torch":
    logger.warning("The torch backend cannot export SavedModels: run `KERAS_BACKEND=tensorflow "
                   "dynvae export --model_dir %s`.", model_dir)
    return
  saved_model.export_tfhub(model, os.path.join(model_dir, "tfhub"), overwrite=True)


def _training_stream(data, batch_size, num_batches, seed, start_step, device_input, pool_size,
                     steps_per_execution):
  if not device_input:
    return input_pipeline.training_input(data, batch_size, num_batches, seed=seed,
                                         start_step=start_step)
  from dynvae_keras.data import device_batches  # pylint: disable=g-import-not-at-top
  if pool_size is None:
    pool_size = getattr(data, "num_atoms", None)
    if pool_size is None:
      raise ConfigValueError("model.device_input needs model.device_pool_size for this dataset "
                       "(it cannot enumerate its observations); e.g. model.device_pool_size = 100000.")
  pool_size = _integer("device_pool_size", pool_size, 1)
  logger.info("Copying %d observations to the device for device_input.", pool_size)
  pool = device_batches.observation_pool(data, pool_size, seed=seed)
  return device_batches.DeviceBatches(pool, batch_size, num_batches, seed=seed,
                                      start_step=start_step,
                                      chunk=max(steps_per_execution, 100 // steps_per_execution * steps_per_execution))


def training_callbacks(model_dir, interval, checkpoint_every, metrics=None, sittings=()):
  """The driver's callbacks: NaN guard, disentanglement metrics (a `DisentanglementMetrics`, or
  None), CSV log, TensorBoard events (where TensorFlow is installed) and atomic checkpoints;
  all act at interval (Keras epoch) ends only, so `fit` never waits for the device after a
  compiled call. `sittings` is stored with each checkpoint (`checkpoints/checkpoint.json`)."""
  callbacks = [
      FiniteLossGuard(interval),
      *([metrics] if metrics is not None else []),
      IntervalCSVLogger(os.path.join(model_dir, "logs", "metrics.csv"), interval),
      AtomicCheckpoint(os.path.join(model_dir, CHECKPOINT), checkpoint_every, interval,
                       on_save=lambda step: atomic.save_json(
                           os.path.join(model_dir, CHECKPOINT_STATE),
                           {"step": step, "sittings": list(sittings)})),
  ]
  if _has_tensorflow():
    callbacks.insert(len(callbacks) - 1, IntervalTensorBoard(os.path.join(model_dir, "logs")))
  else:
    logger.warning("TensorFlow is not installed: no TensorBoard events (Keras writes them with "
                   "tf.summary); logs/metrics.csv has every logged value.")
  return callbacks


@gin.configurable("model", denylist=["model_dir", "overwrite"])
def train(model_dir, overwrite=False, model=gin.REQUIRED, training_steps=gin.REQUIRED,
          random_seed=gin.REQUIRED, batch_size=gin.REQUIRED, eval_steps=1000, name="",
          model_num=None, log_every=100, checkpoint_every=1000, steps_per_execution=1,
          jit_compile="auto", verbose="auto", deterministic=False, device_input=False,
          device_pool_size=None, data_parallel=False, dtype_policy=None, eval_metrics=None,
          eval_metrics_every=None):
  """Trains `model` on the gin-configured `dataset.name` and writes `model_dir` (see module doc).

  Args:
    model_dir: output directory.
    overwrite: delete an existing `model_dir` first.
    model: an unbuilt model from a factory (`model.model = @vae()`).
    training_steps: dlib's global steps: training iterations, except for models whose
      iteration dlib counts as several steps (FactorVAE: 2, one per optimizer), which run
      ⌈training_steps / model.global_steps_per_iteration⌉ iterations.
    random_seed: seeds weight initialisation, sampling noise and the data stream.
    batch_size: images per step.
    eval_steps: batches averaged for the train results (dlib: 1000).
    name: model name recorded in the results (dlib `model.name`).
    model_num: recorded for studies.
    log_every: steps per logging interval (one Keras epoch; adjusted to divide training_steps).
    checkpoint_every: steps between checkpoints.
    steps_per_execution: steps fused per compiled call (TF and JAX; torch needs 1).
    jit_compile: passed to `compile` ('auto', True, False).
    verbose: Keras verbosity; 'auto' = progress bar on a terminal, one line per interval otherwise.
    deterministic: enable TensorFlow's op determinism (bit-identical reruns and resumes on CPU).
    device_input: JAX only: keep the observations on the accelerator as uint8 and draw batches
      there (`dynvae_keras.data.device_batches`); with `steps_per_execution` > 1 the fastest
      path on a GPU/TPU. The stream differs from the host stream (JAX PRNG) but is as reproducible.
    device_pool_size: observations kept on the device; default all of the dataset's atoms
      (737,280 for dSprites: 3 GB), required for datasets without enumerable atoms.
    data_parallel: train on every local device (`dynvae_keras.pipeline.data_parallel`: JAX
      `DataParallel`, TF `MirroredStrategy`); `batch_size` is the global batch and must split
      evenly. The same run on one device gives the same β trajectory (up to float rounding).
    dtype_policy: the model's Keras dtype policy (`dynvae_keras.models.precision`):
      'mixed_bfloat16' computes the networks in bfloat16 with float32 variables, losses and β
      controllers (fast on GPUs and TPUs, slow on most CPUs); 'float32'; None (default) keeps
      the global policy. It is saved with the model, so a resumed run keeps it.
    eval_metrics: dlib metric functions scored during training, e.g. `[@mig, @dci]` (their gin
      bindings set the sample sizes: `mig.num_train = 1000`); logged as `<metric>/<key>` in
      logs/metrics.csv and TensorBoard (`dynvae_keras.evaluation.training_metrics`).
    eval_metrics_every: steps between those evaluations (at the end of the first logging
      interval reaching each multiple); required with `eval_metrics`.

  Returns:
    The train results dict.
  """
  del name, model_num  # recorded through the operative gin config
  start_time = time.time()
  training_steps = _integer("training_steps", training_steps, 1)
  batch_size = _integer("batch_size", batch_size, 1)
  random_seed = _integer("random_seed", random_seed, 0)
  eval_steps = _integer("eval_steps", eval_steps, 1)
  log_every = _integer("log_every", log_every, 1)
  checkpoint_every = _integer("checkpoint_every", checkpoint_every, 1)
  steps_per_execution = _integer("steps_per_execution", steps_per_execution, 1)
  if not isinstance(data_parallel, bool):
    raise ConfigValueError(f"model.data_parallel must be True or False; got {data_parallel!r}.")
  if dtype_policy is not None and dtype_policy not in precision.SUPPORTED_POLICIES:
    hint = (" (float16 needs loss scaling, which these training steps do not do; bfloat16 has "
            "float32's range and needs none)" if "float16" in str(dtype_policy) else "")
    raise ConfigValueError(f"model.dtype_policy must be one of {precision.SUPPORTED_POLICIES} or "
                           f"None; got {dtype_policy!r}{hint}.")
  if bool(eval_metrics) != (eval_metrics_every is not None):
    raise ConfigValueError("model.eval_metrics and model.eval_metrics_every go together: e.g. "
                           "model.eval_metrics = [@mig] and model.eval_metrics_every = 1000.")
  if eval_metrics_every is not None:
    eval_metrics_every = _integer("eval_metrics_every", eval_metrics_every, 1)
  resume_step = _prepare_model_dir(model_dir, overwrite)
  keras.utils.set_random_seed(random_seed)
  if deterministic and keras.backend.backend() == "tensorflow":
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.experimental.enable_op_determinism()
  data = named_data.get_named_ground_truth_data()
  check_observations(input_pipeline.sample_batch(data, min(batch_size, 8), random_seed, 0),
                     data.observation_shape)
  # The driver counts iterations (one optimizer call each); dlib's global step may count more.
  steps_per_iteration = int(type(model).global_steps_per_iteration)
  iterations = -(-training_steps // steps_per_iteration)
  interval = _interval(iterations, log_every, steps_per_execution)

  scope = (data_parallel_scope(batch_size, steps_per_execution) if data_parallel
           else contextlib.nullcontext())
  with scope:
    if resume_step is not None and resume_step < iterations:
      logger.info("Resuming %s from step %d.", model_dir, resume_step)
      model = keras.saving.load_model(os.path.join(model_dir, CHECKPOINT))
      initial_step = int(keras.ops.convert_to_numpy(model.step))
      _truncate_log(os.path.join(model_dir, "logs", "metrics.csv"), initial_step)
    else:
      config = {**model.get_config(), "seed": random_seed}
      if dtype_policy is not None:
        config["dtype"] = dtype_policy
      model = type(model).from_config(config)
      model.build((None, *data.observation_shape))
      if model.squared_error_decoder and model.activation == "logits":
        model.initialize_output_bias(mean_pixel(data, random_seed))
      factories.compile_model(model, steps_per_execution=steps_per_execution, jit_compile=jit_compile)
      initial_step = 0
      os.makedirs(model_dir, exist_ok=True)

    sittings = _sittings(model_dir, initial_step, model.dtype_policy.name)
    logger.info("Training with %s.", sittings[-1]["settings"])
    remaining = iterations - initial_step
    metrics = (training_metrics.DisentanglementMetrics(data, eval_metrics, eval_metrics_every, interval)
               if eval_metrics else None)
    callbacks = training_callbacks(model_dir, interval, checkpoint_every, metrics, sittings)
    if verbose == "auto":
      verbose = 1 if sys.stdout.isatty() else 2
    if remaining > 0:
      stream = _training_stream(data, batch_size, remaining, random_seed, initial_step,
                                device_input, device_pool_size, steps_per_execution)
      model.fit(stream, epochs=iterations // interval, initial_epoch=initial_step // interval,
                steps_per_epoch=interval, shuffle=False, verbose=verbose, callbacks=callbacks)

    with atomic.atomic_file(os.path.join(model_dir, FINAL_MODEL)) as tmp:
      model.save(tmp)
    _export(model, model_dir)
    eval_stream = input_pipeline.training_input(data, batch_size, eval_steps, seed=random_seed + 1)
    evaluation = model.evaluate(eval_stream, steps=eval_steps, verbose=0, return_dict=True)
    train_results = {k: float(keras.ops.convert_to_numpy(v)) for k, v in evaluation.items()}
    train_results["global_step"] = int(keras.ops.convert_to_numpy(model.step)) * steps_per_iteration
    train_results["elapsed_time"] = time.time() - start_time
    results.update_result_directory(os.path.join(model_dir, "results"), "train", train_results,
                                    extra_config={**provenance.describe(data),
                                                  "runtime.sittings": results.json_config_value(sittings)})
  return train_results
