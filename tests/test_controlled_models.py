"""Controllers inside `model.fit`: same β as stepping by hand, fused steps, save/load, L-VAE, σ-VAE."""

import keras
import numpy as np
import pytest

from conftest import run_python_result
from dynvae_keras import control, data, models
from helpers import dsprites, fit, to_numpy


def _controller():
  return control.IncrementalPIController(control.HybridAnnealingSetPoint(0.5, 1.0, 4, 2, 10.0),
                                         beta_0=20.0, beta_min=0.1, kp=0.05, ki=0.5, window=3)


def _per_step_history(model, steps, **compile_kwargs):
  """Trains one step per Keras epoch so that `kl_loss` is each step's batch KL."""
  model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_kwargs)
  stream = data.training_input(dsprites(), 16, steps, seed=0)
  return model.fit(stream, epochs=steps, steps_per_epoch=1, shuffle=False, verbose=0).history


def test_fit_beta_equals_controller_stepped_by_hand_on_logged_kls():
  model = models.DynamicVAE(controller=_controller(), num_latent=4)
  history = _per_step_history(model, 12)
  replay = _controller()
  for kl, beta, setpoint in zip(history["kl_loss"], history["beta"], history["kl_setpoint"]):
    logs = replay.update(kl)
    assert float(to_numpy(logs["beta"])) == pytest.approx(beta, rel=1e-5)
    assert float(to_numpy(logs["kl_setpoint"])) == pytest.approx(setpoint, rel=1e-6)
  assert int(to_numpy(model.controller.step)) == 12


def test_fused_steps_give_the_same_trajectory():
  single = models.DynamicVAE(controller=_controller(), num_latent=4, seed=3)
  fused = models.DynamicVAE(controller=_controller(), num_latent=4, seed=3)
  keras.utils.set_random_seed(0)
  single.build((None, 64, 64, 1))
  fused.build((None, 64, 64, 1))
  fused.set_weights(single.get_weights())
  fit(single, 12, steps_per_execution=1)
  fit(fused, 12, steps_per_execution=4)
  for name in ("beta", "previous_output", "integral", "step"):
    assert float(to_numpy(getattr(fused.controller, name))) == pytest.approx(
        float(to_numpy(getattr(single.controller, name))), rel=1e-4), name
  np.testing.assert_allclose(to_numpy(fused.controller.average.buffer),
                             to_numpy(single.controller.average.buffer), rtol=1e-4)


def test_controller_state_survives_save_and_continues(tmp_path):
  model = models.ControlVAE(controller=control.PIController(control.StaircaseSetPoint(0.5, 1.0, 3, 8.0),
                                                            kp=0.01, ki=0.05), num_latent=4)
  fit(model, 7)
  model.save(tmp_path / "m.keras")
  restored = keras.saving.load_model(tmp_path / "m.keras")
  for a, b in zip(model.controller.weights, restored.controller.weights):
    assert float(to_numpy(a)) == float(to_numpy(b)), a.path
  fit(model, 4, start_step=7)
  fit(restored, 4, start_step=7)
  assert int(to_numpy(restored.controller.step)) == 11
  assert float(to_numpy(restored.beta)) == pytest.approx(float(to_numpy(model.beta)), rel=1e-5)
  assert float(to_numpy(restored.controller.integral)) == pytest.approx(
      float(to_numpy(model.controller.integral)), rel=1e-4, abs=1e-7)


def test_evaluation_does_not_advance_the_controller():
  model = models.DynamicVAE(controller=_controller(), num_latent=4)
  fit(model, 5)
  before = [float(to_numpy(w)) for w in model.controller.weights if w.shape == ()]
  logs = model.evaluate(data.training_input(dsprites(), 8, 3, seed=9), steps=3, verbose=0, return_dict=True)
  assert [float(to_numpy(w)) for w in model.controller.weights if w.shape == ()] == before
  assert logs["beta"] == pytest.approx(before[1])


