"""Checks the DynamicVAE (or ControlVAE) quick schedule end to end on procedural dSprites (CPU).

Runs `dynvae train` with `model/dynamic_vae_quick.gin` (or `--config`), then reads
`logs/metrics.csv` and prints: β at the first and last logging interval, the final set point,
and the mean KL of every interval in the last 10 % of steps relative to the set point. Exits
non-zero if β does not start at β₀ (within the first interval's drift), does not end below 1
(DynamicVAE), or the KL leaves ±10 % of the set point in the last 10 % of steps.

Usage: python bench/controlled_beta_quick.py [--model_dir DIR] [--config model/dynamic_vae_quick.gin]
"""

import argparse
import csv
import os
import sys
import time


def check(model_dir, expect_beta_below_one=True, beta_0=50.0, tolerance=0.10):
  with open(os.path.join(model_dir, "logs", "metrics.csv"), newline="") as f:
    rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
  last_step = rows[-1]["step"]
  tail = [r for r in rows if r["step"] > 0.9 * last_step]
  final_setpoint = rows[-1]["kl_setpoint"]
  print(f"steps {int(last_step)}; beta after the first interval {rows[0]['beta']:.3f} "
        f"(beta_0 {beta_0}); final beta {rows[-1]['beta']:.4f}; final set point {final_setpoint:.2f}")
  ok = True
  for r in tail:
    ratio = r["kl_loss"] / r["kl_setpoint"]
    flag = "" if abs(ratio - 1) <= tolerance else "  <-- outside"
    ok &= abs(ratio - 1) <= tolerance
    print(f"  step {int(r['step']):6d}: mean KL {r['kl_loss']:7.3f} vs set point {r['kl_setpoint']:6.2f} "
          f"(ratio {ratio:.3f}), beta {r['beta']:.4f}{flag}")
  starts_high = rows[0]["beta"] > 0.9 * beta_0
  ends_low = rows[-1]["beta"] < 1.0
  print(f"beta starts near beta_0: {starts_high}; ends below 1: {ends_low}; "
        f"KL within {tolerance:.0%} of the set point over the last 10% of steps: {ok}")
  return starts_high and ok and (ends_low or not expect_beta_below_one)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model_dir", default="/tmp/dynvae_controlled_quick")
  parser.add_argument("--config", default="model/dynamic_vae_quick.gin")
  parser.add_argument("--reuse", action="store_true", help="only check an existing run")
  args = parser.parse_args()
  if not args.reuse:
    from dynvae_keras import cli  # pylint: disable=g-import-not-at-top
    start = time.time()
    code = cli.main(["train", "--model_dir", args.model_dir, "--gin_config", args.config, "--overwrite"])
    print(f"training took {time.time() - start:.0f} s")
    if code:
      return code
  dynamic = "dynamic" in os.path.basename(args.config)
  return 0 if check(args.model_dir, expect_beta_below_one=dynamic) else 1


if __name__ == "__main__":
  sys.exit(main())
