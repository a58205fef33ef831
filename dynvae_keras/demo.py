"""`make demo`: the main job on the embedded procedural dSprites, printing what it did.

1. checks the procedural renderer (square pixel counts, a timed batch render);
2. trains a DynamicVAE with the quick schedule (`model/dynamic_vae_quick.gin`: β from 50 to
   below 1 while the KL follows the annealed set point to 20 nats);
3. scores its mean representation with dlib's metrics (sample sizes reduced for the demo);
4. prints the β / set point / KL trajectory, the scores and where everything was written.
"""

from __future__ import annotations

import csv
import os
import time

import numpy as np

DEMO_METRICS = {  # dlib metric: reduced sample sizes (the study uses 10000 / 5000)
    "mig": dict(num_train=5000),
    "dci": dict(num_train=5000, num_test=2000),
    "sap_score": dict(num_train=5000, num_test=2000),
    "modularity_explicitness": dict(num_train=5000, num_test=2000),
    "beta_vae_sklearn": dict(num_train=1000, num_eval=500),
    "factor_vae_score": dict(num_train=1000, num_eval=500, num_variance_estimate=5000),
    "unsupervised_metrics": dict(num_train=5000),
}


def run(output_dir, overwrite=False, steps=None):
  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras import atomic, gin_utils, train  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data import dsprites_render, get_named_ground_truth_data  # pylint: disable=g-import-not-at-top
  from dynvae_keras.evaluation import metrics  # pylint: disable=g-import-not-at-top
  from dynvae_keras.export import representation_function_from_model  # pylint: disable=g-import-not-at-top

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

  print("== 3/3 dlib metrics of the mean representation (reduced sample sizes)")
  model = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
  representation = representation_function_from_model(model, "mean")
  scores = {}
  for name, params in DEMO_METRICS.items():
    np.random.seed(0)
    start = time.perf_counter()
    result = metrics.METRICS[name](data, representation, np.random.RandomState(0), **params)
    scores[name] = {k: float(v) for k, v in result.items()}
    shown = ", ".join(f"{k} {float(v):.3f}" for k, v in result.items())
    print(f"   {name:24s} {time.perf_counter() - start:6.1f} s  {shown}")
  atomic.save_json(os.path.join(output_dir, "demo_scores.json"), scores)
  print(f"   final train loss terms: reconstruction {results['reconstruction_loss']:.2f}, "
        f"KL {results['kl_loss']:.2f}, beta {results['beta']:.3f}")
  print(f"   model:   {os.path.join(model_dir, 'model.keras')}")
  print(f"   results: {os.path.join(model_dir, 'results')}  scores: {os.path.join(output_dir, 'demo_scores.json')}")
  print(f"   logs:    {os.path.join(model_dir, 'logs')} (tensorboard --logdir there)")
