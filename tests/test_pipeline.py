"""The dlib pipeline end to end on a tiny run: export → postprocess → evaluate → aggregate →
visualize, and a two-model study (layout, keys, signatures, resumability, refusals, atomicity)."""

import json
import os

import numpy as np
import pytest

from conftest import run_python
from dynvae_keras import cli

TINY = ["--gin_bindings", "model.training_steps=20", "--gin_bindings", "model.eval_steps=2",
        "--gin_bindings", "model.batch_size=16", "--gin_bindings", "model.log_every=10",
        "--gin_bindings", "encoder.num_latent=4",
        "--gin_bindings", "encoder.encoder_fn=@mlp_encoder", "--gin_bindings", "decoder.decoder_fn=@mlp_decoder"]
SMALL_MIG = ["--gin_bindings", "mig.num_train=300"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
  root = tmp_path_factory.mktemp("pipeline")
  model = root / "model"
  assert cli.main(["train", "--model_dir", str(model), "--gin_config",
                   "model/dynamic_vae_quick.gin", *TINY]) == 0
  for kind in ("mean", "sampled"):
    assert cli.main(["postprocess", "--model_dir", str(model), "--output_dir", str(root / "post" / kind),
                     "--gin_config", f"postprocess/{kind}.gin"]) == 0
    assert cli.main(["evaluate", "--input_dir", str(root / "post" / kind),
                     "--output_dir", str(root / "metrics" / kind / "mig"),
                     "--gin_config", "metric/mig.gin", *SMALL_MIG]) == 0
  return root


def _json(path):
  return json.loads(path.read_text())


def test_every_results_file_has_dlib_keys(pipeline):
  for kind in ("mean", "sampled"):
    results = pipeline / "metrics" / kind / "mig" / "results"
    for step in ("train", "postprocess", "evaluation"):
      assert (results / "gin" / f"{step}.gin").is_file()
      assert (results / "json" / f"{step}_config.json").is_file()
      assert "uuid" in _json(results / "json" / f"{step}_results.json")
      assert "elapsed_time" in _json(results / "json" / f"{step}_results.json")
      assert (results / "aggregate" / f"{step}.json").is_file()
    agg = _json(results / "aggregate" / "evaluation.json")
    assert 0.0 <= agg["evaluation_results.discrete_mig"] <= 1.0
    assert agg["train_config.model.name"] == "'dynamic_vae_quick'"
    assert agg["train_config.dataset.name"] == "'dsprites_full'"
    assert agg["postprocess_config.dataset.name"] == "'dsprites_full'"   # resolved from "auto"
    assert agg["evaluation_config.dataset.name"] == "'dsprites_full'"
    assert agg["postprocess_config.postprocess.postprocess_fn"] == f"@{kind}_representation"
    assert "train_results.global_step" in agg and "train_results.beta" in agg
    for step in ("train", "postprocess", "evaluation"):  # every step says which images it used
      assert agg[f"{step}_config.dataset.source"].startswith("'procedural dSprites renderer ")
      assert agg[f"{step}_config.dataset.files"] == "'{}'"


def test_saved_model_signatures_match_the_keras_model(pipeline):
  import keras  # pylint: disable=g-import-not-at-top
  import dynvae_keras.models  # pylint: disable=g-import-not-at-top,unused-import
  from dynvae_keras.data import sample_batch, get_named_ground_truth_data  # pylint: disable=g-import-not-at-top
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  model = keras.saving.load_model(pipeline / "model" / "model.keras")
  x = sample_batch(get_named_ground_truth_data("dsprites_full"), 6, 0, 0)
  hub = str(pipeline / "model" / "tfhub")
  module = saved_model.load_saved_model(hub)
  spec = {name: (sorted(module.signatures[name].structured_input_signature[1]),
                 sorted(module.signatures[name].structured_outputs)) for name in saved_model.SIGNATURES}
  assert spec == {"gaussian_encoder": (["images"], ["logvar", "mean"]),
                  "decoder": (["latent_vectors"], ["images"]),
                  "reconstructions": (["images"], ["images"])}
  mean, logvar = (keras.ops.convert_to_numpy(t) for t in model.encode(x))
  enc = saved_model.SavedModelFunction(hub, "gaussian_encoder")(x)
  np.testing.assert_allclose(enc["mean"], mean, atol=1e-5)
  np.testing.assert_allclose(enc["logvar"], logvar, atol=1e-5)
  dec = saved_model.SavedModelFunction(hub, "decoder")(mean)["images"]
  np.testing.assert_allclose(dec, keras.ops.convert_to_numpy(model.decode(mean)), atol=1e-4)
  rec = saved_model.SavedModelFunction(hub, "reconstructions")(x)["images"]
  np.testing.assert_allclose(rec, dec, atol=1e-4)
  post = saved_model.load_saved_model(str(pipeline / "post" / "mean" / "tfhub"))
  assert list(post.signatures) == ["representation"]
  assert list(post.signatures["representation"].structured_outputs) == ["default"]
  np.testing.assert_allclose(saved_model.load_representation_function(str(pipeline / "post" / "mean" / "tfhub"))(x),
                             mean, atol=1e-5)


PLAIN_TF = r"""
import sys, numpy as np, tensorflow as tf
module = tf.saved_model.load({path!r})
f = module.signatures["representation"]
x = np.random.RandomState(0).rand(5, 64, 64, 1).astype(np.float32)
a = f(images=tf.constant(x))["default"].numpy(); b = f(images=tf.constant(x))["default"].numpy()
assert "dynvae_keras" not in sys.modules
print("RESULT", a.shape, bool(np.isfinite(a).all()), bool((a != b).any()))
"""


def test_representation_loads_with_plain_tensorflow(pipeline):
  out = run_python(PLAIN_TF.format(path=str(pipeline / "post" / "sampled" / "tfhub")), "tensorflow")
  assert "RESULT (5, 4) True True" in out   # sampled: fresh noise on each call


def test_sampled_representation_is_reproducible_after_reload(pipeline):
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  x = np.random.RandomState(1).rand(4, 64, 64, 1).astype(np.float32)
  path = str(pipeline / "post" / "sampled" / "tfhub")
  a = saved_model.load_representation_function(path)(x)
  b = saved_model.load_representation_function(path)(x)
  np.testing.assert_array_equal(a, b)


def test_evaluation_is_bit_identical_run_to_run(pipeline, tmp_path):
  assert cli.main(["evaluate", "--input_dir", str(pipeline / "post" / "mean"), "--output_dir",
                   str(tmp_path / "again"), "--gin_config", "metric/mig.gin", *SMALL_MIG]) == 0
  first = _json(pipeline / "metrics" / "mean" / "mig" / "results" / "json" / "evaluation_results.json")
  second = _json(tmp_path / "again" / "results" / "json" / "evaluation_results.json")
  assert first["discrete_mig"] == second["discrete_mig"]


EVALUATE = r"""
from dynvae_keras import cli
raise SystemExit(cli.main(["evaluate", "--input_dir", {inp!r}, "--output_dir", {out!r},
                           "--gin_config", "metric/{metric}.gin", *{extra!r}]))
"""


@pytest.mark.parametrize("kind, metric, extra", [
    ("sampled", "mig", SMALL_MIG),
    ("mean", "dci", ["--gin_bindings", "dci.num_train=200", "--gin_bindings", "dci.num_test=100"]),
])
def test_evaluation_is_bit_identical_across_processes(pipeline, tmp_path, kind, metric, extra):
  """Fresh processes, same seed: identical scores (sampled noise and DCI's trees included)."""
  scores = []
  for run in ("a", "b"):
    run_python(EVALUATE.format(inp=str(pipeline / "post" / kind), out=str(tmp_path / run),
                               metric=metric, extra=extra), "tensorflow")
    result = _json(tmp_path / run / "results" / "json" / "evaluation_results.json")
    scores.append({k: v for k, v in result.items() if k not in ("elapsed_time", "uuid")})
  assert scores[0] == scores[1]


def test_existing_outputs_are_refused_and_failures_leave_nothing(pipeline, capsys):
  target = pipeline / "post" / "mean"
  before = sorted(os.listdir(target))
  assert cli.main(["postprocess", "--model_dir", str(pipeline / "model"), "--output_dir", str(target),
                   "--gin_config", "postprocess/mean.gin"]) == 2
  assert "already exists" in capsys.readouterr().err and sorted(os.listdir(target)) == before
  assert cli.main(["evaluate", "--input_dir", str(pipeline / "model"), "--output_dir",
                   str(pipeline / "bad"), "--gin_config", "metric/mig.gin"]) == 2
  assert "no finished 'postprocess' step" in capsys.readouterr().err
  with pytest.raises(ValueError):  # the metric fails mid-way: no output, no temp directory left
    cli.main(["evaluate", "--input_dir", str(pipeline / "post" / "mean"), "--output_dir",
              str(pipeline / "metrics" / "mean" / "broken"), "--gin_config", "metric/mig.gin",
              "--gin_bindings", "mig.num_train=0"])
  assert sorted(os.listdir(pipeline / "metrics" / "mean")) == ["mig"]


def test_aggregate_json_and_csv(pipeline):
  import csv  # pylint: disable=g-import-not-at-top
  from dynvae_keras.evaluation import aggregate  # pylint: disable=g-import-not-at-top
  out = pipeline / "results.json"
  assert cli.main(["aggregate", "--glob", str(pipeline / "metrics" / "*" / "*" / "results" / "aggregate" /
                                              "evaluation.json"), "--output", str(out)]) == 0
  table = _json(out)
  assert set(table["evaluation_results.discrete_mig"]) == {"0", "1"}   # pandas' column orientation
  rows = aggregate.load_aggregated_json(str(out))
  assert [r["postprocess_config.postprocess.postprocess_fn"] for r in rows] == [
      "@mean_representation", "@sampled_representation"]
  with open(pipeline / "results.csv", newline="") as f:
    csv_rows = list(csv.DictReader(f))
  assert len(csv_rows) == 2 and "train_config.model.name" in csv_rows[0]
  assert cli.main(["aggregate", "--glob", str(pipeline / "nothing" / "*.json"), "--output", str(out)]) == 2


def test_visualize_writes_figures(pipeline):
  out = pipeline / "vis"
  assert cli.main(["visualize", "--model_dir", str(pipeline / "model"), "--output_dir", str(out)]) == 0
  import imageio.v2 as imageio  # pylint: disable=g-import-not-at-top
  for name in ("reconstructions.png", "samples.png", "training_curves.png"):
    assert imageio.imread(out / name).ndim == 3
  for style in ("std_gaussian", "fitted_gaussian", "interval"):
    frames = imageio.mimread(out / "traversals" / f"{style}_0.gif")
    assert len(frames) == 20 and not all((f == frames[0]).all() for f in frames)


STUDY = """
study.random_seeds = [0, 1]
study.models = [('beta_vae', 'model/beta_vae.gin', ['vae.beta = 2.'])]
study.train_bindings = ['model.training_steps = 10', 'model.eval_steps = 1', 'model.batch_size = 8',
                        'model.log_every = 5', 'encoder.num_latent = 3',
                        'encoder.encoder_fn = @mlp_encoder', 'decoder.decoder_fn = @mlp_decoder']
study.postprocess_configs = ['postprocess/mean.gin', 'postprocess/sampled.gin']
study.metric_configs = ['metric/mig.gin']
study.metric_bindings = ['mig.num_train = 200']
"""


def test_study_runs_resumes_and_aggregates(tmp_path, capsys):
  study_file = tmp_path / "tiny_study.gin"
  study_file.write_text(STUDY)
  out = tmp_path / "study"
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--model_nums", "0-1"]) == 0
  assert "model 1 (beta_vae, seed 1): 5 step(s) run" in capsys.readouterr().out
  for n in ("0", "1"):
    for kind in ("mean", "sampled"):
      assert (out / n / "metrics" / kind / "mig" / "results" / "aggregate" / "evaluation.json").is_file()
  rows = json.loads((out / "results.json").read_text())
  assert sorted(set(rows["train_config.model.random_seed"].values())) == ["0", "1"]
  assert len(rows["evaluation_results.discrete_mig"]) == 4
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--model_num", "1"]) == 0
  assert "model 1 (beta_vae, seed 1): 0 step(s) run" in capsys.readouterr().out
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--model_num", "2"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["postprocess", "--model_dir", "{root}/missing", "--output_dir", "{root}/x",
      "--gin_config", "postprocess/mean.gin"], "no finished 'train' step"),
    (["evaluate", "--input_dir", "{root}/post/mean", "--output_dir", "{root}/x",
      "--gin_config", "metric/mig.gin", "--gin_bindings", "dataset.name = 'nope'"], "nope"),
    (["evaluate", "--input_dir", "{root}/post/mean", "--output_dir", "{root}/x",
      "--gin_config", "metric/mig.gin", "--gin_bindings", "mig.num_trian = 5"], "num_trian"),
    (["evaluate", "--input_dir", "{root}/post/mean", "--output_dir", "{root}/x",
      "--gin_config", "metric/nope.gin"], "nope.gin"),
    (["visualize", "--model_dir", "{root}/missing", "--output_dir", "{root}/x"], "dynvae train first"),
    (["export", "--model_dir", "{root}/missing"], "train the model first"),
])
def test_pipeline_errors_are_one_line(pipeline, capsys, argv, message):
  argv = [a.format(root=pipeline) for a in argv]
  assert cli.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and len(err.splitlines()) <= 2, err
  assert not (pipeline / "x").exists()


