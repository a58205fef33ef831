"""DCI `fast` preset vs dlib's preset on the same codes: seconds, speed-up, score deviation.

Cases: the reference toy codes (identity, mixing; ../shared/reference/README.md) and, with
`--model_dir`, a trained model's mean representation on its data set (e.g. the demo's
`demo_output/dynamic_vae_quick`). Both presets see the same sampled codes (same random state);
the dlib preset is what `dynvae evaluate` uses unless `dci.preset = "fast"`.

Usage: python bench/dci_fast_preset.py [--model_dir demo_output/dynamic_vae_quick] [--num_train 10000]
"""

import argparse
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))


def cases(args):
  from toy_data import ToyData, identity, mixing  # pylint: disable=g-import-not-at-top
  yield "toy identity", ToyData(), identity
  yield "toy mixing", ToyData(), mixing
  if args.model_dir:
    from dynvae_keras import results  # pylint: disable=g-import-not-at-top
    from dynvae_keras.data import get_named_ground_truth_data  # pylint: disable=g-import-not-at-top
    from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
    name = results.dataset_name(os.path.join(args.model_dir, "results", "gin", "train.gin"))
    yield (f"conv model {os.path.basename(os.path.normpath(args.model_dir))}",
           get_named_ground_truth_data(name),
           saved_model.load_representation_function(os.path.join(args.model_dir, "tfhub")))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model_dir", default=None)
  parser.add_argument("--num_train", type=int, default=10000)
  parser.add_argument("--num_test", type=int, default=5000)
  args = parser.parse_args()
  from dynvae_keras.evaluation.metrics import dci  # pylint: disable=g-import-not-at-top
  keys = ("disentanglement", "completeness", "informativeness_train", "informativeness_test")
  print(f"DCI, num_train {args.num_train}, num_test {args.num_test}, {os.cpu_count()} cores")
  print(f"{'case':28s} {'dlib s':>8s} {'fast s':>8s} {'speed-up':>8s}  " + "  ".join(f"{k[:14]:>14s}" for k in keys))
  for name, data, representation in cases(args):
    scores, seconds = {}, {}
    for preset in ("dlib", "fast"):
      np.random.seed(0)
      start = time.perf_counter()
      scores[preset] = dci.compute_dci(data, representation, np.random.RandomState(0),
                                       num_train=args.num_train, num_test=args.num_test, preset=preset)
      seconds[preset] = time.perf_counter() - start
    print(f"{name:28s} {seconds['dlib']:8.1f} {seconds['fast']:8.1f} {seconds['dlib'] / seconds['fast']:7.1f}x  "
          + "  ".join(f"{scores['dlib'][k]:6.3f}->{scores['fast'][k]:6.3f}" for k in keys), flush=True)


if __name__ == "__main__":
  main()
