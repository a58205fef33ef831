"""`report(study_path, study_dir, output_dir)`: the tables and figures of a finished study.

Reads what `dynvae study` wrote under `study_dir` (nothing is recomputed except the traversal
figures) and writes, atomically, into `output_dir`:

* `summary.md`: one row per model of the sweep: mean ± sample standard deviation (ddof = 1) over
  its seeds of the training results (reconstruction loss and KL, nats per image averaged over
  the `model.eval_steps` evaluation batches — each model's own reconstruction loss, e.g. a
  Gaussian NLL for σ-VAE; the final β, i.e. the KL weight of the last logged interval), of one
  reconstruction error common to all models ("BCE@mean": Bernoulli cross-entropy in nats per
  image, summed over pixels, of the decoded posterior mean of 2000 images drawn with seed 0,
  through the exported `reconstructions` signature), and of every metric scored on the first postprocessing of the study (`mean` in
  dlib's studies): MIG, DCI disentanglement/completeness, SAP, FactorVAE and β-VAE scores
  (evaluation accuracy), modularity;
* `per_model.csv`: the same quantities per model_num (seed), plus the model name and seed;
* `control_curves_<name>.png` for every model that logs a KL set point (ControlVAE,
  DynamicVAE): β(t) (log scale) and KL(t) with C(t), one line per seed;
* `traversal_<name>.gif` / `.png`: latent traversals (fitted-Gaussian style, see
  `dynvae_keras.visualize`) of the seed with the highest MIG of each model.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile

import numpy as np

from dynvae_keras import atomic
from dynvae_keras.errors import DynvaeError
from dynvae_keras.pipeline.study import config_stem, load_study

# (column label, metric config stem, result key)
METRICS = (
    ("MIG", "mig", "discrete_mig"),
    ("DCI disent.", "dci", "disentanglement"),
    ("DCI compl.", "dci", "completeness"),
    ("SAP", "sap_score", "SAP_score"),
    ("FactorVAE", "factor_vae_metric", "eval_accuracy"),
    ("β-VAE", "beta_vae_sklearn", "eval_accuracy"),
    ("modularity", "modularity_explicitness", "modularity_score"),
)
TRAIN = (("recon.", "reconstruction_loss"), ("KL", "kl_loss"))
COLUMNS = (tuple(label for label, _ in TRAIN) + ("BCE@mean", "final β")
           + tuple(label for label, _, _ in METRICS))
NUM_RECONSTRUCTIONS = 2000


class StudyIncompleteError(DynvaeError, FileNotFoundError):
  """A model of the study has no training or evaluation results yet."""


def _load(path, what):
  if not os.path.isfile(path):
    raise StudyIncompleteError(f"{path} does not exist: {what} has not finished; rerun "
                               "`dynvae study` with the same arguments to complete the study.")
  return atomic.load_json(path)


def _read_log(model_dir):
  from dynvae_keras.visualize import curves  # pylint: disable=g-import-not-at-top
  return curves.read_log(os.path.join(model_dir, "logs", "metrics.csv"))


def reconstruction_bce(model_dir, num=NUM_RECONSTRUCTIONS, seed=0):
  """Mean over `num` images (seed `seed`) of the Bernoulli cross-entropy (nats, summed over pixels)
  between each image and the decoded posterior mean (`tfhub` signature `reconstructions`)."""
  import keras  # pylint: disable=g-import-not-at-top

  from dynvae_keras import results  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data import named_data  # pylint: disable=g-import-not-at-top
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import losses  # pylint: disable=g-import-not-at-top
  dataset = named_data.get_named_ground_truth_data(
      results.dataset_name(os.path.join(model_dir, "results", "gin", "train.gin")))
  reconstruct = saved_model.SavedModelFunction(os.path.join(model_dir, "tfhub"), "reconstructions")
  images = dataset.sample_observations(num, np.random.RandomState(seed)).astype(np.float32)
  total = 0.0
  for start in range(0, num, 500):
    x = images[start:start + 500]
    bce = losses.bernoulli_loss(x, np.asarray(reconstruct(x)["images"], dtype=np.float32))
    total += float(np.sum(keras.ops.convert_to_numpy(bce), dtype=np.float64))
  return total / num


def collect(settings, study_dir):
  """[{model_num, name, seed, <COLUMNS>...}] for every point of the sweep."""
  if not settings.postprocess_configs:
    raise ValueError("the study binds no study.postprocess_configs; there is nothing to report.")
  postprocessing = config_stem(settings.postprocess_configs[0])
  stems = {config_stem(c) for c in settings.metric_configs}
  rows = []
  for point in settings.sweep():
    base = os.path.join(study_dir, str(point.model_num))
    model_dir = os.path.join(base, "model")
    train = _load(os.path.join(model_dir, "results", "aggregate", "train.json"),
                  f"the training of model {point.model_num}")
    row = {"model_num": point.model_num, "name": point.model_name, "seed": point.random_seed}
    for label, key in TRAIN:
      row[label] = float(train[f"train_results.{key}"])
    row["BCE@mean"] = reconstruction_bce(model_dir)
    log = _read_log(model_dir)
    row["final β"] = float(log["beta"][-1]) if "beta" in log else float("nan")
    for label, stem, key in METRICS:
      if stem not in stems:
        row[label] = float("nan")
        continue
      result = _load(os.path.join(base, "metrics", postprocessing, stem, "results", "aggregate",
                                  "evaluation.json"),
                     f"the {stem} evaluation of model {point.model_num}")
      row[label] = float(result[f"evaluation_results.{key}"])
    rows.append(row)
  return rows


def _mean_std(values):
  values = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
  if not len(values):
    return "–"
  if len(values) == 1:
    return _fmt(values[0])
  return f"{_fmt(values.mean())} ± {_fmt(values.std(ddof=1))}"


def _fmt(x):
  return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.2e}"


def summary_table(rows):
  """Markdown table: one line per model name (sweep order), mean ± std over its seeds."""
  names = list(dict.fromkeys(row["name"] for row in rows))
  lines = ["| model | seeds | " + " | ".join(COLUMNS) + " |",
           "|---|---|" + "---|" * len(COLUMNS)]
  for name in names:
    group = [row for row in rows if row["name"] == name]
    cells = [_mean_std([row[c] for row in group]) for c in COLUMNS]
    lines.append(f"| {name} | {len(group)} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def _plot_controlled(rows, study_dir, out_dir):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  written = []
  for name in dict.fromkeys(row["name"] for row in rows):
    logs = [(row["seed"], _read_log(os.path.join(study_dir, str(row["model_num"]), "model")))
            for row in rows if row["name"] == name]
    if not all("kl_setpoint" in log for _, log in logs):
      continue
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for i, (seed, log) in enumerate(logs):
      color = f"C{i}"
      top.plot(log["step"], log["beta"], color=color, label=f"seed {seed}")
      bottom.plot(log["step"], log["kl_loss"], color=color, label=f"KL, seed {seed}")
    bottom.plot(logs[0][1]["step"], logs[0][1]["kl_setpoint"], color="black", linestyle="--",
                label="set point C(t)")
    top.set_yscale("log")
    top.set_ylabel("β (KL weight)")
    top.legend(loc="upper right")
    bottom.set_xlabel("training step")
    bottom.set_ylabel("KL (nats, interval mean)")
    bottom.legend(loc="lower right", fontsize="small")
    fig.suptitle(f"{name}: β(t), KL(t) and C(t)")
    fig.tight_layout()
    path = os.path.join(out_dir, f"control_curves_{name}.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
  return written


def _traversals(rows, study_dir, out_dir, style="fitted_gaussian"):
  from dynvae_keras import visualize  # pylint: disable=g-import-not-at-top
  written = []
  for name in dict.fromkeys(row["name"] for row in rows):
    group = [row for row in rows if row["name"] == name]
    best = max(group, key=lambda row: -math.inf if math.isnan(row["MIG"]) else row["MIG"])
    model_dir = os.path.join(study_dir, str(best["model_num"]), "model")
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
      figures = os.path.join(scratch, "figures")
      visualize.visualize(model_dir, figures, num_animations=1)
      for ext in ("gif", "png"):
        path = os.path.join(out_dir, f"traversal_{name}.{ext}")
        shutil.copyfile(os.path.join(figures, "traversals", f"{style}_0.{ext}"), path)
        written.append(path)
  return written


def report(study_path, study_dir, output_dir, overwrite=False, traversals=True):
  """Writes the files listed in the module docstring; returns (rows, summary markdown)."""
  settings = load_study(study_path)
  rows = collect(settings, study_dir)
  table = summary_table(rows)
  with atomic.atomic_directory(output_dir, overwrite=overwrite) as tmp:
    with open(os.path.join(tmp, "summary.md"), "w", encoding="utf-8") as f:
      f.write(f"Study `{study_path}`, results in `{study_dir}`; mean ± std (ddof 1) over seeds.\n\n")
      f.write(table)
    with open(os.path.join(tmp, "per_model.csv"), "w", newline="", encoding="utf-8") as f:
      writer = csv.DictWriter(f, fieldnames=["model_num", "name", "seed", *COLUMNS])
      writer.writeheader()
      writer.writerows(rows)
    _plot_controlled(rows, study_dir, tmp)
    if traversals:
      _traversals(rows, study_dir, tmp)
  return rows, table
