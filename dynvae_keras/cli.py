"""The `dynvae` command line: thin wrappers that parse flags and call the library.

Subcommands (flags mirror dlib's `dlib_*` tools):
  train  --model_dir M --gin_config C [--gin_config ...] [--gin_bindings B ...] [--overwrite]
  demo   [--output_dir D] [--overwrite] [--steps N]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _train(args):
  from dynvae_keras import gin_utils, train  # pylint: disable=g-import-not-at-top
  gin_utils.parse(args.gin_config, args.gin_bindings)
  results = train.train(args.model_dir, overwrite=args.overwrite)
  print(f"Trained model written to {args.model_dir}")
  for key in ("loss", "reconstruction_loss", "kl_loss", "elbo", "global_step", "elapsed_time"):
    if key in results:
      print(f"  {key:>20s}: {results[key]:.4f}" if isinstance(results[key], float) else f"  {key:>20s}: {results[key]}")


def _demo(args):
  from dynvae_keras import demo  # pylint: disable=g-import-not-at-top
  demo.run(args.output_dir, overwrite=args.overwrite, steps=args.steps)


def build_parser():
  parser = argparse.ArgumentParser(prog="dynvae", description=__doc__.splitlines()[0])
  sub = parser.add_subparsers(dest="command", required=True)

  p = sub.add_parser("train", help="train a model from gin configs (dlib_train)")
  p.add_argument("--model_dir", required=True)
  p.add_argument("--gin_config", action="append", default=[], help="gin config file (repeatable)")
  p.add_argument("--gin_bindings", action="append", default=[], help="gin binding (repeatable)")
  p.add_argument("--overwrite", action="store_true")
  p.set_defaults(fn=_train)

  p = sub.add_parser("demo", help="the main job on the embedded procedural dSprites")
  p.add_argument("--output_dir", default="demo_output")
  p.add_argument("--overwrite", action="store_true")
  p.add_argument("--steps", type=int, default=None, help="training steps (default: the demo's)")
  p.set_defaults(fn=_demo)
  return parser


def main(argv=None):
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
  args = build_parser().parse_args(argv)
  from dynvae_keras.data.files import (  # pylint: disable=g-import-not-at-top
      DatasetFormatError, DatasetNotFoundError, UnknownDatasetError)
  from dynvae_keras.gin_utils import GinConfigError  # pylint: disable=g-import-not-at-top
  from dynvae_keras.train import ConfigValueError, ModelDirError  # pylint: disable=g-import-not-at-top
  try:
    args.fn(args)
  except (GinConfigError, ConfigValueError, ModelDirError, DatasetNotFoundError, DatasetFormatError,
          UnknownDatasetError, FileExistsError) as e:
    # gin appends "In call to configurable ..." lines; the first lines say what is wrong.
    message = "\n".join(line for line in str(e).splitlines() if not line.strip().startswith("In call to"))
    print(f"dynvae {args.command}: error: {message}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
