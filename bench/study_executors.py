"""Overhead of `dynvae study --executor ray` against `--workers N` on one machine, same sweep.

A small sweep (4 β-VAEs with fc networks, `--steps` training steps each, mean representation,
MIG on 1,000 points) runs twice into fresh directories: with N local worker processes (the
anchor) and as Ray tasks on a Ray instance started with N CPUs (1 CPU per task). Prints the wall
time of each and the ratio; both include the processes' start-up (TensorFlow import) and the
aggregation.

Usage: python bench/study_executors.py [--workers 2] [--steps 200]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

STUDY = """
study.random_seeds = [0, 1, 2, 3]
study.models = [('beta_vae', 'model/beta_vae.gin', ['vae.beta = 4.'])]
study.train_bindings = ['model.training_steps = {steps}', 'model.eval_steps = 1', 'model.batch_size = 64',
                        'model.log_every = 100', 'encoder.encoder_fn = @fc_encoder',
                        'decoder.decoder_fn = @fc_decoder']
study.postprocess_configs = ['postprocess/mean.gin']
study.metric_configs = ['metric/mig.gin']
study.metric_bindings = ['mig.num_train = 1000']
"""


def run(study_file, out, extra):
  start = time.perf_counter()
  subprocess.run([sys.executable, "-m", "dynvae_keras.cli", "study", "--study", study_file,
                  "--output_dir", out, *extra], check=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--steps", type=int, default=200)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    study_file = os.path.join(tmp, "study.gin")
    with open(study_file, "w", encoding="utf-8") as f:
      f.write(STUDY.format(steps=args.steps))
    local = run(study_file, os.path.join(tmp, "local"), ["--workers", str(args.workers)])
    print(f"--workers {args.workers}: {local:.1f} s", flush=True)
    ray = run(study_file, os.path.join(tmp, "ray"), ["--executor", "ray", "--ray_local_cpus", str(args.workers)])
    print(f"--executor ray ({args.workers} CPUs, 1 per task): {ray:.1f} s", flush=True)
  print(f"ray / workers: {ray / local:.2f}x the wall time")


if __name__ == "__main__":
  main()
