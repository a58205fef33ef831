"""Faults: a diverging run stops with a clear error and keeps its last good checkpoint."""

import keras
import numpy as np
import pytest

from dynvae_keras import train
from dynvae_keras.train_callbacks import FiniteLossGuard, NonFiniteLossError


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
  from dynvae_keras.train_callbacks import AtomicCheckpoint
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
