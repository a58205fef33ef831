"""`dynvae study --executor ray`: one Ray task per model number, on a local or remote Ray cluster.

Each task runs one sweep point's whole chain (train → export if missing → postprocess →
evaluate) with `study.run_model` under the model's claim (`claims`), in a Ray worker process
with the resources asked for (CPUs, GPUs, memory). Ray retries a task whose worker process or
node was lost (`max_retries`); a task that raises is not retried and is reported by model
number, with the command that reruns the failed models. Outputs, skipping of finished steps and
resuming from checkpoints are those of `dynvae study` without Ray, so a rerun completes a sweep
whichever way it was started. The driver shows a progress bar over the sweep and aggregates
once at the end (in `study.run_study`).

Ray is an optional dependency (`pip install dynvae-keras[ray]`). Ray sets `OMP_NUM_THREADS` to
a task's CPUs; TensorFlow's thread pools are sized from the same number here.
"""

from __future__ import annotations

import logging
import os

from dynvae_keras.errors import DynvaeError

logger = logging.getLogger(__name__)

#: Object store of a Ray instance started here: the tasks pass only small results through it.
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 ** 2


class RayExecutorError(DynvaeError, RuntimeError):
  """Ray is missing, or some models of a sweep failed under Ray (the message names them)."""


def _import_ray():
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise RayExecutorError("--executor ray needs Ray: pip install 'dynvae-keras[ray]' "
                           "(or pip install 'ray>=2.60').") from e
  return ray


def run_model_task(study_path, output_dir, model_num, overwrite, stages, claim_timeout):
  """The body of one Ray task: `run_model` for `model_num` under its claim.

  Returns the number of steps run, or None when another process holds the model's claim.
  """
  threads = os.environ.get("OMP_NUM_THREADS")
  if threads:  # before TensorFlow starts in this worker (a no-op if an earlier task started it)
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
  from dynvae_keras.pipeline import study  # pylint: disable=g-import-not-at-top
  settings = study.load_study(study_path)
  point = settings.sweep()[model_num]
  return study.run_claimed(settings, point, output_dir, overwrite, stages, claim_timeout)


def _failure_text(error):
  cause = getattr(error, "cause", None) or error
  text = str(cause).strip().splitlines()
  return f"{type(cause).__name__}: {text[-1] if text else ''}"


def run_with_ray(study_path, output_dir, numbers, overwrite, stages, claim_timeout, address=None,
                 num_cpus=1, num_gpus=0, memory=None, max_retries=3, local_cpus=None):
  """Runs `numbers` as Ray tasks and waits for all; returns {model_num: steps run or None}.

  Args:
    address: a running Ray cluster ("auto" finds the local node's), or None to start a Ray
      instance on this machine with `local_cpus` CPUs (default: all).
    num_cpus, num_gpus, memory: resources of each task (memory in bytes, None: not reserved).
    max_retries: reruns of a task whose worker process or node died.

  Raises:
    RayExecutorError: naming each failed model and the command that reruns them.
  """
  ray = _import_ray()
  from tqdm.auto import tqdm  # pylint: disable=g-import-not-at-top
  started_here = not ray.is_initialized()
  if started_here:
    if address is None:
      ray.init(num_cpus=local_cpus, include_dashboard=False,
               object_store_memory=LOCAL_OBJECT_STORE_BYTES, configure_logging=False)
    else:
      ray.init(address=address, configure_logging=False)
  try:
    task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, memory=memory, max_retries=max_retries,
                      retry_exceptions=False)(run_model_task)
    refs = {task.remote(os.path.abspath(study_path) if os.path.exists(study_path) else study_path,
                        os.path.abspath(output_dir), n, overwrite, tuple(stages), claim_timeout): n
            for n in numbers}
    outcomes, failures = {}, {}
    pending = list(refs)
    with tqdm(total=len(pending), desc="study models (ray)", unit="model") as progress:
      while pending:
        done, pending = ray.wait(pending, num_returns=1)
        n = refs[done[0]]
        try:
          outcomes[n] = ray.get(done[0])
        except (ray.exceptions.RayTaskError, ray.exceptions.RayError) as e:
          failures[n] = _failure_text(e)
        progress.update(1)
  finally:
    if started_here:
      ray.shutdown()
  for n in sorted(outcomes):
    print(f"model {n}: " + ("skipped, claimed by another process" if outcomes[n] is None
                            else f"{outcomes[n]} step(s) run"), flush=True)
  if failures:
    failed = ",".join(str(n) for n in sorted(failures))
    raise RayExecutorError(
        f"{len(failures)} of {len(refs)} models failed under Ray: "
        + "; ".join(f"model {n}: {text}" for n, text in sorted(failures.items()))
        + f". Fix the cause and rerun them: dynvae study --study {study_path} --output_dir "
        f"{output_dir} --executor ray --model_nums {failed} (finished steps are skipped).")
  return outcomes