def test_study_crash_mid_step_then_rerun_completes(tmp_path, capsys):
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY.replace("study.random_seeds = [0, 1]", "study.random_seeds = [0]")
                        .replace("'mig.num_train = 200'", "'mig.num_train = 0'"))
  out = tmp_path / "study"
  with pytest.raises(ValueError):   # the metric fails: model and postprocessing stay, no metric dir
    cli.main(["study", "--study", str(study_file), "--output_dir", str(out)])
  assert (out / "0" / "model" / "results" / "gin" / "train.gin").is_file()
  assert not (out / "0" / "metrics" / "mean" / "mig").exists()
  study_file.write_text(study_file.read_text().replace("'mig.num_train = 0'", "'mig.num_train = 200'"))
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out)]) == 0
  # mean/mig, then the sampled postprocessing and its mig
  assert "model 0 (beta_vae, seed 0): 3 step(s) run" in capsys.readouterr().out


def test_calibrate_proposes_a_schedule_from_a_beta_one_run(tmp_path, capsys, pipeline):
  from dynvae_keras.pipeline import calibrate  # pylint: disable=g-import-not-at-top
  run = tmp_path / "vae"
  assert cli.main(["calibrate", "--model_dir", str(run), "--target_steps", "30000",
                   "--gin_config", "model/vae.gin", *TINY,
                   "--gin_bindings", "AdamOptimizer.learning_rate=0.001"]) == 0  # KL above 0.5 nats in 20 steps
  snippet = capsys.readouterr().out
  kl = calibrate.reference_kl(str(run))
  proposal = calibrate.propose(kl, 30000)
  assert f"hybrid_annealing_setpoint.maximum = {proposal['c_max']}" in snippet
  assert proposal["windows"] * proposal["period"] <= 20000   # annealed within 2/3 of the run
  import gin  # pylint: disable=g-import-not-at-top
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  gin_utils.parse(["model/dynamic_vae.gin"], [l for l in snippet.splitlines()
                                              if l.startswith("hybrid_annealing_setpoint.")])
  assert gin.query_parameter("hybrid_annealing_setpoint.period") == proposal["period"]
  gin.clear_config()
  # A controlled run is not a β = 1 reference: one-line error.
  assert cli.main(["calibrate", "--model_dir", str(pipeline / "model"), "--target_steps", "100"]) == 2
  assert "not trained with β = 1" in capsys.readouterr().err
  assert calibrate.propose(20.4, 3000) == {"c_max": 20.0, "windows": 20, "period": 100, "ramp": 20,
                                           "step": 1.0, "start": 0.5}


