"""`dynvae train` with `model.data_parallel = True` on 2 CPU devices, as a user runs it.

JAX (2 host devices, fused steps, device input): the logged β/KL trajectory (8 steps) equals the
one-device run's and the outputs are complete; a global batch that does not split over the
devices is refused before anything is written. TensorFlow (MirroredStrategy over 2 logical
CPUs): the run completes with β close to one device's (replicas draw their own noise);
`steps_per_execution` > 1, broken under MirroredStrategy in Keras 3, is refused up front.
"""

import numpy as np

from conftest import TWO_JAX_DEVICES, TWO_TF_CPUS, run_python_result

COMMON = r"""
import csv, json, os, sys, tempfile
from dynvae_keras import cli
root = tempfile.mkdtemp()

def train(name, *bindings):
  model_dir = os.path.join(root, name)
  argv = ["train", "--model_dir", model_dir, "--gin_config", "model/dynamic_vae_quick.gin"]
  for b in ("model.training_steps=8", "model.log_every=4", "model.eval_steps=2", "model.batch_size=16",
            "encoder.num_latent=4", "encoder.encoder_fn=@mlp_encoder", "decoder.decoder_fn=@mlp_decoder",
            "hybrid_annealing_setpoint.period=4", "hybrid_annealing_setpoint.ramp=2") + bindings:
    argv += ["--gin_bindings", b]
  code = cli.main(argv)
  if code != 0:
    return {"code": code, "listing": sorted(os.listdir(model_dir)) if os.path.exists(model_dir) else None}
  with open(os.path.join(model_dir, "logs", "metrics.csv")) as f:
    rows = list(csv.DictReader(f))
  with open(os.path.join(model_dir, "results", "json", "train_results.json")) as f:
    results = json.load(f)
  return {"code": code, "beta": [float(r["beta"]) for r in rows], "kl": [float(r["kl_loss"]) for r in rows],
          "global_step": results["global_step"], "model": os.path.exists(os.path.join(model_dir, "model.keras"))}
"""

JAX = COMMON + r"""
import jax
out = {"devices": len(jax.devices())}
fast = ("model.steps_per_execution=4", "model.device_input=True", "model.device_pool_size=256")
out["single"] = train("single", *fast)
out["parallel"] = train("parallel", "model.data_parallel=True", *fast)
out["odd"] = train("odd", "model.data_parallel=True", "model.batch_size=15")
print("RESULT" + json.dumps(out))
"""

TF = TWO_TF_CPUS + COMMON + r"""
out = {"single": train("single"), "parallel": train("parallel", "model.data_parallel=True"),
       "fused": train("fused", "model.data_parallel=True", "model.steps_per_execution=2")}
print("RESULT" + json.dumps(out))
"""


def test_jax_data_parallel_cli_matches_one_device():
  res = run_python_result(JAX, "jax", env=TWO_JAX_DEVICES)
  assert res["devices"] == 2
  single, parallel = res["single"], res["parallel"]
  assert single["code"] == parallel["code"] == 0
  assert parallel["global_step"] == 8 and parallel["model"]
  assert len(parallel["beta"]) == 2
  np.testing.assert_allclose(parallel["beta"], single["beta"], rtol=1e-5)
  np.testing.assert_allclose(parallel["kl"], single["kl"], rtol=1e-4)
  assert res["odd"]["code"] == 2 and res["odd"]["listing"] is None, res["odd"]


def test_tf_data_parallel_cli_completes():
  res = run_python_result(TF, "tensorflow")
  single, parallel = res["single"], res["parallel"]
  assert single["code"] == parallel["code"] == 0
  assert parallel["global_step"] == 8 and parallel["model"]
  assert res["fused"]["code"] == 2 and res["fused"]["listing"] is None  # keras-team/keras#19246
  # Replicas draw their own sampling noise, so weights (and the KL) drift slightly apart.
  np.testing.assert_allclose(parallel["beta"], single["beta"], rtol=5e-3)
