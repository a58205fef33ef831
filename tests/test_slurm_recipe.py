"""examples/slurm: the job scripts are valid bash, map the array task to `--model_num`, name
commands the CLI accepts, and submit.sh queues the array and its aggregation (fake `sbatch`)."""

import os
import pathlib
import shlex
import subprocess
import sys

import pytest

from dynvae_keras import cli

SLURM = pathlib.Path(__file__).resolve().parents[1] / "examples" / "slurm"


def _fake_bin(tmp_path, name, body):
  """An executable `name` on a PATH of its own that appends its arguments to `<name>.calls`."""
  directory = tmp_path / "bin"
  directory.mkdir(exist_ok=True)
  script = directory / name
  script.write_text(f"#!/bin/bash\nprintf '%s\\n' \"$*\" >> {tmp_path / (name + '.calls')}\n{body}\n")
  script.chmod(0o755)
  return directory


@pytest.mark.parametrize("name", ["study_array.sbatch", "aggregate.sbatch", "submit.sh"])
def test_scripts_are_valid_bash(name):
  subprocess.run(["bash", "-n", str(SLURM / name)], check=True)


def test_array_task_runs_its_model_number_with_a_claim(tmp_path):
  fake = _fake_bin(tmp_path, "dynvae", "")
  env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", SLURM_ARRAY_TASK_ID="7", SLURM_CPUS_PER_TASK="4")
  subprocess.run(["bash", str(SLURM / "study_array.sbatch"), "study/controlled_beta_study.gin", "/shared/s"],
                 env=env, check=True)
  argv = shlex.split((tmp_path / "dynvae.calls").read_text())
  args = cli.build_parser().parse_args(argv)
  assert args.fn is cli._study and args.model_num == 7 and args.no_aggregate  # pylint: disable=protected-access
  assert args.output_dir == "/shared/s" and args.claim_timeout == 600


def test_submit_queues_the_sweep_as_an_array_and_aggregation_after_it(tmp_path):
  fake = _fake_bin(tmp_path, "sbatch", "echo 4242")
  study = "study/controlled_beta_study.gin"
  env = dict(os.environ, PATH=f"{fake}:{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
  out = subprocess.run(["bash", str(SLURM / "submit.sh"), study, str(tmp_path / "s"), "7"], env=env,
                       check=True, capture_output=True, text=True).stdout
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  from dynvae_keras.pipeline import study as study_lib  # pylint: disable=g-import-not-at-top
  count = len(study_lib.load_study(str(gin_utils.resolve_config_path(study))).sweep())
  array, aggregate = (tmp_path / "sbatch.calls").read_text().splitlines()
  assert array.startswith(f"--parsable --array=0-{count - 1}%7 ") and array.endswith(f"{study} {tmp_path / 's'}")
  assert aggregate.startswith("--dependency=afterany:4242 ") and "aggregate.sbatch" in aggregate
  assert f"{count} models" in out


def test_aggregate_job_runs_the_aggregate_command(tmp_path):
  fake = _fake_bin(tmp_path, "dynvae", "")
  env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}")
  subprocess.run(["bash", str(SLURM / "aggregate.sbatch"), "/shared/s"], env=env, check=True)
  args = cli.build_parser().parse_args(shlex.split((tmp_path / "dynvae.calls").read_text()))
  assert args.output == "/shared/s/results.json" and args.glob.startswith("/shared/s/*/metrics/")
