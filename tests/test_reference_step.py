"""One `fit` step of a β-VAE equals a hand-written step of dlib's objective, on TensorFlow and JAX.

The reference writes the loss from its formulas, independently of `dynvae_keras.models.losses`:
mean over the batch of Σ_pixels sigmoid cross-entropy(logits, x) + β·½Σ_d(μ² + e^{log σ²} − log σ² − 1),
with z = μ + e^{log σ²/2}·ε and ε the draw the model's seed generator makes. Its gradient is
taken with the backend's own autodiff through the model's encoder and decoder
(`stateless_call`), and one SGD step of `model.train_on_batch` must move every weight by
−lr·(that gradient). A dropped KL, an ignored β, a KL with the wrong sign, a gradient taken
of the wrong term or a stop-gradient in the sampling path all fail it.
"""

import pytest

from conftest import run_python_result

SCRIPT = r"""
import json, sys, numpy as np, keras
from keras import ops
sys.path.insert(0, "tests")
from helpers import dsprites, to_numpy
from dynvae_keras import data, models

BETA, LR = 4.0, 0.05
x = ops.convert_to_tensor(data.sample_batch(dsprites(), 8, 0, 0))
model = models.BetaVAE(beta=BETA, num_latent=3, seed=3)
model.build(tuple(x.shape))
model.compile(optimizer=keras.optimizers.SGD(LR))
variables = model.trainable_variables
position = {id(v): i for i, v in enumerate(variables)}
encoder_index = [position[id(v)] for v in model.encoder.trainable_variables]
decoder_index = [position[id(v)] for v in model.decoder.trainable_variables]
assert sorted(encoder_index + decoder_index) == list(range(len(variables)))

# The noise the step will draw: a generator in the model's current state.
generator = keras.random.SeedGenerator(0)
generator.state.assign(model.seed_generator.state.value)
eps = keras.random.normal((8, 3), seed=generator)


def reference_terms(values):
  (mean, logvar), _ = model.encoder.stateless_call([values[i] for i in encoder_index], [], x)
  z = mean + ops.exp(logvar / 2) * eps
  logits, _ = model.decoder.stateless_call([values[i] for i in decoder_index], [], z)
  cross_entropy = ops.maximum(logits, 0) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
  reconstruction = ops.mean(ops.sum(cross_entropy, axis=(1, 2, 3)))
  kl = ops.mean(0.5 * ops.sum(mean ** 2 + ops.exp(logvar) - logvar - 1, axis=1))
  return reconstruction, kl


def reference_loss(values):
  reconstruction, kl = reference_terms(values)
  return reconstruction + BETA * kl


values = [v.value for v in variables]
if keras.backend.backend() == "jax":
  import jax
  gradients = jax.grad(reference_loss)(values)
else:
  import tensorflow as tf
  values = [tf.convert_to_tensor(v) for v in values]
  with tf.GradientTape() as tape:
    tape.watch(values)
    loss = reference_loss(values)
  gradients = tape.gradient(loss, values)
reconstruction, kl = (float(to_numpy(t)) for t in reference_terms(values))
before = [to_numpy(v) for v in variables]
logs = model.train_on_batch(x, return_dict=True)
after = [to_numpy(v) for v in variables]
errors = [float(np.abs((b - a) / LR - to_numpy(g)).max()) for b, a, g in zip(before, after, gradients)]
scales = [float(np.abs(to_numpy(g)).max()) for g in gradients]
print("RESULT" + json.dumps(dict(errors=errors, scales=scales, reconstruction=reconstruction, kl=kl,
                                 logs={k: float(v) for k, v in logs.items()})))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_fit_step_equals_hand_written_beta_vae_step(backend):
  result = run_python_result(SCRIPT, backend)
  logs = result["logs"]
  assert logs["reconstruction_loss"] == pytest.approx(result["reconstruction"], rel=1e-5)
  assert logs["kl_loss"] == pytest.approx(result["kl"], rel=1e-4, abs=1e-6)
  assert logs["regularizer"] == pytest.approx(4.0 * result["kl"], rel=1e-4, abs=1e-6)
  assert logs["loss"] == pytest.approx(result["reconstruction"] + 4.0 * result["kl"], rel=1e-5)
  assert min(result["scales"]) > 0  # every weight gets a gradient
  for error, scale in zip(result["errors"], result["scales"]):
    assert error <= 1e-3 * scale + 1e-6, (error, scale)
