"""Studies: train → postprocess → evaluate → aggregate over a sweep, resumable (dlib's `reproduce`).

A study is a gin file binding `study.*` (see `StudySettings`): the sweep is the product
datasets × models × random seeds (seeds vary fastest, as in dlib's sweeps) and `model_num`
indexes it. For each model_num the runner writes dlib's layout

    <output_dir>/<model_num>/model                                  (dynvae train)
    <output_dir>/<model_num>/postprocessed/<mean|sampled>           (dynvae postprocess)
    <output_dir>/<model_num>/metrics/<mean|sampled>/<metric>        (dynvae evaluate)

and finally `<output_dir>/results.json` + `.csv` over every finished evaluation. A step whose
output already holds its results is skipped, so rerunning the same command after a crash or
on another machine sharing `output_dir` completes the study; training resumes from its last
checkpoint. Processes sharing `output_dir` claim each model number before working on it
(`dynvae_keras.pipeline.claims`), so any number of them can run the same sweep at once. Each step parses its own gin configuration from scratch.

`run_study(..., workers=N)` runs the sweep in N worker processes on this machine (model numbers
dealt round-robin, each worker limited to cores/N TensorFlow and BLAS threads) and aggregates
once all have finished: on a 2-core CPU two single-threaded workers train 1.4× faster in total
than one process using both cores (measured: 103 vs 74 ms per batch-64 step, see
docs/REPRODUCTION.md).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import subprocess
import sys

import gin

from dynvae_keras import gin_utils
from dynvae_keras.errors import DynvaeError
from dynvae_keras.evaluation import evaluate, postprocess
from dynvae_keras.pipeline import claims, train

logger = logging.getLogger(__name__)

RESULTS_GLOB = os.path.join("*", "metrics", "*", "*", "results", "aggregate", "evaluation.json")


class StudyWorkerError(DynvaeError, RuntimeError):
  """A worker process of a parallel study failed (its output says why)."""


@dataclasses.dataclass(frozen=True)
class SweepPoint:
  """One model of a study."""
  model_num: int
  dataset: str
  model_name: str
  model_config: str
  model_bindings: tuple
  random_seed: int


@gin.configurable("study")
@dataclasses.dataclass(frozen=True)
class StudySettings:
  """The `study.*` bindings of a study gin file.

  Args:
    models: list of (name, model gin config, [bindings]) entries.
    random_seeds: seeds per model.
    datasets: dlib data set names.
    train_bindings: bindings added to every training run (e.g. the step budget).
    postprocess_configs: postprocess gin configs; the file stem names the output directory.
    metric_configs: metric gin configs; the file stem names the output directory.
    metric_bindings: bindings added to every evaluation (e.g. smaller sample sizes).
  """
  models: tuple = ()
  random_seeds: tuple = (0,)
  datasets: tuple = ("dsprites_full",)
  train_bindings: tuple = ()
  postprocess_configs: tuple = ("postprocess/mean.gin", "postprocess/sampled.gin")
  metric_configs: tuple = ()
  metric_bindings: tuple = ()

  def training_bindings(self, point):
    """The gin bindings one sweep point trains with, after its model config (later ones win)."""
    return [*point.model_bindings, *self.train_bindings, f"dataset.name = '{point.dataset}'",
            f"model.random_seed = {point.random_seed}", f"model.model_num = {point.model_num}",
            f"model.name = '{point.model_name}'"]

  def sweep(self):
    points = []
    for dataset, model, seed in itertools.product(self.datasets, self.models, self.random_seeds):
      if len(model) != 3:
        raise gin_utils.GinConfigError(
            f"study.models entries are (name, config, [bindings]); got {model!r}.")
      name, config, bindings = model
      points.append(SweepPoint(len(points), dataset, name, config, tuple(bindings), int(seed)))
    return points


def load_study(study_path):
  """Parses a study gin file and returns its `StudySettings`."""
  gin_utils.parse([study_path])
  try:
    settings = StudySettings()
  finally:
    gin.clear_config()
  if not settings.models:
    raise gin_utils.GinConfigError(f"{study_path} binds no study.models.")
  return settings


def config_stem(config):
  """The directory name of a postprocess/metric config in a study ('metric/mig.gin' → 'mig')."""
  return os.path.splitext(os.path.basename(config))[0]


def _done(directory, step):
  return os.path.isfile(os.path.join(directory, "results", "gin", f"{step}.gin"))


def has_export(model_dir):
  """Whether a trained model directory holds its exported SavedModel (`tfhub/`)."""
  return os.path.isfile(os.path.join(model_dir, "tfhub", "saved_model.pb"))


def _ensure_export(model_dir):
  """Writes `model_dir/tfhub` from `model.keras` if training ran where TensorFlow was absent."""
  if has_export(model_dir):
    return False
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  logger.info("%s has no tfhub/ (trained without TensorFlow): exporting it now.", model_dir)
  saved_model.export_model_dir(model_dir, overwrite=True)
  return True


STAGES = ("train", "evaluate")


def run_model(settings, point, output_dir, overwrite=False, stages=STAGES):
  """Runs (or completes) the steps of one sweep point; returns the number of steps run.

  `stages` = ("train",) trains only (e.g. on a GPU machine without TensorFlow); a later run with
  the default stages exports `tfhub/` if it is missing, then postprocesses and evaluates.
  """
  unknown = set(stages) - set(STAGES)
  if unknown:
    raise gin_utils.GinConfigError(f"Unknown study stage(s) {sorted(unknown)}; use {STAGES}.")
  base = os.path.join(output_dir, str(point.model_num))
  model_dir = os.path.join(base, "model")
  ran = 0
  if overwrite or not _done(model_dir, "train"):
    logger.info("model %d: training %s (seed %d) on %s", point.model_num, point.model_name,
                point.random_seed, point.dataset)
    gin_utils.parse([point.model_config], settings.training_bindings(point))
    train.train(model_dir, overwrite=overwrite)
    ran += 1
  if "evaluate" not in stages:
    gin.clear_config()
    return ran
  ran += _ensure_export(model_dir)
  for pp_config in settings.postprocess_configs:
    pp_dir = os.path.join(base, "postprocessed", config_stem(pp_config))
    if overwrite or not _done(pp_dir, "postprocess"):
      gin_utils.parse([pp_config])
      postprocess.postprocess(model_dir, pp_dir, overwrite=True)
      ran += 1
    for metric_config in settings.metric_configs:
      metric_dir = os.path.join(base, "metrics", config_stem(pp_config), config_stem(metric_config))
      if overwrite or not _done(metric_dir, "evaluation"):
        logger.info("model %d: %s on the %s representation", point.model_num, config_stem(metric_config),
                    config_stem(pp_config))
        gin_utils.parse([metric_config], settings.metric_bindings)
        evaluate.evaluate(pp_dir, metric_dir, overwrite=True)
        ran += 1
  gin.clear_config()
  return ran


def _check_model_nums(model_nums, size):
  numbers = list(range(size)) if model_nums is None else list(model_nums)
  for n in numbers:
    if not 0 <= n < size:
      raise gin_utils.GinConfigError(
          f"model_num {n} is outside the study's sweep of {size} models (0-{size - 1}).")
  return numbers


def worker_environment(workers, cpu_count=None, gpus=(), index=0):
  """Environment of worker `index` of `workers` processes sharing this machine.

  Each gets cores/workers TensorFlow/BLAS threads. With `gpus` (CUDA device ids), worker i sees
  only GPU gpus[i mod len(gpus)] (`CUDA_VISIBLE_DEVICES`); when workers share a GPU, JAX and
  TensorFlow allocate its memory as needed instead of reserving most of it up front.
  """
  threads = str(max(1, (cpu_count or os.cpu_count() or 1) // workers))
  env = dict(os.environ)
  for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS"):
    env[name] = threads
  env["TF_NUM_INTEROP_THREADS"] = "1"
  if gpus:
    env["CUDA_VISIBLE_DEVICES"] = str(gpus[index % len(gpus)])
    if workers > len(gpus):
      env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
      env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
  return env


def _run_workers(study_path, output_dir, numbers, workers, overwrite, stages, gpus=(),
                 claim_timeout=claims.TIMEOUT_SECONDS):
  """Runs `numbers` in `workers` child processes (`dynvae study --model_nums ...`); raises if one fails."""
  shards = [numbers[i::workers] for i in range(workers)]
  children = []
  for index, shard in enumerate(shards):
    if not shard:
      continue
    command = [sys.executable, "-m", "dynvae_keras.cli", "study", "--study", study_path,
               "--output_dir", output_dir, "--model_nums", ",".join(map(str, shard)),
               "--stages", ",".join(stages), "--no_aggregate", "--claim_timeout", str(claim_timeout)]
    if overwrite:
      command.append("--overwrite")
    env = worker_environment(workers, gpus=gpus, index=index)
    children.append((shard, subprocess.Popen(command, env=env)))
  try:
    failed = [(shard, child.wait()) for shard, child in children]
  finally:  # interrupted (Ctrl-C, SIGTERM as an exception): take the workers down with us
    for _, child in children:
      if child.poll() is None:
        child.terminate()
  failed = [(shard, code) for shard, code in failed if code != 0]
  if failed:
    raise StudyWorkerError("study worker(s) failed: " + "; ".join(
        f"models {shard} exited with {code}" for shard, code in failed)
        + ". Rerun the same command: finished steps are kept and skipped.")


def run_claimed(settings, point, output_dir, overwrite, stages, claim_timeout):
  """`run_model` under a lease on the model number (`claims`); None when another process holds it."""
  heartbeat = min(claims.HEARTBEAT_SECONDS, claim_timeout / 10)
  with claims.claim(output_dir, point.model_num, claim_timeout, heartbeat) as lease:
    if lease is None:
      return None
    return run_model(settings, point, output_dir, overwrite=overwrite, stages=stages)


EXECUTORS = ("local", "ray")


def run_study(study_path, output_dir, model_nums=None, overwrite=False, stages=STAGES, workers=1,
              aggregate_results=True, gpus=(), claim_timeout=claims.TIMEOUT_SECONDS, executor="local",
              ray_options=None):
  """Runs the sweep points `model_nums` (default all) of a study, then aggregates `output_dir`
  (when evaluating). `workers` > 1 runs them in that many processes on this machine; `gpus`
  (CUDA device ids) gives each worker one of them (see `worker_environment`).

  Each model number is claimed before it is worked on (`claims`): processes on any number of
  machines can run the same study over one shared directory, each model is worked on by one
  process at a time, and a model whose holder has been silent for `claim_timeout` seconds is
  taken over and resumed."""
  from dynvae_keras.evaluation import aggregate  # pylint: disable=g-import-not-at-top
  settings = load_study(study_path)
  sweep = settings.sweep()
  numbers = _check_model_nums(model_nums, len(sweep))
  if int(workers) < 1:
    raise gin_utils.GinConfigError(f"workers must be ≥ 1; got {workers}.")
  if not float(claim_timeout) > 0:
    raise gin_utils.GinConfigError(f"claim_timeout must be > 0 seconds; got {claim_timeout}.")
  if executor not in EXECUTORS:
    raise gin_utils.GinConfigError(f"Unknown executor {executor!r}; use one of {EXECUTORS}.")
  if executor == "ray" and (workers > 1 or gpus):
    raise gin_utils.GinConfigError("--executor ray schedules the models itself: give resources per "
                                   "task (--ray_cpus_per_task, --ray_gpus_per_task), not --workers/--gpus.")
  gpus = [str(g).strip() for g in gpus]
  if any(not g for g in gpus):
    raise gin_utils.GinConfigError(f"gpus must be device ids like 0,1,2,3; got {gpus}.")
  if executor == "ray":
    from dynvae_keras.pipeline import ray_executor  # pylint: disable=g-import-not-at-top  (optional Ray)
    ray_executor.run_with_ray(study_path, output_dir, numbers, overwrite, stages, float(claim_timeout),
                              **(ray_options or {}))
  elif workers > 1 or gpus:
    _run_workers(study_path, output_dir, numbers, int(workers), overwrite, stages, gpus, claim_timeout)
  else:
    for n in numbers:
      ran = run_claimed(settings, sweep[n], output_dir, overwrite, stages, float(claim_timeout))
      if ran is None:
        holder = claims.read_lease(claims.lease_path(output_dir, n)) or {}
        print(f"model {n}: skipped, claimed by {holder.get('host', '?')} pid {holder.get('pid', '?')}",
              flush=True)
      else:
        print(f"model {n} ({sweep[n].model_name}, seed {sweep[n].random_seed}): "
              f"{ran} step(s) run", flush=True)
  if "evaluate" not in stages or not aggregate_results:
    return []
  rows = aggregate.aggregate(os.path.join(output_dir, RESULTS_GLOB),
                             os.path.join(output_dir, "results.json"))
  print(f"{len(rows)} evaluations aggregated into {os.path.join(output_dir, 'results.json')} (+ .csv)")
  return rows
