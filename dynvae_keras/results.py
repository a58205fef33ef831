"""dlib's results layout: `results/{gin,json,aggregate}` per pipeline step.

For a step called `<step>` (train, postprocess, evaluation):

* `gin/<step>.gin`: the operative gin config;
* `json/<step>_config.json`: every `a.b = v` line of it as a key/value string;
* `json/<step>_results.json`: the step's results (plus `elapsed_time` and `uuid`);
* `aggregate/<step>.json`: every `json/*.json` merged, keys namespaced by file stem
  (`train_config.model.name`, `evaluation_results.discrete_mig`, ...).

Each step starts from a copy of the previous step's results directory. Writes are atomic:
the new results directory replaces the old one only once complete.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import shutil
import uuid as uuid_lib

import gin

from dynvae_keras import atomic


def gin_dict_from_str(operative_config: str) -> dict:
  """Maps each `key = value` binding line of a gin config to its value string (dlib's `gin_dict`)."""
  result = {}
  for line in operative_config.split("\n"):
    if line.startswith("#") or " = " not in line:
      continue
    key, value = line.split(" = ", 1)
    result[key] = value
  return result


def bound_value(gin_path: str, key: str) -> str | None:
  """The value string bound to `key` (e.g. `postprocess.postprocess_fn`) in a results gin file, or None."""
  with open(gin_path, encoding="utf-8") as f:
    return gin_dict_from_str(f.read()).get(key)


def dataset_name(gin_path: str) -> str | None:
  """The unquoted `dataset.name` bound in a results gin file (e.g. `train.gin`), or None."""
  value = bound_value(gin_path, "dataset.name")
  return None if value is None else value.strip("'\"")


def json_config_value(value) -> str:
  """A JSON-serialisable value as a config value string for `extra_config`: its JSON text
  (sorted keys) quoted like a gin string binding, e.g. `'{"a": 1}'`. `parse_json_config_value`
  reads it back."""
  return repr(json.dumps(value, sort_keys=True))


def parse_json_config_value(text: str):
  """The value of a `json_config_value` string (as read from a `<step>_config.json` or an
  aggregate)."""
  return json.loads(ast.literal_eval(text))


def namespaced_dict(base_dict=None, **named_dicts) -> dict:
  """Merges dicts with keys `<name>.<key>` (dlib's `namespaced_dict`)."""
  result = dict(base_dict or {})
  for outer, inner in named_dicts.items():
    for key, value in inner.items():
      result[f"{outer}.{key}"] = value
  return result


def aggregate_json_directory(json_dir: str) -> dict:
  """All `*.json` in `json_dir` merged, namespaced by file stem."""
  named = {}
  for path in sorted(glob.glob(os.path.join(json_dir, "*.json"))):
    named[os.path.splitext(os.path.basename(path))[0]] = atomic.load_json(path)
  return namespaced_dict(**named)


def update_result_directory(result_directory: str, step_name: str, results_dict: dict,
                            old_result_directory: str | None = None,
                            operative_config: str | None = None,
                            extra_config: dict | None = None) -> dict:
  """Writes the results of `step_name` into `result_directory` (atomically) and returns the aggregate.

  Args:
    result_directory: the `results` directory to (re)write.
    step_name: 'train', 'postprocess' or 'evaluation'.
    results_dict: the step's results; `uuid` is added if absent.
    old_result_directory: the previous step's `results` directory to copy in first.
    operative_config: gin config text; default `gin.operative_config_str()`.
    extra_config: key/value strings added to `<step>_config.json` (e.g. the data provenance of
      `dynvae_keras.data.provenance.describe`, keys `dataset.source` and `dataset.files`).
  """
  results_dict = dict(results_dict)
  results_dict.setdefault("uuid", str(uuid_lib.uuid4()))
  config_text = gin.operative_config_str() if operative_config is None else operative_config
  with atomic.atomic_directory(result_directory, overwrite=True) as tmp:
    if old_result_directory is not None:
      if not os.path.isdir(old_result_directory):
        raise FileNotFoundError(f"Previous results directory {old_result_directory} does not exist.")
      shutil.copytree(old_result_directory, tmp, dirs_exist_ok=True)
    os.makedirs(os.path.join(tmp, "gin"), exist_ok=True)
    with open(os.path.join(tmp, "gin", f"{step_name}.gin"), "w", encoding="utf-8") as f:
      f.write(config_text)
    atomic.save_json(os.path.join(tmp, "json", f"{step_name}_config.json"),
                     {**gin_dict_from_str(config_text), **(extra_config or {})})
    atomic.save_json(os.path.join(tmp, "json", f"{step_name}_results.json"), results_dict)
    aggregate = aggregate_json_directory(os.path.join(tmp, "json"))
    atomic.save_json(os.path.join(tmp, "aggregate", f"{step_name}.json"), aggregate)
  return aggregate
