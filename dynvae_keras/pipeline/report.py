"""`report(study_path, study_dir, output_dir)`: the tables and figures of a finished study.

Reads what `dynvae study` wrote under `study_dir` (nothing is recomputed except the traversal
figures) and writes, atomically, into `output_dir`:

* `summary.md`: a table with one row per model of the sweep: mean ± sample standard deviation
  (ddof = 1) over its seeds of the training results (reconstruction loss and KL, nats per image averaged over
  the `model.eval_steps` evaluation batches — each model's own reconstruction loss, e.g. a
  Gaussian NLL for σ-VAE; the first and final β, i.e. the KL weight of the first and last logged
  intervals; for models that log a KL target — the controllers' set point `kl_setpoint` or
  AnnealedVAE's `capacity` — the mean absolute difference in nats between the interval KL and
  that target, "|KL − C| end" over the last quarter of the logged intervals and "|KL − C| rise"
  over the intervals before the target first reaches its final value), of one
  reconstruction error common to all models ("BCE@mean": Bernoulli cross-entropy in nats per
  image, summed over pixels, of the decoded posterior mean of 2000 images drawn with seed 0,
  through the exported `reconstructions` signature), and of every metric scored on the first postprocessing of the study (`mean` in
  dlib's studies): MIG, DCI disentanglement/completeness, SAP, FactorVAE and β-VAE scores
  (evaluation accuracy), modularity; a ranking of the models by their mean MIG, DCI
  disentanglement, SAP and FactorVAE score; and where the runs were trained (CPU, accelerator,
  software versions and CPU settings of every sitting: floats differ across CPUs and versions);
* `claims.md`: the controlled-β papers' central claims (DynamicVAE, ControlVAE, L-VAE), each
  judged supported / not supported / not resolvable on these rows by the stated criteria of
  `dynvae_keras.pipeline.paper_claims`, with the numbers it rests on;
* `per_model.csv`: the same quantities per model_num (seed), plus the model name and seed;
* `learning_curves.png`: against the training step, one panel per disentanglement score logged
  during training (`model.eval_metrics`, e.g. `mig/discrete_mig`) and one for the KL; one colour
  per model, one line per seed;
* `control_curves_<name>.png` for every model that logs a KL set point (ControlVAE,
  DynamicVAE): β(t) (log scale) and KL(t) with C(t), one line per seed;
* `traversal_<name>.gif` / `.png`: latent traversals (fitted-Gaussian style, see
  `dynvae_keras.visualize`) of the seed with the highest MIG of each model (among the runs whose
  model is in `study_dir`);
* `runs/<model_num>.json`: the run record of every reported run (`run_records`): its row and
  training log, from which a later report can be written without the run's directory.

A study that runs over several sittings can be reported before it is finished with
`allow_incomplete=True`: only the model numbers whose training and evaluations are all written
are reported, and `summary.md` lists the others. Runs finished elsewhere (another machine, a
scratch disk since wiped) are read from their run records (`records=`, `--records`).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile

import numpy as np

from dynvae_keras import atomic
from dynvae_keras import results as results_lib
from dynvae_keras.errors import DynvaeError
from dynvae_keras.pipeline import run_records
from dynvae_keras.pipeline.study import config_stem, has_export, load_study

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
#: Logged columns a model's KL is driven towards, in order of preference.
KL_TARGETS = ("kl_setpoint", "capacity")
COLUMNS = (tuple(label for label, _ in TRAIN)
           + ("BCE@mean", "first β", "final β", "|KL − C| end", "|KL − C| rise")
           + tuple(label for label, _, _ in METRICS))
NUM_RECONSTRUCTIONS = 2000
#: The training config key listing the run's sittings (`dynvae_keras.pipeline.train`).
SITTINGS = "train_config.runtime.sittings"


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


def kl_tracking_error(log, fraction=0.25):
  """Mean |KL − C| (nats) over the last `fraction` of the logged intervals, where C is the first
  of `KL_TARGETS` the log has; NaN when it has none."""
  target = kl_target(log)
  if target is None:
    return float("nan")
  error = _kl_distance(log, target)
  return float(np.mean(error[int(len(error) * (1 - fraction)):]))


def kl_rise_error(log):
  """Mean |KL − C| (nats) over the logged intervals before C (as in `kl_tracking_error`) first
  reaches its final value: how closely the KL follows a rising set point. NaN when the log has
  no target or the target starts at its final value."""
  target = kl_target(log)
  if target is None:
    return float("nan")
  rise = int(np.argmax(target >= target[-1]))
  return float(np.mean(_kl_distance(log, target)[:rise])) if rise else float("nan")


def kl_target(log):
  """The logged KL target (the first of `KL_TARGETS` in `log`) as float64, or None."""
  key = next((key for key in KL_TARGETS if key in log), None)
  return None if key is None else np.asarray(log[key], dtype=np.float64)


def _kl_distance(log, target):
  return np.abs(np.asarray(log["kl_loss"], dtype=np.float64) - target)


def _collect_point(point, study_dir, postprocessing, stems):
  base = os.path.join(study_dir, str(point.model_num))
  model_dir = os.path.join(base, "model")
  train = _load(os.path.join(model_dir, "results", "aggregate", "train.json"),
                f"the training of model {point.model_num}")
  # Every evaluation is checked before anything is computed from the model.
  results = {stem: _load(os.path.join(base, "metrics", postprocessing, stem, "results", "aggregate",
                                      "evaluation.json"),
                         f"the {stem} evaluation of model {point.model_num}")
             for stem in sorted(stems)}
  row = {"model_num": point.model_num, "name": point.model_name, "seed": point.random_seed}
  for label, key in TRAIN:
    row[label] = float(train[f"train_results.{key}"])
  row["BCE@mean"] = reconstruction_bce(model_dir)
  log = _read_log(model_dir)
  row["first β"], row["final β"] = ((float(log["beta"][0]), float(log["beta"][-1])) if "beta" in log
                                    else (float("nan"), float("nan")))
  row["|KL − C| end"] = kl_tracking_error(log)
  row["|KL − C| rise"] = kl_rise_error(log)
  for label, stem, key in METRICS:
    row[label] = float(results[stem][f"evaluation_results.{key}"]) if stem in stems else float("nan")
  if SITTINGS in train:
    row["sittings"] = results_lib.parse_json_config_value(train[SITTINGS])
  return row, log


def where_trained(rows):
  """Markdown list: the machines and software the runs were trained on (each sitting's CPU,
  accelerator, software versions and CPU settings, `cpu_runtime.sitting`), with the model numbers
  and first steps of the sittings that ran there; '' when no row records its sittings."""
  places, unrecorded = {}, []
  for row in rows:
    if "sittings" not in row:
      unrecorded.append(str(row["model_num"]))
      continue
    for sitting in row["sittings"]:
      place = tuple(sitting[key] for key in ("cpu", "accelerator", "software", "settings"))
      first = sitting["from_step"]
      places.setdefault(place, []).append(f"{row['model_num']}" + (f" (from step {first})"
                                                                   if first else ""))
  if not places:
    return ""
  lines = [f"* {cpu}; accelerator {accelerator}; {software}; {settings}: models {', '.join(runs)}"
           for (cpu, accelerator, software, settings), runs in places.items()]
  if unrecorded:
    lines.append(f"* not recorded (results without `runtime.sittings`): models {', '.join(unrecorded)}")
  return "\nWhere the runs were trained:\n\n" + "\n".join(lines) + "\n"


def collect(settings, study_dir, allow_incomplete=False, records=()):
  """(rows, logs, missing): rows [{model_num, name, seed, <COLUMNS>..., and "sittings" (where the
  run was trained) when its results record them}], each finished run's training log
  {model_num: {column: values}}, and the unfinished sweep points.

  A point whose run in `study_dir` is unfinished is read from its record in the first of the
  `records` directories that has one (`run_records`). Raises `StudyIncompleteError` at the first
  point found in neither, unless `allow_incomplete`: then the finished points are returned with
  the list of the others."""
  if not settings.postprocess_configs:
    raise ValueError("the study binds no study.postprocess_configs; there is nothing to report.")
  postprocessing = config_stem(settings.postprocess_configs[0])
  stems = {config_stem(c) for c in settings.metric_configs}
  rows, logs, missing = [], {}, []
  for point in settings.sweep():
    try:
      row, logs[point.model_num] = _collect_point(point, study_dir, postprocessing, stems)
      rows.append(row)
    except StudyIncompleteError:
      recorded = run_records.read(records, settings, point)
      if recorded is not None:
        row, logs[point.model_num] = recorded
        rows.append(row)
      elif not allow_incomplete:
        raise
      else:
        missing.append(point)
  if not rows:
    raise StudyIncompleteError(f"no model of the study in {study_dir} has finished training and "
                               "evaluation yet; run `dynvae study` first.")
  return rows, logs, missing


def _mean_std(values):
  values = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
  if not len(values):
    return "–"
  if len(values) == 1:
    return fmt_number(values[0])
  return f"{fmt_number(values.mean())} ± {fmt_number(values.std(ddof=1))}"


def fmt_number(x):
  """`x` for a table: 1 decimal from 10 up, 3 decimals from 0.01 up, else e-notation with 2
  decimals ('nan' for NaN)."""
  return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.2e}"


def markdown_cell(text):
  """`text` with its '|' escaped, for a markdown table cell."""
  return str(text).replace("|", "\\|")


def summary_table(rows):
  """Markdown table: one line per model name (sweep order), mean ± std over its seeds."""
  names = list(dict.fromkeys(row["name"] for row in rows))
  lines = ["| model | seeds | " + " | ".join(markdown_cell(c) for c in COLUMNS) + " |",
           "|---|---|" + "---|" * len(COLUMNS)]
  for name in names:
    group = [row for row in rows if row["name"] == name]
    cells = [_mean_std([row[c] for row in group]) for c in COLUMNS]
    lines.append(f"| {name} | {len(group)} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


#: Scores by which `ranking_table` orders the models (higher is better for each).
RANKED = ("MIG", "DCI disent.", "SAP", "FactorVAE")


def ranking_table(rows, labels=RANKED):
  """Markdown table: for each score in `labels`, the model names from the highest mean over
  their seeds to the lowest (models without the score left out), as 'name mean'."""
  names = list(dict.fromkeys(row["name"] for row in rows))
  columns = []
  for label in labels:
    means = []
    for name in names:
      values = [row[label] for row in rows if row["name"] == name and not math.isnan(row[label])]
      if values:
        means.append((float(np.mean(values)), name))
    columns.append([f"{name} {fmt_number(mean)}"
                    for mean, name in sorted(means, key=lambda m: -m[0])])
  depth = max((len(c) for c in columns), default=0)
  if not depth:
    return ""
  lines = ["| rank | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
  for i in range(depth):
    lines.append(f"| {i + 1} | " + " | ".join(c[i] if i < len(c) else "" for c in columns) + " |")
  return "\n".join(lines) + "\n"


def _plot_controlled(rows, run_logs, out_dir):
  from dynvae_keras.visualize import curves  # pylint: disable=g-import-not-at-top  (selects Agg)
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-order
  written = []
  for name in dict.fromkeys(row["name"] for row in rows):
    logs = [(row["seed"], run_logs[row["model_num"]]) for row in rows if row["name"] == name]
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
    written.append(curves.save_figure(fig, os.path.join(out_dir, f"control_curves_{name}.png"),
                                      f"{name}: β(t), KL(t) and C(t)"))
  return written


def _plot_learning_curves(rows, run_logs, out_dir):
  """Writes `learning_curves.png` (see the module docstring); returns its path."""
  from dynvae_keras.visualize import curves  # pylint: disable=g-import-not-at-top  (selects Agg)
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-order
  logs = [(row, run_logs[row["model_num"]]) for row in rows]
  panels = list(dict.fromkeys(key for _, log in logs for key in curves.metric_columns(log)))
  panels.append("kl_loss")
  fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.8 * len(panels)), sharex=True,
                           squeeze=False)
  colours = {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(r["name"] for r in rows))}
  labelled = set()
  for row, log in logs:
    for ax, key in zip(axes[:, 0], panels):
      if key not in log:
        continue
      points = [(s, v) for s, v in zip(log["step"], log[key]) if not math.isnan(v)]
      if not points:
        continue
      label = None if (row["name"], key) in labelled else row["name"]
      labelled.add((row["name"], key))
      ax.plot(*zip(*points), color=colours[row["name"]], alpha=0.8, linewidth=1.2,
              marker="." if key != "kl_loss" else None, label=label)
  for ax, key in zip(axes[:, 0], panels):
    ax.set_ylabel("KL (nats, interval mean)" if key == "kl_loss" else key)
    ax.legend(loc="best", fontsize="x-small", ncol=2)
  axes[-1, 0].set_xlabel("training step")
  return curves.save_figure(fig, os.path.join(out_dir, "learning_curves.png"),
                            "learning curves: one line per seed")


def _traversals(rows, study_dir, out_dir, style="fitted_gaussian"):
  """Traversal figures of each model's highest-MIG seed among the runs whose model is in
  `study_dir`; returns (paths written, names of the models with no such run)."""
  from dynvae_keras import visualize  # pylint: disable=g-import-not-at-top
  written, skipped = [], []
  for name in dict.fromkeys(row["name"] for row in rows):
    group = [row for row in rows if row["name"] == name and
             has_export(os.path.join(study_dir, str(row["model_num"]), "model"))]
    if not group:
      skipped.append(name)
      continue
    best = max(group, key=lambda row: -math.inf if math.isnan(row["MIG"]) else row["MIG"])
    model_dir = os.path.join(study_dir, str(best["model_num"]), "model")
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
      figures = os.path.join(scratch, "figures")
      visualize.visualize(model_dir, figures, num_animations=1)
      for ext in ("gif", "png"):
        path = os.path.join(out_dir, f"traversal_{name}.{ext}")
        shutil.copyfile(os.path.join(figures, "traversals", f"{style}_0.{ext}"), path)
        written.append(path)
  return written, skipped


def unfinished_note(missing, total):
  """Markdown line naming the sweep points not yet reported ('' when there are none)."""
  if not missing:
    return ""
  names = ", ".join(f"{p.model_num} ({p.model_name}, seed {p.random_seed})" for p in missing)
  return (f"**{total - len(missing)} of {total} runs finished**; not reported yet: {names}.\n\n")


def report(study_path, study_dir, output_dir, overwrite=False, traversals=True,
           allow_incomplete=False, records=()):
  """Writes the files listed in the module docstring; returns (rows, summary markdown).

  `records`: directories of run records (a previous report's `runs/`) read for the points whose
  run is not finished in `study_dir` (see `collect`)."""
  # paper_claims imports this module's formatters.
  from dynvae_keras.pipeline import paper_claims  # pylint: disable=g-import-not-at-top
  settings = load_study(study_path)
  rows, logs, missing = collect(settings, study_dir, allow_incomplete=allow_incomplete,
                                records=records)
  note = unfinished_note(missing, len(rows) + len(missing))
  table = note + summary_table(rows)
  points = {point.model_num: point for point in settings.sweep()}
  with atomic.atomic_directory(output_dir, overwrite=overwrite) as tmp:
    with open(os.path.join(tmp, "claims.md"), "w", encoding="utf-8") as f:
      judgements = paper_claims.judge(rows, logs, paper_claims.model_families(settings))
      f.write(note + paper_claims.claims_markdown(judgements))
    with open(os.path.join(tmp, "per_model.csv"), "w", newline="", encoding="utf-8") as f:
      writer = csv.DictWriter(f, fieldnames=["model_num", "name", "seed", *COLUMNS],
                              extrasaction="ignore")
      writer.writeheader()
      writer.writerows(rows)
    for row in rows:
      run_records.write(os.path.join(tmp, "runs"), settings, points[row["model_num"]], row,
                        logs[row["model_num"]])
    _plot_controlled(rows, logs, tmp)
    _plot_learning_curves(rows, logs, tmp)
    skipped = _traversals(rows, study_dir, tmp)[1] if traversals else []
    with open(os.path.join(tmp, "summary.md"), "w", encoding="utf-8") as f:
      f.write(f"Study `{study_path}`, results in `{study_dir}`; mean ± std (ddof 1) over seeds.\n\n")
      f.write(table)
      ranking = ranking_table(rows)
      if ranking:
        f.write("\nModels ranked by the mean over their seeds of each score:\n\n" + ranking)
      f.write(where_trained(rows))
      if skipped:
        f.write(f"\nNo traversal figures for {', '.join(skipped)}: reported from run records "
                f"only, their models are not in {study_dir}.\n")
  return rows, table
