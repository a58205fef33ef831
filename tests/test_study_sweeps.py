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


def test_cpu30k_study_builds_every_model_with_set_points_at_10_nats_by_step_20000():
  """`study/controlled_beta_study_cpu30k.gin`: 8 models × 2 seeds, each building the model it names,
  with the 30,000-step budget and every KL set point at 10 nats from step 20,000 on."""
  import gin  # pylint: disable=g-import-not-at-top
  from dynvae_keras import models  # pylint: disable=g-import-not-at-top
  settings = study.load_study(str(gin_utils.GIN_CONFIG_DIR / "study" / "controlled_beta_study_cpu30k.gin"))
  points = settings.sweep()
  assert len(points) == 16 and [p.random_seed for p in points[:2]] == [0, 1]
  kinds = {"vae": models.BetaVAE, "beta_vae_16": models.BetaVAE, "annealed_vae": models.AnnealedVAE,
           "control_vae": models.ControlVAE, "dynamic_vae": models.DynamicVAE, "l_vae_uncertainty": models.LVAE,
           "sigma_vae": models.SigmaVAE, "beta_tc_vae": models.BetaTCVAE}
  for point in points[::2]:
    gin_utils.parse([point.model_config], settings.training_bindings(point))
    try:
      model = gin.query_parameter("model.model").scoped_configurable_fn()
      assert type(model) is kinds[point.model_name], point
      assert gin.query_parameter("model.training_steps") == 30000
      assert gin.query_parameter("model.batch_size") == 64
      if point.model_name in ("control_vae", "dynamic_vae"):
        setpoint = model.controller.setpoint
        assert setpoint(10000) < 6.0 and setpoint(20000) == setpoint(30000) == 10.0, (point, setpoint)
      if point.model_name == "annealed_vae":
        config = model.get_config()
        assert (config["c_max"], config["iteration_threshold"]) == (10.0, 20000)
    finally:
      gin.clear_config()
