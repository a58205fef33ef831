"""Evaluation (dlib's `evaluate`): score a postprocessed representation with one metric.

`evaluate(model_dir, output_dir)` reads `<model_dir>/tfhub` (signature `representation`, as
written by `postprocess`), resolves `dataset.name = "auto"` from `postprocess.gin`, runs the
gin-configured `evaluation.evaluation_fn` (e.g. `@mig`) with
`np.random.RandomState(evaluation.random_seed)` and writes `<output_dir>/results` (the previous
results copied in, then the `evaluation` step with the metric's keys and `elapsed_time`).

Unlike dlib, numpy's global RNG is also seeded with `evaluation.random_seed` before the metric:
the estimators dlib builds without a seed (DCI's and downstream's gradient boosting) then give
the same scores on every run (the golden values were made that way with seed 0).
"""

from __future__ import annotations

import os
import time

import gin
import numpy as np

from dynvae_keras import atomic, results
from dynvae_keras.evaluation import postprocess as postprocess_lib
from dynvae_keras.export import saved_model


@gin.configurable("evaluation", denylist=["model_dir", "output_dir", "overwrite"])
def evaluate(model_dir, output_dir, overwrite=False, evaluation_fn=gin.REQUIRED,
             random_seed=gin.REQUIRED, name=""):
  """Scores `<model_dir>/tfhub` and writes `<output_dir>/results` atomically; returns the results."""
  del name
  start = time.time()
  postprocess_lib.require_results(model_dir, "postprocess")
  postprocess_lib.refuse_existing(output_dir, overwrite)
  postprocess_lib.resolve_auto_dataset(model_dir, "postprocess")
  from dynvae_keras.data import named_data  # pylint: disable=g-import-not-at-top
  dataset = named_data.get_named_ground_truth_data()
  representation = saved_model.load_representation_function(os.path.join(model_dir, "tfhub"))
  with atomic.atomic_directory(output_dir, overwrite=overwrite) as tmp:
    artifact_dir = os.path.join(tmp, "artifacts")
    os.makedirs(artifact_dir)
    np.random.seed(int(random_seed))
    results_dict = dict(evaluation_fn(dataset, representation,
                                      random_state=np.random.RandomState(int(random_seed)),
                                      artifact_dir=artifact_dir))
    results_dict["elapsed_time"] = time.time() - start
    results.update_result_directory(os.path.join(tmp, "results"), "evaluation", results_dict,
                                    os.path.join(model_dir, "results"))
    if not os.listdir(artifact_dir):
      os.rmdir(artifact_dir)
  return results_dict
