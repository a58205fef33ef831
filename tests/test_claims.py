"""Leases on model numbers: exclusive, refreshed, released, taken over when stale; racing
processes get one winner; concurrent `dynvae study` processes train each model exactly once,
and a killed one's model is taken over and finished."""

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from dynvae_keras.pipeline import claims

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _age(path, seconds):
  stamp = time.time() - seconds
  os.utime(path, (stamp, stamp))


def test_a_lease_is_exclusive_until_released(tmp_path):
  lease = claims.try_claim(tmp_path, 3, timeout_seconds=60, heartbeat_seconds=5)
  assert lease is not None
  record = claims.read_lease(claims.lease_path(tmp_path, 3))
  assert record["pid"] == os.getpid() and record["holder"] == lease.record["holder"]
  assert claims.try_claim(tmp_path, 3, timeout_seconds=60, heartbeat_seconds=5) is None
  lease.release()
  assert not os.path.exists(claims.lease_path(tmp_path, 3))
  with claims.claim(tmp_path, 3, 60, 5) as again:
    assert again is not None
  assert not os.path.exists(claims.lease_path(tmp_path, 3))


def test_the_heartbeat_keeps_a_lease_alive(tmp_path):
  lease = claims.try_claim(tmp_path, 0, timeout_seconds=1.0, heartbeat_seconds=0.05)
  try:
    _age(lease.path, 10)
    time.sleep(0.3)
    assert time.time() - os.stat(lease.path).st_mtime < 0.5
    assert claims.try_claim(tmp_path, 0, timeout_seconds=1.0, heartbeat_seconds=0.05) is None
  finally:
    lease.release()


def test_a_stale_lease_is_taken_over_and_its_old_holder_does_not_remove_the_new_one(tmp_path, caplog):
  old = claims.try_claim(tmp_path, 1, timeout_seconds=60, heartbeat_seconds=30)
  _age(old.path, 120)  # silent for two minutes: crashed or preempted
  with caplog.at_level(logging.WARNING):
    new = claims.try_claim(tmp_path, 1, timeout_seconds=60, heartbeat_seconds=30)
  assert new is not None and "taking over the lease" in caplog.text
  time.sleep(0.1)
  assert claims.read_lease(new.path)["holder"] == new.record["holder"]
  old.release()  # the old holder waking up must not delete the new holder's lease
  assert claims.read_lease(new.path)["holder"] == new.record["holder"]
  new.release()
  assert not os.path.exists(new.path) and not os.path.exists(new.path + ".takeover")


def test_a_stalled_holder_stops_refreshing_a_lease_taken_over(tmp_path):
  old = claims.try_claim(tmp_path, 2, timeout_seconds=0.5, heartbeat_seconds=0.05)
  old._stop.set()  # pylint: disable=protected-access  (stalled: no heartbeat)
  old._thread.join()  # pylint: disable=protected-access
  time.sleep(0.6)
  new = claims.try_claim(tmp_path, 2, timeout_seconds=0.5, heartbeat_seconds=0.05)
  assert new is not None
  revived = claims.Lease(old.path, old.record, 0.05)  # the old holder's heartbeat resumes
  time.sleep(0.3)
  assert not revived._thread.is_alive()  # pylint: disable=protected-access  (it saw the new holder)
  assert claims.read_lease(new.path)["holder"] == new.record["holder"]
  new.release()


def test_heartbeat_must_be_shorter_than_the_timeout(tmp_path):
  with pytest.raises(ValueError, match="heartbeat"):
    claims.try_claim(tmp_path, 0, timeout_seconds=5, heartbeat_seconds=5)


RACER = r"""
import os, sys, time
from dynvae_keras.pipeline import claims
out, go = sys.argv[1], sys.argv[2]
while not os.path.exists(go):
  time.sleep(0.001)
lease = claims.try_claim(out, 0, timeout_seconds=60, heartbeat_seconds=30)
print("won" if lease is not None else "lost", flush=True)
time.sleep(1.0)  # hold it while the others try
"""


