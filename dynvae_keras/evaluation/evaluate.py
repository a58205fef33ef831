"""Evaluation (dlib's `evaluate`): score a postprocessed representation with one metric.

`evaluate(model_dir, output_dir)` reads `<model_dir>/tfhub` (signature `representation`, as
written by `postprocess`), resolves `dataset.name = "auto"` from `postprocess.gin`, runs the
gin-configured `evaluation.evaluation_fn` (e.g. `@mig`) with
`np.random.RandomState(evaluation.random_seed)` and writes `<output_dir>/results` (the previous
results copied in, then the `evaluation` step with the metric's keys and `elapsed_time`).

Unlike dlib, numpy's global RNG is also seeded with `evaluation.random_seed` before the metric:
the estimators dlib builds without a seed (DCI's and downstream's gradient boosting) then give
the same scores on every run (the golden values were made that way with seed 0).

`evaluation.tabulate = True` or `'auto'` (for mean representations of data sets that render every
observation deterministically from its factors, e.g. dSprites) encodes every observation once
into `<model_dir>/code_table/<dataset>.npy` and lets the metric look codes up: identical scores
(`tests/test_tabulated.py`), and the metrics of one representation share the table. Worth it
when the metrics draw more images than the data set holds (dlib's study sizes: the β-VAE metric
alone draws 1.92M dSprites images, 2.6× the 737,280 in the set).
"""

from __future__ import annotations

import os
import time

import gin
import numpy as np

from dynvae_keras import atomic, results
from dynvae_keras.evaluation import postprocess as postprocess_lib
from dynvae_keras.evaluation import metrics, tabulated
from dynvae_keras.export import saved_model

CODE_TABLE_DIR = "code_table"


def _tabulated_inputs(model_dir, postprocess_gin, dataset, representation, required=True):
  """(data view, lookup) over the cached code table of `model_dir` (see module docstring); when
  not `required`, the inputs unchanged where tabulation does not apply."""
  postprocess_fn = results.bound_value(postprocess_gin, "postprocess.postprocess_fn") or ""
  name = gin.query_parameter("dataset.name")
  if postprocess_fn != "@mean_representation":
    problem = (f"evaluation.tabulate needs a deterministic representation; {model_dir} was postprocessed "
               f"with {postprocess_fn or 'an unknown function'} (sampled codes would be frozen). "
               "Set evaluation.tabulate = False for it.")
  elif not tabulated.supports_tabulation(dataset):
    problem = (f"evaluation.tabulate: {name} cannot enumerate its observations (not rendered "
               "deterministically from the factors); set evaluation.tabulate = False.")
  else:
    return tabulated.cached_tabulate(os.path.join(model_dir, CODE_TABLE_DIR, f"{name}.npy"),
                                     dataset, representation)
  if required:
    raise postprocess_lib.PipelineDirError(problem)
  return dataset, representation


@gin.configurable("evaluation", denylist=["model_dir", "output_dir", "overwrite"])
def evaluate(model_dir, output_dir, overwrite=False, evaluation_fn=gin.REQUIRED,
             random_seed=gin.REQUIRED, name="", tabulate=False):
  """Scores `<model_dir>/tfhub` and writes `<output_dir>/results` atomically; returns the results.

  `tabulate`: score through the cached code table of `model_dir` (module docstring); True
  requires it (error for a sampled representation or a data set that cannot be enumerated),
  'auto' uses it where it applies and the representation directly elsewhere.
  """
  del name
  start = time.time()
  postprocess_gin = postprocess_lib.require_results(model_dir, "postprocess")
  postprocess_lib.refuse_existing(output_dir, overwrite)
  if tabulate not in (True, False, "auto"):
    raise postprocess_lib.PipelineDirError(
        f"evaluation.tabulate must be True, False or 'auto'; got {tabulate!r}.")
  postprocess_lib.resolve_auto_dataset(model_dir, "postprocess")
  from dynvae_keras.data import named_data, provenance  # pylint: disable=g-import-not-at-top
  dataset = named_data.get_named_ground_truth_data()
  metrics.require_factors(metrics.metric_name(evaluation_fn), dataset)
  data_source = provenance.describe(dataset)
  representation = saved_model.load_representation_function(os.path.join(model_dir, "tfhub"))
  if tabulate:
    dataset, representation = _tabulated_inputs(model_dir, postprocess_gin, dataset, representation,
                                                 required=tabulate is True)
  with atomic.atomic_directory(output_dir, overwrite=overwrite) as tmp:
    artifact_dir = os.path.join(tmp, "artifacts")
    os.makedirs(artifact_dir)
    np.random.seed(int(random_seed))
    results_dict = dict(evaluation_fn(dataset, representation,
                                      random_state=np.random.RandomState(int(random_seed)),
                                      artifact_dir=artifact_dir))
    results_dict["elapsed_time"] = time.time() - start
    results.update_result_directory(os.path.join(tmp, "results"), "evaluation", results_dict,
                                    os.path.join(model_dir, "results"), extra_config=data_source)
    if not os.listdir(artifact_dir):
      os.rmdir(artifact_dir)
  return results_dict
