"""The training step on the JAX (and, when installed, PyTorch) backend, in subprocesses.

Each run trains a tiny model on procedural dSprites with `fit`, checks the loss decreases and
the step counter, and round-trips `.keras` (which must reload under TensorFlow too).
"""

import importlib.util

import pytest

from conftest import run_python_result

SCRIPT = r"""
import json, os, sys, numpy as np, keras
sys.path.insert(0, "tests")
from helpers import make_model, fit, to_numpy, dsprites
from dynvae_keras import data
out = dict()
for key, compile_kwargs in {runs!r}:
  model = make_model(key, encoder_fn="mlp_encoder", decoder_fn="mlp_decoder")
  first = fit(model, 5, **compile_kwargs).history["loss"][-1]
  last = fit(model, 25, start_step=5).history["loss"][-1]
  path = os.path.join({tmp!r}, key + ".keras")
  model.save(path)
  x = data.sample_batch(dsprites(), 4, 3, 0)
  out[key] = dict(first=first, last=last, step=int(to_numpy(model.step)),
                  mean=to_numpy(model.encode(x)[0]).tolist(), path=path)
print("RESULT" + json.dumps(out))
"""

RELOAD = r"""
import json, sys, numpy as np, keras
sys.path.insert(0, "tests")
from helpers import to_numpy, dsprites
from dynvae_keras import data
res = {res!r}
x = data.sample_batch(dsprites(), 4, 3, 0)
diff = {{k: float(np.abs(to_numpy(keras.saving.load_model(v["path"]).encode(x)[0]) - np.array(v["mean"])).max())
        for k, v in res.items()}}
print("RESULT" + json.dumps(diff))
"""


def _check_backend(backend, tmp_path, runs):
  res = run_python_result(SCRIPT.format(runs=runs, tmp=str(tmp_path)), backend)
  for key, r in res.items():
    assert r["last"] < r["first"], (backend, key, r)
    assert r["step"] == 30
  diffs = run_python_result(RELOAD.format(res=res), "tensorflow")
  assert max(diffs.values()) < 1e-5, diffs


def test_jax_backend_trains_and_saves(tmp_path):
  _check_backend("jax", tmp_path, [("BetaVAE", {"steps_per_execution": 5}),
                                   ("FactorVAE", {"steps_per_execution": 5}),
                                   ("BetaTCVAE", {}), ("AnnealedVAE", {"jit_compile": False})])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch extra not installed")
def test_torch_backend_trains_and_saves(tmp_path):
  _check_backend("torch", tmp_path, [("BetaVAE", {}), ("FactorVAE", {})])
