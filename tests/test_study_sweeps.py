"""Study sweeps: model_num names exactly the model dlib's sweep names."""

import csv
import gzip
import pathlib

from dynvae_keras import gin_utils
from dynvae_keras.pipeline import study

DATA = pathlib.Path(__file__).parent / "data"


def _binding(text):
  key, value = (part.strip() for part in text.split("=", 1))
  return key, float(value)


def test_unsupervised_study_v1_numbers_models_as_dlib():
  """Every model_num of dlib's unsupervised_study_v1 (tests/data/README.md says how the fixture
  was derived from dlib's sweep definition) maps to the same data set, model, hyper-parameter
  value and seed in our study gin."""
  settings = study.load_study(str(gin_utils.GIN_CONFIG_DIR / "study" / "unsupervised_study_v1.gin"))
  ours = settings.sweep()
  with gzip.open(DATA / "dlib_unsupervised_study_v1_sweep.csv.gz", "rt", encoding="utf-8") as f:
    dlib = list(csv.DictReader(f))
  assert len(ours) == len(dlib) == 12600
  for point, row in zip(ours, dlib):
    assert point.model_num == int(row["model_num"])
    assert (point.dataset, point.model_name, point.random_seed) == (
        row["dataset.name"], row["model.name"], int(row["model.random_seed"])), point
    assert [_binding(b) for b in point.model_bindings] == [(row["hyperparameter"], float(row["value"]))], point
