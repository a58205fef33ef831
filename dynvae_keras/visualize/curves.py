"""Training curves from `<model_dir>/logs/metrics.csv`: β, the KL set point and the KL; and
disentanglement metrics against the step where training logged them (`model.eval_metrics`)."""

from __future__ import annotations

import csv
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def read_log(path):
  """{column: [float, ...]} of a metrics.csv written by `dynvae train`; empty cells (values
  logged only at some intervals) are NaN."""
  with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  if not rows:
    raise ValueError(f"{path} has no logged intervals; train for at least one interval.")
  return {key: [float(row[key]) if row.get(key) not in ("", None) else math.nan for row in rows]
          for key in rows[0]}


def save_figure(fig, path, title):
  """Titles, lays out, writes (PNG, 100 dpi) and closes `fig`; returns `path`."""
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path


def metric_columns(log):
  """The logged disentanglement scores (`<metric>/<key>` columns), in log order."""
  return [key for key in log if "/" in key]


def plot_metric_curves(log, path, title=""):
  """One panel per metric: its scores against the training step (the steps it was evaluated at)."""
  columns = metric_columns(log)
  if not columns:
    raise ValueError("the log has no disentanglement metrics; train with model.eval_metrics.")
  groups = {}
  for column in columns:
    groups.setdefault(column.split("/", 1)[0], []).append(column)
  fig, axes = plt.subplots(len(groups), 1, figsize=(7, 2.6 * len(groups)), sharex=True, squeeze=False)
  for ax, (metric, keys) in zip(axes[:, 0], groups.items()):
    for key in keys:
      points = [(s, v) for s, v in zip(log["step"], log[key]) if not math.isnan(v)]
      ax.plot(*zip(*points), marker="o", label=key.split("/", 1)[1])
    ax.set_ylabel(metric)
    ax.legend(loc="best", fontsize="small")
  axes[-1, 0].set_xlabel("training step")
  return save_figure(fig, path, title)


def plot_control_curves(log, path, title=""):
  """One figure: β (log scale) on top; KL and its set point (when logged) below. Saves a PNG."""
  steps = log["step"]
  fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
  if "beta" in log:
    top.plot(steps, log["beta"], color="tab:red", label="β")
    top.set_yscale("log")
    top.legend(loc="upper right")
  top.set_ylabel("β (KL weight)")
  bottom.plot(steps, log["kl_loss"], color="tab:blue", label="KL (interval mean)")
  if "kl_feedback" in log:
    bottom.plot(steps, log["kl_feedback"], color="tab:cyan", alpha=0.7, label="KL feedback y(t)")
  if "kl_setpoint" in log:
    bottom.plot(steps, log["kl_setpoint"], color="black", linestyle="--", label="set point C(t)")
  bottom.set_xlabel("training step")
  bottom.set_ylabel("KL (nats, summed over latents)")
  bottom.legend(loc="lower right")
  return save_figure(fig, path, title)
