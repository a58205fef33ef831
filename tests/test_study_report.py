"""`dynvae study --workers N` (parallel processes on one machine) and `dynvae report`."""

import csv
import json
import math

import imageio.v2 as imageio
import pytest

from dynvae_keras import cli, cpu_runtime
from dynvae_keras.pipeline import report as report_module
from dynvae_keras.pipeline import run_records
from dynvae_keras.pipeline import study
from dynvae_keras.pipeline.report import StudyIncompleteError
from dynvae_keras.gin_utils import GinConfigError

STUDY = """
study.random_seeds = [0]
study.models = [('beta_vae', 'model/beta_vae.gin', ['vae.beta = 2.']),
                ('dynamic_vae', 'model/dynamic_vae_quick.gin', [])]
study.train_bindings = ['model.training_steps = 10', 'model.eval_steps = 1', 'model.batch_size = 8',
                        'model.log_every = 5', 'encoder.num_latent = 3',
                        'encoder.encoder_fn = @mlp_encoder', 'decoder.decoder_fn = @mlp_decoder']
study.postprocess_configs = ['postprocess/mean.gin']
study.metric_configs = ['metric/mig.gin', 'metric/sap_score.gin']
study.metric_bindings = ['mig.num_train = 200', 'sap_score.num_train = 200', 'sap_score.num_test = 100']
"""


def test_model_nums_and_worker_threads():
  assert cli.parse_model_nums("0-3,7, 9-10") == [0, 1, 2, 3, 7, 9, 10]
  with pytest.raises(GinConfigError, match="0-3,7"):
    cli.parse_model_nums("0-x")
  env = study.worker_environment(2, cpu_count=2)
  assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "1"
  assert study.worker_environment(3, cpu_count=16)["TF_NUM_INTRAOP_THREADS"] == "5"


def test_gpus_are_dealt_to_the_workers(tmp_path, monkeypatch):
  """`--gpus 0,1` starts one worker per GPU, each seeing only its own; with more workers than
  GPUs they share and allocate GPU memory on demand. (Popen is recorded, not run.)"""
  started = []
  real_popen = study.subprocess.Popen

  class Recorded:
    def __init__(self, command, env):
      started.append((command, env))

    def wait(self):
      return 0

    def poll(self):
      return 0

  def popen(command, **kwargs):  # other subprocesses (library probes) run for real
    if "dynvae_keras.cli" in command:
      return Recorded(command, kwargs["env"])
    return real_popen(command, **kwargs)

  monkeypatch.setattr(study.subprocess, "Popen", popen)
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY)
  out = str(tmp_path / "out")
  assert cli.main(["study", "--study", str(study_file), "--output_dir", out, "--gpus", "0,1",
                   "--stages", "train"]) == 0
  assert [env["CUDA_VISIBLE_DEVICES"] for _, env in started] == ["0", "1"]
  assert [c[c.index("--model_nums") + 1] for c, _ in started] == ["0", "1"]
  assert not any("XLA_PYTHON_CLIENT_PREALLOCATE" in env for _, env in started)
  started.clear()
  assert cli.main(["study", "--study", str(study_file), "--output_dir", out, "--gpus", "3",
                   "--workers", "2", "--stages", "train"]) == 0
  assert [env["CUDA_VISIBLE_DEVICES"] for _, env in started] == ["3", "3"]
  assert all(env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" for _, env in started)
  assert all(env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for _, env in started)
  assert cli.main(["study", "--study", str(study_file), "--output_dir", out, "--gpus", "0,,1"]) == 2


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
  root = tmp_path_factory.mktemp("study")
  study_file = root / "s.gin"
  study_file.write_text(STUDY)
  out = root / "out"
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--workers", "2"]) == 0
  return study_file, out


def test_workers_run_every_model_and_aggregate_once(finished_study, capfd):
  study_file, out = finished_study
  rows = json.loads((out / "results.json").read_text())
  assert sorted(rows["train_config.model.name"].values()) == ["'beta_vae'"] * 2 + ["'dynamic_vae'"] * 2
  assert sum(v is not None for v in rows["evaluation_results.discrete_mig"].values()) == 2
  # A rerun finds everything done.
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--workers", "2"]) == 0
  printed = capfd.readouterr().out  # the workers' lines come from their processes
  assert "model 0 (beta_vae, seed 0): 0 step(s) run" in printed
  assert "model 1 (dynamic_vae, seed 0): 0 step(s) run" in printed
  assert "4 evaluations aggregated" in printed  # 2 models × 2 metrics, aggregated once
  sap = json.loads((out / "results.json").read_text())["evaluation_results.SAP_score"]
  assert sum(v is not None for v in sap.values()) == 2


def test_failing_worker_is_named_and_rerun_completes(tmp_path, capsys):
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY.replace("['vae.beta = 2.']", "['vae.bta = 2.']"))
  out = tmp_path / "out"
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--workers", "2",
                   "--stages", "train"]) == 2
  err = capsys.readouterr().err
  assert "models [0] exited with 2" in err and "Rerun the same command" in err
  assert (out / "1" / "model" / "results" / "gin" / "train.gin").is_file()  # the other worker finished
  study_file.write_text(STUDY)
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--workers", "2",
                   "--stages", "train"]) == 0
  assert (out / "0" / "model" / "results" / "gin" / "train.gin").is_file()


