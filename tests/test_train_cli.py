"""`dynvae train` as a user runs it: gin configs, the model_dir layout, dlib's results, errors."""

import csv
import glob
import json
import os
import subprocess
import sys

import gin
import keras
import numpy as np
import pytest

from conftest import run_python_result
from dynvae_keras import cli, gin_utils, models
from dynvae_keras.pipeline import train

MODEL_CONFIGS = {
    "vae.gin": (models.BetaVAE, {"beta": 1.0}),
    "beta_vae.gin": (models.BetaVAE, {"beta": 4.0}),
    "annealed_vae.gin": (models.AnnealedVAE, {"c_max": 25.0, "gamma": 1000.0, "iteration_threshold": 100000}),
    "factor_vae.gin": (models.FactorVAE, {"gamma": 10.0, "discriminator_fn": "fc_discriminator"}),
    "dip_vae_i.gin": (models.DIPVAE, {"lambda_od": 1.0, "lambda_d_factor": 10.0, "dip_type": "i"}),
    "dip_vae_ii.gin": (models.DIPVAE, {"lambda_od": 1.0, "lambda_d_factor": 1.0, "dip_type": "ii"}),
    "beta_tc_vae.gin": (models.BetaTCVAE, {"beta": 6.0}),
}


def test_every_model_config_is_listed():
  shipped = {os.path.basename(p) for p in glob.glob(str(gin_utils.GIN_CONFIG_DIR / "model" / "*.gin"))}
  assert shipped - {"shared.gin"} >= set(MODEL_CONFIGS)


@pytest.mark.parametrize("name", sorted(MODEL_CONFIGS))
def test_model_configs_parse_and_build(name):
  cls, expected = MODEL_CONFIGS[name]
  gin_utils.parse([f"model/{name}"])
  try:
    model = gin.query_parameter("model.model").scoped_configurable_fn()
    assert type(model) is cls
    config = model.get_config()
    for key, value in expected.items():
      assert config[key] == value, key
    assert config["num_latent"] == 10 and config["encoder_fn"] == "conv_encoder"
    assert config["decoder_fn"] == "deconv_decoder" and config["reconstruction_loss"] == "bernoulli_loss"
    assert gin.query_parameter("model.batch_size") == 64
    assert gin.query_parameter("model.training_steps") == 300000
    optimizer = gin.query_parameter("vae_optimizer.optimizer_fn").scoped_configurable_fn()
    assert float(optimizer.learning_rate) == pytest.approx(1e-4) and optimizer.beta_1 == 0.9
  finally:
    gin.clear_config()


def test_cpu_budget_annealed_config_is_the_documented_run():
  """`model/annealed_vae_dsprites_cpu.gin` holds the settings of docs/REPRODUCTION.md's annealed run."""
  gin_utils.parse(["model/annealed_vae_dsprites_cpu.gin"])
  try:
    model = gin.query_parameter("model.model").scoped_configurable_fn()
    assert type(model) is models.AnnealedVAE
    config = model.get_config()
    assert (config["c_max"], config["gamma"], config["iteration_threshold"]) == (10.0, 1000.0, 20000)
    assert config["encoder_fn"] == "conv_encoder" and config["decoder_fn"] == "deconv_decoder"
    assert gin.query_parameter("dataset.name") == "dsprites_full"
    assert (gin.query_parameter("model.batch_size"), gin.query_parameter("model.training_steps")) == (64, 30000)
    optimizer = gin.query_parameter("vae_optimizer.optimizer_fn").scoped_configurable_fn()
    assert float(optimizer.learning_rate) == pytest.approx(5e-4)
    assert gin.query_parameter("model.eval_metrics_every") == 1000
  finally:
    gin.clear_config()


def test_factor_vae_discriminator_optimizer_from_gin():
  gin_utils.parse(["model/factor_vae.gin"])
  try:
    from dynvae_keras.models import factories
    optimizer = factories.discriminator_optimizer()
    assert (optimizer.beta_1, optimizer.beta_2) == (0.5, 0.9)
  finally:
    gin.clear_config()