def test_study_trains_first_and_evaluates_later_elsewhere(tmp_path, capsys):
  """GPU box without TensorFlow trains (--stages train); a CPU box exports, scores, aggregates."""
  import shutil  # pylint: disable=g-import-not-at-top
  study_file = tmp_path / "s.gin"
  study_file.write_text(STUDY.replace("study.random_seeds = [0, 1]", "study.random_seeds = [0]"))
  out = tmp_path / "study"
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--stages", "train"]) == 0
  assert "model 0 (beta_vae, seed 0): 1 step(s) run" in capsys.readouterr().out
  assert not (out / "0" / "postprocessed").exists() and not (out / "results.json").exists()
  shutil.rmtree(out / "0" / "model" / "tfhub")   # as if trained where TensorFlow was absent
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out)]) == 0
  # export + 2 postprocessings + 2 evaluations
  assert "model 0 (beta_vae, seed 0): 5 step(s) run" in capsys.readouterr().out
  assert (out / "0" / "model" / "tfhub" / "saved_model.pb").is_file()
  assert len(json.loads((out / "results.json").read_text())["evaluation_results.discrete_mig"]) == 2
  assert cli.main(["study", "--study", str(study_file), "--output_dir", str(out), "--stages", "fit"]) == 2


def _tiny_grid_data():
  from dynvae_keras import data  # pylint: disable=g-import-not-at-top
  rs = np.random.RandomState(0)
  labels = np.array([(a, b, c) for a in range(3) for b in range(4) for c in range(5)])
  images = (rs.uniform(size=(60, 64, 64, 1)) > 0.9).astype(np.float32)
  return data.ArrayGroundTruthData(images, labels)


