"""Training curves from `<model_dir>/logs/metrics.csv`: β, the KL set point and the KL."""

from __future__ import annotations

import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def read_log(path):
  """{column: [float, ...]} of a metrics.csv written by `dynvae train`."""
  with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  if not rows:
    raise ValueError(f"{path} has no logged intervals; train for at least one interval.")
  return {key: [float(row[key]) for row in rows] for key in rows[0]}


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
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path