def test_report_tables_curves_and_traversals(finished_study, tmp_path, capsys):
  study_file, out = finished_study
  report = tmp_path / "report"
  assert cli.main(["report", "--study", str(study_file), "--study_dir", str(out),
                   "--output_dir", str(report)]) == 0
  summary = (report / "summary.md").read_text()
  assert "| beta_vae | 1 |" in summary and "| dynamic_vae | 1 |" in summary
  assert "| 1 | " in summary.split("Models ranked")[1]
  with open(report / "per_model.csv", newline="") as f:
    rows = {row["name"]: row for row in csv.DictReader(f)}
  mig = json.loads((out / "1" / "metrics" / "mean" / "mig" / "results" / "aggregate" /
                    "evaluation.json").read_text())["evaluation_results.discrete_mig"]
  assert float(rows["dynamic_vae"]["MIG"]) == pytest.approx(mig)
  assert float(rows["beta_vae"]["final β"]) == float(rows["beta_vae"]["first β"]) == pytest.approx(2.0)
  assert float(rows["dynamic_vae"]["first β"]) > float(rows["dynamic_vae"]["final β"])
  # Set-point tracking: from the run's own log, for the controlled model only.
  from dynvae_keras.visualize import curves  # pylint: disable=g-import-not-at-top
  log = curves.read_log(out / "1" / "model" / "logs" / "metrics.csv")
  assert float(rows["dynamic_vae"]["|KL − C| end"]) == pytest.approx(
      abs(log["kl_loss"][-1] - log["kl_setpoint"][-1]), rel=1e-6)  # 2 intervals: the last quarter is the last
  assert rows["beta_vae"]["|KL − C| end"] == rows["beta_vae"]["|KL − C| rise"] == "nan"
  assert rows["beta_vae"]["DCI disent."] == "nan"  # not in this study's metrics
  # The common reconstruction error = BCE of the Keras model's decoded posterior mean.
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from dynvae_keras import data  # pylint: disable=g-import-not-at-top
  model = keras.models.load_model(out / "1" / "model" / "model.keras")
  images = data.get_named_ground_truth_data("dsprites_full").sample_observations(
      2000, np.random.RandomState(0)).astype(np.float32)
  mean, _ = model.encode(images, training=False)
  logits = keras.ops.convert_to_numpy(model.decode(mean, training=False)).astype(np.float64)
  bce = np.maximum(logits, 0) - logits * images + np.log1p(np.exp(-np.abs(logits)))
  assert float(rows["dynamic_vae"]["BCE@mean"]) == pytest.approx(bce.reshape(2000, -1).sum(1).mean(), rel=1e-4)
  # The papers' claims on the same rows: one seed, so comparisons are not resolvable; the β path
  # is judged from the run's own first and final β.
  claims = (report / "claims.md").read_text()
  assert "| dynamic_vae | decoupling | **not resolvable** | needs ≥ 2 seeds" in claims
  first, final = float(rows["dynamic_vae"]["first β"]), float(rows["dynamic_vae"]["final β"])
  path = "supported" if first > 1 > final else "not supported"
  assert f"| dynamic_vae | β from above 1 to below 1 | **{path}** |" in claims
  # Set-point curves only for the controlled model; learning curves for all.
  assert imageio.imread(report / "learning_curves.png").ndim == 3
  assert (report / "control_curves_dynamic_vae.png").is_file()
  assert not (report / "control_curves_beta_vae.png").exists()
  for name in ("beta_vae", "dynamic_vae"):
    assert len(imageio.mimread(report / f"traversal_{name}.gif")) == 20
  assert cli.main(["report", "--study", str(study_file), "--study_dir", str(out),
                   "--output_dir", str(report)]) == 2  # refuses to overwrite


