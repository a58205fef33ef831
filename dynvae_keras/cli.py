"""The `dynvae` command line: thin wrappers that parse flags and call the library.

Subcommands (flags mirror dlib's `dlib_*` tools):
  train        --model_dir M --gin_config C [--gin_config ...] [--gin_bindings B ...] [--overwrite]
  export       --model_dir M [--overwrite]            (re-)write M/tfhub from M/model.keras
  postprocess  --model_dir M --output_dir P --gin_config postprocess/mean.gin
  evaluate     --input_dir P --output_dir E --gin_config metric/mig.gin
  aggregate    --glob 'O/*/metrics/*/*/results/aggregate/evaluation.json' --output O/results.json
  visualize    --model_dir M --output_dir V
  study        --study study/<name>.gin --output_dir O [--model_num N | --model_nums A-B,C] [--workers W] [--gpus 0,1] [--stages train] [--claim_timeout S] [--executor ray [--ray_address auto]] [--count]
  report       --study study/<name>.gin --study_dir O --output_dir R [--no_traversals] [--records DIR]
               [--allow_incomplete]
  calibrate    --model_dir M --target_steps T [--gin_config model/vae.gin ...]
  demo         [--output_dir D] [--overwrite] [--steps N]
  configs      [--kind model|metric|postprocess|study]      list the packaged gin configs
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _train(args):
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  from dynvae_keras.pipeline import train  # pylint: disable=g-import-not-at-top
  gin_utils.parse(args.gin_config, args.gin_bindings)
  results = train.train(args.model_dir, overwrite=args.overwrite)
  print(f"Trained model written to {args.model_dir}")
  for key in ("loss", "reconstruction_loss", "kl_loss", "elbo", "global_step", "elapsed_time"):
    if key in results:
      print(f"  {key:>20s}: {results[key]:.4f}" if isinstance(results[key], float) else f"  {key:>20s}: {results[key]}")


def _export(args):
  from dynvae_keras.export import saved_model  # pylint: disable=g-import-not-at-top
  print(f"SavedModel written to {saved_model.export_model_dir(args.model_dir, args.overwrite)}")


def _postprocess(args):
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  from dynvae_keras.evaluation import postprocess  # pylint: disable=g-import-not-at-top
  gin_utils.parse(args.gin_config, args.gin_bindings)
  postprocess.postprocess(args.model_dir, args.output_dir, overwrite=args.overwrite)
  print(f"Representation written to {os.path.join(args.output_dir, 'tfhub')}")


def _evaluate(args):
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  from dynvae_keras.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  gin_utils.parse(args.gin_config, args.gin_bindings)
  scores = evaluate.evaluate(args.input_dir, args.output_dir, overwrite=args.overwrite)
  print(f"Results written to {os.path.join(args.output_dir, 'results')}")
  for key, value in sorted(scores.items()):
    print(f"  {key:>40s}: {value}")


def _aggregate(args):
  from dynvae_keras.evaluation import aggregate  # pylint: disable=g-import-not-at-top
  rows = aggregate.aggregate(args.glob, args.output)
  print(f"{len(rows)} results aggregated into {args.output} and "
        f"{os.path.splitext(args.output)[0] + '.csv'}")


def _visualize(args):
  from dynvae_keras import visualize  # pylint: disable=g-import-not-at-top
  paths = visualize.visualize(args.model_dir, args.output_dir, overwrite=args.overwrite,
                              seed=args.seed)
  print(f"Figures written to {args.output_dir}:")
  for path in paths:
    print(f"  {path}")


def _study(args):
  from dynvae_keras.pipeline import study  # pylint: disable=g-import-not-at-top
  if args.count:
    print(len(study.load_study(args.study).sweep()))
    return
  if args.model_nums:
    numbers = parse_model_nums(args.model_nums)
  elif args.model_num is not None:
    numbers = [args.model_num]
  else:
    numbers = None
  gpus = args.gpus.split(",") if args.gpus is not None else []
  workers = args.workers if args.workers is not None else max(1, len(gpus))
  study.run_study(args.study, args.output_dir, model_nums=numbers, overwrite=args.overwrite,
                  stages=tuple(args.stages.split(",")), workers=workers,
                  aggregate_results=not args.no_aggregate, gpus=gpus, claim_timeout=args.claim_timeout,
                  executor=args.executor, ray_options=dict(
                      address=args.ray_address, num_cpus=args.ray_cpus_per_task,
                      num_gpus=args.ray_gpus_per_task, max_retries=args.ray_max_retries,
                      memory=None if args.ray_memory_gb is None else int(args.ray_memory_gb * 1024 ** 3),
                      local_cpus=args.ray_local_cpus))


def parse_model_nums(text):
  """'0-3,7,9-10' → [0, 1, 2, 3, 7, 9, 10]."""
  from dynvae_keras.gin_utils import GinConfigError  # pylint: disable=g-import-not-at-top
  numbers = []
  for part in text.split(","):
    first, _, last = part.strip().partition("-")
    try:
      numbers.extend(range(int(first), int(last or first) + 1))
    except ValueError:
      raise GinConfigError(f"--model_nums takes ranges and numbers like '0-3,7'; got {text!r}.") from None
  return numbers


def _report(args):
  from dynvae_keras.pipeline import report  # pylint: disable=g-import-not-at-top
  _, table = report.report(args.study, args.study_dir, args.output_dir,
                           overwrite=args.overwrite, traversals=not args.no_traversals,
                           allow_incomplete=args.allow_incomplete, records=args.records)
  print(table)
  print(f"Report written to {args.output_dir}")


def _calibrate(args):
  from dynvae_keras.pipeline import calibrate  # pylint: disable=g-import-not-at-top
  print(calibrate.calibrate(args.model_dir, args.target_steps, args.gin_config, args.gin_bindings,
                            step=args.step))


def _demo(args):
  from dynvae_keras.pipeline import demo  # pylint: disable=g-import-not-at-top
  demo.run(args.output_dir, overwrite=args.overwrite, steps=args.steps)


def _configs(args):
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  listing = "".join(f"{path}\n" for path in gin_utils.packaged_configs(args.kind))
  try:
    sys.stdout.write(listing)
    sys.stdout.flush()
  except BrokenPipeError:  # the reader stopped early (`dynvae configs | head -1`): nothing is lost
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit


OVERWRITE_HELP = "replace an existing output directory instead of refusing"
DESCRIPTION = """\
Train β-VAE-family models whose KL weight is controlled during training (ControlVAE,
DynamicVAE, L-VAE, σ-VAE, and disentanglement_lib's baselines), and score them exactly as
disentanglement_lib does: train → postprocess → evaluate → aggregate, or a whole sweep with
`study`. Configs are gin files: `dynvae configs` lists the packaged ones, which --gin_config
finds by their relative name (e.g. model/beta_vae.gin); your own paths are read first."""


def _add_gin_flags(parser):
  """dlib's flags: repeatable --gin_config / --gin_bindings, and --overwrite."""
  parser.add_argument("--gin_config", action="append", default=[],
                      help="gin config file: a path, or a packaged config such as model/beta_vae.gin "
                           "(repeatable; later files override earlier ones)")
  parser.add_argument("--gin_bindings", action="append", default=[],
                      help="one gin binding, e.g. \"model.training_steps = 5000\" (repeatable; applied "
                           "after the config files)")
  parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def build_parser():
  parser = argparse.ArgumentParser(prog="dynvae", description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  sub = parser.add_subparsers(dest="command", required=True)

  p = sub.add_parser("train", help="train a model from gin configs (dlib_train)")
  p.add_argument("--model_dir", required=True,
                 help="output directory; an unfinished run there resumes from its checkpoint")
  _add_gin_flags(p)
  p.set_defaults(fn=_train)

  p = sub.add_parser("export", help="write <model_dir>/tfhub from <model_dir>/model.keras")
  p.add_argument("--model_dir", required=True, help="a directory written by `dynvae train`")
  p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
  p.set_defaults(fn=_export)

  p = sub.add_parser("postprocess", help="extract a representation SavedModel (dlib_postprocess)")
  p.add_argument("--model_dir", required=True, help="a directory written by `dynvae train`")
  p.add_argument("--output_dir", required=True, help="where the representation and results go")
  _add_gin_flags(p)
  p.set_defaults(fn=_postprocess)

  p = sub.add_parser("evaluate", help="score a representation with a metric (dlib_evaluate)")
  p.add_argument("--input_dir", required=True, help="a postprocess output directory")
  p.add_argument("--output_dir", required=True, help="where the metric's results go")
  _add_gin_flags(p)
  p.set_defaults(fn=_evaluate)

  p = sub.add_parser("aggregate", help="aggregate results into one JSON + CSV (dlib_aggregate_results)")
  p.add_argument("--glob", required=True, help="pattern of results/aggregate/*.json files")
  p.add_argument("--output", required=True, help="output .json (a .csv is written beside it)")
  p.set_defaults(fn=_aggregate)

  p = sub.add_parser("visualize", help="reconstructions, traversal GIFs and training curves")
  p.add_argument("--model_dir", required=True, help="a directory written by `dynvae train`")
  p.add_argument("--output_dir", required=True, help="where the figures go")
  p.add_argument("--seed", type=int, default=0, help="seed of the images and samples shown")
  p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
  p.set_defaults(fn=_visualize)

  p = sub.add_parser("study", help="train → postprocess → evaluate → aggregate for a sweep")
  p.add_argument("--study", required=True, help="a study gin file, e.g. study/controlled_beta_study.gin")
  p.add_argument("--output_dir", required=True, help="the study's directory (shareable between machines)")
  p.add_argument("--model_num", type=int, default=None, help="run only this model of the sweep")
  p.add_argument("--model_nums", default=None, help="ranges/numbers, e.g. 0-3,7 (inclusive)")
  p.add_argument("--workers", type=int, default=None,
                 help="processes on this machine, sharing its cores (e.g. 2 on a 2-core CPU); "
                      "default 1, or one per GPU given with --gpus")
  p.add_argument("--gpus", default=None,
                 help="CUDA device ids dealt to the workers, e.g. 0,1,2,3: worker i sees only "
                      "GPU i mod 4 (several workers may share one)")
  p.add_argument("--no_aggregate", action="store_true", help="skip writing results.json")
  p.add_argument("--executor", choices=("local", "ray"), default="local",
                 help="'ray': one Ray task per model (pip install 'dynvae-keras[ray]'; docs/scaling.md)")
  p.add_argument("--ray_address", default=None,
                 help="a running Ray cluster ('auto': this node's); default: start one on this machine")
  p.add_argument("--ray_local_cpus", type=int, default=None,
                 help="CPUs of a Ray instance started here (default: all)")
  p.add_argument("--ray_cpus_per_task", type=float, default=1, help="CPUs per model task (default 1)")
  p.add_argument("--ray_gpus_per_task", type=float, default=0, help="GPUs per model task (default 0)")
  p.add_argument("--ray_memory_gb", type=float, default=None, help="memory reserved per model task")
  p.add_argument("--ray_max_retries", type=int, default=3,
                 help="reruns of a task whose worker or node was lost (default 3)")
  p.add_argument("--count", action="store_true",
                 help="print the number of models in the sweep and exit (e.g. for a job array)")
  p.add_argument("--overwrite", action="store_true", help="redo finished steps")
  p.add_argument("--claim_timeout", type=float, default=300.0,
                 help="seconds after which a model claimed by a silent process (crashed, "
                      "preempted) is taken over; default 300")
  p.add_argument("--stages", default="train,evaluate",
                 help="'train' to only train (e.g. on a GPU machine without TensorFlow); default both")
  p.set_defaults(fn=_study)

  p = sub.add_parser("report", help="tables, learning and β/C/KL curves, traversals of a study")
  p.add_argument("--study", required=True, help="the study's gin file")
  p.add_argument("--study_dir", required=True, help="the study's --output_dir")
  p.add_argument("--output_dir", required=True, help="where the report goes")
  p.add_argument("--no_traversals", action="store_true", help="skip the traversal figures")
  p.add_argument("--allow_incomplete", action="store_true",
                 help="report the finished models of a study still running, listing the others")
  p.add_argument("--records", action="append", default=[], metavar="DIR",
                 help="run records (the runs/ folder of an earlier report) read for the models "
                      "not finished in --study_dir; repeatable, the first holding a model wins")
  p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
  p.set_defaults(fn=_report)

  p = sub.add_parser("calibrate", help="propose C_max and the set-point schedule from a β = 1 run")
  p.add_argument("--model_dir", required=True, help="a finished β = 1 run, or where to train one")
  p.add_argument("--target_steps", type=int, required=True, help="steps of the controlled run")
  p.add_argument("--gin_config", action="append", default=[], help="config of the β = 1 run to train")
  p.add_argument("--gin_bindings", action="append", default=[], help="gin binding for that run (repeatable)")
  p.add_argument("--step", type=float, default=1.0, help="set-point increment per window (nats)")
  p.set_defaults(fn=_calibrate)

  p = sub.add_parser("demo", help="a DynamicVAE trained and scored end to end on procedural dSprites")
  p.add_argument("--output_dir", default="demo_output", help="where everything goes")
  p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
  p.add_argument("--steps", type=int, default=None, help="training steps (default: the demo's 3000)")
  p.set_defaults(fn=_demo)

  p = sub.add_parser("configs", help="list the packaged gin configs (usable as --gin_config)")
  p.add_argument("--kind", choices=("model", "metric", "postprocess", "study"), default=None,
                 help="only this kind of config")
  p.set_defaults(fn=_configs)
  return parser


def _no_backend_message():
  """A one-line error when Keras' backend is not installed (the package's extras provide one)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  backend = os.environ.get("KERAS_BACKEND", "tensorflow")
  module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
  if module is None or importlib.util.find_spec(module) is not None:
    return None
  extra = {"tensorflow": "tf", "jax": "jax", "torch": "torch"}[backend]
  return (f"the Keras backend '{backend}' is not installed. Install one: "
          f"pip install 'dynvae-keras[{extra}]' (or set KERAS_BACKEND to an installed backend: "
          f"jax with [jax]/[gpu], torch with [torch]).")


def main(argv=None):
  """Runs one subcommand; anticipated failures print one `dynvae <cmd>: error: ...` line, exit 2."""
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
  args = build_parser().parse_args(argv)
  if args.command != "configs" and (message := _no_backend_message()):
    print(f"dynvae {args.command}: error: {message}", file=sys.stderr)
    return 2
  from dynvae_keras.errors import DynvaeError  # pylint: disable=g-import-not-at-top
  try:
    args.fn(args)
  except (DynvaeError, FileExistsError, FileNotFoundError) as e:
    # gin appends "In call to configurable ..." lines; the first lines say what is wrong.
    message = "\n".join(line for line in str(e).splitlines() if not line.strip().startswith("In call to"))
    print(f"dynvae {args.command}: error: {message}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
