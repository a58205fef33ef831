"""Device-resident training input and fused JAX steps (`steps_per_execution` as one `lax.scan`).

Contracts: the device stream is a pure function of (seed, step) whatever the chunking and the
order it is read in; a model trained with k fused steps per call ends bit-identical (weights,
controller state, logged state) to one step per call on the same stream, including a final
partial group, whether its logged state is recomputed after the loop (controllers,
AnnealedVAE's capacity) or carried (L-VAE), and whatever its trackers (running means travel as
one vector, others step by step); running means agree to 1e-6 (bit for bit for DynamicVAE);
other backends get a clear error.
"""

import json

import numpy as np
import pytest

from conftest import run_python_result

SCRIPT = r"""
import json, numpy as np, keras, jax
from dynvae_keras.data.device_batches import DeviceBatches, observation_pool
from dynvae_keras.data import get_named_ground_truth_data
from dynvae_keras.models import AnnealedVAE, ControlVAE, DynamicVAE, LVAE, jax_fused
jax_fused.check_keras_internals()  # raises, failing this test, if Keras dropped what the fused loop uses
pool = observation_pool(get_named_ground_truth_data("dsprites_full"), 256, seed=0)
out = dict(pool_dtype=str(pool.dtype), pool_shape=list(pool.shape))
a = DeviceBatches(pool, 8, 10, seed=4, chunk=3)
b = DeviceBatches(pool, 8, 10, seed=4, chunk=7)
c = DeviceBatches(pool, 8, 6, seed=4, start_step=4, chunk=4)
out["chunk_invariant"] = all(bool((np.asarray(a[i][0]) == np.asarray(b[i][0])).all()) for i in range(10))
out["resume_invariant"] = all(bool((np.asarray(a[4 + i][0]) == np.asarray(c[i][0])).all()) for i in range(6))
shuffled = DeviceBatches(pool, 8, 10, seed=4, chunk=5)  # read out of order, as a shuffling fit would
out["order_invariant"] = all(bool((np.asarray(shuffled[i][0]) == np.asarray(a[i][0])).all())
                             for i in (7, 2, 9, 3, 4, 0, 1))
out["seed_changes"] = not bool((np.asarray(a[0][0]) == np.asarray(DeviceBatches(pool, 8, 1, seed=5)[0][0])).all())
x = np.asarray(a[2][0]); out["range"] = [float(x.min()), float(x.max())]
out["binary"] = bool(np.isin(x, [0.0, 1.0]).all())
out["bf16"] = str(DeviceBatches(pool, 8, 1, dtype="bfloat16")[0][0].dtype)

def train(spe, model_class=DynamicVAE):
  keras.utils.set_random_seed(7)
  model = model_class(encoder_fn="mlp_encoder", decoder_fn="mlp_decoder", seed=1)
  model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=spe)
  history = model.fit(DeviceBatches(pool, 16, 12, seed=3, chunk=5), epochs=1, verbose=0, shuffle=False)
  return model, {k: float(v[-1]) for k, v in history.history.items()}

ref, ref_logs = train(1)
for spe in (4, 5):
  model, logs = train(spe)
  out[f"spe{spe}_max_weight_diff"] = max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
                                         for u, v in zip(ref.weights, model.weights))
  out[f"spe{spe}_state_equal"] = all(logs[k] == ref_logs[k] for k in model.state_terms)
  out[f"spe{spe}_keys_equal"] = sorted(logs) == sorted(ref_logs)
  out[f"spe{spe}_means_rel"] = max(abs(logs[k] - ref_logs[k]) / max(abs(ref_logs[k]), 1e-30) for k in ref_logs)
  out[f"spe{spe}_step"] = int(np.asarray(model.step))
out["beta"] = ref_logs["beta"]
class Recorded(DeviceBatches):
  def __getitem__(self, index):
    read.append(index)
    return super().__getitem__(index)
read = []
model = DynamicVAE(encoder_fn="mlp_encoder", decoder_fn="mlp_decoder", seed=1)
model.compile(optimizer="adam", steps_per_execution=3)
model.fit(Recorded(pool, 4, 6, chunk=3), epochs=2, verbose=0)  # Keras' default shuffle=True
out["fit_read_order"] = read
# 12 steps in 3 fused calls of 4, so the final logs are the fused loop's (with 5, the last two
# steps run one at a time and their logs would hide the loop's). Weights and logged state are
# bit-identical; a running mean may differ in its last bit (XLA fuses, and may contract into
# FMAs, differently in the two compiled programs).
def fused_matches(model_class):
  ref, ref_logs = train(1, model_class)
  model, logs = train(4, model_class)
  weights_equal = all(bool((np.asarray(u) == np.asarray(v)).all()) for u, v in zip(ref.weights, model.weights))
  state_equal = all(logs[k] == ref_logs[k] for k in model.state_terms)
  means_rel = max(abs(logs[k] - ref_logs[k]) / max(abs(ref_logs[k]), 1e-30) for k in ref_logs)
  return dict(weights_equal=weights_equal, state_equal=state_equal, means_rel=means_rel,
              keys_equal=sorted(logs) == sorted(ref_logs), logs=logs)
# the positional PI controller; L-VAE's logged weights (carried from the latest step); the
# capacity (recomputed from the step counter)
for cls in (ControlVAE, LVAE, AnnealedVAE):
  out[f"{cls.__name__}_fused"] = fused_matches(cls)
class SumTracked(DynamicVAE):  # a tracker other than a scalar mean: updated step by step
  def _create_trackers(self):
    super()._create_trackers()
    self._term_trackers["loss"] = keras.metrics.Sum(name="loss")
sum_ref, sum_ref_logs = train(1, SumTracked)
sum_model, sum_logs = train(4, SumTracked)
out["sum_tracker_spe4_logs_equal"] = sum_logs == sum_ref_logs
out["sum_tracker_is_sum"] = sum_logs["loss"] > 3 * sum_logs["reconstruction_loss"]
print("RESULT" + json.dumps(out))
"""


