"""Small models and streams for fast tests."""

import keras
import numpy as np

from dynvae_keras import data, models

FAST_MODELS = {
    "BetaVAE": (models.BetaVAE, {"beta": 4.0}),
    "AnnealedVAE": (models.AnnealedVAE, {"gamma": 10.0, "c_max": 5.0, "iteration_threshold": 50}),
    "FactorVAE": (models.FactorVAE, {"gamma": 10.0}),
    "DIPVAE-I": (models.DIPVAE, {"lambda_od": 1.0, "lambda_d_factor": 10.0, "dip_type": "i"}),
    "DIPVAE-II": (models.DIPVAE, {"lambda_od": 1.0, "lambda_d_factor": 1.0, "dip_type": "ii"}),
    "BetaTCVAE": (models.BetaTCVAE, {"beta": 6.0}),
}


def make_model(key, num_latent=4, **overrides):
  cls, kwargs = FAST_MODELS[key]
  return cls(num_latent=num_latent, **{**kwargs, **overrides})


def dsprites():
  return data.get_named_ground_truth_data("dsprites_full")


def fit(model, steps, batch=16, seed=0, lr=1e-3, start_step=0, **compile_kwargs):
  if not model.compiled:
    model.compile(optimizer=keras.optimizers.Adam(lr), **compile_kwargs)
  stream = data.training_input(dsprites(), batch, steps, seed=seed, start_step=start_step)
  return model.fit(stream, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)


def to_numpy(x):
  return np.asarray(keras.ops.convert_to_numpy(x))
