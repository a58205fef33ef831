"""Faults: a diverging run stops with a clear error and keeps its last good checkpoint."""

import keras
import numpy as np
import pytest

from dynvae_keras import cli
from dynvae_keras.pipeline import train
from dynvae_keras.data.files import DatasetNotFoundError
from dynvae_keras.errors import DynvaeError, TrainingDataError
from dynvae_keras.pipeline.callbacks import FiniteLossGuard, NonFiniteLossError


def test_nan_loss_stops_with_the_step_and_last_finite_values():
  guard = FiniteLossGuard(steps_per_interval=10)
  guard.on_epoch_end(0, {"loss": 5.0, "beta": 2.0})
  with pytest.raises(NonFiniteLossError) as info:
    guard.on_epoch_end(1, {"loss": float("nan"), "beta": 2.0})
  message = str(info.value)
  assert "step 20" in message and "loss=5" in message and "beta=2" in message


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
  # The guard runs before the checkpoint callback (as in train.train), so the interval that
  # produced NaN is never saved and the previous checkpoint stays loadable.
  from dynvae_keras.pipeline.callbacks import AtomicCheckpoint
  x = np.ones((30, 2), "float32")
  y = np.concatenate([np.zeros((10, 1)), np.full((20, 1), np.nan)]).astype("float32")
  model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
  model.compile("sgd", "mse")
  path = tmp_path / "checkpoint.keras"
  saved = []
  callbacks = [FiniteLossGuard(10), AtomicCheckpoint(str(path), 10, 10, on_save=saved.append)]
  with pytest.raises(NonFiniteLossError, match="step 20"):
    model.fit(x, y, batch_size=1, epochs=3, steps_per_epoch=10, shuffle=False, verbose=0,
              callbacks=callbacks)
  assert saved == [10]
  restored = keras.saving.load_model(path)
  assert all(np.all(np.isfinite(keras.ops.convert_to_numpy(w))) for w in restored.weights)
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_train_rejects_nan_input_before_training():
  with pytest.raises(ValueError, match="NaN"):
    train.check_observations(np.full((2, 64, 64, 1), np.nan, "float32"), [64, 64, 1])


@pytest.mark.parametrize("batch, match", [
    (np.full((2, 64, 64, 1), 1.5, "float32"), r"\[0, 1\]"),
    (np.full((2, 64, 64, 1), -0.1, "float32"), r"\[0, 1\]"),
    (np.zeros((2, 64, 64), "float32"), "4-D NHWC"),
    (np.zeros((2, 32, 32, 1), "float32"), "declares"),
    (np.zeros((2, 64, 64, 2), "float32"), "channels"),
    (np.zeros((2, 1, 64, 64), "float32"), "channels"),
])
def test_bad_training_images_are_rejected_with_the_fix(batch, match):
  shape = list(batch.shape[1:]) if match == "channels" else [64, 64, 1]
  with pytest.raises(ValueError, match=match):
    train.check_observations(batch, shape)


def test_bad_data_writes_no_model_dir(tmp_path, monkeypatch):
  from dynvae_keras import gin_utils  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(train, "check_observations", _always_reject)
  gin_utils.parse(["model/beta_vae.gin"], ["model.training_steps = 2"])
  try:
    with pytest.raises(ValueError, match="rejected"):
      train.train(str(tmp_path / "run"))
  finally:
    gin_utils.gin.clear_config()
  assert not (tmp_path / "run").exists()


def _always_reject(batch, shape):
  del batch, shape
  raise ValueError("rejected")


@pytest.mark.parametrize("failure", [
    NonFiniteLossError("the loss became nan at step 20; last finite values: loss=5"),
    TrainingDataError("Training images must lie in [0, 1]; got [0, 255]. Divide uint8 images by 255."),
    DatasetNotFoundError("shapes3d: missing /data/3dshapes/3dshapes.h5; place the file there."),
])
def test_anticipated_failures_reach_the_cli_as_one_line(failure, monkeypatch, capsys):
  """Every DynvaeError a run raises is one `dynvae train: error: ...` line and exit status 2."""
  def fail(*args, **kwargs):
    raise failure
  monkeypatch.setattr(train, "train", fail)
  assert cli.main(["train", "--model_dir", "unused", "--gin_config", "model/vae.gin"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert err == [f"dynvae train: error: {failure}"]
  assert isinstance(failure, DynvaeError)


def test_bad_training_images_from_a_data_set_reach_the_cli(tmp_path, monkeypatch, capsys):
  from dynvae_keras.data import input_pipeline  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(input_pipeline, "sample_batch", lambda *a, **k: np.full((8, 64, 64, 1), 255.0, "float32"))
  assert cli.main(["train", "--model_dir", str(tmp_path / "run"), "--gin_config", "model/vae.gin"]) == 2
  err = capsys.readouterr().err
  assert "dynvae train: error: Training images must lie in [0, 1]" in err and "Divide uint8" in err
  assert not (tmp_path / "run").exists()
