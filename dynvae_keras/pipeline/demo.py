"""`dynvae demo` (`make demo`): a DynamicVAE trained and scored end to end on procedural dSprites.

1. checks the procedural renderer (square pixel counts, a timed batch render);
2. trains a DynamicVAE with the quick schedule (`model/dynamic_vae_quick.gin`: β from 50 to
   below 1 while the KL follows the annealed set point to 20 nats) and exports `tfhub/`;
3. the dlib pipeline: postprocess (mean) → evaluate with dlib's metrics (sample sizes reduced
   for the demo) → aggregate → visualize;
4. prints the β / set point / KL trajectory, a summary table and where everything was written.
"""

from __future__ import annotations

import csv
import os
import time

import numpy as np

DEMO_METRICS = {  # metric gin config: bindings reducing the sample sizes (the study: 10000 / 5000)
    "mig": ["mig.num_train = 5000"],
    "dci": ["dci.num_train = 5000", "dci.num_test = 2000"],
    "sap_score": ["sap_score.num_train = 5000", "sap_score.num_test = 2000"],
    "modularity_explicitness": ["modularity_explicitness.num_train = 5000",
                                "modularity_explicitness.num_test = 2000"],
    "beta_vae_sklearn": ["beta_vae_sklearn.num_train = 1000", "beta_vae_sklearn.num_eval = 500"],
    "factor_vae_metric": ["factor_vae_score.num_train = 1000", "factor_vae_score.num_eval = 500",
                          "factor_vae_score.num_variance_estimate = 5000"],
    "unsupervised": ["unsupervised_metrics.num_train = 5000"],
}


def run(output_dir, overwrite=False, steps=None):
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  from dynvae_keras.pipeline import train  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data import dsprites_render, get_named_ground_truth_data  # pylint: disable=g-import-not-at-top

  print("== 1/3 procedural dSprites")
  counts = dsprites_render.render(np.array([[0, 0, s, 0, 0, 0] for s in range(6)])).reshape(6, -1).sum(1)
  print(f"   square pixel counts at the six scales: {counts.tolist()} (real: [100, 144, 196, 256, 324, 400])")
  data = get_named_ground_truth_data("dsprites_full")
  start = time.perf_counter()
  batch = data.sample_observations(4096, np.random.RandomState(0))
  rate = len(batch) / (time.perf_counter() - start)
  print(f"   dsprites_full from {data.source}: factors {data.factors_num_values}, "
        f"{rate:.0f} images/s, mean pixel {batch.mean():.4f} (real set: 0.0425)")

  model_dir = os.path.join(output_dir, "dynamic_vae_quick")
  bindings = [f"model.training_steps = {int(steps)}"] if steps else []
  gin_utils.parse(["model/dynamic_vae_quick.gin"], bindings)
  print("== 2/3 training a DynamicVAE (quick schedule) on dsprites_full")
  results = train.train(model_dir, overwrite=overwrite)
  with open(os.path.join(model_dir, "logs", "metrics.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
  print(f"   {'step':>6s} {'beta':>8s} {'set point':>10s} {'KL':>8s} {'recon':>9s}")
  stride = max(1, len(rows) // 10)
  sampled_rows = rows[::stride] if (len(rows) - 1) % stride == 0 else rows[::stride] + [rows[-1]]
  for row in sampled_rows:
    print(f"   {int(row['step']):6d} {float(row['beta']):8.3f} {float(row['kl_setpoint']):10.2f} "
          f"{float(row['kl_loss']):8.2f} {float(row['reconstruction_loss']):9.2f}")

  print("== 3/3 dlib pipeline: postprocess -> evaluate -> aggregate -> visualize")
  from dynvae_keras import visualize  # pylint: disable=g-import-not-at-top
  from dynvae_keras.evaluation import aggregate, evaluate, postprocess  # pylint: disable=g-import-not-at-top
  post_dir = os.path.join(output_dir, "postprocessed", "mean")
  gin_utils.parse(["postprocess/mean.gin"])
  postprocess.postprocess(model_dir, post_dir, overwrite=True)
  print(f"   representation: {os.path.join(post_dir, 'tfhub')} (signature 'representation')")
  for name, bindings in DEMO_METRICS.items():
    start = time.perf_counter()
    gin_utils.parse([f"metric/{name}.gin"], bindings)
    result = evaluate.evaluate(post_dir, os.path.join(output_dir, "metrics", "mean", name), overwrite=True)
    shown = ", ".join(f"{k} {float(v):.3f}" for k, v in result.items()
                      if k != "elapsed_time" and np.ndim(v) == 0)
    print(f"   {name:24s} {time.perf_counter() - start:6.1f} s  {shown}")
  table = os.path.join(output_dir, "results.json")
  rows = aggregate.aggregate(os.path.join(output_dir, "metrics", "*", "*", "results", "aggregate",
                                          "evaluation.json"), table)
  figures = visualize.visualize(model_dir, os.path.join(output_dir, "figures"), overwrite=True)

  print("== summary")
  print(f"   {'metric':24s} {'score':45s} {'value':>8s}")
  for row in rows:
    metric = str(row.get("evaluation_config.evaluation.evaluation_fn", "?")).lstrip("@")
    for key, value in sorted(row.items()):
      if key.startswith("evaluation_results.") and key != "evaluation_results.elapsed_time" \
          and isinstance(value, (int, float)):
        print(f"   {metric:24s} {key[len('evaluation_results.'):]:45s} {value:8.3f}")
  print(f"   final train loss terms: reconstruction {results['reconstruction_loss']:.2f}, "
        f"KL {results['kl_loss']:.2f}, beta {results['beta']:.3f}")
  print(f"   model:    {os.path.join(model_dir, 'model.keras')} and {os.path.join(model_dir, 'tfhub')}")
  print(f"   results:  {table} (+ .csv), per metric under {os.path.join(output_dir, 'metrics', 'mean')}")
  print(f"   logs:     {os.path.join(model_dir, 'logs')} (tensorboard --logdir there)")
  print("   figures:")
  for path in figures:
    if not path.endswith(".gif") or "_0." in path:
      print(f"     {path}")
