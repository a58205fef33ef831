"""Benchmark: our dlib metrics vs disentanglement_lib's own code, same data, codes and seeds.

For each case — (a) the toy one-hot data with the "mixing" code of ../shared/reference, (b) the
dlib conv encoder of a β-VAE (β 4, seed 0, trained `--train-steps` steps) on procedural dsprites_full — runs every study metric
with the unsupervised_study_v1 parameters (times `--scale`) twice in one run: ours in this
process, dlib's (the registry package `disentanglement-lib==1.5`, installed with `pip --target`
into `--dlib-dir`, imported with two shims: gin's `blacklist` → `denylist`, and a `gin.tf`
alias) in a subprocess. `np.random.seed(0)` precedes each metric on both sides. Prints
seconds per metric, the speed-up, and the largest absolute score difference. Where the data
set renders deterministically from its factors (procedural dSprites), ours first encodes every
image once (`dynvae_keras.evaluation.tabulated`, counted in our total) unless `--no-tabulate`.

Usage: python bench/metrics_bench.py [--case toy|conv|all] [--scale 1.0] [--dlib-dir DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

STUDY = {  # gin name -> (dlib module, dlib function, params)
    "beta_vae_sklearn": ("beta_vae", "compute_beta_vae_sklearn", dict(batch_size=64, num_train=10000, num_eval=5000)),
    "factor_vae_score": ("factor_vae", "compute_factor_vae",
                         dict(batch_size=64, num_train=10000, num_eval=5000, num_variance_estimate=10000)),
    "mig": ("mig", "compute_mig", dict(num_train=10000, batch_size=16)),
    "dci": ("dci", "compute_dci", dict(num_train=10000, num_test=5000, batch_size=16)),
    "sap_score": ("sap_score", "compute_sap", dict(num_train=10000, num_test=5000, batch_size=16,
                                                   continuous_factors=False)),
    "modularity_explicitness": ("modularity_explicitness", "compute_modularity_explicitness",
                                dict(num_train=10000, num_test=5000, batch_size=16)),
    "irs": ("irs", "compute_irs", dict(num_train=10000, batch_size=16, diff_quantile=0.99)),
    "unsupervised_metrics": ("unsupervised_metrics", "unsupervised_metrics", dict(num_train=10000, batch_size=16)),
}
SCALED = ("num_train", "num_eval", "num_test", "num_variance_estimate")
GIN_BINDINGS = ["discretizer.num_bins = 20", "prune_dims.threshold = 0.05"]


def scaled_params(scale):
  return {name: {k: (max(int(v * scale), 64) if k in SCALED else v) for k, v in params.items()}
          for name, (_, _, params) in STUDY.items()}


def make_case(case, model_path):
  """(ground_truth_data, representation_function) for a case; importable by both sides."""
  sys.path.insert(0, os.path.join(REPO, "tests"))
  if case == "toy":
    from toy_data import ToyData, mixing  # pylint: disable=g-import-not-at-top
    return ToyData(), mixing
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import dynvae_keras.models  # pylint: disable=g-import-not-at-top,unused-import  (registers the classes)
  from dynvae_keras.data import get_named_ground_truth_data  # pylint: disable=g-import-not-at-top
  model = keras.saving.load_model(model_path)
  encode = tf.function(lambda x: model.encoder(x, training=False)[0], reduce_retracing=True)
  return get_named_ground_truth_data("dsprites_full"), lambda x: encode(tf.constant(x, tf.float32)).numpy()


DLIB_SIDE = r"""
import json, sys, time, types, gin
import numpy as np
original = gin.configurable
def configurable(*args, **kwargs):
  if "blacklist" in kwargs: kwargs["denylist"] = kwargs.pop("blacklist")
  if "whitelist" in kwargs: kwargs["allowlist"] = kwargs.pop("whitelist")
  return original(*args, **kwargs)
gin.configurable = configurable
alias = types.ModuleType("gin.tf"); alias.__dict__.update(gin.__dict__); sys.modules["gin.tf"] = alias; gin.tf = alias
sys.path.insert(0, {dlib_dir!r}); sys.path.insert(0, {bench_dir!r})
import importlib
from metrics_bench import STUDY, make_case
for _, (module, _, _) in STUDY.items():
  importlib.import_module("disentanglement_lib.evaluation.metrics." + module)
