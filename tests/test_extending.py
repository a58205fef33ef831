"""docs/extending.md's examples run as written and do what the page says."""

import pathlib
import re

import keras
import numpy as np
import pytest

PAGE = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text(encoding="utf-8")
EXAMPLE_LINE_BUDGET = 30  # "a new model / controller in under 30 lines"


@pytest.fixture(scope="module")
def page():
  """The namespace left by running the page's Python blocks in order."""
  namespace = {}
  for block in re.findall(r"```python\n(.*?)```", PAGE, flags=re.S):
    exec(compile(block, "docs/extending.md", "exec"), namespace)  # pylint: disable=exec-used
  return namespace


def _class_lines(name):
  block = next(b for b in re.findall(r"```python\n(.*?)```", PAGE, flags=re.S) if f"class {name}(" in b)
  body = block[block.index("@keras.saving"):]
  return len([line for line in body.splitlines() if line.strip()])


@pytest.mark.parametrize("name", ["FreeBitsVAE", "MultiplicativeController"])
def test_examples_fit_the_line_budget(name):
  assert _class_lines(name) <= EXAMPLE_LINE_BUDGET


def test_free_bits_regularizer_matches_a_hand_computation(page):
  model = page["FreeBitsVAE"](free_bits=0.5, num_latent=3, encoder_fn="mlp_encoder", decoder_fn="mlp_decoder")
  z_mean = np.array([[0.0, 1.0, 2.0], [0.0, -1.0, 2.0]], "float32")
  z_logvar = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0]], "float32")
  # Per-latent batch-mean KLs: 0, 0.5, 2 + (e^-1 + 1 - 1) / 2 = 2.18394; floored at 0.5.
  kl_per_latent = np.array([0.0, 0.5, 0.5 * (4 + np.exp(-1.0) + 1.0 - 1.0)])
  regularizer, extra = model.regularizer(None, z_mean, z_logvar, None, True)
  np.testing.assert_allclose(float(keras.ops.convert_to_numpy(regularizer)),
                             np.maximum(kl_per_latent, 0.5).sum(), rtol=1e-6)
  assert float(keras.ops.convert_to_numpy(extra["active_latents"])) == 1.0


def test_free_bits_model_trains_logs_and_reloads(page, tmp_path):
  history = page["history"].history
  assert np.isfinite(history["loss"][-1]) and "active_latents" in history
  model, images = page["model"], page["images"]
  path = tmp_path / "free_bits.keras"
  model.save(path)
  restored = keras.models.load_model(path)
  assert type(restored).__name__ == "FreeBitsVAE" and restored.free_bits == 0.5
  np.testing.assert_allclose(keras.ops.convert_to_numpy(restored.encode(images[:4])[0]),
                             keras.ops.convert_to_numpy(model.encode(images[:4])[0]), rtol=1e-6)


def test_free_bits_factory_is_gin_configurable(page):
  import gin  # pylint: disable=g-import-not-at-top
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  gin_utils.register_configurables()
  with gin.unlock_config():
    gin.parse_config(["encoder.num_latent = 4", "encoder.encoder_fn = @mlp_encoder",
                      "decoder.decoder_fn = @mlp_decoder", "reconstruction_loss.loss_fn = @bernoulli_loss",
                      "free_bits_vae.free_bits = 1.5"])
  try:
    model = page["free_bits_vae"]()
  finally:
    gin.clear_config()
  assert model.free_bits == 1.5 and model.num_latent == 4


def test_multiplicative_controller_follows_its_formula(page):
  controller = page["MultiplicativeController"](rate=0.05, beta_0=2.0)
  for _ in range(4):  # KL 14 above the set point 10: β = 2·exp(0.05·4·n)
    logs = controller.update(keras.ops.convert_to_tensor(14.0))
  np.testing.assert_allclose(float(keras.ops.convert_to_numpy(logs["beta"])), 2.0 * np.exp(0.8), rtol=1e-5)
  last = controller.last_logs()
  for name in ("beta", "kl_setpoint", "kl_feedback", "i_term"):
    np.testing.assert_allclose(keras.ops.convert_to_numpy(last[name]), keras.ops.convert_to_numpy(logs[name]),
                               rtol=1e-6)
  np.testing.assert_allclose(float(keras.ops.convert_to_numpy(last["i_term"])), 0.8, rtol=1e-5)


def test_controlled_example_logs_and_reloads_its_controller(page, tmp_path):
  logs, controlled = page["logs"], page["controlled"]
  assert {"beta", "kl_setpoint", "kl_feedback", "p_term", "i_term"} <= set(logs)
  assert logs["kl_setpoint"][-1] == 10.0 and logs["beta"][-1] != 1.0  # the controller acted
  np.testing.assert_allclose(float(keras.ops.convert_to_numpy(controlled.beta)), logs["beta"][-1], rtol=1e-6)
  path = tmp_path / "controlled.keras"
  controlled.save(path)
  restored = keras.models.load_model(path)
  assert type(restored.controller).__name__ == "MultiplicativeController"
  assert int(keras.ops.convert_to_numpy(restored.controller.step)) == 8  # 2 epochs of 4 batches
  np.testing.assert_allclose(float(keras.ops.convert_to_numpy(restored.controller.beta)),
                             logs["beta"][-1], rtol=1e-6)


JAX_SCRIPT = r"""
import json, re, numpy as np
page = open("docs/extending.md", encoding="utf-8").read()
namespace, replaced = dict(), 0
for block in re.findall(r"```python\n(.*?)```", page, flags=re.S):
  block = block.replace("compile(optimizer=keras.optimizers.Adam(1e-4))",
                        "compile(optimizer=keras.optimizers.Adam(1e-4), steps_per_execution=2)")
  replaced += block.count("steps_per_execution=2")
  exec(compile(block, "docs/extending.md", "exec"), namespace)
logs = namespace["logs"]
assert replaced == 2, replaced
print("RESULT" + json.dumps(dict(loss=namespace["history"].history["loss"], beta=logs["beta"],
                                 step=int(np.asarray(namespace["controlled"].controller.step)))))
"""


def test_examples_train_on_jax_with_fused_steps():
  from conftest import run_python_result  # pylint: disable=g-import-not-at-top
  result = run_python_result(JAX_SCRIPT, "jax")
  assert np.isfinite(result["loss"][-1]) and result["step"] == 8 and result["beta"][-1] != 1.0
