"""Benchmark: procedural dSprites rendering speed on one core.

Prints images/s of the vectorised batch renderer, the same renderer called one image at a
time (the anchor, measured in the same run), their ratio, and the projected time for the
whole 737,280-image set against the 5-minute budget. `--full` renders the whole set for
real (and `--write PATH` saves it as an official-layout `.npz` cache).

Usage: python bench/render_dsprites.py [--images 65536] [--full] [--write PATH]
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # pylint: disable=g-import-not-at-top

from dynvae_keras.data import dsprites, dsprites_render  # pylint: disable=g-import-not-at-top

BUDGET_S = 300.0


def _rate(factors, chunk):
  start = time.perf_counter()
  for i in range(0, len(factors), chunk):
    dsprites_render.render(factors[i:i + chunk])
  return len(factors) / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--images", type=int, default=65536)
  parser.add_argument("--chunk", type=int, default=1024)
  parser.add_argument("--full", action="store_true", help="render all 737,280 images")
  parser.add_argument("--write", default=None, help="with --full: write the .npz cache here")
  args = parser.parse_args()

  rs = np.random.RandomState(0)
  factors = np.stack([rs.randint(n, size=args.images) for n in dsprites_render.FACTOR_SIZES], 1)
  anchor = _rate(factors[:2000], chunk=1)
  batched = _rate(factors, chunk=args.chunk)
  total = dsprites.NUM_IMAGES
  print(f"per-image render (anchor): {anchor:10.0f} images/s")
  print(f"batched render (chunk {args.chunk}): {batched:10.0f} images/s  ratio {batched / anchor:.1f}x")
  print(f"full set projection: {total / batched:.1f} s for {total} images "
        f"({total / batched / BUDGET_S:.2f} of the {BUDGET_S:.0f} s budget)")
  if args.full:
    start = time.perf_counter()
    if args.write:
      dsprites.write_procedural_npz(args.write, chunk_size=args.chunk)
    else:
      all_factors = dsprites_render.all_factors()
      means = [dsprites_render.render(all_factors[i:i + args.chunk]).mean()
               for i in range(0, total, args.chunk)]
      print(f"global mean pixel {np.mean(means):.6f} (real dSprites: 0.042494)")
    elapsed = time.perf_counter() - start
    print(f"full set rendered in {elapsed:.1f} s ({total / elapsed:.0f} images/s)"
          + (f", written to {args.write}" if args.write else ""))


if __name__ == "__main__":
  main()
