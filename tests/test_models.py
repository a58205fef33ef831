"""Every dlib baseline: builds, trains with fit (loss decreases), logs its terms, round-trips `.keras`."""

import keras
import numpy as np
import pytest

from dynvae_keras import data, models
from helpers import FAST_MODELS, dsprites, fit, make_model, to_numpy

MODEL_KEYS = list(FAST_MODELS)


class TestBuilding:

  def test_conv_architectures_match_dlib(self):
    encoder = models.architectures.conv_encoder((64, 64, 1), 10)
    kernels = [(l.name, l.kernel_size, l.strides, l.filters) for l in encoder.layers
               if isinstance(l, keras.layers.Conv2D)]
    assert kernels == [("e1", (4, 4), (2, 2), 32), ("e2", (4, 4), (2, 2), 32),
                       ("e3", (2, 2), (2, 2), 64), ("e4", (2, 2), (2, 2), 64)]
    assert [o.shape for o in encoder.outputs] == [(None, 10), (None, 10)]
    decoder = models.architectures.deconv_decoder(10, (64, 64, 3))
    assert decoder.output.shape == (None, 64, 64, 3)
    deconvs = [(l.filters, l.kernel_size) for l in decoder.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert deconvs == [(64, (4, 4)), (32, (4, 4)), (32, (4, 4)), (3, (4, 4))]
    assert encoder.count_params() == 2 * (32 * 16 + 32 * 16 * 32 + 32 * 4 * 64 + 64 * 4 * 64) // 2 + \
        (32 + 32 + 64 + 64) + (1024 * 256 + 256) + 2 * (256 * 10 + 10)

  def test_fc_architectures_and_discriminator(self):
    assert models.architectures.fc_encoder((64, 64, 1), 5).outputs[0].shape == (None, 5)
    assert models.architectures.fc_decoder(5, (64, 64, 1)).output.shape == (None, 64, 64, 1)
    encoder = models.architectures.mlp_encoder((32, 32, 1), 5)
    assert [l.units for l in encoder.layers if isinstance(l, keras.layers.Dense)] == [256, 256, 5, 5]
    assert models.architectures.mlp_decoder(5, (32, 32, 1)).output.shape == (None, 32, 32, 1)
    disc = models.architectures.fc_discriminator(5)
    assert disc.output.shape == (None, 2)
    assert sum(isinstance(l, keras.layers.Dense) for l in disc.layers) == 7

  @pytest.mark.parametrize("key", MODEL_KEYS)
  def test_call_outputs(self, key):
    model = make_model(key)
    out = model(np.zeros((2, 64, 64, 1), "float32"))
    assert set(out) == {"z_mean", "z_logvar", "z_sampled", "reconstructions"}
    assert out["z_mean"].shape == (2, 4) and out["reconstructions"].shape == (2, 64, 64, 1)

  @pytest.mark.parametrize("kwargs,match", [
      ({"num_latent": 0}, "num_latent"), ({"encoder_fn": "resnet"}, "Unknown architecture"),
      ({"reconstruction_loss": "huber"}, "Unknown reconstruction loss"),
      ({"activation": "relu"}, "activation")])
  def test_bad_arguments(self, kwargs, match):
    with pytest.raises(ValueError, match=match):
      models.BetaVAE(**kwargs)

  def test_bad_model_hyperparameters(self):
    with pytest.raises(ValueError, match="dip_type"):
      models.DIPVAE(dip_type="iii")
    with pytest.raises(ValueError, match="beta"):
      models.BetaVAE(beta=-1)
    with pytest.raises(ValueError, match="iteration_threshold"):
      models.AnnealedVAE(iteration_threshold=0)


class TestTraining:

  EXTRA_TERMS = {"BetaVAE": {"beta"}, "AnnealedVAE": {"capacity"}, "DIPVAE-I": {"dip_penalty"},
                 "DIPVAE-II": {"dip_penalty"}, "BetaTCVAE": {"tc"},
                 "FactorVAE": {"tc", "discriminator_loss", "discriminator_accuracy"}}

  @pytest.mark.parametrize("key", MODEL_KEYS)
  def test_fit_decreases_loss_and_logs_terms(self, key):
    model = make_model(key)
    first = fit(model, 10).history
    last = fit(model, 40).history
    assert self.EXTRA_TERMS[key] <= set(last)
    assert last["loss"][-1] < first["loss"][-1]
    assert last["reconstruction_loss"][-1] < first["reconstruction_loss"][-1]
    for name in ("loss", "reconstruction_loss", "kl_loss", "elbo", "regularizer"):
      assert np.isfinite(last[name][-1])
    assert int(to_numpy(model.step)) == 50
    # dlib's sign: the logged `elbo` is −(reconstruction + KL), the lower bound itself.
    assert last["elbo"][-1] == pytest.approx(-(last["reconstruction_loss"][-1] + last["kl_loss"][-1]), rel=1e-4)

  def test_annealed_capacity_schedule(self):
    model = make_model("AnnealedVAE")  # c_max 5 over 50 steps; dlib's t is 0 at the first step
    history = fit(model, 20).history
    assert history["capacity"][-1] == pytest.approx(5.0 * 19 / 50)
    assert fit(model, 40).history["capacity"][-1] == pytest.approx(5.0)

  def test_beta_weights_the_kl(self):
    x = data.sample_batch(dsprites(), 8, 0, 0)
    model = make_model("BetaVAE")
    model(x)
    terms = model.compute_loss_terms(x, training=False)
    assert to_numpy(terms["regularizer"]) == pytest.approx(4.0 * to_numpy(terms["kl_loss"]), rel=1e-5)
    assert int(to_numpy(model.step)) == 0  # evaluation does not advance the step

  @pytest.mark.parametrize("key,compile_kwargs", [
      ("BetaVAE", {"jit_compile": True}), ("FactorVAE", {"jit_compile": False}),
      ("FactorVAE", {"steps_per_execution": 3})])
  def test_compile_options(self, key, compile_kwargs):
    model = make_model(key)
    history = fit(model, 6, **compile_kwargs).history
    assert np.isfinite(history["loss"][-1]) and int(to_numpy(model.step)) == 6


class TestFactorVAEDiscriminator:

  def test_discriminator_learns_to_tell_dependent_codes_from_permuted(self):
    """100 Adam steps on codes whose 3 coordinates are functions of one another. Discriminator
    loss at step 100 over initial weights from seeds 8–47 (2026-12-01, TensorFlow 2.21 CPU):
    0.03–0.14 for 39 of 40, 0.57 for one, so the weights come from the suite's fixed seed
    (conftest.py); seed 0 gives 0.051."""
    import tensorflow as tf
    model = make_model("FactorVAE", num_latent=3)
    model(np.zeros((1, 64, 64, 1), "float32"))
    optimizer = keras.optimizers.Adam(1e-3)
    rs = np.random.RandomState(0)
    variables = model.discriminator.trainable_variables
    optimizer.build(variables)

    @tf.function
    def step(z):
      with tf.GradientTape() as tape:
        _, extra = model.regularizer(0.0, z, z, z, training=True)
      optimizer.apply(tape.gradient(extra["discriminator_loss"], variables), variables)
      return extra

    for _ in range(100):
      a = rs.normal(size=(64, 1))
      extra = step(np.concatenate([a, a + 0.05 * rs.normal(size=(64, 1)), -a], 1).astype("float32"))
    assert to_numpy(extra["discriminator_loss"]) < 0.3 < np.log(2)
    assert to_numpy(extra["discriminator_accuracy"]) > 0.9
    assert to_numpy(extra["tc"]) > 1.0  # logit(real) − logit(permuted) > 0 for dependent codes

  def test_discriminator_probabilities_clipped_as_dlib(self):
    from dynvae_keras.models.factor_vae import discriminator_loss
    wrong = np.array([[-50.0, 50.0]], "float32")  # softmax puts e^-100 on the true class
    loss = float(to_numpy(discriminator_loss(wrong, wrong[:, ::-1].copy())))
    assert loss == pytest.approx(-np.log(1e-6), rel=1e-5)  # unclipped: 100
    right = np.array([[2.0, -1.0]], "float32")
    expected = -np.log(1.0 / (1.0 + np.exp(-3.0)))
    assert float(to_numpy(discriminator_loss(right, right[:, ::-1].copy()))) == pytest.approx(expected, rel=1e-5)

  def test_discriminator_variables_get_only_their_own_loss(self):
    model = make_model("FactorVAE")
    model(np.zeros((1, 64, 64, 1), "float32"))
    keys = {v.path: model.loss_key_for(v) for v in model.trainable_variables}
    disc = {v.path for v in model.discriminator.trainable_variables}
    assert {p for p, k in keys.items() if k == "discriminator_loss"} == disc
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    assert isinstance(model.optimizer, keras.optimizers.MultiOptimizer)
    betas = sorted((float(o.beta_1), float(o.beta_2)) for o in model.optimizer.optimizers)
    assert betas == [(0.5, 0.9), (0.9, 0.999)]


class TestSaving:

  @pytest.mark.parametrize("key", MODEL_KEYS)
  def test_keras_round_trip(self, key, tmp_path):
    model = make_model(key)
    fit(model, 4)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model) and restored.get_config() == model.get_config()
    x = data.sample_batch(dsprites(), 4, 7, 0)
    for a, b in zip(model.encode(x), restored.encode(x)):
      np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    np.testing.assert_array_equal(to_numpy(model.decode(np.ones((2, 4)))), to_numpy(restored.decode(np.ones((2, 4)))))
    for a, b in zip(model.non_trainable_variables, restored.non_trainable_variables):
      np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    assert len(model.optimizer.variables) == len(restored.optimizer.variables)
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
      np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    # Training continues identically from the restored copy (same noise, same optimizer state).
    fit(model, 3, start_step=4)
    fit(restored, 3, start_step=4)
    np.testing.assert_allclose(to_numpy(model.encode(x)[0]), to_numpy(restored.encode(x)[0]), rtol=1e-5, atol=1e-6)

  def test_config_round_trip_for_every_public_class(self):
    for cls, kwargs in FAST_MODELS.values():
      model = cls(num_latent=3, **kwargs)
      clone = cls.from_config(model.get_config())
      assert clone.get_config() == model.get_config()