def test_device_stream_and_fused_steps_on_jax():
  res = run_python_result(SCRIPT, "jax")
  assert res["pool_dtype"] == "uint8" and res["pool_shape"] == [256, 64, 64, 1]
  assert res["chunk_invariant"] and res["resume_invariant"] and res["seed_changes"]
  assert res["order_invariant"]
  assert res["range"] == [0.0, 1.0] and res["binary"]
  assert res["bf16"] == "bfloat16"
  for spe in (4, 5):  # 12 steps: 3 full groups of 4; 2 groups of 5 + 2 single steps
    assert res[f"spe{spe}_max_weight_diff"] == 0.0, res
    # logged state bit-identical; running means to float32 rounding (XLA may contract the
    # fused program's sums into FMAs differently on different CPUs)
    assert res[f"spe{spe}_state_equal"] and res[f"spe{spe}_keys_equal"], res
    assert res[f"spe{spe}_means_rel"] <= 1e-6, res
    assert res[f"spe{spe}_step"] == 12
  assert np.isfinite(res["beta"]) and res["beta"] >= 0.1
  for name in ("ControlVAE", "LVAE", "AnnealedVAE"):
    fused = res[f"{name}_fused"]
    assert fused["weights_equal"] and fused["state_equal"] and fused["keys_equal"], (name, fused)
    assert fused["means_rel"] <= 1e-6, (name, fused)
  assert res["AnnealedVAE_fused"]["logs"]["capacity"] == pytest.approx(25.0 * 11 / 100000, rel=1e-6)  # t = 11
  assert res["sum_tracker_spe4_logs_equal"] and res["sum_tracker_is_sum"], res
  # our fit never shuffles a step-indexed stream (Keras first peeks at batch 0)
  assert res["fit_read_order"][-12:] == list(range(6)) * 2


def test_missing_keras_internals_are_named():
  """The fused loop's check names what is missing (on TensorFlow, Keras' Model has no JAX trainer)."""
  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import jax_fused  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() == "jax":
    pytest.skip("the JAX trainer has them; checked in test_device_stream_and_fused_steps_on_jax")
  with pytest.raises(RuntimeError, match=r"lacks keras\.Model\._get_state_sharding_spec.*jax_fused"):
    jax_fused.check_keras_internals()


def test_device_batches_need_jax():
  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data.device_batches import DeviceBatches  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() == "jax":
    pytest.skip("runs on the other backends")
  with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
    DeviceBatches(np.zeros((4, 64, 64, 1), np.uint8), 2, 3)


TRAIN = r"""
import json, os
from dynvae_keras import cli
code = cli.main(["train", "--model_dir", {model_dir!r}, "--gin_config", "model/dynamic_vae_quick.gin",
                 "--gin_bindings", "model.training_steps=8", "--gin_bindings", "model.eval_steps=2",
                 "--gin_bindings", "model.batch_size=8", "--gin_bindings", "model.log_every=4",
                 "--gin_bindings", "model.steps_per_execution=2", "--gin_bindings", "model.device_input=True",
                 "--gin_bindings", "model.device_pool_size=128",
                 "--gin_bindings", "encoder.encoder_fn=@mlp_encoder", "--gin_bindings", "decoder.decoder_fn=@mlp_decoder"])
print("RESULT" + json.dumps(dict(code=code)))
"""


def test_dynvae_train_with_device_input_on_jax(tmp_path):
  model_dir = tmp_path / "m"
  assert run_python_result(TRAIN.format(model_dir=str(model_dir)), "jax")["code"] == 0
  results = json.loads((model_dir / "results" / "json" / "train_results.json").read_text())
  assert results["global_step"] == 8
  assert np.isfinite(results["loss"])
  # The JAX-trained model's SavedModel agrees with the model reloaded under TensorFlow.
  import keras  # pylint: disable=g-import-not-at-top
  import dynvae_keras.models  # pylint: disable=g-import-not-at-top,unused-import
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  x = np.random.RandomState(0).rand(3, 64, 64, 1).astype(np.float32)
  model = keras.saving.load_model(model_dir / "model.keras")
  exported = saved_model.SavedModelFunction(str(model_dir / "tfhub"), "gaussian_encoder")(x)["mean"]
  np.testing.assert_allclose(exported, keras.ops.convert_to_numpy(model.encode(x)[0]), atol=1e-5)
