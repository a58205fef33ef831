"""Disentanglement metrics during training: logged scores equal direct metric calls, the
training is untouched, the CLI logs them to the CSV and `dynvae visualize` plots them.
(Resume with metrics on: tests/test_resume.py.)"""

import csv
import functools
import math

import keras
import numpy as np
import pytest

from dynvae_keras import cli, data, models
from dynvae_keras.evaluation.metrics import compute_dci, compute_mig
from dynvae_keras.evaluation.training_metrics import SECONDS_KEY, DisentanglementMetrics
from dynvae_keras.export import representation_function_from_model
from helpers import to_numpy

MIG = functools.partial(compute_mig, num_train=300, batch_size=64)
DCI = functools.partial(compute_dci, num_train=300, num_test=100, batch_size=64)


def _model():
  keras.utils.set_random_seed(0)
  model = models.BetaVAE(beta=4.0, num_latent=4, encoder_fn="mlp_encoder", decoder_fn="mlp_decoder")
  model.build((None, 32, 32, 1))  # the initial weights now, from the seed just set
  model.compile(optimizer=keras.optimizers.Adam(1e-3))
  return model


def _fit(model, callbacks):
  stream = data.training_input(data.Rectangles(), 32, 60, seed=0)
  return model.fit(stream, epochs=3, steps_per_epoch=20, verbose=0, callbacks=callbacks).history


def test_logged_scores_equal_direct_calls_and_leave_training_untouched():
  callback = DisentanglementMetrics(data.Rectangles(), {"mig": MIG, "dci": DCI}, every_steps=30,
                                    steps_per_interval=20)
  scored, plain = _model(), _model()
  history = _fit(scored, [callback])
  reference = _fit(plain, [])
  # Scored at the first interval end reaching each multiple of 30 steps: steps 40 and 60.
  assert len(history["mig/discrete_mig"]) == 2 and len(history[SECONDS_KEY]) == 2
  assert {"dci/disentanglement", "dci/completeness", "dci/informativeness_test"} <= set(history)
  representation = representation_function_from_model(scored)
  assert history["mig/discrete_mig"][-1] == MIG(data.Rectangles(), representation, np.random.RandomState(0))["discrete_mig"]
  np.random.seed(0)  # DCI's gradient-boosted trees draw from NumPy's global RNG (as in dlib)
  assert history["dci/disentanglement"][-1] == DCI(data.Rectangles(), representation,
                                                   np.random.RandomState(0))["disentanglement"]
  # The same weights, losses and sampling-noise state as a run without the callback.
  np.testing.assert_allclose(history["loss"], reference["loss"], rtol=1e-6)
  for a, b in zip(scored.weights, plain.weights):
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-7)
  np.testing.assert_array_equal(to_numpy(scored.seed_generator.state), to_numpy(plain.seed_generator.state))


def test_scoring_leaves_numpy_global_rng_alone():
  model = _model()
  callback = DisentanglementMetrics(data.Rectangles(), [DCI], 1, 1)
  callback.set_model(model)
  np.random.seed(123)
  expected = np.random.get_state()[1].copy()
  first = callback.scores()
  np.testing.assert_array_equal(np.random.get_state()[1], expected)
  np.random.seed(7)
  assert callback.scores()["dci/disentanglement"] == first["dci/disentanglement"]


def test_bad_arguments():
  with pytest.raises(ValueError, match="at least one metric"):
    DisentanglementMetrics(data.Rectangles(), [], 10, 10)
  with pytest.raises(ValueError, match="every_steps"):
    DisentanglementMetrics(data.Rectangles(), [compute_mig], 0, 10)


def test_cli_logs_scores_to_the_csv_and_visualize_plots_them(tmp_path, capsys):
  model_dir = tmp_path / "model"
  bindings = ["model.training_steps = 40", "model.log_every = 10", "model.eval_steps = 2",
              "model.eval_metrics_every = 20", "mig.num_train = 200", "mig.batch_size = 64"]
  argv = ["train", "--model_dir", str(model_dir), "--gin_config", "model/beta_vae_rectangles.gin"]
  for binding in bindings:
    argv += ["--gin_bindings", binding]
  assert cli.main(argv) == 0
  with open(model_dir / "logs" / "metrics.csv", newline="") as f:
    rows = list(csv.DictReader(f))
  assert [int(r["step"]) for r in rows] == [10, 20, 30, 40]
  logged = [r["mig/discrete_mig"] for r in rows]
  assert logged[0] == "" and logged[2] == "" and all(0 <= float(v) <= 1 for v in logged[1::2])
  assert math.isfinite(float(rows[-1][SECONDS_KEY]))
  assert cli.main(["visualize", "--model_dir", str(model_dir), "--output_dir", str(tmp_path / "figures")]) == 0
  assert (tmp_path / "figures" / "metric_curves.png").stat().st_size > 0
  from dynvae_keras.visualize import run_title  # pylint: disable=g-import-not-at-top
  assert run_title(model_dir) == "beta_vae_rectangles, seed 0, rectangles"  # the figures' title
  # eval_metrics without eval_metrics_every is a configuration error naming both.
  capsys.readouterr()
  bad = ["train", "--model_dir", str(tmp_path / "bad"), "--gin_config", "model/beta_vae_rectangles.gin",
         "--gin_bindings", "model.eval_metrics_every = None"]
  assert cli.main(bad) == 2
  assert "model.eval_metrics_every" in capsys.readouterr().err