def _train_cli(model_dir, *bindings, config="model/beta_vae.gin", extra=()):
  argv = ["train", "--model_dir", str(model_dir), "--gin_config", config,
          "--gin_bindings", "model.training_steps=50", "--gin_bindings", "model.eval_steps=3",
          "--gin_bindings", "model.batch_size=16", "--gin_bindings", "encoder.num_latent=4", *extra]
  for b in bindings:
    argv += ["--gin_bindings", b]
  return cli.main(argv)


def test_train_cli_writes_dlib_layout(tmp_path, capsys):
  model_dir = tmp_path / "model"
  assert _train_cli(model_dir, "model.log_every=25") == 0
  assert "Trained model written" in capsys.readouterr().out
  assert (model_dir / "model.keras").exists()
  results = model_dir / "results"
  gin_text = (results / "gin" / "train.gin").read_text()
  assert "dataset.name = 'dsprites_full'" in gin_text and "vae.beta = 4.0" in gin_text
  config = json.loads((results / "json" / "train_config.json").read_text())
  assert config["model.name"] == "'beta_vae'" and config["model.training_steps"] == "50"
  assert config["dataset.source"].startswith("'procedural dSprites renderer ")  # no official file here
  assert config["dataset.files"] == "'{}'"
  train_results = json.loads((results / "json" / "train_results.json").read_text())
  for key in ("loss", "reconstruction_loss", "kl_loss", "elbo", "regularizer", "elapsed_time", "uuid"):
    assert key in train_results
  assert train_results["global_step"] == 50
  # dlib's vae.py evaluates `elbo` as −(reconstruction + KL): a negative number.
  assert train_results["elbo"] == pytest.approx(
      -(train_results["reconstruction_loss"] + train_results["kl_loss"]), rel=1e-5)
  assert train_results["elbo"] < 0
  assert train_results["loss"] == pytest.approx(
      train_results["reconstruction_loss"] + train_results["regularizer"], rel=1e-5)
  aggregate = json.loads((results / "aggregate" / "train.json").read_text())
  assert aggregate["train_config.model.name"] == "'beta_vae'"
  assert aggregate["train_config.dataset.source"] == config["dataset.source"]
  assert aggregate["train_results.global_step"] == 50 and "train_results.uuid" in aggregate
  with open(model_dir / "logs" / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  assert [int(r["step"]) for r in rows] == [25, 50]
  assert {"beta", "kl_loss", "reconstruction_loss"} <= set(rows[0])
  assert glob.glob(str(model_dir / "logs" / "train" / "events.out.tfevents.*"))
  assert (model_dir / "checkpoints" / "checkpoint.keras").exists()
  assert not [p for p in os.listdir(model_dir) if p.startswith(".")]


def test_factor_vae_counts_dlib_global_steps(tmp_path):
  """dlib advances its global step once per optimizer: FactorVAE's 12 steps are 6 iterations."""
  model_dir = tmp_path / "factor"
  assert _train_cli(model_dir, "model.training_steps=12", "model.log_every=3",
                    config="model/factor_vae.gin") == 0
  train_results = json.loads((model_dir / "results" / "json" / "train_results.json").read_text())
  assert train_results["global_step"] == 12
  model = keras.saving.load_model(str(model_dir / "model.keras"))
  assert int(keras.ops.convert_to_numpy(model.step)) == 6
  with open(model_dir / "logs" / "metrics.csv") as f:
    assert [int(r["step"]) for r in csv.DictReader(f)] == [3, 6]


def test_finished_run_refused_without_overwrite(tmp_path, capsys):
  model_dir = tmp_path / "model"
  assert _train_cli(model_dir, "model.training_steps=4", "model.log_every=2") == 0
  before = (model_dir / "results" / "json" / "train_results.json").read_text()
  assert _train_cli(model_dir, "model.training_steps=4") == 2
  assert "--overwrite" in capsys.readouterr().err
  assert (model_dir / "results" / "json" / "train_results.json").read_text() == before
  assert _train_cli(model_dir, "model.training_steps=4", extra=["--overwrite"]) == 0
  assert (model_dir / "results" / "json" / "train_results.json").read_text() != before


def test_foreign_directory_refused(tmp_path, capsys):
  (tmp_path / "notes.txt").write_text("mine")
  assert _train_cli(tmp_path) == 2
  assert "not a dynvae model directory" in capsys.readouterr().err
  assert os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("binding,message", [
    ("vae.betta = 4.", "betta"),
    ("modle.training_steps = 5", "modle"),
    ("dataset.name = 'dsprites_ful'", "dsprites_ful"),
    ("model.training_steps = 'abc'", "model.training_steps must be an integer"),
    ("model.batch_size = 0", "model.batch_size must be an integer >= 1"),
    ("model.dtype_policy = 'mixed_float16'", "loss scaling"),
])
def test_bad_bindings_give_one_line_errors(tmp_path, capsys, binding, message):
  code = _train_cli(tmp_path / "m", binding)
  err = capsys.readouterr().err
  assert code == 2
  assert message in err and "Traceback" not in err
  assert not (tmp_path / "m").exists() or not os.listdir(tmp_path / "m")


def test_missing_config_file(tmp_path, capsys):
  assert _train_cli(tmp_path / "m", config="model/nope.gin") == 2
  assert "nope.gin" in capsys.readouterr().err


@pytest.mark.parametrize("batch,match", [
    (np.zeros((2, 8, 8)), "4-D"), (np.zeros((2, 8, 8, 2)), "channels"),
    (np.full((2, 8, 8, 1), np.nan), "NaN"), (np.full((2, 8, 8, 1), 255.0), r"\[0, 1\]"),
])
def test_bad_training_images_rejected(batch, match):
  with pytest.raises(ValueError, match=match):
    train.check_observations(batch)


def test_tensorboard_events_once_per_interval_and_no_per_step_work(tmp_path):
  """The driver's TensorBoard callback writes each logged value once per logging interval and
  nothing per step, and lets Keras read each call's logs in the background (it never makes
  `fit` wait for the device after a compiled call; bench/fit_overhead.py times the difference)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "model"
  assert _train_cli(model_dir, "model.training_steps=8", "model.log_every=4") == 0
  steps = {}
  for path in glob.glob(str(model_dir / "logs" / "train" / "events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        steps.setdefault(value.tag, []).append(event.step)
  assert steps["epoch_loss"] == [0, 1] and steps["epoch_beta"] == [0, 1]
  assert not [tag for tag in steps if tag.startswith("batch_")]
  # Keras reads batch-end logs in the background on thread-safe backends (JAX, torch) unless a
  # callback does per-batch work; Keras' own TensorBoard callback does, the driver's set does not.
  async_train = run_python_result(ASYNC_TRAIN.format(model_dir=str(tmp_path / "jax")), "jax")
  assert async_train == {"driver": True, "with_keras_tensorboard": False}


ASYNC_TRAIN = r"""
import json, os, keras
from dynvae_keras.pipeline import train
callbacks = train.training_callbacks({model_dir!r}, interval=4, checkpoint_every=4)
async_train = lambda callbacks: keras.callbacks.CallbackList(callbacks)._async_train
keras_tensorboard = keras.callbacks.TensorBoard(os.path.join({model_dir!r}, "logs"), update_freq="epoch")
print("RESULT" + json.dumps(dict(driver=async_train(callbacks),
                                 with_keras_tensorboard=async_train(callbacks + [keras_tensorboard]))))
"""


def test_configs_listing_stops_quietly_when_its_reader_has_gone(tmp_path):
  # `dynvae configs | grep -q ...` / `| head -1`: the reader may close the pipe before the write.
  read_end, write_end = os.pipe()
  os.close(read_end)
  proc = subprocess.run([sys.executable, "-m", "dynvae_keras.cli", "configs"], stdout=write_end,
                        stderr=subprocess.PIPE, text=True, timeout=120,
                        env=dict(os.environ, PYTHONUNBUFFERED="1"))
  os.close(write_end)
  assert proc.returncode == 0 and "Error" not in proc.stderr, proc.stderr
