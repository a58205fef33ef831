"""Data sets distributed as folders of image files: Falcor3D, Isaac3D and CelebA (not in dlib).

The user supplies the files under ``$DISENTANGLEMENT_LIB_DATA`` (never downloaded here):

* ``falcor3d/images/000000.png`` … ``233279.png`` and ``falcor3d/train-rec.labels`` (NVlabs'
  High-res disentanglement data sets; the 128×128 release is the practical one, any
  resolution ≥ 64 works);
* ``isaac3d/images/000000.png`` … ``737279.png`` and ``isaac3d/labels.npy``;
* ``celeba/img_align_celeba/000001.jpg`` … ``202599.jpg`` (aligned and cropped CelebA).

Image ``i`` (files in name order) has the factor classes ``unravel_index(i, factor_sizes)``:
NVlabs' file names are the index with bases ``prod(sizes) / cumprod(sizes)``. Isaac3D's README
lists its factors in an order that does not match its own index formula; we follow the order
of its ``dataset_demo.py``, whose bases are the formula's. The label array (N × factors, each
factor's values spread uniformly over [0, 1], or class indices) must agree with the index of
every image; a mismatch is an error naming the first disagreeing row.

Images are resized once to 64×64 into a memory-mapped cache next to the source
(:mod:`dynvae_keras.data.resized_cache`). CelebA has no ground-truth factors: it trains, gives
traversals and the unsupervised metrics; the factor-based metrics refuse it.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from dynvae_keras.data import files, resized_cache
from dynvae_keras.data.indexed_images import IndexedImageData

logger = logging.getLogger(__name__)

FALCOR3D_FACTOR_SIZES = [5, 6, 6, 6, 6, 6, 6]
FALCOR3D_FACTOR_NAMES = ["lighting_intensity", "lighting_x_dir", "lighting_y_dir", "lighting_z_dir",
                         "camera_x_pos", "camera_y_pos", "camera_z_pos"]
ISAAC3D_FACTOR_SIZES = [3, 8, 5, 4, 4, 4, 6, 4, 4]
ISAAC3D_FACTOR_NAMES = ["object_shape", "robot_x_move", "robot_y_move", "camera_height", "object_scale",
                        "lighting_intensity", "lighting_y_dir", "object_color", "wall_color"]
#: Images of the aligned-and-cropped CelebA release.
CELEBA_NUM_IMAGES = 202599
#: CelebA is centre-cropped to this square (pixels of the 178×218 aligned images) before the
#: resize to 64×64, as common VAE loaders do, so that the face fills the image.
CELEBA_CROP = 148
CACHE_DIR = "cache_64x64"


def _image_files(directory, extension, name, count, fix):
  """The `count` image files of `directory` in name order, or an error naming the problem."""
  names = sorted(n for n in os.listdir(directory) if n.lower().endswith(extension)) if os.path.isdir(directory) else []
  if not names:
    raise files.missing_files_error(name, [os.path.join(directory, f"*{extension} ({count:,} files)")], fix)
  if len(names) != count:
    raise files.DatasetFormatError(
        f"{directory} holds {len(names):,} {extension} files; {name} has {count:,}. The folder is "
        f"incomplete or mixes data sets. Fix: {fix}")
  return [os.path.join(directory, n) for n in names]


def _check_index_names(paths, start=0):
  """NVlabs names image i `{i:06d}.png`: any other name means the order would be wrong."""
  for i, path in enumerate(paths):
    if os.path.splitext(os.path.basename(path))[0] != f"{i + start:06d}":
      raise files.DatasetFormatError(
          f"{path} is image {i} in name order but is not named {i + start:06d}.png; the file names "
          f"are the images' factor indices. Fix: re-extract the data set's images folder.")


def factor_classes_from_labels(labels, factor_sizes, path):
  """Class indices (N, K) from a label array of class indices or of values in [0, 1]."""
  labels = np.asarray(labels, dtype=np.float64)
  sizes = np.asarray(factor_sizes)
  if labels.ndim != 2 or labels.shape[1] != len(sizes):
    raise files.DatasetFormatError(f"{path} has shape {labels.shape}; expected (N, {len(sizes)}), one "
                                   f"column per factor. Fix: use the data set's own label file.")
  integral = np.all(labels == np.round(labels)) and np.all((labels >= 0) & (labels <= sizes - 1))
  scaled = labels if integral else labels * (sizes - 1)
  classes = np.round(scaled)
  if np.abs(scaled - classes).max() > 1e-3 or classes.min() < 0 or np.any(classes.max(axis=0) > sizes - 1):
    raise files.DatasetFormatError(
        f"{path}: the labels are neither class indices nor values on each factor's uniform grid "
        f"over [0, 1] for factor sizes {list(sizes)}. Fix: use the data set's own label file.")
  return classes.astype(np.int64)


def _check_labels_match_index(classes, factor_sizes, path):
  expected = np.stack(np.unravel_index(np.arange(len(classes)), factor_sizes), axis=1)
  wrong = np.flatnonzero(np.any(classes != expected, axis=1))
  if wrong.size:
    r = int(wrong[0])
    raise files.DatasetFormatError(
        f"{path}: row {r} has factor classes {classes[r].tolist()} but image {r} has "
        f"{expected[r].tolist()} (factor sizes {list(factor_sizes)}, index order); {wrong.size:,} rows "
        f"disagree. Fix: use the label file released with these images.")


class _LabelledImageFolder(IndexedImageData):
  """A factorial data set stored as `<name>/images/{i:06d}.png` plus a label array."""

  name = ""
  labels_file = ""
  release_factor_sizes: list = []
  release_factor_names: list = []

  def __init__(self):
    directory = files.data_path(self.name)
    sizes = list(self.release_factor_sizes)
    count = int(np.prod(sizes))
    fix = (f"extract the {type(self).__name__} release so that {directory}/images holds "
           f"000000.png … {count - 1:06d}.png and {self.labels_file} sits in {directory}.")
    labels_path = os.path.join(directory, self.labels_file)
    if not os.path.exists(labels_path):
      raise files.missing_files_error(self.name, [labels_path], fix)
    paths = _image_files(os.path.join(directory, "images"), ".png", self.name, count, fix)
    _check_index_names(paths)
    try:
      labels = np.load(labels_path, allow_pickle=False)
    except (OSError, ValueError) as e:
      raise files.DatasetFormatError(f"{labels_path} is not a numpy array file ({e}). Fix: {fix}") from e
    if len(labels) != count:
      raise files.DatasetFormatError(f"{labels_path} has {len(labels):,} rows for {count:,} images. Fix: {fix}")
    _check_labels_match_index(factor_classes_from_labels(labels, sizes, labels_path), sizes, labels_path)
    cache = os.path.join(directory, CACHE_DIR)
    images, _ = resized_cache.load_or_build(cache, paths, extra_files=[labels_path],
                                            description=f"{self.name} images")
    super().__init__(images, sizes, range(len(sizes)), source=f"real {directory} (64x64 cache {cache})")
    self.factor_names = list(self.release_factor_names)
    # Provenance hashes these: the label array and the manifest that fingerprints the images.
    self.source_files = [labels_path, os.path.join(cache, "manifest.json")]
    logger.info("%s: images from %s", type(self).__name__, self.source)


class Falcor3D(_LabelledImageFolder):
  """Falcor3D (NVlabs): a living room rendered over lighting intensity 5, lighting x/y/z
  direction 6 each, camera x/y/z position 6 each (233,280 images; resized to 64×64×3)."""

  name = "falcor3d"
  labels_file = "train-rec.labels"
  release_factor_sizes = FALCOR3D_FACTOR_SIZES
  release_factor_names = FALCOR3D_FACTOR_NAMES


class Isaac3D(_LabelledImageFolder):
  """Isaac3D (NVlabs): a kitchen with a robot arm, over object shape 3, robot x-move 8, robot
  y-move 5, camera height 4, object scale 4, lighting intensity 4, lighting y-direction 6, object
  colour 4, wall colour 4 (737,280 images; resized to 64×64×3, a 9 GB memory-mapped cache)."""

  name = "isaac3d"
  labels_file = "labels.npy"
  release_factor_sizes = ISAAC3D_FACTOR_SIZES
  release_factor_names = ISAAC3D_FACTOR_NAMES
  categorical_factors = (0,)  # object shape


class CelebA(IndexedImageData):
  """CelebA, aligned and cropped (202,599 faces; centre-cropped to 148×148 and resized to
  64×64×3). No ground-truth factors: `num_factors` is 0 and each observation is an image drawn
  uniformly (its index is a hidden factor), so training, traversals and the unsupervised
  metrics work and the factor-based metrics refuse it."""

  factor_names: list = []

  def __init__(self):
    directory = files.data_path("celeba", "img_align_celeba")
    fix = f"extract img_align_celeba.zip so that {directory} holds 000001.jpg … {CELEBA_NUM_IMAGES:06d}.jpg."
    paths = _image_files(directory, ".jpg", "celeba", CELEBA_NUM_IMAGES, fix)
    cache = os.path.join(files.data_path("celeba"), CACHE_DIR)
    images, _ = resized_cache.load_or_build(cache, paths, crop=CELEBA_CROP, description="CelebA images")
    super().__init__(images, [len(paths)], [], source=f"real {directory} (64x64 cache {cache})")
    self.source_files = [os.path.join(cache, "manifest.json")]
    logger.info("CelebA: images from %s", self.source)
