"""DCI-ES cost on a dSprites-sized sample: its probes in parallel against one process, same codes.

The codes: dSprites' five factor sizes (shape 3 categorical, scale 6, orientation 40, x 32,
y 32), each factor scaled to [0, 1] and joined by five noise dimensions, then rotated (a
10-dimensional entangled code). `dci_es_from_codes` with the metric's defaults (10,000 training
and 5,000 test points, 12 capacities × 5 factors, 100 trees per forest) runs once with
`n_jobs=1` (the anchor: a plain loop over the forests) and once with `--n_jobs` processes per
forest; the scores must be identical.

Usage: python bench/dci_es_cost.py [--n_jobs 2] [--num_train 10000] [--num_test 5000]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = [3, 6, 40, 32, 32]


def sample(random_state, rotation, num):
  factors = np.stack([random_state.randint(s, size=num) for s in SIZES], axis=1)
  noise = random_state.normal(size=(num, len(SIZES))) * 0.1
  return np.concatenate([factors / np.array(SIZES), noise], axis=1) @ rotation, factors


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--n_jobs", type=int, default=os.cpu_count())
  parser.add_argument("--num_train", type=int, default=10000)
  parser.add_argument("--num_test", type=int, default=5000)
  args = parser.parse_args()
  from dynvae_keras.evaluation.metrics import dci_es  # pylint: disable=g-import-not-at-top
  random_state = np.random.RandomState(0)
  rotation, _ = np.linalg.qr(random_state.normal(size=(2 * len(SIZES),) * 2))
  train, test = sample(random_state, rotation, args.num_train), sample(random_state, rotation, args.num_test)
  timings, scores = {}, {}
  for n_jobs in (1, args.n_jobs):
    start = time.perf_counter()
    scores[n_jobs] = dci_es.dci_es_from_codes(*train, *test, SIZES, categorical_factors=(0,), seed=0,
                                              n_jobs=n_jobs)
    timings[n_jobs] = time.perf_counter() - start
    print(f"n_jobs={n_jobs}: {timings[n_jobs]:.1f} s", flush=True)
  if scores[1] != scores[args.n_jobs]:
    raise SystemExit(f"scores differ between n_jobs=1 and n_jobs={args.n_jobs}")
  print({k: round(v, 3) for k, v in scores[1].items() if not k.startswith("explicitness_")})
  print(f"speed-up of n_jobs={args.n_jobs} over n_jobs=1: {timings[1] / timings[args.n_jobs]:.2f}x")


if __name__ == "__main__":
  main()
