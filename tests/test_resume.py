"""Kill a training run (SIGKILL, in a subprocess) and resume it: the trajectory continues exactly,
and so do the disentanglement scores logged during training."""

import ast
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO

BINDINGS = ["model.training_steps = 60", "model.log_every = 10", "model.checkpoint_every = 10",
            "model.batch_size = 16", "model.eval_steps = 2", "encoder.num_latent = 4",
            "model.deterministic = True", "hybrid_annealing_setpoint.period = 10",
            "hybrid_annealing_setpoint.ramp = 5", "hybrid_annealing_setpoint.step = 1.0",
            "AdamOptimizer.learning_rate = 0.001", "model.eval_metrics = [@mig]",
            "model.eval_metrics_every = 20", "mig.num_train = 200", "mig.batch_size = 64"]


def _command(model_dir):
  argv = [sys.executable, "-m", "dynvae_keras.cli", "train", "--model_dir", str(model_dir),
          "--gin_config", "model/dynamic_vae.gin"]
  for b in BINDINGS:
    argv += ["--gin_bindings", b]
  return argv


def _env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", PYTHONUNBUFFERED="1")


def _rows(model_dir):
  with open(os.path.join(model_dir, "logs", "metrics.csv"), newline="") as f:
    return [{k: float(v) if v != "" else None for k, v in r.items()} for r in csv.DictReader(f)]


def test_killed_run_resumes_with_the_same_trajectory(tmp_path):
  reference, resumed = tmp_path / "reference", tmp_path / "resumed"
  subprocess.run(_command(reference), cwd=REPO, env=_env(), check=True, capture_output=True, timeout=600)

  proc = subprocess.Popen(_command(resumed), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  state = resumed / "checkpoints" / "checkpoint.json"
  deadline = time.time() + 300
  while time.time() < deadline:
    if state.exists() and json.loads(state.read_text())["step"] >= 30:
      break
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  killed_at = json.loads(state.read_text())["step"]
  assert 30 <= killed_at < 60, "the run finished before it could be killed"
  assert not (resumed / "results").exists()

  completed = subprocess.run(_command(resumed), cwd=REPO, env=_env(), capture_output=True, text=True,
                             timeout=600)
  assert completed.returncode == 0, completed.stderr[-3000:]
  expected, got = _rows(reference), _rows(resumed)
  assert [r["step"] for r in got] == [r["step"] for r in expected]
  for a, b in zip(expected, got):
    for key in ("beta", "kl_loss", "loss", "kl_setpoint", "kl_feedback", "i_term"):
      assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9), (a["step"], key)
  scores = {int(r["step"]): r["mig/discrete_mig"] for r in expected if r["mig/discrete_mig"] is not None}
  assert sorted(scores) == [20, 40, 60]
  assert {int(r["step"]): r["mig/discrete_mig"] for r in got if r["mig/discrete_mig"] is not None} == \
      pytest.approx(scores, rel=1e-9)
  train_results = json.loads((resumed / "results" / "json" / "train_results.json").read_text())
  assert train_results["global_step"] == 60
  # Each sitting (start, resume) is recorded with the machine and software it ran on.
  sittings = {name: json.loads(ast.literal_eval(json.loads(
      (run / "results" / "json" / "train_config.json").read_text())["runtime.sittings"]))
              for name, run in (("reference", reference), ("resumed", resumed))}
  assert [s["from_step"] for s in sittings["reference"]] == [0]
  assert [s["from_step"] for s in sittings["resumed"]] == [0, killed_at]
  for sitting in sittings["resumed"]:
    assert sitting["software"].startswith("dynvae-keras ") and "tensorflow" in sitting["software"]
    assert sitting["settings"].startswith("backend tensorflow, precision float32, CPU kernels ")
    assert sitting["cpu"].endswith(" cores") and sitting["accelerator"] == "none"


def test_finished_run_is_not_resumed(tmp_path):
  model_dir = tmp_path / "m"
  subprocess.run(_command(model_dir) + ["--gin_bindings", "model.training_steps = 10"], cwd=REPO,
                 env=_env(), check=True, capture_output=True, timeout=600)
  again = subprocess.run(_command(model_dir), cwd=REPO, env=_env(), capture_output=True, text=True,
                         timeout=600)
  assert again.returncode == 2 and "finished training run" in again.stderr
