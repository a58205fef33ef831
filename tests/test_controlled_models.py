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
                              num_latent=4)
  history = fit(tc_model, 4).history
  assert {"beta", "kl_setpoint", "tc"} <= set(history) and history["beta"][-1] >= 1.0
  annealed = models.AnnealedVAE(gamma=10.0, capacity_schedule=control.StaircaseSetPoint(1.0, 1.0, 2, 5.0),
                                num_latent=4)
  assert fit(annealed, 6).history["capacity"][-1] == pytest.approx(min(5.0, 1.0 + 6 // 2))


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


def test_uncertainty_weights_converge_to_inverse_losses():
  logs = _optimise_weights(control.LearnableLossWeights("uncertainty"), 100.0, 4.0, steps=3000, lr=0.05)
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
model = models.DynamicVAE(controller=_controller(), num_latent=4, encoder_fn="fc_encoder", decoder_fn="fc_decoder")
out["history"] = _per_step_history(model, 8)
runs = dict()
for spe in (1, 4):
  m = models.DynamicVAE(controller=_controller(), num_latent=4, encoder_fn="fc_encoder", decoder_fn="fc_decoder", seed=3)
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