def test_controller_drives_beta_tcvae_tc_weight_and_annealed_capacity():
  tc_model = models.BetaTCVAE(controller=control.PIController(control.ConstantSetPoint(0.0), beta_min=1.0),
                              dataset_size=737280, num_latent=4)
  history = fit(tc_model, 4).history
  assert {"beta", "tc_weight", "tc_setpoint", "tc_feedback", "tc"} <= set(history)
  assert "kl_setpoint" not in history and history["tc_weight"][-1] >= 1.0
  assert history["beta"][-1] == pytest.approx(1.0 + history["tc_weight"][-1])
  # the controller sees the TC in nats: dlib's estimate plus (D − 1)·log(B·N)
  model_tc = tc_model.tc_in_nats(0.0, 8)
  assert float(to_numpy(model_tc)) == pytest.approx(3 * np.log(8 * 737280), rel=1e-6)
  annealed = models.AnnealedVAE(gamma=10.0, capacity_schedule=control.StaircaseSetPoint(1.0, 1.0, 2, 5.0),
                                num_latent=4)
  assert fit(annealed, 6).history["capacity"][-1] == pytest.approx(min(5.0, 1.0 + 6 // 2))


def test_ambiguous_beta_arguments_are_refused():
  """A controlled model's β comes from its controller: a `beta` would be silently dropped."""
  for make in (lambda: models.DynamicVAE(beta=4.0), lambda: models.ControlVAE(beta=4.0),
               lambda: models.BetaVAE(beta=4.0, controller=control.PIController()),
               lambda: models.BetaTCVAE(beta=4.0, controller=control.PIController(), dataset_size=10)):
    with pytest.raises(ValueError, match="would be ignored"):
      make()
  with pytest.raises(ValueError, match="dataset_size"):
    models.BetaTCVAE(controller=control.PIController())
  with pytest.raises(ValueError, match="would be ignored"):
    models.SigmaVAE(reconstruction_loss="bernoulli_loss")


@pytest.mark.parametrize("parameterisation", ["uncertainty", "softmax"])
def test_lvae_trains_with_finite_weights_and_separate_learning_rate(parameterisation, tmp_path):
  model = models.LVAE(parameterisation=parameterisation, weights_learning_rate=1e-2, num_latent=4)
  history = fit(model, 10).history
  for key in ("beta", "weight_reconstruction", "weight_kl"):
    assert np.isfinite(history[key][-1]) and history[key][-1] > 0
  assert isinstance(model.optimizer, keras.optimizers.MultiOptimizer)
  model.save(tmp_path / "l.keras")
  restored = keras.saving.load_model(tmp_path / "l.keras")
  np.testing.assert_array_equal(to_numpy(restored.loss_weights.logits), to_numpy(model.loss_weights.logits))


def _optimise_weights(layer, recon, kl, steps=1500, lr=0.05):
  import tensorflow as tf
  optimizer = keras.optimizers.Adam(lr)
  optimizer.build(layer.trainable_variables)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss, logs = layer.combine(recon, kl)
    optimizer.apply(tape.gradient(loss, layer.trainable_variables), layer.trainable_variables)
    return logs

  for _ in range(steps):
    logs = step()
  return {k: float(to_numpy(v)) for k, v in logs.items()}


def test_softmax_regulariser_prevents_collapse_on_a_toy_problem():
  # Constant terms L_R = 100 ≫ KL = 1 pull all weight onto the KL term.
  free = _optimise_weights(control.LearnableLossWeights("softmax", regularizer_weight=0.0), 100.0, 1.0)
  kept = _optimise_weights(control.LearnableLossWeights("softmax", regularizer_weight=1.0), 100.0, 1.0)
  assert free["weight_reconstruction"] < 0.002
  # Equilibrium of λ(2w_K − 1) = w_R·w_K·(L_R − KL): w_R ≈ 1/99.
  assert kept["weight_reconstruction"] == pytest.approx(0.0099, rel=0.1)
  squared = _optimise_weights(control.LearnableLossWeights("softmax", "squared_difference", 100.0), 100.0, 1.0)
  assert squared["weight_reconstruction"] > 0.2


def test_uncertainty_anti_bias_term_bounds_beta():
  """With a vanishing KL plain uncertainty weighting drives β = L_R / KL to infinity; the
  anti-bias term λ·(log β)² holds β at the root of β(1 + 2λ log β)/(1 − 2λ log β) = L_R / KL."""
  plain = _optimise_weights(control.LearnableLossWeights("uncertainty", "none"), 100.0, 1e-2,
                            steps=3000, lr=0.05)
  assert plain["beta"] > 2000  # heading for L_R / KL = 1e4
  bounded = _optimise_weights(control.LearnableLossWeights("uncertainty", "log_ratio", 0.2), 100.0, 1e-2,
                              steps=3000, lr=0.05)
  log_beta = np.log(bounded["beta"])
  assert log_beta < 1 / (2 * 0.2)
  ratio = bounded["beta"] * (1 + 0.4 * log_beta) / (1 - 0.4 * log_beta)
  assert ratio == pytest.approx(1e4, rel=0.05)
  assert bounded["weight_reconstruction"] * 100.0 == pytest.approx(1 + 0.4 * log_beta, rel=0.02)


def test_uncertainty_weights_converge_to_inverse_losses():
  logs = _optimise_weights(control.LearnableLossWeights("uncertainty", "none"), 100.0, 4.0, steps=3000, lr=0.05)
  assert logs["weight_reconstruction"] == pytest.approx(1 / 100.0, rel=0.05)
  assert logs["weight_kl"] == pytest.approx(1 / 4.0, rel=0.05)
  assert logs["beta"] == pytest.approx(25.0, rel=0.1)  # exp(s_R − s_K) = L_R / KL


def test_sigma_vae_reconstruction_uses_batch_mse():
  model = models.SigmaVAE(num_latent=4)
  x = data.sample_batch(dsprites(), 8, 0, 0)
  logits = np.random.RandomState(0).normal(size=x.shape).astype("float32")
  per_example, extra = model.reconstruction(x, logits)
  mse = np.mean((x - 1 / (1 + np.exp(-logits))) ** 2)
  log_sigma = -6 + np.log1p(np.exp(0.5 * np.log(mse) + 6))
  assert float(to_numpy(extra["log_sigma"])) == pytest.approx(log_sigma, rel=1e-5)
  expected = (0.5 * (x - 1 / (1 + np.exp(-logits))) ** 2 / np.exp(2 * log_sigma) + log_sigma
              + 0.5 * np.log(2 * np.pi)).reshape(8, -1).sum(1)
  np.testing.assert_allclose(to_numpy(per_example), expected, rtol=1e-4)
  assert "log_sigma" in fit(model, 3).history


JAX_SCRIPT = r"""
import json, sys, keras
sys.path.insert(0, "tests")
from test_controlled_models import _controller, _per_step_history
from helpers import fit, to_numpy
from dynvae_keras import models
out = dict()
model = models.DynamicVAE(controller=_controller(), num_latent=4, encoder_fn="mlp_encoder", decoder_fn="mlp_decoder")
out["history"] = _per_step_history(model, 8)
runs = dict()
for spe in (1, 4):
  m = models.DynamicVAE(controller=_controller(), num_latent=4, encoder_fn="mlp_encoder", decoder_fn="mlp_decoder", seed=3)
  keras.utils.set_random_seed(0)
  m.build((None, 64, 64, 1))
  fit(m, 8, steps_per_execution=spe)
  runs[spe] = {n: float(to_numpy(getattr(m.controller, n))) for n in ("step", "beta", "previous_output", "integral")}
out["runs"] = runs
print("RESULT" + json.dumps(out))
"""


def test_jax_fit_matches_hand_stepped_controller():
  out = run_python_result(JAX_SCRIPT, "jax")
  history, replay = out["history"], _controller()
  for kl, beta in zip(history["kl_loss"], history["beta"]):
    assert float(to_numpy(replay(kl))) == pytest.approx(beta, rel=1e-5)
  single, fused = out["runs"]["1"], out["runs"]["4"]
  assert fused["step"] == single["step"] == 8.0
  for name in ("beta", "previous_output", "integral"):
    assert fused[name] == pytest.approx(single[name], rel=1e-4), name


def test_beta_controller_callback_drives_beta_from_outside_the_step():
  model = models.BetaVAE(beta=1.0, num_latent=4)
  callback = control.BetaControllerCallback(_controller())
  model.compile(optimizer=keras.optimizers.Adam(1e-3))
  stream = data.training_input(dsprites(), 16, 6, seed=0)
  history = model.fit(stream, epochs=6, steps_per_epoch=1, shuffle=False, verbose=0, callbacks=[callback])
  replay = _controller()
  for kl, logged in zip(history.history["kl_loss"], callback.history):
    assert float(to_numpy(replay(kl))) == pytest.approx(logged["beta"], rel=1e-5)
  assert float(to_numpy(model.beta)) == pytest.approx(callback.history[-1]["beta"], rel=1e-6)
  # β set after step t is used at step t + 1.
  assert history.history["beta"][-1] == pytest.approx(callback.history[-2]["beta"], rel=1e-5)


def test_beta_controller_callback_recovers_batch_kls_from_running_means():
  model = models.BetaVAE(num_latent=4)
  model(np.zeros((1, 64, 64, 1), "float32"))
  callback = control.BetaControllerCallback(control.PIController(control.ConstantSetPoint(1.0)))
  callback.set_model(model)
  batch_kls, replay = [3.0, 5.0, 1.0, 7.0], control.PIController(control.ConstantSetPoint(1.0))
  callback.on_epoch_begin(0)
  for n, kl in enumerate(batch_kls):
    callback.on_train_batch_end(n, {"kl_loss": np.mean(batch_kls[:n + 1])})
    assert callback.history[-1]["kl_feedback"] == pytest.approx(kl, rel=1e-6)
    assert callback.history[-1]["beta"] == pytest.approx(float(to_numpy(replay(kl))), rel=1e-6)


def test_beta_controller_callback_refuses_fused_steps():
  model = models.BetaVAE(num_latent=4)
  model.compile(optimizer="adam", steps_per_execution=2)
  with pytest.raises(ValueError, match="steps_per_execution=1"):
    model.fit(data.training_input(dsprites(), 8, 2, seed=0), epochs=1, steps_per_epoch=2, verbose=0,
              callbacks=[control.BetaControllerCallback(_controller())])


def test_controller_tensorboard_writes_scalars(tmp_path):
  import glob
  import tensorflow as tf
  model = models.DynamicVAE(controller=_controller(), num_latent=4)
  model.compile(optimizer=keras.optimizers.Adam(1e-3))
  model.fit(data.training_input(dsprites(), 8, 4, seed=0), epochs=1, steps_per_epoch=4, verbose=0,
            callbacks=[control.ControllerTensorBoard(str(tmp_path), every=2)])
  tags = set()
  for path in glob.glob(str(tmp_path / "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      tags |= {v.tag for v in event.summary.value}
  assert {"control/beta", "control/kl_setpoint", "control/kl_feedback", "control/p_term",
          "control/i_term"} <= tags


def test_sigma_vae_learns_on_dsprites(tmp_path):
  """σ-VAE trained by `dynvae train` on procedural dSprites learns a code and beats the mean image.

  Without the decoder's output bias starting at the data's mean pixel, the sigmoid mean saturates
  towards black and the KL collapses: measured with these settings (150 steps, batch 64,
  Adam 5e-4, seed 0; 2026-11-30, 2-core CPU): KL 0.67 nats and MSE 0.0428 without it,
  KL 63 nats and MSE 0.0095 with it; the per-pixel mean image has MSE 0.0375.
  """
  from dynvae_keras import cli  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "sigma"
  assert cli.main(["train", "--model_dir", str(model_dir), "--gin_config", "model/sigma_vae.gin",
                   "--gin_bindings", "model.training_steps = 150", "--gin_bindings", "model.eval_steps = 1",
                   "--gin_bindings", "model.log_every = 150",
                   "--gin_bindings", "AdamOptimizer.learning_rate = 0.0005"]) == 0
  model = keras.saving.load_model(str(model_dir / "model.keras"))
  x = data.sample_batch(dsprites(), 512, 5, 0)
  z_mean, z_logvar = (to_numpy(t) for t in model.encode(x))
  kl = np.mean(0.5 * np.sum(z_mean ** 2 + np.exp(z_logvar) - z_logvar - 1, axis=1))
  mse = np.mean((to_numpy(keras.ops.sigmoid(model.decode(z_mean))) - x) ** 2)
  mean_image_mse = np.mean((x - x.mean(axis=0, keepdims=True)) ** 2)
  assert kl > 1.0
  assert mse < 0.8 * mean_image_mse
  train_gin = (model_dir / "results" / "gin" / "train.gin").read_text()
  assert "reconstruction_loss.loss_fn" not in train_gin  # σ-VAE's own term, not dlib's loss


def test_lvae_learns_its_beta_on_dsprites(tmp_path):
  """`model/l_vae.gin` on procedural dSprites: β moves far from its initial 1, the KL does not
  collapse, and β stays inside the anti-bias bound exp(±1/(2λ)) = [0.08, 12.2].

  Measured with these settings (`dynvae train`, batch 64, network Adam 5e-4, weights Adam 1e-2,
  seed 0; 2026-11-30, 2-core CPU), per 50 steps: β 1.6, 2.3, 3.3, 4.5, 5.9, 7.5 while the KL
  sits on the plateau every VAE here starts with (≈ 0.04 nats; β = 1 leaves it at step ≈ 250),
  then β 3.9, 1.4, 0.73, 0.40 and KL 1.9, 9.3, 17, 34 nats at step 500 (1,000 steps: β 0.25,
  KL 33). With the weights on the network's optimizer (`weights_learning_rate=None`) β changes by
  at most e^(500·5e-4) ≈ 1.3 in 500 steps.
  """
  from dynvae_keras import cli  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "l_vae"
  assert cli.main(["train", "--model_dir", str(model_dir), "--gin_config", "model/l_vae.gin",
                   "--gin_bindings", "model.training_steps = 500", "--gin_bindings", "model.eval_steps = 2",
                   "--gin_bindings", "model.log_every = 50",
                   "--gin_bindings", "AdamOptimizer.learning_rate = 0.0005"]) == 0
  import csv  # pylint: disable=g-import-not-at-top
  with open(model_dir / "logs" / "metrics.csv") as f:
    rows = list(csv.DictReader(f))
  betas = np.array([float(r["beta"]) for r in rows])
  assert betas.max() > 3.0 and betas[-1] < 1.0  # moved both ways: up on the plateau, then below 1
  assert np.all((betas > np.exp(-2.5)) & (betas < np.exp(2.5)))  # no runaway
  assert float(rows[-1]["kl_loss"]) > 10.0  # no collapse