def test_kl_tracking_error_is_the_mean_distance_to_the_target_over_the_last_quarter():
  report = report_module
  log = {"kl_loss": [9., 9., 9., 9., 9., 9., 4., 12.], "kl_setpoint": [0.] * 6 + [5., 10.],
         "capacity": [9.] * 8}
  assert report.kl_tracking_error(log) == pytest.approx((1. + 2.) / 2)  # kl_setpoint preferred
  # While C rises (the intervals before it first reaches its final 10): |9 − 0| × 6, |4 − 5|.
  assert report.kl_rise_error(log) == pytest.approx((9. * 6 + 1.) / 7)
  del log["kl_setpoint"]
  assert report.kl_tracking_error(log) == pytest.approx((5. + 3.) / 2)  # AnnealedVAE's capacity
  assert math.isnan(report.kl_rise_error(log))  # a constant capacity never rises
  del log["capacity"]
  assert math.isnan(report.kl_tracking_error(log)) and math.isnan(report.kl_rise_error(log))


def test_ranking_orders_models_by_their_mean_over_seeds():
  nan = float("nan")
  rows = [{"name": "vae", "MIG": 0.02, "DCI disent.": 0.10},
          {"name": "vae", "MIG": 0.04, "DCI disent.": 0.30},   # mean MIG 0.03, DCI 0.2
          {"name": "l_vae", "MIG": 0.05, "DCI disent.": 0.15},
          {"name": "sigma_vae", "MIG": nan, "DCI disent.": 0.01}]
  table = report_module.ranking_table(rows, labels=("MIG", "DCI disent."))
  assert table.splitlines()[2:] == ["| 1 | l_vae 0.050 | vae 0.200 |",
                                    "| 2 | vae 0.030 | l_vae 0.150 |",
                                    "| 3 |  | sigma_vae 0.010 |"]


def test_report_of_a_study_still_running_lists_the_unfinished_models(finished_study, tmp_path):
  study_file, out = finished_study
  partial = tmp_path / "partial"
  (partial / "0").mkdir(parents=True)
  for part in ("model", "metrics"):
    (partial / "0" / part).symlink_to(out / "0" / part)
  (partial / "1").mkdir()
  (partial / "1" / "model").symlink_to(out / "1" / "model")  # trained, not evaluated
  report = tmp_path / "r"
  assert cli.main(["report", "--study", str(study_file), "--study_dir", str(partial),
                   "--output_dir", str(report), "--no_traversals", "--allow_incomplete"]) == 0
  summary = (report / "summary.md").read_text()
  assert "1 of 2 runs finished" in summary and "1 (dynamic_vae, seed 0)" in summary
  assert "| beta_vae | 1 |" in summary and "| dynamic_vae |" not in summary
  with open(report / "per_model.csv", newline="") as f:
    assert [row["name"] for row in csv.DictReader(f)] == ["beta_vae"]
  assert (report / "learning_curves.png").is_file()
  assert "1 of 2 runs finished" in (report / "claims.md").read_text()
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(StudyIncompleteError, match="no model of the study"):
    report_module.report(str(study_file), str(empty), str(tmp_path / "r2"), allow_incomplete=True)
  assert not (tmp_path / "r2").exists()