gin.parse_config(["discretizer.discretizer_fn = @histogram_discretizer"] + {bindings!r})
data, code = make_case({case!r}, {model_path!r})
out = dict()
for name in {names!r}:
  module, fn, _ = STUDY[name]
  metric = getattr(importlib.import_module("disentanglement_lib.evaluation.metrics." + module), fn)
  np.random.seed(0)
  start = time.perf_counter()
  scores = metric(data, code, np.random.RandomState(0), **{params!r}[name])
  out[name] = dict(seconds=time.perf_counter() - start, scores={{k: float(v) for k, v in scores.items()}})
  print("DLIB " + json.dumps({{name: out[name]}}), flush=True)
"""


def ensure_dlib(dlib_dir):
  if not os.path.isdir(os.path.join(dlib_dir, "disentanglement_lib")):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", dlib_dir,
                    "disentanglement-lib==1.5"], check=True)


def run_dlib(case, names, params, dlib_dir, model_path):
  script = DLIB_SIDE.format(dlib_dir=dlib_dir, bench_dir=HERE, bindings=GIN_BINDINGS, case=case,
                            model_path=model_path, names=names, params=params)
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  if proc.returncode:
    raise RuntimeError(proc.stderr[-3000:])
  out = {}
  for line in proc.stdout.splitlines():
    if line.startswith("DLIB "):
      out.update(json.loads(line[5:]))
  return out


def run_ours(case, names, params, model_path, tabulate):
  import gin  # pylint: disable=g-import-not-at-top
  from dynvae_keras.evaluation import metrics, tabulated  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  gin.parse_config(GIN_BINDINGS)
  data, code = make_case(case, model_path)
  out = {}
  if tabulate and tabulated.supports_tabulation(data):
    start = time.perf_counter()
    data, code = tabulated.tabulate(data, code)
    out["code table"] = dict(seconds=time.perf_counter() - start, scores={})
  for name in names:
    np.random.seed(0)
    start = time.perf_counter()
    scores = metrics.METRICS[name](data, code, np.random.RandomState(0), **params[name])
    out[name] = dict(seconds=time.perf_counter() - start, scores={k: float(v) for k, v in scores.items()})
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--case", choices=["toy", "conv", "all"], default="all")
  parser.add_argument("--scale", type=float, default=1.0, help="fraction of the study's sample sizes")
  parser.add_argument("--metrics", nargs="*", default=list(STUDY))
  parser.add_argument("--dlib-dir", default=os.path.join(tempfile.gettempdir(), "dlib_reference"))
  parser.add_argument("--train-steps", type=int, default=500,
                      help="β-VAE steps before scoring, so that the conv codes are informative")
  parser.add_argument("--no-tabulate", action="store_true",
                      help="encode sampled observations instead of encoding every image once")
  args = parser.parse_args()
  ensure_dlib(args.dlib_dir)
  params = scaled_params(args.scale)
  model_path = os.path.join(tempfile.mkdtemp(), "encoder.keras")
  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras import models  # pylint: disable=g-import-not-at-top
  from dynvae_keras import data as data_lib  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  model = models.BetaVAE(beta=4.0, num_latent=10)
  model.build((None, 64, 64, 1))
  if args.train_steps:
    model.compile(optimizer=keras.optimizers.Adam(5e-4))
    model.fit(data_lib.training_input(data_lib.get_named_ground_truth_data("dsprites_full"), 64,
                                      args.train_steps, seed=0),
              epochs=1, steps_per_epoch=args.train_steps, shuffle=False, verbose=0)
  model.save(model_path)
  print(f"scale {args.scale}; dlib from {args.dlib_dir}; cpu cores {os.cpu_count()}; "
        f"encoder trained {args.train_steps} steps")
  for case in (["toy", "conv"] if args.case == "all" else [args.case]):
    ours = run_ours(case, args.metrics, params, model_path, tabulate=not args.no_tabulate)
    theirs = run_dlib(case, args.metrics, params, args.dlib_dir, model_path)
    print(f"\n== case {case}")
    print(f"{'metric':26s} {'dlib s':>9s} {'ours s':>9s} {'speed-up':>9s} {'max |diff|':>12s}")
    total_ours = total_dlib = 0.0
    if "code table" in ours:
      total_ours += ours["code table"]["seconds"]
      print(f"{'code table (every image)':26s} {'':9s} {ours['code table']['seconds']:9.2f}")
    for name in args.metrics:
      a, b = ours[name], theirs[name]
      diff = max(abs(a["scores"][k] - b["scores"][k]) for k in b["scores"])
      total_ours += a["seconds"]
      total_dlib += b["seconds"]
      print(f"{name:26s} {b['seconds']:9.2f} {a['seconds']:9.2f} {b['seconds'] / a['seconds']:8.1f}x {diff:12.3g}")
    print(f"{'total':26s} {total_dlib:9.2f} {total_ours:9.2f} {total_dlib / total_ours:8.1f}x")


if __name__ == "__main__":
  main()
