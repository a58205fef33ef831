"""`visualize(model_dir, output_dir)`: the figures of one trained model (dlib's `visualize`).

Reads the model only through its exported `tfhub/` (signatures `reconstructions`, `decoder`,
`gaussian_encoder`) and its `logs/metrics.csv`; the data set comes from its `train.gin`.
Writes, atomically:

* `reconstructions.png`: pairs of (observation, reconstruction) in a grid;
* `samples.png`: decoded codes drawn from the N(0, I) prior;
* `traversals/<style>_<k>.gif` for styles `std_gaussian`, `fitted_gaussian`, `interval` and
  `num_animations` base codes: each frame a row per latent, that latent moved along the style's
  values; `traversals/<style>_<k>.png`: the same as one static grid (latents × values);
* `training_curves.png`: β, KL and (for controlled models) the set point over training;
* `metric_curves.png`: the disentanglement scores logged during training
  (`model.eval_metrics`) against the step, when there are any.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import special

from dynvae_keras import atomic, results
from dynvae_keras.visualize import curves, images, traversals

__all__ = ["visualize"]


def _train_gin(model_dir):
  return os.path.join(model_dir, "results", "gin", "train.gin")


def _dataset_name(model_dir):
  gin_path = _train_gin(model_dir)
  if not os.path.isfile(gin_path):
    raise FileNotFoundError(f"{gin_path} does not exist: {model_dir} is not a finished dynvae "
                            "training run (run dynvae train first).")
  return results.dataset_name(gin_path) or ""


def run_title(model_dir):
  """'<model.name>, seed <model.random_seed>, <dataset.name>' from the run's train.gin (the
  directory's name when the run binds none of them), for figure titles."""
  gin_path = _train_gin(model_dir)
  if not os.path.isfile(gin_path):
    return os.path.basename(os.path.abspath(model_dir))
  parts = [(results.bound_value(gin_path, key) or "").strip("'\"")
           for key in ("model.name", "model.random_seed", "dataset.name")]
  if not any(parts):
    return os.path.basename(os.path.abspath(model_dir))
  name, seed, dataset = parts
  return ", ".join(p for p in (name, f"seed {seed}" if seed else "", dataset) if p)


def visualize(model_dir, output_dir, overwrite=False, seed=0, num_pics=16, num_animations=3,
              num_frames=20, fps=10):
  """Writes the figures listed in the module docstring; returns their paths."""
  from dynvae_keras.data import named_data  # pylint: disable=g-import-not-at-top
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  tfhub = os.path.join(model_dir, "tfhub")
  dataset = named_data.get_named_ground_truth_data(_dataset_name(model_dir))
  module = saved_model.load_saved_model(tfhub)
  encode = saved_model.SavedModelFunction(tfhub, "gaussian_encoder", module=module)
  decode = saved_model.SavedModelFunction(tfhub, "decoder", module=module)
  reconstruct = saved_model.SavedModelFunction(tfhub, "reconstructions", module=module)
  random_state = np.random.RandomState(seed)
  written = []
  with atomic.atomic_directory(output_dir, overwrite=overwrite) as tmp:
    def out(*parts):
      path = os.path.join(tmp, *parts)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      written.append(os.path.join(output_dir, *parts))
      return path

    observations = dataset.sample_observations(num_pics, random_state)
    recon = special.expit(reconstruct(observations)["images"])
    pairs = np.stack([observations, recon], axis=1).reshape((-1,) + observations.shape[1:])
    images.save_png(out("reconstructions.png"), images.grid(pairs, columns=8))

    means = encode(dataset.sample_observations(1000, random_state))["mean"]
    num_latent = means.shape[1]
    prior = random_state.normal(size=(num_pics, num_latent)).astype(np.float32)
    images.save_png(out("samples.png"), images.grid(special.expit(decode(prior)["images"]), columns=8))

    for style in traversals.STYLES:
      for k in range(num_animations):
        base = means[k]
        rows = []
        for latent in range(num_latent):
          values = traversals.traversal_values(style, base[latent], means[:, latent], num_frames)
          rows.append(special.expit(decode(traversals.traversal_codes(base, latent, values))["images"]))
        rows = np.stack(rows)  # (latents, frames, H, W, C)
        frames = [images.grid(rows[:, t], columns=num_latent) for t in range(num_frames)]
        images.save_gif(out("traversals", f"{style}_{k}.gif"), np.stack(frames), fps=fps)
        static = rows[:, ::max(1, num_frames // 10)].reshape((-1,) + rows.shape[2:])
        images.save_png(out("traversals", f"{style}_{k}.png"),
                        images.grid(static, columns=len(range(0, num_frames, max(1, num_frames // 10)))))

    log_path = os.path.join(model_dir, "logs", "metrics.csv")
    if os.path.isfile(log_path):
      log = curves.read_log(log_path)
      title = run_title(model_dir)
      curves.plot_control_curves(log, out("training_curves.png"), title=title)
      if curves.metric_columns(log):
        curves.plot_metric_curves(log, out("metric_curves.png"), title=title)
  return written