@pytest.mark.parametrize("stale", [False, True])
def test_racing_processes_get_exactly_one_lease(tmp_path, stale):
  out, go = tmp_path / "study", tmp_path / "go"
  if stale:
    old = claims.try_claim(out, 0, timeout_seconds=60, heartbeat_seconds=30)
    old._stop.set()  # pylint: disable=protected-access  (a holder that died)
    _age(old.path, 600)
  racers = [subprocess.Popen([sys.executable, "-c", RACER, str(out), str(go)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True) for _ in range(6)]
  time.sleep(1.5)  # let every racer reach its start line
  go.touch()
  results = [racer.communicate(timeout=60)[0].strip() for racer in racers]
  assert sorted(results) == ["lost"] * 5 + ["won"], results


STUDY = """
study.random_seeds = [0, 1, 2, 3]
study.models = [('beta_vae', 'model/beta_vae.gin', ['vae.beta = 2.'])]
study.train_bindings = ['model.training_steps = {steps}', 'model.eval_steps = 1', 'model.batch_size = 8',
                        'model.log_every = 5', 'encoder.num_latent = 3',
                        'encoder.encoder_fn = @mlp_encoder', 'decoder.decoder_fn = @mlp_decoder']
study.postprocess_configs = ['postprocess/mean.gin']
study.metric_configs = ['metric/mig.gin']
study.metric_bindings = ['mig.num_train = 100']
"""


def _study(study_file, out, *extra):
  env = dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
  return subprocess.Popen([sys.executable, "-m", "dynvae_keras.cli", "study", "--study", str(study_file),
                           "--output_dir", str(out), *extra], cwd=REPO, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _trainings(logs):
  return sorted(int(n) for log in logs for n in re.findall(r"model (\d+): training", log))


@pytest.mark.parametrize("count", [2, pytest.param(4, marks=pytest.mark.slow)])
def test_concurrent_studies_train_every_model_exactly_once(tmp_path, count):
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY.format(steps=10))
  out = tmp_path / "study"
  processes = [_study(study_file, out) for _ in range(count)]
  logs = [p.communicate(timeout=900 * count // 2)[0] for p in processes]
  assert all(p.returncode == 0 for p in processes), logs
  assert _trainings(logs) == [0, 1, 2, 3], logs
  assert "skipped, claimed by" in "".join(logs) or len(set(_trainings(logs[:1]))) == 4
  rows = json.loads((out / "results.json").read_text())
  assert len(rows["evaluation_results.discrete_mig"]) == 4
  assert not list(out.glob("*/claim.json*"))


def test_a_killed_study_is_taken_over_after_the_timeout_and_resumed(tmp_path):
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY.format(steps=400).replace("[0, 1, 2, 3]", "[0]")
                        .replace("'model.log_every = 5'", "'model.log_every = 50', 'model.checkpoint_every = 50'"))
  out = tmp_path / "study"
  first = _study(study_file, out, "--claim_timeout", "4")
  checkpoint = out / "0" / "model" / "checkpoints" / "checkpoint.json"
  deadline = time.time() + 300
  while not checkpoint.exists() and first.poll() is None and time.time() < deadline:
    time.sleep(0.2)
  assert checkpoint.exists(), first.communicate()[0]
  first.send_signal(signal.SIGKILL)  # no cleanup: the lease stays behind
  first.wait()
  assert (out / "0" / "claim.json").exists()
  # Judged with a 60 s timeout the lease is still live (the reader's timeout decides) ...
  early = _study(study_file, out, "--claim_timeout", "60").communicate(timeout=300)[0]
  assert "model 0: skipped, claimed by" in early, early
  time.sleep(4.5)  # ... with 4 s it is abandoned
  later = _study(study_file, out, "--claim_timeout", "4").communicate(timeout=600)[0]
  assert "taking over the lease" in later and "Resuming" in later, later
  assert (out / "0" / "metrics" / "mean" / "mig" / "results" / "aggregate" / "evaluation.json").is_file()
  assert not (out / "0" / "claim.json").exists()
