"""`dynvae calibrate`: propose a KL set point and its schedule for a new data set.

Heuristic (documented in docs/control.md): the KL that a plain VAE (β = 1) settles at is the
information its encoder needs to reconstruct the data. Burgess et al. (2018) raise a capacity
C up to about that value; the ControlVAE authors set the target KL from a β = 1 run. So:

* C_max = the mean KL (nats, summed over latents, averaged over the batch) of a β = 1 run over
  its last `tail` fraction of logged intervals, rounded to the nearest nat;
* the set point climbs from 0.5 to C_max over the first `anneal_fraction` (default 2/3) of the
  target run's steps, in windows of `step` nats (DynamicVAE's hybrid annealing: each window
  ramps over its first fifth; ControlVAE's staircase: one jump per window), then holds.

The β = 1 run is an existing finished `dynvae train` directory, or is trained here first from
the given gin configs (e.g. `model/vae.gin` with a few thousand steps).
"""

from __future__ import annotations

import math
import os

from dynvae_keras.errors import DynvaeError
from dynvae_keras.visualize.curves import read_log


class CalibrationError(DynvaeError, ValueError):
  """The reference run cannot be used for calibration."""


def reference_kl(model_dir, tail=0.1):
  """Mean `kl_loss` over the last `tail` fraction of `<model_dir>/logs/metrics.csv`'s rows."""
  log = read_log(os.path.join(model_dir, "logs", "metrics.csv"))
  if "beta" in log and any(abs(b - 1.0) > 1e-6 for b in log["beta"]):
    raise CalibrationError(f"{model_dir} was not trained with β = 1 (its β ranges over "
                     f"{min(log['beta']):.3g}–{max(log['beta']):.3g}); calibrate from a plain VAE run "
                     "(model/vae.gin).")
  kls = log["kl_loss"]
  count = max(1, int(math.ceil(tail * len(kls))))
  return sum(kls[-count:]) / count


def propose(kl, target_steps, step=1.0, start=0.5, anneal_fraction=2 / 3):
  """{c_max, windows, period, ramp} for a target run of `target_steps` steps."""
  if kl <= start:
    raise CalibrationError(f"The β = 1 run's KL ({kl:.3f} nats) is not above the start set point "
                     f"({start}); train it longer or check that it learned anything.")
  c_max = float(max(1, round(kl)))
  windows = max(1, math.ceil((c_max - start) / step))
  period = max(1, int(anneal_fraction * target_steps) // windows)
  return {"c_max": c_max, "windows": windows, "period": period, "ramp": max(1, period // 5),
          "step": step, "start": start}


def gin_snippet(proposal, kl, source):
  p = proposal
  return "\n".join([
      f"# Calibrated from {source}: β = 1 KL {kl:.2f} nats → C_max {p['c_max']:g};",
      f"# set point from {p['start']} in {p['windows']} windows of {p['step']:g} nat, "
      f"{p['period']} steps each, then held.",
      "# DynamicVAE (include model/dynamic_vae.gin):",
      f"hybrid_annealing_setpoint.start = {p['start']}",
      f"hybrid_annealing_setpoint.step = {p['step']}",
      f"hybrid_annealing_setpoint.period = {p['period']}",
      f"hybrid_annealing_setpoint.ramp = {p['ramp']}",
      f"hybrid_annealing_setpoint.maximum = {p['c_max']}",
      "# ControlVAE (include model/control_vae.gin):",
      f"staircase_setpoint.start = {p['start']}",
      f"staircase_setpoint.step = {p['step']}",
      f"staircase_setpoint.every = {p['period']}",
      f"staircase_setpoint.maximum = {p['c_max']}",
  ])


def calibrate(model_dir, target_steps, gin_configs=(), gin_bindings=(), step=1.0, tail=0.1):
  """Trains the β = 1 run into `model_dir` unless it is finished, then returns the gin snippet."""
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  from dynvae_keras.pipeline import train  # pylint: disable=g-import-not-at-top
  finished = os.path.isfile(os.path.join(model_dir, "results", "gin", "train.gin"))
  if not finished:
    if not gin_configs:
      raise FileNotFoundError(
          f"{model_dir} holds no finished run: pass --gin_config model/vae.gin (and "
          "e.g. --gin_bindings 'model.training_steps = 3000') to train the β = 1 run there.")
    gin_utils.parse(gin_configs, gin_bindings)
    train.train(model_dir)
  kl = reference_kl(model_dir, tail)
  return gin_snippet(propose(kl, int(target_steps), step=step), kl, model_dir)