@pytest.mark.parametrize("metric, bindings", [
    ("mig", ["mig.num_train=300"]),
    ("infomec", ["infomec.num_train=300"]),
    ("dci_es", ["dci_es.num_train=300", "dci_es.num_test=100", "dci_es.capacities=(1, 4)",
                "dci_es.num_trees=5"]),
    ("beta_vae_sklearn", ["beta_vae_sklearn.num_train=40", "beta_vae_sklearn.num_eval=20",
                          "beta_vae_sklearn.batch_size=8"]),
])
def test_tabulated_evaluation_scores_identically_and_caches_codes(pipeline, tmp_path, monkeypatch,
                                                                    metric, bindings):
  from dynvae_keras.data import named_data  # pylint: disable=g-import-not-at-top
  from dynvae_keras.evaluation import tabulated  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(named_data._BUILDERS, "tiny_grid", _tiny_grid_data)  # pylint: disable=protected-access
  post = tmp_path / "post"
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(pipeline / "post" / "mean", post)
  flags = ["--gin_config", f"metric/{metric}.gin", "--gin_bindings", "dataset.name='tiny_grid'"]
  for b in bindings:
    flags += ["--gin_bindings", b]
  scores = {}
  for tab in ("False", "True", "True"):  # direct, table computed, table read back
    out = tmp_path / f"{metric}_{tab}_{len(scores)}"
    assert cli.main(["evaluate", "--input_dir", str(post), "--output_dir", str(out), *flags,
                     "--gin_bindings", f"evaluation.tabulate={tab}"]) == 0
    result = _json(out / "results" / "json" / "evaluation_results.json")
    scores[len(scores)] = {k: v for k, v in result.items() if k not in ("elapsed_time", "uuid")}
    if len(scores) == 2:  # the cached table must be used from now on
      assert (post / "code_table" / "tiny_grid.npy").is_file()
      monkeypatch.setattr(tabulated, "encode_all_atoms", lambda *a, **k: pytest.fail("re-encoded"))
  assert scores[0] == scores[1] == scores[2]
  assert np.load(post / "code_table" / "tiny_grid.npy").shape == (60, 4)


def test_tabulating_a_sampled_representation_is_refused(pipeline, tmp_path, capsys):
  assert cli.main(["evaluate", "--input_dir", str(pipeline / "post" / "sampled"),
                   "--output_dir", str(tmp_path / "x"), "--gin_config", "metric/mig.gin",
                   *SMALL_MIG, "--gin_bindings", "evaluation.tabulate=True"]) == 2
  err = capsys.readouterr().err
  assert "@sampled_representation" in err and "evaluation.tabulate = False" in err
  assert not (tmp_path / "x").exists()
  # 'auto' scores the sampled representation directly, as without tabulation.
  for tab in ("auto", "False"):
    assert cli.main(["evaluate", "--input_dir", str(pipeline / "post" / "sampled"),
                     "--output_dir", str(tmp_path / tab), "--gin_config", "metric/mig.gin",
                     *SMALL_MIG, "--gin_bindings", f"evaluation.tabulate='{tab}'" if tab == "auto"
                     else "evaluation.tabulate=False"]) == 0
  auto, direct = (_json(tmp_path / t / "results" / "json" / "evaluation_results.json")["discrete_mig"]
                  for t in ("auto", "False"))
  assert auto == direct
  assert not (pipeline / "post" / "sampled" / "code_table").exists()
