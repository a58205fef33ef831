"""Run records: what `dynvae report` reads of one finished run of a study, in one small file.

A study's output directory holds models, checkpoints and representations (tens of MB per run);
a report reads only a table row and the training log of each run. `dynvae report` writes that
as `runs/<model_num>.json` next to its tables (25–40 KB for a run of 30,000 steps logged every
250), and `--records DIR` reads such files back for the runs its `--study_dir` lacks. A study
spread over machines whose disks do not outlive them (preemptible nodes, several sittings) is
reported from the union: keep the records of finished runs, rerun `dynvae study` with
`--model_nums` for the others.

A record states the run it comes from — the model config and every training binding of its
sweep point (model number, seed, data set, step budget), the postprocessing and the metric
configs and bindings — and is refused for a study whose point differs in any of them.

File format (JSON, NaN allowed): {"format": FORMAT, "run": <identity>, "row": {column: value,
and "sittings": where the run was trained (`cpu_runtime.sitting`), when its results record it},
"log": {column: [float per logged interval]}}. Where a run was trained is not part of its
identity: the same run on another CPU is the same experiment with other float rounding.
"""

from __future__ import annotations

import os

from dynvae_keras import atomic
from dynvae_keras.errors import DynvaeError
from dynvae_keras.pipeline.study import config_stem

FORMAT = "dynvae-run-record/1"


class RecordMismatchError(DynvaeError, ValueError):
  """A run record was written for another study, sweep point or metric set-up."""


def identity(settings, point):
  """What makes two runs the same run: the sweep point's model config and training bindings, the
  postprocessing the report reads and the metric configs and bindings."""
  return {"model_config": point.model_config,
          "training_bindings": list(settings.training_bindings(point)),
          "postprocessing": config_stem(settings.postprocess_configs[0]),
          "metric_configs": list(settings.metric_configs),
          "metric_bindings": list(settings.metric_bindings)}


def path(directory, model_num):
  """The record file of model `model_num` in `directory`."""
  return os.path.join(directory, f"{model_num}.json")


def write(directory, settings, point, row, log):
  """Writes the record of one reported run (atomically) and returns its path."""
  target = path(directory, point.model_num)
  atomic.save_json(target, {"format": FORMAT, "run": identity(settings, point), "row": row,
                            "log": log})
  return target


def read(directories, settings, point):
  """(row, log) of `point` from the first of `directories` holding its record, or None.

  Raises `RecordMismatchError` when that record describes a different run."""
  for directory in directories:
    source = path(directory, point.model_num)
    if not os.path.isfile(source):
      continue
    record = atomic.load_json(source)
    if record.get("format") != FORMAT:
      raise RecordMismatchError(f"{source} is not a run record of format {FORMAT!r} (found "
                                f"{record.get('format')!r}); pass the runs/ folder of a "
                                "`dynvae report` output to --records.")
    expected, recorded = identity(settings, point), record.get("run", {})
    differing = sorted(k for k in expected if recorded.get(k) != expected[k])
    if differing:
      details = "; ".join(f"{k}: record {recorded.get(k)!r}, study {expected[k]!r}"
                          for k in differing)
      raise RecordMismatchError(
          f"{source} records another run than model {point.model_num} of this study ({details}). "
          "Pass the records of this study only, or rerun that model with `dynvae study "
          f"--model_nums {point.model_num}`.")
    return record["row"], record["log"]
  return None
