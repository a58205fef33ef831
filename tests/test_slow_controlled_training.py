"""Slow (`make test-slow`): the DynamicVAE quick schedule does what the paper describes, on CPU."""

import importlib.util
import pathlib

import pytest

pytestmark = pytest.mark.slow


def _bench():
  path = pathlib.Path(__file__).resolve().parents[1] / "bench" / "controlled_beta_quick.py"
  spec = importlib.util.spec_from_file_location("controlled_beta_quick", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_dynamic_vae_quick_beta_falls_below_one_and_kl_tracks_setpoint(tmp_path):
  from dynvae_keras import cli
  model_dir = tmp_path / "dynamic_vae_quick"
  assert cli.main(["train", "--model_dir", str(model_dir), "--gin_config", "model/dynamic_vae_quick.gin"]) == 0
  assert _bench().check(str(model_dir), expect_beta_below_one=True)
