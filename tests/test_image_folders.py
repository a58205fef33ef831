"""Falcor3D, Isaac3D and CelebA from small fake folders in the exact layouts: factor order and
index↔label agreement, the 64×64 cache (creation, reuse, invalidation), and the refusals."""

import json
import logging
import os

import numpy as np
import pytest
from PIL import Image

from dynvae_keras.data import files, image_folders, named_data, resized_cache
from dynvae_keras.evaluation import metrics

# Shrunk factor sizes with the real number of factors (the real sets hold 233,280 / 737,280).
FALCOR_SIZES = [2, 2, 2, 2, 2, 2, 2]  # 128 images
ISAAC_SIZES = [3, 2, 2, 1, 1, 1, 2, 2, 2]  # 192 images


def _write_folder(root, name, sizes, labels_file, side=80, labels="unit"):
  """Solid-colour PNGs `images/{i:06d}.png` whose red channel encodes i, and the label array."""
  directory = root / name / "images"
  directory.mkdir(parents=True)
  count = int(np.prod(sizes))
  for i in range(count):
    Image.fromarray(np.full((side, side, 3), (i % 256, i // 256, 7), np.uint8)).save(directory / f"{i:06d}.png")
  classes = np.stack(np.unravel_index(np.arange(count), sizes), axis=1)
  values = classes / np.maximum(np.array(sizes) - 1, 1) if labels == "unit" else classes
  with open(root / name / labels_file, "wb") as f:  # np.save(path) would append ".npy"
    np.save(f, values.astype(np.float32))
  return classes


def _encoded_index(images):
  return np.round(images[:, 0, 0, 0] * 255).astype(int) + 256 * np.round(images[:, 0, 0, 1] * 255).astype(int)


@pytest.fixture
def falcor(data_root, monkeypatch):
  monkeypatch.setattr(image_folders.Falcor3D, "release_factor_sizes", FALCOR_SIZES)
  return _write_folder(data_root, "falcor3d", FALCOR_SIZES, "train-rec.labels")


@pytest.fixture
def isaac(data_root, monkeypatch):
  monkeypatch.setattr(image_folders.Isaac3D, "release_factor_sizes", ISAAC_SIZES)
  return _write_folder(data_root, "isaac3d", ISAAC_SIZES, "labels.npy", labels="classes")


@pytest.mark.parametrize("name, sizes", [("falcor3d", FALCOR_SIZES), ("isaac3d", ISAAC_SIZES)])
def test_factors_select_the_image_of_their_index(falcor, isaac, name, sizes):
  del falcor, isaac
  data = named_data.get_named_ground_truth_data(name)
  assert data.num_factors == len(sizes) and data.factors_num_values == sizes
  assert data.observation_shape == [64, 64, 3]
  rs = np.random.RandomState(0)
  factors = data.sample_factors(50, rs)
  images = data.sample_observations_from_factors(factors, rs)
  assert images.dtype == np.float32 and images.shape == (50, 64, 64, 3)
  np.testing.assert_array_equal(_encoded_index(images), np.ravel_multi_index(factors.T, sizes))


def test_isaac3d_follows_the_demo_codes_factor_order(isaac):
  del isaac
  data = image_folders.Isaac3D()
  assert data.factor_names[:5] == ["object_shape", "robot_x_move", "robot_y_move", "camera_height",
                                   "object_scale"]
  real = image_folders.ISAAC3D_FACTOR_SIZES
  bases = np.prod(real) // np.cumprod(real)
  np.testing.assert_array_equal(bases, [245760, 30720, 6144, 1536, 384, 96, 16, 4, 1])
  assert int(np.prod(real)) == 737280 and int(np.prod(image_folders.FALCOR3D_FACTOR_SIZES)) == 233280


def test_cache_is_built_once_then_memory_mapped(falcor, data_root, monkeypatch):
  del falcor
  first = image_folders.Falcor3D()
  cache = data_root / "falcor3d" / image_folders.CACHE_DIR
  manifest = json.loads((cache / "manifest.json").read_text())
  assert manifest["images"]["count"] == 128 and manifest["conversion"]["size"] == [64, 64]
  assert "train-rec.labels" in manifest["extra_files"]
  assert not [p for p in os.listdir(data_root / "falcor3d") if p.startswith(".")]  # no temp dirs left
  monkeypatch.setattr(resized_cache, "load_image", lambda *a, **k: pytest.fail("converted again"))
  again = image_folders.Falcor3D()
  assert isinstance(again.images, np.memmap) and not again.images.flags.writeable
  np.testing.assert_array_equal(np.asarray(again.images), np.asarray(first.images))


def test_a_changed_image_rebuilds_the_cache_with_a_message(falcor, data_root, caplog):
  del falcor
  image_folders.Falcor3D()
  Image.fromarray(np.full((96, 96, 3), (200, 0, 7), np.uint8)).save(data_root / "falcor3d" / "images" / "000005.png")
  with caplog.at_level(logging.WARNING):
    data = image_folders.Falcor3D()
  assert "no longer matches its sources" in caplog.text and "images" in caplog.text
  assert int(np.asarray(data.images)[5, 0, 0, 0]) == 200


def test_a_changed_label_file_rebuilds_the_cache(falcor, data_root, caplog):
  del falcor
  image_folders.Falcor3D()
  labels_path = data_root / "falcor3d" / "train-rec.labels"
  labels = np.load(labels_path)
  with open(labels_path, "wb") as f:
    np.save(f, labels.astype(np.float64))  # same values, different file
  with caplog.at_level(logging.WARNING):
    image_folders.Falcor3D()
  assert "extra_files" in caplog.text


def test_partial_image_folder_is_refused(falcor, data_root):
  del falcor
  os.remove(data_root / "falcor3d" / "images" / "000127.png")
  with pytest.raises(files.DatasetFormatError, match="127 .png files; falcor3d has 128"):
    image_folders.Falcor3D()


def test_misnamed_images_are_refused(falcor, data_root):
  del falcor
  images = data_root / "falcor3d" / "images"
  os.rename(images / "000127.png", images / "000200.png")
  with pytest.raises(files.DatasetFormatError, match="not named 000127.png"):
    image_folders.Falcor3D()


def test_missing_labels_are_refused(falcor, data_root):
  del falcor
  os.remove(data_root / "falcor3d" / "train-rec.labels")
  with pytest.raises(files.DatasetNotFoundError, match="train-rec.labels"):
    image_folders.Falcor3D()


def test_labels_that_disagree_with_the_index_are_refused(isaac, data_root):
  classes = isaac.copy()
  classes[[3, 4]] = classes[[4, 3]]
  with open(data_root / "isaac3d" / "labels.npy", "wb") as f:
    np.save(f, classes.astype(np.float32))
  with pytest.raises(files.DatasetFormatError, match="row 3 has factor classes"):
    image_folders.Isaac3D()


def test_labels_of_the_wrong_shape_are_refused(isaac, data_root):
  with open(data_root / "isaac3d" / "labels.npy", "wb") as f:
    np.save(f, isaac[:, :7].astype(np.float32))
  with pytest.raises(files.DatasetFormatError, match=r"expected \(N, 9\)"):
    image_folders.Isaac3D()


def test_small_images_are_refused(data_root, monkeypatch):
  monkeypatch.setattr(image_folders.Falcor3D, "release_factor_sizes", FALCOR_SIZES)
  _write_folder(data_root, "falcor3d", FALCOR_SIZES, "train-rec.labels", side=32)
  with pytest.raises(files.DatasetFormatError, match="smaller than 64"):
    image_folders.Falcor3D()
  assert not (data_root / "falcor3d" / image_folders.CACHE_DIR).exists()  # nothing half-written


@pytest.fixture
def celeba(data_root, monkeypatch):
  monkeypatch.setattr(image_folders, "CELEBA_NUM_IMAGES", 30)
  directory = data_root / "celeba" / "img_align_celeba"
  directory.mkdir(parents=True)
  for i in range(30):
    picture = np.zeros((218, 178, 3), np.uint8)
    picture[35:183, 15:163] = (i * 8, 100, 50)  # the 148×148 centre crop holds the face
    Image.fromarray(picture).save(directory / f"{i + 1:06d}.jpg", quality=95)
  return directory


def test_celeba_has_no_factors_and_is_cropped_to_the_face(celeba):
  del celeba
  data = named_data.get_named_ground_truth_data("celeba")
  assert data.num_factors == 0 and data.observation_shape == [64, 64, 3]
  rs = np.random.RandomState(0)
  factors = data.sample_factors(8, rs)
  assert factors.shape == (8, 0)
  images = data.sample_observations_from_factors(factors, rs)
  assert images.shape == (8, 64, 64, 3)
  green = images[:, :, :, 1]  # 100/255 = 0.39 inside the crop, 0 in the border it removes
  assert green.min() > 0.3 and abs(green.mean() - 100 / 255) < 0.01


def test_factor_based_metrics_refuse_celeba(celeba):
  del celeba
  data = image_folders.CelebA()
  with pytest.raises(metrics.MetricDataError, match="unsupervised"):
    metrics.require_factors("mig", data)
  metrics.require_factors("unsupervised_metrics", data)
  scores = metrics.METRICS["unsupervised_metrics"](data, lambda x: x.reshape(len(x), -1)[:, :4],
                                                   np.random.RandomState(0), num_train=20)
  assert np.isfinite(scores["gaussian_total_correlation"])


def test_dynvae_train_runs_on_isaac3d(isaac, tmp_path):
  del isaac
  from dynvae_keras import cli  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path / "model"
  assert cli.main(["train", "--model_dir", str(model_dir), "--gin_config", "model/vae.gin",
                   "--gin_bindings", "dataset.name = 'isaac3d'", "--gin_bindings", "model.training_steps = 3",
                   "--gin_bindings", "model.eval_steps = 1", "--gin_bindings", "model.log_every = 3",
                   "--gin_bindings", "model.batch_size = 8"]) == 0
  config = json.loads((model_dir / "results" / "json" / "train_config.json").read_text())
  assert "isaac3d" in config["dataset.source"] and "manifest.json" in config["dataset.files"]
  results = json.loads((model_dir / "results" / "json" / "train_results.json").read_text())
  assert results["global_step"] == 3 and np.isfinite(results["loss"])
