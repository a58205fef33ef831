"""`dynvae study --executor ray` on a local Ray instance (2 CPUs): a sweep completes and
aggregates, a failing model is reported by number with the rerun command, a rerun skips the
finished models."""

import json

import pytest

from dynvae_keras import cli

pytest.importorskip("ray")

STUDY = """
study.random_seeds = [0, 1]
study.models = [('beta_vae', 'model/beta_vae.gin', ['vae.beta = 2.']),
                ('broken', 'model/beta_vae.gin', ['vae.beta = -1.'])]
study.train_bindings = ['model.training_steps = 10', 'model.eval_steps = 1', 'model.batch_size = 8',
                        'model.log_every = 5', 'encoder.num_latent = 3',
                        'encoder.encoder_fn = @mlp_encoder', 'decoder.decoder_fn = @mlp_decoder']
study.postprocess_configs = ['postprocess/mean.gin']
study.metric_configs = ['metric/mig.gin']
study.metric_bindings = ['mig.num_train = 100']
"""
RAY = ["--executor", "ray", "--ray_local_cpus", "2"]


def test_ray_study_runs_reports_failures_and_resumes(tmp_path, capsys):
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY)
  out = tmp_path / "study"
  base = ["study", "--study", str(study_file), "--output_dir", str(out), *RAY]
  # Models 0 and 1 train; 2 and 3 (β = -1) fail when the model is built.
  assert cli.main(base) == 2
  captured = capsys.readouterr()
  assert "2 of 4 models failed under Ray: model 2: ValueError" in captured.err
  assert "--executor ray --model_nums 2,3" in captured.err
  assert "model 0: 3 step(s) run" in captured.out and "model 1: 3 step(s) run" in captured.out
  for n in ("0", "1"):
    assert (out / n / "metrics" / "mean" / "mig" / "results" / "aggregate" / "evaluation.json").is_file()
  assert not list(out.glob("*/claim.json"))  # released, also by the failed tasks
  # The finished models are skipped on a rerun, which aggregates once at the end.
  assert cli.main(base[:-len(RAY)] + ["--model_nums", "0-1", *RAY]) == 0
  captured = capsys.readouterr()
  assert "model 0: 0 step(s) run" in captured.out and "model 1: 0 step(s) run" in captured.out
  rows = json.loads((out / "results.json").read_text())
  assert len(rows["evaluation_results.discrete_mig"]) == 2


def test_ray_executor_refuses_local_worker_flags(tmp_path):
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY)
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(tmp_path / "o"),
                   "--workers", "2", *RAY]) == 2
