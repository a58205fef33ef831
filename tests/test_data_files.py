"""File-backed data sets read from small fake files with the exact schemas, and their errors.

The real files are large (Shapes3D 480k images, MPI3D 1M); tests shrink the factor sizes
with monkeypatch and write files of the same layout.
"""

import hashlib
import json
import logging
import os

import h5py
import numpy as np
import pytest
import scipy.io

from dynvae_keras import data
from dynvae_keras.data import dsprites, dsprites_render, file_datasets, files, provenance


def _coded_images(n, shape):
  """Images whose first pixel encodes the row index (to check lookups)."""
  images = np.zeros((n,) + shape, dtype=np.uint8)
  images.reshape(n, -1)[:, 0] = np.arange(n) % 256
  images.reshape(n, -1)[:, 1] = np.arange(n) // 256
  return images


def _row_of(images, scale=255):
  flat = np.round(images.reshape(len(images), -1) * scale).astype(int)
  return flat[:, 0] + 256 * flat[:, 1]


def test_shapes3d_h5(data_root, monkeypatch):
  sizes = [2, 3, 2, 2, 2, 3]
  monkeypatch.setattr(file_datasets, "SHAPES3D_FACTOR_SIZES", sizes)
  n = int(np.prod(sizes))
  os.makedirs(data_root / "3dshapes")
  with h5py.File(data_root / "3dshapes" / "3dshapes.h5", "w") as f:
    f["images"] = _coded_images(n, (64, 64, 3))
    f["labels"] = np.zeros((n, 6))
  ds = data.get_named_ground_truth_data("shapes3d")
  factors, images = ds.sample(20, np.random.RandomState(0))
  assert images.shape == (20, 64, 64, 3) and images.dtype == np.float32
  bases = n // np.cumprod(sizes)
  np.testing.assert_array_equal(_row_of(images), factors @ bases)
  assert "3dshapes.h5" in ds.source


