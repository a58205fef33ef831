"""Data-parallel training on 2 CPU devices: the controller sees the global-batch KL.

JAX: `keras.distribution.DataParallel` over 2 host devices gives the same β trajectory as one
device (one SPMD program over the global batch). TensorFlow: `MirroredStrategy` over 2 logical
CPUs; with the weights frozen (lr 0) the KL sequence depends only on the data, so the β
trajectory must equal one device's; every replica holds the same β; with training it stays
close (replicas draw their own sampling noise, so weights differ slightly).
"""

import json

import numpy as np

from conftest import run_python

COMMON = r"""
import json, numpy as np, keras
from dynvae_keras.models import DynamicVAE
from dynvae_keras.data import get_named_ground_truth_data
data = get_named_ground_truth_data("dsprites_full")

def betas_of(make_stream, lr, scope=None, steps=8):
  keras.utils.set_random_seed(0)
  def build():
    model = DynamicVAE(encoder_fn="fc_encoder", decoder_fn="fc_decoder", seed=1)
    model.compile(optimizer=keras.optimizers.Adam(lr))
    return model
  if scope is not None:
    with scope():
      model = build()
  else:
    model = build()
  betas = []
  cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: betas.append(float(logs["beta"])))
  model.fit(make_stream(steps), epochs=1, verbose=0, callbacks=[cb], shuffle=False)
  return model, betas
"""

JAX = COMMON + r"""
import jax
from dynvae_keras.data.input_pipeline import ObservationBatches
stream = lambda n: ObservationBatches(data, 16, n, seed=0)
out = {}
for lr in (0.0, 1e-3):
  _, single = betas_of(stream, lr)
  keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
  _, parallel = betas_of(stream, lr)
  keras.distribution.set_distribution(None)
  out[str(lr)] = [single, parallel]
out["devices"] = len(jax.devices())
print("RESULT" + json.dumps(out))
"""

TF = r"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
""" + COMMON + r"""
from dynvae_keras.data.input_pipeline import make_tf_dataset
stream = lambda n: make_tf_dataset(data, 16, n, seed=0)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
out = {}
for lr in (0.0, 1e-3):
  _, single = betas_of(stream, lr)
  model, parallel = betas_of(stream, lr, scope=strategy.scope)
  out[str(lr)] = [single, parallel]
  out["replica_betas_" + str(lr)] = [float(v.numpy()) for v in model.controller.beta.value.values]
out["replicas"] = strategy.num_replicas_in_sync
print("RESULT" + json.dumps(out))
"""


def _result(stdout):
  return json.loads(stdout.split("RESULT", 1)[1].strip().splitlines()[0])


def test_jax_data_parallel_matches_one_device():
  res = _result(run_python(JAX, "jax", env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}))
  assert res["devices"] == 2
  for lr in ("0.0", "0.001"):
    single, parallel = res[lr]
    assert len(single) == len(parallel) == 8
    np.testing.assert_allclose(parallel, single, rtol=1e-6)


def test_tf_mirrored_strategy_uses_the_global_kl():
  res = _result(run_python(TF, "tensorflow"))
  assert res["replicas"] == 2
  single, mirrored = res["0.0"]
  np.testing.assert_allclose(mirrored, single, rtol=1e-6)   # same KLs → same β, step by step
  for lr in ("0.0", "0.001"):
    replica_betas = res["replica_betas_" + lr]
    assert len(replica_betas) == 2 and replica_betas[0] == replica_betas[1]
  single, mirrored = res["0.001"]
  np.testing.assert_allclose(mirrored[0], single[0], rtol=1e-6)
  np.testing.assert_allclose(mirrored, single, atol=0.02)
