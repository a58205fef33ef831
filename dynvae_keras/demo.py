"""`make demo`: the main job on the embedded procedural dSprites, printing what it did.

1. checks the procedural renderer (square pixel counts, a timed batch render);
2. trains a β-VAE (dlib conv architecture, β = 4) on `dsprites_full` with the training driver;
3. prints the loss terms and where everything was written.
"""

from __future__ import annotations

import os
import time

import numpy as np

DEFAULT_STEPS = 1500


def run(output_dir, overwrite=False, steps=None):
  from dynvae_keras import gin_utils, train  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data import dsprites_render, get_named_ground_truth_data  # pylint: disable=g-import-not-at-top

  steps = int(steps or DEFAULT_STEPS)
  print("== 1/2 procedural dSprites")
  counts = dsprites_render.render(np.array([[0, 0, s, 0, 0, 0] for s in range(6)])).reshape(6, -1).sum(1)
  print(f"   square pixel counts at the six scales: {counts.tolist()} (real: [100, 144, 196, 256, 324, 400])")
  data = get_named_ground_truth_data("dsprites_full")
  start = time.perf_counter()
  batch = data.sample_observations(4096, np.random.RandomState(0))
  rate = len(batch) / (time.perf_counter() - start)
  print(f"   dsprites_full from {data.source}: factors {data.factors_num_values}, "
        f"{rate:.0f} images/s, mean pixel {batch.mean():.4f} (real set: 0.0425)")

  print(f"== 2/2 training a beta-VAE for {steps} steps (batch 64) on dsprites_full")
  model_dir = os.path.join(output_dir, "beta_vae")
  gin_utils.parse(["model/beta_vae.gin"], [
      f"model.training_steps = {steps}", "model.eval_steps = 50", "model.log_every = 250",
      "model.checkpoint_every = 500"])
  results = train.train(model_dir, overwrite=overwrite)
  print("   train results (mean over 50 held-out batches):")
  for key in ("reconstruction_loss", "kl_loss", "elbo", "loss"):
    print(f"     {key:>20s}: {results[key]:10.3f}")
  print(f"   model:   {os.path.join(model_dir, 'model.keras')}")
  print(f"   results: {os.path.join(model_dir, 'results')}")
  print(f"   logs:    {os.path.join(model_dir, 'logs')} (tensorboard --logdir there)")