def test_shapes3d_dlib_npz(data_root, monkeypatch):
  sizes = [2, 1, 1, 1, 2, 2]
  monkeypatch.setattr(file_datasets, "SHAPES3D_FACTOR_SIZES", sizes)
  os.makedirs(data_root / "3dshapes")
  images = _coded_images(8, (64, 64, 3)).reshape(sizes + [64, 64, 3])
  np.savez(data_root / file_datasets.SHAPES3D_NPZ, images=images, labels=np.zeros(sizes + [6]))
  ds = data.Shapes3D()
  factors, obs = ds.sample(10, np.random.RandomState(1))
  np.testing.assert_array_equal(_row_of(obs), factors @ (8 // np.cumprod(sizes)))


def test_shapes3d_malformed(data_root):
  os.makedirs(data_root / "3dshapes")
  with h5py.File(data_root / "3dshapes" / "3dshapes.h5", "w") as f:
    f["imgs"] = np.zeros((2, 64, 64, 3), np.uint8)
  with pytest.raises(data.DatasetFormatError, match="lacks"):
    data.Shapes3D()


@pytest.mark.parametrize("name", ["shapes3d", "smallnorb", "cars3d", "mpi3d_toy",
                                  "mpi3d_realistic", "mpi3d_real", "mpi3d_complex"])
def test_missing_files_do_not_fall_back(name, data_root):
  with pytest.raises(data.DatasetNotFoundError) as info:
    data.get_named_ground_truth_data(name)
  message = str(info.value)
  assert "DISENTANGLEMENT_LIB_DATA" in message and str(data_root) in message and "Fix:" in message


def _write_norb(path, array, magic):
  header = [magic, array.ndim] + list(array.shape) + [1] * max(0, 3 - array.ndim)
  with open(path, "wb") as f:
    f.write(np.asarray(header, "<i4").tobytes())
    f.write(np.ascontiguousarray(array).tobytes())


def test_smallnorb_binary_matrices(data_root, monkeypatch):
  sizes = [2, 2, 1, 2, 1]  # category, instance, elevation, azimuth, lighting
  monkeypatch.setattr(file_datasets, "SMALLNORB_FACTOR_SIZES", sizes)
  os.makedirs(data_root / "small_norb")
  grid = np.array([(c, i, e, a, l) for c in range(2) for i in range(2) for e in range(1)
                   for a in range(2) for l in range(1)])
  rs = np.random.RandomState(0)
  order = rs.permutation(len(grid))
  grid = grid[order]
  for chunk, rows in zip(file_datasets.SMALLNORB_CHUNKS, (grid[:5], grid[5:])):
    template = str(data_root / file_datasets.SMALLNORB_TEMPLATE)
    # both cameras; the picture's brightness encodes the category*4 + instance*2 + azimuth
    code = rows[:, 0] * 4 + rows[:, 1] * 2 + rows[:, 3]
    dat = np.repeat((code * 30).astype(np.uint8)[:, None, None, None], 2, 1) * np.ones((1, 2, 96, 96), np.uint8)
    _write_norb(template.format(chunk, "dat"), dat, 507333717)
    _write_norb(template.format(chunk, "cat"), rows[:, 0].astype("<i4"), 507333716)
    info = np.stack([rows[:, 1], rows[:, 2], rows[:, 3] * 2, rows[:, 4]], 1).astype("<i4")
    _write_norb(template.format(chunk, "info"), info, 507333716)
  ds = data.get_named_ground_truth_data("smallnorb")
  assert ds.num_factors == 4 and ds.observation_shape == [64, 64, 1]
  factors = np.array([[1, 0, 1, 0], [0, 0, 0, 0]])
  images = ds.sample_observations_from_factors(factors, np.random.RandomState(0))
  instances = np.random.RandomState(0).randint(2, size=2)
  expected = (factors[:, 0] * 4 + instances * 2 + factors[:, 2]) * 30 / 255.0
  np.testing.assert_allclose(images[:, 32, 32, 0], expected, atol=1e-6)


def test_smallnorb_truncated_file(tmp_path):
  _write_norb(tmp_path / "x.mat", np.zeros((3, 4), np.uint8), 507333717)
  with open(tmp_path / "x.mat", "r+b") as f:
    f.truncate(22)
  with pytest.raises(data.DatasetFormatError, match="truncated"):
    file_datasets.read_norb_matrix(str(tmp_path / "x.mat"))


def test_cars3d_mat_files(data_root, monkeypatch):
  monkeypatch.setattr(file_datasets, "CARS3D_FACTOR_SIZES", [4, 24, 2])
  os.makedirs(data_root / "cars")
  for obj in range(2):
    im = np.zeros((128, 128, 3, 24, 4), np.uint8)
    for azimuth in range(24):
      for elevation in range(4):
        im[:, :, 0, azimuth, elevation] = azimuth * 10
        im[:, :, 1, azimuth, elevation] = elevation * 50
        im[:, :, 2, azimuth, elevation] = obj * 100
    scipy.io.savemat(data_root / "cars" / f"car_{obj:03d}_mesh.mat", {"im": im})
  ds = data.get_named_ground_truth_data("cars3d")
  factors, images = ds.sample(16, np.random.RandomState(0))
  centre = np.round(images[:, 32, 32] * 255).astype(int)
  np.testing.assert_array_equal(centre, np.stack(
      [factors[:, 1] * 10, factors[:, 0] * 50, factors[:, 2] * 100], 1))


@pytest.mark.parametrize("mode, filename", [("mpi3d_toy", "mpi3d_toy.npz"), ("mpi3d_real", "mpi3d_real.npz"),
                                            ("mpi3d_complex", "real3d_complicated_shapes_ordered.npz")])
def test_mpi3d_layout_is_chosen_by_the_image_count(data_root, monkeypatch, mode, filename):
  """dlib's subset (its sizes for every mode) and the full set load under dlib's names."""
  monkeypatch.setattr(file_datasets, "MPI3D_LAYOUTS", (([2, 1, 2, 1, 1, 2, 2], "dlib's layout"),
                                                       ([3, 1, 2, 1, 1, 2, 2], "the full set")))
  for sizes, name in file_datasets.MPI3D_LAYOUTS:
    count = int(np.prod(sizes))
    os.makedirs(data_root / mode, exist_ok=True)
    np.savez(data_root / mode / filename, images=_coded_images(count, (64, 64, 3)))
    ds = data.get_named_ground_truth_data(mode)
    assert ds.factors_num_values == sizes and ds.layout == name and name in ds.source
    factors, images = ds.sample(12, np.random.RandomState(0))
    np.testing.assert_array_equal(_row_of(images), factors @ (count // np.cumprod(sizes)))


def test_mpi3d_layouts_are_dlibs_and_the_full_set():
  assert [int(np.prod(s)) for s, _ in file_datasets.MPI3D_LAYOUTS] == [460_800, 1_036_800]
  assert file_datasets.MPI3D_LAYOUTS[0][0] == [4, 4, 2, 3, 3, 40, 40]  # dlib's sizes, every mode


def test_mpi3d_wrong_image_count(data_root):
  os.makedirs(data_root / "mpi3d_toy")
  np.savez(data_root / "mpi3d_toy" / "mpi3d_toy.npz", images=np.zeros((5, 64, 64, 3), np.uint8))
  with pytest.raises(data.DatasetFormatError, match="5 images, which is neither MPI3D layout"):
    data.get_named_ground_truth_data("mpi3d_toy")


def test_dsprites_real_npz_and_hdf5(data_root, monkeypatch):
  sizes = (1, 3, 2, 2, 2, 2)
  monkeypatch.setattr(dsprites_render, "FACTOR_SIZES", sizes)
  monkeypatch.setattr(dsprites, "NUM_IMAGES", 48)
  os.makedirs(data_root / "dsprites")
  images = _coded_images(48, (64, 64))
  np.savez(data_root / "dsprites" / dsprites.DSPRITES_NPZ, imgs=images,
           latents_classes=np.zeros((48, 6)), metadata=np.array({}, dtype=object))
  ds = data.DSprites([1, 2, 3, 4, 5], source="real")
  assert ds.source.startswith("real ")
  # results record the file and its checksum
  path = str(data_root / "dsprites" / dsprites.DSPRITES_NPZ)
  described = provenance.describe(ds)
  assert described["dataset.source"] == repr("real " + path)
  with open(path, "rb") as f:
    assert described["dataset.files"] == repr(json.dumps({path: hashlib.sha256(f.read()).hexdigest()}))
  factors, obs = ds.sample(9, np.random.RandomState(0))
  # dSprites pixels are stored as 0/1 and used as they are (no 1/255 scaling).
  np.testing.assert_array_equal(_row_of(obs, scale=1), factors @ (48 // np.cumprod(sizes))[1:])
  os.remove(data_root / "dsprites" / dsprites.DSPRITES_NPZ)
  with h5py.File(data_root / "dsprites" / dsprites.DSPRITES_HDF5, "w") as f:
    f["imgs"] = images
  assert data.DSprites(source="auto").source.endswith(".hdf5")


def test_procedural_stand_ins_are_recorded_and_warned_once(data_root, caplog, monkeypatch):
  monkeypatch.setattr(dsprites, "_WARNED", set())
  with caplog.at_level(logging.WARNING, logger="dynvae_keras.data.dsprites"):
    first = data.get_named_ground_truth_data("dsprites_full")
    data.get_named_ground_truth_data("dsprites_full")
    scream = data.get_named_ground_truth_data("scream_dsprites")
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len([w for w in warnings if "procedural dSprites" in w]) == 1
  assert len([w for w in warnings if "scream-like" in w]) == 1
  renderer = f"procedural dSprites renderer {dsprites_render.RENDERER_VERSION}"
  assert provenance.describe(first) == {"dataset.source": repr(first.source), "dataset.files": "'{}'"}
  assert first.source.startswith(renderer)
  assert scream.source.startswith(renderer) and "scream-like stand-in" in scream.source


def test_dsprites_real_missing_or_malformed(data_root):
  with pytest.raises(data.DatasetNotFoundError, match="procedural"):
    data.DSprites(source="real")
  os.makedirs(data_root / "dsprites")
  np.savez(data_root / "dsprites" / dsprites.DSPRITES_NPZ, imgs=np.zeros((10, 64, 64), np.uint8))
  with pytest.raises(data.DatasetFormatError, match="truncated"):
    data.get_named_ground_truth_data("dsprites_full")
  with pytest.raises(ValueError, match="source"):
    data.DSprites(source="disk")


def test_procedural_cache_layout(tmp_path, monkeypatch):
  # The writer is exercised on a shrunken state space; the full set is rendered by the bench.
  sizes = (1, 3, 2, 1, 2, 2)
  monkeypatch.setattr(dsprites_render, "FACTOR_SIZES", sizes)
  monkeypatch.setattr(dsprites, "NUM_IMAGES", 24)
  path = data.write_procedural_npz(str(tmp_path / "cache.npz"))
  with np.load(path, allow_pickle=True) as f:
    assert {"imgs", "latents_classes", "latents_values", "metadata"} <= set(f.files)
    assert f["imgs"].shape == (24, 64, 64) and f["imgs"].dtype == np.uint8
    np.testing.assert_array_equal(f["imgs"], dsprites_render.render(f["latents_classes"]))
    assert list(f["metadata"][()]["latents_sizes"]) == list(sizes)
  ds = data.DSprites(source="procedural", cache_path=path)
  assert ds.source.startswith("procedural cache")
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temp file left


def test_scream_background_from_real_file(data_root):
  from PIL import Image
  os.makedirs(data_root / "scream")
  Image.fromarray(np.full((548, 700, 3), 200, np.uint8)).save(data_root / "scream" / "scream.jpg")
  ds = data.get_named_ground_truth_data("scream_dsprites")
  assert ds.scream.shape == (274, 350, 3) and ds.background_source.startswith("real")


# --- prepared TFDS copies -------------------------------------------------------------------------
def test_tfds_copy_is_put_back_in_factor_order(tmp_path, monkeypatch):
  from dynvae_keras.data import tfds_source  # pylint: disable=g-import-not-at-top
  sizes = (2, 3, 2)
  keys = ("a", "b", "c")
  monkeypatch.setitem(tfds_source.TFDS_LAYOUTS, "toy", (keys, sizes, "train"))
  (tmp_path / "toy").mkdir()
  combos = np.array(np.unravel_index(np.arange(12), sizes)).T
  order = np.random.RandomState(0).permutation(12)   # TFDS shuffles examples

  def examples(name, data_dir, split):
    assert (name, data_dir, split) == ("toy", str(tmp_path), "train")
    for i in order:
      yield np.full((4, 4, 1), i, np.uint8), dict(zip(keys, map(int, combos[i])))

  monkeypatch.setattr(tfds_source, "iterate_examples", examples)
  images = tfds_source.load_images("toy", str(tmp_path))
  assert images.shape == (12, 4, 4, 1) and (images[:, 0, 0, 0] == np.arange(12)).all()

  monkeypatch.setattr(tfds_source, "iterate_examples",
                      lambda *a: ((np.zeros((4, 4, 1), np.uint8), dict(zip(keys, map(int, combos[i]))))
                                  for i in [0, 1, 1]))
  with pytest.raises(files.DatasetFormatError, match="twice"):
    tfds_source.load_images("toy", str(tmp_path))


def test_tfds_errors_name_the_problem(tmp_path, monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data import tfds_source  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
  with pytest.raises(files.DatasetNotFoundError, match="tfds build dsprites"):
    data.DSprites(source="tfds")
  (tmp_path / "dsprites").mkdir()
  with tfds.testing.mock_data(num_examples=5):   # TFDS's own reader, 5 random examples
    with pytest.raises(files.DatasetFormatError, match="holds 5 of the 737280"):
      tfds_source.load_images("dsprites")
