"""bfloat16 mixed precision end to end through the CLI, on TensorFlow and JAX.

Contracts: under `mixed_bfloat16` the networks compute in bfloat16 while variables, losses and
the β controller stay float32 (before, DynamicVAE failed on TensorFlow and read its KL average
in bfloat16 on JAX), whether it comes from the CLI's `model.dtype_policy` or from Keras' global
policy; the policy is saved with the model (reloaded in a float32 process, its networks still
compute in bfloat16) and the CLI setting leaves the global policy alone; the exported
representation is float32. (An unsupported policy's one-line error: tests/test_train_cli.py.)
"""

import json

import numpy as np

from conftest import run_python_result

TRAIN = r"""
import json, os
import keras, ml_dtypes, numpy as np
from dynvae_keras import cli
{preamble}
code = cli.main(["train", "--model_dir", {model_dir!r}, "--gin_config", "model/dynamic_vae_quick.gin",
                 "--gin_bindings", "model.training_steps=8", "--gin_bindings", "model.eval_steps=2",
                 "--gin_bindings", "model.batch_size=8", "--gin_bindings", "model.log_every=4",
                 "--gin_bindings", "encoder.encoder_fn=@mlp_encoder", "--gin_bindings", "decoder.decoder_fn=@mlp_decoder",
                 *{extra!r}])
model = keras.saving.load_model(os.path.join({model_dir!r}, "model.keras"))
controller = model.controller
buffer = np.asarray(keras.ops.convert_to_numpy(controller.average.buffer), np.float32)
print("RESULT" + json.dumps(dict(
    code=code, global_policy=keras.mixed_precision.dtype_policy().name,
    model_policy=model.dtype_policy.name, encoder_policy=model.encoder.dtype_policy.name,
    controller_policies=[controller.dtype_policy.name, controller.average.dtype_policy.name],
    variable_dtypes=sorted({{str(v.dtype) for v in model.weights}}),
    # a bfloat16 FIFO would hold KLs rounded to 8 significant bits
    feedback_is_float32=bool((buffer != buffer.astype(ml_dtypes.bfloat16).astype(np.float32)).any()))))
"""


# Two ways to ask for it: the CLI's gin setting (the global policy is left alone), or Keras'
# global policy set before the run, as a Python user does.
BINDING = ["--gin_bindings", "model.dtype_policy='mixed_bfloat16'"]
GLOBAL = 'keras.mixed_precision.set_dtype_policy("mixed_bfloat16")'


def _check(result, model_dir, global_policy):
  assert result["code"] == 0
  assert result["global_policy"] == global_policy
  assert result["model_policy"] == result["encoder_policy"] == "mixed_bfloat16"
  assert result["controller_policies"] == ["float32", "float32"]
  assert "float32" in result["variable_dtypes"] and not [d for d in result["variable_dtypes"] if "16" in d]
  assert result["feedback_is_float32"]
  train_results = json.loads((model_dir / "results" / "json" / "train_results.json").read_text())
  assert train_results["global_step"] == 8
  assert all(np.isfinite(v) for k, v in train_results.items() if isinstance(v, float))


def test_mixed_bfloat16_dynamic_vae_from_the_cli_setting_on_tensorflow(tmp_path):
  model_dir = tmp_path / "m"
  _check(run_python_result(TRAIN.format(model_dir=str(model_dir), extra=BINDING, preamble=""),
                           "tensorflow"), model_dir, "float32")
  assert "model.dtype_policy = 'mixed_bfloat16'" in (model_dir / "results" / "gin" / "train.gin").read_text()
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  x = np.random.RandomState(0).rand(3, 64, 64, 1).astype(np.float32)
  mean = saved_model.SavedModelFunction(str(model_dir / "tfhub"), "gaussian_encoder")(x)["mean"]
  assert mean.dtype == np.float32 and mean.shape == (3, 10) and np.isfinite(mean).all()


def test_mixed_bfloat16_global_policy_dynamic_vae_fused_on_device_on_jax(tmp_path):
  model_dir = tmp_path / "m"
  extra = ["--gin_bindings", "model.steps_per_execution=2", "--gin_bindings", "model.device_input=True",
           "--gin_bindings", "model.device_pool_size=128"]
  _check(run_python_result(TRAIN.format(model_dir=str(model_dir), extra=extra, preamble=GLOBAL), "jax"),
         model_dir, "mixed_bfloat16")
