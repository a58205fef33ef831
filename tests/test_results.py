"""dlib's results layout (`dynvae_keras.results`): config strings, aggregates, JSON-valued keys."""

import json
import os

import pytest

from dynvae_keras import results

CONFIG = """# Parameters for model:
# ==============================================================================
model.name = 'beta_vae'
vae.beta = 16.0
"""


def test_gin_dict_maps_binding_lines_to_value_strings():
  assert results.gin_dict_from_str(CONFIG) == {"model.name": "'beta_vae'", "vae.beta": "16.0"}


@pytest.mark.parametrize("value", [
    [], {}, [{"from_step": 0, "cpu": "AMD EPYC, AVX-512, 2 cores", "note": "it's \"quoted\""}],
    {"/data/b.npz": "ab" * 32, "/data/a.npz": "cd" * 32}, 3.5, "plain"])
def test_json_config_value_round_trips(value):
  text = results.json_config_value(value)
  assert isinstance(text, str) and text[0] in "'\""  # quoted like a gin string binding
  assert results.parse_json_config_value(text) == value


def test_json_config_value_is_independent_of_key_order():
  assert (results.json_config_value({"b": 1, "a": 2})
          == results.json_config_value({"a": 2, "b": 1}) == "'{\"a\": 2, \"b\": 1}'")


def test_update_result_directory_writes_and_aggregates_a_step(tmp_path):
  sittings = [{"from_step": 0, "cpu": "x"}, {"from_step": 30, "cpu": "y"}]
  first = results.update_result_directory(
      str(tmp_path / "train_results"), "train", {"loss": 1.5}, operative_config=CONFIG,
      extra_config={"runtime.sittings": results.json_config_value(sittings)})
  assert first["train_config.vae.beta"] == "16.0"
  assert first["train_results.loss"] == 1.5 and "train_results.uuid" in first
  assert results.parse_json_config_value(first["train_config.runtime.sittings"]) == sittings
  second = results.update_result_directory(
      str(tmp_path / "eval_results"), "evaluation", {"discrete_mig": 0.25},
      old_result_directory=str(tmp_path / "train_results"), operative_config="metric.name = 'mig'\n")
  assert second["evaluation_results.discrete_mig"] == 0.25
  assert second["train_config.vae.beta"] == "16.0"  # the previous step's results carried over
  with open(tmp_path / "eval_results" / "aggregate" / "evaluation.json") as f:
    assert json.load(f) == second
  assert sorted(os.listdir(tmp_path / "eval_results" / "json")) == [
      "evaluation_config.json", "evaluation_results.json", "train_config.json",
      "train_results.json"]


def test_update_result_directory_leaves_nothing_when_the_previous_step_is_missing(tmp_path):
  with pytest.raises(FileNotFoundError, match="does not exist"):
    results.update_result_directory(str(tmp_path / "out"), "evaluation", {},
                                    old_result_directory=str(tmp_path / "missing"),
                                    operative_config="")
  assert os.listdir(tmp_path) == []