def test_report_on_unfinished_study_names_the_missing_step(finished_study, tmp_path, capsys):
  study_file, out = finished_study
  partial = tmp_path / "partial"
  (partial / "0").mkdir(parents=True)
  (partial / "0" / "model").symlink_to(out / "0" / "model")
  assert cli.main(["report", "--study", str(study_file), "--study_dir", str(partial),
                   "--output_dir", str(tmp_path / "r"), "--no_traversals"]) == 2
  err = capsys.readouterr().err
  assert "mig evaluation of model 0" in err and "rerun `dynvae study`" in err
  assert not (tmp_path / "r").exists()


def test_report_from_run_records_equals_the_report_from_the_study_dir(finished_study, tmp_path):
  """A report's runs/*.json carry every reported number: a report of an empty study dir from
  those records writes the same tables and claims; records of another set-up are refused."""
  study_file, out = finished_study
  first = tmp_path / "first"
  assert cli.main(["report", "--study", str(study_file), "--study_dir", str(out),
                   "--output_dir", str(first), "--no_traversals"]) == 0
  assert sorted(p.name for p in (first / "runs").iterdir()) == ["0.json", "1.json"]
  # Model 0 from the study dir, model 1 (a disk since wiped) from its record only.
  mixed = tmp_path / "mixed"
  (mixed / "0").mkdir(parents=True)
  for part in ("model", "metrics"):
    (mixed / "0" / part).symlink_to(out / "0" / part)
  records = tmp_path / "kept"
  records.mkdir()
  (records / "1.json").write_bytes((first / "runs" / "1.json").read_bytes())
  again = tmp_path / "again"
  assert cli.main(["report", "--study", str(study_file), "--study_dir", str(mixed),
                   "--output_dir", str(again), "--records", str(records)]) == 0
  for name in ("per_model.csv", "claims.md"):
    assert (again / name).read_text() == (first / name).read_text()
  assert (again / "runs" / "1.json").read_text() == (first / "runs" / "1.json").read_text()
  assert (again / "control_curves_dynamic_vae.png").is_file()  # drawn from the recorded log
  assert (again / "traversal_beta_vae.gif").is_file()
  assert not (again / "traversal_dynamic_vae.gif").exists()
  assert "No traversal figures for dynamic_vae" in (again / "summary.md").read_text()
  # Where each run was trained travels with its record (both ran here, in one sitting each).
  places = [line for line in (again / "summary.md").read_text().split(
      "Where the runs were trained:\n\n")[1].splitlines() if line.startswith("* ")]
  assert len(places) == 1 and places[0].endswith(": models 0, 1")
  assert places[0].startswith(f"* {cpu_runtime.processor()}; accelerator none; dynvae-keras ")
  old_record = json.loads((first / "runs" / "1.json").read_text())
  del old_record["row"]["sittings"]  # a record written before sittings were part of the results
  (records / "1.json").write_text(json.dumps(old_record))
  report_module.report(str(study_file), str(mixed), str(tmp_path / "old"), traversals=False,
                       records=[str(records)])
  summary = (tmp_path / "old" / "summary.md").read_text()
  assert ": models 0\n* not recorded (results without `runtime.sittings`): models 1\n" in summary
  # Without the records, model 1 is unfinished there.
  with pytest.raises(StudyIncompleteError, match="model 1"):
    report_module.report(str(study_file), str(mixed), str(tmp_path / "r"), traversals=False)
  # A study with another step budget is another run.
  other = tmp_path / "other.gin"
  other.write_text(STUDY.replace("model.training_steps = 10", "model.training_steps = 12"))
  with pytest.raises(run_records.RecordMismatchError, match="training_bindings"):
    report_module.report(str(other), str(tmp_path / "empty"), str(tmp_path / "r"),
                         traversals=False, records=[str(first / "runs")])
  assert not (tmp_path / "r").exists()
