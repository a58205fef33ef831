"""Shared test helpers: the path to ../shared and a subprocess runner for other Keras backends."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import dynvae_keras  # noqa: F401  (its CPU kernel defaults apply only before TensorFlow loads)

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # test data kept in the repository (tests/data/README.md)
SHARED = pathlib.Path(os.environ.get("DYNVAE_SHARED", REPO.parent / "shared"))


def shared_file(*parts):
  """Path of a file under ../shared; fails in CI (where shared/ must exist), skips elsewhere."""
  path = SHARED.joinpath(*parts)
  if not path.exists():
    if os.environ.get("CI"):
      pytest.fail(f"{path} is missing; CI runs with shared/ beside the clone.")
    pytest.skip(f"{path} not available")
  return path


def run_python(code, backend, env=None, timeout=600):
  """Runs `code` in a fresh Python with KERAS_BACKEND=`backend`; returns stdout, fails on error."""
  full_env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
                  JAX_PLATFORMS="cpu", **(env or {}))
  proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=full_env,
                        capture_output=True, text=True, timeout=timeout)
  if proc.returncode != 0:
    raise AssertionError(f"{backend} subprocess failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
  return proc.stdout


def run_python_result(code, backend, env=None):
  """`run_python`, then the JSON object `code` printed after "RESULT" (`print("RESULT" + json.dumps(x))`)."""
  stdout = run_python(code, backend, env=env)
  return json.loads(stdout.split("RESULT", 1)[1].strip().splitlines()[0])


# Two devices on a CPU host: the env for JAX, and a preamble for TensorFlow (before TF starts).
TWO_JAX_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
TWO_TF_CPUS = r"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):  # pylint: disable=unused-argument
  """Every test, and the module fixtures set up for it, starts from the same Python, NumPy and
  Keras random state (seed 0), whatever ran before it in its worker: unseeded initial weights
  would otherwise change from run to run."""
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)


@pytest.fixture
def data_root(tmp_path, monkeypatch):
  """An empty $DISENTANGLEMENT_LIB_DATA for the test."""
  monkeypatch.setenv("DISENTANGLEMENT_LIB_DATA", str(tmp_path))
  return tmp_path
